"""Spec and status models of the custom resources (``cephalon.dev/v1alpha1``).

These models are the single source of the CRD schemas (:mod:`cephalon_contracts.crds`
generates the YAML from them). Field names are Python snake_case with camelCase
aliases, as Kubernetes writes them. Resource models are not strict (the API server
hands us JSON-decoded dicts), but they are closed: unknown fields are errors.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.alias_generators import to_camel

from .events import RiskLevel
from .names import PROVIDER_PATTERN

GROUP = "cephalon.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: ``30s``, ``15m``, ``8h``, ``1h30m``: a Kubernetes-style duration.
DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = (
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$"
SNOWFLAKE_PATTERN = r"^[0-9]{1,20}$"

Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN, min_length=2)]
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL_PATTERN, max_length=63)]
ObjectName = Annotated[str, StringConstraints(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)]
Quantity = Annotated[str, StringConstraints(pattern=QUANTITY_PATTERN)]
ProviderId = Annotated[str, StringConstraints(min_length=1, max_length=64)]

#: Makes a field immutable once set (a CEL transition rule, checked by the API server).
IMMUTABLE: dict[str, Any] = {
    "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "field is immutable"}]
}


def parse_duration(value: str) -> int:
    """Seconds in a duration string such as ``1h30m``."""
    match = re.fullmatch(DURATION_PATTERN, value)
    if not match or not value:
        raise ValueError(f"{value!r} is not a duration like 30s, 15m, 8h or 1h30m")
    hours, minutes, seconds = (int(g[:-1]) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


class ResourceModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


# --------------------------------------------------------------------------- shared


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ResourceModel):
    """A Kubernetes-style condition (``metav1.Condition``)."""

    type: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=316)
    status: ConditionStatus
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", max_length=1024)
    message: str = Field(default="", max_length=32768)
    last_transition_time: AwareDatetime
    observed_generation: int | None = Field(default=None, ge=0)


class SecretKeyRef(ResourceModel):
    name: ObjectName
    key: str = Field(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)


class Resources(ResourceModel):
    """Requests and limits of a container (cpu, memory, ephemeral-storage)."""

    requests: dict[str, Quantity] = Field(default_factory=dict)
    limits: dict[str, Quantity] = Field(default_factory=dict)


class Storage(ResourceModel):
    """A persistent workspace volume; without it the workspace is an ``emptyDir``."""

    size: Quantity = "1Gi"
    storage_class_name: ObjectName | None = None


# ---------------------------------------------------------------- ProviderTenant


class UpstreamKind(StrEnum):
    OPENAI = "openai"
    AZURE = "azure"
    ANTHROPIC = "anthropic"
    COPILOT = "copilot"


class CredentialsSecretRef(ResourceModel):
    """The tenant's bot credentials, mounted only into the tenant's gateway pods.

    The Secret lives in the release namespace and must hold the three keys named here.
    """

    name: ObjectName
    bot_token_key: str = "bot-token"
    public_key_key: str = "public-key"
    app_id_key: str = "app-id"


class AllowRules(ResourceModel):
    """Who may start and drive sessions; empty lists mean no restriction."""

    guilds: list[ProviderId] = Field(default_factory=list)
    channels: list[ProviderId] = Field(default_factory=list)
    roles: list[ProviderId] = Field(default_factory=list)


class GatewaySpec(ResourceModel):
    replicas: int = Field(default=1, ge=0, le=20)
    image: str | None = Field(default=None, max_length=512)
    start_chat_channels: list[ProviderId] = Field(default_factory=list)
    session_category: ProviderId | None = None
    operator_roles: list[ProviderId] = Field(
        default_factory=list,
        description="Roles that may drive, approve for and end any session of the tenant.",
    )
    steer_prefix: str = Field(default="!", min_length=1, max_length=8)


class UpstreamSpec(ResourceModel):
    kind: UpstreamKind = UpstreamKind.OPENAI
    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=512)


class ModelsSpec(ResourceModel):
    default: str = Field(min_length=1, max_length=200)
    allowed: list[str] = Field(default_factory=list)
    upstream: UpstreamSpec = Field(default_factory=UpstreamSpec)
    provider_secret_ref: SecretKeyRef | None = None


class SessionsSpec(ResourceModel):
    namespace: DnsLabel | None = None
    """Session namespace (default cephalon-<provider>-<tenant>)."""
    image: str | None = Field(default=None, max_length=512)
    """Session runtime image (default: the chart's)."""
    runtime_class_name: DnsLabel | None = None
    """RuntimeClass for session pods, e.g. gvisor or kata."""
    resources: Resources = Field(default_factory=Resources)
    """Requests and limits of the runtime container."""
    idle_timeout: Duration = "30m"
    """Suspend a session after this long without a turn."""
    max_duration: Duration = "8h"
    """A session pod's longest life (activeDeadlineSeconds)."""
    max_concurrent: int = Field(default=20, ge=0, le=10000)
    """Running sessions the tenant may have at once."""
    max_per_user: int = Field(default=2, ge=0, le=1000)
    """Running sessions one person may have at once."""
    storage: Storage | None = None
    """A PVC per session workspace, so suspend keeps it; emptyDir when absent."""


class McpTool(ResourceModel):
    name: str = Field(min_length=1, max_length=128)
    risk: RiskLevel = RiskLevel.SAFE


class McpServerSpec(ResourceModel):
    """An MCP server a session may run as a sidecar (streamable HTTP on localhost)."""

    name: DnsLabel
    image: str = Field(min_length=1, max_length=512)
    port: int = Field(ge=1024, le=65535)
    path: str = Field(default="/mcp", pattern=r"^/[^\s]*$")
    risk: RiskLevel = RiskLevel.SAFE
    tools: list[McpTool] = Field(default_factory=list)
    command: list[str] | None = None
    args: list[str] | None = None


class EgressRule(ResourceModel):
    """Where a remote MCP server lives, for the sessions' egress NetworkPolicy."""

    cidr: str = Field(pattern=r"^[0-9a-fA-F:.]+/[0-9]{1,3}$", max_length=64)
    port: int = Field(ge=1, le=65535)


class RemoteMcpServerSpec(ResourceModel):
    """An MCP server outside the session pod (streamable HTTP), allowed by the tenant."""

    name: DnsLabel
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=512)
    risk: RiskLevel = RiskLevel.SAFE
    tools: list[McpTool] = Field(default_factory=list)
    egress: list[EgressRule] = Field(default_factory=list, max_length=10)
    """Addresses session pods may reach for it; nothing else is opened."""


class PolicyRefs(ResourceModel):
    """ConfigMaps (in the release namespace) holding the tenant's policy files."""

    rules_config_map: ObjectName | None = None
    agents_config_map: ObjectName | None = None
    skills_config_map: ObjectName | None = None


class Budgets(ResourceModel):
    turn_seconds: int = Field(default=900, ge=1)
    turn_tool_calls: int = Field(default=50, ge=0)
    turn_tokens: int = Field(default=200_000, ge=0)
    session_tokens: int = Field(default=2_000_000, ge=0)
    tenant_tokens_per_day: int | None = Field(default=None, ge=0)


class AttachmentsSpec(ResourceModel):
    max_bytes: int = Field(default=8 * 1024 * 1024, ge=0)
    allowed_types: list[str] = Field(
        default_factory=lambda: [
            "text/plain",
            "text/markdown",
            "application/json",
            "image/png",
            "image/jpeg",
            "image/webp",
            "image/gif",
        ]
    )


class ApprovalsSpec(ResourceModel):
    timeout: Duration = "5m"
    roles: list[ProviderId] = Field(default_factory=list)


class ProviderTenantSpec(ResourceModel):
    provider: str = Field(pattern=PROVIDER_PATTERN, max_length=30, json_schema_extra=IMMUTABLE)
    """Chat provider: discord (slack, bluesky, reddit, twitch later). Immutable."""
    tenant: str = Field(pattern=PROVIDER_PATTERN, max_length=30, json_schema_extra=IMMUTABLE)
    """Tenant name within the provider. Immutable."""
    credentials_secret_ref: CredentialsSecretRef
    """The bot's credentials (a Secret in the release namespace)."""
    allow: AllowRules = Field(default_factory=AllowRules)
    """Guilds, channels and roles allowed to use the bot."""
    gateway: GatewaySpec = Field(default_factory=GatewaySpec)
    """The tenant's chat gateway Deployment."""
    models: ModelsSpec
    """Models sessions may use and the upstream the model gateway forwards to."""
    sessions: SessionsSpec = Field(default_factory=SessionsSpec)
    """Where and how session pods run, and how many."""
    mcp_servers: list[McpServerSpec] = Field(default_factory=list, max_length=20)
    """The catalogue of MCP servers sessions may run as sidecars."""
    remote_mcp_servers: list[RemoteMcpServerSpec] = Field(default_factory=list, max_length=20)
    """MCP servers outside the pod that sessions may use, with the egress they need."""
    policy: PolicyRefs = Field(default_factory=PolicyRefs)
    """ConfigMaps with the tenant's RULES.md, AGENTS.md and skills."""
    budgets: Budgets = Field(default_factory=Budgets)
    """Time, tool-call and token budgets per turn, session and day."""
    attachments: AttachmentsSpec = Field(default_factory=AttachmentsSpec)
    """Which attachments users may send."""
    approvals: ApprovalsSpec = Field(default_factory=ApprovalsSpec)
    """How restricted tool calls are approved."""

    @model_validator(mode="after")
    def _unique_mcp_names(self) -> ProviderTenantSpec:
        names = [s.name for s in self.mcp_servers] + [s.name for s in self.remote_mcp_servers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"MCP server names must be unique: {', '.join(duplicates)}")
        return self


class SessionCounts(ResourceModel):
    active: int = Field(default=0, ge=0)
    suspended: int = Field(default=0, ge=0)


class ProviderTenantStatus(ResourceModel):
    observed_generation: int | None = Field(default=None, ge=0)
    """The spec generation this status describes."""
    conditions: list[Condition] = Field(default_factory=list)
    """NamespaceReady, CredentialsValid, GatewayReady, ModelGatewayReady, Ready."""
    sessions: SessionCounts = Field(default_factory=SessionCounts)
    """How many of the tenant's sessions are active and suspended."""
    namespace: str | None = None
    """The session namespace in use."""


# ------------------------------------------------------------------ AgentSession


class SessionState(StrEnum):
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    ENDED = "Ended"


class SessionPhase(StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    READY = "Ready"
    RUNNING = "Running"
    IDLE = "Idle"
    SUSPENDED = "Suspended"
    ENDED = "Ended"
    FAILED = "Failed"


class Owner(ResourceModel):
    """The person the session belongs to."""

    id: ProviderId
    name: str = Field(min_length=1, max_length=100)


class Conversation(ResourceModel):
    guild: ProviderId | None = None
    channel: ProviderId
    interaction_id: ProviderId | None = None


class Profile(ResourceModel):
    agent: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=200)
    skills: list[str] = Field(default_factory=list)
    mcp_servers: list[DnsLabel] = Field(default_factory=list)


class Workspace(ResourceModel):
    repo: str | None = Field(default=None, max_length=512)
    ref: str | None = Field(default=None, max_length=256)
    storage: Storage | None = None


class Lifecycle(ResourceModel):
    state: SessionState = SessionState.RUNNING
    """Running, Suspended (pod deleted, workspace kept) or Ended (everything removed)."""
    idle_timeout: Duration | None = None
    """Suspend after this long without a turn (default: the tenant's)."""
    max_duration: Duration | None = None
    """Hard limit on the session pod's lifetime (default: the tenant's)."""


class AgentSessionSpec(ResourceModel):
    provider: str = Field(pattern=PROVIDER_PATTERN, max_length=30, json_schema_extra=IMMUTABLE)
    """Chat provider of the tenant. Immutable."""
    tenant: str = Field(pattern=PROVIDER_PATTERN, max_length=30, json_schema_extra=IMMUTABLE)
    """Tenant the session belongs to (its ProviderTenant). Immutable."""
    owner: Owner
    """The person who started the session and may drive it."""
    conversation: Conversation
    """Where the conversation happens (provider ids)."""
    profile: Profile = Field(default_factory=Profile)
    """Agent, model, skills and MCP servers chosen for the session."""
    workspace: Workspace = Field(default_factory=Workspace)
    """The repository checked out into the session's workspace."""
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    """Desired state and time limits."""


class TokenUsage(ResourceModel):
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    total_tokens: int = Field(default=0, ge=0)


class Progress(ResourceModel):
    turn: int = Field(default=0, ge=0)
    step: str = Field(default="", max_length=100)
    message: str = Field(default="", max_length=500)
    updated_at: AwareDatetime | None = None


class PolicySnapshot(ResourceModel):
    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")


class AgentSessionStatus(ResourceModel):
    observed_generation: int | None = Field(default=None, ge=0)
    """The spec generation this status describes."""
    phase: SessionPhase = SessionPhase.PENDING
    """Pending → Provisioning → Ready ⇄ Running → Idle/Suspended → Ended | Failed."""
    reason: str | None = Field(default=None, max_length=100)
    """Why the session is in its phase (e.g. Idle, QuotaExceeded), CamelCase."""
    message: str | None = Field(default=None, max_length=1000)
    """A sentence a chat user can read about the phase."""
    conditions: list[Condition] = Field(default_factory=list)
    """PodScheduled, RuntimeReady, McpReady, Ready."""
    pod_name: str | None = None
    """The session pod's name while one exists."""
    started_at: AwareDatetime | None = None
    suspended_at: AwareDatetime | None = None
    """When the pod was last removed for suspension (a later wake resumes it)."""
    last_activity_at: AwareDatetime | None = None
    """Time of the last turn or runtime heartbeat with activity."""
    turns: int = Field(default=0, ge=0)
    """Turns completed."""
    usage: TokenUsage = Field(default_factory=TokenUsage)
    """Tokens used by the session so far."""
    progress: Progress = Field(default_factory=Progress)
    """The running turn's progress, coalesced to one write per second at most."""
    policy_snapshot: PolicySnapshot | None = None
    """Hash of the merged policy the runtime is using."""


# -------------------------------------------------------------- the CRD catalogue


class CrdInfo(BaseModel):
    """What the generator needs to know about a kind beyond its models."""

    model_config = ConfigDict(frozen=True)

    kind: str
    plural: str
    singular: str
    short_names: list[str]
    scope: Literal["Namespaced", "Cluster"]
    spec: type[ResourceModel]
    status: type[ResourceModel]
    printer_columns: list[dict[str, str]]
    description: str


AGENT_SESSION = CrdInfo(
    kind="AgentSession",
    plural="agentsessions",
    singular="agentsession",
    short_names=["as"],
    scope="Namespaced",
    spec=AgentSessionSpec,
    status=AgentSessionStatus,
    description="One conversation with a coding agent, run in its own sandboxed pod.",
    printer_columns=[
        {"name": "Tenant", "type": "string", "jsonPath": ".spec.tenant"},
        {"name": "Owner", "type": "string", "jsonPath": ".spec.owner.name"},
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "Step", "type": "string", "jsonPath": ".status.progress.step"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
)

PROVIDER_TENANT = CrdInfo(
    kind="ProviderTenant",
    plural="providertenants",
    singular="providertenant",
    short_names=["pt"],
    scope="Cluster",
    spec=ProviderTenantSpec,
    status=ProviderTenantStatus,
    description="One bot of one chat provider for one tenant, and everything it may use.",
    printer_columns=[
        {"name": "Provider", "type": "string", "jsonPath": ".spec.provider"},
        {"name": "Tenant", "type": "string", "jsonPath": ".spec.tenant"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "Active", "type": "integer", "jsonPath": ".status.sessions.active"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ],
)

CRDS: tuple[CrdInfo, ...] = (AGENT_SESSION, PROVIDER_TENANT)
