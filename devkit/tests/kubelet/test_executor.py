"""The executor against the Kubernetes API emulator, running real local processes."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from cephalon_devkit.kubelet import PodExecutor

from .conftest import Api, MakeExecutor, eventually

NS = "default"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A Pod manifest; containers without an image get one (the API requires it)."""
    for container in [*containers, *spec.get("initContainers", [])]:
        container.setdefault("image", "busybox:1.36")
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": containers, **spec},
    }


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == kind:
            return str(cond["status"])
    return None


def container_status(obj: dict[str, Any], index: int = 0) -> dict[str, Any]:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    return statuses[index] if index < len(statuses) else {}  # type: ignore[no-any-return]


async def test_http_server_becomes_ready_and_is_terminated_on_delete(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    port = free_port()
    await api.create(
        NS,
        "pods",
        pod(
            "web",
            [
                {
                    "name": "web",
                    "image": "python:3.11",
                    "command": [sys.executable, "-m", "http.server", str(port)],
                    "args": ["--bind", "127.0.0.1", "--directory", "/srv"],
                    "ports": [{"name": "http", "containerPort": port}],
                    "readinessProbe": {
                        "httpGet": {"path": "/", "port": "http"},
                        "periodSeconds": 1,
                    },
                    "volumeMounts": [{"name": "site", "mountPath": "/srv"}],
                }
            ],
            volumes=[{"name": "site", "emptyDir": {}}],
            terminationGracePeriodSeconds=5,
        ),
    )

    async def ready() -> dict[str, Any] | None:
        obj = await api.pod(NS, "web")
        return obj if obj and condition(obj, "Ready") == "True" else None

    obj = await eventually(ready, what="pod Ready")
    status = obj["status"]
    assert status["phase"] == "Running"
    assert status["podIP"] == "127.0.0.1"
    assert status["startTime"].endswith("Z")
    assert obj["spec"]["nodeName"] == "cephalon-local"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }
    web = container_status(obj)
    assert web["ready"] is True and web["started"] is True and web["restartCount"] == 0
    assert "running" in web["state"]
    pid = int(web["containerID"].removeprefix("local://"))
    assert alive(pid)

    began = time.monotonic()
    deleting = await api.delete_pod(NS, "web")
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 5  # graceful: bound pod

    async def gone() -> bool:
        return await api.pod(NS, "web") is None and not alive(pid)

    await eventually(gone, what="pod object and process gone")
    assert time.monotonic() - began < 5  # http.server exits on SIGTERM, no SIGKILL wait
    events = {e["reason"] for e in await api.events(NS, "web")}
    assert {"Scheduled", "Pulled", "Created", "Started", "Killing"} <= events
    # http.server logs each probe request on stderr, which goes to the container's log.
    log = (tmp_path / "logs" / NS / "web" / "web.log").read_text()
    assert '"GET / HTTP/1.1" 200' in log


async def test_crashing_container_restarts_with_growing_backoff(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    starts = tmp_path / "starts"
    script = "import sys, time; open(sys.argv[1], 'a').write(f'{time.time()}\\n'); sys.exit(3)"
    await api.create(
        NS,
        "pods",
        pod("crash", [{"name": "app", "command": [sys.executable, "-c", script, str(starts)]}]),
    )
    seen_backoff: list[dict[str, Any]] = []

    async def four_starts() -> bool:
        obj = await api.pod(NS, "crash")
        waiting = container_status(obj or {}).get("state", {}).get("waiting", {})
        if waiting.get("reason") == "CrashLoopBackOff":
            seen_backoff.append(container_status(obj or {}))
        return starts.exists() and len(starts.read_text().split()) >= 4

    await eventually(four_starts, what="four starts")
    times = [float(t) for t in starts.read_text().split()]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)][:3]
    # The kubelet restarts at once after the first crash, then waits base, 2*base, ...
    # Lower bounds only: process start-up adds a load-dependent delay to every gap.
    assert gaps[1] >= 0.4, gaps
    assert gaps[2] >= 0.8, gaps
    assert seen_backoff, "never saw waiting.reason CrashLoopBackOff"
    crash = seen_backoff[-1]
    assert crash["state"]["waiting"]["message"].startswith("back-off ")
    assert (
        "restarting failed container=app pod=crash_default(" in crash["state"]["waiting"]["message"]
    )
    assert crash["lastState"]["terminated"]["exitCode"] == 3
    assert crash["lastState"]["terminated"]["reason"] == "Error"
    assert crash["restartCount"] >= 1
    obj = await api.pod(NS, "crash")
    assert obj is not None and obj["status"]["phase"] == "Running"
    assert container_status(obj)["restartCount"] >= 3

    # Deleting a pod that waits in back-off ends it at once.
    await api.delete_pod(NS, "crash")
    await eventually(lambda: _absent(api, "crash"), what="crash-looping pod deleted")

    # Repeats are aggregated into one Event with a count, as client-go's correlator does.
    async def aggregated() -> list[dict[str, Any]] | None:
        found = [e for e in await api.events(NS, "crash") if e["reason"] == "BackOff"]
        return found if found and found[0]["count"] >= 2 else None

    backoffs = await eventually(aggregated, what="an aggregated BackOff event")
    assert len(backoffs) == 1
    assert backoffs[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"


async def test_env_volumes_init_container_and_working_dir(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    await api.create(
        NS,
        "secrets",
        {
            "metadata": {"name": "creds"},
            "data": {"token": base64.b64encode(b"s3cret").decode()},
            "stringData": {"user": "ann"},
        },
    )
    await api.create(
        NS,
        "configmaps",
        {"metadata": {"name": "settings"}, "data": {"mode": "fast", "app.yaml": "a: 1\n"}},
    )
    report = (
        "import json, os, pathlib, sys\n"
        "print(json.dumps({\n"
        "  'cwd': os.getcwd(),\n"
        "  'env': {k: os.environ.get(k) for k in sys.argv[2:]},\n"
        "  'config': pathlib.Path(sys.argv[1]).read_text(),\n"
        "  'token': pathlib.Path(os.environ['CEPHALON_VOLUME_CREDS'], 'tok').read_text(),\n"
        "  'seed': pathlib.Path('seed.txt').read_text(),\n"
        "  'files': sorted(os.listdir(os.environ['CEPHALON_VOLUME_SETTINGS'])),\n"
        "}))\n"
    )
    await api.create(
        NS,
        "pods",
        pod(
            "env",
            [
                {
                    "name": "app",
                    "command": [sys.executable, "-c", report, "/etc/app/app.yaml"],
                    "args": ["TOKEN", "USER", "MODE", "CFG_mode", "GREETING", "WORK", "POD_NAME"],
                    "workingDir": "/scratch",
                    "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
                    "env": [
                        {
                            "name": "TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}},
                        },
                        {
                            "name": "USER",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}},
                        },
                        {
                            "name": "MODE",
                            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}},
                        },
                        {"name": "GREETING", "value": "hi $(USER) in $(MODE) mode"},
                        {"name": "WORK", "value": "/scratch/sub"},
                        {
                            "name": "POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        },
                    ],
                    "volumeMounts": [
                        {"name": "work", "mountPath": "/scratch"},
                        {"name": "settings", "mountPath": "/etc/app"},
                        {"name": "creds", "mountPath": "/etc/creds", "readOnly": True},
                    ],
                }
            ],
            initContainers=[
                {
                    "name": "seed",
                    "command": ["sh", "-c", "echo seeded > /scratch/seed.txt"],
                    "volumeMounts": [{"name": "work", "mountPath": "/scratch"}],
                }
            ],
            volumes=[
                {"name": "work", "emptyDir": {}},
                {"name": "settings", "configMap": {"name": "settings"}},
                {
                    "name": "creds",
                    "secret": {"secretName": "creds", "items": [{"key": "token", "path": "tok"}]},
                },
            ],
            restartPolicy="Never",
        ),
    )

    async def succeeded() -> dict[str, Any] | None:
        obj = await api.pod(NS, "env")
        return obj if obj and obj["status"].get("phase") == "Succeeded" else None

    obj = await eventually(succeeded, what="pod Succeeded")
    init = obj["status"]["initContainerStatuses"][0]
    assert init["state"]["terminated"]["exitCode"] == 0
    assert container_status(obj)["state"]["terminated"]["reason"] == "Completed"
    assert condition(obj, "Ready") == "False"
    output = json.loads((tmp_path / "logs" / NS / "env" / "app.log").read_text())
    work = output["cwd"]
    assert work.startswith(str(tmp_path / "state")) and work.endswith("/volumes/work")
    assert output == {
        "cwd": work,
        "env": {
            "TOKEN": "s3cret",
            "USER": "ann",
            "MODE": "fast",
            "CFG_mode": "fast",
            "GREETING": "hi ann in fast mode",
            "WORK": work + "/sub",
            "POD_NAME": "env",
        },
        "config": "a: 1\n",
        "token": "s3cret",
        "seed": "seeded\n",
        "files": ["app.yaml", "mode"],
    }


async def test_missing_secret_waits_as_config_error_then_runs(
    api: Api, executor: PodExecutor
) -> None:
    await api.create(
        NS,
        "pods",
        pod(
            "late",
            [
                {
                    "name": "app",
                    "command": ["sh", "-c", 'test "$PW" = ok'],
                    "env": [
                        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "late", "key": "pw"}}}
                    ],
                }
            ],
            restartPolicy="Never",
        ),
    )

    async def config_error() -> bool:
        obj = await api.pod(NS, "late")
        waiting = container_status(obj or {}).get("state", {}).get("waiting", {})
        return (
            waiting.get("reason") == "CreateContainerConfigError"
            and waiting.get("message") == 'secret "late" not found'
        )

    await eventually(config_error, what="CreateContainerConfigError")
    await api.create(NS, "secrets", {"metadata": {"name": "late"}, "stringData": {"pw": "ok"}})

    async def succeeded() -> bool:
        obj = await api.pod(NS, "late")
        return bool(obj and obj["status"].get("phase") == "Succeeded")

    await eventually(succeeded, what="pod Succeeded after the secret appeared")


async def test_exec_readiness_probe_follows_a_file(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    await api.create(
        NS,
        "pods",
        pod(
            "execprobe",
            [
                {
                    "name": "app",
                    "command": ["sleep", "60"],
                    "readinessProbe": {
                        "exec": {"command": ["test", "-f", "/data/ready"]},
                        "periodSeconds": 1,
                    },
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            volumes=[{"name": "data", "emptyDir": {}}],
            terminationGracePeriodSeconds=1,
        ),
    )

    async def running_unready() -> bool:
        obj = await api.pod(NS, "execprobe")
        return bool(
            obj
            and obj["status"].get("phase") == "Running"
            and condition(obj, "ContainersReady") == "False"
        )

    await eventually(running_unready, what="Running but not ready")
    volume = next((tmp_path / "state" / "pods" / NS).glob("execprobe-*")) / "volumes" / "data"
    (volume / "ready").touch()

    async def ready() -> bool:
        obj = await api.pod(NS, "execprobe")
        return bool(obj and condition(obj, "Ready") == "True")

    await eventually(ready, what="Ready after the file appeared")
    (volume / "ready").unlink()

    async def unready_again() -> bool:
        obj = await api.pod(NS, "execprobe")
        return bool(obj and condition(obj, "Ready") == "False")

    await eventually(unready_again, what="not Ready after 3 failed probes")
    obj = await api.pod(NS, "execprobe")
    assert obj is not None and container_status(obj)["restartCount"] == 0
    unhealthy = [e for e in await api.events(NS, "execprobe") if e["reason"] == "Unhealthy"]
    assert unhealthy and unhealthy[0]["message"].startswith("Readiness probe failed: exit code 1")


async def test_active_deadline_fails_the_pod_and_kills_it(api: Api, executor: PodExecutor) -> None:
    await api.create(
        NS,
        "pods",
        pod(
            "deadline",
            [{"name": "app", "command": ["sleep", "60"]}],
            activeDeadlineSeconds=1,
            terminationGracePeriodSeconds=1,
        ),
    )

    async def running_pid() -> int | None:
        obj = await api.pod(NS, "deadline")
        cid = container_status(obj or {}).get("containerID", "")
        return int(cid.removeprefix("local://")) if cid else None

    pid = await eventually(running_pid, what="container running")

    async def failed() -> dict[str, Any] | None:
        obj = await api.pod(NS, "deadline")
        return obj if obj and obj["status"].get("phase") == "Failed" else None

    obj = await eventually(failed, what="pod Failed")
    assert obj["status"]["reason"] == "DeadlineExceeded"
    assert (
        obj["status"]["message"] == "Pod was active on the node longer than the specified deadline"
    )
    assert container_status(obj)["state"]["terminated"]["exitCode"] == 143
    assert not alive(pid)
    assert "DeadlineExceeded" in {e["reason"] for e in await api.events(NS, "deadline")}


async def test_unsupported_pod_is_refused_not_run(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    await api.create(
        NS,
        "pods",
        pod(
            "hostpath",
            [
                {
                    "name": "app",
                    "command": ["touch", str(marker)],
                    "volumeMounts": [{"name": "root", "mountPath": "/host"}],
                }
            ],
            volumes=[{"name": "root", "hostPath": {"path": "/"}}],
        ),
    )

    async def failed() -> dict[str, Any] | None:
        obj = await api.pod(NS, "hostpath")
        return obj if obj and obj["status"].get("phase") == "Failed" else None

    obj = await eventually(failed, what="pod Failed")
    assert obj["status"]["reason"] == "Unsupported"
    assert obj["status"]["message"] == "volume root: hostPath volumes are not supported"
    events = await eventually(lambda: api.events(NS, "hostpath"), what="an event")
    warning = next(e for e in events if e["reason"] == "Unsupported")
    assert warning["type"] == "Warning"
    assert warning["message"] == "volume root: hostPath volumes are not supported"
    assert not marker.exists()
    await api.delete_pod(NS, "hostpath")
    await eventually(lambda: _absent(api, "hostpath"), what="refused pod deleted")


async def _absent(api: Api, name: str) -> bool:
    return await api.pod(NS, name) is None


async def test_claim_directory_outlives_its_pod(
    api: Api, make_executor: MakeExecutor, tmp_path: Path
) -> None:
    await make_executor(pvc_root=tmp_path / "pvc")
    volume = {"name": "ws", "persistentVolumeClaim": {"claimName": "ws-s1"}}
    mount = {"name": "ws", "mountPath": "/workspace"}
    for name, script in (
        ("writer", "echo kept > /workspace/note"),
        ("reader", 'test "$(cat /workspace/note)" = kept'),
    ):
        await api.create(
            NS,
            "pods",
            pod(
                name,
                [{"name": "app", "command": ["sh", "-c", script], "volumeMounts": [mount]}],
                volumes=[volume],
                restartPolicy="Never",
            ),
        )

        async def succeeded(name: str = name) -> bool:
            obj = await api.pod(NS, name)
            return bool(obj and obj["status"].get("phase") == "Succeeded")

        await eventually(succeeded, what=f"{name} Succeeded")
        await api.delete_pod(NS, name)
    assert (tmp_path / "pvc" / NS / "ws-s1" / "note").read_text() == "kept\n"


async def test_shutdown_stops_every_container(api: Api, make_executor: MakeExecutor) -> None:
    executor = await make_executor(shutdown_grace=0.5)
    await api.create(
        NS,
        "pods",
        pod(
            "stubborn", [{"name": "app", "command": ["sh", "-c", "trap '' TERM; sleep 60 & wait"]}]
        ),
    )

    async def running_pid() -> int | None:
        obj = await api.pod(NS, "stubborn")
        cid = container_status(obj or {}).get("containerID", "")
        return int(cid.removeprefix("local://")) if cid else None

    pid = await eventually(running_pid, what="container running")
    await executor.aclose()
    assert not alive(pid)
    assert await api.pod(NS, "stubborn") is not None  # a node going away leaves the pod object


async def test_liveness_failure_restarts_and_startup_probe_gates_started(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    await api.create(
        NS,
        "pods",
        pod(
            "probes",
            [
                {
                    "name": "flaky",
                    "command": [
                        "sh",
                        "-c",
                        "touch /data/alive; sleep 1; rm /data/alive; exec sleep 60",
                    ],
                    "livenessProbe": {
                        "exec": {"command": ["test", "-f", "/data/alive"]},
                        "periodSeconds": 1,
                        "failureThreshold": 1,
                    },
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                },
                {
                    "name": "slow",
                    "command": ["sleep", "60"],
                    "startupProbe": {
                        "exec": {"command": ["test", "-f", "/data/started"]},
                        "periodSeconds": 1,
                        "failureThreshold": 30,
                    },
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                },
            ],
            volumes=[{"name": "data", "emptyDir": {}}],
            terminationGracePeriodSeconds=1,
        ),
    )

    async def slow_unstarted() -> bool:
        obj = await api.pod(NS, "probes")
        slow = container_status(obj or {}, 1)
        return "running" in slow.get("state", {}) and slow.get("started") is False

    await eventually(slow_unstarted, what="a running container not yet started")
    obj = await api.pod(NS, "probes")
    assert obj is not None and container_status(obj, 1)["ready"] is False
    pod_root = next((tmp_path / "state" / "pods" / NS).glob("probes-*"))
    (pod_root / "volumes" / "data" / "started").touch()

    async def restarted_and_started() -> dict[str, Any] | None:
        obj = await api.pod(NS, "probes")
        if obj is None:
            return None
        slow = container_status(obj, 1)
        flaky = container_status(obj, 0)
        done = flaky.get("restartCount", 0) >= 1 and slow.get("started") is True
        return obj if done else None

    obj = await eventually(restarted_and_started, what="a liveness restart and a started probe")
    assert container_status(obj, 1)["ready"] is True  # no readiness probe: ready once started
    flaky = container_status(obj, 0)
    assert flaky["lastState"]["terminated"]["exitCode"] == 143
    assert container_status(obj, 1)["restartCount"] == 0
    messages = [e["message"] for e in await api.events(NS, "probes") if e["reason"] == "Killing"]
    assert "Container flaky failed liveness probe, will be restarted" in messages


async def test_a_new_executor_starts_the_pods_a_stopped_one_left(
    api: Api, make_executor: MakeExecutor
) -> None:
    first = await make_executor()
    await api.create(
        NS,
        "pods",
        pod(
            "survivor",
            [{"name": "app", "command": ["sleep", "60"]}],
            terminationGracePeriodSeconds=1,
        ),
    )

    async def running_pid() -> int | None:
        obj = await api.pod(NS, "survivor")
        state = container_status(obj or {}).get("state", {})
        cid = container_status(obj or {}).get("containerID", "")
        return int(cid.removeprefix("local://")) if "running" in state and cid else None

    old_pid = await eventually(running_pid, what="container running")
    await first.aclose()
    assert not alive(old_pid)
    await make_executor()

    async def restarted() -> int | None:
        pid = await running_pid()
        return pid if pid and pid != old_pid and alive(pid) else None

    await eventually(restarted, what="container running again under the new executor")


RUNTIME = """
import json, os, pathlib, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
report = {
    "cwd": os.getcwd(),
    "redis_user": pathlib.Path(os.environ["CEPHALON_REDIS__USERNAME_FILE"]).read_text(),
    "policy_dir_exists": pathlib.Path(os.environ["CEPHALON_POLICY__TENANT_DIR"]).is_dir(),
    "mcp": json.loads(os.environ["CEPHALON_MCP__SERVERS"]),
}
pathlib.Path(os.environ["HOME"], ".runtime").write_text("home")
pathlib.Path(os.environ["TMPDIR"], "scratch").write_text("tmp")
pathlib.Path("notes.md").write_text("kept in the workspace")
print(json.dumps(report), flush=True)
class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/readyz" else 404)
        self.end_headers()
HTTPServer(("127.0.0.1", int(os.environ["CEPHALON_HEALTH_PORT"])), Health).serve_forever()
"""

SIDECAR = """
import os, pathlib, time
assert pathlib.Path(os.environ["MCP_WORKSPACE"]).is_dir()
pathlib.Path(os.environ["HOME"], "mcp").write_text("sidecar")
print("sidecar up", flush=True)
time.sleep(60)
"""


async def test_a_session_shaped_pod_runs_with_translated_paths(
    api: Api, make_executor: MakeExecutor, tmp_path: Path
) -> None:
    """A pod shaped like the operator's session pod (restricted securityContext,
    workspace claim, emptyDirs at $HOME and /tmp, session Secret with mode 0440, optional
    policy ConfigMap that does not exist, an MCP sidecar from a mapped image)."""
    await make_executor(
        pvc_root=tmp_path / "pvc",
        image_commands={"ghcr.io/acme/mcp-files": (sys.executable, "-c", SIDECAR)},
    )
    port = free_port()
    await api.create(
        NS,
        "secrets",
        {"metadata": {"name": "session-s1"}, "stringData": {"redis-username": "session-s1"}},
    )
    restricted = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    env = {
        "CEPHALON_REDIS__USERNAME_FILE": "/var/run/cephalon/session/redis-username",
        "CEPHALON_WORKSPACE__PATH": "/workspace",
        "CEPHALON_POLICY__TENANT_DIR": "/etc/cephalon/policy",
        "CEPHALON_MCP__SERVERS": json.dumps({"files": {"url": "http://127.0.0.1:9/mcp"}}),
        "CEPHALON_HEALTH_PORT": str(port),
        "HOME": "/home/cephalon",
        "TMPDIR": "/tmp",
    }
    await api.create(
        NS,
        "pods",
        {
            "metadata": {"name": "session-s1", "labels": {"app": "cephalon-session"}},
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 5,
                "activeDeadlineSeconds": 3600,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
                "containers": [
                    {
                        "name": "runtime",
                        "image": "ghcr.io/acme/cephalon-runtime:0.1",
                        "imagePullPolicy": "IfNotPresent",
                        "command": [sys.executable, "-c", RUNTIME],
                        "env": [{"name": k, "value": v} for k, v in env.items()],
                        "ports": [{"name": "health", "containerPort": port}],
                        "readinessProbe": {
                            "httpGet": {"path": "/readyz", "port": port},
                            "periodSeconds": 1,
                        },
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                        "securityContext": restricted,
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
                        "name": "mcp-files",
                        "image": "ghcr.io/acme/mcp-files:1.0",
                        "env": [
                            {"name": "MCP_WORKSPACE", "value": "/workspace"},
                            {"name": "HOME", "value": "/tmp"},
                        ],
                        "securityContext": restricted,
                        "volumeMounts": [
                            {"name": "workspace", "mountPath": "/workspace"},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    },
                ],
                "volumes": [
                    {"name": "workspace", "persistentVolumeClaim": {"claimName": "ws-s1"}},
                    {"name": "home", "emptyDir": {"sizeLimit": "1Gi"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                    {
                        "name": "session-credentials",
                        "secret": {"secretName": "session-s1", "defaultMode": 0o440},
                    },
                    {
                        "name": "tenant-policy",
                        "configMap": {"name": "tenant-policy", "optional": True},
                    },
                ],
            },
        },
    )

    async def ready() -> dict[str, Any] | None:
        obj = await api.pod(NS, "session-s1")
        return obj if obj and condition(obj, "Ready") == "True" else None

    obj = await eventually(ready, what="session pod Ready")
    assert obj["status"]["qosClass"] == "Burstable"
    workspace = tmp_path / "pvc" / NS / "ws-s1"
    log = tmp_path / "logs" / NS / "session-s1"
    report = json.loads((log / "runtime.log").read_text().splitlines()[0])
    assert report == {
        "cwd": str(workspace),
        "redis_user": "session-s1",
        "policy_dir_exists": True,
        "mcp": {"files": {"url": "http://127.0.0.1:9/mcp"}},
    }
    await eventually(lambda: _contains(log / "mcp-files.log", "sidecar up"), what="sidecar started")
    pod_root = next((tmp_path / "state" / "pods" / NS).glob("session-s1-*"))
    assert (pod_root / "volumes" / "home" / ".runtime").read_text() == "home"
    assert (pod_root / "volumes" / "tmp" / "scratch").read_text() == "tmp"
    assert (pod_root / "volumes" / "tmp" / "mcp").read_text() == "sidecar"
    secret_file = pod_root / "volumes" / "session-credentials" / "redis-username"
    assert secret_file.stat().st_mode & 0o777 == 0o440
    await api.delete_pod(NS, "session-s1")
    await eventually(lambda: _absent(api, "session-s1"), what="session pod deleted")
    assert not pod_root.exists()
    assert (workspace / "notes.md").read_text() == "kept in the workspace"


async def _contains(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text()


async def test_pod_ip_pool_lets_two_pods_use_the_same_port(
    api: Api, make_executor: MakeExecutor
) -> None:
    await make_executor(pod_ip_pool="127.77.0.0/24")
    port = free_port()
    for name in ("one", "two"):
        await api.create(
            NS,
            "pods",
            pod(
                name,
                [
                    {
                        "name": "web",
                        "command": [sys.executable, "-m", "http.server", str(port)],
                        "args": ["--bind", "$(POD_IP)"],
                        "env": [
                            {
                                "name": "POD_IP",
                                "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
                            }
                        ],
                        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1},
                    }
                ],
                terminationGracePeriodSeconds=2,
            ),
        )

    async def both_ready() -> list[dict[str, Any]] | None:
        pods = [await api.pod(NS, name) for name in ("one", "two")]
        ready = [p for p in pods if p and condition(p, "Ready") == "True"]
        return ready if len(ready) == 2 else None

    one, two = await eventually(both_ready, what="both pods Ready on the same port")
    assert {one["status"]["podIP"], two["status"]["podIP"]} == {"127.77.0.1", "127.77.0.2"}
    assert one["status"]["hostIP"] == two["status"]["hostIP"] == "127.0.0.1"


async def test_deadline_during_config_error_never_starts_the_container(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    await api.create(
        NS,
        "pods",
        pod(
            "never",
            [
                {
                    "name": "app",
                    "command": ["touch", str(marker)],
                    "env": [
                        {"name": "X", "valueFrom": {"secretKeyRef": {"name": "later", "key": "k"}}}
                    ],
                }
            ],
            activeDeadlineSeconds=1,
        ),
    )

    async def failed() -> dict[str, Any] | None:
        obj = await api.pod(NS, "never")
        return obj if obj and obj["status"].get("phase") == "Failed" else None

    obj = await eventually(failed, what="pod Failed by its deadline")
    assert obj["status"]["reason"] == "DeadlineExceeded"
    await api.create(NS, "secrets", {"metadata": {"name": "later"}, "stringData": {"k": "v"}})
    await asyncio.sleep(1.0)  # several config_retry_delay periods (0.2 s)
    assert not marker.exists()


async def test_console_scripts_of_the_executors_environment_are_on_path(
    api: Api, executor: PodExecutor, tmp_path: Path
) -> None:
    await api.create(
        NS,
        "pods",
        pod(
            "scripts",
            [{"name": "app", "command": ["sh", "-c", 'echo "$PATH"; cephalon --help >/dev/null']}],
            restartPolicy="Never",
        ),
    )

    async def finished() -> dict[str, Any] | None:
        obj = await api.pod(NS, "scripts")
        return obj if obj and obj["status"].get("phase") in ("Succeeded", "Failed") else None

    obj = await eventually(finished, what="pod finished")
    assert obj["status"]["phase"] == "Succeeded"
    path = (tmp_path / "logs" / NS / "scripts" / "app.log").read_text().strip()
    assert path.split(os.pathsep)[0] == str(Path(sys.executable).parent)


async def test_deleted_pod_with_a_finalizer_ends_failed_and_waits_for_it(
    api: Api, executor: PodExecutor
) -> None:
    manifest = pod("held", [{"name": "app", "command": ["sleep", "60"]}])
    manifest["metadata"]["finalizers"] = ["example.com/hold"]
    manifest["spec"]["terminationGracePeriodSeconds"] = 2
    await api.create(NS, "pods", manifest)

    async def running_pid() -> int | None:
        obj = await api.pod(NS, "held")
        state = container_status(obj or {}).get("state", {})
        cid = container_status(obj or {}).get("containerID", "")
        return int(cid.removeprefix("local://")) if "running" in state and cid else None

    pid = await eventually(running_pid, what="container running")
    await api.delete_pod(NS, "held")

    async def finished() -> dict[str, Any] | None:
        obj = await api.pod(NS, "held")
        meta = (obj or {}).get("metadata", {})
        return obj if obj and meta.get("deletionGracePeriodSeconds") == 0 else None

    obj = await eventually(finished, what="the executor's final delete")
    assert not alive(pid)
    assert obj["status"]["phase"] == "Failed"  # deleted pods end terminal (Kubernetes 1.27+)
    assert container_status(obj)["state"]["terminated"]["exitCode"] == 143
    code, _ = await api.call(
        "PATCH",
        f"/api/v1/namespaces/{NS}/pods/held",
        {"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    assert code == 200
    await eventually(lambda: _absent(api, "held"), what="pod gone once the finalizer is removed")
