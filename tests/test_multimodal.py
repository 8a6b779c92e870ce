"""Images, documents and audio: building parts, what each protocol sends, and what is refused before sending.

Encodings follow each API's reference (OpenAI ``image_url`` / ``file`` / ``input_audio``; Responses
``input_image`` / ``input_file``; Anthropic ``image`` / ``document`` sources; Gemini ``inlineData`` /
``fileData``; Bedrock ``image`` / ``document`` / ``audio`` blocks; Ollama ``images``).
"""

from __future__ import annotations

import base64
import pathlib
from typing import Any

import pytest

import sycophant_py as syc
from sycophant_py._media import sniff
from sycophant_py._models import ModelInfo
from sycophant_py._registry import get_protocol
from sycophant_py.testing import Reply, ScriptedServer
from sycophant_py.testing.contract import PNG_1X1, WAV_HEADER
from sycophant_py.wire._base import Request
from sycophant_py.wire._media import check_model_inputs

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 8
GIF = b"GIF89a\x01\x00\x01\x00" + b"\x00" * 8
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 " + b"\x00" * 8
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 8
MP3_FRAME = b"\xff\xfb\x90\x00" + b"\x00" * 12
AAC = b"\xff\xf1\x50\x80" + b"\x00" * 12
FLAC = b"fLaC\x00\x00\x00\x22" + b"\x00" * 8
OGG = b"OggS\x00\x02" + b"\x00" * 10
M4A = b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00"
AIFF = b"FORM\x00\x00\x00\x20AIFFCOMM"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- parts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (PNG_1X1, "image/png"),
        (JPEG, "image/jpeg"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
        (PDF, "application/pdf"),
        (WAV_HEADER, "audio/wav"),
        (MP3, "audio/mpeg"),
        (MP3_FRAME, "audio/mpeg"),
        (AAC, "audio/aac"),
        (FLAC, "audio/flac"),
        (OGG, "audio/ogg"),
        (M4A, "audio/mp4"),
        (AIFF, "audio/aiff"),
        (b"plain words", None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, media_type: str | None) -> None:
    assert sniff(data) == media_type


def test_image_media_type_comes_from_the_bytes() -> None:
    assert syc.ImagePart(JPEG).media_type == "image/jpeg"
    assert syc.ImagePart(JPEG, media_type="image/png").media_type == "image/jpeg"  # the bytes win
    assert syc.ImagePart(b"BM\x00\x00", media_type="image/bmp").media_type == "image/bmp"  # unknown bytes: as given
    assert syc.ImagePart(url="https://example.com/a/cat.webp?size=2").media_type == "image/webp"
    assert syc.ImagePart(url="https://example.com/cat").media_type == "image/png"  # the documented fallback
    data_url = syc.ImagePart(url=f"data:image/gif;base64,{b64(GIF)}")
    assert (data_url.data, data_url.url, data_url.media_type) == (GIF, None, "image/gif")


def test_parts_from_base64_and_paths(tmp_path: pathlib.Path) -> None:
    assert syc.ImagePart.from_base64(b64(PNG_1X1)) == syc.ImagePart(PNG_1X1)
    with pytest.raises(syc.InvalidMessage, match="base64"):
        syc.ImagePart.from_base64("not base64 !!")
    (tmp_path / "photo.bin").write_bytes(JPEG)  # the bytes decide, not the name
    (tmp_path / "report.pdf").write_bytes(PDF)
    (tmp_path / "notes.md").write_text("# Notes", encoding="utf-8")
    (tmp_path / "voice.wav").write_bytes(WAV_HEADER)
    image = syc.ImagePart.from_path(tmp_path / "photo.bin", detail="low")
    assert (image.data, image.media_type, image.detail) == (JPEG, "image/jpeg", "low")
    doc = syc.DocumentPart.from_path(tmp_path / "report.pdf")
    assert (doc.media_type, doc.name) == ("application/pdf", "report.pdf")
    assert syc.DocumentPart.from_path(str(tmp_path / "notes.md")).media_type == "text/markdown"
    assert syc.AudioPart.from_path(tmp_path / "voice.wav").format == "wav"
    assert syc.AudioPart.from_base64(b64(FLAC)).media_type == "audio/flac"
    with pytest.raises(OSError):
        syc.ImagePart.from_path(tmp_path / "missing.png")


def test_a_path_in_a_message_is_read_when_the_message_is_built(tmp_path: pathlib.Path) -> None:
    for name, data in (("a.png", PNG_1X1), ("b.pdf", PDF), ("c.mp3", MP3), ("d.txt", b"hello")):
        (tmp_path / name).write_bytes(data)
    msg = syc.Message.user(["Look:", tmp_path / "a.png", tmp_path / "b.pdf", tmp_path / "c.mp3", tmp_path / "d.txt"])
    for f in tmp_path.iterdir():
        f.unlink()  # read already
    kinds = [(type(p).__name__, getattr(p, "media_type", None)) for p in msg.parts]
    assert kinds == [
        ("TextPart", None),
        ("ImagePart", "image/png"),
        ("DocumentPart", "application/pdf"),
        ("AudioPart", "audio/mpeg"),
        ("DocumentPart", "text/plain"),
    ]
    assert syc.Message.from_json(msg.to_json()) == msg


def test_documents_and_audio_settle_their_media_type() -> None:
    assert syc.DocumentPart(PDF).media_type == "application/pdf"
    assert syc.DocumentPart(b"just text").media_type == "text/plain"
    assert syc.DocumentPart(b"\x00\x01\x02").media_type == "application/pdf"  # the documented fallback
    assert syc.DocumentPart(url="https://example.com/x.csv").media_type == "text/csv"
    audio = syc.AudioPart(url="gs://bucket/talk.flac")
    assert (audio.media_type, audio.format) == ("audio/flac", "flac")
    assert syc.AudioPart(b"\x00" * 16, media_type="audio/wav").format == "wav"
    with pytest.raises(syc.InvalidMessage, match="media_type"):
        syc.AudioPart(b"\x00" * 16)
    with pytest.raises(syc.InvalidMessage, match="needs data or url"):
        syc.AudioPart()
    with pytest.raises(syc.InvalidMessage, match="needs data or url"):
        syc.DocumentPart()


def test_audio_round_trips() -> None:
    msg = syc.Message.user(["Transcribe", syc.AudioPart(MP3)])
    back = syc.Message.from_dict(msg.to_dict())
    assert back == msg
    assert msg.to_dict()["content"][1] == {"kind": "audio", "data": b64(MP3), "url": None, "media_type": "audio/mpeg"}


# -- what each protocol sends --------------------------------------------------------------------


def model(api: str, **kw: Any) -> ModelInfo:
    return ModelInfo(provider="p", id="m", api=api, **kw)


def encode(api: str, messages: list[syc.Message], **kw: Any) -> dict[str, Any]:
    return get_protocol("chat", api).encode_request(Request(model(api, **kw), messages))


def user(*parts: Any) -> list[syc.Message]:
    return [syc.Message.user(["Describe", *parts])]


IMAGE = syc.ImagePart(PNG_1X1)
IMAGE_URL = syc.ImagePart(url="https://example.com/cat.jpg")
PDF_PART = syc.DocumentPart(PDF, name="report.pdf")
PDF_URL = syc.DocumentPart(url="https://example.com/report.pdf")
WAV = syc.AudioPart(WAV_HEADER)
MP3_PART = syc.AudioPart(MP3)


def test_openai_chat_media() -> None:
    content = encode("openai_chat", user(IMAGE, IMAGE_URL, PDF_PART, WAV, MP3_PART))["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG_1X1)}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "file", "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{b64(PDF)}"}},
        {"type": "input_audio", "input_audio": {"data": b64(WAV_HEADER), "format": "wav"}},
        {"type": "input_audio", "input_audio": {"data": b64(MP3), "format": "mp3"}},
    ]
    for part, kind in (
        (syc.AudioPart(FLAC), "audio"),
        (PDF_URL, "pdf"),
        (syc.AudioPart(url="https://x/a.wav"), "audio"),
    ):
        with pytest.raises(syc.UnsupportedInput) as info:
            encode("openai_chat", user(part))
        assert info.value.kind == kind


def tool_turn(*results: syc.Message) -> list[syc.Message]:
    calls = [syc.ToolCall.from_json(r.tool_call_id or "", r.name or "", "{}") for r in results]
    return [syc.Message.user("Plot it"), syc.Message.assistant(tool_calls=calls), *results]


def test_openai_chat_tool_result_images_follow_the_results_in_a_user_message() -> None:
    plot = syc.Message.tool_result("call_1", ["the chart:", IMAGE], name="plot")
    other = syc.Message.tool_result("call_2", "42", name="count")
    body = encode("openai_chat", [*tool_turn(plot, other), syc.Message.user("Thanks")])
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "user", "user"]  # tool messages stay together
    assert body["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "the chart:\n[1 attachment(s) follow in the next user message]",
    }
    assert body["messages"][4]["content"] == [
        {"type": "text", "text": "Attachments of the result of tool call call_1 (plot):"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG_1X1)}"}},
    ]
    assert body["messages"][5] == {"role": "user", "content": "Thanks"}
    # at the end of the conversation, and with the assistant turn some servers need after tool results
    flagged = encode("openai_chat", tool_turn(plot), compat={"requires_assistant_after_tool_result": True})
    assert [m["role"] for m in flagged["messages"]] == ["user", "assistant", "tool", "assistant", "user"]


def test_openai_responses_media() -> None:
    content = encode("openai_responses", user(IMAGE, IMAGE_URL, PDF_PART, PDF_URL))["input"][0]["content"]
    assert content[1:] == [
        {"type": "input_image", "image_url": f"data:image/png;base64,{b64(PNG_1X1)}", "detail": "auto"},
        {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "auto"},
        {"type": "input_file", "filename": "report.pdf", "file_data": f"data:application/pdf;base64,{b64(PDF)}"},
        {"type": "input_file", "file_url": "https://example.com/report.pdf"},
    ]
    body = encode("openai_responses", tool_turn(syc.Message.tool_result("call_1", ["chart", IMAGE], name="plot")))
    output = body["input"][-1]["output"]
    assert [p["type"] for p in output] == ["input_text", "input_image"]
    with pytest.raises(syc.UnsupportedInput) as info:
        encode("openai_responses", user(WAV))
    assert info.value.kind == "audio"


def test_anthropic_media() -> None:
    blocks = encode("anthropic_messages", user(IMAGE, IMAGE_URL, PDF_PART, PDF_URL))["messages"][0]["content"]
    assert blocks[1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG_1X1)}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)},
            "title": "report.pdf",
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/report.pdf"}},
    ]
    body = encode("anthropic_messages", tool_turn(syc.Message.tool_result("toolu_1", ["chart", IMAGE], name="plot")))
    result = body["messages"][-1]["content"][0]
    assert result["type"] == "tool_result"
    assert [b["type"] for b in result["content"]] == ["text", "image"]
    with pytest.raises(syc.UnsupportedInput) as info:
        encode("anthropic_messages", user(MP3_PART))
    assert info.value.kind == "audio"


def test_gemini_media() -> None:
    audio_url = syc.AudioPart(url="https://generativelanguage.googleapis.com/v1beta/files/abc", media_type="audio/mpeg")
    parts = encode("google_gemini", user(IMAGE, IMAGE_URL, PDF_PART, MP3_PART, audio_url))["contents"][0]["parts"]
    assert parts[1:] == [
        {"inlineData": {"mimeType": "image/png", "data": b64(PNG_1X1)}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
        {"inlineData": {"mimeType": "application/pdf", "data": b64(PDF)}},
        {"inlineData": {"mimeType": "audio/mpeg", "data": b64(MP3)}},
        {
            "fileData": {
                "mimeType": "audio/mpeg",
                "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc",
            }
        },
    ]


def test_bedrock_media() -> None:
    s3_audio = syc.AudioPart(url="s3://bucket/talk.mp3")
    blocks = encode("bedrock_converse", user(IMAGE, PDF_PART, WAV, s3_audio))["messages"][0]["content"]
    assert blocks[1:] == [
        {"image": {"format": "png", "source": {"bytes": b64(PNG_1X1)}}},
        {"document": {"format": "pdf", "name": "report", "source": {"bytes": b64(PDF)}}},
        {"audio": {"format": "wav", "source": {"bytes": b64(WAV_HEADER)}}},
        {"audio": {"format": "mp3", "source": {"s3Location": {"uri": "s3://bucket/talk.mp3"}}}},
    ]
    body = encode("bedrock_converse", tool_turn(syc.Message.tool_result("t1", ["chart", IMAGE], name="plot")))
    result = body["messages"][-1]["content"][0]["toolResult"]
    assert result["content"] == [{"text": "chart"}, {"image": {"format": "png", "source": {"bytes": b64(PNG_1X1)}}}]
    for messages, kind in (
        (user(IMAGE_URL), "image"),
        (user(syc.AudioPart(AIFF)), "audio"),
        (tool_turn(syc.Message.tool_result("t1", ["listen", WAV], name="rec")), None),
    ):
        with pytest.raises(syc.UnsupportedInput) as info:
            encode("bedrock_converse", messages)
        assert info.value.kind == kind


def test_ollama_media() -> None:
    msg = encode("ollama_native", user(IMAGE))["messages"][0]
    assert msg == {"role": "user", "content": "Describe", "images": [b64(PNG_1X1)]}
    for part, kind in ((PDF_PART, "pdf"), (WAV, "audio"), (IMAGE_URL, "image")):
        with pytest.raises(syc.UnsupportedInput) as info:
            encode("ollama_native", user(part))
        assert info.value.kind == kind


# -- the catalog row decides ---------------------------------------------------------------------


def refuses(row: ModelInfo, part: Any) -> str | None:
    try:
        check_model_inputs(row, [syc.Message.user(["x", part])])
    except syc.UnsupportedInput as exc:
        return exc.kind
    return None


def test_the_row_decides() -> None:
    text_only = model("openai_chat", input=("text",))
    vision = model("openai_chat", input=("text", "image"))
    blind = model("openai_chat", input=("text", "image"), capabilities={"vision": False})
    unknown = model("openai_chat")
    text_doc = syc.DocumentPart(b"words", media_type="text/plain")
    assert [refuses(text_only, p) for p in (IMAGE, PDF_PART, WAV, text_doc)] == ["image", "pdf", "audio", None]
    # vision models read PDFs through the provider, whatever the catalog's pdf flag says
    assert [refuses(vision, p) for p in (IMAGE, PDF_PART, WAV)] == [None, None, "audio"]
    assert refuses(blind, IMAGE) == "image"  # capabilities win over the input list
    assert [refuses(unknown, p) for p in (IMAGE, PDF_PART, WAV)] == [None, None, None]  # unknown means try


def test_catalog_rows() -> None:
    assert refuses(syc.get_model("openai:o3-mini"), IMAGE) == "image"
    assert refuses(syc.get_model("openai:gpt-4o"), IMAGE) is None
    assert refuses(syc.get_model("openai:gpt-4o"), WAV) == "audio"
    assert refuses(syc.get_model("google:gemini-2.5-flash"), WAV) is None


def test_refused_before_credentials_and_before_sending(srv: ScriptedServer) -> None:
    with pytest.raises(syc.UnsupportedInput, match=r"openai:o3-mini does not accept image input"):
        syc.generate_text("openai:o3-mini", user(IMAGE))  # no OPENAI_API_KEY either: the input is checked first
    syc.register_provider("fake", models=[{"id": "m", "input": ["text", "image"]}])
    srv.add(Reply.json({"choices": [{"message": {"content": "A dot."}, "finish_reason": "stop"}]}))
    assert syc.generate_text("fake:m", user(IMAGE)).text == "A dot."
    for call in (syc.generate_text, lambda spec, msgs: list(syc.stream_text(spec, msgs))):
        with pytest.raises(syc.UnsupportedInput) as info:
            call("fake:m", user(WAV))
        assert info.value.kind == "audio"
    assert len(srv.requests) == 1
