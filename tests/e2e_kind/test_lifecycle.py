"""Cephalon on a real cluster (kind): the chart's install, a tenant's footprint, and two
sessions from creation to Ready to Ended, with the isolation only a cluster can prove —
Pod Security admission, no service-account token, no tenant Secret, and NetworkPolicy
that keeps a session pod away from other sessions and from the Kubernetes API.

Run with ``make e2e-kind`` (it runs ``make kind-up`` first)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cephalon_contracts.envelope import encode_envelope, envelope
from cephalon_contracts.social import TurnRequest
from cephalon_contracts.topics import session_topic
from cephalon_contracts.urns import to_urn
from cephalon_operator.podsecurity import restricted_violations

from .conftest import Kube, condition, eventually

pytestmark = [pytest.mark.e2e_kind, pytest.mark.timeout(900)]

TENANT = "discord-e2e"
SESSION_NS = "cephalon-discord-e2e"
TENANT_SECRETS = ("discord-e2e-credentials", "discord-e2e-model")
SESSIONS = ("e2e-alpha", "e2e-beta")


def session_manifest(name: str, owner: str) -> dict[str, Any]:
    return {
        "apiVersion": "cephalon.dev/v1alpha1",
        "kind": "AgentSession",
        "metadata": {"name": name, "namespace": SESSION_NS},
        "spec": {
            "provider": "discord",
            "tenant": "e2e",
            "owner": {"id": owner, "name": f"user-{owner[-2:]}"},
            "conversation": {
                "guild": "1300000000000000001",
                "channel": f"14000000000000000{owner[-2:]}",
                "interactionId": f"12000000000000000{owner[-2:]}",
            },
            "profile": {"model": "gpt-4.1"},
            "lifecycle": {"state": "Running", "idleTimeout": "30m", "maxDuration": "1h"},
        },
    }


def test_the_chart_is_installed(kube: Kube) -> None:
    for crd in ("agentsessions.cephalon.dev", "providertenants.cephalon.dev"):
        assert condition(kube.get("crd", crd), "Established") == "True"
    operator = kube.get("-n", kube.namespace, "deployment", "cephalon-operator")
    assert operator["status"].get("availableReplicas") == 1
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    redis = kube.get("-n", kube.namespace, "statefulset", "cephalon-redis")
    assert redis["status"].get("readyReplicas") == 1
    pods = kube.get("-n", kube.namespace, "pods", "-l", "app.kubernetes.io/part-of=cephalon")
    assert pods["items"]
    for pod in pods["items"]:
        assert restricted_violations(pod) == [], pod["metadata"]["name"]


def test_the_tenant_footprint(kube: Kube) -> None:
    def tenant_ready() -> dict[str, Any] | None:
        tenant = kube.get("providertenant", TENANT)
        ok = all(condition(tenant, c) == "True" for c in ("NamespaceReady", "CredentialsValid"))
        return tenant if ok else None

    eventually(tenant_ready, timeout=180, what=f"{TENANT} NamespaceReady and CredentialsValid")
    namespace = kube.get("namespace", SESSION_NS)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    policies = {p["metadata"]["name"] for p in kube.get("-n", SESSION_NS, "netpol")["items"]}
    assert {"default-deny", "session-egress"} <= policies
    policy = kube.get("-n", SESSION_NS, "configmap", "tenant-policy")
    assert "# e2e rules" in policy["data"]["RULES.md"]
    # The bot credentials are mounted only into the gateway, the model key only into the
    # model gateway, both in the release namespace.
    deployments = kube.get("-n", kube.namespace, "deployments", "-l", "cephalon.dev/tenant=e2e")
    mounted = {
        d["metadata"]["name"]: {
            v["secret"]["secretName"]
            for v in d["spec"]["template"]["spec"]["volumes"]
            if "secret" in v
        }
        for d in deployments["items"]
    }
    gateway = next(n for n in mounted if n.endswith("-gateway") and "model" not in n)
    model_gateway = next(n for n in mounted if n.endswith("-model-gateway"))
    assert "discord-e2e-credentials" in mounted[gateway]
    assert "discord-e2e-model" not in mounted[gateway]
    assert "discord-e2e-model" in mounted[model_gateway]
    assert "discord-e2e-credentials" not in mounted[model_gateway]


def test_pod_security_admission_rejects_a_privileged_session_pod(kube: Kube) -> None:
    privileged = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "e2e-privileged", "namespace": SESSION_NS},
        "spec": {
            "containers": [
                {
                    "name": "x",
                    "image": "cephalon/runtime:e2e",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }
    result = kube.attempt("apply", "--dry-run=server", "-f", "-", input=json.dumps(privileged))
    assert result.returncode != 0, "a privileged pod was admitted into the session namespace"
    assert "violates PodSecurity" in result.stderr, result.stderr


@pytest.fixture(scope="module")
def sessions(kube: Kube) -> Iterator[dict[str, dict[str, Any]]]:
    """Two sessions of two owners, Ready; ended (then deleted) afterwards."""
    for i, name in enumerate(SESSIONS):
        kube.apply(session_manifest(name, f"13000000000000000{i + 10}"))

    def all_ready() -> dict[str, dict[str, Any]] | None:
        found = {n: kube.get("-n", SESSION_NS, "agentsession", n) for n in SESSIONS}
        phases = {n: ((s or {}).get("status") or {}).get("phase") for n, s in found.items()}
        if any(p == "Failed" for p in phases.values()):
            raise AssertionError(f"a session failed: {json.dumps(found)[:2000]}")
        ready = all(
            phases[n] in ("Ready", "Running") and condition(found[n], "Ready") == "True"
            for n in SESSIONS
        )
        return found if ready else None

    yield eventually(all_ready, timeout=420, what="both sessions Ready")
    for name in SESSIONS:
        kube.run("-n", SESSION_NS, "delete", "agentsession", name, "--ignore-not-found",
                 "--wait=true", "--timeout=120s", check=False)  # fmt: skip


def _pod(kube: Kube, session: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = kube.get("-n", SESSION_NS, "pod", session["status"]["podName"])
    return pod


def test_session_pods_are_restricted_with_no_token_and_no_tenant_secret(
    kube: Kube, sessions: dict[str, dict[str, Any]]
) -> None:
    for name, session in sessions.items():
        pod = _pod(kube, session)
        assert restricted_violations(pod) == [], name
        spec = pod["spec"]
        assert spec["automountServiceAccountToken"] is False
        assert all("serviceAccountToken" not in json.dumps(v) for v in spec["volumes"])
        secrets = {v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
        assert secrets == {f"{name}-credentials"}, secrets
        text = json.dumps(pod)
        for tenant_secret in TENANT_SECRETS:
            assert tenant_secret not in text
        for container in spec["containers"]:
            assert "secretRef" not in json.dumps(container.get("envFrom", []))
            assert "secretKeyRef" not in json.dumps(container.get("env", []))
        token = kube.run(
            "-n", SESSION_NS, "exec", pod["metadata"]["name"], "-c", "runtime", "--",
            "python", "-c",
            "import os;print(os.path.exists('/var/run/secrets/kubernetes.io/serviceaccount'))",
        )  # fmt: skip
        assert token.strip() == "False"
    # The session namespace holds only the sessions' own Secrets.
    names = {s["metadata"]["name"] for s in kube.get("-n", SESSION_NS, "secrets")["items"]}
    assert names == {f"{n}-credentials" for n in SESSIONS}


def test_network_policy_isolates_session_pods(
    kube: Kube, sessions: dict[str, dict[str, Any]]
) -> None:
    alpha, beta = (_pod(kube, sessions[n]) for n in SESSIONS)
    source = alpha["metadata"]["name"]
    redis_ip = kube.get("-n", kube.namespace, "service", "cephalon-redis")["spec"]["clusterIP"]
    api_ip = kube.get("-n", "default", "service", "kubernetes")["spec"]["clusterIP"]
    endpoints = kube.get("-n", "default", "endpoints", "kubernetes")
    api_endpoint = endpoints["subsets"][0]["addresses"][0]["ip"]
    api_port = endpoints["subsets"][0]["ports"][0]["port"]
    # Allowed, so the blocks below are the policy's doing, not a broken network.
    assert kube.can_connect(SESSION_NS, source, redis_ip, 6379), "session -> Redis must work"
    assert beta["status"]["podIP"] and condition(beta, "Ready") == "True"  # beta listens
    # Blocked: another session's pod, and the Kubernetes API (service and endpoint).
    assert not kube.can_connect(SESSION_NS, source, beta["status"]["podIP"], 8080)
    assert not kube.can_connect(SESSION_NS, source, api_ip, 443)
    assert not kube.can_connect(SESSION_NS, source, api_endpoint, api_port)


#: Runs in the operator pod (it has redis-py, the Redis URL and a credential allowed to
#: read and write every key): posts one turn, then reads the session's events to the end.
TURN_SCRIPT = """
import json, os, sys, time
import redis
r = redis.Redis.from_url(
    os.environ["CEPHALON_REDIS__URL"],
    username=os.environ["CEPHALON_REDIS__USERNAME"],
    password=open(os.environ["CEPHALON_REDIS__PASSWORD_FILE"]).read().strip(),
    decode_responses=True,
)
turns, events, message = sys.argv[1:4]
r.xadd(turns, {"envelope": message})
last, seen, deadline = "0-0", [], time.monotonic() + 240
while time.monotonic() < deadline:
    for _, entries in r.xread({events: last}, block=5000) or []:
        for entry_id, fields in entries:
            last = entry_id
            event = json.loads(fields["envelope"])
            seen.append(event["type"])
            if event["type"] in ("final", "error"):
                print(json.dumps({"types": seen, "last": event}))
                sys.exit(0)
print(json.dumps({"types": seen, "last": None}))
"""


def test_a_turn_streams_an_answer_from_the_in_cluster_model(
    kube: Kube, sessions: dict[str, dict[str, Any]]
) -> None:
    """Redis streams -> runtime -> Copilot CLI -> tenant model gateway -> scripted model,
    and back: the path the Discord gateway drives, without Discord."""
    name = SESSIONS[1]
    owner = sessions[name]["spec"]["owner"]["id"]
    turn = envelope(
        TurnRequest(text="Say hello.", author=to_urn("discord", "e2e", "user", owner)),
        provider="discord",
        tenant="e2e",
        session_id=name,
    )
    keys = {
        stream: session_topic(provider="discord", tenant="e2e", session_id=name, stream=stream)
        for stream in ("turns", "events")
    }
    out = kube.run(
        "-n", kube.namespace, "exec", "deployment/cephalon-operator", "-c", "operator", "--",
        "python", "-c", TURN_SCRIPT, keys["turns"], keys["events"], encode_envelope(turn),
    )  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    assert result["last"] is not None, f"no final event; saw {result['types']}"
    assert result["last"]["type"] == "final", result["last"]
    assert result["last"]["payload"]["status"] == "completed", result["last"]
    assert "response_delta" in result["types"]
    assert result["last"]["payload"]["text"]


def test_ending_a_session_removes_its_pod_and_credentials(
    kube: Kube, sessions: dict[str, dict[str, Any]]
) -> None:
    name = SESSIONS[0]
    pod_name = sessions[name]["status"]["podName"]
    kube.run("-n", SESSION_NS, "patch", "agentsession", name, "--type=merge",
             "-p", '{"spec":{"lifecycle":{"state":"Ended"}}}')  # fmt: skip

    def ended() -> bool:
        session = kube.get("-n", SESSION_NS, "agentsession", name)
        return (session or {}).get("status", {}).get("phase") == "Ended"

    eventually(ended, timeout=120, what=f"{name} Ended")
    eventually(
        lambda: kube.get("-n", SESSION_NS, "pod", pod_name) is None,
        timeout=120,
        what=f"pod {pod_name} deleted",
    )
    assert kube.get("-n", SESSION_NS, "secret", f"{name}-credentials") is None


def test_demo_conversation_through_the_discord_emulator(kube: Kube) -> None:
    pytest.skip(
        "the operator gives tenant gateways no Discord endpoint settings yet "
        "(CEPHALON_DISCORD__API_BASE / CEPHALON_DISCORD__GATEWAY_URL), so an in-cluster "
        "Discord emulator cannot be wired in; see charts/cephalon/README.md"
    )
