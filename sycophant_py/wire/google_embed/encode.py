"""Request encoding for ``google_embed``: one ``embedContent`` request, or a ``batchEmbedContents`` one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from sycophant_py.wire._base import EmbeddingRequest, EmbeddingWireProtocol

__all__ = ["Encoding", "task_type_of"]

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


def _map_item(text: str, params: Mapping[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
    task = task_type_of(params)
    if task:
        item["taskType"] = task
    if params.get("title"):
        item["title"] = params["title"]
    if params.get("dimensions"):
        item["outputDimensionality"] = params["dimensions"]
    return item


class Encoding(EmbeddingWireProtocol):
    """The request half of ``google_embed``: ``:embedContent`` for one input, ``:batchEmbedContents`` for several."""

    @override
    def request_path(self, request: EmbeddingRequest) -> str:
        method = "embedContent" if len(request.inputs) == 1 else "batchEmbedContents"
        collection = "" if "/" in request.model.id else "/models"
        return f"{collection}/{{model}}:{method}"

    @override
    def encode_request(self, request: EmbeddingRequest) -> dict[str, Any]:
        """One input: an ``embedContent`` body; several: ``{"requests": [...]}`` naming the model in each."""
        if len(request.inputs) == 1:
            return _map_item(request.inputs[0], request.params)
        name = _model_name(request.model.id)
        return {"requests": [{"model": name, **_map_item(text, request.params)} for text in request.inputs]}
