from __future__ import annotations

from typing import Any

from cephalon_operator.builders.tenant import (
    build_gateway_deployment,
    build_gateway_rbac,
    build_limit_range,
    build_model_gateway_deployment,
    build_namespace,
    build_network_policies,
    build_resource_quota,
)
from cephalon_operator.podsecurity import restricted_violations

TENANT_LABELS = {
    "app.kubernetes.io/part-of": "cephalon",
    "app.kubernetes.io/managed-by": "cephalon-operator",
    "cephalon.dev/provider": "discord",
    "cephalon.dev/tenant": "duck",
}
OWNER = {
    "apiVersion": "cephalon.dev/v1alpha1",
    "kind": "ProviderTenant",
    "name": "discord-duck",
    "uid": "uid-t",
    "controller": True,
    "blockOwnerDeletion": True,
}


def _meta(name: str, namespace: str | None = "cephalon-discord-duck", **labels: str) -> Any:
    meta = {"name": name, "labels": TENANT_LABELS | labels, "ownerReferences": [OWNER]}
    if namespace:
        meta["namespace"] = namespace
    return meta


def test_namespace_enforces_restricted_pod_security(make: Any) -> None:
    assert build_namespace(make.tenant()) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": _meta(
            "cephalon-discord-duck",
            None,
            **{
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        ),
    }


def test_quota_and_limits_follow_the_sessions_spec(make: Any) -> None:
    ctx = make.tenant(sessions={"maxConcurrent": 7, "resources": {"limits": {"cpu": "2"}}})
    assert build_resource_quota(ctx)["spec"] == {"hard": {"pods": "7"}}
    assert build_limit_range(ctx)["spec"] == {
        "limits": [{"type": "Container", "default": {"cpu": "2"}}]
    }
    assert build_limit_range(make.tenant(sessions={}))["spec"]["limits"][0]["defaultRequest"] == {
        "cpu": "100m",
        "memory": "256Mi",
    }


def test_network_policies_deny_by_default_and_allow_only_dns_redis_model_gateway(make: Any) -> None:
    deny, egress = build_network_policies(make.tenant())
    assert deny == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("default-deny"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    release = {"kubernetes.io/metadata.name": "cephalon-system"}
    assert egress == {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("session-egress"),
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/component": "session"}},
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
                                "matchLabels": {"app.kubernetes.io/name": "cephalon-redis"}
                            },
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": 6379}],
                },
                {
                    "to": [
                        {
                            "namespaceSelector": {"matchLabels": release},
                            "podSelector": {
                                "matchLabels": {
                                    "app.kubernetes.io/name": "cephalon-model-gateway",
                                    "cephalon.dev/provider": "discord",
                                    "cephalon.dev/tenant": "duck",
                                }
                            },
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": 8080}],
                },
            ],
        },
    }


def test_gateway_role_allows_only_agentsessions_in_the_session_namespace(make: Any) -> None:
    role, binding, tenant_role, tenant_binding = build_gateway_rbac(make.tenant())
    labels = {
        "app.kubernetes.io/name": "cephalon-gateway",
        "app.kubernetes.io/component": "gateway",
    }
    assert role == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta("cephalon-discord-duck-gateway", **labels),
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
    assert binding == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta("cephalon-discord-duck-gateway", **labels),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "cephalon-discord-duck-gateway",
        },
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": "cephalon-discord-duck-gateway",
                "namespace": "cephalon-system",
            }
        ],
    }
    assert tenant_role["kind"] == "ClusterRole"
    assert tenant_role["rules"] == [
        {
            "apiGroups": ["cephalon.dev"],
            "resources": ["providertenants"],
            "resourceNames": ["discord-duck"],
            "verbs": ["get"],
        }
    ]
    assert tenant_binding["roleRef"]["name"] == tenant_role["metadata"]["name"]
    assert tenant_binding["subjects"] == binding["subjects"]


def _secret_volumes(deployment: Any) -> dict[str, Any]:
    return {
        v["secret"]["secretName"]: v["secret"]
        for v in deployment["spec"]["template"]["spec"]["volumes"]
        if "secret" in v
    }


def test_bot_credentials_are_mounted_only_into_the_gateway(make: Any) -> None:
    ctx = make.tenant()
    gateway = build_gateway_deployment(ctx)
    model = build_model_gateway_deployment(ctx)
    assert gateway["metadata"]["namespace"] == "cephalon-system"
    assert set(_secret_volumes(gateway)) == {
        "discord-duck-credentials",
        "cephalon-discord-duck-gateway-redis",
    }
    assert _secret_volumes(gateway)["discord-duck-credentials"]["items"] == [
        {"key": "bot-token", "path": "bot-token"},
        {"key": "public-key", "path": "public-key"},
        {"key": "app-id", "path": "app-id"},
    ]
    assert set(_secret_volumes(model)) == {
        "discord-duck-model",
        "cephalon-discord-duck-model-gateway-redis",
    }
    env = {
        e["name"]: e["value"] for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["CEPHALON_DISCORD__TOKEN_FILE"] == "/var/run/cephalon/credentials/bot-token"
    assert all(
        "valueFrom" not in e for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]
    )


def test_model_gateway_without_provider_key_mounts_no_secret_for_it(make: Any) -> None:
    ctx = make.tenant(models={"default": "scripted"})
    assert set(_secret_volumes(build_model_gateway_deployment(ctx))) == {
        "cephalon-discord-duck-model-gateway-redis"
    }


def test_access_layer_pods_are_restricted_too(make: Any) -> None:
    ctx = make.tenant()
    for deployment in (build_gateway_deployment(ctx), build_model_gateway_deployment(ctx)):
        assert restricted_violations({"spec": deployment["spec"]["template"]["spec"]}) == []
    model = build_model_gateway_deployment(ctx)["spec"]["template"]["spec"]
    assert model["automountServiceAccountToken"] is False


def test_model_gateway_enforces_the_tenants_budgets(make: Any) -> None:
    ctx = make.tenant(budgets={"sessionTokens": 5000, "tenantTokensPerDay": 90000})
    container = build_model_gateway_deployment(ctx)["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["CEPHALON_BUDGET__SESSION_TOKENS"] == "5000"
    assert env["CEPHALON_BUDGET__TENANT_TOKENS_PER_DAY"] == "90000"
    unlimited = build_model_gateway_deployment(make.tenant())["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in unlimited["containers"][0]["env"]}
    assert env["CEPHALON_BUDGET__TENANT_TOKENS_PER_DAY"] == ""


def test_remote_mcp_servers_open_exactly_their_declared_egress(make: Any) -> None:
    ctx = make.tenant(
        remoteMcpServers=[
            {
                "name": "issues",
                "url": "https://mcp.example.test/issues",
                "egress": [{"cidr": "203.0.113.0/24", "port": 443}],
            }
        ]
    )
    _, egress = build_network_policies(ctx)
    assert egress["spec"]["egress"][-1] == {
        "to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    assert len(egress["spec"]["egress"]) == 4
