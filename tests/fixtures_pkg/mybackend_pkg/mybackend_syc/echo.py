"""A factory exposed as a function entry point: an OpenAI-compatible server described as data."""

from __future__ import annotations

from typing import Any

import sycophant_py as syc


def factory(name: str, config: dict[str, Any]) -> syc.ProviderDefinition:
    """``echo-backend`` instances: ``config = {url = "..."}``."""
    url = str(config["url"])
    return syc.ProviderDefinition(base_url=url + "/v1", api="openai_chat", auth="none", models=[{"id": "echo-1"}])
