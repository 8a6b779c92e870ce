"""The wire-protocol behaviours: pure translators between our types and one API dialect.

A ``WireProtocol`` never does I/O. The pipeline hands it a :class:`Request` and gets back a JSON
body and a path; it hands it the decoded body (or each stream event) and gets back a
:class:`~sycophant_py.Response` (or stream results). The same object serves sync and async calls.

**The descriptor.** Besides its methods a protocol declares, as class attributes, what the rest of
the library needs to know about it without calling anything (see :class:`ProtocolBase`): its
registry ``name``, other ``aliases`` (pi's api names), the ``default_auth`` strategy its API needs,
the auth an alias implies (``implied_auth_for_alias``), its ``params`` model, and for chat
protocols the ``embedding`` partner, the ``finish_reasons`` map and the ``models_path`` that lists a
server's models. The registry (``sycophant_py._registry``) reads them; nothing outside a protocol's
package keeps a table about it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeAlias

from typing_extensions import TypeVar, override

from sycophant_py._events import StreamAccumulator, StreamEvent
from sycophant_py._exceptions import ResponseInvalid
from sycophant_py._handoff import HandoffRules
from sycophant_py._models import ModelInfo
from sycophant_py._types import EmbeddingResponse, FinishReason, Message, Response, Tool

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "ChatState",
    "EmbeddingRequest",
    "EmbeddingWireProtocol",
    "ProtocolBase",
    "Request",
    "StreamContinue",
    "StreamDone",
    "StreamFailed",
    "StreamResult",
    "StreamTransport",
    "WireProtocol",
    "error_fields",
]

StreamTransport: TypeAlias = Literal["sse", "event_stream", "ndjson"]
ChatState = TypeVar("ChatState", bound=StreamAccumulator, default=StreamAccumulator)
"""The stream state a chat protocol keeps: the shared accumulator or a subclass of it."""
_State_co = TypeVar("_State_co", bound=StreamAccumulator, covariant=True, default=StreamAccumulator)
_NO_ALIASES: Mapping[str, str] = MappingProxyType({})


@dataclass(slots=True)
class Request:
    """One chat request in the library's own terms, as wire protocols receive it."""

    model: ModelInfo
    """The resolved model (id, provider, compat flags, limits...)."""
    messages: Sequence[Message]
    """The conversation."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Validated params (shared and protocol-specific), None values removed."""
    tools: Sequence[Tool] = ()
    """Tools the model may call."""
    stream: bool = False
    """True for a streaming call."""
    response_schema: Mapping[str, Any] | None = None
    """JSON Schema the answer must follow (structured output), already normalised."""
    schema_name: str = "response"
    """A name for the response schema, where the provider wants one."""
    foreign_thinking: str | None = None
    """The configured ``foreign_thinking`` setting (``text`` or ``drop``); a ``foreign_thinking``
    param wins over it (see ``sycophant_py.wire.prepare_history``)."""


@dataclass(slots=True)
class EmbeddingRequest:
    """One embedding request (one batch) in the library's own terms."""

    model: ModelInfo
    """The resolved model."""
    inputs: Sequence[str]
    """The texts to embed."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """Validated params (``dimensions``, ``encoding_format``...)."""


@dataclass(frozen=True, slots=True)
class StreamContinue(Generic[_State_co]):
    """The stream goes on: the new state and the events this chunk produced."""

    state: _State_co
    events: list[StreamEvent]


@dataclass(slots=True)
class StreamDone:
    """The stream is complete: the final response and the last events (``done`` among them)."""

    response: Response
    events: list[StreamEvent]


@dataclass(slots=True)
class StreamFailed:
    """The provider reported an error in the stream; ``events`` end with the ``error`` event."""

    error: Exception
    events: list[StreamEvent]


StreamResult: TypeAlias = StreamContinue[_State_co] | StreamDone | StreamFailed
"""What decoding one stream event gives: go on (with the protocol's state), done, or failed."""


def _declared_path(proto: WireProtocol[Any] | EmbeddingWireProtocol) -> str:
    if proto.path is None:
        raise NotImplementedError(f"{type(proto).__qualname__} declares no path: set `path` or override request_path")
    return proto.path


def error_fields(status: int, body: Any) -> tuple[str, str | None]:
    """``(message, error type)`` of an error body in the common shapes.

    ``{"error": {"message", "type" | "code" | "status"}}`` (OpenAI, Google and most servers),
    ``{"error": "text"}``, a flat ``{"message": ...}``; any other body is its own text (500
    characters at most), an empty one ``HTTP <status>``.
    """
    if isinstance(body, Mapping):
        err = body.get("error", body)
        if isinstance(err, Mapping):
            msg = err.get("message") or err.get("msg") or err.get("detail")
            typ = err.get("type") or err.get("code") or err.get("status")
            return str(msg or body), None if typ is None else str(typ)
        if isinstance(err, str):
            return err, None
    text = body if isinstance(body, str) else repr(body)
    return text[:500] or f"HTTP {status}", None


class ProtocolBase:
    """What chat and embedding protocols share: the descriptor and the optional hooks.

    The descriptor (class attributes, read by the registry without an instance):

    ``name``
        The registry name, which is also the name of the protocol's package (``wire/<name>/``).
    ``aliases``
        Other names that select it (pi's api names: ``openai-completions``...). Only the class that
        declares them owns them: a subclass does not inherit its parent's aliases.
    ``default_auth``
        The auth strategy its API needs when the provider names none (``anthropic``, ``google``...;
        None: the provider's registered auth, else bearer).
    ``implied_auth_for_alias``
        An alias that also picks an auth strategy (``azure-openai-responses`` -> ``azure``).
    ``params``
        The pydantic model of the params it accepts (None: the shared ones).
    ``path``
        The request path, when it does not depend on the request (else override ``request_path``).
    """

    name: ClassVar[str] = ""
    """The registry name (the name of the protocol's package)."""
    aliases: ClassVar[tuple[str, ...]] = ()
    """Other names of the protocol (pi's api names); not inherited by subclasses."""
    default_auth: ClassVar[str | None] = None
    """The auth strategy the API needs when the provider names none (None: the provider's, else bearer)."""
    implied_auth_for_alias: ClassVar[Mapping[str, str]] = _NO_ALIASES
    """Aliases that also select an auth strategy: alias -> strategy name."""
    params: ClassVar[type[BaseModel] | None] = None
    """The params model (a subclass of the shared params); None: the shared params only."""

    @classmethod
    def own_aliases(cls) -> tuple[str, ...]:
        """The aliases this class declares itself (a subclass of a built-in does not take its names)."""
        aliases: tuple[str, ...] = vars(cls).get("aliases", ())
        return aliases

    def resolve_base_url(self, base_url: str) -> str:
        """Adjust the provider's base URL for this protocol (default: unchanged)."""
        return base_url

    def retry_after(self, body: Any) -> float | None:
        """Seconds to wait that an error *body* asks for (default: none; headers are read anyway)."""
        return None

    def context_overflow(self, status: int, body: Any, message: str) -> tuple[int | None, int | None] | None:
        """``(limit, requested)`` when an error says the prompt does not fit the context window.

        The default knows every built-in provider's wording and the common OpenAI-compatible ones
        (see ``sycophant_py.wire._overflow``); override to add a dialect's own.

        Args:
            status: The HTTP status.
            body: The decoded error body.
            message: The message :meth:`decode_error` extracted.

        Returns:
            The context window and the size sent in tokens (each None when not given), or None when
            the error is something else (the pipeline then raises ``BadRequest`` or its kin).
        """
        from sycophant_py.wire._overflow import context_overflow

        return context_overflow(status, body, message)

    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """Validated params this protocol cannot send for ``model`` (default: none).

        The pipeline names them in the one ``params.dropped`` warning of the call, beside unknown
        params, so no param vanishes silently. They stay in ``resp.context.params``.
        """
        return []

    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        """Extract ``(message, provider_error_type)`` from an error body (default: :func:`error_fields`)."""
        return error_fields(status, body)

    @override
    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class WireProtocol(ProtocolBase, ABC, Generic[ChatState]):
    """Behaviour of a chat wire protocol (one API dialect). Implementations are pure.

    Subclasses declare the descriptor (see :class:`ProtocolBase`; chat protocols add ``handoff``,
    ``stream_transport``, ``stream_state``, ``embedding``, ``finish_reasons``, ``models_path`` and
    ``compat_flags``) and
    implement the
    abstract methods. ``init_stream`` returns a :class:`~sycophant_py.wire.StreamAccumulator` (or a
    subclass holding extra decoder state: the type parameter) so the pipeline can always turn a
    broken stream into an ``error`` event with the partial content.
    """

    path: ClassVar[str | None] = None
    """The request path when it does not depend on the request (``request_path`` returns it)."""
    handoff: ClassVar[HandoffRules] = HandoffRules()
    """What the protocol accepts from a conversation made elsewhere when it does not depend on the
    model (``handoff_rules`` returns it; the default: any id, only the model's own signatures)."""
    stream_transport: ClassVar[StreamTransport] = "sse"
    """How streamed bodies are framed."""
    stream_state: type[ChatState]
    """The class of the stream state ``init_stream`` makes: the accumulator or a subclass of it."""
    embedding: ClassVar[str | None] = None
    """The embedding protocol a provider speaking this one embeds with (None: the default one)."""
    finish_reasons: ClassVar[Mapping[str, FinishReason]] = MappingProxyType({})
    """The provider's finish reasons mapped to ours; any other value is ``stop`` and stays in
    ``Response.provider_finish_reason`` (the one policy: ``sycophant_py.wire._util.map_finish``)."""
    models_path: ClassVar[str | None] = None
    """The path under the (resolved) base URL that lists a server's models (None: no listing)."""
    compat_flags: ClassVar[Mapping[str, tuple[Any, ...]]] = MappingProxyType({})
    """The ``ModelInfo.compat`` flags the protocol reads, each with its allowed values (a provider
    registered or configured at run time may set them: see ``register_provider(compat=...)``)."""

    @classmethod
    def param_schema(cls) -> type[BaseModel]:
        """The pydantic model of accepted params (``params``, else ``SharedParams``)."""
        if cls.params is not None:
            return cls.params
        from sycophant_py._params import SharedParams

        return SharedParams

    def request_path(self, request: Request) -> str:
        """Path appended to the base URL (may include a query string); by default the ``path`` declared."""
        return _declared_path(self)

    @abstractmethod
    def encode_request(self, request: Request) -> dict[str, Any]:
        """Build the JSON body."""

    @abstractmethod
    def decode_response(self, body: Any) -> Response:
        """Turn a non-streaming JSON body into a Response (``context`` is filled by the pipeline)."""

    @abstractmethod
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        """Encode tool definitions."""

    @abstractmethod
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        """Encode a JSON Schema for structured output (the body fragment the protocol merges)."""

    def init_stream(self) -> ChatState:
        """Fresh decoder state for one stream: by default a new ``stream_state``."""
        return self.stream_state()

    @abstractmethod
    def decode_stream_chunk(self, state: ChatState, event: Any) -> StreamResult[ChatState]:
        """Decode one stream event (an SSE event, an NDJSON line or an event-stream frame)."""

    def handoff_rules(self, model: ModelInfo) -> HandoffRules:
        """What this protocol accepts from a conversation made elsewhere, for ``model``: tool-call ids,
        and whose thinking signatures it verifies (default: any id; only the model's own provider).

        Encoders pass it to :func:`~sycophant_py.wire.prepare_history` before mapping messages; the
        default is the ``handoff`` declared.
        """
        return self.handoff

    def request_headers(self, request: Request) -> dict[str, str]:
        """Headers the request needs beyond auth (lower-case names; default: none)."""
        return {}

    def end_of_stream(self, state: ChatState) -> StreamResult[ChatState]:
        """The body ended: by default that is an error unless the protocol saw its end marker."""
        err = ResponseInvalid(
            "stream ended before the provider's end marker", provider=state.provider, model=state.model
        )
        state.fail(err)
        return StreamFailed(err, state.drain())


class EmbeddingWireProtocol(ProtocolBase, ABC):
    """Behaviour of an embedding wire protocol (descriptor: see :class:`ProtocolBase`). Implementations are pure."""

    max_batch: ClassVar[int] = 2048
    """Most inputs per request; the pipeline splits larger calls and joins the results."""
    path: ClassVar[str | None] = None
    """The request path when it does not depend on the request (``request_path`` returns it)."""

    @classmethod
    def param_schema(cls) -> type[BaseModel]:
        """The pydantic model of accepted params (``params``, else ``EmbeddingParams``)."""
        if cls.params is not None:
            return cls.params
        from sycophant_py._params import EmbeddingParams

        return EmbeddingParams

    def request_path(self, request: EmbeddingRequest) -> str:
        """Path appended to the base URL; by default the ``path`` declared."""
        return _declared_path(self)

    @abstractmethod
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        """Build the JSON body."""

    @abstractmethod
    def decode_response(self, body: Any) -> EmbeddingResponse:
        """Turn the JSON body into vectors (in input order) and usage."""
