"""``sycophant login``, ``logout`` and ``keys set|list|remove``: the per-user credential store.

Keys are never printed whole: ``keys list`` shows ``***`` and the last four characters (for keys
of 16 characters or more; shorter ones show only ``***``).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from sycophant_py._cli._out import CliError, Out, short_unknown
from sycophant_py._redact import mask

__all__ = ["describe_entry", "keys", "login", "logout"]


def _canonical(provider: str) -> str:
    from sycophant_py._catalog import canonical_provider

    return canonical_provider(provider)


def _store() -> Any:
    from sycophant_py._store import CredentialStore

    return CredentialStore()


def describe_entry(entry: dict[str, Any]) -> str:
    """A stored entry for display: the masked key, an OAuth login's expiry, or a settings entry's field names."""
    kind = entry.get("type")
    if kind == "api_key":
        return f"api_key {mask(entry.get('key', ''))}"
    if kind == "oauth":
        expires = entry.get("expires")
        if not isinstance(expires, (int, float)):
            return "oauth login (no expiry)"
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(expires)))
        state = "expired" if expires < time.time() else "expires"
        return f"oauth login ({state} {when}; refreshed when needed)"
    if kind == "settings":
        fields = ", ".join(sorted(k for k in entry if k != "type"))
        return f"settings ({fields})" if fields else "settings"
    return str(kind)


@click.command()
@click.argument("provider")
def login(provider: str) -> int:
    """Log in to PROVIDER (an OAuth device or browser flow) and store the result.

    \b
    sycophant login github-copilot      # GitHub's device flow: a code to enter on github.com
    sycophant login google-vertex       # a service-account key file (or ADC), project and location
    """
    import sycophant_py as syc

    out = Out()
    pid = _canonical(provider)
    creds = syc.login(pid, syc.LoginCallbacks())
    what = "logged in" if creds is not None else "settings saved"
    out.note(f"{pid}: {what}; stored in {_store().path}", style="green")
    return 0


@click.command()
@click.argument("provider")
def logout(provider: str) -> int:
    """Remove PROVIDER's stored login, settings or API key."""
    import sycophant_py as syc

    pid = _canonical(provider)
    if not syc.logout(pid):
        raise CliError(f"nothing is stored for {pid!r} in {_store().path}")
    Out().note(f"{pid}: logged out (removed from {_store().path})", style="green")
    return 0


@click.group()
def keys() -> None:
    """Store, list and remove API keys in the per-user credential store."""


def _read_key(pid: str) -> str:
    """The key from a hidden prompt on a terminal, else the whole of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        return str(click.prompt(f"API key for {pid}", hide_input=True, err=True))
    text = sys.stdin.read() if sys.stdin is not None else ""
    return text.strip()


def _check_known(provider: str, pid: str) -> None:
    import sycophant_py as syc
    from sycophant_py._exceptions import UnknownProvider

    known = syc.providers()
    if pid not in known:
        message = short_unknown(UnknownProvider(provider, known), known, "providers")
        raise CliError(f"{message}; use --force to store a key for it anyway", 2)


@keys.command("set")
@click.argument("provider")
@click.argument("key", required=False)
@click.option("--force", is_flag=True, help="Store the key even for a provider this program does not know.")
def keys_set(provider: str, key: str | None, force: bool) -> int:
    """Store an API key for PROVIDER (read from stdin, or a hidden prompt, when KEY is not given).

    \b
    sycophant keys set openai                      # asks for the key without echoing it
    printf %s "$KEY" | sycophant keys set anthropic
    """
    pid = _canonical(provider)
    if not force:
        _check_known(provider, pid)
    value = key if key is not None else _read_key(pid)
    if "\n" in value.strip():
        raise CliError("the key must be one line", 2)
    store = _store()
    store.set_api_key(pid, value)
    Out().note(f"{pid}: stored api_key {mask(value.strip())} in {store.path}", style="green")
    return 0


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {provider, type, detail}.")
def keys_list(as_json: bool) -> int:
    """List what the credential store holds (keys masked)."""
    out = Out()
    store = _store()
    rows = []
    for pid, entry in sorted(store.read().items()):
        kind, _, detail = describe_entry(entry).partition(" ")
        rows.append((pid, kind, detail))
    if as_json:
        out.json([{"provider": pid, "type": kind, "detail": detail} for pid, kind, detail in rows])
    elif rows:
        out.table(("provider", "type", "detail"), rows)
    else:
        out.note(f"nothing stored in {store.path}")
    return 0


@keys.command("remove")
@click.argument("provider")
def keys_remove(provider: str) -> int:
    """Remove PROVIDER's stored API key (an OAuth login is removed by `sycophant logout`)."""
    pid = _canonical(provider)
    store = _store()
    entry = store.get(pid)
    if entry is None:
        raise CliError(f"no key is stored for {pid!r} in {store.path}")
    if entry.get("type") != "api_key":
        raise CliError(f"{pid!r} holds {describe_entry(entry)}, not an API key: use `sycophant logout {pid}`", 2)
    store.remove(pid)
    Out().note(f"{pid}: removed the API key from {store.path}", style="green")
    return 0
