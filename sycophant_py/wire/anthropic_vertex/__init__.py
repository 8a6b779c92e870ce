"""Anthropic Messages on Google Vertex AI (``:rawPredict`` / ``:streamRawPredict``).

Vertex serves Claude with the Messages API behind its own endpoints: the provider's base URL ends in
``/publishers/anthropic`` (``https://{location}-aiplatform.googleapis.com/v1/projects/{project}/
locations/{location}/publishers/anthropic``), and the paths are ``/models/{model}:rawPredict`` and,
for a stream, ``/models/{model}:streamRawPredict``. The body is the Messages body without ``model``
(the URL names it) and with ``"anthropic_version": "vertex-2023-10-16"`` (instead of the
``anthropic-version`` header); responses, streams and errors are Anthropic's. The ``google_vertex``
auth strategy supplies the OAuth token and the ``project`` / ``location`` URL values.

Everything else is ``anthropic_messages``: this package only declares what differs (the descriptor,
the paths and the body's envelope) and reuses its encoder, decoder and stream decoder. It is the
smallest complete example of the protocol template (``docs/architecture.md``): a protocol that
builds on another needs no ``encode`` / ``decode`` / ``stream`` modules of its own.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from sycophant_py.wire._base import Request
from sycophant_py.wire.anthropic_messages import AnthropicMessages

__all__ = ["VERTEX_ANTHROPIC_VERSION", "AnthropicVertex"]

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
"""The ``anthropic_version`` Vertex AI takes in the body."""


class AnthropicVertex(AnthropicMessages):
    """The ``anthropic_vertex`` wire protocol: Anthropic Messages on Vertex AI (see the package docstring)."""

    name = "anthropic_vertex"
    default_auth = "google_vertex"
    models_path = None  # Vertex lists no models through this endpoint

    @override
    def resolve_base_url(self, base_url: str) -> str:
        """The catalog's ``.../publishers/anthropic`` URL, as it is (no ``/v1`` to strip)."""
        return base_url

    @override
    def request_path(self, request: Request) -> str:
        return "/models/{model}:streamRawPredict" if request.stream else "/models/{model}:rawPredict"

    @override
    def request_headers(self, request: Request) -> dict[str, str]:
        """``anthropic-beta`` from the ``anthropic_beta`` param (the version travels in the body)."""
        headers = super().request_headers(request)
        headers.pop("anthropic-version", None)
        return headers

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The Messages body without ``model`` and with Vertex's ``anthropic_version``."""
        body = super().encode_request(request)
        body.pop("model", None)
        return {"anthropic_version": VERTEX_ANTHROPIC_VERSION, **body}
