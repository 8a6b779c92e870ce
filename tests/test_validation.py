"""Bad input and bad configuration: a library error naming what is wrong, before anything is sent.

Failures inside a tool loop after the first (billed) request are library errors carrying the
steps and usage so far. Where a request could be sent, a scripted server on 127.0.0.1 stands
behind the provider ``fake`` and the tests assert what it received.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _catalog
from sycophant_py._credentials import resolve_credentials
from sycophant_py.testing import Reply, ScriptedServer

# -- helpers -----------------------------------------------------------------------------------


def _answer(text: str = "done", prompt: int = 10, completion: int = 4) -> Reply:
    msg = {"role": "assistant", "content": text}
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return Reply.json({"id": "a", "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}], "usage": usage})


def _calls(name: str, args: dict[str, Any], call_id: str = "c1", prompt: int = 10, completion: int = 4) -> Reply:
    fn = {"name": name, "arguments": json.dumps(args)}
    msg = {"role": "assistant", "content": None, "tool_calls": [{"id": call_id, "type": "function", "function": fn}]}
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return Reply.json(
        {"id": "t", "choices": [{"index": 0, "message": msg, "finish_reason": "tool_calls"}], "usage": usage}
    )


OBJ = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}

# -- 1. messages -------------------------------------------------------------------------------


def test_an_unknown_role_is_refused_when_the_message_is_built(srv: ScriptedServer) -> None:
    with pytest.raises(syc.InvalidMessage) as info:
        syc.Message("wizard", "hi")  # type: ignore[arg-type]
    text = str(info.value)
    assert "'wizard'" in text
    for role in ("system", "user", "assistant", "tool_result"):
        assert role in text
    with pytest.raises(syc.InvalidMessage, match="did you mean 'tool_result'"):
        syc.Message("tool", "42", tool_call_id="c1")  # type: ignore[arg-type]
    with pytest.raises(syc.InvalidMessage, match="'wizard'"):
        syc.generate_text("fake:m", [syc.Message.from_dict({"role": "wizard", "content": "hi"})])
    assert srv.requests == []


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: syc.Message("tool_result", "42"), "tool_result message needs a tool_call_id"),
        (lambda: syc.Message.tool_result(None, "42"), "tool_result message needs a tool_call_id"),  # type: ignore[arg-type]
        (lambda: syc.Message("tool_result", "42", tool_call_id=7), "tool_call_id must be a string"),  # type: ignore[arg-type]  # deliberately wrong: the check under test
        (lambda: syc.Message("user", "hi", tool_call_id="c1"), "only a tool_result message has a tool_call_id"),
        (lambda: syc.Message("assistant", "x", is_error=True), "only a tool_result message has is_error"),
        (lambda: syc.Message("system", "x", name="calc"), "only a tool_result message has a name"),
        (lambda: syc.Message.user([syc.ToolCall("c1", "f")]), "a user message cannot hold a tool_call part"),
        (lambda: syc.Message.user([syc.ThinkingPart("hm")]), "a user message cannot hold a thinking part"),
        (lambda: syc.Message("system", (syc.ImagePart(b"x"),)), "a system message cannot hold a image part"),
        (
            lambda: syc.Message("tool_result", (syc.ToolCall("c", "f"),), tool_call_id="c"),
            "a tool_result message cannot hold a tool_call part",
        ),
        (lambda: syc.Message("user", 42), "content must be a string or a sequence of parts, not int"),  # type: ignore[arg-type]
        (lambda: syc.Message("user", ({"text": "hi"},)), r"content\[0\] must be a part .*not dict"),  # type: ignore[arg-type]
        (lambda: syc.Message("user", "hi", cache="yes"), "cache must be a bool"),  # type: ignore[arg-type]
        (lambda: syc.Message(None, "hi"), "unknown message role None"),  # type: ignore[arg-type]
        (syc.ImagePart, "ImagePart needs data or url"),
        (lambda: syc.TextPart(5), "TextPart.text must be a string, not int"),  # type: ignore[arg-type]
    ],
)
def test_impossible_messages_are_refused(build: Callable[[], Any], match: str) -> None:
    with pytest.raises(syc.InvalidMessage, match=match):
        build()


def test_valid_messages_still_build_and_round_trip() -> None:
    call = syc.ToolCall("c1", "f", {"a": 1}, '{"a": 1}')
    msgs = [
        syc.Message.system("s", cache=True),
        syc.Message.user(["look", syc.ImagePart(b"\x89PNG"), syc.DocumentPart(b"%PDF")]),
        syc.Message.assistant("calling", tool_calls=[call]),
        syc.Message("assistant", (syc.ThinkingPart("hm", signature="sig"), syc.TextPart("a"))),
        syc.Message.tool_result("c1", ["r", syc.ImagePart(url="https://x/y.png")], name="f", is_error=True),
        syc.Message("user", [syc.TextPart("a list is kept as parts")]),  # type: ignore[arg-type]
    ]
    assert msgs[-1].content == (syc.TextPart("a list is kept as parts"),)
    for m in msgs:
        assert syc.Message.from_json(m.to_json()) == m


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (["user", "hi"], "a message must be a mapping, not list"),
        ({"content": "hi"}, "a message needs a 'role'"),
        ({"role": "user", "content": 3}, "content must be a string or a list of parts"),
        ({"role": "user", "content": ["hi"]}, r"content\[0\]: a part must be a mapping, not str"),
        ({"role": "user", "content": [{"kind": "video"}]}, r"content\[0\]: unknown part kind 'video'"),
        ({"role": "user", "content": [{"kind": "text"}]}, r"content\[0\]: a text part needs 'text'"),
        ({"role": "user", "content": [{"kind": "text", "text": 1}]}, r"content\[0\]: .*must be a string"),
        ({"role": "user", "content": [{"kind": "image", "data": "%%%"}]}, r"content\[0\]: .*base64"),
        ({"role": "user", "content": [{"kind": "image"}]}, r"content\[0\]: ImagePart needs data or url"),
        ({"role": "assistant", "content": [{"kind": "tool_call", "name": "f"}]}, r"a tool_call part needs 'id'"),
        (
            {"role": "assistant", "content": [{"kind": "tool_call", "id": "c", "name": "f", "arguments": 3}]},
            "arguments",
        ),
        ({"role": "tool_result", "content": "x"}, "needs a tool_call_id"),
        ({"role": "tool_result", "content": "x", "tool_call_id": "c", "is_error": "no"}, "is_error must be a bool"),
    ],
)
def test_message_from_dict_raises_the_library_error(data: Any, match: str) -> None:
    with pytest.raises(syc.InvalidMessage, match=match):
        syc.Message.from_dict(data)


def test_from_json_and_containers_raise_the_library_error() -> None:
    with pytest.raises(syc.InvalidMessage, match="not JSON"):
        syc.Message.from_json("{oops")
    with pytest.raises(syc.InvalidMessage, match=r"messages\[1\]: unknown message role 'wizard'"):
        syc.Context.from_dict({"messages": [{"role": "user", "content": "a"}, {"role": "wizard", "content": "b"}]})
    with pytest.raises(syc.InvalidMessage, match=r"parts\[0\]: unknown part kind"):
        syc.Response.from_dict({"parts": [{"kind": "nope"}]})
    with pytest.raises(syc.InvalidMessage, match="not JSON"):
        syc.Context.from_json("[")


def test_a_non_message_in_the_list_is_named_and_nothing_is_sent(srv: ScriptedServer) -> None:
    with pytest.raises(syc.InvalidMessage, match=r"messages\[1\] must be a Message, not dict"):
        syc.generate_text("fake:m", [syc.Message.user("hi"), {"role": "user", "content": "x"}])  # type: ignore[list-item]
    assert srv.requests == []


# -- 2. tool and response schemas --------------------------------------------------------------

BAD_TYPE = {"type": "object", "properties": {"q": {"type": "strng"}}}


def _run(mode: str, model: str, msgs: Any, **kw: Any) -> Any:
    if mode == "sync":
        return syc.generate_text(model, msgs, **kw)
    if mode == "async":
        return asyncio.run(syc.agenerate_text(model, msgs, **kw))
    return syc.stream_text(model, msgs, **kw).response()


@pytest.mark.parametrize("mode", ["sync", "async", "stream"])
def test_an_invalid_tool_schema_names_the_tool_and_the_path(srv: ScriptedServer, mode: str) -> None:
    tools = [syc.Tool("ok", parameters=OBJ), syc.Tool("search", parameters=BAD_TYPE)]
    with pytest.raises(syc.InvalidSchema) as info:
        _run(mode, "fake:m", "hi", tools=tools)
    assert "tool 'search'" in str(info.value)
    assert "/properties/q/type" in str(info.value)
    assert (info.value.tool, info.value.path) == ("search", "/properties/q/type")
    assert srv.requests == []


@pytest.mark.parametrize(
    ("schema", "path", "match"),
    [
        ({"type": "object", "required": "q"}, "/required", "is not of type 'array'"),
        ({"type": "object", "properties": {"q": {"pattern": "("}}}, "/properties/q/pattern", "regex"),
        ({"type": "object", "properties": {"q": {"$ref": "#/$defs/missing"}}}, "/properties/q/$ref", "resolve"),
        ({"$schema": "https://example.com/my-draft", "type": "object"}, "/$schema", "unknown \\$schema"),
        ({"type": "string"}, "/type", "must describe an object"),
        (
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"n": {"exclusiveMinimum": True}},
            },
            "/properties/n/exclusiveMinimum",
            "is not of type 'number'",
        ),
    ],
)
def test_schema_problems_are_found_before_sending(srv: ScriptedServer, schema: Any, path: str, match: str) -> None:
    with pytest.raises(syc.InvalidSchema, match=match) as info:
        syc.generate_text("fake:m", "hi", tools=[syc.Tool("t", parameters=schema)])
    assert info.value.path == path
    assert srv.requests == []


def test_the_draft_a_schema_declares_is_the_one_checked(srv: ScriptedServer) -> None:
    # Draft 4's boolean exclusiveMinimum is valid there (and invalid in 2020-12).
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"n": {"type": "number", "minimum": 0, "exclusiveMinimum": True}},
    }
    srv.add(_answer())
    assert syc.generate_text("fake:m", "hi", tools=[syc.Tool("t", parameters=draft4)]).text == "done"
    assert len(srv.requests) == 1


def test_tool_construction_checks_what_is_cheap() -> None:
    with pytest.raises(syc.InvalidSchema, match="tool 't': parameters must be a JSON Schema dict or a pydantic model"):
        syc.Tool("t", parameters=5)  # type: ignore[arg-type]
    with pytest.raises(syc.InvalidSchema, match=r"tool 't': .*must describe an object"):
        syc.Tool("t", parameters={"type": "array"})
    with pytest.raises(syc.InvalidParams, match="tool name must be a string"):
        syc.Tool(3)  # type: ignore[arg-type]
    with pytest.raises(syc.InvalidParams, match="tool 't': function must be callable"):
        syc.Tool("t", function="print")  # type: ignore[arg-type]


def test_building_messages_and_tools_imports_nothing_heavy() -> None:
    code = (
        "import sys, json, sycophant_py as syc\n"
        "syc.configure(reset=True)\n"
        "syc.Message.user('hi'); syc.Message.tool_result('c', 'r')\n"
        "syc.Tool('t', parameters={'type': 'object', 'properties': {}})\n"
        "print(json.dumps([m for m in ('pydantic', 'jsonschema') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert json.loads(out) == []


def test_schemas_are_checked_once_per_schema_object(srv: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from sycophant_py import _schema_check

    seen: list[int] = []
    real = _schema_check._meta_check

    def spy(schema: Any, where: str, tool: str | None) -> None:
        seen.append(id(schema))
        real(schema, where, tool)

    monkeypatch.setattr(_schema_check, "_meta_check", spy)
    params = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    tool = syc.Tool("inc", parameters=params, function=lambda n: n + 1)
    srv.add(_calls("inc", {"n": 1}, "c1"), _calls("inc", {"n": 2}, "c2"), _answer())
    resp = syc.generate_text("fake:m", "count", tools=[tool])
    assert len(resp.steps) == 3
    assert len(seen) == 1  # three requests, one check
    srv.add(_answer())
    syc.generate_text("fake:m", "again", tools=[tool])
    assert len(seen) == 1


OBJECT_ENTRIES: dict[str, Callable[[], Any]] = {
    "generate": lambda: syc.generate_object("fake:m", "hi", schema=BAD_TYPE),
    "agenerate": lambda: asyncio.run(syc.agenerate_object("fake:m", "hi", schema=BAD_TYPE)),
    "stream": lambda: syc.stream_object("fake:m", "hi", schema=BAD_TYPE),
    "astream": lambda: syc.astream_object("fake:m", "hi", schema=BAD_TYPE),
}


@pytest.mark.parametrize("entry", sorted(OBJECT_ENTRIES))
def test_an_invalid_response_schema_is_refused_before_sending(srv: ScriptedServer, entry: str) -> None:
    with pytest.raises(syc.InvalidSchema) as info:
        OBJECT_ENTRIES[entry]()
    assert "response schema" in str(info.value)
    assert info.value.path == "/properties/q/type"
    assert srv.requests == []


# -- 3. failures inside the tool loop ----------------------------------------------------------


def _loop(mode: str, tools: list[syc.Tool]) -> syc.Response:
    if mode == "sync":
        return syc.generate_text("fake:m", "go", tools=tools)
    return asyncio.run(syc.agenerate_text("fake:m", "go", tools=tools))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_tool_result_that_is_not_json_raises_with_the_steps(srv: ScriptedServer, mode: str) -> None:
    def circular(q: str) -> Any:
        d: dict[str, Any] = {"q": q}
        d["self"] = d
        return d

    srv.add(_calls("circ", {"q": "x"}, prompt=11, completion=5))
    with pytest.raises(syc.ToolResultInvalid) as info:
        _loop(mode, [syc.Tool("circ", parameters=OBJ, function=circular)])
    exc = info.value
    assert isinstance(exc, syc.InvalidError)
    assert "tool 'circ'" in str(exc)
    assert "'c1'" in str(exc)
    assert (exc.tool, exc.tool_call_id) == ("circ", "c1")
    assert exc.steps is not None
    assert [s.tool_calls[0].name for s in exc.steps] == ["circ"]
    assert exc.usage is not None
    assert (exc.usage.input_tokens, exc.usage.output_tokens) == (11, 5)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_schema_that_fails_at_run_time_raises_with_the_steps(srv: ScriptedServer, mode: str) -> None:
    # A remote $ref is valid JSON Schema, but it cannot be resolved when the arguments are checked.
    remote = {"type": "object", "properties": {"q": {"$ref": "https://example.invalid/q.json"}}}
    srv.add(_calls("t", {"q": "x"}))
    with pytest.raises(syc.InvalidSchema, match="tool 't'") as info:
        _loop(mode, [syc.Tool("t", parameters=remote, function=lambda q: q)])
    assert info.value.steps is not None
    assert len(info.value.steps) == 1
    assert info.value.usage is not None
    assert info.value.usage.input_tokens == 10
    assert len(srv.requests) == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_provider_error_on_step_three_carries_the_steps_and_usage(srv: ScriptedServer, mode: str) -> None:
    tool = syc.Tool("t", parameters=OBJ, function=lambda q: q.upper())
    srv.add(
        _calls("t", {"q": "a"}, "c1", prompt=10, completion=3),
        _calls("t", {"q": "b"}, "c2", prompt=20, completion=4),
        Reply.json({"error": {"message": "nope", "type": "invalid_request_error"}}, status=400),
    )
    with pytest.raises(syc.BadRequest) as info:
        _loop(mode, [tool])
    exc = info.value
    assert exc.steps is not None
    assert [s.tool_calls[0].id for s in exc.steps] == ["c1", "c2"]
    assert exc.usage is not None
    assert (exc.usage.input_tokens, exc.usage.output_tokens) == (30, 7)
    assert len(srv.requests) == 3
    assert srv.requests[2].json["messages"][-1] == {"role": "tool", "tool_call_id": "c2", "content": "B"}


def test_errors_before_any_request_carry_no_steps(srv: ScriptedServer) -> None:
    with pytest.raises(syc.InvalidSchema) as info:
        syc.generate_text("fake:m", "hi", tools=[syc.Tool("t", parameters=BAD_TYPE)])
    assert (info.value.steps, info.value.usage) == (None, None)
    assert syc.SycophantError("x").steps is None


# -- 4. the config file ------------------------------------------------------------------------


def _with_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SYCOPHANT_CONFIG", str(path))
    syc.configure(reset=True)
    return path


SECRET_NUMBER = 4815162342


@pytest.mark.parametrize(
    "case",
    [
        (f"[providers.fake]\napi_key = {SECRET_NUMBER}\n", "[providers.fake]", "api_key: .*string"),
        ("[providers.fake]\nbase_url = 42\n", "[providers.fake]", "base_url: .*string"),
        ("[providers.fake]\nregion = [1, 2]\n", "[providers.fake]", "region: .*string, number or boolean"),
        ("[custom_providers.vllm]\nbase_url = 42\n", "[custom_providers.vllm]", "base_url: .*string"),
        (
            '[custom_providers.vllm]\nbase_ulr = "http://127.0.0.1:1/v1"\n',
            "[custom_providers.vllm]",
            "unknown field 'base_ulr'.*did you mean 'base_url'",
        ),
        ('[custom_providers.vllm]\nmodels = "llama"\n', "[custom_providers.vllm]", "models: .*table"),
        ('[custom_providers.vllm]\nauth = "sometimes"\n', "[custom_providers.vllm]", "auth: .*'required'"),
        ('[custom_providers.vllm]\napi_key = "sk-x"\n', "[custom_providers.vllm]", r"api_key.*\[providers.vllm\]"),
        ("[custom_providers.vllm]\nlocal = 1\n", "[custom_providers.vllm]", "local: .*boolean"),
        (
            "[custom_providers.vllm.models.mistral]\ncontext_windw = 5\n",
            "[custom_providers.vllm.models.mistral]",
            "unknown field 'context_windw'.*did you mean 'context_window'",
        ),
        (
            "[custom_providers.vllm.models.mistral]\ncontext_window = 0\n",
            "[custom_providers.vllm.models.mistral]",
            "context_window: .*greater than 0",
        ),
        (
            '[custom_providers.vllm.models.mistral]\ncompat = { max_tokens_field = "max_toks" }\n',
            "[custom_providers.vllm.models.mistral]",
            "compat.max_tokens_field: .*'max_completion_tokens' or 'max_tokens'",
        ),
        (
            "[custom_providers.vllm.models.mistral]\ncompat = { supports_stor = true }\n",
            "[custom_providers.vllm.models.mistral]",
            "compat: unknown field 'supports_stor'.*did you mean 'supports_store'",
        ),
        (
            '[custom_providers.vllm.models.mistral]\ncapabilities = { tools = "yes" }\n',
            "[custom_providers.vllm.models.mistral]",
            "capabilities.tools: .*boolean",
        ),
        (
            "[custom_providers.vllm.models.mistral]\ncapabilities = { tool = true }\n",
            "[custom_providers.vllm.models.mistral]",
            "did you mean 'tools'",
        ),
        (
            '[custom_providers.vllm.models.mistral]\ncost = { input = "cheap" }\n',
            "[custom_providers.vllm.models.mistral]",
            "cost.input: .*number",
        ),
        (
            '[custom_providers.vllm.models.mistral]\ninput = ["text", "video"]\n',
            "[custom_providers.vllm.models.mistral]",
            r"input\[1\]: .*'text', 'image', 'pdf' or 'audio'",
        ),
        ('[[instances]]\ntype = "openai"\n', "[[instances]] #1", "name: Field required"),
        (
            '[[instances]]\ntype = "openai"\nname = "a"\n[[instances]]\ntype = "openai"\nname = "work"\nenabled = "yes"\n',
            "[[instances]] #2 (name='work')",
            "enabled: .*boolean",
        ),
        (
            f'[[instances]]\ntype = "openai"\nname = "w"\nconfig = {{ api_key = {SECRET_NUMBER} }}\n',
            "[[instances]] #1 (name='w')",
            "config.api_key: .*string",
        ),
        ('[[instances]]\ntype = "openai"\nname = "a:b"\n', "[[instances]] #1", "name: .*':'"),
        (
            '[[instances]]\ntype = "openai"\nname = "w"\n[[instances]]\ntype = "anthropic"\nname = "w"\n',
            "[[instances]] #2 (name='w')",
            "name 'w' is already used by \\[\\[instances\\]\\] #1",
        ),
        ('[custom_provider.x]\nbase_url = "http://x"\n', "", "unknown section.*did you mean 'custom_providers'"),
    ],
)
def test_config_file_errors_name_the_file_table_and_field(
    srv: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: tuple[str, str, str]
) -> None:
    text, where, match = case
    path = _with_file(tmp_path, monkeypatch, text)
    syc.configure(custom_providers={"fake": {"base_url": srv.url + "/v1", "auth": "optional"}})
    for _ in range(2):  # the error repeats: a bad file is never silently skipped
        with pytest.raises(syc.InvalidConfig) as info:
            syc.generate_text("fake:m", "hi")
        message = str(info.value)
        assert str(path) in message
        assert where in message
        assert str(SECRET_NUMBER) not in message
        assert info.value.file == str(path)
    with pytest.raises(syc.InvalidConfig, match=match):
        syc.get_model("openai:gpt-4o")
    assert srv.requests == []


def test_config_file_values_are_normalised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _with_file(
        tmp_path,
        monkeypatch,
        """
[providers.gemini]
api_key = "from-file"
region = "eu"
timeout_ms = 1500

[custom_providers.myllm]
base_url = "http://127.0.0.1:5/v1"
auth = "none"
env = "MYLLM_KEY"
[custom_providers.myllm.models.tiny]
wireProtocol = "openai-completions"
contextWindow = 2048
input = "image"
compat = { maxTokensField = "max_tokens", supportsStore = false }
cost = { input = 1, cacheRead = 0.5 }

[custom_providers.openai]
wire_protocol = "openai_responses"
""",
    )
    tiny = syc.get_model("myllm:tiny")
    assert (tiny.api, tiny.context_window, tiny.input, tiny.env) == ("openai_chat", 2048, ("image",), ("MYLLM_KEY",))
    # on 127.0.0.1: the local defaults, with the model's own flags normalised on top
    assert dict(tiny.compat) == {**_catalog.LOCAL_COMPAT, "max_tokens_field": "max_tokens", "supports_store": False}
    assert tiny.cost is not None
    assert (tiny.cost.input, tiny.cost.cache_read) == (1.0, 0.5)
    assert syc.get_model("openai:gpt-4o").api == "openai_responses"  # over the catalog's own "api"
    creds = resolve_credentials(syc.get_model("google:gemini-2.5-flash"), None, {})
    assert (creds["api_key"], creds["region"], creds["timeout_ms"]) == ("from-file", "eu", 1500)


# -- 4b. configure() ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"providers": {"openai": {"api_key": SECRET_NUMBER}}}, r"providers\.openai\.api_key: .*string"),
        ({"providers": {"openai": "sk-abcdefghijklmnop"}}, r"providers\.openai: .*mapping"),
        ({"providers": {"openai": {"secret_access_key": ["a"]}}}, r"providers\.openai\.secret_access_key"),
        ({"custom_providers": {"v": {"base_ulr": "http://x"}}}, r"custom_providers\.v: unknown field 'base_ulr'"),
        ({"custom_providers": {"v": {"models": "llama"}}}, r"custom_providers\.v\.models: .*table"),
        (
            {"custom_providers": {"v": {"models": {"m": {"maxTokens": "8k"}}}}},
            r"custom_providers\.v\.models\.m\.max_tokens",
        ),
        (
            {"custom_providers": {"v": {"compat": {"thinking_format": "xml"}}}},
            r"custom_providers\.v\.compat\.thinking_format",
        ),
        ({"custom_providers": {"v": {"headers": {"x-key": 5}}}}, r"custom_providers\.v\.headers\.x-key: .*string"),
        ({"instances": [{"type": "openai"}]}, r"instances\[0\]\.name: Field required"),
        (
            {"instances": [{"type": "openai", "name": "w", "colour": "red"}]},
            r"instances\[0\] \(name='w'\): unknown field 'colour'",
        ),
        ({"max_connections": 0}, "max_connections must be a positive int"),
        ({"retry": {"max_retries": 3}}, "retry must be a RetryPolicy"),
    ],
)
def test_configure_arguments_are_checked(kwargs: dict[str, Any], match: str) -> None:
    syc.configure(providers={"openai": {"api_key": "sk-before"}})
    with pytest.raises(syc.InvalidConfig, match=match) as info:
        syc.configure(**kwargs)
    assert str(SECRET_NUMBER) not in str(info.value)
    assert "abcdefghijklmnop" not in str(info.value)
    assert info.value.file is None
    # a refused call changes nothing
    creds = resolve_credentials(syc.get_model("openai:gpt-4o"), None, {})
    assert creds["api_key"] == "sk-before"
    assert "v" not in syc.providers()


def test_configure_still_merges_and_normalises(srv: ScriptedServer) -> None:
    syc.configure(providers={"fake": {"api_key": "k1", "organization": "org"}})
    syc.configure(providers={"fake": {"api_key": "k2"}})
    syc.configure(
        custom_providers={
            "fake": {"auth": "required", "models": [syc.ModelConfig(id="m", context_window=99), {"id": "n"}]},
        }
    )
    model = syc.get_model("fake:m")
    assert (model.base_url, model.context_window, model.auth) == (srv.url + "/v1", 99, "required")
    assert syc.get_model("fake:n").known
    srv.add(_answer())
    syc.generate_text("fake:m", "hi")
    assert srv.requests[0].headers["authorization"] == "Bearer k2"
    syc.configure(limits={"max_body_bytes": 1024})
    with pytest.raises(syc.InvalidError, match=r"limits\.max_body_bytes"):
        syc.configure(limits={"max_body_bytes": -1})


def test_configure_stays_fast() -> None:
    providers = {"openai": {"api_key": "sk-x", "organization": "o"}}
    custom = {"loc": {"base_url": "http://127.0.0.1:1/v1", "auth": "none", "models": {"m": {"context_window": 8}}}}
    syc.configure(providers=providers, custom_providers=custom)  # first call builds the models
    n = 300
    start = time.perf_counter()
    for _ in range(n):
        syc.configure(providers=providers, custom_providers=custom)
    per_call = (time.perf_counter() - start) / n
    assert per_call < 0.002, f"configure() took {per_call * 1e6:.0f} µs per call"
