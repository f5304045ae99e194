"""What a container sees: env from Secrets/ConfigMaps, volumes, translated paths, PATH, pod IPs."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from cephalon_devkit.kubelet import PodExecutor

from .conftest import Api, MakeExecutor, eventually
from .helpers import (
    NS,
    absent,
    condition,
    container_status,
    contains,
    free_port,
    pod,
)


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
        # "python" from PATH, not sys.executable: this pod mounts /tmp, and a checkout
        # under /tmp would have its interpreter's path translated into the volume.
        image_commands={"images.example.test/acme/mcp-files": ("python", "-c", SIDECAR)},
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
                        "image": "images.example.test/acme/cephalon-runtime:0.1",
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["python", "-c", RUNTIME],
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
                        "image": "images.example.test/acme/mcp-files:1.0",
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
    await eventually(lambda: contains(log / "mcp-files.log", "sidecar up"), what="sidecar started")
    pod_root = next((tmp_path / "state" / "pods" / NS).glob("session-s1-*"))
    assert (pod_root / "volumes" / "home" / ".runtime").read_text() == "home"
    assert (pod_root / "volumes" / "tmp" / "scratch").read_text() == "tmp"
    assert (pod_root / "volumes" / "tmp" / "mcp").read_text() == "sidecar"
    secret_file = pod_root / "volumes" / "session-credentials" / "redis-username"
    assert secret_file.stat().st_mode & 0o777 == 0o440
    await api.delete_pod(NS, "session-s1")
    await eventually(lambda: absent(api, "session-s1"), what="session pod deleted")
    assert not pod_root.exists()
    assert (workspace / "notes.md").read_text() == "kept in the workspace"


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


POD_IP_ENV = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]


@pytest.mark.parametrize(
    ("bind", "env"),
    [
        ("$(POD_IP)", POD_IP_ENV),  # binds its pod IP from the downward API
        ("127.0.0.1", []),  # binds loopback, as a session pod's sidecars do
    ],
    ids=["pod-ip", "loopback"],
)
async def test_pod_ip_pool_lets_two_pods_use_the_same_port(
    api: Api, make_executor: MakeExecutor, bind: str, env: list[dict[str, Any]]
) -> None:
    """With a pool each pod has its own address, and 127.0.0.1 in a pod stands for it."""
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
                        "args": ["--bind", bind],
                        "env": env,
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
