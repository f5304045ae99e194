"""The runtime's settings: environment variables ``CEPHALON_*`` (nested with ``__``).

The operator's session pod builder sets most of them; every one has a default so a
developer can run the runtime by hand. Credentials are never values here, only paths
to files (``…_FILE``) that are read once at start-up and never logged.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cephalon_contracts.events import RiskLevel
from cephalon_contracts.resources import AttachmentsSpec, Budgets
from cephalon_contracts.topics import DEFAULT_ROOT


class SessionSettings(BaseModel):
    id: str = "dev"
    provider: str = "discord"
    tenant: str = "dev"
    owner: str = "dev"


class RedisSettings(BaseModel):
    url: str = "redis://127.0.0.1:6379/0"
    username_file: Path | None = None
    password_file: Path | None = None


class ModelSettings(BaseModel):
    base_url: str = "http://127.0.0.1:8399/v1"
    token_file: Path | None = None
    """The session's bearer token for the model gateway (the BYOK ``api_key``)."""
    default: str = "gpt-4.1"
    allowed: list[str] = Field(default_factory=list)
    """Models the tenant allows; empty means only ``default``."""
    provider_type: str = "openai"


class McpServerSetting(BaseModel):
    """A sidecar MCP server (streamable HTTP on 127.0.0.1), as the operator passes it."""

    name: str
    url: str
    risk: RiskLevel = RiskLevel.SAFE
    tools: dict[str, RiskLevel] = Field(default_factory=dict)


class McpSettings(BaseModel):
    servers: list[McpServerSetting] = Field(default_factory=list)
    tool_timeout_seconds: float = 60.0
    """Default time one MCP tool call may take."""
    tool_timeouts: dict[str, float] = Field(default_factory=dict)
    """Per-tool (``<server>-<tool>``) or per-server (``<server>``) timeouts, seconds."""
    probe_interval_seconds: float = 15.0
    probe_timeout_seconds: float = 5.0
    failure_threshold: int = 3
    """Consecutive failures that open a server's circuit."""
    reset_seconds: float = 30.0
    """How long an open circuit waits before a half-open probe."""


class WorkspaceSettings(BaseModel):
    path: Path = Path("/workspace")
    repo: str | None = None
    ref: str | None = None
    cwd: str = ""
    """Working directory inside the workspace (for the AGENTS.md walk)."""


class PolicySettings(BaseModel):
    tenant_dir: Path | None = None
    """The tenant's policy ConfigMap, mounted: flat keys RULES.md, AGENTS.md, skill.<n>.md."""
    defaults_dir: Path | None = Path("/opt/cephalon/policy")
    """The platform's default policy shipped in the image (RULES.md, AGENTS.md, skills/)."""
    watch_interval_seconds: float = 10.0
    """How often the tenant directory is checked for a ConfigMap change."""


class ApprovalSettings(BaseModel):
    timeout_seconds: float = 300.0


class CopilotSettings(BaseModel):
    cli_path: Path = Path("copilot")
    """The Copilot CLI (npm ``@github/copilot``); given explicitly, never downloaded."""
    home: Path | None = None
    """``COPILOT_HOME`` for the CLI; a fresh temporary directory when unset."""


class HeartbeatSettings(BaseModel):
    interval_seconds: float = 5.0
    ttl_seconds: int = 30


class RuntimeSettings(BaseSettings):
    """Everything the runtime is configured with."""

    model_config = SettingsConfigDict(
        env_prefix="CEPHALON_", env_nested_delimiter="__", extra="ignore"
    )

    session: SessionSettings = Field(default_factory=SessionSettings)
    topic_root: str = DEFAULT_ROOT
    redis: RedisSettings = Field(default_factory=RedisSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)
    workspace: WorkspaceSettings = Field(default_factory=WorkspaceSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    budgets: Budgets = Field(default_factory=Budgets)
    attachments: AttachmentsSpec = Field(default_factory=AttachmentsSpec)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    copilot: CopilotSettings = Field(default_factory=CopilotSettings)
    heartbeat: HeartbeatSettings = Field(default_factory=HeartbeatSettings)
    health_port: int = 8080
    health_host: str = "0.0.0.0"
    consumer: str = "runtime"
    """Consumer name in the turns group; stable so a restart re-reads its own pending turns."""
    log_json: bool = True

    @field_validator("model", mode="after")
    @classmethod
    def _default_is_allowed(cls, value: ModelSettings) -> ModelSettings:
        if not value.allowed:
            value.allowed = [value.default]
        return value


def read_secret_file(path: Path | None) -> str | None:
    """The stripped content of a credential file, or ``None`` when no file is set."""
    if path is None:
        return None
    return path.read_text(encoding="utf-8").strip()
