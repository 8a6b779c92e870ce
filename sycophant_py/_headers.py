"""Values that may name environment variables (``api_key`` and header values of registrations).

The seeds' form works: a value that looks like an env var name (``MY_API_KEY``, ``PROXYKEY``:
upper case, digits and underscores, two characters or more) resolves to that variable; if it is
unset that is an error naming it, and the name is never sent as a key. Explicit forms:
``"env:NAME"`` always reads ``NAME``; ``"literal:TEXT"`` always sends ``TEXT`` as it is. Anything else is a literal.

An upper-case key (``ABCDEF0123456789ABCDEF0123456789``) also has the shape of a name, so the
"not set" error never shows a value that may be a key: it names the variable only when every
``_``-separated part of it is at most 16 characters long with at most 3 digits (``MY_PROXY_KEY``,
``AZURE_OPENAI_API_KEY_2``); anything else is shown masked to its last four characters.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from sycophant_py._exceptions import InvalidError
from sycophant_py._redact import mask

__all__ = ["resolve_header_values", "resolve_value", "shown_name"]

_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_MAX_PART = 16
_MAX_DIGITS = 3


def shown_name(value: str) -> str:
    """How an env var name appears in an error: as it is when it reads like a name, else masked.

    A part (between ``_``) longer than 16 characters or with more than 3 digits looks random, so
    the value may be a key written in capitals: only its last four characters are shown.
    """
    parts = value.split("_")
    if all(len(p) <= _MAX_PART and sum(c.isdigit() for c in p) <= _MAX_DIGITS for p in parts):
        return value
    return f"{mask(value)} (masked: it may be a key)"


def resolve_value(value: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """Resolve one value per the rules above.

    Args:
        value: The value as configured (``"NAME"``, ``"env:NAME"``, ``"literal:TEXT"`` or a literal).
        what: What the value is for, named in the error (``api_key of provider 'x'``).
        environ: The environment (default ``os.environ``).

    Raises:
        InvalidError: the value names an env var that is not set (the name is masked when it may be
            a key; see the module docstring).
    """
    env = os.environ if environ is None else environ
    if value.startswith("literal:"):
        return value[len("literal:") :]
    if value.startswith("env:"):
        name = value[len("env:") :]
        if not env.get(name):
            raise InvalidError(f"{what}: environment variable {shown_name(name)} is not set")
        return env[name]
    if _ENV_NAME.match(value) and len(value) >= 2:
        resolved = env.get(value)
        if not resolved:
            raise InvalidError(
                f"{what}: {shown_name(value)} looks like an environment variable name but it is not set "
                "(prefix the value with 'literal:' to send it as it is)"
            )
        return resolved
    return value


def resolve_header_values(headers: Mapping[str, str]) -> dict[str, str]:
    """Resolve every header value (names are lower-cased)."""
    return {k.lower(): resolve_value(v, f"header {k}") for k, v in headers.items()}
