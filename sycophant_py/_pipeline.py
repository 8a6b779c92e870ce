"""The pipeline: the steps of one call, in order, in one visible place.

::

    PREPARE = resolve_model → validate_params → resolve_credentials
    (prepare_credentials: sync or async, may do I/O)
    ENCODE  = encode_request → build_http_request
    transport (retried) → decode → finish (cost, structured output, context)

Each step is a small function ``(call) -> call`` over a :class:`Call`. The sync and async entry
points in ``_api.py`` are thin shells that fold the same steps and differ only in the transport
and ``prepare_credentials`` calls. Wire protocols and decoders are pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sycophant_py import _config
from sycophant_py._catalog import resolve_model
from sycophant_py._credentials import resolve_credentials
from sycophant_py._exceptions import (
    AuthenticationFailed,
    BadRequest,
    ContentFiltered,
    ContextOverflow,
    InvalidError,
    InvalidParams,
    NotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    ResponseInvalid,
    ServerError,
    Timeout,
)
from sycophant_py._log import BoundLog, log
from sycophant_py._models import ModelInfo
from sycophant_py._oauth import with_oauth
from sycophant_py._registry import Kind, auth_for, embedding_for, get_protocol, known_protocols
from sycophant_py._retry import parse_retry_after
from sycophant_py._types import Context, Cost, Message, Response, ThinkingPart, Tool, Usage
from sycophant_py.auth._base import SECRET_FIELDS, Auth, Credentials, HttpRequest
from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol, Request, WireProtocol

__all__ = ["ENCODE", "PREPARE", "Call", "calculate_cost", "error_from_response", "finish_response", "run_steps"]

_T = TypeVar("_T")
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid", "apim-request-id", "cf-ray")
_ACCEPT = {
    "sse": "text/event-stream",
    "ndjson": "application/x-ndjson",
    "event_stream": "application/vnd.amazon.eventstream",
}


@dataclass(slots=True)
class Call:
    """Everything one call accumulates on its way through the pipeline.

    ``model``, ``protocol``, ``auth`` and ``http`` are set by the steps (see :data:`PREPARE` and
    :data:`ENCODE`); reading one before its step ran is a bug, and raises ``RuntimeError``.
    ``chat_protocol`` / ``embedding_protocol`` give the protocol with the type of the call's kind.
    """

    spec: str
    kind: Kind = "chat"
    messages: tuple[Message, ...] = ()
    inputs: Sequence[str] = ()
    raw_params: Mapping[str, Any] = field(default_factory=dict)
    credentials_in: Mapping[str, Any] | None = None
    tools: tuple[Tool, ...] = ()
    api: str | None = None
    stream: bool = False
    response_schema: Mapping[str, Any] | None = None
    schema_name: str = "response"
    deadline: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    credentials: Credentials = field(default_factory=Credentials)
    body: dict[str, Any] = field(default_factory=dict)
    log: BoundLog = field(default_factory=BoundLog)
    prepared: bool = False
    """True once credentials are prepared and the body encoded."""
    max_retries: int | None = None
    """Retries allowed for this call (None: the policy's); a fallback list's non-last model gets 0."""
    _model: ModelInfo | None = None
    _protocol: WireProtocol[Any] | EmbeddingWireProtocol | None = None
    _auth: Auth | None = None
    _http: HttpRequest | None = None

    @classmethod
    def resolved(cls, model: ModelInfo, protocol: WireProtocol[Any] | EmbeddingWireProtocol) -> Call:
        """A call whose model and protocol are already known (error mapping, tests)."""
        call = cls(spec=model.spec, kind="chat" if isinstance(protocol, WireProtocol) else "embedding")
        call.model = model
        call.protocol = protocol
        return call

    @property
    def model(self) -> ModelInfo:
        """The resolved model (``step_resolve_model``)."""
        return _set(self._model, "model")

    @model.setter
    def model(self, value: ModelInfo) -> None:
        self._model = value

    @property
    def protocol(self) -> WireProtocol[Any] | EmbeddingWireProtocol:
        """The wire protocol of the call's kind (``step_resolve_model``; its stream state type is
        opaque here: the pipeline only hands a protocol the state it made)."""
        if self._protocol is None:
            raise RuntimeError("Call.protocol read before the pipeline step that sets it")
        return self._protocol

    @protocol.setter
    def protocol(self, value: WireProtocol[Any] | EmbeddingWireProtocol) -> None:
        self._protocol = value

    @property
    def chat_protocol(self) -> WireProtocol[Any]:
        """The protocol of a chat call."""
        proto = self.protocol
        if not isinstance(proto, WireProtocol):
            raise TypeError(f"{self.spec}: an embedding call has no chat protocol")
        return proto

    @property
    def embedding_protocol(self) -> EmbeddingWireProtocol:
        """The protocol of an embedding call."""
        proto = self.protocol
        if not isinstance(proto, EmbeddingWireProtocol):
            raise TypeError(f"{self.spec}: a chat call has no embedding protocol")
        return proto

    @property
    def auth(self) -> Auth:
        """The auth strategy (``step_resolve_credentials``)."""
        return _set(self._auth, "auth")

    @auth.setter
    def auth(self, value: Auth) -> None:
        self._auth = value

    @property
    def http(self) -> HttpRequest:
        """The request to send, before auth (``step_encode``)."""
        return _set(self._http, "http")

    @http.setter
    def http(self, value: HttpRequest) -> None:
        self._http = value

    def remaining(self) -> float | None:
        """Seconds left of the call's total ``timeout=``, or None."""
        if self.deadline is None:
            return None
        left = self.deadline - _clock()
        if left <= 0:
            raise Timeout(f"the call's timeout expired before it finished ({self.spec})")
        return left


def _set(value: _T | None, what: str) -> _T:
    if value is None:
        raise RuntimeError(f"Call.{what} read before the pipeline step that sets it")
    return value


def _clock() -> float:
    return _config.now()


def deadline_for(timeout: float | None) -> float | None:
    """The monotonic deadline for a total ``timeout=`` in seconds."""
    if timeout is None:
        return None
    if timeout <= 0:
        raise InvalidError(f"timeout must be positive seconds, got {timeout!r}")
    return _clock() + timeout


# -- steps before the provider-specific credential preparation --------------------------------


def step_resolve_model(call: Call) -> Call:
    """Resolve the model row and the wire protocol (``api=`` forces one).

    An embedding call on a chat model uses the row's ``embed_api``, else the chat protocol's
    ``embedding`` partner (its descriptor), else the default embedding protocol.
    """
    call.model = model = resolve_model(call.spec)
    name = call.api or model.api
    if call.kind == "embedding":
        if call.api is None and name not in known_protocols("embedding"):
            name = str(model.extra.get("embed_api") or embedding_for(name))
        call.protocol = get_protocol("embedding", name)
    else:
        call.protocol = get_protocol("chat", name)
    call.log = log.bind(provider=model.provider, model=model.id, wire_protocol=name)
    return call


def step_validate_params(call: Call) -> Call:
    """Strip unknown params (one warning naming them), then validate types and ranges."""
    if not call.raw_params:
        return call
    from sycophant_py._params import validate_params

    call.params, dropped = validate_params(call.protocol.param_schema(), call.raw_params)
    dropped += call.protocol.unsupported_params(call.model, call.params)
    if dropped:
        call.log.warning("params.dropped", params=sorted(dropped))
    return call


_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def step_check_tools(call: Call) -> Call:
    """Tools are ``Tool`` objects with valid, unique names and valid JSON Schema parameters (checked
    once per schema object: see ``_schema_check``); a named ``tool_choice`` names one of the tools."""
    from sycophant_py._schema_check import check_tool

    for i, tool in enumerate(call.tools):
        if not isinstance(tool, Tool):
            raise InvalidParams(f"tools[{i}] must be a Tool, not {type(tool).__name__}", param="tools")
    names = [t.name for t in call.tools]
    for name in names:
        if not _TOOL_NAME.match(name):
            raise InvalidParams(f"tool name {name!r} must be 1-64 letters, digits, '_' or '-'", param="tools")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidParams(f"tool names must be unique; repeated: {', '.join(dupes)}", param="tools")
    choice = call.params.get("tool_choice")
    if isinstance(choice, str) and choice not in ("auto", "none", "required") and choice not in names:
        known = ", ".join(names) or "no tools were given"
        raise InvalidParams(f"tool_choice={choice!r} names no tool of this call ({known})", param="tool_choice")
    for tool in call.tools:
        check_tool(tool)
    return call


def step_check_inputs(call: Call) -> Call:
    """Images, PDFs and audio the model's catalog row refuses raise ``UnsupportedInput`` (nothing is sent)."""
    if call.kind == "chat":
        from sycophant_py.wire._media import check_model_inputs

        check_model_inputs(call.model, call.messages)
    return call


def step_resolve_credentials(call: Call) -> Call:
    """Per-request, then config, then the credential store, then environment (see ``resolve_credentials``).

    An OAuth provider's strategy is wrapped in the OAuth step (``auth/oauth.py``).
    """
    call.credentials = resolve_credentials(call.model, call.credentials_in)
    call.auth = with_oauth(call.model, auth_for(call.model.provider, call.model.auth_strategy, call.protocol))
    return call


def step_encode(call: Call) -> Call:
    """Let the wire protocol build the JSON body."""
    if call.kind == "embedding":
        return call
    proto = call.chat_protocol
    req = Request(
        call.model,
        call.messages,
        call.params,
        call.tools,
        call.stream,
        call.response_schema,
        call.schema_name,
        _config.settings().foreign_thinking,
    )
    call.body = proto.encode_request(req)
    call.http = _http_request(call, proto.request_path(req))
    extra = proto.request_headers(req)
    if extra:
        call.http.headers.update(extra)
    return call


def _http_request(call: Call, path: str) -> HttpRequest:
    model, creds = call.model, call.credentials
    base = str(creds.get("base_url") or model.base_url)
    base = call.protocol.resolve_base_url(base)
    url = base.rstrip("/") + path
    if "{" in url:
        # Secrets never go into a URL: only settings fill templates.
        values = {k: str(v) for k, v in creds.items() if isinstance(v, (str, int)) and k not in SECRET_FIELDS}
        values.update(call.auth.path_params(creds))
        values.setdefault("model", model.id)
        try:
            url = url.format(**values)
        except KeyError as exc:
            raise InvalidError(f"{model.provider}: URL {url!r} needs a value for {exc.args[0]!r}") from None
    accept = _ACCEPT[call.chat_protocol.stream_transport] if call.stream else "application/json"
    headers = {"content-type": "application/json", "accept": accept}
    if model.headers:
        from sycophant_py._headers import resolve_header_values

        headers.update(resolve_header_values(model.headers))
    return HttpRequest("POST", url, headers, {}, encode_json(call.body))


_SURROGATES = re.compile("[\ud800-\udfff]")


def encode_json(body: Any) -> bytes:
    """JSON-encode a body as UTF-8, replacing lone surrogates (which no provider accepts)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text).encode("utf-8")


def apply_auth(call: Call) -> HttpRequest:
    """A fresh copy of the request with the auth middlewares applied (once per attempt)."""
    h = call.http
    req = HttpRequest(h.method, h.url, dict(h.headers), dict(h.params), h.content)
    middlewares = call.auth.middlewares(call.credentials)
    if not middlewares:
        return req
    before_h, before_p = dict(req.headers), dict(req.params)
    for mw in middlewares:
        req = mw(req)
    # What auth added or changed is never carried across origins by a redirect.
    req.auth_headers = frozenset(k for k, v in req.headers.items() if before_h.get(k) != v)
    req.auth_params = frozenset(k for k, v in req.params.items() if before_p.get(k) != v)
    return req


PREPARE: list[Callable[[Call], Call]] = [
    step_resolve_model,
    step_validate_params,
    step_check_tools,
    step_check_inputs,
    step_resolve_credentials,
]
ENCODE: list[Callable[[Call], Call]] = [step_encode]


def run_steps(call: Call, steps: Sequence[Callable[[Call], Call]]) -> Call:
    """Fold ``call`` through ``steps``."""
    for step in steps:
        call = step(call)
    return call


# -- after the transport ---------------------------------------------------------------------


def calculate_cost(model: ModelInfo | str, usage: Usage) -> Cost | None:
    """Cost in USD of ``usage`` at the model's catalog prices (None when prices are unknown).

    Args:
        model: A resolved model or a ``"provider:model-id"`` spec.
        usage: Token counts (``input_tokens`` is uncached input).
    """
    info = resolve_model(model) if isinstance(model, str) else model
    price = info.cost
    if price is None:
        return None
    m = 1_000_000.0
    return Cost(
        usage.input_tokens * price.input / m,
        usage.output_tokens * price.output / m,
        usage.cache_read_tokens * price.cache_read / m,
        usage.cache_write_tokens * price.cache_write / m,
    )


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The provider's request id from the response headers."""
    for h in _REQUEST_ID_HEADERS:
        v = headers.get(h)
        if v:
            return v
    return None


def finish_response(call: Call, resp: Response, headers: Mapping[str, str] | None = None) -> Response:
    """Fill what the protocol does not know: provider, model, request id, cost and context."""
    model = call.model
    resp.provider = model.provider
    if resp.model is None:
        resp.model = model.id
    if headers is not None and resp.request_id is None:
        resp.request_id = request_id_of(headers)
    _own_thinking(resp, model.provider)
    if resp.usage.cost is None and model.cost is not None:
        resp.usage.cost = calculate_cost(model, resp.usage)
    resp.context = Context((*call.messages, resp.message), dict(call.params), call.tools)
    return resp


def _own_thinking(resp: Response, provider: str) -> None:
    """Mark thinking the protocol could not attribute as this provider's (replay needs to know),
    signature-only and redacted thinking included."""
    if any(isinstance(p, ThinkingPart) and p.provider is None for p in resp.parts):
        resp.parts = [
            replace(p, provider=provider) if isinstance(p, ThinkingPart) and p.provider is None else p
            for p in resp.parts
        ]


def _decode_body(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return body.decode("utf-8", "replace")


def error_from_response(call: Call, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    """Map an error status and body to the exception tree."""
    decoded = _decode_body(body)
    message, err_type = call.protocol.decode_error(status, decoded)
    kw: dict[str, Any] = {
        "status_code": status,
        "provider": call.model.provider,
        "model": call.model.id,
        "request_id": request_id_of(headers),
        "body": decoded,
        "error_type": err_type,
    }
    etype = (err_type or "").lower()
    exc: ProviderError
    if status in (401, 403):
        exc = AuthenticationFailed(message, **kw)
    elif status == 404:
        exc = NotFound(message, **kw)
    elif status == 429:
        exc = RateLimited(message, **kw)
    elif status == 529 or "overloaded" in etype:
        exc = Overloaded(message, **kw)
    elif status == 408:
        exc = Timeout(message, **kw)
    elif status >= 500:
        exc = ServerError(message, **kw)
    elif status == 400 and any(k in etype for k in ("api_key_invalid", "authentication", "unauthenticated")):
        exc = AuthenticationFailed(message, **kw)
    elif (sizes := call.protocol.context_overflow(status, decoded, message)) is not None:
        exc = ContextOverflow(message, limit=sizes[0], requested=sizes[1], **kw)
    elif "content_filter" in etype or "content_policy" in etype or "safety" in etype:
        exc = ContentFiltered(message, **kw)
    else:
        exc = BadRequest(message, **kw)
    if headers.get("x-should-retry") == "false":
        exc.should_retry = False
    # The headers say how long to wait; some providers say it in the body instead (Gemini's RetryInfo).
    ra = parse_retry_after(headers)
    exc.retry_after = ra if ra is not None else call.protocol.retry_after(decoded)
    return exc


def decode_json_body(call: Call, status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """Decode a 2xx JSON body, or raise ``ResponseInvalid``."""
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ResponseInvalid(
            f"response body is not JSON: {body[:200]!r}",
            status_code=status,
            provider=call.model.provider,
            model=call.model.id,
            request_id=request_id_of(headers),
            body=body[:2000].decode("utf-8", "replace"),
        ) from exc


def embedding_request(call: Call, inputs: Sequence[str]) -> tuple[EmbeddingRequest, HttpRequest]:
    """Encode one embedding batch."""
    req = EmbeddingRequest(call.model, inputs, call.params)
    proto = call.embedding_protocol
    call.body = proto.encode_request(req)
    call.http = _http_request(call, proto.request_path(req))
    return req, call.http
