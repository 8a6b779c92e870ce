"""The benchmark adapter for sycophant_py (runs in the project venv, imported by ``worker.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common import MAX_TOKENS, MODEL, PROMPT, ROUTES, TOOL_SPEC, TOOL_SPEC_TIME
from worker import Client, NotApplicableError, Result

PROVIDER = {s: f"bench{route}" for s, route in ROUTES.items()}  # benchjson, benchs50, ...
ANTHROPIC_PROVIDER = "benchant"


def _tools(syc: Any) -> list[Any]:
    out = []
    for spec in (TOOL_SPEC, TOOL_SPEC_TIME):
        fn = spec["function"]
        out.append(syc.Tool(name=fn["name"], description=fn["description"], parameters=fn["parameters"]))
    return out


def _normalise(resp: Any, text: str | None = None) -> Result:
    out: Result = {
        "text": resp.text if text is None else text,
        "input_tokens": resp.usage.input_tokens,
        "output_tokens": resp.usage.output_tokens,
    }
    if resp.tool_calls:
        out["tool_calls"] = [[tc.name, tc.arguments] for tc in resp.tool_calls]
    return out


class Ours(Client):
    """sycophant_py through its public API: ``generate_text`` / ``stream_text`` / ``astream_text``."""

    name = "ours"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        import sycophant_py as syc

        self.syc = syc
        providers: dict[str, Any] = {PROVIDER[s]: {"base_url": self.base(s), "auth": "none"} for s in ROUTES}
        self.anthropic_error: str | None = None
        try:
            syc.configure(
                custom_providers={
                    **providers,
                    ANTHROPIC_PROVIDER: {
                        "base_url": f"{url}/anth",
                        "auth": "none",
                        "models": {"claude": {"wire_protocol": "anthropic_messages"}},
                    },
                }
            )
        except Exception as e:  # noqa: BLE001 - the Anthropic protocol may not be built yet
            self.anthropic_error = f"{type(e).__name__}: {e}"[:200]
            syc.configure(custom_providers=providers)
        self.msgs = [syc.Message.user(PROMPT)]
        self.tool_defs = _tools(syc)

    def model(self, scenario: str) -> str:
        """``provider:model`` id routed to ``scenario``."""
        return f"{PROVIDER[scenario]}:{MODEL}"

    def json(self) -> Result:
        return _normalise(self.syc.generate_text(self.model("json"), self.msgs, max_tokens=MAX_TOKENS))

    def _drain(self, model: str, **kw: Any) -> Result:
        s = self.syc.stream_text(model, self.msgs, max_tokens=MAX_TOKENS, **kw)
        parts = [ev.delta for ev in s if ev.type == "text_delta"]
        return _normalise(s.response(), "".join(parts))

    def stream(self, scenario: str) -> Result:
        return self._drain(self.model(scenario))

    def tools(self) -> Result:
        return self._drain(self.model("tools"), tools=self.tool_defs)

    def anthropic(self) -> Result:
        try:
            return self._drain(f"{ANTHROPIC_PROVIDER}:claude")
        except Exception as e:
            if self.anthropic_error or "anthropic_messages" in str(e):
                raise NotApplicableError(f"protocol not built ({self.anthropic_error or e})"[:200]) from e
            raise

    async def astream(self, scenario: str) -> Result:
        s = self.syc.astream_text(self.model(scenario), self.msgs, max_tokens=MAX_TOKENS)
        parts = [ev.delta async for ev in s if ev.type == "text_delta"]
        resp = s.response()
        if hasattr(resp, "__await__"):
            resp = await resp
        return _normalise(resp, "".join(parts))

    async def aclose(self) -> None:
        closer = getattr(self.syc, "aclose", None)
        if closer is not None:
            await closer()

    def decoders(self) -> Callable[[list[bytes]], int]:
        try:
            from sycophant_py.wire import SSEDecoder
        except ImportError:
            from sycophant_py._sse import SSEDecoder
        from sycophant_py._registry import get_protocol

        proto_cls = get_protocol("chat", "openai_chat")
        proto = proto_cls() if isinstance(proto_cls, type) else proto_cls

        def decode(pieces: list[bytes]) -> int:
            dec = SSEDecoder()
            state = proto.init_stream()
            n = 0
            for piece in pieces:
                for ev in dec.feed(piece):
                    if ev.data == "[DONE]":
                        continue
                    result = proto.decode_stream_chunk(state, ev)
                    state = getattr(result, "state", state)
                    n += 1
            return n

        return decode
