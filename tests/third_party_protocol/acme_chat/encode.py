"""Request encoding for ``acme_chat``: our messages, tools and params to an Acme body."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typing_extensions import override

import sycophant_py as syc
from sycophant_py.wire import Request, WireProtocol, prepare_history

if TYPE_CHECKING:
    from tests.third_party_protocol.acme_chat.stream import AcmeStream

__all__ = ["Encoding"]


def _image(part: syc.ImagePart) -> dict[str, str]:
    if part.data is not None:
        return {"data": base64.b64encode(part.data).decode("ascii"), "media_type": part.media_type}
    return {"url": str(part.url)}


def _map_message(msg: syc.Message) -> dict[str, Any]:
    role = "tool" if msg.role == "tool_result" else msg.role
    out: dict[str, Any] = {"role": role, "content": msg.text}
    for part in msg.parts:
        if isinstance(part, syc.ImagePart):
            out.setdefault("images", []).append(_image(part))
        elif isinstance(part, (syc.AudioPart, syc.DocumentPart)):
            raise syc.UnsupportedInput(f"acme_chat takes text and images, not {part.kind}", kind=part.kind)
    calls = [{"id": c.id, "name": c.name, "arguments": c.arguments_json or "{}"} for c in msg.tool_calls]
    if calls:
        out["calls"] = calls
    if msg.tool_call_id is not None:
        out["call_id"] = msg.tool_call_id
    return out


class Encoding(WireProtocol["AcmeStream"]):
    """The request half of ``acme_chat``."""

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        params = request.params
        messages = prepare_history(request, self.handoff_rules(request.model))
        body: dict[str, Any] = {"model": request.model.id, "messages": [_map_message(m) for m in messages]}
        for key in ("temperature", "max_tokens", "safety_level"):
            if key in params:
                body[key] = params[key]
        if request.tools:
            body["tools"] = self.encode_tools(request.tools)
        if request.response_schema is not None:
            body.update(self.encode_response_schema(request.response_schema, request.schema_name))
        if request.stream:
            body["stream"] = True
        return body

    @override
    def encode_tools(self, tools: Sequence[syc.Tool]) -> list[dict[str, Any]]:
        return [{"name": t.name, "description": t.description, "parameters": t.json_schema()} for t in tools]

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        return {"response_schema": dict(schema)}
