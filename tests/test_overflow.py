"""Context overflow: each provider's wording is a ``ContextOverflow`` with the window and the size sent.

The wordings are the providers' own (their docs and error references) or the ones their servers are
seen to send; the pipeline tests run them through real HTTP against a scripted server. The contract
suite (``tests/contract``) covers each built-in protocol's error format and stream error events.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.testing._clock import FakeClock
from sycophant_py.wire._overflow import as_overflow, context_overflow

OPENAI_BODY = {
    "error": {
        "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "130001 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
LLAMA_SERVER_BODY: dict[str, Any] = {
    "error": {
        "code": 400,
        "message": "the request exceeds the available context size, try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 4476,
        "n_ctx": 4096,
    }
}

WORDINGS: list[tuple[str, int, Any, str, tuple[int | None, int | None]]] = [
    ("openai", 400, OPENAI_BODY, OPENAI_BODY["error"]["message"], (128000, 130001)),
    ("openai code only", 400, {"error": {"code": "context_length_exceeded"}}, "Bad request", (None, None)),
    (
        "openai responses",
        400,
        {"error": {"code": "context_length_exceeded"}},
        "Your input exceeds the context window of this model. Please adjust your input and try again.",
        (None, None),
    ),
    ("anthropic", 400, None, "prompt is too long: 208310 tokens > 200000 maximum", (200000, 208310)),
    (
        "anthropic with max_tokens",
        400,
        None,
        "input length and `max_tokens` exceed context limit: 197202 + 21333 > 200000, decrease input length or "
        "`max_tokens` and try again",
        (200000, 218535),
    ),
    (
        "gemini",
        400,
        {"error": {"code": 400, "status": "INVALID_ARGUMENT"}},
        "The input token count (1196265) exceeds the maximum number of tokens allowed (1048576).",
        (1048576, 1196265),
    ),
    (
        "bedrock",
        400,
        {"message": "Input is too long for requested model."},
        "Input is too long for requested model.",
        (None, None),
    ),
    (
        "bedrock model errors",
        400,
        None,
        "The model returned the following errors: Input is too long for requested model.",
        (None, None),
    ),
    (
        "bedrock too many input tokens",
        400,
        None,
        "Too many input tokens. Max input tokens: 8192, request input token count: 9000",
        (8192, 9000),
    ),
    ("bedrock too many input tokens, no numbers", 400, None, "too many input tokens", (None, None)),
    ("bedrock claude", 400, None, "prompt is too long: 201234 tokens > 200000 maximum", (200000, 201234)),
    (
        "bedrock llama (TGI)",
        400,
        None,
        "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens "
        "and 200 `max_new_tokens`",
        (4096, 4200),
    ),
    (
        "ollama",
        400,
        {"error": "the input length exceeds the context length"},
        "the input length exceeds the context length",
        (None, None),
    ),
    ("ollama embed", 400, None, "input exceeds maximum context length", (None, None)),
    ("ollama prompt", 400, None, "prompt too long; exceeded max context length by 5000 tokens", (None, None)),
    ("llama.cpp server body", 400, LLAMA_SERVER_BODY, LLAMA_SERVER_BODY["error"]["message"], (4096, 4476)),
    (
        "llama.cpp server message",
        400,
        None,
        "request (4476 tokens) exceeds the available context size (4096 tokens), try increasing it",
        (4096, 4476),
    ),
    ("llama-cpp-python raw", 400, None, "Requested tokens (2100) exceed context window of 2048", (2048, 2100)),
    (
        "vllm",
        400,
        None,
        "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens (4000 in the "
        "messages, 1000 in the completion). Please reduce the length of the messages or completion.",
        (4096, 5000),
    ),
    (
        "vllm input only",
        400,
        None,
        "This model's maximum context length is 2048 tokens. However, your request has 3000 input tokens. "
        "Please reduce the length of the input messages.",
        (2048, 3000),
    ),
    (
        "vllm max_tokens",
        400,
        None,
        "'max_tokens' or 'max_completion_tokens' is too large: 1000. This model's maximum context length is 2048 "
        "tokens and your request has 1500 input tokens (1000 > 2048 - 1500).",
        (2048, 2500),
    ),
    (
        "openrouter",
        400,
        None,
        "This endpoint's maximum context length is 163,840 tokens. However, you requested about 200,000 tokens",
        (163840, 200000),
    ),
    (
        "xai",
        400,
        None,
        "This model's maximum prompt length is 131072 but the request contains 537812 tokens.",
        (131072, 537812),
    ),
    (
        "mistral",
        400,
        None,
        "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
        (32768, 40000),
    ),
    (
        "copilot",
        400,
        {"error": {"code": "model_max_prompt_tokens_exceeded"}},
        "prompt token count of 130000 exceeds the limit of 128000",
        (128000, 130000),
    ),
    (
        "sglang / together",
        400,
        None,
        "The input (150000 tokens) is longer than the model's context length (128000 tokens).",
        (128000, 150000),
    ),
    (
        "cohere",
        400,
        None,
        "too many tokens: total number of tokens in the prompt cannot exceed 4081 - received 5000.",
        (4081, 5000),
    ),
    (
        "lm studio",
        400,
        None,
        "Trying to keep the first 5000 tokens when context the overflows. However, the model is loaded with "
        "context length of only 4096 tokens, which is not enough.",
        (4096, None),
    ),
    (
        "groq",
        400,
        {"error": {"code": "context_length_exceeded"}},
        "Please reduce the length of the messages or completion.",
        (None, None),
    ),
]

NOT_OVERFLOW: list[tuple[str, int, Any, str]] = [
    (
        "rate limit in tokens",
        413,
        {"error": {"code": "rate_limit_exceeded"}},
        "Request too large for model `llama3` in organization org_1 on tokens per minute (TPM): Limit 6000, Requested 7000",
    ),
    ("bedrock throttling", 429, None, "Too many tokens, please wait before trying again."),
    (
        "max_tokens too large",
        400,
        None,
        "max_tokens is too large: 100000. This model supports at most 16384 completion tokens",
    ),
    (
        "anthropic max_tokens",
        400,
        None,
        "max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens",
    ),
    ("anthropic body size", 413, {"error": {"type": "request_too_large"}}, "Request exceeds the maximum size"),
    ("an unrelated 400", 400, None, "Bad Request: invalid parameter"),
    ("overflow words on a 429", 429, None, "prompt is too long"),
    ("overflow words on a 401", 401, None, "prompt is too long"),
]


@pytest.mark.parametrize(("name", "status", "body", "message", "expected"), WORDINGS, ids=[w[0] for w in WORDINGS])
def test_wordings_are_recognised(
    name: str, status: int, body: Any, message: str, expected: tuple[int | None, int | None]
) -> None:
    assert context_overflow(status, body, message) == expected


@pytest.mark.parametrize(("name", "status", "body", "message"), NOT_OVERFLOW, ids=[w[0] for w in NOT_OVERFLOW])
def test_other_errors_are_not_overflow(name: str, status: int, body: Any, message: str) -> None:
    assert context_overflow(status, body, message) is None


def test_as_overflow_keeps_what_the_stream_error_said() -> None:
    err = syc.StreamError(
        "prompt is too long: 12 tokens > 10 maximum", provider="p", model="m", request_id="r1", body={"x": 1}
    )
    err.error_type = "invalid_request_error"
    out = as_overflow(err)
    assert isinstance(out, syc.ContextOverflow)
    assert (out.limit, out.requested, out.provider, out.model, out.request_id) == (10, 12, "p", "m", "r1")
    assert out.body == {"x": 1}
    assert out.error_type == "invalid_request_error"
    other = syc.StreamError("overloaded")
    assert as_overflow(other) is other


# -- through the pipeline ------------------------------------------------------------------------


def _raises(exc: type[BaseException], spec: str, **kw: Any) -> Any:
    with FakeClock(), pytest.raises(exc) as info:
        syc.generate_text(spec, "a very long prompt", **kw)
    return info.value


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, OPENAI_BODY, (128000, 130001)),
        (400, LLAMA_SERVER_BODY, (4096, 4476)),
        (
            400,
            {"detail": "This model's maximum context length is 2048 tokens. However, you requested 2100 tokens"},
            (2048, 2100),
        ),
        (413, {"error": {"message": "input is too long for requested model"}}, (None, None)),
    ],
)
def test_http_overflow_raises_context_overflow_once(
    srv: ScriptedServer, status: int, body: Any, expected: tuple[int | None, int | None]
) -> None:
    srv.add(Reply.json(body, status=status, headers={"x-request-id": "req-9"}))
    err = _raises(syc.ContextOverflow, "fake:m")
    assert isinstance(err, syc.ContextOverflow)
    assert isinstance(err, syc.BadRequest)
    assert (err.limit, err.requested) == expected
    assert (err.status_code, err.provider, err.model, err.request_id) == (status, "fake", "m", "req-9")
    assert len(srv.requests) == 1  # a prompt that does not fit is never retried


def test_rate_limit_that_counts_tokens_stays_a_rate_limit(srv: ScriptedServer) -> None:
    body = {"error": {"message": NOT_OVERFLOW[0][3], "type": "tokens", "code": "rate_limit_exceeded"}}
    srv.add(*[Reply.json(body, status=429)] * 3)
    err = _raises(syc.RateLimited, "fake:m")
    assert not isinstance(err, syc.ContextOverflow)


def test_plain_bad_request_stays_bad_request(srv: ScriptedServer) -> None:
    srv.add(Reply.json({"error": {"message": "Unknown parameter: 'foo'", "type": "invalid_request_error"}}, status=400))
    err = _raises(syc.BadRequest, "fake:m")
    assert type(err) is syc.BadRequest


def test_embedding_overflow(srv: ScriptedServer) -> None:
    message = (
        "This model's maximum context length is 8192 tokens, however you requested 9000 tokens (9000 in your "
        "prompt; 0 for the completion). Please reduce your prompt; or completion length."
    )
    srv.add(Reply.json({"error": {"message": message, "type": "invalid_request_error"}}, status=400))
    with pytest.raises(syc.ContextOverflow) as info:
        syc.embed("fake:e", ["a very long text"])
    assert (info.value.limit, info.value.requested) == (8192, 9000)


def test_overflow_in_an_openai_stream_is_the_terminal_error(srv: ScriptedServer, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="sycophant_py")
    chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]}
    error = {"error": {"code": 400, "message": "prompt is too long: 3000 tokens > 2048 maximum"}}
    srv.add(Reply.sse([chunk, error], done=False))
    events = list(syc.stream_text("fake:m", "Hi"))
    last = events[-1]
    assert last.type == "error"
    assert isinstance(last.error, syc.ContextOverflow)
    assert (last.error.limit, last.error.requested) == (2048, 3000)
    assert last.response is not None
    assert last.response.text == "Hel"  # the partial content is kept


def test_a_protocol_may_add_its_own_wording(srv: ScriptedServer) -> None:
    from typing_extensions import override

    from sycophant_py.wire.openai_chat import OpenAIChat

    class Shouty(OpenAIChat):
        name = "shouty_chat"

        @override
        def context_overflow(self, status: int, body: Any, message: str) -> tuple[int | None, int | None] | None:
            return (7, 8) if "TOO MUCH TEXT" in message else super().context_overflow(status, body, message)

    syc.register_protocol("chat", "shouty_chat", Shouty)
    syc.register_provider("shouty", base_url=srv.url + "/v1", api="shouty_chat", auth="none")
    srv.add(Reply.json({"error": {"message": "TOO MUCH TEXT"}}, status=400))
    err = _raises(syc.ContextOverflow, "shouty:m")
    assert (err.limit, err.requested) == (7, 8)
