"""Configuration of the model gateway: environment variables ``CEPHALON_*`` (nested
with ``__``), credentials only as file paths read at start-up.

Every external endpoint is a setting, so the same code runs against the real provider
or the scripted model. See ``docs/configuration.md`` (model gateway section).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cephalon_contracts.resources import UpstreamKind
from cephalon_contracts.topics import DEFAULT_ROOT

from .errors import ConfigError

#: Where each upstream kind lives when ``CEPHALON_MODEL__UPSTREAM_BASE_URL`` is empty
#: (each follows its own SDK's convention: OpenAI's base includes ``/v1``).
DEFAULT_BASE_URLS = {
    UpstreamKind.OPENAI: "https://api.openai.com/v1",
    UpstreamKind.ANTHROPIC: "https://api.anthropic.com",
}


class RedisSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str = "redis://127.0.0.1:6379/0"
    """Without credentials; they come from the two files."""
    username_file: Path | None = None
    password_file: Path | None = None


class HttpSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)


class ModelSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    upstream_kind: UpstreamKind = UpstreamKind.OPENAI
    upstream_base_url: str = ""
    """Empty: the provider's public endpoint (required for ``azure``)."""
    default: str = "gpt-4.1"
    """Used when a request names no model."""
    allowed: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated allowlist; empty allows only the default model."""
    upstream_key_file: Path | None = None
    """The tenant's provider key; absent or missing file: no key is sent (local mode)."""
    azure_api_version: str = "2024-10-21"
    anthropic_version: str = "2023-06-01"
    anthropic_max_tokens: int = Field(default=8192, ge=1)
    """``max_tokens`` sent to Anthropic when a request gives none (it is required there)."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=120.0, gt=0)
    """Longest silence from the upstream, before or between streamed chunks."""
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_connections: int = Field(default=200, ge=1)
    client_shards: int = Field(default=8, ge=1, le=64)
    """Upstream connection pools the connections are split over (round robin)."""

    @field_validator("allowed", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def allowlist(self) -> frozenset[str]:
        return frozenset(self.allowed or [self.default])


class BudgetSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    session_tokens: int | None = Field(default=2_000_000, ge=0)
    """Input + output tokens one session may use; empty: unlimited."""
    tenant_tokens_per_day: int | None = Field(default=None, ge=0)
    """Input + output tokens the tenant may use per UTC day; empty: unlimited."""
    tenant_concurrency: int | None = Field(default=64, ge=1)
    """Completions of the tenant in flight at once, over all replicas; empty: unlimited."""
    concurrency_lease_s: float = Field(default=120.0, gt=1)
    """A slot not renewed for this long is freed (a replica that died mid-stream)."""

    @field_validator("session_tokens", "tenant_tokens_per_day", "tenant_concurrency", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


class RetrySettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    attempts: int = Field(default=3, ge=1, le=10)
    """Upstream attempts per request, the first included."""
    base_delay_s: float = Field(default=0.25, ge=0)
    max_delay_s: float = Field(default=4.0, ge=0)
    max_retry_after_s: float = Field(default=10.0, ge=0)
    """A ``Retry-After`` longer than this is passed to the client instead of waited."""


class BreakerSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    failure_threshold: int = Field(default=5, ge=1)
    """Consecutive transient failures that open the circuit."""
    reset_s: float = Field(default=30.0, gt=0)
    """How long it stays open before one probe request may pass."""


class LogSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    level: str = "INFO"
    json_output: bool = True


class GatewaySettings(BaseSettings):
    """Everything ``cephalon-model-gateway`` reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="CEPHALON_",
        env_nested_delimiter="__",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    provider: str = "discord"
    """The chat provider of the tenant this replica serves."""
    tenant: str = "default"
    """The tenant this replica serves (tokens of other tenants are refused)."""
    topic_root: str = DEFAULT_ROOT
    """Root of every Redis key name."""
    redis: RedisSettings = Field(default_factory=RedisSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    def upstream_base_url(self) -> str:
        """The configured base URL, or the provider's public one."""
        url = self.model.upstream_base_url.rstrip("/")
        if url:
            return url
        default = DEFAULT_BASE_URLS.get(self.model.upstream_kind)
        if default is None:
            raise ConfigError(
                f"CEPHALON_MODEL__UPSTREAM_BASE_URL is required for upstream kind "
                f"{self.model.upstream_kind.value!r}"
            )
        return default


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secrets read from their files at start-up; ``repr`` never shows them."""

    upstream_key: SecretStr | None
    redis_username: str | None
    redis_password: SecretStr | None

    def secret_values(self) -> list[str]:
        """Every secret value, for the log redactor."""
        values = [s.get_secret_value() for s in (self.upstream_key, self.redis_password) if s]
        return [v for v in values if v]


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"cannot read {what} from {path}: {e.strerror or e}") from e


def load_credentials(settings: GatewaySettings) -> Credentials:
    """Read the upstream key and the Redis credentials from their files.

    A configured but missing upstream key file means no key (the operator mounts an
    empty directory when the tenant names no provider Secret, e.g. in local mode).
    """
    key_file = settings.model.upstream_key_file
    key = _read(key_file, "the upstream key") if key_file and key_file.exists() else ""
    redis = settings.redis
    username = _read(redis.username_file, "the Redis username") if redis.username_file else None
    password = _read(redis.password_file, "the Redis password") if redis.password_file else None
    return Credentials(
        upstream_key=SecretStr(key) if key else None,
        redis_username=username or None,
        redis_password=SecretStr(password) if password else None,
    )
