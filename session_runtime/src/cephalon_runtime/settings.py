"""The runtime's settings: environment variables ``CEPHALON_*`` (nested with ``__``).

The operator's session pod builder sets most of them; every one has a default so a
developer can run the runtime by hand. Credentials are never values here, only paths
to files (``…_FILE``) that are read once at start-up and never logged.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cephalon_contracts.events import RiskLevel
from cephalon_contracts.resources import AttachmentsSpec, Budgets
from cephalon_contracts.topics import DEFAULT_ROOT

_DOCS = ConfigDict(use_attribute_docstrings=True)


class SessionSettings(BaseModel):
    model_config = _DOCS

    id: str = "dev"
    """The AgentSession's name (the session id in topics and keys)."""
    provider: str = "discord"
    """Chat provider of the session's tenant."""
    tenant: str = "dev"
    """Tenant the session belongs to."""
    owner: str = "dev"
    """Provider id of the person who owns the session (for the audit log)."""


class RedisSettings(BaseModel):
    model_config = _DOCS

    url: str = "redis://127.0.0.1:6379/0"
    """Redis holding the session's streams, heartbeat and blobs."""
    username_file: Path | None = None
    """File with the session's Redis ACL user name."""
    password_file: Path | None = None
    """File with the session's Redis ACL password."""


class ModelSettings(BaseModel):
    model_config = _DOCS

    base_url: str = "http://127.0.0.1:8399/v1"
    """OpenAI-compatible base URL of the tenant's model gateway (BYOK provider)."""
    token_file: Path | None = None
    """File with the session's bearer token for the model gateway (the BYOK api key)."""
    default: str = "gpt-4.1"
    """Model used until `/model` switches it."""
    allowed: list[str] = Field(default_factory=list)
    """Models the tenant allows (JSON list); empty means only the default."""
    provider_type: str = "openai"
    """BYOK provider type given to the Copilot SDK."""


class McpServerSetting(BaseModel):
    """A sidecar MCP server (streamable HTTP on 127.0.0.1), as the operator passes it."""

    model_config = _DOCS

    name: str
    """Server name; the model sees its tools as `<name>-<tool>`."""
    url: str
    """Streamable HTTP endpoint."""
    risk: RiskLevel = RiskLevel.SAFE
    """Risk of the server's tools unless a tool has its own."""
    tools: dict[str, RiskLevel] = Field(default_factory=dict)
    """Per-tool risk levels."""


class McpSettings(BaseModel):
    model_config = _DOCS

    servers: list[McpServerSetting] = Field(default_factory=list)
    """The session's MCP servers: JSON list of `{name, url, risk, tools: {tool: risk}}`."""
    tool_timeout_seconds: float = 60.0
    """Default time one MCP tool call may take."""
    tool_timeouts: dict[str, float] = Field(default_factory=dict)
    """Timeouts in seconds per tool (`<server>-<tool>`) or per server (`<server>`)."""
    probe_interval_seconds: float = 15.0
    """How often every server is probed with `tools/list`."""
    probe_timeout_seconds: float = 5.0
    """How long one probe may take."""
    failure_threshold: int = 3
    """Consecutive failures that open a server's circuit."""
    reset_seconds: float = 30.0
    """How long an open circuit waits before one half-open probe."""
    startup_wait_seconds: float = 30.0
    """How long start-up waits for every server to answer (sidecars start with the runtime;
    the CLI only loads the tools of servers that answer when its session is created)."""


class WorkspaceSettings(BaseModel):
    model_config = _DOCS

    path: Path = Path("/workspace")
    """The session's checkout; the agent's working directory."""
    repo: str | None = None
    """Repository the workspace was cloned from (informational)."""
    ref: str | None = None
    """Branch or commit of the checkout (informational)."""
    cwd: str = ""
    """Working directory inside the workspace for the AGENTS.md walk."""


class PolicySettings(BaseModel):
    model_config = _DOCS

    tenant_dir: Path | None = None
    """Mounted tenant policy ConfigMap (keys `RULES.md`, `AGENTS.md`, `skill.<name>.md`)."""
    defaults_dir: Path | None = Path("/opt/cephalon/policy")
    """Default platform policy shipped in the image (`RULES.md`, `AGENTS.md`, `skills/`)."""
    watch_interval_seconds: float = 10.0
    """How often the tenant directory is checked for a ConfigMap change."""


class ApprovalSettings(BaseModel):
    model_config = _DOCS

    timeout_seconds: float = 300.0
    """How long a restricted tool call waits for a decision before it is denied."""


class CopilotSettings(BaseModel):
    model_config = _DOCS

    cli_path: Path = Path("copilot")
    """The Copilot CLI (npm `@github/copilot`); given explicitly, never downloaded."""
    home: Path | None = None
    """`COPILOT_HOME` for the CLI; a fresh temporary directory when unset."""


class HeartbeatSettings(BaseModel):
    model_config = _DOCS

    interval_seconds: float = 5.0
    """Heartbeat period (it is also written on every visible change)."""
    ttl_seconds: int = 30
    """Expiry of the heartbeat key, so a dead runtime's heartbeat disappears."""


class RuntimeSettings(BaseSettings):
    """The session runtime in the session pod (the operator's pod builder sets these)."""

    model_config = SettingsConfigDict(
        env_prefix="CEPHALON_",
        env_nested_delimiter="__",
        extra="ignore",
        use_attribute_docstrings=True,
    )

    session: SessionSettings = Field(default_factory=SessionSettings)
    topic_root: str = DEFAULT_ROOT
    """Root of every topic and key (`<root>.p.<provider>.t.<tenant>...`)."""
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
    """Port of `/healthz`, `/readyz` and `/metrics`."""
    health_host: str = "0.0.0.0"
    """Address the health port binds to."""
    consumer: str = "runtime"
    """Consumer name in the turns group; stable, so a restart re-reads its pending turns."""
    log_json: bool = True
    """JSON log lines (false: human-readable)."""

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
