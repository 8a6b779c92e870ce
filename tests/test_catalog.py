"""The generated model catalog: coverage of the source data, merge rules, URLs, prices and laziness.

The source counts are computed here straight from ``../shared/catalog-source/`` (file listings and
``tomllib``), independently of ``scripts/gen_catalog.py``. Tests that need the source are skipped
when it is not there; the packaged catalog itself never needs it.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py import _catalog
from sycophant_py.testing import Reply, ScriptedServer

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gen_catalog.py"
DATA = REPO / "sycophant_py" / "_data"
SOURCE = REPO.parent / "shared" / "catalog-source"
MD = SOURCE / "models.dev"
needs_source = pytest.mark.skipif(not MD.is_dir(), reason="../shared/catalog-source is not present")
LOCAL = ("ollama", "vllm", "lmstudio", "llamacpp")


def source_ids() -> dict[str, set[str]]:
    """``{provider id: {model id}}`` from the file layout (README 1.3: ids are paths without ``.toml``)."""
    out: dict[str, set[str]] = {}
    for toml in sorted((MD / "providers").glob("*/provider.toml")):
        mdir = toml.parent / "models"
        files = mdir.rglob("*.toml") if mdir.is_dir() else []
        out[toml.parent.name] = {f.relative_to(mdir).with_suffix("").as_posix() for f in files}
    return out


def source_toml(path: str) -> dict[str, Any]:
    with (MD / path).open("rb") as f:
        return tomllib.load(f)


def cost(spec: str, inp: int, out: int, read: int = 0, write: int = 0) -> syc.Cost:
    c = syc.calculate_cost(spec, syc.Usage(inp, out, read, write))
    assert c is not None, spec
    return c


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_catalog", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -- coverage --------------------------------------------------------------------------------------


@needs_source
def test_every_source_provider_and_model_is_in_the_catalog() -> None:
    ids = source_ids()
    # the README's own totals (1.2 / 1.8) confirm the independent count
    assert (len(ids), sum(len(v) for v in ids.values())) == (147, 5276)
    known = set(syc.providers())
    assert known == set(ids) | {"ollama", "vllm", "llamacpp"}
    for pid, models in ids.items():
        row = _catalog.provider_row(pid)
        assert row is not None, pid
        assert set(row["models"]) == models, pid
    counts = _catalog.catalog_meta()["counts"]
    assert counts["models"] == 5276
    assert counts["providers"] == 147
    assert len(syc.models()) == 5276
    assert len(syc.models("together")) == len(ids["togetherai"])


@needs_source
def test_source_provenance_is_recorded() -> None:
    readme = (SOURCE / "README.md").read_text(encoding="utf-8")
    commit = re.search(r"\| commit \| `([0-9a-f]{40})`", readme)
    assert commit is not None
    meta = _catalog.catalog_meta()
    assert meta["sources"]["models.dev"]["commit"] == commit.group(1)
    assert meta["sources"]["litellm"]["version"] == "1.109.1"
    assert "MIT License" in meta["licenses"]["models.dev"]
    assert meta["generator"] == "scripts/gen_catalog.py"


# -- merge rules: hand-written rows, aliases, unknown models ----------------------------------------


@needs_source
def test_hand_written_local_rows_win_over_the_source() -> None:
    assert source_toml("providers/lmstudio/provider.toml")["api"] == "http://127.0.0.1:1234/v1"
    lm = syc.get_model("lmstudio:qwen/qwen3-30b-a3b-2507")
    assert (lm.base_url, lm.auth, lm.local, lm.api) == ("http://localhost:1234/v1", "none", True, "openai_chat")
    assert lm.known  # the source's models are kept
    assert source_toml("providers/deepseek/provider.toml")["api"] == "https://api.deepseek.com"
    assert syc.get_model("deepseek:deepseek-chat").base_url == "https://api.deepseek.com/v1"
    for pid in LOCAL:
        m = syc.get_model(f"{pid}:whatever-model")
        assert (m.local, m.known) == (True, False)
        assert m.base_url.startswith("http://localhost:")


def test_aliases() -> None:
    pairs = {
        "together": "togetherai",
        "fireworks": "fireworks-ai",
        "gemini": "google",
        "bedrock": "amazon-bedrock",
        "copilot": "github-copilot",
        "vertex": "google-vertex",
    }
    for alias, pid in pairs.items():
        assert _catalog.canonical_provider(alias) == pid
        assert syc.get_model(f"{alias}:x").provider == pid


def test_unknown_model_of_a_known_provider_uses_defaults_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sycophant_py"):
        m = syc.get_model("openai:gpt-from-the-future")
    assert not m.known
    assert (m.api, m.base_url, m.env) == ("openai_chat", "https://api.openai.com/v1", ("OPENAI_API_KEY",))
    assert (m.cost, m.context_window) == (None, None)
    assert [r.getMessage() for r in caplog.records] == ["model.unknown"]
    with caplog.at_level(logging.WARNING, logger="sycophant_py"):
        assert syc.get_model("ollama:any-model").local  # local servers accept any id quietly
    assert [r.getMessage() for r in caplog.records] == ["model.unknown"]


def test_env_vars_are_split_into_secrets_and_settings() -> None:
    cf = syc.get_model("cloudflare-workers-ai:@cf/meta/llama-3.1-8b-instruct")
    assert cf.env == ("CLOUDFLARE_API_KEY",)
    assert cf.settings_env["account_id"] == ("CLOUDFLARE_ACCOUNT_ID",)
    assert cf.base_url == "https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1"
    db = syc.get_model("databricks:x")
    assert (db.env, db.base_url) == (("DATABRICKS_TOKEN",), "https://{host}/ai-gateway/mlflow/v1")
    vx = syc.get_model("google-vertex:gemini-2.5-pro")
    assert vx.env == ()
    assert set(vx.settings_env) >= {"project", "location"}
    assert "AWS_REGION" not in syc.get_model("bedrock:x").env


# -- protocols and base URLs ------------------------------------------------------------------------


def test_protocol_per_provider_and_model_family() -> None:
    expect = {
        "anthropic:claude-sonnet-4-5": "anthropic_messages",
        "google:gemini-2.5-pro": "google_gemini",
        "bedrock:anthropic.claude-haiku-4-5-20251001-v1:0": "bedrock_converse",
        "openai:gpt-4o-mini": "openai_chat",
        "openai:gpt-5-codex": "openai_responses",  # LiteLLM: mode "responses"
        "openai:o3-pro": "openai_responses",
        "openai:text-embedding-3-small": "openai_embed",
        "google:gemini-embedding-001": "google_embed",
        "openrouter:anthropic/claude-sonnet-4.5": "openai_chat",
        "minimax:MiniMax-M2": "anthropic_messages",  # npm @ai-sdk/anthropic with its own api
        "opencode:claude-sonnet-4-5": "anthropic_messages",  # model-level npm override
        "opencode:gpt-5": "openai_responses",
        "bedrock:openai.gpt-5.4": "openai_responses",  # mantle, shape = responses
        "groq:llama-3.3-70b-versatile": "openai_chat",
    }
    assert {spec: syc.get_model(spec).api for spec in expect} == expect
    emb = syc.get_model("openai:text-embedding-3-small")
    assert (emb.capabilities["embeddings"], emb.capabilities["chat"]) == (True, False)


def test_base_url_rules_per_protocol() -> None:
    missing = set()
    for m in syc.models():
        url = m.base_url
        if not url:
            missing.add(m.provider)
            continue
        assert "${" not in url, m.spec
        assert not url.endswith("/"), m.spec
        placeholders = set(re.findall(r"\{(\w+)\}", url))
        assert placeholders <= set(m.settings_env) | {"model"}, (m.spec, placeholders)
        if m.api in ("openai_chat", "openai_responses", "openai_embed"):
            assert not url.endswith("/chat/completions"), m.spec
        elif m.api == "anthropic_messages":
            assert not url.endswith("/v1"), m.spec
        elif m.api in ("google_gemini", "google_embed") and m.provider == "google":
            assert url == "https://generativelanguage.googleapis.com/v1beta"
        elif m.api == "bedrock_converse":
            assert url == "https://bedrock-runtime.{region}.amazonaws.com"
    assert missing == {"gitlab", "merge-gateway", "sap-ai-core"}  # no documented endpoint in the source
    assert syc.get_model("anthropic:claude-sonnet-4-5").base_url == "https://api.anthropic.com"
    assert syc.get_model("minimax:MiniMax-M2").base_url == "https://api.minimax.io/anthropic"
    assert syc.get_model("opencode:claude-sonnet-4-5").base_url == "https://opencode.ai/zen"
    assert syc.get_model("opencode:claude-sonnet-4-5").auth_strategy == "anthropic"
    assert syc.get_model("opencode:gpt-5").base_url == "https://opencode.ai/zen/v1"
    assert syc.get_model("fireworks-ai:x").base_url == "https://api.fireworks.ai/inference/v1"  # trailing / dropped
    assert syc.get_model("bailing:x").base_url == "https://api.tbox.cn/api/llm/v1"  # /chat/completions dropped
    azure_claude = syc.get_model("azure:claude-sonnet-4-5")
    assert (azure_claude.api, azure_claude.base_url) == (
        "anthropic_messages",
        "https://{resource_name}.services.ai.azure.com/anthropic",
    )
    assert syc.get_model("bedrock:openai.gpt-5.4").base_url == "https://bedrock-mantle.{region}.api.aws/openai/v1"


# -- capabilities, limits and modalities against the source -----------------------------------------


@needs_source
@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ("openai:gpt-4o-mini", "providers/openai/models/gpt-4o-mini.toml"),
        ("anthropic:claude-sonnet-4-5", "providers/anthropic/models/claude-sonnet-4-5.toml"),
        ("google:gemini-2.0-flash", "providers/google/models/gemini-2.0-flash.toml"),
        ("mistral:mistral-large-latest", "providers/mistral/models/mistral-large-latest.toml"),
        ("openrouter:ai21/jamba-large-1.7", "providers/openrouter/models/ai21/jamba-large-1.7.toml"),
        ("togetherai:MiniMaxAI/MiniMax-M2.5", "providers/togetherai/models/MiniMaxAI/MiniMax-M2.5.toml"),
        ("groq:llama-3.3-70b-versatile", "providers/groq/models/llama-3.3-70b-versatile.toml"),
        ("deepseek:deepseek-reasoner", "providers/deepseek/models/deepseek-reasoner.toml"),
    ],
)
def test_capabilities_limits_and_modalities_match_the_source(spec: str, path: str) -> None:
    src = source_toml(path)
    assert "base_model" not in src  # self-contained files (inheritance is tested below)
    m = syc.get_model(spec)
    assert m.context_window == src["limit"]["context"]
    assert m.max_tokens == src["limit"]["output"]
    assert list(m.input) == src["modalities"]["input"]
    assert m.reasoning is src["reasoning"]
    caps = m.capabilities
    assert caps["tools"] is src["tool_call"]
    assert caps["reasoning"] is src["reasoning"]
    assert caps["vision"] is ("image" in src["modalities"]["input"])
    assert caps["pdf"] is ("pdf" in src["modalities"]["input"])
    assert caps["chat"] is True
    if "structured_output" in src:
        assert caps["json"] is src["structured_output"]
    assert m.name == src["name"]


@needs_source
def test_inherited_fields_come_from_the_base_model() -> None:
    own = source_toml("providers/github-copilot/models/gpt-5.4.toml")
    base = source_toml(f"models/{own['base_model']}.toml")
    assert "output" not in own["limit"]
    m = syc.get_model("copilot:gpt-5.4")
    assert m.context_window == own["limit"]["context"]
    assert m.max_tokens == base["limit"]["output"]
    assert list(m.input) == base["modalities"]["input"]
    assert m.extra["input_limit"] == own["limit"]["input"]
    assert m.capabilities["json"] is base["structured_output"]


# -- prices and cost -------------------------------------------------------------------------------


@needs_source
def test_prices_come_from_the_source_and_gaps_from_litellm() -> None:
    src = source_toml("providers/anthropic/models/claude-sonnet-4-5.toml")["cost"]
    c = syc.get_model("anthropic:claude-sonnet-4-5").cost
    assert c is not None
    assert (c.input, c.output, c.cache_read, c.cache_write) == (
        src["input"],
        src["output"],
        src["cache_read"],
        src["cache_write"],
    )
    # models.dev gives MiniMax-M2 only input/output; LiteLLM's per-token cache prices fill the gaps
    assert "cache_read" not in source_toml("providers/minimax/models/MiniMax-M2.toml")["cost"]
    mm = syc.get_model("minimax:MiniMax-M2")
    assert mm.extra["price_source"] == {"cache_read": "litellm", "cache_write": "litellm"}
    assert mm.cost == syc.ModelCost(0.3, 1.2, 0.03, 0.375)  # 3e-08 and 3.75e-07 per token
    # no models.dev cost at all: both prices from LiteLLM (5e-07 / 1.5e-06 per token)
    aya = syc.get_model("cohere:c4ai-aya-expanse-32b")
    assert aya.cost is not None
    assert (aya.cost.input, aya.cost.output) == (0.5, 1.5)


def test_cost_matches_hand_computed_values() -> None:
    # Anthropic Claude Sonnet 4.5: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million.
    c = cost("anthropic:claude-sonnet-4-5", 1000, 500, 2000, 400)
    assert c.input == pytest.approx(1000 * 3 / 1e6)  # 0.003
    assert c.output == pytest.approx(500 * 15 / 1e6)  # 0.0075
    assert c.cache_read == pytest.approx(2000 * 0.30 / 1e6)  # 0.0006
    assert c.cache_write == pytest.approx(400 * 3.75 / 1e6)  # 0.0015
    assert c.total == pytest.approx(0.0126)

    # OpenAI GPT-4o mini: $0.15 / $0.60 / $0.075 read; no cache-write price -> billed as input ($0.15).
    c = cost("openai:gpt-4o-mini", 800, 500, 200, 100)
    assert (c.input, c.output, c.cache_read, c.cache_write) == pytest.approx((120e-6, 300e-6, 15e-6, 15e-6))
    assert c.total == pytest.approx(450e-6)

    # Bedrock Claude Haiku 4.5: $1 / $5 / $0.10 read / $1.25 write.
    c = cost("bedrock:anthropic.claude-haiku-4-5-20251001-v1:0", 10_000, 1_000, 50_000, 20_000)
    assert (c.input, c.output, c.cache_read, c.cache_write) == pytest.approx((0.01, 0.005, 0.005, 0.025))
    assert c.total == pytest.approx(0.045)

    # Gemini 2.5 Pro: $1.25 / $10 / $0.125 read; no write price -> $1.25.
    c = cost("gemini:gemini-2.5-pro", 4000, 2000, 8000, 1000)
    assert (c.input, c.output, c.cache_read, c.cache_write) == pytest.approx((0.005, 0.02, 0.001, 0.00125))
    assert c.total == pytest.approx(0.02725)

    # DeepSeek Chat: $0.14 / $0.28 / $0.0028 read.
    c = cost("deepseek:deepseek-chat", 1_000_000, 100_000, 2_000_000)
    assert (c.input, c.output, c.cache_read) == pytest.approx((0.14, 0.028, 0.0056))
    assert c.total == pytest.approx(0.1736)

    # MiniMax M2 (cache prices from LiteLLM): $0.30 / $1.20 / $0.03 read / $0.375 write.
    c = cost("minimax:MiniMax-M2", 10_000, 10_000, 100_000, 10_000)
    assert (c.input, c.output, c.cache_read, c.cache_write) == pytest.approx((0.003, 0.012, 0.003, 0.00375))
    assert c.total == pytest.approx(0.02175)

    # No price anywhere: no cost.
    assert syc.calculate_cost("openai:gpt-image-1", syc.Usage(10, 10)) is None


def test_every_response_carries_its_cost_including_cache_reads_and_writes() -> None:
    usage = {
        "prompt_tokens": 3000,  # includes the 2000 cache reads and the 400 cache writes
        "completion_tokens": 500,
        "total_tokens": 3500,
        "prompt_tokens_details": {"cached_tokens": 2000, "cache_write_tokens": 400},
    }
    body = {
        "id": "gen-1",
        "object": "chat.completion",
        "model": "anthropic/claude-sonnet-4.5",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": usage,
    }
    with ScriptedServer() as srv:
        syc.configure(custom_providers={"openrouter": {"base_url": srv.url + "/v1"}})
        srv.add(Reply.json(body))
        resp = syc.generate_text(
            "openrouter:anthropic/claude-sonnet-4.5", "hi", credentials={"api_key": "sk-or-test-1234567890"}
        )
    u = resp.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens) == (600, 500, 2000, 400)
    assert u.cost is not None
    # $3 / $15 / $0.30 / $3.75 per million: 0.0018 + 0.0075 + 0.0006 + 0.0015
    assert (u.cost.input, u.cost.output, u.cost.cache_read, u.cost.cache_write) == pytest.approx(
        (0.0018, 0.0075, 0.0006, 0.0015)
    )
    assert u.cost.total == pytest.approx(0.0114)


# -- the generator ----------------------------------------------------------------------------------


@needs_source
def test_committed_data_is_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr


@needs_source
def test_check_reports_changed_and_stray_files(tmp_path: Path) -> None:
    data = tmp_path / "_data"
    shutil.copytree(DATA, data)
    gen = load_generator()
    files = gen.generate(SOURCE, data)
    assert gen.stale(files, data) == []
    text = (data / "models" / "openai.json").read_text(encoding="utf-8")
    (data / "models" / "openai.json").write_text(text.replace('"input":0.15,', '"input":0.16,'), encoding="utf-8")
    (data / "models" / "ghost.json").write_text("{}\n", encoding="utf-8")
    assert gen.stale(files, data) == ["models/openai.json", "models/ghost.json"]
    assert sorted(gen.write(files, data)) == ["models/ghost.json", "models/openai.json"]
    assert gen.stale(files, data) == []


# -- loading ---------------------------------------------------------------------------------------

_PROBE = """
import json, os, sys, time
opened = []
data_dir = sys.argv[1]
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith(data_dir):
        opened.append(os.path.relpath(args[0], data_dir))
sys.addaudithook(hook)
import sycophant_py as syc
at_import = list(opened)
catalog_imported = "sycophant_py._catalog" in sys.modules
t = time.perf_counter()
syc.get_model("openai:gpt-4o-mini")
first = time.perf_counter() - t
print(json.dumps({"at_import": at_import, "catalog_imported": catalog_imported, "opened": opened, "first": first}))
"""


def test_import_reads_no_data_and_first_resolution_reads_one_provider() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(DATA)], capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(proc.stdout)
    assert out["at_import"] == []
    assert not out["catalog_imported"]
    assert sorted(out["opened"]) == ["catalog.json", "models/openai.json", "providers.json"]
    print(f"\nfirst resolution (openai:gpt-4o-mini, fresh interpreter): {out['first'] * 1000:.1f} ms")
    assert out["first"] < 2.0  # generous: the machine may be busy; typically a few tens of ms
