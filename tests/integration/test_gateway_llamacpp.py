"""The OpenAI SDK through the gateway to a real llama.cpp server (SmolLM2-135M as ``llamacpp:smollm2``).

Greedy decoding (``temperature=0``) makes the model's answer repeatable, so what the SDK gets through
the gateway is compared with what the library gets calling the server directly.
"""

from __future__ import annotations

from typing import Any

import openai

import sycophant_py as syc
from sycophant_py.testing import LocalServer
from tests.gateway_support import running_gateway

SYSTEM = "Answer in one short English sentence."
QUESTION = "What is the capital of France?"
MESSAGES: Any = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]


def test_openai_sdk_through_the_gateway_to_llamacpp(llama_server: LocalServer) -> None:
    syc.configure(custom_providers={"llamacpp": {"base_url": llama_server.base_url}})
    direct = syc.generate_text(
        "llamacpp:smollm2", [syc.Message.system(SYSTEM), syc.Message.user(QUESTION)], max_tokens=24, temperature=0
    )
    with running_gateway() as url, openai.OpenAI(api_key="unused", base_url=f"{url}/v1", max_retries=0) as client:
        out = client.chat.completions.create(model="llamacpp:smollm2", messages=MESSAGES, max_tokens=24, temperature=0)
        assert out.choices[0].message.content == direct.text
        assert direct.text.strip()
        assert out.choices[0].finish_reason == {"tool_use": "tool_calls"}.get(
            direct.finish_reason, direct.finish_reason
        )
        assert out.usage is not None
        assert (out.usage.prompt_tokens, out.usage.completion_tokens) == (
            direct.usage.input_tokens + direct.usage.cache_read_tokens,
            direct.usage.output_tokens,
        )
        chunks = list(
            client.chat.completions.create(
                model="llamacpp:smollm2",
                messages=MESSAGES,
                max_tokens=24,
                temperature=0,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == direct.text
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] in (
        ["stop"],
        ["length"],
    )
    assert chunks[-1].usage is not None  # the usage chunk (llama.cpp's own stream reports no counts)
