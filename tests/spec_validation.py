"""Validate request bodies the library sends against the vendors' official OpenAPI specs.

The specs live in ``../shared/specs`` (relative to the repository root) and are never edited: the OpenAI
spec mixes OpenAPI 3.0 ``nullable: true`` into a 3.1 document, so :func:`fix_nullable` rewrites it on an
in-memory copy before a Draft 2020-12 validator is built (see ``shared/specs/README.md``).

Each ``validate_*`` function raises :class:`AssertionError` with one readable line per problem.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

__all__ = [
    "SPECS_DIR",
    "fix_nullable",
    "openai_validator",
    "ollama_validator",
    "validate_openai_chat_request",
    "validate_openai_embedding_request",
    "validate_openai_responses_request",
    "validate_ollama_chat_request",
    "validate_ollama_embed_request",
    "schema_errors",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = (REPO_ROOT / ".." / "shared" / "specs").resolve()
OPENAI_SPEC = SPECS_DIR / "openai" / "openapi.json"
OLLAMA_SPEC = SPECS_DIR / "ollama" / "openapi.yaml"

_OPENAI_URN = "urn:openai"
_OLLAMA_URN = "urn:ollama"
_MAX_ERRORS = 8
_MAX_MESSAGE = 240


def fix_nullable(node: Any) -> Any:
    """Return a copy of an OpenAPI 3.0-flavoured schema tree with ``nullable: true`` made 3.1-valid.

    ``{type: T, nullable: true}`` becomes ``{type: [T, 'null']}``; where there is no plain type (or an
    ``enum``/``const`` that would still refuse ``null``) the schema becomes ``anyOf: [schema, {type: null}]``.
    Only boolean ``nullable`` keys are touched, so a *property* named ``nullable`` survives.
    """
    if isinstance(node, list):
        return [fix_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: fix_nullable(value) for key, value in node.items() if not _is_nullable_flag(key, value)}
    if node.get("nullable") is not True:
        return out
    kind = out.get("type")
    if isinstance(kind, str) and "enum" not in out and "const" not in out:
        out["type"] = [kind, "null"]
        return out
    if isinstance(kind, list) and "enum" not in out and "const" not in out:
        if "null" not in kind:
            out["type"] = [*kind, "null"]
        return out
    return {"anyOf": [out, {"type": "null"}]}


def _is_nullable_flag(key: str, value: Any) -> bool:
    return key == "nullable" and isinstance(value, bool)


@functools.cache
def _openai_registry() -> Registry[Any]:
    spec = fix_nullable(json.loads(OPENAI_SPEC.read_bytes()))
    registry: Registry[Any] = Registry().with_resource(_OPENAI_URN, DRAFT202012.create_resource(spec))
    return registry


@functools.cache
def _ollama_registry() -> Registry[Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = fix_nullable(yaml.load(OLLAMA_SPEC.read_text(encoding="utf-8"), Loader=loader))
    registry: Registry[Any] = Registry().with_resource(_OLLAMA_URN, DRAFT202012.create_resource(spec))
    return registry


@functools.cache
def openai_validator(schema_name: str) -> Draft202012Validator:
    """A cached validator for ``#/components/schemas/<schema_name>`` of the OpenAI spec."""
    if schema_name not in _openai_registry().contents(_OPENAI_URN)["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in {OPENAI_SPEC}")
    ref = {"$ref": f"{_OPENAI_URN}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_openai_registry())


@functools.cache
def ollama_validator(schema_name: str) -> Draft202012Validator:
    """A cached validator for ``#/components/schemas/<schema_name>`` of the Ollama spec."""
    if schema_name not in _ollama_registry().contents(_OLLAMA_URN)["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in {OLLAMA_SPEC}")
    ref = {"$ref": f"{_OLLAMA_URN}#/components/schemas/{schema_name}"}
    return Draft202012Validator(ref, registry=_ollama_registry())


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _describe(error: ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "<root>"
    line = f"{where}: {_short(error.message)}"
    if error.context:  # anyOf / oneOf: say which branch came closest
        closest = best_match(error.context)
        inner = "/".join(str(part) for part in closest.absolute_path) or "<root>"
        line += f" (closest branch: {inner}: {_short(closest.message)})"
    return line


def schema_errors(validator: Draft202012Validator, body: Any) -> list[str]:
    """Readable descriptions of every top-level error of ``body`` (empty list when valid)."""
    errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    return [_describe(error) for error in errors]


def _check(validator: Draft202012Validator, body: Any, what: str) -> None:
    problems = schema_errors(validator, body)
    if not problems:
        return
    shown = problems[:_MAX_ERRORS]
    more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    raise AssertionError(
        f"{what} does not match the spec ({len(problems)} problem(s)):\n  " + "\n  ".join(shown) + more
    )


def validate_openai_chat_request(body: dict[str, Any]) -> None:
    """Assert ``body`` is a valid OpenAI ``POST /chat/completions`` request (CreateChatCompletionRequest)."""
    _check(openai_validator("CreateChatCompletionRequest"), body, "OpenAI chat request")


def validate_openai_embedding_request(body: dict[str, Any]) -> None:
    """Assert ``body`` is a valid OpenAI ``POST /embeddings`` request (CreateEmbeddingRequest)."""
    _check(openai_validator("CreateEmbeddingRequest"), body, "OpenAI embedding request")


def validate_openai_responses_request(body: dict[str, Any]) -> None:
    """Assert ``body`` is a valid OpenAI ``POST /responses`` request (CreateResponse)."""
    _check(openai_validator("CreateResponse"), body, "OpenAI Responses request")


def validate_ollama_chat_request(body: dict[str, Any]) -> None:
    """Assert ``body`` is a valid Ollama ``POST /api/chat`` request (ChatRequest)."""
    _check(ollama_validator("ChatRequest"), body, "Ollama chat request")


def validate_ollama_embed_request(body: dict[str, Any]) -> None:
    """Assert ``body`` is a valid Ollama ``POST /api/embed`` request (EmbedRequest)."""
    _check(ollama_validator("EmbedRequest"), body, "Ollama embed request")
