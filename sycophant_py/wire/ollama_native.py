"""Ollama's native API: ``/api/chat`` (NDJSON streaming) and ``/api/embed``.

The ``ollama`` provider row points at the OpenAI-compatible ``/v1`` prefix; when this protocol is
selected the trailing ``/v1`` is dropped (``resolve_base_url``) and the native paths are used.

What differs from OpenAI chat: sampling params go in an ``options`` object (``max_tokens`` is
``num_predict``); images are base64 strings in a message's ``images`` list (Ollama fetches no
URLs); tool-call arguments are JSON *objects*, not strings, and carry no ids (unique ids are
made up here); tool results name the tool (``tool_name``) instead of a call id; reasoning is a
``thinking`` string next to ``content``, switched on with ``think`` (a bool or a level);
structured output is ``format`` holding the JSON schema. A stream is one JSON object per line;
the line with ``done: true`` carries ``done_reason`` and the token counts, and a line with
``error`` ends the stream with a failure.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field
from typing_extensions import override

from sycophant_py._events import StreamAccumulator
from sycophant_py._exceptions import InvalidMessage, StreamError
from sycophant_py._handoff import ANY_IDS, HandoffRules, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._params import EmbeddingParams, SharedParams
from sycophant_py._types import (
    DocumentPart,
    EmbeddingResponse,
    FinishReason,
    ImagePart,
    Message,
    Part,
    Response,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    Usage,
)
from sycophant_py.wire._base import (
    EmbeddingRequest,
    EmbeddingWireProtocol,
    Request,
    StreamContinue,
    StreamDone,
    StreamFailed,
    StreamResult,
    WireProtocol,
)
from sycophant_py.wire._media import check_inputs
from sycophant_py.wire._overflow import as_overflow
from sycophant_py.wire._util import body_message, int_of, invalid_body, new_call_id, object_of, vector_of

__all__ = ["OllamaEmbed", "OllamaEmbedParams", "OllamaNative", "OllamaNativeParams", "strip_v1"]

ThinkLevel = Literal["low", "medium", "high", "max"]

_FINISH: dict[str, FinishReason] = {"stop": "stop", "length": "length", "load": "stop", "unload": "stop"}
# reasoning_effort -> think
_EFFORT: dict[str, bool | ThinkLevel] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "max",
}
# Params that go into ``options`` under the same name (``max_tokens`` is mapped to ``num_predict``).
_OPTION_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "min_p",
    "typical_p",
    "repeat_penalty",
    "repeat_last_n",
    "presence_penalty",
    "frequency_penalty",
    "num_ctx",
    "num_keep",
    "num_batch",
    "num_gpu",
    "num_thread",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
)


class OllamaNativeParams(SharedParams):
    """Params of ``ollama_native`` beyond the shared ones (most become ``options`` entries)."""

    keep_alive: str | int | None = None
    """How long the model stays loaded after the call (``"5m"``, seconds, ``0`` unloads, ``-1`` keeps)."""
    think: bool | ThinkLevel | None = None
    """Return reasoning separately: a bool, or a level for models that take one (wins over
    ``reasoning_effort``)."""
    format: Literal["json"] | dict[str, Any] | None = None
    """``"json"`` or a JSON schema (``generate_object`` sets the schema for you)."""
    num_ctx: int | None = Field(None, ge=1)
    """Context window size in tokens."""
    num_keep: int | None = None
    """Tokens of the prompt kept when the context is shifted."""
    num_batch: int | None = Field(None, ge=1)
    """Prompt-processing batch size."""
    num_gpu: int | None = Field(None, ge=0)
    """Layers offloaded to the GPU."""
    num_thread: int | None = Field(None, ge=1)
    """CPU threads."""
    repeat_penalty: float | None = Field(None, ge=0.0)
    """Penalty for repeated tokens."""
    repeat_last_n: int | None = Field(None, ge=-1)
    """How far back ``repeat_penalty`` looks (0 off, -1 the whole context)."""
    presence_penalty: float | None = None
    """Penalise tokens already present."""
    frequency_penalty: float | None = None
    """Penalise tokens by frequency."""
    min_p: float | None = Field(None, ge=0.0, le=1.0)
    """Minimum probability relative to the most likely token."""
    typical_p: float | None = Field(None, ge=0.0, le=1.0)
    """Locally typical sampling mass."""
    mirostat: Literal[0, 1, 2] | None = None
    """Mirostat sampling (0 off, 1, 2)."""
    mirostat_tau: float | None = None
    """Mirostat target entropy."""
    mirostat_eta: float | None = None
    """Mirostat learning rate."""
    options: dict[str, Any] | None = None
    """Raw ``options`` entries, passed as they are (named params win over the same key here)."""
    logprobs: bool | None = None
    """Return log probabilities (kept in ``resp.raw``)."""
    top_logprobs: int | None = Field(None, ge=0)
    """Alternatives per token when ``logprobs`` is on."""


class OllamaEmbedParams(EmbeddingParams):
    """Params of ``ollama_embed`` beyond the shared embedding ones."""

    truncate: bool | None = None
    """Cut inputs longer than the context instead of failing (Ollama's default is true)."""
    keep_alive: str | int | None = None
    """How long the model stays loaded after the call (an int is seconds)."""
    options: dict[str, Any] | None = None
    """Raw ``options`` entries (``num_ctx``...)."""


def strip_v1(base: str) -> str:
    """The host root of a base URL: a trailing ``/v1`` (the OpenAI-compatible prefix) is dropped."""
    base = base.rstrip("/")
    return base[:-3] if base.endswith("/v1") else base


def new_tool_call_id() -> str:
    """A tool-call id unique across responses (Ollama sends none)."""
    return new_call_id()


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _usage(body: Mapping[str, Any]) -> Usage:
    return Usage(input_tokens=int_of(body.get("prompt_eval_count")), output_tokens=int_of(body.get("eval_count")))


def _error_text(body: Any) -> tuple[str, str | None] | None:
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        return body["error"], None
    return None


def map_finish_reason(value: str | None, has_tool_calls: bool) -> FinishReason:
    """Map Ollama's ``done_reason`` (absent, ``load`` and ``unload`` mean ``stop``)."""
    reason = _FINISH.get(value or "", "stop")
    return "tool_use" if reason == "stop" and has_tool_calls else reason


def _arguments(raw: Any) -> tuple[str, Any]:
    """``(arguments_json, parsed)`` of tool-call arguments Ollama sends as an object (or text)."""
    if raw is None:
        return "{}", {}
    if isinstance(raw, str):
        try:
            return raw or "{}", json.loads(raw or "{}")
        except ValueError:
            return raw, {}
    return json.dumps(raw, ensure_ascii=False), raw


# -- encode ----------------------------------------------------------------------------------


def _images_and_text(parts: Sequence[Part], role: str) -> tuple[str, list[str]]:
    texts: list[str] = []
    images: list[str] = []
    for p in parts:
        if isinstance(p, TextPart):
            texts.append(p.text)
        elif isinstance(p, ImagePart):
            if p.data is None:
                raise InvalidMessage(
                    f"ollama_native: images must be given as bytes or data: URLs (Ollama fetches no URLs): {p.url}"
                )
            images.append(base64.b64encode(p.data).decode("ascii"))
        elif isinstance(p, DocumentPart) and p.media_type.startswith("text/") and p.data is not None:
            texts.append(p.data.decode("utf-8", "replace"))
        else:
            raise InvalidMessage(
                f"ollama_native: a {role} message cannot hold a {p.kind} part"
                + (f" ({p.media_type})" if isinstance(p, DocumentPart) else "")
            )
    return "".join(texts), images


def _map_message(msg: Message, names: dict[str, str]) -> dict[str, Any]:
    if msg.role == "system":
        return {"role": "system", "content": msg.text}
    if msg.role == "assistant":
        return _map_assistant(msg, names)
    role = "user" if msg.role == "user" else "tool"
    content, images = _images_and_text(msg.parts, msg.role)
    out: dict[str, Any] = {"role": role, "content": content}
    if images:
        out["images"] = images
    if role == "tool":
        name = msg.name or names.get(msg.tool_call_id or "")
        if name:
            out["tool_name"] = name
    return out


def _map_assistant(msg: Message, names: dict[str, str]) -> dict[str, Any]:
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for p in msg.parts:
        if isinstance(p, TextPart):
            texts.append(p.text)
        elif isinstance(p, ThinkingPart):
            if p.text and not p.redacted:
                thinking.append(p.text)
        elif isinstance(p, ToolCall):
            names[p.id] = p.name
            calls.append({"function": {"name": p.name, "arguments": dict(p.arguments)}})
        else:
            raise InvalidMessage(f"ollama_native: an assistant message cannot hold a {p.kind} part")
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if thinking:
        out["thinking"] = "".join(thinking)
    if calls:
        out["tool_calls"] = calls
    return out


def map_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Our messages as ``/api/chat`` messages (tool results are matched to names by call id)."""
    names: dict[str, str] = {}
    return [_map_message(m, names) for m in messages]


def _think(params: Mapping[str, Any]) -> bool | str | None:
    if "think" in params:
        value: bool | str = params["think"]
        return value
    effort = params.get("reasoning_effort")
    if effort is not None:
        return _EFFORT[effort]
    budget = params.get("reasoning_budget")
    if budget is not None:
        return bool(budget > 0)
    return None


def _options(params: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = dict(params.get("options") or {})
    for key in _OPTION_KEYS:
        if key in params:
            options[key] = params[key]
    if "max_tokens" in params:
        options["num_predict"] = params["max_tokens"]
    if "stop" in params:
        stop = params["stop"]
        options["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return options


class OllamaNative(WireProtocol):
    """The ``ollama_native`` wire protocol (``POST /api/chat``)."""

    name = "ollama_native"
    stream_transport = "ndjson"

    @classmethod
    @override
    def param_schema(cls) -> type[OllamaNativeParams]:
        return OllamaNativeParams

    @override
    def resolve_base_url(self, base_url: str) -> str:
        """The host root: the ``ollama`` row's ``/v1`` prefix is dropped."""
        return strip_v1(base_url)

    @override
    def request_path(self, request: Request) -> str:
        return "/api/chat"

    @override
    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        """``/api/chat`` carries no call ids (results name the tool): any id is kept as it is."""
        return HandoffRules(tool_ids=ANY_IDS, thinking_separator="\n\n")

    # -- encode ------------------------------------------------------------------------------
    @override
    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """``parallel_tool_calls``, ``service_tier`` and a ``tool_choice`` other than ``auto`` / ``none``:
        ``/api/chat`` has no field for them."""
        out = [k for k in ("parallel_tool_calls", "service_tier") if k in params]
        if params.get("tool_choice") not in (None, "auto", "none"):
            out.append("tool_choice")
        return out

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The ``/api/chat`` body.

        Raises:
            UnsupportedInput: the model's row refuses images, or the input is a PDF, audio or an image
                URL (Ollama takes base64 images only), before anything is sent.
        """
        params = request.params
        check_inputs(request.model, request.messages, self.name, accepts=("image",))
        messages = prepare_history(request, self.handoff_rules(request.model))
        body: dict[str, Any] = {"model": request.model.id, "messages": map_messages(messages)}
        if request.tools and params.get("tool_choice") != "none":
            body["tools"] = self.encode_tools(request.tools)
        if request.response_schema is not None:
            body["format"] = self.encode_response_schema(request.response_schema, request.schema_name)
        elif "format" in params:
            body["format"] = params["format"]
        options = _options(params)
        if options:
            body["options"] = options
        think = _think(params)
        if think is not None:
            body["think"] = think
        for key in ("keep_alive", "logprobs", "top_logprobs"):
            if key in params:
                body[key] = params[key]
        body["stream"] = request.stream
        return body

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        out = []
        for t in tools:
            fn: dict[str, Any] = {"name": t.name, "parameters": t.json_schema()}
            if t.description:
                fn["description"] = t.description
            out.append({"type": "function", "function": fn})
        return out

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        """The ``format`` value: the JSON schema itself (Ollama takes no name)."""
        return dict(schema)

    # -- decode ------------------------------------------------------------------------------
    @override
    def decode_response(self, body: Any) -> Response:
        body = object_of(self.name, body)
        msg = body.get("message")
        if not isinstance(msg, Mapping):
            raise invalid_body(self.name, "no 'message' object", body)
        text = _str(msg.get("content"))
        thinking = _str(msg.get("thinking"))
        parts: list[Part] = []
        if thinking:
            parts.append(ThinkingPart(thinking))
        if text:
            parts.append(TextPart(text))
        tool_calls = msg.get("tool_calls")
        if tool_calls is not None and not isinstance(tool_calls, list):
            raise invalid_body(self.name, "a 'tool_calls' that is not a list", body)
        calls = [self._tool_call(tc) for tc in tool_calls or () if isinstance(tc, Mapping)]
        parts.extend(calls)
        raw_reason = body.get("done_reason")
        raw_reason = raw_reason if isinstance(raw_reason, str) else None
        return Response(
            finish_reason=map_finish_reason(raw_reason, bool(calls)),
            usage=_usage(body),
            parts=parts,
            raw=body,
            model=body.get("model"),
            provider_finish_reason=raw_reason,
        )

    @staticmethod
    def _tool_call(tc: Mapping[str, Any]) -> ToolCall:
        fn = tc.get("function")
        fn = fn if isinstance(fn, Mapping) else {}
        raw_json, _ = _arguments(fn.get("arguments"))
        return ToolCall.from_json(str(tc.get("id") or new_tool_call_id()), str(fn.get("name") or ""), raw_json)

    @override
    def init_stream(self) -> StreamAccumulator:
        return StreamAccumulator()

    @override
    def decode_stream_chunk(self, state: Any, event: Any) -> StreamResult:
        acc: StreamAccumulator = state
        payload = json.loads(event) if isinstance(event, (str, bytes)) else event
        payload = object_of(self.name, payload, stream=acc)
        if payload.get("error"):
            return self._stream_error(acc, payload)
        msg = payload.get("message")
        if msg is None and not payload.get("done") and body_message(payload):
            raise invalid_body(self.name, "no 'message' object", payload, stream=acc)
        msg = msg if isinstance(msg, Mapping) else {}
        acc.raw = payload
        if isinstance(payload.get("model"), str) and payload["model"]:
            acc.model = payload["model"]
        if _str(msg.get("thinking")):
            acc.thinking(_str(msg.get("thinking")))
        if _str(msg.get("content")):
            acc.text(_str(msg.get("content")))
        for tc in msg.get("tool_calls") or ():
            if isinstance(tc, Mapping):
                self._stream_tool_call(acc, tc)
        if payload.get("done"):
            acc.usage = _usage(payload)
            reason = payload.get("done_reason")
            acc.provider_finish_reason = reason if isinstance(reason, str) else None
            resp = acc.finish(map_finish_reason(acc.provider_finish_reason, False))
            return StreamDone(resp, acc.drain())
        return StreamContinue(acc, acc.drain())

    @staticmethod
    def _stream_tool_call(acc: StreamAccumulator, tc: Mapping[str, Any]) -> None:
        # A call arrives whole in one line: open it, give the arguments as one delta, close it.
        fn = tc.get("function")
        fn = fn if isinstance(fn, Mapping) else {}
        key = ("tc", len(acc.blocks))  # a new block each time
        raw_json, _ = _arguments(fn.get("arguments"))
        acc.tool_call(
            key, id=str(tc.get("id") or new_tool_call_id()), name=str(fn.get("name") or ""), arguments=raw_json
        )
        acc.end_key(key)

    def _stream_error(self, acc: StreamAccumulator, payload: Mapping[str, Any]) -> StreamFailed:
        message, _ = self.decode_error(200, payload)
        exc = as_overflow(StreamError(message, provider=acc.provider, model=acc.model, body=dict(payload)))
        acc.fail(exc)
        return StreamFailed(exc, acc.drain())

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """Ollama's errors are ``{"error": "text"}``."""
        return _error_text(body) or super().decode_error(status, body)


class OllamaEmbed(EmbeddingWireProtocol):
    """The ``ollama_embed`` embedding protocol (``POST /api/embed``)."""

    name = "ollama_embed"
    max_batch = 2048

    @classmethod
    @override
    def param_schema(cls) -> type[OllamaEmbedParams]:
        return OllamaEmbedParams

    @override
    def resolve_base_url(self, base_url: str) -> str:
        """The host root: the ``ollama`` row's ``/v1`` prefix is dropped."""
        return strip_v1(base_url)

    @override
    def request_path(self, request: EmbeddingRequest) -> str:
        return "/api/embed"

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        params = request.params
        body: dict[str, Any] = {"model": request.model.id, "input": list(request.inputs)}
        if "truncate" in params:
            body["truncate"] = params["truncate"]
        if "dimensions" in params:
            body["dimensions"] = params["dimensions"]
        if "keep_alive" in params:
            keep = params["keep_alive"]
            body["keep_alive"] = f"{keep}s" if isinstance(keep, int) else keep  # the spec wants a duration text
        if params.get("options"):
            body["options"] = dict(params["options"])
        return body

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        """The vectors of an ``/api/embed`` body (``ResponseInvalid`` when it has no ``embeddings`` list)."""
        body = object_of(self.name, body)
        vectors = body.get("embeddings")
        if not isinstance(vectors, list):
            raise invalid_body(self.name, "no 'embeddings' list", body)
        return EmbeddingResponse(
            vectors=[vector_of(self.name, v, body) for v in vectors],
            usage=Usage(input_tokens=int_of(body.get("prompt_eval_count"))),
            model=body.get("model"),
            raw=body,
        )

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """Ollama's errors are ``{"error": "text"}``."""
        return _error_text(body) or super().decode_error(status, body)
