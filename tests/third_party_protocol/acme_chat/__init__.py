"""Acme Chat: a made-up chat API, written outside the library with the protocol template.

Nothing in ``sycophant_py`` knows it: the package follows the template of the built-in protocols
(``docs/architecture.md``, "Adding a protocol") using only the public namespaces
(``sycophant_py``, ``sycophant_py.wire``), and becomes usable with one call,
``syc.register_protocol("chat", "acme_chat", AcmeChat)``.

The API: ``POST {base}/chat`` with ``{"model", "messages", "tools"?, "response_schema"?,
"temperature"?, "max_tokens"?, "stream"?}``. A message is ``{"role", "content"}`` plus ``images``
(``{"data", "media_type"}`` or ``{"url"}``), ``calls`` (``{"id", "name", "arguments"}``, arguments as
JSON text) on an assistant message and ``call_id`` on a ``tool`` message. The answer is
``{"id", "text", "calls", "stop", "usage": {"input", "output", "cache_read", "cache_write"}}``;
streamed, SSE events ``{"type": "text", "delta"}``, ``{"type": "call", "id", "name"?, "delta"}`` and
a last ``{"type": "end", "stop", "usage"}``. Errors are ``{"error": {"message", "type"}}``.
"""

from __future__ import annotations

from pydantic import Field

from sycophant_py.wire import SharedParams
from tests.third_party_protocol.acme_chat.decode import FINISH_REASONS, Decoding
from tests.third_party_protocol.acme_chat.encode import Encoding
from tests.third_party_protocol.acme_chat.stream import AcmeStream, Streaming

__all__ = ["AcmeChat", "AcmeParams", "AcmeStream"]


class AcmeParams(SharedParams):
    """Params of ``acme_chat`` beyond the shared ones."""

    safety_level: int | None = Field(None, ge=0, le=3)
    """Acme's content filter strength (0 off, 3 strictest)."""


class AcmeChat(Encoding, Decoding, Streaming):
    """The ``acme_chat`` wire protocol: its descriptor over the encode / decode / stream halves."""

    name = "acme_chat"
    aliases = ("acme-chat",)
    path = "/chat"
    params = AcmeParams
    finish_reasons = FINISH_REASONS
    models_path = "/models"
