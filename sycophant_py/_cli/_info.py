"""``sycophant models`` and ``sycophant providers``: what the catalog, the config and registrations know."""

from __future__ import annotations

from typing import Any

import click

from sycophant_py._cli._out import Out
from sycophant_py._models import ModelInfo

__all__ = ["available", "available_providers", "base_url_of", "models", "provider_summary", "providers"]


def available(provider: str) -> bool:
    """``syc.available(provider)``: its credentials resolve, or its (local) server answers."""
    import sycophant_py as syc

    return syc.available(provider)


def available_providers() -> list[str]:
    """``syc.providers(available=True)``."""
    import sycophant_py as syc

    return syc.providers(available=True)


def base_url_of(provider: str) -> str | None:
    """Where calls to ``provider`` go (its base URL after config and environment), or None when unknown."""
    try:
        import sycophant_py as syc
        from sycophant_py._credentials import resolve_credentials

        model = syc.get_model(f"{provider}:any")
        return str(resolve_credentials(model).get("base_url") or model.base_url) or None
    except Exception:  # noqa: BLE001 - only shown, never needed
        return None


def _price(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _model_json(m: ModelInfo) -> dict[str, Any]:
    return {
        "spec": m.spec,
        "provider": m.provider,
        "id": m.id,
        "name": m.name,
        "api": m.api,
        "context_window": m.context_window,
        "max_tokens": m.max_tokens,
        "cost": None
        if m.cost is None
        else {
            "input": m.cost.input,
            "output": m.cost.output,
            "cache_read": m.cost.cache_read,
            "cache_write": m.cost.cache_write,
        },
        "reasoning": m.reasoning,
        "input": list(m.input),
        "capabilities": dict(m.capabilities),
        "local": m.local,
    }


@click.command()
@click.option("-p", "--provider", help="Only this provider's models.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (spec, name, limits, prices, capabilities).")
def models(provider: str | None, as_json: bool) -> int:
    """List the known models (prices in USD per million tokens).

    \b
    sycophant models --provider anthropic
    sycophant models --json | jq -r '.[] | select(.reasoning) | .spec'
    """
    import sycophant_py as syc

    out = Out()
    found = syc.models(provider)
    if as_json:
        out.json([_model_json(m) for m in found])
        return 0
    rows = [
        (
            m.spec,
            m.name,
            m.context_window or "",
            _price(m.cost.input if m.cost else None),
            _price(m.cost.output if m.cost else None),
        )
        for m in found
    ]
    out.table(("model", "name", "context", "$ in/M", "$ out/M"), rows)
    return 0


def provider_summary(pid: str) -> dict[str, Any]:
    """One provider's row for display: name, base URL, auth mode, key variables, model count."""
    from sycophant_py import _catalog

    row = _catalog.provider_row(pid) or {}
    return {
        "id": pid,
        "name": row.get("name") or pid,
        "base_url": row.get("base_url") or "",
        "auth": row.get("auth") or "required",
        "env": list(row.get("env") or []),
        "local": bool(row.get("local")),
        "models": len(row.get("models") or {}),
    }


@click.command()
@click.option("--available", "only_available", is_flag=True, help="Only providers with a key or a reachable server.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (id, name, base_url, auth, env, models).")
def providers(only_available: bool, as_json: bool) -> int:
    """List the known providers (catalog, config file and registrations).

    \b
    sycophant providers --available
    """
    import sycophant_py as syc

    out = Out()
    ids = available_providers() if only_available else syc.providers()
    rows = [provider_summary(pid) for pid in ids]
    if as_json:
        out.json(rows)
        return 0
    table = [(r["id"], r["name"], r["auth"], " ".join(r["env"]), r["models"], r["base_url"]) for r in rows]
    out.table(("provider", "name", "auth", "key variables", "models", "base url"), table)
    return 0
