"""The contract every chat wire protocol passes against scripted servers.

Parametrised over the registry: each registered chat protocol that loads runs every test here
through the public API, with replies rendered by its dialect (``tests/contract/dialects``). The
checks themselves ship with the library (``sycophant_py.testing.contract``), so authors of custom
protocols and stream functions run exactly these.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sycophant_py._exceptions import InvalidRegistration
from sycophant_py._registry import get_protocol, known_protocols
from sycophant_py.testing import ScriptedServer
from sycophant_py.testing import contract as c
from tests.contract.dialect import Dialect
from tests.contract.dialects import dialect_for


def _available() -> list[str]:
    out = []
    for name in known_protocols("chat"):
        try:
            get_protocol("chat", name)
        except InvalidRegistration:
            continue  # a built-in whose module is not in this version yet
        out.append(name)
    return out


PROTOCOLS = _available()


@pytest.fixture(params=PROTOCOLS)
def dialect(request: pytest.FixtureRequest) -> Dialect:
    d = dialect_for(request.param)
    if d is None:
        pytest.fail(f"chat protocol {request.param!r} has no contract dialect in tests/contract/dialects/")
    return d


@pytest.fixture
def server(dialect: Dialect) -> Iterator[ScriptedServer]:
    with c.contract_provider(dialect) as srv:
        yield srv


def test_text(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_text(dialect, server)


def test_length_finish(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_length_finish(dialect, server)


def test_system_prompt_and_multi_turn(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_system_prompt_and_multi_turn(dialect, server)


def test_tools_sent_and_calls_decoded(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_tools_sent_and_calls_decoded(dialect, server)


def test_tool_loop_runs_functions(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_tool_loop_runs_functions(dialect, server)


@pytest.mark.parametrize("chunk_size", c.CHUNK_SIZES_TEXT)
def test_stream_text(dialect: Dialect, server: ScriptedServer, chunk_size: int | None) -> None:
    c.check_stream_text(dialect, server, chunk_size)


@pytest.mark.parametrize("chunk_size", c.CHUNK_SIZES_TOOLS)
def test_stream_tool_calls(dialect: Dialect, server: ScriptedServer, chunk_size: int | None) -> None:
    c.check_stream_tool_calls(dialect, server, chunk_size)


def test_structured_output_at_protocol_level(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_structured_output_at_protocol_level(dialect, server)


@pytest.mark.parametrize(("status", "exc"), c.ERROR_CASES)
def test_error_mapping(dialect: Dialect, server: ScriptedServer, status: int, exc: type[Exception]) -> None:
    c.check_error_mapping(dialect, server, status, exc)


def test_async_matches_sync(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_async_matches_sync(dialect, server)


def test_handoff_foreign_context(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_handoff_foreign_context(dialect, server)


def test_handoff_thinking_dropped(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_handoff_thinking_dropped(dialect, server)


def test_handoff_failed_turn_left_out(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_handoff_failed_turn_left_out(dialect, server)


# -- overflow, inputs and decoding shapes (the "never seen traffic" issue) --------------------------

STREAM_QUIRKS = {
    "openai_chat": {"no_end_marker", "audio_tokens", "cached_over_prompt"},
    "openai_responses": {"content_index", "cached_over_prompt"},
    "anthropic_messages": {"no_end_marker"},
    "anthropic_vertex": {"no_end_marker"},  # Anthropic's replies
    "bedrock_converse": {"no_end_marker"},
    "google_gemini": {"no_end_marker", "cached_over_prompt"},
    "ollama_native": set(),
}
"""The decoding shapes each API has (the dialects must render exactly these: nothing is skipped silently)."""


def test_dialects_render_the_shapes_their_api_has(dialect: Dialect) -> None:
    rendered = {q for q in c.QUIRKS if dialect.quirk(q, "Quirky answer.", c.U(5, 3, cache_read=10)) is not None}
    assert rendered == STREAM_QUIRKS[dialect.protocol]
    assert dialect.overflow_stream(1000, 1500) is not None
    assert type(dialect).sent_images is not c.Dialect.sent_images


def test_context_overflow(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_context_overflow(dialect, server)


def test_context_overflow_in_stream(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_context_overflow_in_stream(dialect, server)


def test_image_input(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_image_input(dialect, server)


def test_unsupported_input_before_sending(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_unsupported_input_before_sending(dialect, server)


def test_usage_stream_matches_whole(dialect: Dialect, server: ScriptedServer) -> None:
    c.check_usage_stream_matches_whole(dialect, server)


# Only the shapes each API has (an API without a shape has no test for it, rather than a skipped one).
@pytest.mark.parametrize(
    ("dialect", "name"),
    [(p, q) for p in PROTOCOLS for q in c.QUIRKS if q in STREAM_QUIRKS.get(p, ())],
    indirect=["dialect"],
)
def test_decoding_quirk(dialect: Dialect, server: ScriptedServer, name: str) -> None:
    c.check_decoding_quirk(dialect, server, name)
