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
    syc.configure(foreign_thinking="drop")
    saved = more.context.to_json()
    elsewhere = syc.generate_text("anthropic:claude-sonnet-4-5", syc.Context.from_json(saved), foreign_thinking="text")
    origin: str | None = elsewhere.context.messages[-1].provider
    failed: bool = elsewhere.message.finish_reason in ("error", "aborted")
    print(origin, failed)
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
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    tool = syc.Tool("lookup", "Look a city up.", {"type": "object", "properties": {}})
    objects: syc.AsyncObjectStream = syc.astream_object("ollama:llama3", "A city.", schema=schema, tools=[tool])
    async with objects:
        async for partial in objects:
            print(partial)
        done: syc.Response = await objects.response()
    print(done.object)
    await syc.aclose()


def objects() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    tool = syc.Tool("lookup", "Look a city up.", {"type": "object", "properties": {}})
    stream: syc.ObjectStream = syc.stream_object("ollama:llama3", "A city.", schema=schema, tools=[tool])
    with stream:
        for partial in stream:
            print(partial)
        final: syc.Response = stream.response()
    print(final.object)
    try:
        syc.generate_object("ollama:llama3", "A city.", schema=schema)
    except syc.InvalidObject as exc:
        print(exc.text, exc.errors)
    except syc.StreamAborted:
        pass


def oauth() -> None:
    def login(callbacks: syc.LoginCallbacks) -> syc.OAuthCredentials:
        code = callbacks.on_prompt(message="Enter code:")
        return syc.OAuthCredentials(refresh=code, access=code, expires=None)

    def refresh(credentials: syc.OAuthCredentials) -> syc.OAuthCredentials:
        return credentials

    syc.register_provider(
        "corporate-ai",
        base_url="https://ai.corp.example/v1",
        oauth=syc.OAuth(name="Corp", login=login, refresh_token=refresh, get_api_key=lambda c: c.access),
    )
    creds: syc.OAuthCredentials | None = syc.login("corporate-ai")
    store = syc.CredentialStore()
    store.set_api_key("openai", "sk-...")
    entry: dict[str, object] | None = store.get("openai")
    removed: bool = syc.logout("corporate-ai") or store.remove("openai")
    print(creds, entry, removed, store.path, store.providers())


def factories() -> None:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any

    class Backend:
        def available(self) -> bool:
            return True

        def models(self) -> Sequence[syc.ModelConfig | Mapping[str, Any] | str]:
            return ["m1", syc.ModelConfig(id="m2")]

        def complete(self, model: syc.ModelInfo, context: syc.Context, options: syc.StreamOptions) -> Iterator[Any]:
            out = options["emit"]
            yield out.text("hi")
            yield out.done(usage={"input_tokens": 1, "output_tokens": 1})

    def backend_factory(name: str, config: dict[str, Any]) -> syc.ProviderBackend:
        return Backend()

    def gateway_factory(name: str, config: dict[str, Any]) -> syc.ProviderDefinition:
        return syc.ProviderDefinition(base_url=str(config["url"]), api="openai_chat", extends=None)

    syc.register_provider_factory("mine", backend_factory)
    syc.register_provider_factory("gw", gateway_factory)
    syc.configure(instances=[{"type": "mine", "name": "m"}], gateway={"keys": ["k"], "port": 8080})
    ok: bool = syc.available("m")
    ready: list[str] = syc.providers(available=True)
    listed: syc.ModelList = syc.models("m", live=True, timeout=1.0)
    infos: list[syc.ModelInfo] = listed
    source: str = listed.source
    error: str | None = listed.error
    syc.unregister_provider_factory("gw")
    print(ok, ready, infos, source, error)
