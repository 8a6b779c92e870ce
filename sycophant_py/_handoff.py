"""Conversations that move between providers: tool-call ids, foreign thinking, failed turns.

A :class:`~sycophant_py.Context` made on one provider can be sent to any other. Before a wire
protocol encodes a conversation it calls :func:`prepare_history` with its own
:class:`HandoffRules` (``WireProtocol.handoff_rules(model)``), which applies, in order:

1. **Failed turns are left out.** An assistant message whose ``finish_reason`` is ``error`` or
   ``aborted`` (a stream that broke, or that the caller closed) is skipped, together with the tool
   results that answer its calls: the model never made those calls as far as the next request
   shows.
2. **Tool-call ids are made acceptable to the target.** An id the target refuses (too long, other
   characters, empty, or already used earlier in the conversation) is rewritten, and every result
   that answers that call gets the same new id. The rewrite is deterministic (the same conversation
   gives the same ids on every request, however it grows) and a new id is never one the conversation
   already uses. Ids the target accepts are sent verbatim, so a conversation that stays on one
   provider keeps its provider's ids. The accepted forms are :class:`ToolIdRule` constants, each
   with the document that states it, in the encoder of the protocol that accepts them
   (:data:`ANY_IDS`, for protocols that send no ids of other providers' calls, is here).
3. **What only the producing provider can read stays with it.** For an assistant turn from another
   provider (or, where the target says it matters, another model family): thinking signatures,
   encrypted and redacted reasoning, opaque provider parts and the provider data of tool calls
   (Gemini thought signatures, Responses item ids) are dropped. Readable thinking becomes plain
   text (``foreign_thinking="text"``, the default: the model still sees what was thought before)
   or is dropped (``"drop"``). Thinking from the target's own provider is left to the encoder,
   signatures intact.

A turn's origin is ``Message.provider`` / ``Message.model`` (the pipeline sets them on every
answer) and, for thinking, ``ThinkingPart.provider`` (which also stands for a turn saved before
messages recorded their provider). A turn with no recorded origin at all (built by hand) keeps its
parts: the encoder decides, as it does for the target's own turns.

Everything here is pure.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, TypeAlias

from sycophant_py._types import Message, Part, TextPart, ThinkingPart, ToolCall

if TYPE_CHECKING:
    from sycophant_py._models import ModelInfo
    from sycophant_py.wire._base import Request

__all__ = [
    "ANY_IDS",
    "FOREIGN_THINKING",
    "ForeignThinking",
    "HandoffRules",
    "ToolIdRule",
    "foreign_thinking_of",
    "prepare_history",
]

ForeignThinking: TypeAlias = Literal["text", "drop"]
"""What happens to readable thinking from another provider: plain text, or nothing."""
FOREIGN_THINKING: tuple[ForeignThinking, ...] = ("text", "drop")
"""The accepted values of the ``foreign_thinking`` setting (the first is the default)."""

_FAILED = frozenset(("error", "aborted"))
_HASH_CHARS = 16  # hex digits of SHA-256 in a rewritten id (64 bits)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SAFE = "a-zA-Z0-9_-"  # what a rewrite keeps of the original when the rule names no alphabet


@functools.cache
def _charset(alphabet: str) -> re.Pattern[str]:
    return re.compile(f"[{alphabet}]+")


@functools.cache
def _bad_chars(alphabet: str) -> re.Pattern[str]:
    return re.compile(f"[^{alphabet}]")


def _digest(tool_id: str, salt: int) -> bytes:
    text = tool_id if salt == 0 else f"{tool_id}\x00{salt}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _base62(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_BASE62[r])
    return "".join(out) or "0"


@dataclass(frozen=True, slots=True)
class ToolIdRule:
    """The tool-call ids a protocol accepts, and the deterministic rewrite of the others.

    A rewritten id keeps the start of the original (characters outside the alphabet, or outside
    ``[a-zA-Z0-9_-]`` when the rule names none, become ``_``) and ends with ``_`` plus 16 hex digits
    of the original's SHA-256, within ``max_length``; an exact-length rule (Mistral) takes that many
    base-62 characters of the hash.
    """

    max_length: int | None = None
    """Longest id accepted (None: no limit)."""
    alphabet: str | None = None
    """The accepted characters, as the body of a regex character class (``A-Za-z0-9_-``); None: any."""
    length: int | None = None
    """The exact length every id must have (None: any length up to ``max_length``)."""
    source: str = ""
    """Where the provider documents the rule."""

    def accepts(self, tool_id: str) -> bool:
        """True when the target takes ``tool_id`` as it is."""
        if not tool_id:
            return False
        if self.length is not None and len(tool_id) != self.length:
            return False
        if self.max_length is not None and len(tool_id) > self.max_length:
            return False
        return self.alphabet is None or _charset(self.alphabet).fullmatch(tool_id) is not None

    def rewrite(self, tool_id: str, salt: int = 0) -> str:
        """A new id the target accepts, derived only from ``tool_id`` and ``salt`` (0 for the first try)."""
        digest = _digest(tool_id, salt)
        if self.length is not None:
            return _base62(digest).rjust(self.length, "0")[: self.length]
        code = digest.hex()[:_HASH_CHARS]
        limit = self.max_length or 64
        clean = _bad_chars(self.alphabet or _SAFE).sub("_", tool_id)
        room = limit - len(code) - 1
        if room <= 0:
            return code[:limit]
        prefix = clean[:room].strip("_")
        return f"{prefix}_{code}" if prefix else f"call_{code}"

    def fit(self, tool_id: str) -> str:
        """``tool_id`` when accepted, else its rewrite (no knowledge of the conversation)."""
        return tool_id if self.accepts(tool_id) else self.rewrite(tool_id)


ANY_IDS = ToolIdRule(source="ids are not sent, or any non-empty string is taken")
"""Protocols that send no ids for other providers' calls (Gemini: calls and results are matched by
name and order unless Gemini made the id; Ollama's ``/api/chat`` has no id field at all)."""


def _no_family(model_id: str) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class HandoffRules:
    """What one protocol (for one model) accepts from a conversation made elsewhere."""

    tool_ids: ToolIdRule = ANY_IDS
    """The ids it accepts (others are rewritten)."""
    verifies: frozenset[str] = frozenset()
    """Providers besides the target's own whose thinking signatures it verifies (Bedrock's Claude
    models verify Anthropic's)."""
    family: Callable[[str], str | None] = field(default=_no_family)
    """The model family of a model id, where signatures do not cross families (Gemini's major
    version); None for an id it cannot place (then only the provider counts)."""
    thinking_separator: str = ""
    """Appended to thinking replayed as text when text follows it in the turn: ``"\\n\\n"`` for
    protocols that join a message's text parts into one string, so it stays its own paragraph."""


def foreign_thinking_of(request: Request) -> ForeignThinking:
    """The ``foreign_thinking`` setting of a request: the call's param, else the configured one."""
    value = request.params.get("foreign_thinking") or request.foreign_thinking
    return "drop" if value == "drop" else "text"


def _native(provider: str | None, model_id: str | None, target: ModelInfo, rules: HandoffRules) -> bool | None:
    """Is something from ``provider``/``model_id`` the target's own? None when the origin is unknown."""
    if provider is None:
        return None
    if provider != target.provider and provider not in rules.verifies:
        return False
    if model_id:
        theirs, ours = rules.family(model_id), rules.family(target.id)
        if theirs is not None and ours is not None and theirs != ours:
            return False
    return True


class _Ids:
    """The id map of one conversation: calls in order of appearance, results paired to their turn."""

    def __init__(self, rule: ToolIdRule) -> None:
        self.rule = rule
        self.used: set[str] = set()
        self.latest: dict[str, str] = {}  # original id -> the new id of its latest call
        self.turn: dict[str, list[str]] = {}  # original id -> new ids of the open turn's calls
        self.answered: dict[str, int] = {}

    def close_turn(self) -> None:
        self.turn, self.answered = {}, {}

    def call(self, raw: str) -> str:
        new = raw if self.rule.accepts(raw) and raw not in self.used else self._fresh(raw)
        self.used.add(new)
        self.turn.setdefault(raw, []).append(new)
        self.latest[raw] = new
        return new

    def _fresh(self, raw: str) -> str:
        salt = 0
        new = self.rule.rewrite(raw)
        while new in self.used:
            salt += 1
            new = self.rule.rewrite(raw, salt)
        return new

    def result(self, raw: str) -> str:
        """The id of the call a result answers: calls of the open turn first, in order for repeats."""
        news = self.turn.get(raw)
        if news:
            n = self.answered.get(raw, 0)
            self.answered[raw] = n + 1
            return news[min(n, len(news) - 1)]
        return self.latest.get(raw) or self.rule.fit(raw)


class _Prepare:
    """One pass over a conversation for one target (see the module docstring)."""

    def __init__(self, target: ModelInfo, rules: HandoffRules, foreign_thinking: ForeignThinking) -> None:
        self.target = target
        self.rules = rules
        self.text = foreign_thinking == "text"
        self.ids = _Ids(rules.tool_ids)
        self.skipped: set[str] | None = None  # original call ids of a left-out turn, while results may follow

    def run(self, messages: Sequence[Message]) -> tuple[Message, ...]:
        out: list[Message] = []
        for msg in messages:
            kept = self.message(msg)
            if kept is not None:
                out.append(kept)
        return tuple(out)

    def message(self, msg: Message) -> Message | None:
        if msg.role == "tool_result":
            raw = msg.tool_call_id or ""
            if self.skipped is not None and raw in self.skipped:
                return None
            new = self.ids.result(raw)
            return msg if new == raw else replace(msg, tool_call_id=new)
        self.ids.close_turn()
        self.skipped = None
        if msg.role != "assistant":
            return msg
        if msg.finish_reason in _FAILED:
            self.skipped = {c.id for c in msg.tool_calls}
            return None
        return self.assistant(msg)

    def foreign(self, part: ThinkingPart, msg: Message) -> bool:
        return _native(part.provider or msg.provider, msg.model, self.target, self.rules) is False

    def assistant(self, msg: Message) -> Message | None:
        if isinstance(msg.content, str):
            return msg
        turn_native = _native(msg.provider or _thinking_origin(msg), msg.model, self.target, self.rules)
        parts: list[Part] = []
        as_text: list[int] = []  # positions of thinking turned into text
        for p in msg.content:
            if isinstance(p, ThinkingPart) and self.foreign(p, msg):
                if self.text and p.text.strip() and not p.redacted:
                    as_text.append(len(parts))
                    parts.append(TextPart(p.text.strip()))
            elif isinstance(p, ToolCall):
                parts.append(self.call(p, keep_data=turn_native is not False))
            else:
                parts.append(p)
        if len(parts) == len(msg.content) and all(a is b for a, b in zip(parts, msg.content, strict=True)):
            return msg
        if self.rules.thinking_separator:
            _separate(parts, as_text, self.rules.thinking_separator)
        if not parts:
            return None  # nothing of this turn can be sent to the target
        return replace(msg, content=tuple(parts))

    def call(self, call: ToolCall, *, keep_data: bool) -> ToolCall:
        new_id = self.ids.call(call.id)
        data = call.provider_data if keep_data else None
        if new_id == call.id and data is call.provider_data:
            return call
        return replace(call, id=new_id, provider_data=data)


def _thinking_origin(msg: Message) -> str | None:
    """For a turn saved before messages recorded their provider: the provider its thinking names,
    when all of it names the same one."""
    providers = {p.provider for p in msg.parts if isinstance(p, ThinkingPart) and p.provider}
    return providers.pop() if len(providers) == 1 else None


def _separate(parts: list[Part], as_text: list[int], separator: str) -> None:
    """Thinking replayed as text stays apart from the text that follows it in the turn."""
    for i in as_text:
        part = parts[i]
        if isinstance(part, TextPart) and any(isinstance(p, TextPart) and p.text for p in parts[i + 1 :]):
            parts[i] = TextPart(part.text + separator)


def prepare_history(request: Request, rules: HandoffRules) -> tuple[Message, ...]:
    """The conversation of ``request`` as the target may receive it (see the module docstring).

    Args:
        request: The request being encoded (its model is the target; its ``foreign_thinking`` param
            or setting says what happens to other providers' thinking).
        rules: The target protocol's rules for that model.

    Returns:
        The messages to encode; unchanged messages are the same objects.
    """
    messages = request.messages
    if not any(m.role in ("assistant", "tool_result") for m in messages):
        return tuple(messages)  # nothing another provider made: the common first turn costs nothing
    return _Prepare(request.model, rules, foreign_thinking_of(request)).run(messages)
