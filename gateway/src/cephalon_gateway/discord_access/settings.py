"""Settings of the Discord gateway (environment prefix ``CEPHALON_``, nested ``__``).

Credentials are *file paths* (``…_FILE``), read once at start-up by
:func:`load_credentials` and never logged; the values live in :class:`Credentials`,
whose ``repr`` hides them. Every external endpoint (Discord REST, Discord gateway,
Redis, Kubernetes through ``KUBECONFIG``) is a setting so the same code runs against
the real services or the emulators. Made in ``main``/the app factory and passed in;
nothing here runs at import time.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigError


class RedisSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str = "redis://cephalon-redis.cephalon-system.svc:6379/0"
    """Redis for streams, dedupe, render state and the shared rate limiter."""
    username_file: Path | None = None
    """File with the gateway's Redis username (confined to the tenant's keys)."""
    password_file: Path | None = None
    """File with the gateway's Redis password."""


class HttpSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    host: str = "0.0.0.0"
    """Address the HTTP server binds."""
    port: int = 8080
    """Port of /discord/interactions, /healthz, /readyz and /metrics."""


class DiscordSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    token_file: Path | None = None
    """The bot token (a mounted Secret)."""
    public_key_file: Path | None = None
    """The application's Ed25519 public key, hex (verifies interactions)."""
    app_id_file: Path | None = None
    """The application id (interaction follow-ups, command registration)."""
    api_base: str = "https://discord.com/api/v10"
    """Discord REST base URL (the emulator's in tests and local mode)."""
    gateway_url: str = "wss://gateway.discord.gg/"
    """Discord gateway WebSocket URL."""
    global_rate_per_second: float = Field(default=40.0, gt=0, le=50)
    """Requests per second all replicas together send (Discord's global limit is 50)."""
    channel_rate_per_second: float = Field(default=4.0, gt=0)
    """Fair share per channel when many channels compete for the global budget."""
    guild_channel_limit: int = 500
    """Discord's channels-per-guild cap."""
    category_channel_limit: int = 50
    """Discord's channels-per-category cap."""
    channel_cap_margin: int = 5
    """Refuse new session channels this many channels before Discord's caps."""
    channel_retention_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    """How long an ended session's locked channel stays before it is deleted."""
    start_debounce_seconds: float = 15.0
    """A second Start Chat click by the same user within this window reuses the first."""
    edit_interval_seconds: float = Field(default=1.0, gt=0)
    """At most one edit per message per this interval while an answer streams."""
    typing_interval_seconds: float = 8.0
    """Send "typing…" after this long without a visible update while a turn runs."""
    attachment_ttl_seconds: int = 24 * 3600
    """Lifetime of stored attachment blobs."""
    interaction_token_seconds: float = 14 * 60
    """Use an interaction token for follow-ups only this long (Discord: 15 minutes)."""
    render_lease_seconds: float = Field(default=15.0, gt=0)
    """A replica that stops renewing its lease on a session's rendering loses it after this."""
    sync_commands: bool = True
    """Register the session commands in each allowed guild at start-up (when changed)."""


class GatewaySettings(BaseSettings):
    """Everything ``cephalon-gateway`` reads from its environment (one tenant's Discord
    gateway; the tenant's allow rules, quotas and limits come from its ProviderTenant)."""

    model_config = SettingsConfigDict(
        env_prefix="CEPHALON_",
        env_nested_delimiter="__",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    provider: str = "discord"
    """Chat provider of the tenant."""
    tenant: str = "default"
    """Tenant name within the provider."""
    topic_root: str = "promethean"
    """Root of every topic and Redis key."""
    tenant_resource: str | None = None
    """Name of the ProviderTenant to read (default ``<provider>-<tenant>``)."""
    session_namespace: str | None = None
    """Namespace of the tenant's AgentSessions (default ``cephalon-<provider>-<tenant>``)."""
    pod_name: str = ""
    """This replica's name (Redis consumer and lease owner); default: the host name."""
    redis: RedisSettings = Field(default_factory=RedisSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    log_json: bool = True
    """JSON logs (as in the cluster); false for readable console logs."""

    @property
    def replica(self) -> str:
        return self.pod_name or socket.gethostname()

    @property
    def tenant_resource_name(self) -> str:
        return self.tenant_resource or f"{self.provider}-{self.tenant}"

    @property
    def namespace(self) -> str:
        return self.session_namespace or f"cephalon-{self.provider}-{self.tenant}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """Secrets read from files; ``repr`` never shows them."""

    bot_token: str = field(repr=False)
    public_key: str = field(repr=False)
    app_id: str
    redis_username: str | None = None
    redis_password: str | None = field(default=None, repr=False)


def _read(path: Path | None, what: str, *, required: bool = True) -> str | None:
    if path is None:
        if required:
            raise ConfigError(f"the {what} file is not configured")
        return None
    try:
        value = path.read_text().strip()
    except OSError as e:
        raise ConfigError(f"cannot read the {what} file {path}: {e.strerror}") from e
    if not value and required:
        raise ConfigError(f"the {what} file {path} is empty")
    return value or None


def load_credentials(settings: GatewaySettings) -> Credentials:
    """Read every credential file once; raises :class:`ConfigError` naming the file."""
    d, r = settings.discord, settings.redis
    token = _read(d.token_file, "bot token")
    public_key = _read(d.public_key_file, "public key")
    app_id = _read(d.app_id_file, "application id")
    assert token is not None and public_key is not None and app_id is not None
    return Credentials(
        bot_token=token,
        public_key=public_key,
        app_id=app_id,
        redis_username=_read(r.username_file, "Redis username", required=False),
        redis_password=_read(r.password_file, "Redis password", required=False),
    )
