"""Google Gemini ``generateContent`` / ``streamGenerateContent?alt=sse`` (the ``google_gemini`` protocol).

The base URL holds the ``/v1beta`` prefix; the paths are ``/models/{model}:generateContent`` and
``/models/{model}:streamGenerateContent?alt=sse`` (a model id that already names its collection, such
as ``tunedModels/x``, is used as it is).

Encoding: system messages become ``systemInstruction``; the conversation becomes ``contents`` with
roles ``user`` and ``model`` (consecutive messages of one role share a content, except that the
function responses of a turn travel together in a content of their own). Parts are ``text``,
``inlineData`` (bytes), ``fileData`` (URLs),
``functionCall`` and ``functionResponse`` (``{"result": text}`` or ``{"error": text}``). Tool
definitions become one ``functionDeclarations`` tool whose parameter schemas are converted to the
OpenAPI subset Gemini accepts (:func:`to_gemini_schema`). Structured output uses
``responseJsonSchema`` (full JSON Schema; recorded traffic shows Gemini 2.0 and later taking it), or the
converted ``responseSchema`` where compat ``response_schema_field`` is ``"responseSchema"``.
Reasoning: ``reasoning_budget`` is ``thinkingBudget``;
``reasoning_effort`` is ``thinkingLevel`` on Gemini 3+ and a budget before (compat
``thinking_format``: ``level`` / ``budget``); ``includeThoughts`` is on whenever thinking is asked for.

Thought signatures (https://ai.google.dev/gemini-api/docs/thought-signatures) are data the model
needs back on the *same part*. A signature on a ``functionCall`` lives in the tool call's
``provider_data["thought_signature"]``; on a thought part in the ``ThinkingPart.signature``; on a
plain text part in a signature-only ``ThinkingPart`` placed right after that text (marked
``provider_data["gemini"] == "text_signature"``), which the encoder folds back onto the text part.
Parts the library does not model (code execution, server-side tool calls) are kept whole in a
``ThinkingPart`` with empty text and replayed verbatim on the same provider. Gemini 3 rejects a
function-call turn without a signature; one that has none (it came from another provider) gets
Google's documented placeholder.

Decoding: tool calls keep Gemini's ``id`` when it sends one (``provider_data["gemini_id"]``, echoed
back in the ``functionResponse``), otherwise a unique ``call_<uuid hex>`` is made up. Usage:
``promptTokenCount`` *includes* ``cachedContentTokenCount`` and ``candidatesTokenCount`` *excludes*
``thoughtsTokenCount``, so input = prompt - cached + tool-use prompt tokens and output = candidates +
thoughts (the total then equals Gemini's ``totalTokenCount``). A stream is a sequence of complete
``GenerateContentResponse`` chunks with no terminator: the chunk with ``finishReason`` is the end
marker, usage comes from the last chunk that reports it, and the body ending after a finish reason
is a normal end. Vertex AI's streamed function-call arguments (``partialArgs`` with JSON paths) are
re-assembled into JSON text, one ``toolcall_delta`` per fragment.

The package is split the way STYLE P4 asks: ``schema`` (JSON Schema to Gemini's ``Schema``),
``encode`` (our messages to ``contents``, thinking config), ``decode`` (finish reasons, usage, error
bodies) and ``stream`` (chunks into the shared accumulator). This module holds the protocol class
and its params.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field
from typing_extensions import override

from sycophant_py._exceptions import StreamError
from sycophant_py._handoff import HandoffRules, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._params import SharedParams
from sycophant_py._types import FinishReason, Response, Tool
from sycophant_py.wire._base import (
    Request,
    StreamContinue,
    StreamDone,
    StreamFailed,
    StreamResult,
    WireProtocol,
)
from sycophant_py.wire._media import check_inputs
from sycophant_py.wire._overflow import as_overflow
from sycophant_py.wire._util import body_message, invalid_body
from sycophant_py.wire.gemini.decode import decode_usage, error_of, gemini_error, map_finish_reason, retry_delay
from sycophant_py.wire.gemini.encode import SKIP_SIGNATURE, Encoder, handoff_rules, thinking_config
from sycophant_py.wire.gemini.schema import to_gemini_schema
from sycophant_py.wire.gemini.stream import GeminiStream, route_chunk

__all__ = [
    "SKIP_SIGNATURE",
    "GoogleGemini",
    "GoogleGeminiParams",
    "decode_usage",
    "gemini_error",
    "map_finish_reason",
    "to_gemini_schema",
]


_ACCEPTS = frozenset({"image", "pdf", "document", "audio"})


def _url_ok(kind: str, url: str) -> bool:
    """Any input may be a file URI (``fileData``): a Files API URI, ``gs://`` on Vertex AI."""
    return True


_CHUNK_KEYS = ("candidates", "usageMetadata", "promptFeedback", "modelVersion", "responseId")


def _chunks(name: str, payload: Any, stream: GeminiStream | None = None) -> list[Mapping[str, Any]]:
    """The ``GenerateContentResponse`` objects of a payload (one, or a list), checked for shape."""
    chunks = payload if isinstance(payload, list) else [payload]
    for chunk in chunks:
        if not isinstance(chunk, Mapping):
            raise invalid_body(name, "no GenerateContentResponse object", payload, stream=stream)
        candidates = chunk.get("candidates")
        if candidates is not None and (
            not isinstance(candidates, list) or not all(isinstance(c, Mapping) for c in candidates)
        ):
            raise invalid_body(name, "a 'candidates' that is not a list of objects", payload, stream=stream)
        if not any(k in chunk for k in _CHUNK_KEYS) and body_message(chunk):
            raise invalid_body(name, "no 'candidates'", payload, stream=stream)
    return chunks


def _whole_body(name: str, body: Any) -> list[Mapping[str, Any]]:
    """The chunks of a whole body, which must hold a candidate or say why the prompt was blocked."""
    chunks = _chunks(name, body)
    for chunk in chunks:
        feedback = chunk.get("promptFeedback")
        if chunk.get("candidates") or (isinstance(feedback, Mapping) and feedback.get("blockReason")):
            return chunks
    raise invalid_body(name, "no 'candidates'", body)


class GoogleGeminiParams(SharedParams):
    """Params of ``google_gemini`` beyond the shared ones (``parallel_tool_calls`` and ``service_tier``
    have no Gemini equivalent: they are named in the ``params.dropped`` warning and not sent)."""

    safety_settings: list[dict[str, Any]] | None = None
    """``safetySettings`` as Gemini takes them: ``[{"category": ..., "threshold": ...}]``."""
    include_thoughts: bool | None = None
    """Return thought summaries (on by default whenever thinking is asked for)."""
    thinking_level: Literal["minimal", "low", "medium", "high"] | None = None
    """Gemini 3 ``thinkingLevel``, when ``reasoning_effort`` does not map the way you want."""
    response_mime_type: str | None = None
    """``responseMimeType`` (``application/json`` for JSON mode without a schema)."""
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise tokens already present."""
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    """Penalise repeated tokens by frequency."""
    cached_content: str | None = None
    """Name of a cached content (``cachedContents/...``) to use as the prompt prefix."""
    extra_body: dict[str, Any] | None = None
    """Extra top-level fields merged into the body as they are."""


class GoogleGemini(WireProtocol):
    """The ``google_gemini`` wire protocol (Gemini API ``generateContent``)."""

    name = "google_gemini"
    stream_transport = "sse"

    @classmethod
    @override
    def param_schema(cls) -> type[GoogleGeminiParams]:
        return GoogleGeminiParams

    @override
    def request_path(self, request: Request) -> str:
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        collection = "" if "/" in request.model.id else "/models"
        return f"{collection}/{{model}}:{method}"

    @override
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        return handoff_rules(model)

    # -- encode --------------------------------------------------------------------------------
    @override
    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """``parallel_tool_calls`` and ``service_tier``: Gemini has no field for them."""
        return [k for k in ("parallel_tool_calls", "service_tier") if k in params]

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The JSON body.

        Raises:
            UnsupportedInput: the model's row refuses an input kind, before anything is sent.
            InvalidMessage: a part cannot be represented.
        """
        model, params = request.model, request.params
        check_inputs(model, request.messages, self.name, accepts=_ACCEPTS, url_ok=_url_ok)
        system, contents = Encoder(model).encode(prepare_history(request, self.handoff_rules(model)))
        if not contents:
            # Gemini refuses an empty ``contents`` but answers a user turn whose text is empty.
            contents = [{"role": "user", "parts": [{"text": ""}]}]
        body: dict[str, Any] = {"contents": contents}
        if system is not None:
            body["systemInstruction"] = system
        if request.tools:
            body["tools"] = self.encode_tools(request.tools)
            if "tool_choice" in params:
                body["toolConfig"] = {"functionCallingConfig": self._tool_choice(params["tool_choice"])}
        config = self._generation_config(params, model)
        if request.response_schema is not None:
            config.update(self.encode_response_schema(request.response_schema, request.schema_name, model))
        if config:
            body["generationConfig"] = config
        if params.get("safety_settings"):
            body["safetySettings"] = list(params["safety_settings"])
        if params.get("cached_content"):
            body["cachedContent"] = params["cached_content"]
        if params.get("extra_body"):
            body.update(params["extra_body"])
        return body

    @staticmethod
    def _generation_config(params: Mapping[str, Any], model: ModelInfo) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for key, field in (
            ("temperature", "temperature"),
            ("top_p", "topP"),
            ("top_k", "topK"),
            ("max_tokens", "maxOutputTokens"),
            ("seed", "seed"),
            ("presence_penalty", "presencePenalty"),
            ("frequency_penalty", "frequencyPenalty"),
            ("response_mime_type", "responseMimeType"),
        ):
            if key in params:
                config[field] = params[key]
        if "stop" in params:
            stop = params["stop"]
            config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
        thinking = thinking_config(params, model)
        if thinking:
            config["thinkingConfig"] = thinking
        return config

    @staticmethod
    def _tool_choice(choice: Any) -> dict[str, Any]:
        if isinstance(choice, Mapping):
            return dict(choice)
        modes = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}
        if choice in modes:
            return {"mode": modes[choice]}
        return {"mode": "ANY", "allowedFunctionNames": [str(choice)]}

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        declarations = []
        for t in tools:
            decl: dict[str, Any] = {"name": t.name}
            if t.description:
                decl["description"] = t.description
            params = to_gemini_schema(t.json_schema())
            if params.get("properties"):  # Gemini refuses an OBJECT without properties: leave it out
                decl["parameters"] = params
            declarations.append(decl)
        return [{"functionDeclarations": declarations}]

    @override
    def encode_response_schema(
        self, schema: Mapping[str, Any], name: str = "response", model: ModelInfo | None = None
    ) -> dict[str, Any]:
        field = model.compat.get("response_schema_field") if model is not None else None
        if field == "responseSchema":
            return {"responseMimeType": "application/json", "responseSchema": to_gemini_schema(schema)}
        return {
            "responseMimeType": "application/json",
            "responseJsonSchema": {k: v for k, v in schema.items() if k != "$schema"},
        }

    # -- decode --------------------------------------------------------------------------------
    @override
    def decode_response(self, body: Any) -> Response:
        """Turn a ``GenerateContentResponse`` (or a list of streamed ones) into a Response.

        Raises:
            ResponseInvalid: the body has no candidate (and no prompt block reason) or has the wrong
                types; the provider's message, when it carries one, is in the exception text.
        """
        acc = GeminiStream()
        for chunk in _whole_body(self.name, body):
            route_chunk(acc, chunk)
        acc.close_all()
        resp = acc.finish(self._reason(acc))
        resp.raw = body
        return resp

    @staticmethod
    def _reason(acc: GeminiStream) -> FinishReason:
        if acc.finish_reason is None and acc.block_reason is not None:
            acc.provider_finish_reason = acc.block_reason
            return "content_filter"
        return map_finish_reason(acc.finish_reason, any(b.kind == "tool_call" for b in acc.blocks))

    @override
    def init_stream(self) -> GeminiStream:
        return GeminiStream()

    @override
    def decode_stream_chunk(self, state: Any, event: Any) -> StreamResult:
        acc: GeminiStream = state
        data: str = event.data
        if data.strip() == "[DONE]":  # not Gemini's, but some proxies add it
            return self.end_of_stream(acc)
        payload = json.loads(data)
        err = error_of(payload)
        if err is not None:
            return self._stream_error(acc, err, payload)
        for chunk in _chunks(self.name, payload, acc):
            route_chunk(acc, chunk)
        return StreamContinue(acc, acc.drain())

    @override
    def end_of_stream(self, state: Any) -> StreamResult:
        acc: GeminiStream = state
        if acc.finish_reason is None and acc.block_reason is None:
            return super().end_of_stream(acc)
        acc.close_all()
        reason = self._reason(acc)
        if reason == "error":
            detail = f": {acc.finish_message}" if acc.finish_message else ""
            exc = StreamError(
                f"Gemini stopped with {acc.finish_reason}{detail}", provider=acc.provider, model=acc.model, body=acc.raw
            )
            acc.fail(exc)
            return StreamFailed(exc, acc.drain())
        return StreamDone(acc.finish(reason), acc.drain())

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        return gemini_error(body) or super().decode_error(status, body)

    @override
    def retry_after(self, body: Any) -> float | None:
        return retry_delay(body)

    def _stream_error(self, acc: GeminiStream, err: Mapping[str, Any], payload: Any) -> StreamFailed:
        message, err_type = self.decode_error(200, payload)
        code = err.get("code")
        err_exc = StreamError(
            message,
            status_code=code if isinstance(code, int) else None,
            provider=acc.provider,
            model=acc.model,
            body=payload,
            error_type=err_type,
        )
        exc = as_overflow(err_exc)
        acc.close_all()
        acc.fail(exc)
        return StreamFailed(exc, acc.drain())
