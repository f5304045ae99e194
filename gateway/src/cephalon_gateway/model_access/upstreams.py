"""The provider wire formats: where a request goes, with which credential header, and how
the answer is turned back into OpenAI's chat-completions shape.

* ``openai`` — any OpenAI-compatible API: ``<base>/chat/completions``,
  ``Authorization: Bearer <key>``; answers pass through byte for byte.
* ``azure`` — Azure OpenAI: ``<base>/openai/deployments/<model>/chat/completions
  ?api-version=…`` with an ``api-key`` header (the deployment is named after the model).
* ``anthropic`` — the Messages API ``<base>/v1/messages`` with ``x-api-key`` and
  ``anthropic-version``; requests and answers are translated (:mod:`.anthropic`).
* ``copilot`` — refused at start-up: GitHub documents no route for calling Copilot's
  models from a server with a tenant's credential (see ``docs/security.md``).
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from cephalon_contracts.resources import UpstreamKind

from . import anthropic
from .errors import ConfigError
from .settings import GatewaySettings

JsonObject = dict[str, Any]

COPILOT_UNSUPPORTED = (
    "upstream kind 'copilot' is not supported: GitHub documents no API for calling "
    "Copilot's models from a server with an organisation's credential (its chat endpoint "
    "and token exchange are undocumented, and we do not use undocumented routes). Use "
    "kind 'openai' with another provider — e.g. GitHub Models, whose documented inference "
    "API is OpenAI-compatible (base URL https://models.github.ai/inference, a token with "
    "the models:read permission) — or 'azure' / 'anthropic'."
)


class StreamTranslator(Protocol):
    def feed(self, event: bytes) -> list[bytes]: ...


class PassThrough:
    """OpenAI-shaped streams need no translation."""

    def feed(self, event: bytes) -> list[bytes]:
        return [event]


class Upstream(Protocol):
    name: str
    translates: bool
    """Whether answers are rewritten (else they pass through byte for byte)."""

    def build_request(self, client: httpx.AsyncClient, body: JsonObject) -> httpx.Request: ...

    def stream_translator(self, model: str) -> StreamTranslator: ...

    def completion(self, data: bytes, model: str) -> JsonObject: ...

    def error_message(self, data: bytes) -> tuple[str, str]: ...


def _json(body: JsonObject) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def openai_error_message(data: bytes) -> tuple[str, str]:
    try:
        error = json.loads(data).get("error") or {}
        if isinstance(error, dict):
            return str(error.get("message", "")), str(error.get("type") or "api_error")
        return str(error), "api_error"
    except (ValueError, AttributeError):
        return data[:500].decode("utf-8", "replace"), "api_error"


class OpenAIUpstream:
    translates = False

    def __init__(self, base_url: str, key: SecretStr | None) -> None:
        self.name = base_url
        self._url = f"{base_url}/chat/completions"
        self._key = key

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self._key is not None:
            headers["authorization"] = f"Bearer {self._key.get_secret_value()}"
        return headers

    def url(self, model: str) -> str:
        return self._url

    def build_request(self, client: httpx.AsyncClient, body: JsonObject) -> httpx.Request:
        return client.build_request(
            "POST", self.url(str(body.get("model"))), content=_json(body), headers=self.headers()
        )

    def stream_translator(self, model: str) -> StreamTranslator:
        return PassThrough()

    def completion(self, data: bytes, model: str) -> JsonObject:
        parsed = json.loads(data)
        if not isinstance(parsed, dict):
            raise ValueError("a chat completion must be a JSON object")
        return parsed

    def error_message(self, data: bytes) -> tuple[str, str]:
        return openai_error_message(data)


class AzureUpstream(OpenAIUpstream):
    def __init__(self, base_url: str, key: SecretStr | None, api_version: str) -> None:
        super().__init__(base_url, key)
        self._base = base_url
        self._api_version = api_version

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self._key is not None:
            headers["api-key"] = self._key.get_secret_value()
        return headers

    def url(self, model: str) -> str:
        deployment = quote(model, safe="")
        return (
            f"{self._base}/openai/deployments/{deployment}/chat/completions"
            f"?api-version={quote(self._api_version, safe='')}"
        )


class AnthropicUpstream:
    translates = True

    def __init__(
        self, base_url: str, key: SecretStr | None, *, version: str, default_max_tokens: int
    ) -> None:
        self.name = base_url
        self._url = f"{base_url}/v1/messages"
        self._key = key
        self._version = version
        self._max_tokens = default_max_tokens

    def build_request(self, client: httpx.AsyncClient, body: JsonObject) -> httpx.Request:
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": self._version,
        }
        if self._key is not None:
            headers["x-api-key"] = self._key.get_secret_value()
        translated = anthropic.to_messages_request(body, default_max_tokens=self._max_tokens)
        return client.build_request("POST", self._url, content=_json(translated), headers=headers)

    def stream_translator(self, model: str) -> StreamTranslator:
        return anthropic.StreamTranslator(model=model)

    def completion(self, data: bytes, model: str) -> JsonObject:
        message = json.loads(data)
        if not isinstance(message, dict) or message.get("type") != "message":
            raise ValueError("not an Anthropic message")
        return anthropic.to_chat_completion(message, model=model)

    def error_message(self, data: bytes) -> tuple[str, str]:
        return anthropic.error_message(data)


def build_upstream(settings: GatewaySettings, key: SecretStr | None) -> Upstream:
    """The upstream for the configured kind; :class:`ConfigError` for ``copilot``."""
    kind = settings.model.upstream_kind
    if kind is UpstreamKind.COPILOT:
        raise ConfigError(COPILOT_UNSUPPORTED)
    base_url = settings.upstream_base_url()
    if kind is UpstreamKind.AZURE:
        return AzureUpstream(base_url, key, settings.model.azure_api_version)
    if kind is UpstreamKind.ANTHROPIC:
        return AnthropicUpstream(
            base_url,
            key,
            version=settings.model.anthropic_version,
            default_max_tokens=settings.model.anthropic_max_tokens,
        )
    return OpenAIUpstream(base_url, key)
