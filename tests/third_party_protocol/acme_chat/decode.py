"""Response decoding for ``acme_chat``: an Acme answer (or its usage and calls) to our types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import override

import sycophant_py as syc
from sycophant_py.wire import WireProtocol

if TYPE_CHECKING:
    from tests.third_party_protocol.acme_chat.stream import AcmeStream

__all__ = ["FINISH_REASONS", "Decoding", "decode_usage", "finish_of"]

FINISH_REASONS: Mapping[str, syc.FinishReason] = {
    "done": "stop",
    "cut": "length",
    "tools": "tool_use",
    "blocked": "content_filter",
}
"""Acme's ``stop`` values in the unified set (any other value is ``stop``)."""


def decode_usage(u: Mapping[str, Any]) -> syc.Usage:
    """Acme's counts are ours already (input excludes the cache)."""
    return syc.Usage(u["input"], u["output"], u.get("cache_read", 0), u.get("cache_write", 0))


def finish_of(table: Mapping[str, syc.FinishReason], raw: str, calls: bool) -> syc.FinishReason:
    """Acme's ``stop`` in the unified set (``stop`` with calls is ``tool_use``)."""
    reason = table.get(raw, "stop")
    return "tool_use" if reason == "stop" and calls else reason


class Decoding(WireProtocol["AcmeStream"]):
    """The response half of ``acme_chat``."""

    @override
    def decode_response(self, body: Any) -> syc.Response:
        calls = [syc.ToolCall.from_json(c["id"], c["name"], c["arguments"]) for c in body.get("calls", ())]
        parts: list[syc.Part] = [syc.TextPart(body["text"])] if body["text"] else []
        return syc.Response(
            finish_reason=finish_of(self.finish_reasons, body["stop"], bool(calls)),
            usage=decode_usage(body["usage"]),
            parts=[*parts, *calls],
            raw=body,
            id=body.get("id"),
            provider_finish_reason=body["stop"],
        )
