"""Request encoding for ``ollama_native``: our messages, tools and params to an ``/api/chat`` body.

Sampling params go in an ``options`` object (``max_tokens`` is ``num_predict``); images are base64
strings in a message's ``images`` list; tool results name the tool (``tool_name``); reasoning is
switched on with ``think`` (a bool or a level); structured output is ``format`` holding the schema.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from typing_extensions import override

from sycophant_py._exceptions import InvalidMessage
from sycophant_py._handoff import ANY_IDS, HandoffRules, prepare_history
from sycophant_py._models import ModelInfo
from sycophant_py._types import DocumentPart, ImagePart, Message, Part, TextPart, ThinkingPart, Tool, ToolCall
from sycophant_py.wire._base import Request, WireProtocol
from sycophant_py.wire._media import check_inputs
from sycophant_py.wire._util import assistant_pieces, function_tool, stop_list

__all__ = ["Encoding", "ThinkLevel", "map_messages"]

ThinkLevel = Literal["low", "medium", "high", "max"]
_RULES = HandoffRules(tool_ids=ANY_IDS, thinking_separator="\n\n")

# reasoning_effort -> think
_EFFORT: dict[str, bool | ThinkLevel] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "max",
}


# Params that go into ``options`` under the same name (``max_tokens`` is mapped to ``num_predict``).
_OPTION_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "min_p",
    "typical_p",
    "repeat_penalty",
    "repeat_last_n",
    "presence_penalty",
    "frequency_penalty",
    "num_ctx",
    "num_keep",
    "num_batch",
    "num_gpu",
    "num_thread",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
)


def _images_and_text(parts: Sequence[Part], role: str) -> tuple[str, list[str]]:
    texts: list[str] = []
    images: list[str] = []
    for p in parts:
        if isinstance(p, TextPart):
            texts.append(p.text)
        elif isinstance(p, ImagePart):
            if p.data is None:
                raise InvalidMessage(
                    f"ollama_native: images must be given as bytes or data: URLs (Ollama fetches no URLs): {p.url}"
                )
            images.append(base64.b64encode(p.data).decode("ascii"))
        elif isinstance(p, DocumentPart) and p.media_type.startswith("text/") and p.data is not None:
            texts.append(p.data.decode("utf-8", "replace"))
        else:
            raise InvalidMessage(
                f"ollama_native: a {role} message cannot hold a {p.kind} part"
                + (f" ({p.media_type})" if isinstance(p, DocumentPart) else "")
            )
    return "".join(texts), images


def _map_message(msg: Message, names: dict[str, str]) -> dict[str, Any]:
    if msg.role == "system":
        return {"role": "system", "content": msg.text}
    if msg.role == "assistant":
        return _map_assistant(msg, names)
    role = "user" if msg.role == "user" else "tool"
    content, images = _images_and_text(msg.parts, msg.role)
    out: dict[str, Any] = {"role": role, "content": content}
    if images:
        out["images"] = images
    if role == "tool":
        name = msg.name or names.get(msg.tool_call_id or "")
        if name:
            out["tool_name"] = name
    return out


def _map_assistant(msg: Message, names: dict[str, str]) -> dict[str, Any]:
    other = next((p for p in msg.parts if not isinstance(p, (TextPart, ThinkingPart, ToolCall))), None)
    if other is not None:
        raise InvalidMessage(f"ollama_native: an assistant message cannot hold a {other.kind} part")
    text, thinking, calls = assistant_pieces(msg, thinking=True)
    out: dict[str, Any] = {"role": "assistant", "content": text}
    if thinking:
        out["thinking"] = "".join(thinking)
    if calls:
        names.update((c.id, c.name) for c in calls)
        out["tool_calls"] = [{"function": {"name": c.name, "arguments": dict(c.arguments)}} for c in calls]
    return out


def map_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Our messages as ``/api/chat`` messages (tool results are matched to names by call id)."""
    names: dict[str, str] = {}
    return [_map_message(m, names) for m in messages]


def _think(params: Mapping[str, Any]) -> bool | str | None:
    if "think" in params:
        value: bool | str = params["think"]
        return value
    effort = params.get("reasoning_effort")
    if effort is not None:
        return _EFFORT[effort]
    budget = params.get("reasoning_budget")
    if budget is not None:
        return bool(budget > 0)
    return None


def _options(params: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = dict(params.get("options") or {})
    for key in _OPTION_KEYS:
        if key in params:
            options[key] = params[key]
    if "max_tokens" in params:
        options["num_predict"] = params["max_tokens"]
    if "stop" in params:
        options["stop"] = stop_list(params["stop"])
    return options


class Encoding(WireProtocol):
    """The request half of ``ollama_native``: path, history rules, body, tools and ``format``."""

    @override
    def unsupported_params(self, model: ModelInfo, params: Mapping[str, Any]) -> list[str]:
        """``parallel_tool_calls``, ``service_tier`` and a ``tool_choice`` other than ``auto`` / ``none``:
        ``/api/chat`` has no field for them."""
        out = [k for k in ("parallel_tool_calls", "service_tier") if k in params]
        if params.get("tool_choice") not in (None, "auto", "none"):
            out.append("tool_choice")
        return out

    @override
    def encode_request(self, request: Request) -> dict[str, Any]:
        """The ``/api/chat`` body.

        Raises:
            UnsupportedInput: the model's row refuses images, or the input is a PDF, audio or an image
                URL (Ollama takes base64 images only), before anything is sent.
        """
        params = request.params
        check_inputs(request.model, request.messages, self.name, accepts=("image",))
        messages = prepare_history(request, self.handoff_rules(request.model))
        body: dict[str, Any] = {"model": request.model.id, "messages": map_messages(messages)}
        if request.tools and params.get("tool_choice") != "none":
            body["tools"] = self.encode_tools(request.tools)
        if request.response_schema is not None:
            body["format"] = self.encode_response_schema(request.response_schema, request.schema_name)
        elif "format" in params:
            body["format"] = params["format"]
        options = _options(params)
        if options:
            body["options"] = options
        think = _think(params)
        if think is not None:
            body["think"] = think
        for key in ("keep_alive", "logprobs", "top_logprobs"):
            if key in params:
                body[key] = params[key]
        body["stream"] = request.stream
        return body

    @override
    def encode_tools(self, tools: Sequence[Tool]) -> list[dict[str, Any]]:
        """Function tools (no strict mode)."""
        return [function_tool(t) for t in tools]

    @override
    def encode_response_schema(self, schema: Mapping[str, Any], name: str = "response") -> dict[str, Any]:
        """The ``format`` value: the JSON schema itself (Ollama takes no name)."""
        return dict(schema)
