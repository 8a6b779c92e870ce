"""Serving OpenAI embeddings: the reverse of ``openai_embed`` (pure; see ``wire/_serve``).

Requests (``POST /v1/embeddings``): ``input`` is one string or a list of strings; ``dimensions``
and ``input_type`` are passed on. ``encoding_format`` shapes only the answer (the library always
gets floats from the upstream): ``float`` gives lists of numbers, ``base64`` little-endian float32
bytes, as OpenAI sends them (the OpenAI SDK asks for ``base64`` by default). ``user`` is ignored.
Token-id inputs (lists of integers) are refused with a 400: the gateway cannot turn them back into
text for an arbitrary upstream model.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._types import EmbeddingResponse
from sycophant_py.wire._serve import EmbedDialect, ErrorInfo, ServedEmbed, ServeError
from sycophant_py.wire.openai_chat.serve import encode_error

__all__ = ["DIALECT", "OpenAIEmbedServe"]


def _inputs(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return list(raw)
    if isinstance(raw, list) and raw and all(isinstance(x, (int, list)) for x in raw):
        raise ServeError("token-id inputs are not supported by this gateway: send text", param="input")
    raise ServeError("'input' must be a string or a non-empty list of strings", param="input")


def _encoded(vector: list[float], fmt: str) -> list[float] | str:
    if fmt != "base64":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


class OpenAIEmbedServe(EmbedDialect):
    """The OpenAI embeddings API, served (see the module docstring)."""

    name = "openai_embed"
    paths = ("/v1/embeddings", "/embeddings")

    @override
    def decode_request(self, body: Any) -> ServedEmbed:
        """The caller's request in our terms.

        Raises:
            ServeError: no model, bad inputs, or an unknown ``encoding_format``.
        """
        if not isinstance(body, Mapping):
            raise ServeError("the request body must be a JSON object")
        model = body.get("model")
        if not (isinstance(model, str) and model) and not (
            isinstance(model, list) and model and all(isinstance(m, str) for m in model)
        ):
            raise ServeError("'model' must be a 'provider:model' spec, an alias or a list of specs", param="model")
        fmt = body.get("encoding_format") or "float"
        if fmt not in ("float", "base64"):
            raise ServeError("encoding_format must be 'float' or 'base64'", param="encoding_format")
        params = {k: body[k] for k in ("dimensions", "input_type") if body.get(k) is not None}
        return ServedEmbed(model, _inputs(body.get("input")), params, {"encoding_format": fmt})

    @override
    def encode_response(self, emb: EmbeddingResponse, req: ServedEmbed, model: str) -> dict[str, Any]:
        """``{"object": "list", "data": [...], "model", "usage"}``, vectors in input order."""
        fmt = str(req.options.get("encoding_format") or "float")
        data = [{"object": "embedding", "index": i, "embedding": _encoded(v, fmt)} for i, v in enumerate(emb.vectors)]
        tokens = emb.usage.input_tokens + emb.usage.cache_read_tokens
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @override
    def encode_error(self, info: ErrorInfo) -> dict[str, Any]:
        """OpenAI's error shape."""
        return encode_error(info)


DIALECT = OpenAIEmbedServe()
"""The served dialect instance the gateway routes to."""
