"""Uses the public API the way a user would; type-checked by mypy --strict (not run by pytest)."""

from __future__ import annotations

from pathlib import Path

import sycophant_py as syc


def main() -> None:
    msgs = [syc.Message.system("Be brief."), syc.Message.user("Hello")]
    resp: syc.Response = syc.generate_text("ollama:llama3", msgs, temperature=0.2, max_tokens=64)
    text: str = resp.text
    total: int = resp.usage.total_tokens
    calls: list[syc.ToolCall] = resp.tool_calls
    more = syc.generate_text("ollama:llama3", resp.context.add(syc.Message.user("More")))
    for event in syc.stream_text("ollama:llama3", msgs):
        if event.type == "text_delta":
            print(event.delta, end="")
        elif event.type == "done" and event.response is not None:
            print(event.response.usage)
    emb: syc.EmbeddingResponse = syc.embed("openai:text-embedding-3-small", ["a", "b"])
    first: list[float] = emb.vectors[0]
    syc.configure(custom_providers={"vllm": {"base_url": "http://localhost:8000/v1", "auth": "optional"}})
    info: syc.ModelInfo = syc.get_model("vllm:mistral-7b")
    print(text, total, calls, more.text, first, info.base_url)
    media = syc.Message.user(
        ["Look and listen", syc.ImagePart.from_path("cat.png"), syc.AudioPart.from_base64("UklGRg=="), Path("a.pdf")]
    )
    try:
        syc.generate_text("openai:gpt-4o-mini", [media])
    except syc.ContextOverflow as exc:
        window: int | None = exc.limit
        sent: int | None = exc.requested
        print(window, sent)
    except syc.UnsupportedInput as exc:
        kind: str | None = exc.kind
        print(kind)
    syc.close()


async def amain() -> None:
    resp = await syc.agenerate_text("ollama:llama3", "hi")
    async for event in syc.astream_text("ollama:llama3", "hi"):
        print(event.type)
    stream = syc.astream_text("ollama:llama3", "hi")
    final: syc.Response = await stream.response()
    print(resp.text, final.text)
    await syc.aclose()
