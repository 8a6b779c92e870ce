"""Values that may name environment variables (``api_key`` and header values of registrations).

The seeds' form works: a value that looks like an env var name (``MY_API_KEY``, ``PROXYKEY``:
upper case, digits and underscores, two characters or more) resolves to that variable; if it is
unset that is an error naming it, and the name is never sent as a key. Explicit forms:
``"env:NAME"`` always reads ``NAME``; ``"literal:TEXT"`` always sends ``TEXT`` as it is. Anything else is a literal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from sycophant_py._exceptions import InvalidError

__all__ = ["resolve_header_values", "resolve_value"]

_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def resolve_value(value: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """Resolve one value per the rules above.

    Raises:
        InvalidError: the value names an env var that is not set.
    """
    env = os.environ if environ is None else environ
    if value.startswith("literal:"):
        return value[len("literal:") :]
    if value.startswith("env:"):
        name = value[len("env:") :]
        if not env.get(name):
            raise InvalidError(f"{what}: environment variable {name} is not set")
        return env[name]
    if _ENV_NAME.match(value) and len(value) >= 2:
        resolved = env.get(value)
        if not resolved:
            raise InvalidError(
                f"{what}: {value!r} looks like an environment variable name but it is not set "
                f"(use 'literal:{value}' to send it as it is)"
            )
        return resolved
    return value


def resolve_header_values(headers: Mapping[str, str]) -> dict[str, str]:
    """Resolve every header value (names are lower-cased)."""
    return {k.lower(): resolve_value(v, f"header {k}") for k, v in headers.items()}
