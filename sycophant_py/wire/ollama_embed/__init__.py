"""Ollama's native embedding API: ``POST /api/embed`` (the ``ollama_embed`` protocol).

The base URL rule is ``ollama_native``'s: a trailing ``/v1`` (the ``ollama`` row's OpenAI-compatible
prefix) is dropped. The body carries every input at once (``{"model", "input": [...]}``) and the
answer is ``{"embeddings": [[...], ...], "prompt_eval_count": n}``; errors are ``{"error": "text"}``.

The package follows the template of an embedding protocol (``docs/architecture.md``): this module
holds the class, its descriptor and its params; ``encode`` and ``decode`` the rest.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from sycophant_py._params import EmbeddingParams
from sycophant_py.wire._util import strip_v1
from sycophant_py.wire.ollama_embed.decode import Decoding
from sycophant_py.wire.ollama_embed.encode import Encoding

__all__ = ["OllamaEmbed", "OllamaEmbedParams"]


class OllamaEmbedParams(EmbeddingParams):
    """Params of ``ollama_embed`` beyond the shared embedding ones."""

    truncate: bool | None = None
    """Cut inputs longer than the context instead of failing (Ollama's default is true)."""
    keep_alive: str | int | None = None
    """How long the model stays loaded after the call (an int is seconds)."""
    options: dict[str, Any] | None = None
    """Raw ``options`` entries (``num_ctx``...)."""


class OllamaEmbed(Encoding, Decoding):
    """The ``ollama_embed`` embedding protocol (``POST /api/embed``)."""

    name = "ollama_embed"
    path = "/api/embed"
    params = OllamaEmbedParams
    max_batch = 2048

    @override
    def resolve_base_url(self, base_url: str) -> str:
        """The host root: the ``ollama`` row's ``/v1`` prefix is dropped."""
        return strip_v1(base_url)
