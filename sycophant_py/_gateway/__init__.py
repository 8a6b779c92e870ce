"""The gateway: a local daemon any OpenAI- or Anthropic-SDK application can point at.

It serves ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` (OpenAI's shapes),
``POST /v1/messages`` (Anthropic's), ``GET /v1/models`` and ``GET /healthz``, and answers each
request with any configured model (``provider:model``, an alias, or a fallback list) through the
library's own pipeline. It is a thin adapter (STYLE P16): the served dialects in ``wire``
translate, ``_app`` routes, checks keys and limits, relays streams and cancels on disconnect, and
``_server`` runs it under uvicorn. See ``docs/gateway.md``.

``create_app()`` needs the ``server`` extra (Starlette); ``serve()`` and ``main()`` also need
uvicorn: ``pip install "sycophant_py[server]"``. Importing this package needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sycophant_py._gateway._server import main, require_server, serve

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["create_app", "main", "serve"]


def create_app(**settings: Any) -> Starlette:
    """The gateway's ASGI app (see :func:`sycophant_py._gateway._app.create_app` for the settings).

    Raises:
        ImportError: the server extra is not installed.
    """
    require_server()
    from sycophant_py._gateway._app import create_app as build

    return build(**settings)
