"""What the executor cannot honour: pure checks run before a pod starts.

A pod that needs any of these is refused (``phase: Failed``, reason ``Unsupported``,
a Warning event naming every problem) rather than run wrongly. Fields that only
restrict a container (``securityContext``, ``resources``, ``runtimeClassName``,
``nodeSelector``…) are accepted and not enforced.
"""

from __future__ import annotations

import re

from cephalon_devkit.kubelet.config import KubeletConfig, image_command
from cephalon_devkit.kubelet.types import Container, Pod, Probe

SUPPORTED_VOLUMES = ("emptyDir", "secret", "configMap", "persistentVolumeClaim")
_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_LABEL_PATH = re.compile(r"metadata\.(labels|annotations)\['[^']*'\]")


def unsupported(pod: Pod, config: KubeletConfig) -> list[str]:
    """Human-readable reasons this pod cannot run here; empty when it can."""
    spec = pod.get("spec", {})
    problems: list[str] = []
    volume_names: set[str] = set()
    for volume in spec.get("volumes", []):
        name = volume.get("name", "")
        volume_names.add(name)
        kinds = [key for key in volume if key != "name"] or ["emptyDir"]
        kind = kinds[0]
        if kind not in SUPPORTED_VOLUMES:
            problems.append(f"volume {name}: {kind} volumes are not supported")
        elif kind == "persistentVolumeClaim" and config.pvc_root is None:
            problems.append(
                f"volume {name}: persistentVolumeClaim needs a pvc_root in the executor config"
            )
    if spec.get("ephemeralContainers"):
        problems.append("ephemeralContainers are not supported")
    for container in spec.get("initContainers", []):
        if container.get("restartPolicy") == "Always":
            problems.append(
                f"init container {container.get('name')}: sidecar containers "
                "(restartPolicy: Always) are not supported"
            )
        problems.extend(_container_problems(container, volume_names, config, init=True))
    for container in spec.get("containers", []):
        problems.extend(_container_problems(container, volume_names, config, init=False))
    return problems


def _container_problems(
    container: Container, volume_names: set[str], config: KubeletConfig, *, init: bool
) -> list[str]:
    label = f"{'init container' if init else 'container'} {container.get('name')}"
    problems: list[str] = []
    if (
        not container.get("command")
        and image_command(container.get("image", ""), config.image_commands) is None
    ):
        problems.append(
            f"{label}: no command and no local command configured for image "
            f"{container.get('image', '')!r}"
        )
    for mount in container.get("volumeMounts", []):
        if mount.get("name") not in volume_names:
            problems.append(f"{label}: volumeMount {mount.get('name')} names no volume")
        if mount.get("subPathExpr"):
            problems.append(f"{label}: volumeMount subPathExpr is not supported")
        if not mount.get("mountPath", "").startswith("/"):
            problems.append(f"{label}: mountPath must be absolute")
    if container.get("volumeDevices"):
        problems.append(f"{label}: volumeDevices are not supported")
    if container.get("lifecycle"):
        problems.append(f"{label}: lifecycle hooks (postStart/preStop) are not supported")
    for var in container.get("env", []):
        source = var.get("valueFrom", {})
        if "resourceFieldRef" in source:
            problems.append(f"{label}: env {var['name']}: resourceFieldRef is not supported")
        path = source.get("fieldRef", {}).get("fieldPath") if "fieldRef" in source else None
        if path is not None and path not in _FIELD_PATHS and not _LABEL_PATH.fullmatch(path):
            problems.append(f"{label}: env {var['name']}: fieldPath {path} is not supported")
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe: Probe | None = container.get(kind)  # type: ignore[assignment]
        if probe is None:
            continue
        if init:
            problems.append(f"{label}: {kind} is not allowed on init containers")
        handlers = [key for key in ("httpGet", "exec", "tcpSocket", "grpc") if key in probe]
        if handlers == ["grpc"]:
            problems.append(f"{label}: {kind}: grpc probes are not supported")
        elif len(handlers) != 1:
            problems.append(f"{label}: {kind} needs exactly one handler")
    return problems
