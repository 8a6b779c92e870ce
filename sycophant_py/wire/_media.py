"""Images, documents and audio in a request: what the model's catalog row and the API allow.

The pipeline calls :func:`check_model_inputs` for every chat call (any protocol, any ``stream=``
function), and every built-in protocol calls :func:`check_inputs` first thing in ``encode_request``,
so an input the model or the API cannot take raises :class:`~sycophant_py.UnsupportedInput` before
anything is sent, naming the model and the input kind:

* the model's row decides first. Its ``capabilities`` (``vision`` for images, ``pdf`` for PDFs)
  win when present; else its ``input`` modalities (``image``, ``pdf``, ``audio``) when the row lists
  any; a row that says nothing means unknown, and unknown means try. A PDF is refused only when the
  row refuses images too (vision models read PDFs through the provider, whatever the ``pdf`` flag);
  other binary documents are left to the provider;
* then the protocol: the kinds its API carries at all (``accepts``), and the forms (bytes or URL)
  it takes for each (``url_ok``: which URLs it passes on; other URLs are refused, since the library
  never fetches a URL itself).

Text documents (``text/*``) count as text and are always allowed. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence

from sycophant_py._exceptions import UnsupportedInput
from sycophant_py._models import ModelInfo
from sycophant_py._types import AudioPart, DocumentPart, ImagePart, Message, Part

__all__ = ["check_inputs", "check_model_inputs", "input_kind", "is_blank", "media_parts"]

MediaPart = ImagePart | DocumentPart | AudioPart

_CAPABILITY = {"image": "vision", "pdf": "pdf"}


def input_kind(part: Part) -> str | None:
    """``image``, ``pdf``, ``audio`` or ``document`` (another binary document); None for text."""
    if isinstance(part, ImagePart):
        return "image"
    if isinstance(part, AudioPart):
        return "audio"
    if isinstance(part, DocumentPart):
        if part.media_type.startswith("text/"):
            return None
        return "pdf" if part.media_type == "application/pdf" else "document"
    return None


def is_blank(text: str) -> bool:
    """True for text with nothing but whitespace (what Anthropic and Bedrock refuse)."""
    return not text.strip()


def media_parts(messages: Sequence[Message]) -> Iterator[tuple[Message, MediaPart]]:
    """Every image, document and audio part of a conversation, with its message."""
    for msg in messages:
        if isinstance(msg.content, str):
            continue
        for part in msg.content:
            if isinstance(part, (ImagePart, DocumentPart, AudioPart)):
                yield msg, part


def _says_no(model: ModelInfo, kind: str) -> bool:
    capability = _CAPABILITY.get(kind)
    if capability is not None and capability in model.capabilities:
        return not model.capabilities[capability]
    return bool(model.input) and kind not in model.input


def _model_refuses(model: ModelInfo, kind: str) -> bool:
    """The row says no. A PDF goes to any model that reads images as well: providers turn its pages
    into text and images for vision models (OpenAI documents PDF input that way; Bedrock reads
    documents for every model), so only a row refusing both PDFs and images refuses a PDF."""
    if kind == "pdf":
        return _says_no(model, "pdf") and _says_no(model, "image")
    return kind in ("image", "audio") and _says_no(model, kind)


def _row_says(model: ModelInfo) -> str:
    capabilities = {k: v for k, v in model.capabilities.items() if k in ("vision", "pdf")}
    bits = [f"input={list(model.input)}"] if model.input else []
    if capabilities:
        bits.append(f"capabilities={capabilities}")
    return ", ".join(bits)


def check_model_inputs(model: ModelInfo, messages: Sequence[Message]) -> None:
    """Raise :class:`UnsupportedInput` for the first input the model's catalog row refuses.

    The pipeline runs this for every call, whatever serves it (a built-in or third-party protocol, a
    ``stream=`` function), before credentials are resolved and before anything is sent.

    Raises:
        UnsupportedInput: naming the model, the input kind and what its row says.
    """
    for _, part in media_parts(messages):
        kind = input_kind(part)
        if kind is not None and _model_refuses(model, kind):
            raise UnsupportedInput(
                f"{model.spec} does not accept {kind} input (its catalog row says {_row_says(model)}); "
                "register the model with input=[...] if it does",
                kind=kind,
            )


def check_inputs(
    model: ModelInfo,
    messages: Sequence[Message],
    protocol: str,
    *,
    accepts: Collection[str],
    url_ok: Callable[[str, str], bool] | None = None,
) -> None:
    """Raise :class:`UnsupportedInput` for the first input the model or the API cannot take.

    Args:
        model: The resolved model (its catalog row).
        messages: The conversation.
        protocol: The protocol's name (for the message).
        accepts: The input kinds the API carries (``image``, ``pdf``, ``document``, ``audio``).
        url_ok: ``url_ok(kind, url)`` is True when the API takes that input by that URL (the
            provider fetches it); None: no URL is taken.

    Raises:
        UnsupportedInput: the kind or the form of an input cannot be sent; nothing was sent.
    """
    check_model_inputs(model, messages)
    for _, part in media_parts(messages):
        kind = input_kind(part)
        if kind is None:
            continue
        if kind not in accepts:
            raise UnsupportedInput(f"{protocol} cannot send {kind} input (the API has no place for it)", kind=kind)
        if part.data is None and not (url_ok is not None and url_ok(kind, part.url or "")):
            raise UnsupportedInput(
                f"{protocol} takes {kind} input as bytes, not by URL ({part.url}); the library does not "
                "fetch URLs: pass the bytes (ImagePart(data), ImagePart.from_path(...))",
                kind=kind,
            )
