"""Generate the packaged model catalog from the offline source data in ``../shared/catalog-source/``.

Run it from anywhere with the repository's interpreter::

    .venv/bin/python scripts/gen_catalog.py            # rewrite sycophant_py/_data/
    .venv/bin/python scripts/gen_catalog.py --check    # exit 1 when the committed data is stale

Inputs (see ``catalog-source/README.md``):

* models.dev (primary): ``providers/<id>/provider.toml`` and ``providers/<id>/models/**/*.toml``, with
  ``base_model`` inheritance from ``models/**/*.toml`` applied exactly as upstream's generator does;
* LiteLLM's ``model_prices_and_context_window.json`` (secondary): prices models.dev lacks (USD per
  token, converted to per million), the Responses-only flag of OpenAI models, deprecation dates;
* ``sycophant_py/_data/catalog.json``: the hand-written provider fields and local-server rows. The
  loader applies them over the generated rows (a hand-written field wins); the generator reads them
  too, so that model rows agree with the provider's hand-written protocol and base URL.

Outputs, written with sorted keys and one provider or model per line so that a refresh diffs cleanly:

* ``sycophant_py/_data/providers.json``: ``meta`` (sources, licences, counts) and every provider row
  without its models (base URL, wire protocol, auth, env vars, aliases, model count);
* ``sycophant_py/_data/models/<provider>.json``: that provider's models, loaded on first use.

Mapping rules:

* Wire protocol from models.dev's AI SDK package name (``npm``): openai-compatible, openrouter and
  the OpenAI-style SDK packages -> ``openai_chat``; ``@ai-sdk/anthropic`` -> ``anthropic_messages``;
  ``@ai-sdk/google`` -> ``google_gemini``; ``@ai-sdk/amazon-bedrock`` -> ``bedrock_converse``. A model's
  own ``provider.npm`` / ``provider.shape`` overrides it; OpenAI models that only serve the Responses API
  (LiteLLM ``mode: responses``, or a Responses-only family) get ``openai_responses``; embedding models
  get the provider's embedding protocol (``openai_embed``, ``google_embed``, ``bedrock_embed``).
* Base URLs follow DESIGN.md's table: the ``/v1`` prefix for OpenAI-style protocols (a trailing
  ``/chat/completions`` is dropped), the bare host for ``anthropic_messages`` (a trailing ``/v1`` is
  stripped), the ``/v1beta`` prefix for Gemini, the host root template for Bedrock. ``${VAR}``
  placeholders become ``{setting}`` templates and ``VAR`` moves from ``env`` (secrets) to
  ``settings_env``.
* Capabilities: ``chat, tools, json, vision, pdf, reasoning, embeddings`` from models.dev's flags and
  modalities (``json`` from ``structured_output``, else LiteLLM's ``supports_response_schema``);
  ``streaming`` only where LiteLLM states it. Absent means unknown.
* Prices in USD per million tokens: ``input, output, cache_read, cache_write`` from models.dev, gaps
  filled from LiteLLM's exact entry for the same provider and model id (``price_source`` lists the
  filled fields). A price absent from both stays absent; ``sycophant_py._catalog`` then bills cache
  reads and writes at the input price.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "catalog-source"
DATA = ROOT / "sycophant_py" / "_data"
sys.path.insert(0, str(ROOT))
from sycophant_py._catalog import overlay  # noqa: E402  (the loader's own merge rule, so both agree)

FORMAT = 1

# -- protocols and base URLs ------------------------------------------------------------------

# AI SDK package -> (wire protocol, default base URL when the provider row has no ``api``).
# The defaults are the SDK packages' own defaults or the vendor's documented OpenAI-compatible
# endpoint (Cohere's compatibility API, Vercel's and Cloudflare's gateways, Venice, AIHubMix).
NPM: dict[str, tuple[str, str | None]] = {
    "@ai-sdk/openai-compatible": ("openai_chat", None),
    "@openrouter/ai-sdk-provider": ("openai_chat", None),
    "@ai-sdk/openai": ("openai_chat", "https://api.openai.com/v1"),
    "@ai-sdk/azure": ("openai_chat", None),
    "@ai-sdk/anthropic": ("anthropic_messages", "https://api.anthropic.com/v1"),
    "@ai-sdk/google": ("google_gemini", "https://generativelanguage.googleapis.com/v1beta"),
    "@ai-sdk/google-vertex": ("google_gemini", None),
    "@ai-sdk/google-vertex/anthropic": ("anthropic_vertex", None),
    "@ai-sdk/amazon-bedrock": ("bedrock_converse", "https://bedrock-runtime.{region}.amazonaws.com"),
    "@ai-sdk/amazon-bedrock/mantle": ("openai_responses", None),
    "@ai-sdk/mistral": ("openai_chat", "https://api.mistral.ai/v1"),
    "@ai-sdk/groq": ("openai_chat", "https://api.groq.com/openai/v1"),
    "@ai-sdk/xai": ("openai_chat", "https://api.x.ai/v1"),
    "@ai-sdk/cerebras": ("openai_chat", "https://api.cerebras.ai/v1"),
    "@ai-sdk/deepinfra": ("openai_chat", "https://api.deepinfra.com/v1/openai"),
    "@ai-sdk/togetherai": ("openai_chat", "https://api.together.xyz/v1"),
    "@ai-sdk/perplexity": ("openai_chat", "https://api.perplexity.ai"),
    "@ai-sdk/cohere": ("openai_chat", "https://api.cohere.ai/compatibility/v1"),
    "@ai-sdk/vercel": ("openai_chat", "https://api.v0.dev/v1"),
    "@ai-sdk/gateway": ("openai_chat", "https://ai-gateway.vercel.sh/v1"),
    "@aihubmix/ai-sdk-provider": ("openai_chat", "https://aihubmix.com/v1"),
    "venice-ai-sdk-provider": ("openai_chat", "https://api.venice.ai/api/v1"),
    "ai-gateway-provider": ("openai_chat", "https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}/compat"),
    # No documented public endpoint: the base URL must come from configure()/register_provider().
    "gitlab-ai-provider": ("openai_chat", None),
    "merge-gateway-ai-sdk-provider": ("openai_chat", None),
    "@jerome-benoit/sap-ai-provider-v2": ("openai_chat", None),
}
# A model-level ``provider.npm`` naming OpenAI's own SDK selects the Responses API (that is why
# models of OpenAI-compatible providers such as opencode or zenmux name it).
MODEL_NPM = {"@ai-sdk/openai": "openai_responses"}
EMBED_FOR = {
    "openai_chat": "openai_embed",
    "openai_responses": "openai_embed",
    "google_gemini": "google_embed",
    "bedrock_converse": "bedrock_embed",
}
OPENAI_STYLE = frozenset({"openai_chat", "openai_responses", "openai_embed"})
# A model whose protocol differs from its provider's and that needs another auth header.
PROTOCOL_AUTH = {"anthropic_messages": "anthropic", "google_gemini": "google"}
# Providers whose auth strategy covers every protocol they serve (registered by provider id).
OWN_AUTH = frozenset({"azure", "azure-cognitive-services", "amazon-bedrock", "google-vertex", "anthropic", "google"})
# OpenAI's own API hosts, where LiteLLM's ``mode: responses`` means "not on /chat/completions".
RESPONSES_HOSTS = frozenset({"openai", "azure", "azure-cognitive-services", "github-copilot"})
RESPONSES_FAMILIES = frozenset({"gpt-codex", "gpt-codex-mini", "gpt-codex-spark", "gpt-pro", "o-pro"})

# models.dev ``env`` names that are settings, not secrets -> the credential field they fill.
SETTINGS_VARS = {
    "AWS_REGION": "region",
    "AWS_ACCESS_KEY_ID": "access_key_id",
    "AWS_SECRET_ACCESS_KEY": "secret_access_key",
    "AZURE_RESOURCE_NAME": "resource_name",
    "AZURE_COGNITIVE_SERVICES_RESOURCE_NAME": "resource_name",
    "CLOUDFLARE_ACCOUNT_ID": "account_id",
    "CLOUDFLARE_GATEWAY_ID": "gateway_id",
    "DATABRICKS_HOST": "host",
    "GOOGLE_VERTEX_PROJECT": "project",
    "GOOGLE_VERTEX_LOCATION": "location",
    "GOOGLE_VERTEX_ENDPOINT": "endpoint",
    "GOOGLE_APPLICATION_CREDENTIALS": "application_credentials",
    "NEON_AI_GATEWAY_BASE_URL": "gateway_url",
    "PRIVATEMODE_ENDPOINT": "base_url",
    "SNOWFLAKE_ACCOUNT": "account",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})

# -- LiteLLM join -----------------------------------------------------------------------------

# models.dev provider -> (LiteLLM ``litellm_provider`` values, key prefixes). A LiteLLM entry is used
# only when its key is the model id itself or ``<prefix>/<model id>`` and its provider is listed.
_VERTEX = [
    "vertex_ai-language-models",
    "vertex_ai",
    "vertex_ai-embedding-models",
    "vertex_ai-text-models",
    "vertex_ai-mistral_models",
    "vertex_ai-llama_models",
    "vertex_ai-deepseek_models",
    "vertex_ai-qwen_models",
    "vertex_ai-zai_models",
    "vertex_ai-openai_models",
    "vertex_ai-minimax_models",
    "vertex_ai-moonshot_models",
    "vertex_ai-ai21_models",
]
LITELLM: dict[str, tuple[list[str], list[str]]] = {
    "openai": (["openai", "text-completion-openai"], []),
    "anthropic": (["anthropic"], []),
    "google": (["gemini"], ["gemini"]),
    "google-vertex": (_VERTEX, ["vertex_ai"]),
    "google-vertex-anthropic": (["vertex_ai-anthropic_models"], ["vertex_ai"]),
    "amazon-bedrock": (["bedrock_converse", "bedrock", "bedrock_mantle"], ["bedrock", "bedrock/converse"]),
    "azure": (["azure", "azure_ai", "azure_text"], ["azure", "azure_ai"]),
    "azure-cognitive-services": (["azure", "azure_ai", "azure_text"], ["azure", "azure_ai"]),
    "mistral": (["mistral", "codestral"], ["mistral"]),
    "togetherai": (["together_ai"], ["together_ai"]),
    "fireworks-ai": (["fireworks_ai", "fireworks_ai-embedding-models"], ["fireworks_ai"]),
    "cohere": (["cohere", "cohere_chat"], ["cohere"]),
    "vercel": (["vercel_ai_gateway"], ["vercel_ai_gateway"]),
    "zhipuai": (["bigmodel"], ["bigmodel"]),
    "moonshotai": (["moonshot"], ["moonshot"]),
    "alibaba": (["dashscope"], ["dashscope"]),
    "github-copilot": (["github_copilot"], ["github_copilot"]),
    "opencode-go": (["opencode_go"], ["opencode_go"]),
    "novita-ai": (["novita"], ["novita"]),
    "friendli": (["friendliai"], ["friendliai"]),
    "gmicloud": (["gmi"], ["gmi"]),
    "cloudflare-workers-ai": (["cloudflare"], ["cloudflare"]),
    "snowflake-cortex": (["snowflake"], ["snowflake"]),
    "nvidia": (["nvidia_nim"], ["nvidia_nim"]),
    "xiaomi": (["xiaomi_mimo"], ["xiaomi_mimo"]),
    "abliteration-ai": (["abliteration"], ["abliteration"]),
    "llama": (["meta_llama"], ["meta_llama"]),
}
# Same slug on both sides.
_SAME_SLUG = ["groq", "deepseek", "xai", "deepinfra", "perplexity", "cerebras", "v0", "aihubmix", "databricks"]
_SAME_SLUG += ["nebius", "baseten", "wandb", "ovhcloud", "scaleway", "morph", "inception", "zai", "minimax", "sarvam"]
for _slug in _SAME_SLUG:
    LITELLM[_slug] = ([_slug], [_slug])

_LL_PRICES = {
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
}
# Misspelt cost keys in a few models.dev files (upstream's generator drops them; they are prices).
_COST_TYPOS = {"cached_input": "cache_read", "cache_input": "cache_read", "cached_write": "cache_write"}

# -- model kinds --------------------------------------------------------------------------------

_EMBED_FAMILIES = frozenset(
    {"text-embedding", "cohere-embed", "mistral-embed", "codestral-embed", "gemini-embedding", "titan-embed"}
)
_CHAT_MODES = frozenset({"chat", "responses", "completion"})


def is_embedding(model_id: str, m: Mapping[str, Any], ll: Mapping[str, Any] | None) -> bool:
    """Embedding models: by LiteLLM's mode, else by name and family (models.dev has no flag)."""
    if ll is not None and ll.get("mode"):
        return bool(ll["mode"] == "embedding")
    name = model_id.lower()
    if "rerank" in name:
        return False
    family = m.get("family") or ""
    return "embed" in name or family in _EMBED_FAMILIES or family in ("bge", "voyage")


def is_chat(model_id: str, m: Mapping[str, Any], ll: Mapping[str, Any] | None, embedding: bool, api: str) -> bool:
    """Chat models: LiteLLM's mode when known, else text output and not an embedding or reranker.

    Gemini's image models answer ``generateContent`` with text and images, so they are chat models
    there even though LiteLLM files them under image generation.
    """
    if embedding:
        return False
    text_out = "text" in m["modalities"]["output"]
    if ll is not None and ll.get("mode"):
        return ll["mode"] in _CHAT_MODES or (api == "google_gemini" and text_out and ll["mode"] == "image_generation")
    return text_out and "rerank" not in model_id.lower()


# -- reading the sources ------------------------------------------------------------------------


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _omit(d: dict[str, Any], path: str) -> None:
    *parents, last = path.split(".")
    chain: list[tuple[dict[str, Any], str]] = []
    cur: Any = d
    for p in parents:
        if not isinstance(cur, dict) or p not in cur:
            return
        chain.append((cur, p))
        cur = cur[p]
    if isinstance(cur, dict):
        cur.pop(last, None)
    for parent, key in reversed(chain):
        if parent[key] == {}:
            del parent[key]


def _toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def _tree(folder: Path) -> dict[str, Path]:
    """``{id: file}`` for every ``*.toml`` under ``folder`` (an id containing ``/`` is a subfolder)."""
    if not folder.is_dir():
        return {}
    return {f.relative_to(folder).with_suffix("").as_posix(): f for f in sorted(folder.rglob("*.toml"))}


def load_models_dev(root: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, dict[str, Any]]]]:
    """Provider rows and effective models (``base_model`` inheritance applied) of models.dev."""
    meta = {mid: _toml(f) for mid, f in _tree(root / "models").items()}
    providers: dict[str, dict[str, Any]] = {}
    models: dict[str, dict[str, dict[str, Any]]] = {}
    for pdir in sorted(p for p in (root / "providers").iterdir() if (p / "provider.toml").is_file()):
        providers[pdir.name] = _toml(pdir / "provider.toml")
        out: dict[str, dict[str, Any]] = {}
        for mid, f in _tree(pdir / "models").items():
            raw = _toml(f)
            if "base_model" in raw:
                skip = ("id", "benchmarks", "license", "links", "weights")
                base = {k: v for k, v in copy.deepcopy(meta[raw["base_model"]]).items() if k not in skip}
                eff = _deep_merge(base, {k: v for k, v in raw.items() if k not in ("base_model", "base_model_omit")})
                for path in raw.get("base_model_omit", ()):
                    _omit(eff, path)
                raw = eff
            out[mid] = raw
        models[pdir.name] = out
    return providers, models


def read_provenance(readme: str) -> dict[str, Any]:
    """Source commit, version and dates, read from catalog-source/README.md."""

    def find(pattern: str, what: str) -> str:
        m = re.search(pattern, readme)
        if m is None:
            raise SystemExit(f"gen_catalog: cannot find the {what} in catalog-source/README.md")
        return m.group(1)

    return {
        "models.dev": {
            "repository": find(r"\| repository \| (https://github\.com/\S+)", "models.dev repository"),
            "commit": find(r"\| commit \| `([0-9a-f]{40})`", "models.dev commit"),
            "snapshot": find(r"\| snapshot date \| commit date ([0-9-]+ [0-9:]+ [+-][0-9]{4})", "models.dev date"),
            "license": "MIT, Copyright (c) 2025 models.dev",
        },
        "litellm": {
            "project": "https://github.com/BerriAI/litellm",
            "version": find(r"release \*\*litellm ([0-9.]+)\*\*", "LiteLLM version"),
            "file_sha256": find(r"sha256 `([0-9a-f]{64})`, [0-9,]+ bytes", "LiteLLM file sha256"),
            "uploaded": find(r"uploaded ([0-9-]+T[0-9:]+Z)", "LiteLLM upload date"),
            "license": "MIT, Copyright (c) 2023 Berri AI",
        },
    }


def source_digest(source: Path) -> str:
    """sha256 over every source file (path and content), so a changed input shows in the output."""
    h = hashlib.sha256()
    for f in sorted(p for p in source.rglob("*") if p.is_file()):
        h.update(f.relative_to(source).as_posix().encode())
        h.update(b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()


# -- building rows ------------------------------------------------------------------------------


def _template(url: str, settings: dict[str, list[str]], where: str) -> str:
    """``${VAR}`` -> ``{setting}``, recording ``VAR`` under ``settings[setting]``."""

    def sub(m: re.Match[str]) -> str:
        var = m.group(1)
        name = SETTINGS_VARS.get(var)
        if name is None:
            raise SystemExit(f"gen_catalog: {where}: unknown URL placeholder ${{{var}}}; add it to SETTINGS_VARS")
        names = settings.setdefault(name, [])
        if var not in names:
            names.append(var)
        return "{" + name + "}"

    return _PLACEHOLDER.sub(sub, url)


def base_url_for(protocol: str, url: str, settings: dict[str, list[str]], where: str) -> str:
    """Apply DESIGN.md's base-URL rule of ``protocol`` to a source URL."""
    base = _template(url.strip(), settings, where).rstrip("/")
    if protocol in OPENAI_STYLE and base.endswith("/chat/completions"):
        base = base[: -len("/chat/completions")]
    if protocol == "anthropic_messages" and base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise SystemExit(f"gen_catalog: not a number: {v!r}")
    return float(v)


def _per_million(per_token: Any) -> float:
    return float(f"{float(per_token) * 1_000_000:.10g}")


def litellm_entry(
    litellm: Mapping[str, Any], provider: str, model_id: str
) -> tuple[str, Mapping[str, Any]] | tuple[None, None]:
    """LiteLLM's entry for the same provider and model id, or ``(None, None)``."""
    spec = LITELLM.get(provider)
    if spec is None:
        return None, None
    kinds, prefixes = spec
    for key in (model_id, *(f"{p}/{model_id}" for p in prefixes)):
        e = litellm.get(key)
        if isinstance(e, dict) and e.get("litellm_provider") in kinds:
            return key, e
    return None, None


def build_cost(m: Mapping[str, Any], ll: Mapping[str, Any] | None) -> tuple[dict[str, float] | None, list[str]]:
    """The four prices (USD per million tokens) and the fields taken from LiteLLM."""
    src = m.get("cost") or {}
    cost: dict[str, float] = {k: _number(src[k]) for k in _LL_PRICES if k in src}
    for typo, key in _COST_TYPOS.items():
        if typo in src and key not in cost:
            cost[key] = _number(src[typo])
    filled: list[str] = []
    if ll is not None:
        have_base = "input" in cost and "output" in cost
        ll_base = _LL_PRICES["input"] in ll and _LL_PRICES["output"] in ll
        for key, ll_key in _LL_PRICES.items():
            if key in cost or ll_key not in ll:
                continue
            if key in ("input", "output") and (have_base or not ll_base):
                continue
            if key == "cache_write" and not ll[ll_key]:
                continue  # LiteLLM writes 0 for "no separate write price"; that is not information
            if key == "cache_read" and "input" not in cost and not ll_base:
                continue
            cost[key] = _per_million(ll[ll_key])
            filled.append(key)
    if "input" not in cost or "output" not in cost:
        return None, []
    return cost, sorted(filled)


def capabilities(
    m: Mapping[str, Any], ll: Mapping[str, Any] | None, chat: bool, embedding: bool, inputs: list[str]
) -> dict[str, bool]:
    """Capability flags; a flag the sources do not establish is left out (unknown)."""
    caps: dict[str, bool] = {"chat": chat, "embeddings": embedding}
    if embedding:
        return caps
    caps["tools"] = bool(m.get("tool_call"))
    caps["reasoning"] = bool(m.get("reasoning"))
    caps["vision"] = "image" in inputs
    caps["pdf"] = "pdf" in inputs
    if "structured_output" in m:
        caps["json"] = bool(m["structured_output"])
    elif ll is not None and "supports_response_schema" in ll:
        caps["json"] = bool(ll["supports_response_schema"])
    if ll is not None and "supports_native_streaming" in ll:
        caps["streaming"] = bool(ll["supports_native_streaming"])
    return caps


def model_protocol(
    pid: str, prow: Mapping[str, Any], model_id: str, m: Mapping[str, Any], ll: Mapping[str, Any] | None
) -> str:
    """The wire protocol of one chat model."""
    default = str(prow["api"])
    if prow.get("uniform_protocol"):
        return default
    over: Mapping[str, Any] = m.get("provider") or {}
    npm = over.get("npm")
    proto = default
    if npm:
        if npm not in NPM:
            raise SystemExit(f"gen_catalog: {pid}/{model_id}: unknown npm package {npm!r}; add it to NPM")
        proto = MODEL_NPM.get(npm) or NPM[npm][0]
    shape = over.get("shape")
    if shape == "responses" and proto in OPENAI_STYLE:
        proto = "openai_responses"
    elif shape == "completions" and proto in OPENAI_STYLE:
        proto = "openai_chat"
    if proto == "openai_chat" and pid in RESPONSES_HOSTS and not npm:
        responses_only = ll.get("mode") == "responses" if ll is not None else False
        family = m.get("family") or ""
        if responses_only or (ll is None and (family in RESPONSES_FAMILIES or "deep-research" in model_id)):
            proto = "openai_responses"
    return proto


def build_model(
    pid: str,
    prow: Mapping[str, Any],
    model_id: str,
    *,
    settings: dict[str, list[str]],
    m: Mapping[str, Any],
    litellm: Mapping[str, Any],
) -> dict[str, Any]:
    """One catalog model row (keys as ``sycophant_py._catalog`` reads them).

    ``prow`` is the provider row as the loader will see it (hand-written fields on top); URL
    placeholders of the model are recorded in ``settings`` (the generated row's ``settings_env``).
    """
    _, ll = litellm_entry(litellm, pid, model_id)
    embedding = is_embedding(model_id, m, ll)
    chat = is_chat(model_id, m, ll, embedding, str(prow["api"]))
    inputs = list(m["modalities"]["input"])
    row: dict[str, Any] = {
        "name": m["name"],
        "input": inputs,
        "output": list(m["modalities"]["output"]),
        "capabilities": capabilities(m, ll, chat, embedding, inputs),
        "release_date": m["release_date"],
        "open_weights": bool(m["open_weights"]),
    }
    if not embedding:
        row["reasoning"] = bool(m.get("reasoning"))
    limit = m.get("limit") or {}
    if limit.get("context"):
        row["context_window"] = int(limit["context"])
    if limit.get("input"):
        row["input_limit"] = int(limit["input"])
    if limit.get("output") and not embedding:  # an embedding's "output" limit is its dimension count
        row["max_tokens"] = int(limit["output"])
    for key in ("family", "knowledge", "status", "temperature"):
        if key in m:
            row[key] = m[key]
    if ll is not None and ll.get("deprecation_date"):
        row["deprecation_date"] = ll["deprecation_date"]
    cost, filled = build_cost(m, ll)
    if cost is not None:
        row["cost"] = cost
    if filled:
        row["price_source"] = {k: "litellm" for k in filled}

    over: Mapping[str, Any] = m.get("provider") or {}
    if embedding:
        proto = str(prow.get("embed_api") or EMBED_FOR.get(prow["api"], "openai_embed"))
    else:
        proto = model_protocol(pid, prow, model_id, m, ll)
    if proto != prow["api"]:
        row["api"] = proto
    if prow.get("uniform_protocol"):
        return row
    where = f"{pid}/{model_id}"
    if over.get("api"):
        row["base_url"] = base_url_for(proto, str(over["api"]), settings, where)
    elif not embedding and proto != prow["api"]:
        special = (prow.get("protocol_base_urls") or {}).get(proto)
        source_api = prow.get("_source_api")
        if special:
            row["base_url"] = special
        elif source_api:
            row["base_url"] = base_url_for(proto, source_api, settings, where)
    if "base_url" in row and row["base_url"] == prow.get("base_url"):
        del row["base_url"]
    strategy = PROTOCOL_AUTH.get(proto)
    if strategy and proto != prow["api"] and pid not in OWN_AUTH:
        row["auth_strategy"] = strategy
    return row


def build_provider(pid: str, src: Mapping[str, Any]) -> dict[str, Any]:
    """One generated provider row (without models) from ``provider.toml``."""
    npm = src["npm"]
    if npm not in NPM:
        raise SystemExit(f"gen_catalog: {pid}: unknown npm package {npm!r}; add it to NPM")
    proto, default_url = NPM[npm]
    settings: dict[str, list[str]] = {}
    env: list[str] = []
    for var in src["env"]:
        if var in SETTINGS_VARS:
            settings.setdefault(SETTINGS_VARS[var], []).append(var)
        else:
            env.append(var)
    url = src.get("api") or default_url
    row: dict[str, Any] = {
        "name": src["name"],
        "api": proto,
        "env": env,
        "doc": src["doc"],
        "npm": npm,
        "settings_env": settings,
    }
    if url:
        row["base_url"] = base_url_for(proto, url, settings, pid)
        if urlsplit(row["base_url"]).hostname in _LOOPBACK:
            row.update(local=True, auth="optional")
    if src.get("api"):
        row["_source_api"] = src["api"]
    embed = EMBED_FOR.get(proto)
    if embed and embed != EMBED_FOR.get("openai_chat"):
        row["embed_api"] = embed
    if proto in PROTOCOL_AUTH and pid not in OWN_AUTH:
        row["auth_strategy"] = PROTOCOL_AUTH[proto]
    return row


# -- output -------------------------------------------------------------------------------------


def _line_json(obj: Mapping[str, Any]) -> str:
    """JSON with sorted keys and one top-level entry per line (small diffs, fast to parse)."""
    items = [
        f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(obj[k], sort_keys=True, ensure_ascii=False, separators=(',', ':'))}"
        for k in sorted(obj)
    ]
    return "{\n" + ",\n".join(items) + "\n}\n"


def _drop_private(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if not k.startswith("_")}
    if not out.get("settings_env"):
        out.pop("settings_env", None)
    return out


def generate(source: Path, data: Path = DATA) -> dict[str, str]:
    """Every output file: ``{path relative to the data directory: text}``.

    ``data`` holds the hand-written ``catalog.json`` that the generated rows are computed against.
    """
    md_providers, md_models = load_models_dev(source / "models.dev")
    litellm: dict[str, Any] = json.loads((source / "litellm" / "model_prices_and_context_window.json").read_bytes())
    curated: dict[str, dict[str, Any]] = json.loads((data / "catalog.json").read_text(encoding="utf-8"))["providers"]

    rows: dict[str, dict[str, Any]] = {}
    model_files: dict[str, dict[str, Any]] = {}
    stats = {"litellm_prices": 0, "litellm_price_fields": 0, "with_cost": 0, "embeddings": 0}
    for pid, src in md_providers.items():
        gen = build_provider(pid, src)
        seen = overlay(gen, curated.get(pid, {}))  # what the loader will see
        models: dict[str, Any] = {}
        for mid, m in md_models[pid].items():
            mrow = build_model(pid, seen, mid, settings=gen["settings_env"], m=m, litellm=litellm)
            models[mid] = mrow
            stats["with_cost"] += "cost" in mrow
            stats["embeddings"] += bool(mrow["capabilities"].get("embeddings"))
            if "price_source" in mrow:
                stats["litellm_prices"] += 1
                stats["litellm_price_fields"] += len(mrow["price_source"])
        rows[pid] = gen
        model_files[pid] = models

    files: dict[str, str] = {}
    index: dict[str, Any] = {}
    for pid in sorted(rows):
        row = _drop_private(rows[pid])
        row["model_count"] = len(model_files[pid])
        index[pid] = row
        if model_files[pid]:
            files[f"models/{pid}.json"] = _line_json(model_files[pid])
    readme = (source / "README.md").read_text(encoding="utf-8")
    meta = {
        "format": FORMAT,
        "generator": "scripts/gen_catalog.py",
        "sources": read_provenance(readme),
        "source_digest": source_digest(source),
        "licenses": {
            "models.dev": (source / "models.dev" / "LICENSE").read_text(encoding="utf-8"),
            "litellm": (source / "litellm" / "LICENSE").read_text(encoding="utf-8"),
        },
        "counts": {
            "providers": len(index),
            "models": sum(len(v) for v in model_files.values()),
            **stats,
        },
        "hand_written": "catalog.json (applied over these rows when the catalog is loaded)",
        "hand_written_only": sorted(set(curated) - set(md_providers)),
    }
    files["providers.json"] = (
        "{\n"
        + f'"meta":{json.dumps(meta, sort_keys=True, ensure_ascii=False, separators=(",", ":"))},\n'
        + '"providers":'
        + _line_json(index).rstrip("\n")
        + "\n}\n"
    )
    return files


def stale(files: Mapping[str, str], data: Path = DATA) -> list[str]:
    """Paths under ``data`` whose content differs from ``files`` (or that should not exist)."""
    out = []
    for rel, text in sorted(files.items()):
        path = data / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(rel)
    models_dir = data / "models"
    existing = {f"models/{p.name}" for p in models_dir.glob("*.json")} if models_dir.is_dir() else set()
    out.extend(sorted(existing - set(files)))
    return out


def write(files: Mapping[str, str], data: Path = DATA) -> list[str]:
    """Write the files, delete model files of providers that no longer exist; return changed paths."""
    changed = stale(files, data)
    for rel in changed:
        path = data / rel
        if rel in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[rel], encoding="utf-8")
        else:
            path.unlink()
    return changed


def main(argv: Iterable[str] | None = None) -> int:
    """Command line: generate, or ``--check`` that the committed data is up to date."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="catalog-source directory")
    parser.add_argument("--data", type=Path, default=DATA, help="package data directory (sycophant_py/_data)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed data differs")
    args = parser.parse_args(list(argv) if argv is not None else None)
    files = generate(args.source, args.data)
    if args.check:
        bad = stale(files, args.data)
        if bad:
            print(f"gen_catalog: {len(bad)} file(s) out of date: {', '.join(bad[:10])}", file=sys.stderr)
            print("gen_catalog: run .venv/bin/python scripts/gen_catalog.py", file=sys.stderr)
            return 1
        print(f"gen_catalog: up to date ({len(files)} files)")
        return 0
    changed = write(files, args.data)
    print(f"gen_catalog: {len(files)} files, {len(changed)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
