"""The real operator process against the Kubernetes API emulator and a real Redis.

The test plays the parts outside the operator: the kubelet (it reports pod status
through ``/status``) and the session runtime (it writes the heartbeat). Everything the
operator does goes through the API and Redis exactly as in a cluster.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from cephalon_contracts.heartbeat import Heartbeat, TurnProgress
from cephalon_contracts.keys import heartbeat_key
from cephalon_devkit.kubelet import KubeletConfig, load_kubeconfig, open_executor
from cephalon_devkit.model import ScriptedModelServer
from cephalon_devkit.redis_server import RedisServer
from cephalon_devkit.testing.api import KubeHttp, eventually, resource_path
from cephalon_devkit.testing.kube import KubeApiHandle, kube_api  # noqa: F401
from cephalon_devkit.testing.model import make_model_server  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
NS = "cephalon-discord-duck"
AS = "cephalon.dev/v1alpha1"
Obj = dict[str, Any]


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def tenant(**sessions: Any) -> Obj:
    return {
        "apiVersion": AS,
        "kind": "ProviderTenant",
        "metadata": {"name": "discord-duck"},
        "spec": {
            "provider": "discord",
            "tenant": "duck",
            "credentialsSecretRef": {"name": "discord-duck-credentials"},
            "models": {"default": "gpt-4.1", "allowed": ["gpt-4.1"]},
            "sessions": {"idleTimeout": "30m", **sessions},
        },
    }


def session(name: str, owner: str = "42", **lifecycle: Any) -> Obj:
    return {
        "apiVersion": AS,
        "kind": "AgentSession",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "provider": "discord",
            "tenant": "duck",
            "owner": {"id": owner, "name": f"user-{owner}"},
            "conversation": {"channel": "7"},
            "lifecycle": {"state": "Running", **lifecycle},
        },
    }


@dataclass
class Stack:
    http: KubeHttp
    redis: aioredis.Redis
    server: RedisServer
    kubeconfig: Path
    logs: Path
    process: asyncio.subprocess.Process | None = None
    operator_env: dict[str, str] = field(default_factory=dict)

    async def start_operator(self) -> None:
        env = {
            **os.environ,
            **self.operator_env,
            "KUBECONFIG": str(self.kubeconfig),
            "CEPHALON_REDIS__URL": self.server.url,
            "CEPHALON_REDIS__USERNAME": self.server.admin_user,
            "CEPHALON_REDIS__PASSWORD_FILE": str(self.server.admin_password_file),
            "CEPHALON_RELEASE_NAMESPACE": "cephalon-system",
        }
        log = self.logs.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cephalon_operator.main",
            "--metrics-port",
            "0",
            "--liveness",
            "",
            env=env,
            stdout=log,
            stderr=log,
        )
        log.close()

    async def kill_operator(self, sig: int = signal.SIGKILL) -> None:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
            await asyncio.wait_for(self.process.wait(), 30)

    async def session_obj(self, name: str) -> Obj | None:
        return await self.http.get(resource_path(AS, "agentsessions", NS, name))

    async def phase(self, name: str, wanted: str) -> Obj | None:
        obj = await self.session_obj(name)
        return obj if obj and obj.get("status", {}).get("phase") == wanted else None

    async def pod(self, name: str) -> Obj | None:
        return await self.http.get(resource_path("v1", "pods", NS, f"{name}-pod"))

    async def kubelet_reports_ready(self, name: str) -> None:
        """Play the kubelet: the pod is scheduled and its runtime container is ready."""
        moment = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        status = {
            "phase": "Running",
            "podIP": "127.0.0.1",
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": moment}
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": [
                {
                    "name": "runtime",
                    "ready": True,
                    "restartCount": 0,
                    "image": "x",
                    "imageID": "x",
                    "state": {"running": {"startedAt": moment}},
                }
            ],
        }
        await self.http.merge_patch(
            resource_path("v1", "pods", NS, f"{name}-pod") + "/status", {"status": status}
        )

    async def runtime_heartbeat(
        self, name: str, *, idle_for: float = 0, busy: bool = False
    ) -> None:
        """Play the session runtime's heartbeat."""
        moment = datetime.now(UTC)
        beat = Heartbeat(
            at=moment,
            ready=True,
            busy=busy,
            last_activity_at=moment - timedelta(seconds=idle_for),
            turns=3,
            progress=TurnProgress(turn=3, step="editing", message="Editing src/app.py"),
        )
        key = heartbeat_key(provider="discord", tenant="duck", session_id=name)
        await self.redis.set(key, beat.model_dump_json(), ex=60)


@pytest.fixture
async def stack(
    kube_api: KubeApiHandle,  # noqa: F811
    redis_server: RedisServer,
    redis_admin: aioredis.Redis,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    async with aiohttp.ClientSession() as client:
        http = KubeHttp(client, kube_api.url)
        await http.apply_crds(REPO / "crds")
        await http.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cephalon-system"}},
        )
        stack = Stack(
            http, redis_admin, redis_server, kube_api.kubeconfig_path, tmp_path / "operator.log"
        )
        await stack.start_operator()
        try:
            yield stack
        finally:
            await stack.kill_operator(signal.SIGTERM)
            if os.environ.get("CEPHALON_SHOW_OPERATOR_LOG"):
                sys.stderr.write(stack.logs.read_text())


async def _credentials(stack: Stack) -> None:
    await stack.http.create(
        resource_path("v1", "secrets", "cephalon-system"),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "discord-duck-credentials"},
            "data": {
                "bot-token": _b64("fake-bot-token"),
                "public-key": _b64("ab" * 32),
                "app-id": _b64("1000"),
            },
        },
    )


async def _tenant(stack: Stack, **sessions: Any) -> None:
    await _credentials(stack)
    await stack.http.create(resource_path(AS, "providertenants"), tenant(**sessions))

    async def ready_namespace() -> Obj | None:
        return await stack.http.get(resource_path("v1", "namespaces", name=NS))

    await eventually(ready_namespace, what="the session namespace")


def _condition(obj: Obj, kind: str) -> Obj:
    conditions: list[Obj] = obj.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == kind), {})


async def test_tenant_gets_its_namespace_policies_and_access_layer(stack: Stack) -> None:
    await _tenant(stack)

    async def footprint() -> Obj | None:
        return await stack.http.get(
            resource_path(
                "apps/v1", "deployments", "cephalon-system", "cephalon-discord-duck-model-gateway"
            )
        )

    await eventually(footprint, what="the last object of the footprint")
    namespace = await stack.http.get(resource_path("v1", "namespaces", name=NS))
    assert (
        namespace
        and namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    )
    policies = await stack.http.get(resource_path("networking.k8s.io/v1", "networkpolicies", NS))
    assert policies and sorted(p["metadata"]["name"] for p in policies["items"]) == [
        "default-deny",
        "session-egress",
    ]
    deployments = await stack.http.get(resource_path("apps/v1", "deployments", "cephalon-system"))
    assert deployments and sorted(d["metadata"]["name"] for d in deployments["items"]) == [
        "cephalon-discord-duck-gateway",
        "cephalon-discord-duck-model-gateway",
    ]
    users = await stack.redis.acl_users()
    assert {"gateway:discord:duck", "model-gateway:discord:duck"} <= set(users)

    async def credentials_valid() -> Obj | None:
        obj = await stack.http.get(resource_path(AS, "providertenants", name="discord-duck"))
        return obj if obj and _condition(obj, "CredentialsValid").get("status") == "True" else None

    obj = await eventually(credentials_valid, what="CredentialsValid=True")
    assert _condition(obj, "NamespaceReady")["status"] == "True"
    assert _condition(obj, "GatewayReady")["status"] == "False"  # nothing runs the Deployment


async def test_missing_credentials_secret_is_reported_clearly(stack: Stack) -> None:
    await stack.http.create(resource_path(AS, "providertenants"), tenant())

    async def invalid() -> Obj | None:
        obj = await stack.http.get(resource_path(AS, "providertenants", name="discord-duck"))
        return obj if obj and _condition(obj, "CredentialsValid").get("status") == "False" else None

    obj = await eventually(invalid, what="CredentialsValid=False")
    assert _condition(obj, "CredentialsValid")["message"] == (
        "Secret cephalon-system/discord-duck-credentials does not exist."
    )


async def test_session_lifecycle_create_ready_suspend_resume_end(stack: Stack) -> None:
    await _tenant(stack)
    await stack.http.create(resource_path(AS, "agentsessions", NS), session("s-1"))
    pod = await eventually(lambda: stack.pod("s-1"), what="the session pod")
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert "session:discord:duck:s-1" in await stack.redis.acl_users()
    await eventually(lambda: stack.phase("s-1", "Provisioning"), what="Provisioning")

    await stack.kubelet_reports_ready("s-1")
    await stack.runtime_heartbeat("s-1")
    ready = await eventually(lambda: stack.phase("s-1", "Ready"), what="Ready")
    assert _condition(ready, "Ready")["status"] == "True"
    assert ready["status"]["progress"]["step"] == "editing"
    assert ready["status"]["turns"] == 3

    path = resource_path(AS, "agentsessions", NS, "s-1")
    await stack.http.merge_patch(path, {"spec": {"lifecycle": {"state": "Suspended"}}})
    await eventually(lambda: stack.phase("s-1", "Suspended"), what="Suspended")
    await eventually(lambda: _gone(stack.pod("s-1")), what="the pod to go")
    assert "session:discord:duck:s-1" in await stack.redis.acl_users()  # kept while suspended

    await stack.http.merge_patch(path, {"spec": {"lifecycle": {"state": "Running"}}})
    await eventually(lambda: stack.pod("s-1"), what="the pod to come back")

    await stack.http.merge_patch(path, {"spec": {"lifecycle": {"state": "Ended"}}})
    ended = await eventually(lambda: stack.phase("s-1", "Ended"), what="Ended")
    assert ended["status"]["reason"] == "Ended"
    await eventually(lambda: _gone(stack.pod("s-1")), what="the pod to go")
    assert "session:discord:duck:s-1" not in await stack.redis.acl_users()
    assert await stack.http.get(resource_path("v1", "secrets", NS, "s-1-credentials")) is None


async def _gone(lookup: Any) -> bool:
    return await lookup is None


async def test_idle_session_is_suspended_and_a_wake_resumes_it(stack: Stack) -> None:
    await _tenant(stack)
    await stack.http.create(
        resource_path(AS, "agentsessions", NS), session("s-2", idleTimeout="4s")
    )
    await eventually(lambda: stack.pod("s-2"), what="the session pod")
    await stack.kubelet_reports_ready("s-2")
    await stack.runtime_heartbeat("s-2")
    await eventually(lambda: stack.phase("s-2", "Ready"), what="Ready")
    await stack.runtime_heartbeat("s-2", idle_for=10)
    suspended = await eventually(lambda: stack.phase("s-2", "Suspended"), what="idle suspension")
    assert suspended["status"]["reason"] == "Idle"
    assert suspended["spec"]["lifecycle"]["state"] == "Running"  # spec untouched
    await eventually(lambda: _gone(stack.pod("s-2")), what="the pod to go")

    wake = (
        (datetime.now(UTC) + timedelta(seconds=1))
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )
    await stack.http.merge_patch(
        resource_path(AS, "agentsessions", NS, "s-2"),
        {"metadata": {"annotations": {"cephalon.dev/wake": wake}}},
    )
    await eventually(lambda: stack.pod("s-2"), what="the pod after the wake")
    await eventually(lambda: stack.phase("s-2", "Provisioning"), what="Provisioning again")


async def test_sessions_beyond_the_quota_fail_without_a_pod(stack: Stack) -> None:
    await _tenant(stack, maxConcurrent=1)
    await stack.http.create(resource_path(AS, "agentsessions", NS), session("s-a", owner="1"))
    await eventually(lambda: stack.phase("s-a", "Provisioning"), what="first session admitted")
    await stack.http.create(resource_path(AS, "agentsessions", NS), session("s-b", owner="2"))
    failed = await eventually(lambda: stack.phase("s-b", "Failed"), what="QuotaExceeded")
    assert failed["status"]["reason"] == "QuotaExceeded"
    assert "the most it allows" in failed["status"]["message"]
    assert await stack.pod("s-b") is None


async def test_per_user_quota(stack: Stack) -> None:
    await _tenant(stack, maxPerUser=1)
    await stack.http.create(resource_path(AS, "agentsessions", NS), session("s-c", owner="9"))
    await eventually(lambda: stack.phase("s-c", "Provisioning"), what="first session admitted")
    await stack.http.create(resource_path(AS, "agentsessions", NS), session("s-d", owner="9"))
    failed = await eventually(lambda: stack.phase("s-d", "Failed"), what="QuotaExceeded")
    assert "You already have 1 running sessions" in failed["status"]["message"]


async def test_deleting_a_session_revokes_before_it_disappears(stack: Stack) -> None:
    await _tenant(stack)
    await stack.http.create(resource_path(AS, "agentsessions", NS), session("s-3"))
    await eventually(lambda: stack.pod("s-3"), what="the session pod")
    assert "session:discord:duck:s-3" in await stack.redis.acl_users()
    await stack.http.call("DELETE", resource_path(AS, "agentsessions", NS, "s-3"))
    await eventually(lambda: _gone(stack.session_obj("s-3")), what="the session to go")
    assert "session:discord:duck:s-3" not in await stack.redis.acl_users()


@pytest.mark.slow
async def test_operator_killed_mid_burst_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    await _tenant(stack, maxConcurrent=100, maxPerUser=100)
    names = [f"s-burst-{i}" for i in range(50)]
    for i, name in enumerate(names):
        await stack.http.create(resource_path(AS, "agentsessions", NS), session(name))
        if i == 20:
            await stack.kill_operator(signal.SIGKILL)
            await stack.start_operator()

    async def all_pods() -> list[Obj] | None:
        pods = await stack.http.get(resource_path("v1", "pods", NS))
        items: list[Obj] = (pods or {}).get("items", [])
        return items if len(items) >= len(names) else None

    pods = await eventually(all_pods, timeout=90, what="a pod per session")
    assert sorted(p["metadata"]["name"] for p in pods) == sorted(f"{n}-pod" for n in names)
    for name in names:
        await stack.kubelet_reports_ready(name)
        await stack.runtime_heartbeat(name)
    for name in names:
        await eventually(lambda n=name: stack.phase(n, "Ready"), timeout=60, what=f"{name} Ready")
    pods_after = await stack.http.get(resource_path("v1", "pods", NS))
    assert pods_after and len(pods_after["items"]) == len(names)


async def _kubectl(stack: Stack, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        "kubectl",
        *args,
        env={**os.environ, "KUBECONFIG": str(stack.kubeconfig)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_kubectl_shows_tenant_owner_phase_ready_step_and_conditions(stack: Stack) -> None:
    await _tenant(stack)
    await stack.http.create(resource_path(AS, "agentsessions", NS), session("s-k", owner="77"))
    await eventually(lambda: stack.pod("s-k"), what="the session pod")
    await stack.kubelet_reports_ready("s-k")
    await stack.runtime_heartbeat("s-k")
    await eventually(lambda: stack.phase("s-k", "Ready"), what="Ready")
    table = (await _kubectl(stack, "get", "as", "-A")).splitlines()
    assert table[0].split() == [
        "NAMESPACE",
        "NAME",
        "TENANT",
        "OWNER",
        "PHASE",
        "READY",
        "STEP",
        "AGE",
    ]
    row = table[1].split()
    assert row[:7] == [NS, "s-k", "duck", "user-77", "Ready", "True", "editing"]
    described = await _kubectl(stack, "describe", "as", "s-k", "-n", NS)
    for expected in ("Conditions:", "RuntimeReady", "PodScheduled", "Scheduled", "Phase:", "Ready"):
        assert expected in described, described
    pt = (await _kubectl(stack, "get", "pt")).splitlines()
    assert pt[0].split()[:3] == ["NAME", "PROVIDER", "TENANT"]
    assert pt[1].split()[:3] == ["discord-duck", "discord", "duck"]


@pytest.mark.slow
async def test_a_session_runs_the_real_runtime_in_the_local_pod_executor(
    stack: Stack,
    make_model_server: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """No part played by the test: the local pod executor runs the pod the operator
    built, the real runtime starts the real Copilot CLI (BYOK at the scripted model) and
    its heartbeat makes the session Ready."""
    model: ScriptedModelServer = await make_model_server(None, check_auth=False)
    await stack.kill_operator(signal.SIGTERM)
    stack.operator_env = {
        "CEPHALON_MODEL_GATEWAY_URLS": json.dumps({"discord-duck": model.base_url})
    }
    await stack.start_operator()
    await _tenant(stack)
    config = KubeletConfig(
        state_dir=tmp_path / "kubelet",
        log_dir=tmp_path / "pod-logs",
        namespaces=(NS,),
        path_prepend=(
            str(Path(sys.executable).parent),
            str(REPO / "tools/copilot/node_modules/.bin"),
        ),
        shutdown_grace=5.0,
    )
    async with open_executor(config, load_kubeconfig(stack.kubeconfig)):
        await stack.http.create(resource_path(AS, "agentsessions", NS), session("s-real"))
        ready = await eventually(lambda: stack.phase("s-real", "Ready"), timeout=90, what="Ready")
        assert _condition(ready, "RuntimeReady")["reason"] == "Ready"
        assert ready["status"]["policySnapshot"]["hash"].startswith("sha256:")
        path = resource_path(AS, "agentsessions", NS, "s-real")
        await stack.http.merge_patch(path, {"spec": {"lifecycle": {"state": "Ended"}}})
        await eventually(lambda: stack.phase("s-real", "Ended"), what="Ended")
        await eventually(lambda: _gone(stack.pod("s-real")), timeout=30, what="the pod to go")
