"""Shared call params and their validation.

``SharedParams`` holds the params every wire protocol understands. A protocol extends it by
subclassing (its ``param_schema()`` returns the subclass). The pipeline first strips keys the
schema does not know (one ``params.dropped`` warning naming them), then validates: a wrong type
or range raises ``InvalidParams`` naming the param and what is allowed, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sycophant_py._exceptions import InvalidParams

__all__ = ["EmbeddingParams", "ExtraBody", "SharedParams", "validate_params"]

ToolChoice = Literal["auto", "none", "required"] | str | dict[str, Any]


class SharedParams(BaseModel):
    """Params shared by every wire protocol (all optional; None means "provider default")."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    temperature: float | None = Field(None, ge=0.0, le=2.0)
    """Sampling temperature."""
    max_tokens: int | None = Field(None, ge=1)
    """Maximum output tokens."""
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    """Nucleus sampling mass."""
    top_k: int | None = Field(None, ge=1)
    """Top-k sampling."""
    stop: str | list[str] | None = None
    """Stop sequence(s)."""
    seed: int | None = None
    """Sampling seed, where supported."""
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    """Reasoning effort for reasoning models."""
    reasoning_budget: int | None = Field(None, ge=0)
    """Reasoning token budget (Anthropic/Gemini thinking budget)."""
    tool_choice: ToolChoice | None = None
    """``auto``, ``none``, ``required`` or a tool name."""
    parallel_tool_calls: bool | None = None
    """Allow several tool calls in one answer."""
    service_tier: str | None = None
    """Provider service tier (``auto``, ``default``, ``flex``, ``priority``...)."""
    foreign_thinking: Literal["text", "drop"] | None = None
    """Thinking from another provider in the conversation: replayed as plain ``text`` or ``drop``ped
    (default: the ``configure(foreign_thinking=...)`` setting, ``text`` unless set). Never sent."""


@cache
def _fields(schema: type[BaseModel]) -> frozenset[str]:
    return frozenset(schema.model_fields)


def _describe(schema: type[BaseModel], name: str) -> str:
    field = schema.model_fields.get(name)
    if field is None:
        return ""
    bounds = []
    for meta in field.metadata:
        for attr, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            v = getattr(meta, attr, None)
            if v is not None:
                bounds.append(f"{sym} {v}")
    ann = getattr(field.annotation, "__name__", None) or str(field.annotation).replace("typing.", "")
    return f" (allowed: {ann}{'; ' + ', '.join(bounds) if bounds else ''})"


def validate_params(schema: type[BaseModel], params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Strip unknown keys and validate the rest.

    Returns:
        The validated params without None values, and the names that were dropped.

    Raises:
        InvalidParams: a param has the wrong type or range (the message names it).
    """
    known = _fields(schema)
    dropped = [k for k in params if k not in known]
    kept = {k: v for k, v in params.items() if k in known and v is not None}
    if not kept:
        return {}, dropped
    try:
        model = schema.model_validate(kept)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "?"
        raise InvalidParams(
            f"Invalid param {name}={kept.get(name)!r}: {err['msg']}{_describe(schema, name)}", param=name
        ) from None
    return {k: getattr(model, k) for k in kept}, dropped


class ExtraBody(BaseModel):
    """The ``extra_body`` param, for protocols that merge it into the body (mixed into their params)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    extra_body: dict[str, Any] | None = None
    """Extra top-level fields merged into the body as they are (server-specific options)."""


class EmbeddingParams(BaseModel):
    """Params shared by embedding protocols."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    dimensions: int | None = Field(None, ge=1)
    """Output dimensions, where the model supports shortening."""
    encoding_format: Literal["float", "base64"] | None = None
    """Wire encoding of the vectors (results are always lists of floats)."""
    input_type: str | None = None
    """Input role for models that distinguish queries from documents."""
    batch_size: int | None = Field(None, ge=1)
    """Most inputs per request (defaults to the protocol's limit)."""
