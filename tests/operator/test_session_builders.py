from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest

from cephalon_operator.builders.session import (
    UnknownMcpServerError,
    build_session_pod,
    build_session_secret,
    build_workspace_pvc,
)
from cephalon_operator.podsecurity import restricted_violations

RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
LABELS = {
    "app.kubernetes.io/part-of": "cephalon",
    "app.kubernetes.io/managed-by": "cephalon-operator",
    "cephalon.dev/provider": "discord",
    "cephalon.dev/tenant": "duck",
    "app.kubernetes.io/name": "cephalon-session",
    "app.kubernetes.io/component": "session",
    "cephalon.dev/session": "s-1",
}
OWNER = {
    "apiVersion": "cephalon.dev/v1alpha1",
    "kind": "AgentSession",
    "name": "s-1",
    "uid": "uid-s-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


def test_session_pod_is_exactly_as_designed(make: Any) -> None:
    pod = build_session_pod(make.session())
    mcp = [
        {
            "name": "git",
            "risk": "safe",
            "tools": {"git_push": "restricted"},
            "url": "http://127.0.0.1:8701/mcp",
        }
    ]
    budgets = {
        "turn_seconds": 900,
        "turn_tool_calls": 50,
        "turn_tokens": 200000,
        "session_tokens": 2000000,
        "tenant_tokens_per_day": None,
    }
    env = {
        "CEPHALON_SESSION__ID": "s-1",
        "CEPHALON_SESSION__PROVIDER": "discord",
        "CEPHALON_SESSION__TENANT": "duck",
        "CEPHALON_SESSION__OWNER": "42",
        "CEPHALON_TOPIC_ROOT": "promethean",
        "CEPHALON_REDIS__URL": "redis://cephalon-redis.cephalon-system.svc:6379/0",
        "CEPHALON_REDIS__USERNAME_FILE": "/var/run/cephalon/session/redis-username",
        "CEPHALON_REDIS__PASSWORD_FILE": "/var/run/cephalon/session/redis-password",
        "CEPHALON_MODEL__BASE_URL": (
            "http://cephalon-discord-duck-model-gateway.cephalon-system.svc:8080/v1"
        ),
        "CEPHALON_MODEL__TOKEN_FILE": "/var/run/cephalon/session/model-token",
        "CEPHALON_MODEL__DEFAULT": "gpt-4.1",
        "CEPHALON_MODEL__ALLOWED": '["gpt-4.1"]',
        "CEPHALON_MCP__SERVERS": json.dumps(mcp, sort_keys=True),
        "CEPHALON_WORKSPACE__PATH": "/workspace",
        "CEPHALON_POLICY__TENANT_DIR": "/etc/cephalon/policy",
        "CEPHALON_BUDGETS": json.dumps(budgets, separators=(",", ":")),
        "CEPHALON_ATTACHMENTS": json.dumps(
            {
                "max_bytes": 8 * 1024 * 1024,
                "allowed_types": [
                    "text/plain",
                    "text/markdown",
                    "application/json",
                    "image/png",
                    "image/jpeg",
                    "image/webp",
                    "image/gif",
                ],
            },
            separators=(",", ":"),
        ),
        "CEPHALON_APPROVALS__TIMEOUT_SECONDS": "300",
        "CEPHALON_HEALTH_PORT": "8080",
        "HOME": "/home/cephalon",
        "TMPDIR": "/tmp",
    }
    assert pod == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "s-1-pod",
            "namespace": "cephalon-discord-duck",
            "labels": LABELS,
            "ownerReferences": [OWNER],
        },
        "spec": {
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 20,
            "activeDeadlineSeconds": 8 * 3600,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "runtime",
                    "image": "cephalon/runtime:0.1.0",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["cephalon-runtime"],
                    "env": [{"name": k, "value": v} for k, v in env.items()]
                    + [
                        {
                            "name": "CEPHALON_HEALTH_HOST",
                            "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                        }
                    ],
                    "ports": [{"name": "health", "containerPort": 8080}],
                    "readinessProbe": {
                        "httpGet": {"path": "/readyz", "port": 8080},
                        "periodSeconds": 2,
                        "failureThreshold": 3,
                    },
                    "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "2Gi"}},
                    "securityContext": RESTRICTED,
                    "workingDir": "/workspace",
                    "volumeMounts": [
                        {"name": "workspace", "mountPath": "/workspace"},
                        {"name": "home", "mountPath": "/home/cephalon"},
                        {"name": "tmp", "mountPath": "/tmp"},
                        {
                            "name": "session-credentials",
                            "mountPath": "/var/run/cephalon/session",
                            "readOnly": True,
                        },
                        {
                            "name": "tenant-policy",
                            "mountPath": "/etc/cephalon/policy",
                            "readOnly": True,
                        },
                    ],
                },
                {
                    "name": "mcp-git",
                    "image": "cephalon/mcp-git:1.0.0",
                    "imagePullPolicy": "IfNotPresent",
                    "env": [
                        {"name": "MCP_HOST", "value": "127.0.0.1"},
                        {"name": "MCP_PORT", "value": "8701"},
                        {"name": "MCP_PATH", "value": "/mcp"},
                        {"name": "MCP_WORKSPACE", "value": "/workspace"},
                        {"name": "HOME", "value": "/tmp"},
                    ],
                    "ports": [{"name": "mcp-8701", "containerPort": 8701}],
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                    },
                    "securityContext": RESTRICTED,
                    "volumeMounts": [
                        {"name": "workspace", "mountPath": "/workspace"},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                },
            ],
            "volumes": [
                {"name": "workspace", "emptyDir": {}},
                {"name": "home", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                {
                    "name": "session-credentials",
                    "secret": {"secretName": "s-1-credentials", "defaultMode": 0o440},
                },
                {"name": "tenant-policy", "configMap": {"name": "tenant-policy", "optional": True}},
            ],
        },
    }


def test_session_secret_holds_only_session_scoped_credentials(make: Any) -> None:
    secret = build_session_secret(
        make.session(), redis_username="u", redis_password="p", model_token="t"
    )
    assert secret == {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": "s-1-credentials",
            "namespace": "cephalon-discord-duck",
            "labels": LABELS,
            "ownerReferences": [OWNER],
        },
        "data": {
            "redis-username": base64.b64encode(b"u").decode(),
            "redis-password": base64.b64encode(b"p").decode(),
            "model-token": base64.b64encode(b"t").decode(),
        },
    }


def test_workspace_is_a_pvc_only_when_storage_is_set(make: Any) -> None:
    assert build_workspace_pvc(make.session()) is None
    ctx = make.session(workspace={"storage": {"size": "5Gi", "storageClassName": "fast"}})
    assert build_workspace_pvc(ctx) == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "s-1-workspace",
            "namespace": "cephalon-discord-duck",
            "labels": LABELS,
            "ownerReferences": [OWNER],
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "5Gi"}},
            "storageClassName": "fast",
        },
    }
    volumes = build_session_pod(ctx)["spec"]["volumes"]
    assert volumes[0] == {
        "name": "workspace",
        "persistentVolumeClaim": {"claimName": "s-1-workspace"},
    }


def test_unknown_mcp_server_is_a_clear_error(make: Any) -> None:
    ctx = make.session(profile={"mcpServers": ["git", "jira"]})
    with pytest.raises(UnknownMcpServerError, match="jira are not in tenant duck's catalogue"):
        build_session_pod(ctx)


def _secret_references(pod: dict[str, Any]) -> set[str]:
    names = {v["secret"]["secretName"] for v in pod["spec"]["volumes"] if "secret" in v}
    for volume in pod["spec"]["volumes"]:
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                names.add(source["secret"]["name"])
    for container in pod["spec"]["containers"]:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                names.add(source["secretRef"]["name"])
    return names


OPTIONS = list(
    itertools.product(
        [None, "gvisor"],  # runtimeClassName
        [None, {"size": "2Gi"}],  # tenant storage
        [[], ["git"]],  # profile mcp servers
        [{}, {"requests": {"cpu": "1"}, "limits": {"cpu": "2", "memory": "4Gi"}}],
        [None, "8h", "15m"],  # session maxDuration
        [None, {"command": ["mcp-git"], "args": ["--root", "/workspace"]}],
    )
)


@pytest.mark.parametrize(
    ("runtime_class", "storage", "mcp", "resources", "max_duration", "cmd"), OPTIONS
)
def test_every_buildable_pod_is_restricted_and_holds_no_tenant_secret(
    make: Any,
    runtime_class: str | None,
    storage: dict[str, str] | None,
    mcp: list[str],
    resources: dict[str, Any],
    max_duration: str | None,
    cmd: dict[str, list[str]] | None,
) -> None:
    server = {"name": "git", "image": "cephalon/mcp-git:1", "port": 8701, **(cmd or {})}
    tenant = make.tenant_spec(
        sessions={"runtimeClassName": runtime_class, "storage": storage, "resources": resources},
        mcpServers=[server, {"name": "web", "image": "cephalon/mcp-web:1", "port": 8702}],
    )
    ctx = make.session(tenant, profile={"mcpServers": mcp}, lifecycle={"maxDuration": max_duration})
    pod = build_session_pod(ctx)
    assert restricted_violations(pod) == []
    assert _secret_references(pod) == {"s-1-credentials"}
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"].get("runtimeClassName") == runtime_class
    assert (
        pod["spec"]["activeDeadlineSeconds"]
        == {None: 8 * 3600, "8h": 8 * 3600, "15m": 900}[max_duration]
    )
    assert [c["name"] for c in pod["spec"]["containers"]] == ["runtime"] + [
        f"mcp-{n}" for n in (mcp or ["git", "web"])
    ]


def test_model_gateway_url_can_be_overridden_per_tenant(make: Any) -> None:
    make.settings = make.settings.model_copy(
        update={"model_gateway_urls": {"discord-duck": "http://127.0.0.1:9911/v1"}}
    )
    env = build_session_pod(make.session())["spec"]["containers"][0]["env"]
    values = {e["name"]: e.get("value") for e in env}
    assert values["CEPHALON_MODEL__BASE_URL"] == "http://127.0.0.1:9911/v1"


def test_remote_mcp_servers_reach_the_runtime_without_a_sidecar(make: Any) -> None:
    tenant = make.tenant_spec(
        remoteMcpServers=[
            {
                "name": "issues",
                "url": "https://mcp.example.test/issues",
                "risk": "elevated",
                "egress": [{"cidr": "203.0.113.0/24", "port": 443}],
            }
        ]
    )
    pod = build_session_pod(make.session(tenant, profile={"mcpServers": ["issues", "git"]}))
    assert [c["name"] for c in pod["spec"]["containers"]] == ["runtime", "mcp-git"]
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    servers = json.loads(env["CEPHALON_MCP__SERVERS"])
    assert [(s["name"], s["url"], s["risk"]) for s in servers] == [
        ("issues", "https://mcp.example.test/issues", "elevated"),
        ("git", "http://127.0.0.1:8701/mcp", "safe"),
    ]
    assert restricted_violations(pod) == []


def test_mcp_server_names_are_unique_across_sidecars_and_remote(make: Any) -> None:
    with pytest.raises(ValueError, match="MCP server names must be unique: git"):
        make.tenant_spec(remoteMcpServers=[{"name": "git", "url": "https://x.example.test/mcp"}])
