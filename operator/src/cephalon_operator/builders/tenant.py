"""A ProviderTenant's footprint: its session namespace with its guard rails, and its
access layer (gateway and model gateway) in the release namespace."""

from __future__ import annotations

from dataclasses import dataclass

from cephalon_contracts.resources import API_VERSION, ProviderTenantSpec

from ..names import session_namespace, tenant_object_name
from ..settings import OperatorSettings
from . import Manifest
from .common import (
    LABEL_COMPONENT,
    LABEL_NAME,
    container_security_context,
    owner_reference,
    pod_security_context,
    tenant_labels,
)

CREDENTIALS_DIR = "/var/run/cephalon/credentials"
REDIS_CREDENTIALS_DIR = "/var/run/cephalon/redis"
GATEWAY_RESOURCES: Manifest = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}


@dataclass(frozen=True, slots=True)
class TenantContext:
    name: str
    uid: str
    spec: ProviderTenantSpec
    settings: OperatorSettings

    @property
    def namespace(self) -> str:
        return session_namespace(self.spec.provider, self.spec.tenant, self.spec.sessions.namespace)

    def object_name(self, component: str) -> str:
        return tenant_object_name(self.spec.provider, self.spec.tenant, component)

    def labels(self, component: str | None = None) -> dict[str, str]:
        labels = tenant_labels(self.spec.provider, self.spec.tenant)
        if component:
            labels |= {LABEL_NAME: f"cephalon-{component}", LABEL_COMPONENT: component}
        return labels

    def owner(self) -> Manifest:
        return owner_reference(API_VERSION, "ProviderTenant", self.name, self.uid)

    def meta(self, name: str, namespace: str | None, component: str | None = None) -> Manifest:
        meta: Manifest = {
            "name": name,
            "labels": self.labels(component),
            "ownerReferences": [self.owner()],
        }
        if namespace:
            meta["namespace"] = namespace
        return meta


# ----------------------------------------------------------------- session namespace


def build_namespace(ctx: TenantContext) -> Manifest:
    """The session namespace, enforcing Pod Security ``restricted``."""
    meta = ctx.meta(ctx.namespace, None)
    meta["labels"] |= {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def build_resource_quota(ctx: TenantContext) -> Manifest:
    """At most ``maxConcurrent`` session pods exist at once (the API refuses more)."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": ctx.meta("sessions", ctx.namespace),
        "spec": {"hard": {"pods": str(ctx.spec.sessions.max_concurrent)}},
    }


def build_limit_range(ctx: TenantContext) -> Manifest:
    """Default requests/limits for containers that set none (MCP sidecars)."""
    resources = ctx.spec.sessions.resources
    limit: Manifest = {"type": "Container"}
    if resources.limits:
        limit["default"] = dict(resources.limits)
    if resources.requests:
        limit["defaultRequest"] = dict(resources.requests)
    if len(limit) == 1:
        limit["default"] = {"cpu": "1", "memory": "1Gi"}
        limit["defaultRequest"] = {"cpu": "100m", "memory": "256Mi"}
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": ctx.meta("sessions", ctx.namespace),
        "spec": {"limits": [limit]},
    }


def build_network_policies(ctx: TenantContext) -> list[Manifest]:
    """Default-deny for the namespace, then egress only to DNS, Redis, the tenant's
    model gateway and the declared addresses of its remote MCP servers. MCP sidecars
    share the pod's loopback, so they need no rule."""
    release = {"kubernetes.io/metadata.name": ctx.settings.release_namespace}
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.meta("default-deny", ctx.namespace),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    egress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": ctx.meta("session-egress", ctx.namespace),
        "spec": {
            "podSelector": {"matchLabels": {LABEL_COMPONENT: "session"}},
            "policyTypes": ["Egress"],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            },
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": release},
                            "podSelector": {
                                "matchLabels": dict(ctx.settings.redis.service_selector)
                            },
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": ctx.settings.redis.port}],
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": release},
                            "podSelector": {"matchLabels": _selector(ctx, "model-gateway")},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": ctx.settings.model_gateway_port}],
                },
                *(
                    {
                        "to": [{"ipBlock": {"cidr": rule.cidr}}],
                        "ports": [{"protocol": "TCP", "port": rule.port}],
                    }
                    for server in ctx.spec.remote_mcp_servers
                    for rule in server.egress
                ),
            ],
        },
    }
    return [deny, egress]


def build_policy_configmap(ctx: TenantContext, files: dict[str, str]) -> Manifest:
    """The tenant's policy files mirrored into the session namespace (pods cannot mount
    a ConfigMap from another namespace)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": ctx.meta("tenant-policy", ctx.namespace),
        "data": dict(sorted(files.items())),
    }


# ----------------------------------------------------------------- access layer


def _selector(ctx: TenantContext, component: str) -> dict[str, str]:
    labels = ctx.labels(component)
    return {k: labels[k] for k in (LABEL_NAME, "cephalon.dev/provider", "cephalon.dev/tenant")}


def _access_deployment(
    ctx: TenantContext,
    component: str,
    command: str,
    replicas: int,
    env: dict[str, str],
    credentials: Manifest,
) -> Manifest:
    name = ctx.object_name(component)
    selector = _selector(ctx, component)
    settings = ctx.settings
    base_env = {
        "CEPHALON_PROVIDER": ctx.spec.provider,
        "CEPHALON_TENANT": ctx.spec.tenant,
        "CEPHALON_TOPIC_ROOT": settings.topic_root,
        "CEPHALON_REDIS__URL": settings.redis.url,
        "CEPHALON_REDIS__USERNAME_FILE": f"{REDIS_CREDENTIALS_DIR}/username",
        "CEPHALON_REDIS__PASSWORD_FILE": f"{REDIS_CREDENTIALS_DIR}/password",
        "CEPHALON_HTTP__PORT": str(settings.gateway_port),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": ctx.meta(name, settings.release_namespace, component),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": ctx.labels(component)},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": component == "gateway",
                    "securityContext": pod_security_context(),
                    "containers": [
                        {
                            "name": component,
                            "image": ctx.spec.gateway.image or settings.images.gateway,
                            "imagePullPolicy": settings.images.pull_policy,
                            "command": [command],
                            "env": [{"name": k, "value": v} for k, v in (base_env | env).items()],
                            "ports": [{"name": "http", "containerPort": settings.gateway_port}],
                            "readinessProbe": {
                                "httpGet": {"path": "/readyz", "port": settings.gateway_port}
                            },
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": settings.gateway_port},
                                "periodSeconds": 10,
                            },
                            "resources": GATEWAY_RESOURCES,
                            "securityContext": container_security_context(),
                            "volumeMounts": [
                                {
                                    "name": "credentials",
                                    "mountPath": CREDENTIALS_DIR,
                                    "readOnly": True,
                                },
                                {
                                    "name": "redis",
                                    "mountPath": REDIS_CREDENTIALS_DIR,
                                    "readOnly": True,
                                },
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "credentials", **credentials},
                        {
                            "name": "redis",
                            "secret": {
                                "secretName": ctx.object_name(f"{component}-redis"),
                                "defaultMode": 0o440,
                            },
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def _gateway_env(ctx: TenantContext) -> dict[str, str]:
    env = {
        "CEPHALON_SESSION_NAMESPACE": ctx.namespace,
        "CEPHALON_TENANT_RESOURCE": ctx.name,
        "CEPHALON_DISCORD__TOKEN_FILE": f"{CREDENTIALS_DIR}/bot-token",
        "CEPHALON_DISCORD__PUBLIC_KEY_FILE": f"{CREDENTIALS_DIR}/public-key",
        "CEPHALON_DISCORD__APP_ID_FILE": f"{CREDENTIALS_DIR}/app-id",
    }
    endpoints = ctx.settings.discord
    if endpoints.api_base:
        env["CEPHALON_DISCORD__API_BASE"] = endpoints.api_base
    if endpoints.gateway_url:
        env["CEPHALON_DISCORD__GATEWAY_URL"] = endpoints.gateway_url
    return env


def build_gateway_deployment(ctx: TenantContext) -> Manifest:
    """The chat gateway: the only pods that mount the bot credentials."""
    ref = ctx.spec.credentials_secret_ref
    return _access_deployment(
        ctx,
        "gateway",
        "cephalon-gateway",
        ctx.spec.gateway.replicas,
        _gateway_env(ctx),
        {
            "secret": {
                "secretName": ref.name,
                "defaultMode": 0o440,
                "items": [
                    {"key": ref.bot_token_key, "path": "bot-token"},
                    {"key": ref.public_key_key, "path": "public-key"},
                    {"key": ref.app_id_key, "path": "app-id"},
                ],
            }
        },
    )


def build_model_gateway_deployment(ctx: TenantContext) -> Manifest:
    """The model gateway: the only pods that mount the model provider's key."""
    models = ctx.spec.models
    env = {
        "CEPHALON_MODEL__UPSTREAM_KIND": models.upstream.kind.value,
        "CEPHALON_MODEL__UPSTREAM_BASE_URL": models.upstream.base_url or "",
        "CEPHALON_MODEL__DEFAULT": models.default,
        "CEPHALON_MODEL__ALLOWED": ",".join(models.allowed),
        "CEPHALON_MODEL__UPSTREAM_KEY_FILE": f"{CREDENTIALS_DIR}/upstream-key",
        "CEPHALON_BUDGET__SESSION_TOKENS": str(ctx.spec.budgets.session_tokens),
        "CEPHALON_BUDGET__TENANT_TOKENS_PER_DAY": str(ctx.spec.budgets.tenant_tokens_per_day or ""),
    }
    ref = models.provider_secret_ref
    # Without a provider key (the scripted model in local mode) nothing is mounted.
    credentials: Manifest = (
        {
            "secret": {
                "secretName": ref.name,
                "defaultMode": 0o440,
                "items": [{"key": ref.key, "path": "upstream-key"}],
            }
        }
        if ref
        else {"emptyDir": {}}
    )
    return _access_deployment(
        ctx,
        "model-gateway",
        "cephalon-model-gateway",
        max(1, ctx.spec.gateway.replicas),
        env,
        credentials,
    )


def build_service(ctx: TenantContext, component: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": ctx.meta(ctx.object_name(component), ctx.settings.release_namespace, component),
        "spec": {
            "selector": _selector(ctx, component),
            "ports": [{"name": "http", "port": ctx.settings.gateway_port, "targetPort": "http"}],
        },
    }


def build_service_account(ctx: TenantContext, component: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": ctx.meta(ctx.object_name(component), ctx.settings.release_namespace, component),
        "automountServiceAccountToken": False,
    }


def build_gateway_rbac(ctx: TenantContext) -> list[Manifest]:
    """The gateway may create, patch and watch AgentSessions in its session namespace,
    read their status, and read its own ProviderTenant — nothing else, nowhere else."""
    name = ctx.object_name("gateway")
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": ctx.meta(name, ctx.namespace, "gateway"),
        "rules": [
            {
                "apiGroups": ["cephalon.dev"],
                "resources": ["agentsessions"],
                "verbs": ["get", "list", "watch", "create", "patch"],
            },
            {
                "apiGroups": ["cephalon.dev"],
                "resources": ["agentsessions/status"],
                "verbs": ["get", "list", "watch"],
            },
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": ctx.meta(name, ctx.namespace, "gateway"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [
            {"kind": "ServiceAccount", "name": name, "namespace": ctx.settings.release_namespace}
        ],
    }
    # The gateway reads its own ProviderTenant (allow rules, channels, quotas): a
    # cluster-scoped object, so a ClusterRole limited to that one name.
    tenant_reader = f"{name}-tenant"
    cluster_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": ctx.meta(tenant_reader, None, "gateway"),
        "rules": [
            {
                "apiGroups": ["cephalon.dev"],
                "resources": ["providertenants"],
                "resourceNames": [ctx.name],
                "verbs": ["get"],
            }
        ],
    }
    cluster_binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": ctx.meta(tenant_reader, None, "gateway"),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": tenant_reader,
        },
        "subjects": binding["subjects"],
    }
    return [role, binding, cluster_role, cluster_binding]
