"""Summarise py-spy ``--format raw`` (collapsed stacks) into the hottest functions."""

from __future__ import annotations

import re
import sys
from collections import Counter

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def _frame(raw: str) -> str:
    m = _FRAME.match(raw.strip())
    if not m:
        return raw.strip()
    path = m["file"]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['func']} ({path})"


def summarise(text: str, focus: str = "sycophant_py", top: int = 15) -> str:
    """Top functions by self and by inclusive samples, plus the share spent inside ``focus``."""
    self_c: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = in_focus = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        total += n
        self_c[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
        if any(focus in f for f in frames):
            in_focus += n
    if not total:
        return "no samples"
    lines = [f"{total} samples; {100 * in_focus / total:.0f}% with {focus} on the stack", "", "self time:"]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in self_c.most_common(top)]
    lines += ["", f"inclusive ({focus} frames):"]
    ours = [(f, c) for f, c in incl.most_common() if focus in f][:top]
    lines += [f"  {100 * c / total:5.1f}%  {f}" for f, c in ours]
    return "\n".join(lines)


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        print(summarise(fh.read(), *(sys.argv[2:3] or [])))
