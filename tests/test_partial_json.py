from __future__ import annotations

import json

import pytest

from sycophant_py.wire import parse_partial_json

DOC = {"city": "Paris", "days": [1, 2, {"x": True, "y": None}], "note": 'say "hi"\\n', "n": -12.5e3, "e": {}}


def test_every_prefix_parses_to_a_prefix_of_the_document() -> None:
    text = json.dumps(DOC)
    last: object = None
    for i in range(1, len(text) + 1):
        value = parse_partial_json(text[:i])
        if value is None:
            assert last is None, f"prefix {text[:i]!r} lost what was parsed before"
            continue
        assert isinstance(value, dict)
        for k, v in value.items():
            assert k in DOC
            if isinstance(v, str) and k != "city":
                whole = DOC[k]
                assert whole.startswith(v) if isinstance(whole, str) else True
        last = value
    assert parse_partial_json(text) == DOC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": "hel', {"a": "hel"}),
        ('{"a": 1, "b', {"a": 1}),
        ('{"a": 1, "b":', {"a": 1}),
        ('{"a": tr', {}),
        ('{"a": [1, 2', {"a": [1]}),  # a trailing number may still grow
        ('{"a": [1, 2,', {"a": [1, 2]}),
        ('{"a": "x\\', {"a": "x"}),
        ('{"a": "x\\u00', {"a": "x"}),
        ('{"a": {"b": {"c": "deep', {"a": {"b": {"c": "deep"}}}),
        ("", None),
        ("{", {}),
        ("[", []),
    ],
)
def test_cases(text: str, expected: object) -> None:
    assert parse_partial_json(text) == expected
