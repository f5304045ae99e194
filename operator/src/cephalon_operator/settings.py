"""Operator settings (environment prefix ``CEPHALON_``, nested delimiter ``__``).

Credentials are file paths, read when needed and never logged. Made in the kopf
startup handler and passed in; nothing here runs at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RedisSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    url: str = "redis://cephalon-redis.cephalon-system.svc:6379/0"
    """Redis for streams and session ACL users (no credentials in the URL)."""
    username: str = "cephalon-operator"
    """The operator's Redis user."""
    password_file: Path | None = None
    """File with the operator's Redis password (it may create and delete ACL users)."""
    service_selector: dict[str, str] = Field(
        default_factory=lambda: {"app.kubernetes.io/name": "cephalon-redis"}
    )
    """Pod labels of the Redis server, for the sessions' egress NetworkPolicy."""
    port: int = 6379
    """Redis port, for the sessions' egress NetworkPolicy."""
    max_connections: int = 32
    """Connections the operator keeps to Redis; reconciles wait for a free one."""


class ImageSettings(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    runtime: str = "cephalon/runtime:0.1.0"
    """Session runtime image (a tenant's sessions.image overrides it)."""
    gateway: str = "cephalon/gateway:0.1.0"
    """Image of the gateway and the model gateway (a tenant's gateway.image overrides it)."""
    pull_policy: str = "IfNotPresent"
    """imagePullPolicy of every container the operator creates."""


class DiscordEndpoints(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)

    api_base: str | None = None
    """Discord REST base the tenants' gateways use (unset: Discord's own)."""
    gateway_url: str | None = None
    """Discord gateway WebSocket URL the tenants' gateways use (unset: Discord's own)."""


class OperatorSettings(BaseSettings):
    """Settings of the kopf operator."""

    model_config = SettingsConfigDict(
        env_prefix="CEPHALON_",
        env_nested_delimiter="__",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    release_namespace: str = "cephalon-system"
    """Where access-layer pods, their Secrets and Redis live."""
    topic_root: str = "promethean"
    """Root of every stream and key name."""
    redis: RedisSettings = Field(default_factory=RedisSettings)
    images: ImageSettings = Field(default_factory=ImageSettings)
    discord: DiscordEndpoints = Field(default_factory=DiscordEndpoints)
    """Where the tenants' Discord gateways find Discord (an emulator in tests and kind)."""
    runtime_port: int = 8080
    """The runtime's health port inside the session pod."""
    model_gateway_urls: dict[str, str] = Field(default_factory=dict)
    """`<provider>-<tenant>` → base URL of that tenant's model gateway, instead of its
    Service name (local mode, where the gateways are local processes)."""
    model_gateway_port: int = 8080
    """The model gateway's Service port."""
    gateway_port: int = 8080
    """The access-layer containers' HTTP port."""
    status_interval_seconds: float = 1.0
    """At most one progress status write per session per this interval."""
    heartbeat_stale_seconds: float = 30.0
    """A heartbeat older than this means the runtime is not ready."""
