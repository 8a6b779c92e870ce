"""Google Gemini embeddings (the ``google_embed`` protocol): ``:embedContent`` and ``:batchEmbedContents``.

The base URL holds the ``/v1beta`` prefix. One input is sent to ``/models/{model}:embedContent`` as
``{"content": {"parts": [{"text": ...}]}}``; several go to ``/models/{model}:batchEmbedContents`` as
``{"requests": [{"model": "models/<id>", "content": ...}, ...]}`` (at most 100 per request, so the
pipeline splits larger calls). ``dimensions`` is ``outputDimensionality``; ``task_type`` (or the
shared ``input_type``: ``query`` -> ``RETRIEVAL_QUERY``, ``document`` -> ``RETRIEVAL_DOCUMENT``, ...)
is ``taskType``; ``title`` goes with ``RETRIEVAL_DOCUMENT``. Gemini always answers with floats, so
``encoding_format`` is ignored. Usage is ``usageMetadata.promptTokenCount`` when the model reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py._params import EmbeddingParams
from sycophant_py._types import EmbeddingResponse, Usage
from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol
from sycophant_py.wire._util import int_of, invalid_body, object_of, vector_of
from sycophant_py.wire.google_gemini import gemini_error

__all__ = ["GoogleEmbed", "GoogleEmbedParams", "task_type_of"]

_INPUT_TYPES = {
    "query": "RETRIEVAL_QUERY",
    "search_query": "RETRIEVAL_QUERY",
    "document": "RETRIEVAL_DOCUMENT",
    "passage": "RETRIEVAL_DOCUMENT",
    "search_document": "RETRIEVAL_DOCUMENT",
    "classification": "CLASSIFICATION",
    "clustering": "CLUSTERING",
    "similarity": "SEMANTIC_SIMILARITY",
    "semantic_similarity": "SEMANTIC_SIMILARITY",
    "question_answering": "QUESTION_ANSWERING",
    "fact_verification": "FACT_VERIFICATION",
    "code_retrieval_query": "CODE_RETRIEVAL_QUERY",
}


class GoogleEmbedParams(EmbeddingParams):
    """Params of ``google_embed`` beyond the shared embedding ones."""

    task_type: str | None = None
    """Gemini ``taskType`` (``RETRIEVAL_QUERY``, ``RETRIEVAL_DOCUMENT``, ``SEMANTIC_SIMILARITY``...)."""
    title: str | None = None
    """Document title, used with ``taskType: RETRIEVAL_DOCUMENT``."""


def task_type_of(params: Mapping[str, Any]) -> str | None:
    """The ``taskType`` for the params: ``task_type`` as given, else one derived from ``input_type``."""
    task = params.get("task_type")
    if task:
        return str(task).upper()
    kind = params.get("input_type")
    if not kind:
        return None
    return _INPUT_TYPES.get(str(kind).lower(), str(kind).upper())


def _model_name(model_id: str) -> str:
    return model_id if "/" in model_id else f"models/{model_id}"


_NAME = "google_embed"


def _values(item: Any, where: str, body: Any) -> list[float]:
    values = item.get("values") if isinstance(item, Mapping) else None
    if not isinstance(values, list):
        raise invalid_body(_NAME, f"no {where}.values list", body)
    return vector_of(_NAME, values, body)


class GoogleEmbed(EmbeddingWireProtocol):
    """The ``google_embed`` embedding protocol."""

    name = "google_embed"
    max_batch = 100

    @classmethod
    @override
    def param_schema(cls) -> type[GoogleEmbedParams]:
        return GoogleEmbedParams

    @override
    def request_path(self, request: EmbeddingRequest) -> str:
        method = "embedContent" if len(request.inputs) == 1 else "batchEmbedContents"
        collection = "" if "/" in request.model.id else "/models"
        return f"{collection}/{{model}}:{method}"

    def _one(self, text: str, params: Mapping[str, Any]) -> dict[str, Any]:
        item: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
        task = task_type_of(params)
        if task:
            item["taskType"] = task
        if params.get("title"):
            item["title"] = params["title"]
        if params.get("dimensions"):
            item["outputDimensionality"] = params["dimensions"]
        return item

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        if len(request.inputs) == 1:
            return self._one(request.inputs[0], request.params)
        name = _model_name(request.model.id)
        return {"requests": [{"model": name, **self._one(text, request.params)} for text in request.inputs]}

    @override
    def decode_response(self, body: Any) -> EmbeddingResponse:
        body = object_of(self.name, body)
        if "embedding" in body:
            vectors = [_values(body["embedding"], "embedding", body)]
        elif isinstance(body.get("embeddings"), list):
            vectors = [_values(e, "embeddings[]", body) for e in body["embeddings"]]
        else:
            raise invalid_body(self.name, "neither 'embedding' nor 'embeddings'", body)
        usage = body.get("usageMetadata")
        prompt = usage.get("promptTokenCount") if isinstance(usage, Mapping) else None
        return EmbeddingResponse(vectors=vectors, usage=Usage(input_tokens=int_of(prompt)), raw=body)

    @override
    def decode_error(self, status: int, body: Any) -> tuple[str, str | None]:
        return gemini_error(body) or super().decode_error(status, body)
