"""What the gateway asks of the pipeline: one decoded request in, our ``Response`` or stream out.

These are the async entry points of ``_api`` (``agenerate_text``, ``astream_text``, ``aembed``) as
the gateway needs them: a model that is a spec, an alias or a fallback list; tools that are only
definitions (their calls go back to the caller, never run here); and a response schema, which the
public text entry points do not take (``generate_object`` does, but validates and parses the
answer, where a gateway relays it). The calls are built with ``_api``'s own helpers, so fallback,
retries, deadlines and stream lifecycles are exactly the library's.
"""

from __future__ import annotations

import sycophant_py as syc
from sycophant_py import _api, _config, _fallback
from sycophant_py._custom_stream import prepare_steps
from sycophant_py._exceptions import SycophantError
from sycophant_py._log import log
from sycophant_py._pipeline import Call, run_steps
from sycophant_py._stream import AsyncTextStream, Source
from sycophant_py._types import EmbeddingResponse, Response
from sycophant_py.wire._serve import ModelEntry, ServedChat, ServedEmbed

__all__ = ["complete", "embed", "model_entries", "open_stream"]


def _opts(req: ServedChat) -> _api._Opts:
    return _api._Opts(req.tools or None, None, None, None)


def _call(req: ServedChat, spec: str, *, stream: bool, last: bool) -> Call:
    call = _api._new_call(spec, req.messages, req.params, _opts(req), stream=stream, last=last)
    if req.response_schema is not None:
        call.response_schema = req.response_schema
        call.schema_name = req.schema_name
    return call


def _prepared_source(req: ServedChat, spec: str, last: bool) -> Source:
    call = _call(req, spec, stream=True, last=last)
    return _api._source(run_steps(call, prepare_steps(call)))


def open_stream(req: ServedChat) -> AsyncTextStream:
    """The answer's event stream (nothing is sent until it is iterated).

    Raises:
        InvalidError: bad input (an unknown provider or alias, invalid params or tools), at once.
    """
    specs = _fallback.candidates(req.model)
    if specs is None:
        call = _call(req, str(req.model), stream=True, last=True)
        return _api._atext_stream(run_steps(call, prepare_steps(call)))

    def source_for(spec: str, last: bool) -> Source:
        return _prepared_source(req, spec, last)

    return AsyncTextStream(_fallback.FallbackSource(specs, source_for, source_for), _api._placeholder(specs[0]))


async def complete(req: ServedChat) -> Response:
    """The whole answer (a fallback list tries its models in order).

    Raises:
        SycophantError: bad input, or the provider (every provider of a fallback list) failed.
    """

    async def attempt(spec: str, last: bool) -> Response:
        return await _api._acomplete(await _api._aprepare(_call(req, spec, stream=False, last=last)))

    specs = _fallback.candidates(req.model)
    if specs is None:
        return await attempt(str(req.model), True)
    return await _fallback.arun(specs, attempt)


async def embed(req: ServedEmbed) -> EmbeddingResponse:
    """The vectors, in input order.

    Raises:
        SycophantError: bad input, or the provider failed.
    """
    return await syc.aembed(req.model, req.inputs, **req.params)


_LIST_TIMEOUT = 1.5
"""Seconds a live model listing may take before the catalog's rows stand in."""


def _available_providers() -> list[str]:
    """The providers whose models the gateway lists: every available one (credentials resolvable,
    local servers answering their probe; one second at most for all probes together)."""
    return syc.providers(available=True)


def _listed(provider: str) -> list[ModelEntry]:
    try:
        models = syc.models(provider, timeout=_LIST_TIMEOUT)
    except SycophantError as exc:
        log.warning("gateway.models_failed", provider=provider, error=type(exc).__name__)
        return []
    return [ModelEntry(f"{m.provider}:{m.id}", m.provider, m.name) for m in models]


def model_entries() -> list[ModelEntry]:
    """Every model of every available provider as ``provider:model``, then the aliases.

    May do I/O (listing a local server's models): the gateway calls it in a worker thread.
    """
    from concurrent.futures import ThreadPoolExecutor

    providers = _available_providers()
    out: list[ModelEntry] = []
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(providers)))) as pool:  # live listings run together
        for entries in pool.map(_listed, providers):
            out.extend(entries)
    out.extend(ModelEntry(name, "alias") for name in sorted(_config.settings().aliases))
    return out
