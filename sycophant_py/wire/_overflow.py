"""Context overflow: "the prompt does not fit the model's context window", in each provider's words.

Providers report an overflow as an ordinary 400 (or as an error event inside a stream) whose only
mark is its wording or an error code. :func:`context_overflow` knows the wordings the providers and
servers document or are seen to send, and reads the context window (``limit``) and the size sent
(``requested``) where the text gives them:

* OpenAI, Azure, DeepSeek, OpenRouter, vLLM, llama-cpp-python: code ``context_length_exceeded``;
  "This model's maximum context length is N tokens. However, your messages resulted in M tokens" /
  "... you requested M tokens" / "... your request has M input tokens"; the Responses API's "Your
  input exceeds the context window of this model".
* Anthropic: "prompt is too long: M tokens > N maximum"; "input length and `max_tokens` exceed
  context limit: A + B > N".
* Gemini: "The input token count (M) exceeds the maximum number of tokens allowed (N)".
* Bedrock (``ValidationException``): "Input is too long for requested model", "Too many input
  tokens", Claude's and Mistral's wordings, TGI's "`inputs` tokens + `max_new_tokens` must be <= N".
* llama.cpp server: type ``exceed_context_size_error`` with ``n_prompt_tokens`` / ``n_ctx``,
  "request (M tokens) exceeds the available context size (N tokens)".
* Ollama: "input length exceeds the context length", "prompt too long; exceeded max context length".
* Others seen in the wild: xAI ("maximum prompt length is N but the request contains M tokens"),
  Mistral ("Prompt contains M tokens ... too large for model with N maximum context length"), GitHub
  Copilot ("prompt token count of M exceeds the limit of N"), SGLang/Together ("The input (M tokens)
  is longer than the model's context length (N tokens)"), Cohere, LM Studio.

A rate limit that speaks of tokens ("Request too large ... on tokens per minute (TPM)") is never an
overflow. Everything here is pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sycophant_py._exceptions import ContextOverflow, ProviderError

__all__ = ["OVERFLOW_CODES", "as_overflow", "context_overflow"]

Sizes = tuple[int | None, int | None]

OVERFLOW_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error", "model_max_prompt_tokens_exceeded"})
"""Error codes / types that mean a context overflow whatever the message says."""

_N = r"(\d[\d,]*)"
_F = re.IGNORECASE | re.DOTALL


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("{N}", _N), _F)


# (pattern, group of the limit, group of the size sent, group added to the size sent); 0 = absent.
_WORDINGS: tuple[tuple[re.Pattern[str], int, int, int], ...] = (
    # vLLM: the prompt fits but max_tokens does not
    (_p(r"is too large: {N}\. This model's maximum context length is {N} tokens and your request has {N}"), 2, 3, 1),
    (_p(r"maximum context length is {N} tokens.*?(?:you requested(?: about)?|resulted in|request has) {N}"), 1, 2, 0),
    (_p(r"maximum context length (?:is|of) {N}"), 1, 0, 0),
    (_p(r"prompt is too long: {N} tokens > {N} maximum"), 2, 1, 0),
    (_p(r"exceed context limit: {N} \+ {N} > {N}"), 3, 1, 2),
    (_p(r"input token count \({N}\) exceeds the maximum number of tokens allowed \({N}\)"), 2, 1, 0),
    (_p(r"input token count.{0,40}? exceeds the maximum number of tokens allowed"), 0, 0, 0),
    (_p(r"too many input tokens.{0,40}?max input tokens:? {N}.{0,40}?input token count:? {N}"), 1, 2, 0),
    (_p(r"must be <= {N}\. Given: {N} `?inputs`? tokens and {N} `?max_new_tokens"), 1, 2, 3),
    (_p(r"request \({N} tokens\) exceeds the available context size \({N} tokens\)"), 2, 1, 0),
    (_p(r"requested tokens \({N}\) exceed context window of {N}"), 2, 1, 0),
    (_p(r"maximum prompt length is {N} but the request contains {N} tokens"), 1, 2, 0),
    (_p(r"prompt contains {N} tokens.*?too large for model with {N} maximum context length"), 2, 1, 0),
    (_p(r"prompt token count of {N} exceeds the limit of {N}"), 2, 1, 0),
    (_p(r"input \({N} tokens\) is longer than the model's context length \({N} tokens\)"), 2, 1, 0),
    (_p(r"tokens in the prompt cannot exceed {N} - received {N}"), 1, 2, 0),
    (_p(r"loaded with context length of only {N} tokens"), 1, 0, 0),
)
_PHRASES = re.compile(
    r"prompt (?:is )?too long|input is too long|too many input tokens|"
    r"exceeds the available context size|exceeds? (?:the |maximum )?context (?:length|window|size)|"
    r"exceeded max context length|input length exceeds|greater than the context length|"
    r"context[_ ]length[_ ]exceeded|context window (?:is )?(?:exceeded|full)|"
    r"reduce the length of the messages",
    re.IGNORECASE,
)
_RATE_LIMIT = re.compile(r"per minute|\bTPM\b|rate.?limit|quota", re.IGNORECASE)


def _int(text: str | None) -> int | None:
    return int(text.replace(",", "")) if text else None


def _from_wording(text: str) -> Sizes | None:
    for pattern, limit, sent, extra in _WORDINGS:
        m = pattern.search(text)
        if m is None:
            continue
        requested = _int(m.group(sent)) if sent else None
        if requested is not None and extra:
            requested += _int(m.group(extra)) or 0
        return (_int(m.group(limit)) if limit else None), requested
    return (None, None) if _PHRASES.search(text) else None


def _error_object(body: Any) -> Mapping[str, Any]:
    if isinstance(body, list) and body and isinstance(body[0], Mapping):
        body = body[0]
    if not isinstance(body, Mapping):
        return {}
    err = body.get("error")
    return err if isinstance(err, Mapping) else body


def _from_body(body: Any) -> Sizes | None:
    """llama.cpp's counts, or an error code that means an overflow."""
    err = _error_object(body)
    codes = {str(err.get(k)).lower() for k in ("code", "type", "status") if isinstance(err.get(k), str)}
    if not codes & OVERFLOW_CODES:
        return None
    n_ctx, n_prompt = err.get("n_ctx"), err.get("n_prompt_tokens")
    return (
        n_ctx if isinstance(n_ctx, int) and not isinstance(n_ctx, bool) else None,
        n_prompt if isinstance(n_prompt, int) and not isinstance(n_prompt, bool) else None,
    )


def context_overflow(status: int | None, body: Any, message: str) -> Sizes | None:
    """``(limit, requested)`` when an error says the prompt does not fit, else None.

    Args:
        status: The HTTP status (None for an error event inside a stream).
        body: The decoded error body or event payload.
        message: The provider's message, as the protocol extracted it.

    Returns:
        The context window and the size sent in tokens (each None when the provider did not say),
        or None when the error is not a context overflow (rate limits that count tokens included).
    """
    if status in (401, 403, 404, 408, 429) or _RATE_LIMIT.search(message or ""):
        return None
    from_body = _from_body(body)
    from_text = _from_wording(message or "")
    if from_body is None and from_text is None:
        return None
    limit = (from_body or (None, None))[0] or (from_text or (None, None))[0]
    requested = (from_body or (None, None))[1] or (from_text or (None, None))[1]
    return limit, requested


def as_overflow(exc: ProviderError) -> ProviderError:
    """``exc`` as a :class:`ContextOverflow` when its message or body says the prompt does not fit.

    Used for errors that arrive inside a stream (an ``error`` event), which the pipeline's HTTP
    error mapping never sees. Other errors are returned unchanged.
    """
    if isinstance(exc, ContextOverflow):
        return exc
    sizes = context_overflow(exc.status_code, exc.body, exc.message)
    if sizes is None:
        return exc
    out = ContextOverflow(
        exc.message,
        limit=sizes[0],
        requested=sizes[1],
        status_code=exc.status_code,
        provider=exc.provider,
        model=exc.model,
        request_id=exc.request_id,
        body=exc.body,
        error_type=exc.error_type,
    )
    return out
