"""The one exception tree of sycophant_py.

Every error the library raises derives from :class:`SycophantError`, split by blame (the tree is
exact: ``tests/test_exceptions_tree.py`` compares it with the classes below)::

    SycophantError                   (``steps`` / ``usage``: what a tool loop did before it failed)
    ├── InvalidError                 the caller's fault; the request it concerns was not sent
    │   ├── MissingCredentials       no key in any credential layer
    │   ├── InvalidParams            a param has the wrong type or range
    │   ├── UnknownName              a protocol/auth name is not registered
    │   │   └── UnknownProvider      "provider:model" names no known provider
    │   ├── InvalidConfig            configure() arguments or the config file (names file, table, field)
    │   ├── InvalidSchema            a tool or response schema is not valid JSON Schema
    │   ├── InvalidMessage           a message is impossible (unknown role, a tool result without
    │   │                            an id...) or cannot be encoded for the provider
    │   ├── ToolResultInvalid        a tool function returned a value that cannot be sent back
    │   ├── UnsupportedInput         the model cannot take that input kind (image, pdf, audio)
    │   ├── InvalidRegistration      a class registered as a behaviour does not implement it
    │   └── CredentialStoreError     the per-user credential file is unreadable, corrupt or locked
    ├── ProviderError                the remote side failed; carries status_code, provider,
    │   │                            model, request_id and body
    │   ├── AuthenticationFailed     401 / 403
    │   ├── NotFound                 404
    │   ├── RateLimited              429 (``retry_after`` in seconds, when the provider said)
    │   ├── Overloaded               529 / "overloaded" errors
    │   ├── ServerError              other 5xx
    │   ├── BadRequest               other 4xx the provider refused
    │   │   └── ContextOverflow      the prompt does not fit the model's context window
    │   ├── Timeout                  connect / read / stream-idle / total timeout
    │   ├── ProviderConnectionError  the connection failed or dropped
    │   ├── ResponseInvalid          a body or stream frame that cannot be decoded
    │   │   ├── ResponseTooLarge     a body or stream event past the configured limits
    │   │   └── InvalidObject        structured output that is not JSON or not valid for the schema
    │   ├── ContentFiltered          the provider refused on safety grounds
    │   ├── StreamError              an error event inside an otherwise successful stream
    │   └── AllModelsFailed          every model of a fallback list or alias failed (``errors``)
    └── StreamAborted                the caller closed or cancelled a stream before it ended

Failures inside the automatic tool loop, after the first (billed) request, are raised with
``exc.steps`` (every response received so far, in order) and ``exc.usage`` (their summed usage and
cost) set, whatever their class: a provider error on the third step, a tool result that is not
JSON, a tool schema that cannot be applied. Errors raised before any request leave both ``None``.

No class shadows a builtin name (``Timeout``, not ``TimeoutError``). Causes are chained with
``raise ... from``. No key ever appears in an exception message or body: every message is
redacted when the exception is built (``sycophant_py._redact``: remembered keys and recognisable
key shapes are masked to their last four characters), a provider error's ``body`` is kept as
received except for the same masking (a proxy that echoes the key back), and the request that was
sent is never attached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from sycophant_py._redact import redact, redact_text

if TYPE_CHECKING:
    from sycophant_py._types import Response, Usage

__all__ = [
    "AllModelsFailed",
    "AuthenticationFailed",
    "BadRequest",
    "ContextOverflow",
    "ContentFiltered",
    "CredentialStoreError",
    "InvalidConfig",
    "InvalidError",
    "InvalidMessage",
    "InvalidObject",
    "InvalidParams",
    "InvalidRegistration",
    "InvalidSchema",
    "MissingCredentials",
    "NotFound",
    "Overloaded",
    "ProviderConnectionError",
    "ProviderError",
    "RateLimited",
    "ResponseInvalid",
    "ResponseTooLarge",
    "ServerError",
    "StreamAborted",
    "StreamError",
    "SycophantError",
    "Timeout",
    "ToolResultInvalid",
    "UnknownName",
    "UnknownProvider",
    "UnsupportedInput",
]


class SycophantError(Exception):
    """Root of every error raised by sycophant_py.

    Text arguments are redacted when the exception is built: no key reaches ``str()`` or ``args``.

    Attributes:
        steps: Set when a tool loop failed after its first request: every response received so
            far, in order (the billed requests). ``None`` otherwise.
        usage: Set with ``steps``: their summed usage (and cost). ``None`` otherwise.
    """

    steps: list[Response] | None = None
    usage: Usage | None = None

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact_text(a) if isinstance(a, str) else a for a in args))


class InvalidError(SycophantError):
    """The call itself is wrong (the caller's fault); the request it concerns was not sent.

    Raised before anything is sent, except inside a tool loop, where earlier steps were (see
    ``steps``).
    """


class MissingCredentials(InvalidError):
    """No credential was found for a provider whose auth mode requires one.

    Attributes:
        provider: The provider id.
        env_vars: The environment variables that were checked.
        keyword: The keyword that would have supplied the value (``credentials={...}``).
    """

    def __init__(
        self, provider: str, env_vars: tuple[str, ...], keyword: str = "api_key", *, login: bool = False
    ) -> None:
        self.provider = provider
        self.env_vars = env_vars
        self.keyword = keyword
        where = " or ".join(env_vars) if env_vars else "no environment variable is known"
        how = f"run `sycophant login {provider}`, " if login else ""
        super().__init__(
            f"No {keyword} for provider {provider!r}: {how}set {where}, pass credentials={{{keyword!r}: ...}}, "
            f"or configure(providers={{{provider!r}: {{{keyword!r}: ...}}}})"
        )


class InvalidParams(InvalidError):
    """A param has the wrong type or is out of range.

    Attributes:
        param: The offending param name.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)


class UnknownName(InvalidError):
    """A protocol, auth strategy or other registered name is unknown.

    Attributes:
        name: The unknown name.
        known: The names that are known.
    """

    def __init__(self, what: str, name: str, known: list[str]) -> None:
        import difflib

        self.name = name
        self.known = sorted(known)
        close = difflib.get_close_matches(name, self.known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(self.known) if self.known else "none"
        super().__init__(f"Unknown {what} {name!r}.{hint} Known: {listing}.")


class UnknownProvider(UnknownName):
    """A model spec names a provider that is neither in the catalog nor configured."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__("provider", name, known)


class InvalidConfig(InvalidError):
    """``configure()`` arguments or the TOML config file are invalid.

    The message names the file (for the file), the place (``[providers.openai]``,
    ``[custom_providers.vllm.models.mistral]``, ``[[instances]] #2 (name='work')``, or
    ``providers.openai.api_key`` for ``configure()``) and the field. Secret values are never shown.

    Attributes:
        file: The config file's path, or ``None`` for ``configure()`` arguments.
        errors: One line per problem found.
    """

    def __init__(self, message: str, *, file: str | None = None, errors: list[str] | None = None) -> None:
        self.file = file
        self.errors = errors if errors is not None else [message]
        super().__init__(message)


class InvalidSchema(InvalidError):
    """A tool parameter schema or response schema is not usable JSON Schema.

    Attributes:
        tool: The tool whose schema it is (``None`` for a response schema).
        path: Where in the schema the problem is, as a JSON pointer (``/properties/q/type``).
    """

    def __init__(self, message: str, *, tool: str | None = None, path: str | None = None) -> None:
        self.tool = tool
        self.path = path
        super().__init__(message)


class InvalidMessage(InvalidError):
    """A message or part is impossible, or cannot be represented for the selected provider."""


class ToolResultInvalid(InvalidError):
    """A tool function returned a value that cannot be sent back to the model (not JSON-serialisable).

    Raised by the tool loop after at least one request: ``steps`` and ``usage`` are set.

    Attributes:
        tool: The tool name.
        tool_call_id: The id of the call whose result it was.
    """

    def __init__(self, message: str, *, tool: str, tool_call_id: str) -> None:
        self.tool = tool
        self.tool_call_id = tool_call_id
        super().__init__(message)


class UnsupportedInput(InvalidError):
    """The model cannot take an input kind the conversation holds (an image, a PDF, audio).

    Raised before anything is sent, when the model's catalog row says it does not accept it.

    Attributes:
        kind: The input kind (``image``, ``pdf``, ``audio``...).
    """

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        self.kind = kind
        super().__init__(message)


class InvalidRegistration(InvalidError):
    """A class registered as a wire protocol or auth strategy does not implement the behaviour."""


class CredentialStoreError(InvalidError):
    """The per-user credential store cannot be used: unreadable, not valid JSON, or its lock timed out.

    The message names the file and never quotes its content. A corrupt file is never overwritten.
    """


class ProviderError(SycophantError):
    """The provider (or the network to it) failed.

    Attributes:
        status_code: HTTP status, when there was a response.
        provider: Provider id.
        model: Model id.
        request_id: The provider's request id header, when present.
        body: The decoded error body (dict) or raw text, as the provider sent it (secrets masked).
        error_type: The provider's own error type or code (``overloaded_error``, ``ThrottlingException``,
            ``RESOURCE_EXHAUSTED``...), when the error said one.
    """

    default_status: int | None = None
    retry_after: float | None = None
    """Seconds the provider asked to wait before retrying, when it said."""
    should_retry: bool | None = None
    """False when the provider forbade a retry (``x-should-retry: false``)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        provider: str | None = None,
        model: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        error_type: str | None = None,
    ) -> None:
        self.status_code = status_code if status_code is not None else self.default_status
        self.error_type = error_type
        self.provider = provider
        self.model = model
        self.request_id = request_id
        self.body = redact(body) if body is not None else None
        self.message = redact_text(message)
        super().__init__(self.message)

    @override
    def __str__(self) -> str:
        where = ":".join(p for p in (self.provider, self.model) if p)
        bits = [f"HTTP {self.status_code}"] if self.status_code else []
        if where:
            bits.append(where)
        if self.request_id:
            bits.append(f"request_id={self.request_id}")
        return f"{self.message} ({', '.join(bits)})" if bits else self.message


class AuthenticationFailed(ProviderError):
    """The provider rejected the credentials (401) or the permission (403)."""

    default_status = 401


class NotFound(ProviderError):
    """The model or endpoint does not exist (404)."""

    default_status = 404


class RateLimited(ProviderError):
    """Too many requests (429).

    Attributes:
        retry_after: Seconds the provider asked to wait, when it said.
    """

    default_status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class Overloaded(ProviderError):
    """The provider is temporarily overloaded (Anthropic 529, "overloaded_error")."""

    default_status = 529


class ServerError(ProviderError):
    """The provider failed with a 5xx status."""

    default_status = 500


class BadRequest(ProviderError):
    """The provider refused the request with a 4xx status not covered by a narrower class."""

    default_status = 400


class ContextOverflow(BadRequest):
    """The prompt (plus the requested output) does not fit the model's context window.

    Recognised from each provider's wording or error code (``sycophant_py.wire._overflow``), for an
    HTTP error and for an error event inside a stream alike. Not retried; a fallback list moves on.

    Attributes:
        limit: The context window in tokens, when the provider said.
        requested: The size sent (tokens: the prompt, plus the requested output where the provider
            counts it), when the provider said.
    """

    limit: int | None = None
    requested: int | None = None

    def __init__(self, message: str, *, limit: int | None = None, requested: int | None = None, **kw: Any) -> None:
        self.limit = limit
        self.requested = requested
        super().__init__(message, **kw)


class Timeout(ProviderError):
    """A connect, read, stream-idle or total-call timeout expired."""


class ProviderConnectionError(ProviderError):
    """The connection could not be made or was dropped."""


class ResponseInvalid(ProviderError):
    """The provider answered with a body or stream frame that cannot be decoded."""


class ResponseTooLarge(ResponseInvalid):
    """A response body or stream event grew past the configured limits (``configure(limits=...)``)."""


class InvalidObject(ResponseInvalid):
    """The model's answer is not valid JSON for the schema (``generate_object`` and friends).

    Attributes:
        text: The raw text the model produced.
        errors: The validation errors, one string each.
    """

    def __init__(self, message: str, *, text: str, errors: list[str], **kw: Any) -> None:
        self.text = text
        self.errors = errors
        super().__init__(message, **kw)


class ContentFiltered(ProviderError):
    """The provider refused to answer on content-safety grounds."""


class StreamError(ProviderError):
    """The provider reported an error inside a stream (an SSE ``error`` event and the like)."""


class AllModelsFailed(ProviderError):
    """Every model of a fallback list (or an alias) failed.

    Attributes:
        errors: Each attempt's error, in the order the models were tried.
    """

    def __init__(self, message: str, *, errors: list[SycophantError], **kw: Any) -> None:
        self.errors = errors
        super().__init__(message, **kw)


class StreamAborted(SycophantError):
    """The caller closed (or cancelled) the stream before it ended."""
