"""The session pod, its session-scoped Secret and its workspace volume claim."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cephalon_contracts.resources import (
    API_VERSION,
    AgentSessionSpec,
    McpServerSpec,
    ProviderTenantSpec,
    RemoteMcpServerSpec,
    parse_duration,
)

from ..names import (
    session_pod_name,
    session_pvc_name,
    session_secret_name,
    tenant_object_name,
)
from ..settings import OperatorSettings
from . import Manifest
from .common import (
    LABEL_COMPONENT,
    LABEL_NAME,
    LABEL_SESSION,
    container_security_context,
    owner_reference,
    pod_security_context,
    tenant_labels,
)

CREDENTIALS_DIR = "/var/run/cephalon/session"
WORKSPACE_DIR = "/workspace"
POLICY_DIR = "/etc/cephalon/policy"
TENANT_POLICY_CONFIGMAP = "tenant-policy"
SECRET_KEYS = ("redis-username", "redis-password", "model-token")


class UnknownMcpServerError(ValueError):
    """The session asked for an MCP server its tenant's catalogue does not have."""


@dataclass(frozen=True, slots=True)
class SessionContext:
    """Everything a session's manifests are built from."""

    name: str
    namespace: str
    uid: str
    spec: AgentSessionSpec
    tenant: ProviderTenantSpec
    settings: OperatorSettings


def session_labels(ctx: SessionContext) -> dict[str, str]:
    return {
        **tenant_labels(ctx.spec.provider, ctx.spec.tenant),
        LABEL_NAME: "cephalon-session",
        LABEL_COMPONENT: "session",
        LABEL_SESSION: ctx.name,
    }


def session_owner(ctx: SessionContext) -> Manifest:
    return owner_reference(API_VERSION, "AgentSession", ctx.name, ctx.uid)


def selected_mcp_servers(ctx: SessionContext) -> list[McpServerSpec | RemoteMcpServerSpec]:
    """The catalogue entries (sidecars and remote servers) the session uses, all of them
    when it names none."""
    catalogue: dict[str, McpServerSpec | RemoteMcpServerSpec] = {}
    for sidecar in ctx.tenant.mcp_servers:
        catalogue[sidecar.name] = sidecar
    for remote in ctx.tenant.remote_mcp_servers:
        catalogue[remote.name] = remote
    wanted = ctx.spec.profile.mcp_servers or list(catalogue)
    unknown = sorted(set(wanted) - set(catalogue))
    if unknown:
        raise UnknownMcpServerError(
            f"MCP server(s) {', '.join(unknown)} are not in tenant {ctx.spec.tenant}'s catalogue"
            f" (available: {', '.join(sorted(catalogue)) or 'none'})"
        )
    return [catalogue[name] for name in wanted]


def _mcp_url(server: McpServerSpec | RemoteMcpServerSpec) -> str:
    if isinstance(server, RemoteMcpServerSpec):
        return server.url
    return f"http://127.0.0.1:{server.port}{server.path}"


def model_gateway_url(ctx: SessionContext) -> str:
    """The tenant's model gateway Service, unless the settings name another URL for the
    tenant (local mode, where the gateways run as local processes)."""
    override = ctx.settings.model_gateway_urls.get(f"{ctx.spec.provider}-{ctx.spec.tenant}")
    if override:
        return override
    service = tenant_object_name(ctx.spec.provider, ctx.spec.tenant, "model-gateway")
    namespace = ctx.settings.release_namespace
    return f"http://{service}.{namespace}.svc:{ctx.settings.model_gateway_port}/v1"


def _runtime_env(
    ctx: SessionContext, servers: list[McpServerSpec | RemoteMcpServerSpec]
) -> list[Manifest]:
    spec, tenant = ctx.spec, ctx.tenant
    mcp = [
        {
            "name": s.name,
            "url": _mcp_url(s),
            "risk": s.risk.value,
            "tools": {t.name: t.risk.value for t in s.tools},
        }
        for s in servers
    ]
    values = {
        "CEPHALON_SESSION__ID": ctx.name,
        "CEPHALON_SESSION__PROVIDER": spec.provider,
        "CEPHALON_SESSION__TENANT": spec.tenant,
        "CEPHALON_SESSION__OWNER": spec.owner.id,
        "CEPHALON_TOPIC_ROOT": ctx.settings.topic_root,
        "CEPHALON_REDIS__URL": ctx.settings.redis.url,
        "CEPHALON_REDIS__USERNAME_FILE": f"{CREDENTIALS_DIR}/redis-username",
        "CEPHALON_REDIS__PASSWORD_FILE": f"{CREDENTIALS_DIR}/redis-password",
        "CEPHALON_MODEL__BASE_URL": model_gateway_url(ctx),
        "CEPHALON_MODEL__TOKEN_FILE": f"{CREDENTIALS_DIR}/model-token",
        "CEPHALON_MODEL__DEFAULT": spec.profile.model or tenant.models.default,
        "CEPHALON_MODEL__ALLOWED": json.dumps(tenant.models.allowed),
        "CEPHALON_MCP__SERVERS": json.dumps(mcp, sort_keys=True),
        "CEPHALON_WORKSPACE__PATH": WORKSPACE_DIR,
        "CEPHALON_POLICY__TENANT_DIR": POLICY_DIR,
        "CEPHALON_BUDGETS": tenant.budgets.model_dump_json(by_alias=False),
        "CEPHALON_ATTACHMENTS": tenant.attachments.model_dump_json(by_alias=False),
        "CEPHALON_APPROVALS__TIMEOUT_SECONDS": str(parse_duration(tenant.approvals.timeout)),
        "CEPHALON_HEALTH_PORT": str(ctx.settings.runtime_port),
        "HOME": "/home/cephalon",
        "TMPDIR": "/tmp",
    }
    if spec.workspace.repo:
        values["CEPHALON_WORKSPACE__REPO"] = spec.workspace.repo
        values["CEPHALON_WORKSPACE__REF"] = spec.workspace.ref or ""
    env: list[Manifest] = [{"name": k, "value": v} for k, v in values.items()]
    # Health is served on the pod IP only: what the kubelet probes, nothing wider.
    env.append(
        {"name": "CEPHALON_HEALTH_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    )
    return env


def _runtime_container(
    ctx: SessionContext, servers: list[McpServerSpec | RemoteMcpServerSpec]
) -> Manifest:
    resources = ctx.tenant.sessions.resources
    return {
        "name": "runtime",
        "image": ctx.tenant.sessions.image or ctx.settings.images.runtime,
        "imagePullPolicy": ctx.settings.images.pull_policy,
        "command": ["cephalon-runtime"],
        "env": _runtime_env(ctx, servers),
        "ports": [{"name": "health", "containerPort": ctx.settings.runtime_port}],
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": ctx.settings.runtime_port},
            "periodSeconds": 2,
            "failureThreshold": 3,
        },
        "resources": {"requests": dict(resources.requests), "limits": dict(resources.limits)},
        "securityContext": container_security_context(),
        "workingDir": WORKSPACE_DIR,
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE_DIR},
            {"name": "home", "mountPath": "/home/cephalon"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "session-credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True},
            {"name": "tenant-policy", "mountPath": POLICY_DIR, "readOnly": True},
        ],
    }


def _mcp_container(server: McpServerSpec, ctx: SessionContext) -> Manifest:
    container: Manifest = {
        "name": f"mcp-{server.name}",
        "image": server.image,
        "imagePullPolicy": ctx.settings.images.pull_policy,
        "env": [
            {"name": "MCP_HOST", "value": "127.0.0.1"},
            {"name": "MCP_PORT", "value": str(server.port)},
            {"name": "MCP_PATH", "value": server.path},
            {"name": "MCP_WORKSPACE", "value": WORKSPACE_DIR},
            {"name": "HOME", "value": "/tmp"},
        ],
        "ports": [{"name": f"mcp-{server.port}", "containerPort": server.port}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    if server.command is not None:
        container["command"] = list(server.command)
    if server.args is not None:
        container["args"] = list(server.args)
    return container


def build_session_pod(ctx: SessionContext) -> Manifest:
    """The sandboxed session pod: runtime plus one sidecar per selected MCP server.

    Pod Security ``restricted`` on every container, no service-account token, no Secret
    but the session-scoped one, a hard lifetime from ``maxDuration``.
    """
    servers = selected_mcp_servers(ctx)
    lifecycle, defaults = ctx.spec.lifecycle, ctx.tenant.sessions
    workspace: Manifest = (
        {"persistentVolumeClaim": {"claimName": session_pvc_name(ctx.name)}}
        if workspace_storage(ctx) is not None
        else {"emptyDir": {}}
    )
    pod: Manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": session_pod_name(ctx.name),
            "namespace": ctx.namespace,
            "labels": session_labels(ctx),
            "ownerReferences": [session_owner(ctx)],
        },
        "spec": {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 20,
            "activeDeadlineSeconds": parse_duration(
                lifecycle.max_duration or defaults.max_duration
            ),
            "securityContext": pod_security_context(),
            "containers": [_runtime_container(ctx, servers)]
            + [_mcp_container(s, ctx) for s in servers if isinstance(s, McpServerSpec)],
            "volumes": [
                {"name": "workspace", **workspace},
                {"name": "home", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                {
                    "name": "session-credentials",
                    "secret": {"secretName": session_secret_name(ctx.name), "defaultMode": 0o440},
                },
                {
                    "name": "tenant-policy",
                    "configMap": {"name": TENANT_POLICY_CONFIGMAP, "optional": True},
                },
            ],
        },
    }
    if defaults.runtime_class_name:
        pod["spec"]["runtimeClassName"] = defaults.runtime_class_name
    return pod


def workspace_storage(ctx: SessionContext) -> tuple[str, str | None] | None:
    """``(size, storageClassName)`` when the workspace is a PVC, else ``None``."""
    storage = ctx.spec.workspace.storage or ctx.tenant.sessions.storage
    return (storage.size, storage.storage_class_name) if storage else None


def build_workspace_pvc(ctx: SessionContext) -> Manifest | None:
    """The workspace claim, owned by the session so suspend keeps it and delete frees it."""
    storage = workspace_storage(ctx)
    if storage is None:
        return None
    size, storage_class = storage
    spec: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": session_pvc_name(ctx.name),
            "namespace": ctx.namespace,
            "labels": session_labels(ctx),
            "ownerReferences": [session_owner(ctx)],
        },
        "spec": spec,
    }


def build_session_secret(
    ctx: SessionContext, *, redis_username: str, redis_password: str, model_token: str
) -> Manifest:
    """The only Secret a session pod mounts: credentials valid for this session only."""
    values = {
        "redis-username": redis_username,
        "redis-password": redis_password,
        "model-token": model_token,
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": session_secret_name(ctx.name),
            "namespace": ctx.namespace,
            "labels": session_labels(ctx),
            "ownerReferences": [session_owner(ctx)],
        },
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }
