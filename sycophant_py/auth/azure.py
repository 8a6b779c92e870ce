"""Azure OpenAI / Azure AI Foundry: ``api-key`` or Entra ID tokens, deployments, ``api-version``.

Credentials and settings (per request, ``configure(providers={"azure": {...}})`` or env vars):

* ``api_key`` (``AZURE_OPENAI_API_KEY`` / ``AZURE_API_KEY``) is sent as the ``api-key`` header.
  An Entra ID (Azure AD) access token in ``token`` (``AZURE_OPENAI_AD_TOKEN``) or
  ``azure_ad_token`` is sent as ``authorization: Bearer <token>`` instead, and wins over a key.
* ``resource_name`` (``AZURE_RESOURCE_NAME``) fills the catalog's URL templates
  (``https://{resource_name}.openai.azure.com/openai/deployments/{model}`` for OpenAI models; some
  models have their own, such as Claude on ``{resource_name}.services.ai.azure.com/anthropic``).
  ``base_url`` (``AZURE_OPENAI_ENDPOINT``) replaces them: a bare endpoint (no path, or just
  ``/openai``) gets the deployments layout below; any other URL (a gateway, ``.../openai/v1``, a
  Foundry ``/models`` endpoint) is used exactly as given.
* ``api_version`` (``AZURE_OPENAI_API_VERSION`` / ``OPENAI_API_VERSION``) picks the layout:

  - a dated version (default ``2024-10-21``, the current GA one) keeps the **classic** layout,
    ``https://{resource}.openai.azure.com/openai/deployments/{deployment}/chat/completions
    ?api-version=2024-10-21``. The Responses API is per resource there, not per deployment, so
    ``/deployments/{d}/responses`` becomes ``/openai/responses``, with ``2025-04-01-preview`` as
    its default version (the GA version has no Responses API);
  - ``"v1"`` selects the **v1** layout, ``https://{resource}.openai.azure.com/openai/v1/chat/completions``
    (and ``/openai/v1/responses``, ``/openai/v1/embeddings``) with no ``api-version``; ``"preview"``
    and ``"latest"`` use the same URLs with ``api-version=preview`` / ``latest``. A base URL whose
    path already ends in ``/openai/v1`` is the v1 layout whatever ``api_version`` says.

  A Foundry model-inference URL (``.../models/...``) gets ``api-version=2024-05-01-preview`` unless
  one is set; Claude's ``/anthropic/`` endpoint gets no ``api-version`` (its protocol sends its own
  ``anthropic-version`` header; this auth replaces Anthropic's for the provider).

**Deployments.** In the classic layout the deployment is the model id of the spec
(``azure:my-gpt4o-deployment``), unless a ``deployment`` setting names another one. In the v1
layout and for the Responses API, Azure reads the deployment from the body's ``model``, so there
the model id of the spec *is* the deployment name and ``deployment`` is not used.

The layout is applied per attempt by the middleware, on the final URL, so every wire protocol the
provider's models use (OpenAI's chat, responses and embeddings, Anthropic's messages) keeps its own
path. ``prepare_credentials`` does no I/O.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from typing_extensions import override

from sycophant_py.auth._base import Auth, Credentials, HttpRequest, Middleware

__all__ = ["DEFAULT_API_VERSION", "MODELS_API_VERSION", "RESPONSES_API_VERSION", "AzureAuth"]

DEFAULT_API_VERSION = "2024-10-21"
"""The api-version of the classic layout when none is configured (the latest GA version)."""
RESPONSES_API_VERSION = "2025-04-01-preview"
"""The api-version of the classic Responses endpoint when none is configured."""
MODELS_API_VERSION = "2024-05-01-preview"
"""The api-version of a Foundry model-inference (``/models``) endpoint when none is configured."""

_V1_VERSIONS = frozenset({"v1", "preview", "latest"})
_DEPLOYMENT_PATH = re.compile(r"^(?P<root>.*/openai)/deployments/[^/]+/(?P<rest>.+)$")


def _endpoint_root(base_url: str) -> str | None:
    """The ``scheme://host`` of a bare endpoint URL (no path, or just ``/openai``), else None."""
    parts = urlsplit(base_url)
    if parts.path.rstrip("/") in ("", "/openai") and not parts.query:
        return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return None


def _layout(path: str, version: str) -> tuple[str, str | None]:
    """``(path, api-version or None)`` of a request path under the configured ``api_version``."""
    if "/anthropic/" in path:
        return path, None
    match = _DEPLOYMENT_PATH.match(path)
    if match and version in _V1_VERSIONS:
        path = f"{match['root']}/v1/{match['rest']}"
    elif match and match["rest"] == "responses":
        path = f"{match['root']}/responses"
    if "/openai/v1/" in path:
        return path, version if version in ("preview", "latest") else None
    if version == "v1":
        return path, None  # a custom URL outside both layouts: nothing to add
    if version:
        return path, version
    if path.endswith("/responses"):
        return path, RESPONSES_API_VERSION
    return path, MODELS_API_VERSION if "/models/" in path else DEFAULT_API_VERSION


class AzureAuth(Auth):
    """Azure auth: ``api-key`` or an Entra bearer token, deployment layouts and ``api-version``."""

    name = "azure"

    @override
    def prepare_credentials(self, credentials: Credentials) -> Credentials:
        """Give a bare endpoint ``base_url`` the deployments layout (pure, no I/O)."""
        root = _endpoint_root(str(credentials["base_url"])) if credentials.get("base_url") else None
        if root is None:
            return credentials
        out = Credentials(credentials)
        out["base_url"] = f"{root}/openai/deployments/{{model}}"
        return out

    @override
    def path_params(self, credentials: Credentials) -> dict[str, str]:
        """``resource_name``, and the ``deployment`` (which stands for the model in the URL), when set."""
        out = {"resource_name": str(credentials["resource_name"])} if credentials.get("resource_name") else {}
        if credentials.get("deployment"):
            out["deployment"] = out["model"] = str(credentials["deployment"])
        return out

    @override
    def middlewares(self, credentials: Credentials) -> list[Middleware]:
        token = credentials.get("token") or credentials.get("azure_ad_token")
        key = credentials.get("api_key")
        header = {"authorization": f"Bearer {token}"} if token else {"api-key": str(key)} if key else {}
        version = str(credentials.get("api_version") or "")

        def apply(req: HttpRequest) -> HttpRequest:
            req.headers.update(header)
            parts = urlsplit(req.url)
            path, api_version = _layout(parts.path, version)
            if path != parts.path:
                req.url = urlunsplit(parts._replace(path=path))
            if api_version:
                req.params["api-version"] = api_version
            return req

        return [apply]
