"""Print pip constraints pinning every runtime dependency to the lowest version pyproject allows.

``make test-oldest`` installs with them, so the lower bounds we publish are bounds we test.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def main() -> int:
    data = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    for dep in data["project"]["dependencies"]:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*([^;#]*)", dep)
        if m is None:
            continue
        name, spec = m.group(1), m.group(2)
        low = re.search(r">=\s*([0-9][^,\s]*)", spec)
        if low is None:
            print(f"no lower bound for {name!r}: every runtime dependency needs one", file=sys.stderr)
            return 1
        print(f"{name}=={low.group(1)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
