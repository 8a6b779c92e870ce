"""Contract dialect for ``anthropic_vertex``: Anthropic's replies, Vertex's request envelope.

Replies are exactly Anthropic's (the dialect of ``anthropic_messages``). A request is checked for
Vertex's envelope (no ``model``, ``anthropic_version: vertex-2023-10-16``) and then, with the model
put back, against the official SDK's Messages types, as for Anthropic. The scripted provider needs
no Google token (``auth_strategy="none"``): the auth is tested against a fake token endpoint in
``tests/wire/test_anthropic_vertex.py``.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from tests.contract.dialects.anthropic_messages import AnthropicDialect, validate_request


class AnthropicVertexDialect(AnthropicDialect):
    protocol = "anthropic_vertex"

    @override
    def provider(self, url: str) -> dict[str, Any]:
        return {**super().provider(url), "auth_strategy": "none"}

    @override
    def validate(self, body: dict[str, Any]) -> None:
        assert "model" not in body, "Vertex takes the model from the URL"
        rest = dict(body)
        assert rest.pop("anthropic_version") == "vertex-2023-10-16"
        validate_request({"model": self.model, **rest})


DIALECT = AnthropicVertexDialect()
