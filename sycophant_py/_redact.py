"""What a secret is and how it is masked: the one place that knows.

Three rules decide, and every display path applies all three:

1. **Names.** A field, dict key, header or attribute whose name says it holds a secret
   (:func:`is_secret_name`: ``api_key``, ``x-api-key``, ``authorization``, ``*_token``,
   ``*secret*``, ``password``, ``credentials``...; headers also by :func:`is_secret_header`) has
   its value masked, whatever the value looks like. A container under such a name is walked
   instead, so ``credentials={"region": ..., "api_key": ...}`` keeps its region.
2. **Known values.** Every secret the library resolves (credential resolution, token exchange,
   ``Credentials[...] = ...``) is remembered with :func:`remember`: O(1), at most
   ``_MAX_KNOWN`` values, oldest forgotten first, values shorter than ``_MIN_KNOWN`` characters
   ignored. Wherever a remembered value shows up in text it is masked, even without a known shape
   (a proxy echoing the key in its error body).
3. **Shapes.** Text that looks like a key is masked (:func:`redact_text`): OpenAI ``sk-…`` /
   ``sk-proj-…``, Anthropic ``sk-ant-…``, Google ``AIza…``, AWS ``AKIA…``/``ASIA…`` ids and the
   40-character secret next to one, GitHub ``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``/
   ``github_pat_``, JWTs, ``Bearer …`` / ``token …`` / ``Basic …``, ``name: value`` and
   ``name=value`` pairs whose name is a secret name, and ``key=`` style query params.

The masked form is :func:`mask`: ``***`` plus the last four characters for values of 16
characters or more, ``***`` alone for shorter ones.

Where it applies: the log processor (field names and values inside strings), hook payloads
(:func:`redact`, deep; only when hooks are registered), exception messages and bodies (at
construction), and the ``repr`` of public objects: configuration and credential holders
(``ModelInfo``, ``Credentials``, ``HttpRequest``) by all three rules, conversation data
(``Response``, ``Context``, ``Message``, parts, events) only in the ``repr`` text
(:func:`redacting_repr`): their data, ``.text`` and ``to_dict()`` are never changed.

Nothing here runs on a call's path unless logging is enabled, a hook is registered, an error is
built or a ``repr`` is asked for; :func:`remember` is the exception, a dict lookup per secret.
The patterns compile at first use, so importing this module costs nothing.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Mapping
from functools import cache, lru_cache
from types import FunctionType, MappingProxyType, MethodType, ModuleType
from typing import Any, TypeAlias, TypeVar

__all__ = [
    "SECRET_FIELDS",
    "forget_all",
    "is_secret_header",
    "is_secret_name",
    "mask",
    "redact",
    "redact_fields",
    "redact_text",
    "redacted_repr",
    "redacting_repr",
    "remember",
    "remember_credentials",
]

T = TypeVar("T")

SECRET_FIELDS = frozenset(
    {
        "api_key",
        "auth_token",
        "azure_ad_token",
        "token",
        "access_token",
        "refresh_token",
        "github_token",
        "copilot_token",
        "secret_access_key",
        "aws_secret_access_key",
        "session_token",
        "aws_session_token",
        "bearer_token",
        "client_secret",
        "password",
        "oauth_credentials",
        "service_account_info",
    }
)
"""Credential fields that hold the secret itself (credential resolution takes them as one unit)."""

# A name (lower case, '-' as '_', leading/trailing '_' stripped) ending in one of these words is a
# secret's name. ``max_tokens`` does not end in ``token`` and a thinking ``signature`` is data.
_NAME_RULE = (
    r"(?:^|_)(?:api_?key(?:_ref)?|apikey|subscription_key|access_key|access_key_id|secret_key|private_key"
    r"|secret|secret_access_key|client_secret|password|passwd|passphrase|token|access_token|refresh_token"
    r"|id_token|session_token|security_token|auth_token|bearer_token|github_token|copilot_token"
    r"|authorization|proxy_authorization|cookie|set_cookie|credential|credentials)$"
)
_HEADER_HINTS = ("auth", "key", "token", "secret", "cookie", "session")

_MAX_KNOWN = 64
_MIN_KNOWN = 8
_known: dict[str, None] = {}
_known_lock = threading.Lock()
_snapshot: tuple[str, ...] | None = ()

_MAX_DEPTH = 12


def mask(value: object) -> str:
    """Mask a secret for display: only the last four characters survive, for long values.

    Args:
        value: The secret (anything; it is shown through ``str``).

    Returns:
        ``***`` plus the last four characters when the value has 16 characters or more, else ``***``.
    """
    s = str(value)
    return f"***{s[-4:]}" if len(s) >= 16 else "***"


@cache
def _name_pattern() -> re.Pattern[str]:
    return re.compile(_NAME_RULE)


@lru_cache(maxsize=2048)
def is_secret_name(name: str) -> bool:
    """True when a field, key or attribute called ``name`` holds a secret (rule 1 above).

    Args:
        name: The name, in any case, with ``-`` or ``_`` separators.
    """
    n = name.lower().replace("-", "_").strip("_")
    return bool(n) and _name_pattern().search(n) is not None


@lru_cache(maxsize=512)
def is_secret_header(name: str) -> bool:
    """True when an HTTP header called ``name`` may carry a secret (a broader rule than for fields).

    Args:
        name: The header name, any case.
    """
    n = name.lower()
    return is_secret_name(n) or any(h in n for h in _HEADER_HINTS)


# -- rule 2: remembered values ----------------------------------------------------------------


def remember(secret: object) -> None:
    """Remember a secret value so it is masked wherever it shows up in text (O(1)).

    Values that are not strings, or shorter than ``_MIN_KNOWN`` characters, are ignored (masking a
    short value would mangle ordinary text). At most ``_MAX_KNOWN`` values are kept; the oldest is
    forgotten first. The values are never logged or shown.

    Args:
        secret: The secret.
    """
    global _snapshot
    if not isinstance(secret, str) or len(secret) < _MIN_KNOWN or secret in _known:
        return
    with _known_lock:
        if secret in _known:
            return
        if len(_known) >= _MAX_KNOWN:
            del _known[next(iter(_known))]
        _known[secret] = None
        _snapshot = None


def remember_credentials(credentials: Mapping[str, Any]) -> None:
    """Remember every secret-named value of a credentials mapping.

    Args:
        credentials: Resolved credentials (``api_key``, ``secret_access_key``...).
    """
    for k, v in credentials.items():
        if isinstance(v, str) and is_secret_name(k):
            remember(v)


def forget_all() -> None:
    """Forget every remembered value (for tests)."""
    global _snapshot
    with _known_lock:
        _known.clear()
        _snapshot = ()


def _known_values() -> tuple[str, ...]:
    global _snapshot
    snap = _snapshot
    if snap is None:
        with _known_lock:
            # Longest first, so a secret that contains another is masked whole.
            snap = _snapshot = tuple(sorted(_known, key=len, reverse=True))
    return snap


# -- rule 3: shapes ---------------------------------------------------------------------------

_SECRET_WORDS = r"api[_-]?key|apikey|[_-]key|secret|password|passwd|token|authorization|credentials?|cookie"
_LABEL_HINTS = ("key", "secret", "passw", "token", "authorization", "credential", "cookie")


# A shape: (pattern, group holding the secret (0: the whole match), hints, hints_in_lower_case).
# The pattern is tried only when one of the hints is in the text (a cheap pre-check).
_Shape: TypeAlias = tuple[str, int, tuple[str, ...], bool]
_AWS_IDS = ("AKIA", "ASIA", "ABIA", "ACCA")
_GITHUB = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
_SCHEMES = ("bearer", "token", "basic")
_SHAPES: tuple[_Shape, ...] = (
    # An AWS secret access key right after its access key id (a profile or env dump).
    (
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b[^A-Za-z0-9/+]{1,24}([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        1,
        _AWS_IDS,
        False,
    ),
    (r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:api|admin|oat)\d\d-)?[A-Za-z0-9_\-]{20,}", 0, ("sk-",), False),
    (r"\bAIza[0-9A-Za-z_\-]{30,}", 0, ("AIza",), False),
    (r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b", 0, _AWS_IDS, False),
    (r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})", 0, _GITHUB, False),
    (r"\beyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*", 0, ("eyJ",), False),
    (r"(?i)\b(?:bearer|token|basic)\s+((?=[A-Za-z\-._~+/]*\d)[A-Za-z0-9\-._~+/]{12,}=*)", 1, _SCHEMES, True),
    # ``name: value`` / ``name=value`` / ``"name": "value"`` where the name ends in a secret word.
    (rf"(?i)(?:{_SECRET_WORDS})[\"']?\s*[:=]\s*[\"']?(?!\*\*\*)([^\s\"',;&<>)}}\]]{{8,}})", 1, _LABEL_HINTS, True),
    (
        r"(?i)[?&](?:key|api[_-]?key|access_token|token|sig|signature|code)=(?!\*\*\*)([^&\s#\"'<>]{6,})",
        1,
        ("=",),
        False,
    ),
)


@cache
def _shapes() -> tuple[tuple[re.Pattern[str], int, tuple[str, ...], bool], ...]:
    return tuple((re.compile(pattern), group, hints, lower) for pattern, group, hints, lower in _SHAPES)


def _masker(group: int) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        if group == 0:
            return mask(m.group(0))
        start, end = m.start(group) - m.start(0), m.end(group) - m.start(0)
        whole = m.group(0)
        return whole[:start] + mask(m.group(group)) + whole[end:]

    return sub


def redact_text(text: str) -> str:
    """Mask every remembered secret and every recognisable key shape in ``text``.

    Args:
        text: Any text (a message, a body, a URL, a ``repr``).

    Returns:
        The text with secrets masked; the same object when nothing was found.
    """
    if len(text) < _MIN_KNOWN:
        return text
    out = text
    for value in _known_values():
        if value in out:
            out = out.replace(value, mask(value))
    low = out.lower()
    if _any_hint().search(low) is None:
        return text if out == text else out
    for pattern, group, hints, lower in _shapes():
        if _has_hint(low if lower else out, hints) and pattern.search(out):
            out = pattern.sub(_masker(group), out)
            low = out.lower()
    return text if out == text else out


def _has_hint(text: str, hints: tuple[str, ...]) -> bool:
    return any(h in text for h in hints)


@cache
def _any_hint() -> re.Pattern[str]:
    """One search of the lower-cased text for every shape's hints: most text has none."""
    hints = sorted({h.lower() for _, _, shape_hints, _ in _SHAPES for h in shape_hints}, key=len, reverse=True)
    return re.compile("|".join(re.escape(h) for h in hints))


# -- deep redaction ---------------------------------------------------------------------------


def redact(obj: T) -> T:
    """A copy of ``obj`` with every secret masked; ``obj`` itself when it holds none.

    Walks dicts and other mappings, lists, tuples, sets, dataclasses, objects with attributes and
    exceptions (up to a depth of ``_MAX_DEPTH``). Strings go through :func:`redact_text`; a value
    under a secret name is masked (a container under one is walked). Only what changed is copied,
    so a payload without secrets keeps its identity and costs one walk.

    Args:
        obj: Anything (a hook payload, a log field, a body).
    """
    result: T = _walk(obj, 0, set(), False)
    return result


def _walk(obj: Any, depth: int, seen: set[int], secret: bool, headers: bool = False) -> Any:
    if isinstance(obj, str):
        return _mask_scalar(obj) if secret else redact_text(obj)
    if isinstance(obj, (bytes, bytearray)):
        return _mask_scalar(obj) if secret else _redact_bytes(obj)
    if obj is None or isinstance(obj, (bool, int, float, type, ModuleType, FunctionType, MethodType)):
        return obj
    if depth > _MAX_DEPTH or id(obj) in seen:
        return obj
    seen.add(id(obj))
    try:
        if isinstance(obj, Mapping):
            return _walk_mapping(obj, depth, seen, headers)
        if isinstance(obj, (list, tuple, set, frozenset)):
            return _walk_sequence(obj, depth, seen)
        if isinstance(obj, BaseException):
            return _walk_exception(obj, depth, seen)
        return _walk_object(obj, depth, seen)
    finally:
        seen.discard(id(obj))


def _walk_named(value: Any, name: object, depth: int, seen: set[int], headers: bool = False) -> Any:
    """Walk a value found under ``name`` (a key or an attribute): the name may make it a secret."""
    if not isinstance(name, str):
        return _walk(value, depth + 1, seen, False)
    secret = is_secret_header(name) if headers else is_secret_name(name)
    return _walk(value, depth + 1, seen, secret, name.lower() == "headers")


def _mask_scalar(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return mask(value.decode("utf-8", "replace")) if value else value
    return mask(value) if value else value


def _redact_bytes(data: bytes | bytearray) -> bytes | bytearray:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    safe = redact_text(text)
    return data if safe is text else safe.encode("utf-8")


def _walk_mapping(obj: Mapping[Any, Any], depth: int, seen: set[int], headers: bool) -> Any:
    changed = False
    items: list[tuple[Any, Any]] = []
    for k, v in obj.items():
        nv = _walk_named(v, k, depth, seen, headers)
        changed = changed or nv is not v
        items.append((k, nv))
    if not changed:
        return obj
    if isinstance(obj, MappingProxyType):
        return MappingProxyType(dict(items))
    rebuild: Any = type(obj)
    try:
        return rebuild(items)
    except Exception:  # noqa: BLE001 - a mapping type that cannot be rebuilt from pairs becomes a dict
        return dict(items)


def _walk_sequence(obj: Any, depth: int, seen: set[int]) -> Any:
    items = [_walk(v, depth + 1, seen, False) for v in obj]
    if all(a is b for a, b in zip(items, obj, strict=True)):
        return obj
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*items)
    try:
        return type(obj)(items)
    except Exception:  # noqa: BLE001 - a sequence type that cannot be rebuilt becomes a list
        return items


def _attribute_names(obj: Any) -> list[str]:
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    names = list(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [n for n in dict.fromkeys(names) if not n.startswith("__")]


def _walk_object(obj: Any, depth: int, seen: set[int]) -> Any:
    if callable(obj) and not dataclasses.is_dataclass(obj):
        return obj
    changes: dict[str, Any] = {}
    for name in _attribute_names(obj):
        try:
            value = getattr(obj, name)
        except AttributeError:
            continue
        new = _walk_named(value, name, depth, seen)
        if new is not value:
            changes[name] = new
    return _copy_with(obj, changes) if changes else obj


def _copy_with(obj: Any, changes: Mapping[str, Any]) -> Any:
    import copy

    try:
        out = copy.copy(obj)
        for name, value in changes.items():
            object.__setattr__(out, name, value)
    except Exception:  # noqa: BLE001 - an object that cannot be copied is shown as its redacted repr
        return redact_text(repr(obj))
    return out


def _walk_exception(exc: BaseException, depth: int, seen: set[int]) -> Any:
    args = _walk(exc.args, depth + 1, seen, False)
    body = getattr(exc, "body", None)
    new_body = _walk(body, depth + 1, seen, False)
    message = getattr(exc, "message", None)
    new_message = redact_text(message) if isinstance(message, str) else message
    if args is exc.args and new_body is body and new_message is message:
        return exc
    import copy

    try:
        out = copy.copy(exc)
        out.args = args
        if new_body is not body:
            object.__setattr__(out, "body", new_body)
        if new_message is not message:
            object.__setattr__(out, "message", new_message)
    except Exception:  # noqa: BLE001 - an exception that cannot be copied is shown as its redacted text
        return redact_text(f"{type(exc).__name__}: {exc}")
    return out


# -- fields, reprs ----------------------------------------------------------------------------


def redact_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Redact a flat mapping of log fields: secret names masked, values deep-redacted.

    A value of another type whose ``repr`` would show a secret is replaced by its redacted ``repr``.

    Args:
        fields: The event dict (``event`` and the bound and given fields).
    """
    out: dict[str, Any] = {}
    for k, v in fields.items():
        if is_secret_name(k) and v:
            out[k] = mask(v) if isinstance(v, (str, bytes, int)) else redact(v)
            continue
        new = redact(v)
        if new is v and not isinstance(v, (str, int, float, bool, type(None))):
            text = repr(v)
            safe = redact_text(text)
            new = v if safe is text else safe
        out[k] = new
    return out


def redacted_repr(obj: Any) -> str:
    """A dataclass-style ``repr`` of ``obj`` with each field redacted (all three rules).

    Args:
        obj: A dataclass instance.
    """
    shown = []
    for f in dataclasses.fields(obj):
        if f.repr:
            value = getattr(obj, f.name)
            safe = _walk_named(value, f.name, -1, set())
            shown.append(f"{f.name}={safe!r}")
    return f"{type(obj).__name__}({', '.join(shown)})"


def redacting_repr(cls: type[T]) -> type[T]:
    """Class decorator: the class's ``repr`` text goes through :func:`redact_text`.

    For objects holding conversation data, whose values are never changed: only what a ``repr``
    shows (in a log line, a traceback, a debugger) is masked. Apply it above ``@dataclass``.

    Args:
        cls: The class.
    """
    plain = cls.__repr__

    def __repr__(self: Any) -> str:  # noqa: N807 - installed as the class's __repr__
        return redact_text(plain(self))

    __repr__.__qualname__ = f"{cls.__qualname__}.__repr__"
    cls.__repr__ = __repr__  # type: ignore[method-assign]  # installed on the decorated class, on purpose
    return cls
