"""The docs-example machinery itself: the Markdown parser and runner, and the docs sandbox.

The sandbox must answer every built-in protocol the way a docs example expects (text, streams,
tool calls with schema-valid arguments, structured output, embeddings), through the library's
real URLs (requests keep their original ``Host``), and must refuse what a vendor would refuse. The
runner must fail on a broken block, with the Markdown file and line, and honour skip markers.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import jsonschema
import pytest
from pydantic import BaseModel, Field

import sycophant_py as syc
import sycophant_py.testing
from sycophant_py import _registry
from tests.docs_answers import instance_of, vector
from tests.docs_sandbox import ANSWER, FAKE_KEY, DocsSandbox, docs_sandbox, redirected, secret_names
from tests.test_docs_examples import DocsExampleError, parse_blocks, run_page


@pytest.fixture
def box(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DocsSandbox]:
    with docs_sandbox(monkeypatch, tmp_path) as sandbox:
        yield sandbox
        assert sandbox.failures == []


# -- schema instances -------------------------------------------------------------------------


class Address(BaseModel):
    street: str = Field(min_length=12)
    zip_code: str | None = None


class Order(BaseModel):
    sku: str
    quantity: int = Field(ge=3, le=9)
    price: float = Field(gt=0.5)
    kind: Literal["retail", "wholesale"]
    tags: list[str] = Field(min_length=2)
    address: Address
    express: bool
    note: str | None


SCHEMAS: list[dict[str, Any]] = [
    Order.model_json_schema(),
    {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": ["integer", "null"]}}},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"}}, "required": ["when"]},
    {"type": "array", "items": {"const": 3}, "minItems": 2},
    {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}]},
    {"oneOf": [{"type": "null"}, {"type": "object", "properties": {"b": {"enum": [7, 8]}}, "required": ["b"]}]},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=["pydantic", "no-required", "format", "array", "allOf", "oneOf"])
def test_instances_are_valid_against_their_schema(schema: dict[str, Any]) -> None:
    value = instance_of(schema)
    jsonschema.validate(value, schema)
    if "properties" in schema and "required" not in schema:
        assert set(value) == set(schema["properties"])  # every property when none is required


def test_instance_of_gemini_schema_reads_upper_case_types() -> None:
    schema = {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}, "s": {"type": "STRING"}}, "required": ["n"]}
    assert instance_of(schema) == {"n": 1}


def test_vectors_are_deterministic_and_sized() -> None:
    assert vector("a", 5) == vector("a", 5)
    assert vector("a", 5) != vector("b", 5)
    assert len(vector("a", 256)) == 256


# -- the sandbox on the wire ------------------------------------------------------------------

PROTOCOLS: list[tuple[str, str, dict[str, Any]]] = [
    ("openai_chat", "openai:gpt-4o-mini", {}),
    ("openai_responses", "openai:gpt-4o-mini", {"api": "openai_responses"}),
    ("anthropic_messages", "anthropic:claude-sonnet-4-5", {}),
    ("google_gemini", "google:gemini-2.5-flash", {}),
    ("bedrock_converse", "amazon-bedrock:anthropic.claude-3-5-sonnet-20241022-v2:0", {}),
    ("ollama_native", "ollama:llama3", {"api": "ollama_native"}),
]
HOSTS = {
    "openai_chat": "api.openai.com",
    "openai_responses": "api.openai.com",
    "anthropic_messages": "api.anthropic.com",
    "google_gemini": "generativelanguage.googleapis.com",
    "bedrock_converse": "bedrock-runtime.us-east-1.amazonaws.com",
    "ollama_native": "localhost",
}
WEATHER = syc.Tool(
    "weather",
    "Weather for a city",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 2}},
        "required": ["city", "days"],
    },
)


class City(BaseModel):
    city: str
    country: str


@pytest.mark.parametrize(("protocol", "spec", "kw"), PROTOCOLS, ids=[p[0] for p in PROTOCOLS])
def test_every_chat_protocol_gets_text_streams_tool_calls_and_objects(
    box: DocsSandbox, protocol: str, spec: str, kw: dict[str, Any]
) -> None:
    assert syc.generate_text(spec, "Hi", **kw).text == ANSWER
    streamed = syc.stream_text(spec, "Hi", **kw).response()
    assert (streamed.text, streamed.finish_reason) == (ANSWER, "stop")

    call = syc.generate_text(spec, "Weather?", tools=[WEATHER], **kw).tool_calls[0]
    assert call.name == "weather"
    jsonschema.validate(call.arguments, WEATHER.json_schema())
    streamed_call = syc.stream_text(spec, "Weather?", tools=[WEATHER], **kw).response().tool_calls[0]
    assert streamed_call.arguments == call.arguments

    out = syc.generate_object(spec, "A city.", schema=City, **kw)
    assert out.object == City(city="sample city", country="sample country")
    assert {kind for _, _, kind in box.served} == {protocol}
    assert {host for host, _, _ in box.served} == {HOSTS[protocol]}  # the library's real URL, redirected


@pytest.mark.parametrize(("protocol", "spec", "kw"), PROTOCOLS, ids=[p[0] for p in PROTOCOLS])
def test_tool_loop_ends_with_text_after_the_tool_result(
    box: DocsSandbox, protocol: str, spec: str, kw: dict[str, Any]
) -> None:
    seen: list[str] = []

    def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: The city.
        """
        seen.append(city)
        return "sunny"

    resp = syc.generate_text(spec, "Weather?", tools=[syc.Tool.from_function(lookup)], max_steps=3, **kw)
    assert (resp.text, len(resp.steps), seen) == (ANSWER, 2, ["sample city"])


def test_forced_tool_and_tool_choice_none(box: DocsSandbox) -> None:
    other = syc.Tool("other", "Other", {"type": "object", "properties": {}})
    forced = syc.generate_text("anthropic:claude-sonnet-4-5", "x", tools=[other, WEATHER], tool_choice="weather")
    assert forced.tool_calls[0].name == "weather"
    assert syc.generate_text("openai:gpt-4o-mini", "x", tools=[WEATHER], tool_choice="none").text == ANSWER


EMBEDDINGS: list[tuple[str, str, dict[str, Any]]] = [
    ("openai_embed", "openai:text-embedding-3-small", {"dimensions": 16}),
    ("google_embed", "google:gemini-embedding-001", {"dimensions": 16}),
    ("ollama_embed", "ollama:nomic-embed-text", {"api": "ollama_embed"}),
    ("bedrock_embed", "amazon-bedrock:amazon.titan-embed-text-v2:0", {"dimensions": 256}),
    ("bedrock_embed", "amazon-bedrock:cohere.embed-english-v3", {"batch_size": 96}),
]


@pytest.mark.parametrize(("protocol", "spec", "kw"), EMBEDDINGS, ids=[e[1] for e in EMBEDDINGS])
def test_every_embedding_protocol(box: DocsSandbox, protocol: str, spec: str, kw: dict[str, Any]) -> None:
    for texts in (["one"], ["one", "two"]):
        emb = syc.embed(spec, texts, **kw)
        size = kw.get("dimensions", 8)
        assert emb.vectors == [pytest.approx(vector(t, size), abs=1e-6) for t in texts]
    assert {kind for _, _, kind in box.served} == {protocol}


def test_azure_deployments_and_copilot_token_exchange(box: DocsSandbox) -> None:
    assert syc.generate_text("azure:my-deployment", "Hi").text == ANSWER
    assert syc.generate_text("github-copilot:gpt-4o", "Hi").text == ANSWER
    assert box.served == [
        ("docs-sandbox.openai.azure.com", "/openai/deployments/my-deployment/chat/completions", "openai_chat"),
        ("api.github.com", "/copilot_internal/v2/token", "copilot_token"),
        ("api.individual.githubcopilot.com", "/chat/completions", "openai_chat"),
    ]


def test_refused_and_unknown_requests_are_recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with docs_sandbox(monkeypatch, tmp_path) as sandbox:
        bad = httpx.post("https://api.openai.com/v1/chat/completions", json={"model": "m", "messages": "no"})
        unknown = httpx.post("https://api.example.com/v9/summon", json={})
        lenient = httpx.post("https://my-proxy.example/v1/chat/completions", json={"model": "m", "messages": []})
    assert (bad.status_code, unknown.status_code, lenient.status_code) == (400, 404, 200)
    assert len(sandbox.failures) == 2
    assert "api.openai.com/v1/chat/completions" in sandbox.failures[0]
    assert "no route for POST api.example.com/v9/summon" in sandbox.failures[1]


def test_redirect_keeps_servers_a_test_started() -> None:
    assert str(redirected(httpx.URL("https://api.openai.com/v1/x?a=1"), 40001)) == "http://127.0.0.1:40001/v1/x?a=1"
    assert redirected(httpx.URL("http://localhost:11434/v1"), 40001).port == 40001
    own = httpx.URL("http://127.0.0.1:45678/v1")
    assert redirected(own, 40001) is own


def test_fake_keys_local_server_stand_ins_and_registries_restored(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = dict(_registry._PROTOCOLS["chat"])
    with docs_sandbox(monkeypatch, tmp_path, ['api_key="MY_LLM_API_KEY"']) as sandbox:
        assert os.environ["MY_LLM_API_KEY"] == os.environ["OPENAI_API_KEY"] == FAKE_KEY
        with sycophant_py.testing.llama_cpp_server([{"model": "x.gguf"}]) as srv:
            assert srv.base_url == sandbox.url + "/v1"
        assert sycophant_py.testing.smollm2_model_path().is_file()
        syc.register_protocol("chat", "docs_only", type(_registry.get_protocol("chat", "openai_chat")))
    assert _registry._PROTOCOLS["chat"] == before
    assert secret_names(['"CORP_AUTH_TOKEN"', "'X_SECRET'", '"NOT_A_NAME"', '"lower_KEY"']) == {
        "CORP_AUTH_TOKEN",
        "X_SECRET",
    }


# -- the Markdown parser and runner -----------------------------------------------------------

PAGE = """# Title

```python
x = 1
```

<!-- docs-test: skip (starts a server forever) -->
```python
raise SystemExit("never run")
```

- a list item with a config file:

   ```toml
   [providers.openai]
   api_key = "sk-test"
   ```

~~~bash
make demo
~~~

````markdown
```python
not a block of its own
```
````
"""


def test_parse_blocks() -> None:
    blocks = parse_blocks(Path("page.md"), PAGE)
    assert [(b.lang, b.line, b.skip, b.marker_error) for b in blocks] == [
        ("python", 4, None, None),
        ("python", 9, "starts a server forever", None),
        ("toml", 15, None, None),
        ("bash", 20, None, None),
        ("markdown", 24, None, None),
    ]
    assert blocks[2].source == '[providers.openai]\napi_key = "sk-test"\n'  # the list indent is removed


@pytest.mark.parametrize(
    ("marker", "error"),
    [
        ("<!-- docs-test: skip -->", "needs a reason"),
        ("<!-- docs-test: skip () -->", "needs a reason"),
        ("<!-- docs-test: skipp (typo) -->", "unknown docs-test directive"),
    ],
)
def test_bad_markers_fail_the_page(marker: str, error: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    page = tmp_path / "bad.md"
    text = f"{marker}\n```python\nx = 1\n```\n"
    with pytest.raises(DocsExampleError, match=error):
        run_page(page, monkeypatch, tmp_path, text)


def test_a_marker_before_a_block_that_never_runs_is_an_error() -> None:
    (block,) = parse_blocks(Path("p.md"), "<!-- docs-test: skip (x) -->\n```bash\nls\n```\n")
    assert "never run" in str(block.marker_error)


def test_a_page_runs_in_one_namespace_skips_and_checks_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    text = PAGE + "\n```python\nimport sycophant_py as syc\nreply = syc.generate_text('openai:gpt-4o', 'x')\n```\n"
    text += "\n```python\nasync def main():\n    return await syc.agenerate_text('openai:gpt-4o', 'x')\n"
    text += "areply = await main()\nassert x == 1 and reply.text == areply.text\n```\n"
    run = run_page(page, monkeypatch, tmp_path, text)
    lines = text.splitlines()
    assert [lines[b.line - 1] for b in run.ran] == ["x = 1", "import sycophant_py as syc", "async def main():"]
    assert [b.skip for b in run.skipped] == ["starts a server forever"]
    assert [b.line for b in run.tomls] == [15]
    assert len(run.sandbox.served) == 2


def test_a_failing_block_names_the_markdown_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    text = "Intro\n\n```python\nimport sycophant_py as syc\n\nsyc.generate_text('nope-provider:x', 'hi')\n```\n"
    page.write_text(text)
    with pytest.raises(DocsExampleError, match=r"broken.md:4: the example raised UnknownProvider") as info:
        run_page(page, monkeypatch, tmp_path)
    frames = traceback.extract_tb(info.value.__cause__.__traceback__ if info.value.__cause__ else None)
    assert (frames[1].filename, frames[1].lineno, frames[1].line) == (
        str(page),
        6,
        "syc.generate_text('nope-provider:x', 'hi')",
    )


@pytest.mark.parametrize(
    ("toml", "error"),
    [
        ("[providers.openai\n", "invalid TOML"),
        ('[providers.openai]\napi_key = "k"\n[not_a_section]\nx = 1\n', "unknown section"),
        ('[custom_providers.lab]\nbase_url = "http://lab:8000/v1"\nauth = "sometimes"\n', "auth.*sometimes"),
        ('[[instances]]\ntype = "no-such-factory"\nname = "work"\n', "no-such-factory"),
    ],
)
def test_toml_config_examples_are_validated(
    toml: str, error: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(DocsExampleError, match=error):
        run_page(tmp_path / "config.md", monkeypatch, tmp_path, f"```toml\n{toml}```\n")


def test_a_pyproject_snippet_is_only_parsed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = '```toml\n[project.entry-points."sycophant_py.extensions"]\nacme = "acme:setup"\n```\n'
    assert len(run_page(tmp_path / "ext.md", monkeypatch, tmp_path, text).tomls) == 1
