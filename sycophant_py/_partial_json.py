"""Parse the longest valid prefix of a JSON document that is still arriving.

Used for ``toolcall_delta`` (the arguments parsed so far) and ``stream_object`` (the partial
object). An incomplete string value is kept as far as it goes; an incomplete key, number or
literal is dropped; open objects and arrays are closed.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["parse_partial_json"]

_WS = " \t\r\n"
_PARTIAL_UNICODE = re.compile(r"(\\+)u[0-9a-fA-F]{0,3}$")


def parse_partial_json(text: str) -> Any:
    """Return the value of the longest usable prefix of ``text``, or None if there is none."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    repaired = _repair(text)
    if repaired is None:
        return None
    try:
        return json.loads(repaired)
    except ValueError:
        return None


def _repair(text: str) -> str | None:  # noqa: C901, PLR0912, PLR0915 - one small hand-written scanner
    stack: list[str] = []  # "{" or "["
    in_string = False
    escape = False
    string_start = 0
    # Position after the last complete value/opening at each depth, and whether a key is pending.
    safe = 0
    safe_stack: list[str] = []
    expecting_key = False
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if in_string:
            if escape:
                escape = False
            elif c == "\\":
                escape = True
            elif c == '"':
                in_string = False
                if not expecting_key:
                    safe, safe_stack = i + 1, stack.copy()
            i += 1
            continue
        if c == '"':
            in_string = True
            string_start = i
        elif c in "{[":
            stack.append(c)
            expecting_key = c == "{"
            safe, safe_stack = i + 1, stack.copy()
        elif c in "}]":
            if stack:
                stack.pop()
            expecting_key = False
            safe, safe_stack = i + 1, stack.copy()
        elif c == ":":
            expecting_key = False
        elif c == ",":
            expecting_key = bool(stack) and stack[-1] == "{"
            safe, safe_stack = i, stack.copy()
        elif c not in _WS:
            # number or literal: complete when followed by a delimiter
            j = i
            while j < n and text[j] not in ",}] \t\r\n":
                j += 1
            if j < n:
                safe, safe_stack = j, stack.copy()
            i = j
            continue
        i += 1
    if in_string and not expecting_key:
        body = text[string_start:]
        # drop a dangling escape: a lone backslash, or an incomplete \\uXXXX
        if escape:
            body = body[:-1]
        else:
            m = _PARTIAL_UNICODE.search(body)
            if m and (len(m.group(1)) % 2 == 1):
                body = body[: m.start() + len(m.group(1)) - 1]
        head = text[:string_start] + body + '"'
        return _close(head, stack)
    prefix = text[:safe].rstrip(_WS)
    if prefix.endswith(","):
        prefix = prefix[:-1]
    if prefix.endswith(":"):
        return None
    prefix = _drop_dangling_key(prefix, safe_stack)
    if not prefix:
        return None
    return _close(prefix, safe_stack)


def _drop_dangling_key(prefix: str, stack: list[str]) -> str:
    """Remove a trailing ``"key"`` with no value inside an object."""
    if not stack or stack[-1] != "{" or not prefix.endswith('"'):
        return prefix
    # find the opening quote of the last string
    j = len(prefix) - 2
    while j >= 0:
        if prefix[j] == '"' and (j == 0 or prefix[j - 1] != "\\"):
            break
        j -= 1
    before = prefix[:j].rstrip(_WS)
    if before.endswith(("{", ",")):
        return before[:-1] if before.endswith(",") else before
    return prefix


def _close(prefix: str, stack: list[str]) -> str:
    return prefix + "".join("}" if s == "{" else "]" for s in reversed(stack))
