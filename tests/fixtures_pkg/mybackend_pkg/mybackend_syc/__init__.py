"""plug-my-ai's ``mybackend`` as a sycophant_py plug-in: importing this module registers the type.

The "backend" is an HTTP API of its own: ``POST {base_url}/generate`` with ``{"model", "prompt"}``
and the key in ``x-mybackend-key``, answering newline-delimited JSON: ``{"text": ...}`` pieces,
then ``{"done": true, "finish": "stop", "usage": {"in": 3, "out": 2}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from pydantic import BaseModel

import sycophant_py as syc


class Config(BaseModel):
    """The ``config`` table of a ``mybackend`` instance."""

    api_key: str = ""
    model: str = "my-model-v1"
    base_url: str = "https://api.mybackend.example"


class MyBackend:
    """One configured ``mybackend`` instance."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    def available(self) -> bool:
        return self.cfg.api_key != ""

    def models(self) -> list[syc.ModelConfig]:
        return [syc.ModelConfig(id=self.cfg.model, name=self.cfg.model, context_window=8192)]

    def complete(self, model: syc.ModelInfo, context: syc.Context, options: Any) -> Iterator[Any]:
        out = options["emit"]
        prompt = "\n".join(m.text for m in context.messages)
        body = {"model": model.id, "prompt": prompt}
        headers = {"x-mybackend-key": self.cfg.api_key}
        with httpx.stream("POST", self.cfg.base_url + "/generate", json=body, headers=headers, timeout=10) as r:
            if r.status_code >= 400:
                raise out.http_error(r.status_code, r.read(), r.headers)
            for line in r.iter_lines():
                chunk = json.loads(line) if line else {}
                if "text" in chunk:
                    yield out.text(chunk["text"])
                elif chunk.get("done"):
                    usage = {"input_tokens": chunk["usage"]["in"], "output_tokens": chunk["usage"]["out"]}
                    yield out.done(chunk["finish"], usage=usage)
                    return


def factory(name: str, config: dict[str, Any]) -> MyBackend:
    """Build a ``mybackend`` instance from its config table."""
    return MyBackend(syc.factory_config(Config, config))


syc.register_provider_factory("mybackend", factory)
