"""``sycophant doctor``: which config file and credential store are in use, where each provider's key
comes from (per layer, masked), and which local servers answer.

The credential layers shown are those ``resolve_credentials`` consults from the shell: the config
file, the credential store and the environment (first match wins, in that order). Each local
server is probed with ``syc.available`` in its own thread; a probe that has not answered within
``PROBE_SECONDS`` is reported as not answering (the command never waits longer).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import click

from sycophant_py._cli._info import available, base_url_of
from sycophant_py._cli._out import Out, one_line
from sycophant_py._redact import SECRET_FIELDS, mask

__all__ = ["LOCAL_SERVERS", "PROBE_SECONDS", "doctor", "probe_local"]

LOCAL_SERVERS = ("ollama", "vllm", "lmstudio", "llamacpp")
"""The local servers ``doctor`` probes."""
PROBE_SECONDS = 1.0
"""How long ``doctor`` waits for the local-server probes (they run at the same time)."""

_SECRETS = SECRET_FIELDS | {"access_key_id", "aws_access_key_id"}


def _config_report() -> dict[str, Any]:
    from sycophant_py import _config
    from sycophant_py._exceptions import InvalidConfig

    path = _config.config_path()
    report: dict[str, Any] = {
        "path": str(path),
        "from_env": bool(os.environ.get("SYCOPHANT_CONFIG")),
        "exists": path.is_file(),
        "ok": True,
        "error": None,
    }
    try:
        _config.settings()
    except InvalidConfig as exc:
        report.update(ok=False, error=one_line(exc))
    return report


def _store_report() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    from sycophant_py._exceptions import CredentialStoreError
    from sycophant_py._store import CredentialStore

    store = CredentialStore()
    report: dict[str, Any] = {"path": str(store.path), "exists": store.path.is_file(), "mode": None, "ok": True}
    report["error"] = None
    entries: dict[str, dict[str, Any]] = {}
    if report["exists"]:
        report["mode"] = f"{store.path.stat().st_mode & 0o777:04o}"
        try:
            entries = store.read()
        except CredentialStoreError as exc:
            report.update(ok=False, error=one_line(exc))
    report["entries"] = len(entries)
    return report, entries


def _secret_env(row: Mapping[str, Any]) -> list[str]:
    """The environment variables that can hold a provider's secret (its key, or a secret setting)."""
    names = [str(v) for v in row.get("env") or ()]
    for field, env in (row.get("settings_env") or {}).items():
        if field in _SECRETS:
            names.extend([env] if isinstance(env, str) else [str(v) for v in env])
    return names


def _relevant(
    rows: Mapping[str, Mapping[str, Any]], entries: Mapping[str, Any], settings: Any, environ: Mapping[str, str]
) -> list[str]:
    """Providers worth a line: configured, stored, or with a key variable set."""
    from sycophant_py._catalog import canonical_provider

    found = set(settings.providers) | set(entries)
    found |= {canonical_provider(n) for n in settings.custom_providers}
    found |= {str(i.get("name")) for i in settings.instances if i.get("name")}
    found |= {pid for pid, row in rows.items() if any(environ.get(v) for v in _secret_env(row))}
    return sorted(found)


def _sources(pid: str, row: Mapping[str, Any], entry: Mapping[str, Any] | None, settings: Any) -> list[dict[str, Any]]:
    """Each layer's secret for a provider, masked, in precedence order (config, store, env)."""
    from sycophant_py._cli._accounts import describe_entry

    cfg: dict[str, Any] = {}
    for inst in settings.instances:
        if inst.get("name") == pid:
            cfg.update((inst.get("config") or {}).items())
    cfg.update(settings.providers.get(pid, {}))
    out: list[dict[str, Any]] = [
        {"layer": "config", "what": k, "value": mask(v)} for k, v in sorted(cfg.items()) if k in _SECRETS and v
    ]
    if entry is not None:
        kind, _, detail = describe_entry(dict(entry)).partition(" ")
        out.append({"layer": "store", "what": kind, "value": detail, "secret": kind in ("api_key", "oauth")})
    out.extend(
        {"layer": "env", "what": var, "value": mask(os.environ[var])} for var in _secret_env(row) if os.environ.get(var)
    )
    return out


def _credentials_report(entries: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    from sycophant_py import _catalog, _config
    from sycophant_py._oauth import login_providers

    settings = _config.settings()
    rows = _catalog.provider_rows()
    logins = set(login_providers())
    report = []
    for pid in _relevant(rows, entries, settings, os.environ):
        row = rows.get(pid) or {}
        sources = _sources(pid, row, entries.get(pid), settings)
        secret = [s.pop("secret", True) for s in sources]
        used = next((s for s, holds in zip(sources, secret, strict=True) if holds), None)
        if used is not None:
            used["used"] = True
        auth = str(row.get("auth") or "required")
        if used is None and auth == "required":
            keys = " or ".join(row.get("env") or ()) or "a key in the config file"
            how = f"sycophant login {pid}" if pid in logins else f"sycophant keys set {pid}"
            status = f"missing: set {keys} or run `{how}`"
        else:
            status = "no key needed" if auth == "none" else ("ok" if used else "no key (optional)")
        report.append({"provider": pid, "auth": auth, "status": status, "sources": sources})
    return report


def probe_local(names: tuple[str, ...] = LOCAL_SERVERS, seconds: float = PROBE_SECONDS) -> list[dict[str, Any]]:
    """Probe local servers at once with ``syc.available``; a probe still running after ``seconds`` counts as down."""
    results: dict[str, Any] = {}

    def probe(name: str) -> None:
        try:
            results[name] = available(name)
        except Exception as exc:  # noqa: BLE001 - shown as the probe's error
            results[name] = exc

    threads = [threading.Thread(target=probe, args=(n,), name=f"sycophant-probe-{n}", daemon=True) for n in names]
    for t in threads:
        t.start()
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    report = []
    for name in names:
        item: dict[str, Any] = {"name": name, "base_url": base_url_of(name), "reachable": False, "error": None}
        result = results.get(name)
        if name not in results:
            item["error"] = f"no answer within {seconds:g} s"
        elif isinstance(result, Exception):
            item["reachable"] = None  # unknown: the probe itself failed
            item["error"] = one_line(f"probe failed: {type(result).__name__}: {result}")
        else:
            item["reachable"] = bool(result)
        report.append(item)
    return report


def _print(out: Out, report: Mapping[str, Any]) -> None:
    cfg, store = report["config"], report["store"]
    out.line(f"sycophant_py {report['version']} (Python {report['python']})", "bold")
    state = "ok" if cfg["exists"] else "not found (built-in defaults apply)"
    where = " (from SYCOPHANT_CONFIG)" if cfg["from_env"] else ""
    out.line(
        f"config: {cfg['path']}{where}: {state if cfg['ok'] else 'error: ' + cfg['error']}",
        None if cfg["ok"] else "red",
    )
    if store["error"]:
        out.line(f"store: {store['path']}: error: {store['error']}", "red")
    elif store["exists"]:
        warn = "" if store["mode"] == "0600" else " (expected 0600)"
        out.line(
            f"store: {store['path']}: {store['entries']} entries, mode {store['mode']}{warn}",
            "yellow" if warn else None,
        )
    else:
        out.line(f"store: {store['path']}: not created yet")
    out.line("credentials:", "bold")
    if report["credentials"] is None:
        out.line("  skipped: fix the config file first", "yellow")
    for item in report["credentials"] or ():
        parts = [
            f"{s['layer']} {s['what']} {s['value']}" + (" (used)" if s.get("used") else "") for s in item["sources"]
        ]
        text = f"  {item['provider']}: {item['status']}" + ("; " + "; ".join(parts) if parts else "")
        out.line(text, "red" if item["status"].startswith("missing") else None)
    out.line("local servers:", "bold")
    for srv in report["local_servers"]:
        if srv["reachable"] is None:
            state = srv["error"]
        else:
            state = (
                "reachable" if srv["reachable"] else f"not reachable{' (' + srv['error'] + ')' if srv['error'] else ''}"
            )
        out.line(f"  {srv['name']}: {srv['base_url'] or '?'}: {state}", "green" if srv["reachable"] else "dim")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def doctor(as_json: bool) -> int:
    """Check the setup: config file, credential store, where each key comes from, local servers.

    Exits with 1 when the config file or the credential store cannot be read.
    """
    from sycophant_py import __version__

    out = Out()
    config = _config_report()
    store, entries = _store_report()
    report: dict[str, Any] = {
        "version": __version__,
        "python": sys.version.split()[0],
        "config": config,
        "store": store,
        "credentials": _credentials_report(entries) if config["ok"] else None,
        "local_servers": probe_local() if config["ok"] else [],
    }
    if as_json:
        out.json(report)
    else:
        _print(out, report)
    return 0 if config["ok"] and store["ok"] else 1
