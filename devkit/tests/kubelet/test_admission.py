"""What the executor refuses, with the exact reasons."""

from __future__ import annotations

from pathlib import Path

from cephalon_devkit.kubelet.admission import unsupported
from cephalon_devkit.kubelet.config import KubeletConfig, image_command
from cephalon_devkit.kubelet.types import Pod


def config(tmp_path: Path, **overrides: object) -> KubeletConfig:
    return KubeletConfig(state_dir=tmp_path, log_dir=tmp_path, **overrides)  # type: ignore[arg-type]


def test_plain_pod_with_security_context_is_accepted(tmp_path: Path) -> None:
    pod: Pod = {
        "spec": {
            "securityContext": {"runAsNonRoot": True},  # type: ignore[typeddict-unknown-key]
            "containers": [
                {
                    "name": "web",
                    "command": ["python", "-m", "http.server"],
                    "securityContext": {"allowPrivilegeEscalation": False},
                    "resources": {"limits": {"cpu": "1"}},
                    "readinessProbe": {"httpGet": {"port": 8000}},
                    "volumeMounts": [{"name": "scratch", "mountPath": "/tmp/x"}],
                }
            ],
            "volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}],
        }
    }
    assert unsupported(pod, config(tmp_path)) == []


def test_every_problem_is_named(tmp_path: Path) -> None:
    pod: Pod = {
        "spec": {
            "initContainers": [
                {"name": "sidecar", "command": ["x"], "restartPolicy": "Always"},
            ],
            "containers": [
                {
                    "name": "app",
                    "image": "example/app:1",
                    "volumeMounts": [
                        {"name": "host", "mountPath": "/h"},
                        {"name": "ghost", "mountPath": "/g"},
                        {"name": "ws", "mountPath": "/w", "subPathExpr": "$(POD)"},
                    ],
                    "lifecycle": {"preStop": {"exec": {"command": ["x"]}}},
                    "livenessProbe": {"grpc": {"port": 1}},
                    "env": [
                        {
                            "name": "CPU",
                            "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}},
                        },
                        {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}},
                    ],
                }
            ],
            "volumes": [
                {"name": "host", "hostPath": {"path": "/"}},
                {"name": "ws", "persistentVolumeClaim": {"claimName": "ws"}},
            ],
        }
    }
    assert unsupported(pod, config(tmp_path)) == [
        "volume host: hostPath volumes are not supported",
        "volume ws: persistentVolumeClaim needs a pvc_root in the executor config",
        "init container sidecar: sidecar containers (restartPolicy: Always) are not supported",
        "container app: no command and no local command configured for image 'example/app:1'",
        "container app: volumeMount ghost names no volume",
        "container app: volumeMount subPathExpr is not supported",
        "container app: lifecycle hooks (postStart/preStop) are not supported",
        "container app: env CPU: resourceFieldRef is not supported",
        "container app: env SA: fieldPath status.phase is not supported",
        "container app: livenessProbe: grpc probes are not supported",
    ]


def test_pvc_root_and_image_mapping_make_a_pod_acceptable(tmp_path: Path) -> None:
    pod: Pod = {
        "spec": {
            "containers": [{"name": "app", "image": "example/app:1", "args": ["--serve"]}],
            "volumes": [{"name": "ws", "persistentVolumeClaim": {"claimName": "ws"}}],
        }
    }
    cfg = config(tmp_path, pvc_root=tmp_path / "pvc", image_commands={"example/app": ("python",)})
    assert unsupported(pod, cfg) == []


def test_image_command_matches_exact_then_repository() -> None:
    mapping = {
        "images.example.test/acme/runtime": ("python", "-m", "runtime"),
        "images.example.test/acme/runtime:debug": ("python", "-X", "dev", "-m", "runtime"),
        "localhost:5000/tool": ("tool",),
    }
    assert image_command("images.example.test/acme/runtime:1.2", mapping) == (
        "python",
        "-m",
        "runtime",
    )
    assert image_command("images.example.test/acme/runtime@sha256:ab", mapping) == (
        "python",
        "-m",
        "runtime",
    )
    assert image_command("images.example.test/acme/runtime:debug", mapping) == (
        "python",
        "-X",
        "dev",
        "-m",
        "runtime",
    )
    assert image_command("localhost:5000/tool:v1", mapping) == ("tool",)
    assert image_command("localhost:5000/other", mapping) is None
