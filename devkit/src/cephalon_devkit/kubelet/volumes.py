"""Pod volumes as local directories, and how a container finds them.

A container process cannot see a mount at ``/workspace``. Each pod gets a private root
directory (``<state_dir>/pods/<namespace>/<name>-<uid8>/``) and each volume a directory
in it (``volumes/<volume name>/``). A ``persistentVolumeClaim`` volume is instead the
directory ``<pvc_root>/<namespace>/<claimName>/``, which outlives the pod, so a session
that is suspended and resumed finds its workspace again.

The container finds its volumes three ways:

* every path under a ``mountPath`` in ``workingDir``, ``command``, ``args``, literal
  ``env`` values and exec-probe commands is rewritten to the host directory, also
  inside a word such as ``--dir=/workspace`` or a ``sh -c`` script (``translate_path``
  gives the exact rule), honouring ``subPath``;
* ``CEPHALON_VOLUME_<NAME>`` holds the host directory of each volume the container
  mounts (``NAME`` upper-cased, other characters as ``_``), and
  ``CEPHALON_POD_ROOT`` the pod's root; both can be used as ``$(VAR)`` in the pod's
  own ``env``, ``command`` and ``args``;
* a ``workingDir`` outside every mount becomes ``<container root>/rootfs/<workingDir>``
  (created, as a container runtime creates a missing working directory).

Everything here is pure except ``materialise_volume``, which writes a plan to disk.
"""

from __future__ import annotations

import base64
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cephalon_devkit.kubelet.errors import ContainerConfigError
from cephalon_devkit.kubelet.types import ConfigMap, Container, KeyToPath, Pod, Secret, Volume

DEFAULT_MODE = 0o644
VolumeKind = Literal["emptyDir", "secret", "configMap", "persistentVolumeClaim"]


@dataclass(frozen=True)
class VolumeFile:
    """One file of a secret or configMap volume, relative to the volume directory."""

    path: str
    content: bytes
    mode: int


@dataclass(frozen=True)
class VolumePlan:
    """What a volume's directory must contain."""

    name: str
    kind: VolumeKind
    files: tuple[VolumeFile, ...] = ()
    claim_name: str = ""


@dataclass(frozen=True)
class PodLayout:
    """Where a pod's private files live on this machine."""

    root: Path

    def volume_dir(self, name: str) -> Path:
        return self.root / "volumes" / name

    def container_root(self, name: str) -> Path:
        return self.root / "containers" / name

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"


def pod_layout(state_dir: Path, pod: Pod) -> PodLayout:
    meta = pod.get("metadata", {})
    uid = meta.get("uid", "")[:8] or "nouid"
    return PodLayout(state_dir / "pods" / meta.get("namespace", "") / f"{meta.get('name')}-{uid}")


def volume_env_name(volume_name: str) -> str:
    """``CEPHALON_VOLUME_<NAME>`` for a volume name such as ``agent-home``."""
    return "CEPHALON_VOLUME_" + re.sub(r"[^A-Z0-9]", "_", volume_name.upper())


def volume_kind(volume: Volume) -> str:
    """The source type of a volume: the one key besides ``name``."""
    kinds = [key for key in volume if key != "name"]
    return kinds[0] if kinds else "emptyDir"


def _items_files(
    data: Mapping[str, bytes],
    items: Sequence[KeyToPath] | None,
    default_mode: int,
    *,
    kind: str,
    object_name: str,
    namespace: str,
    optional: bool,
) -> tuple[VolumeFile, ...]:
    if items is None:
        return tuple(VolumeFile(key, data[key], default_mode) for key in sorted(data))
    files: list[VolumeFile] = []
    for item in items:
        key = item.get("key", "")
        path = item.get("path", key)
        if posixpath.isabs(path) or ".." in path.split("/"):
            raise ContainerConfigError(f"invalid path {path!r} for key {key} in {kind}")
        if key not in data:
            if optional:
                continue
            raise ContainerConfigError(
                f"couldn't find key {key} in {kind} {namespace}/{object_name}"
            )
        files.append(VolumeFile(path, data[key], item.get("mode", default_mode)))
    return tuple(files)


def secret_bytes(secret: Secret) -> dict[str, bytes]:
    data = {key: base64.b64decode(value) for key, value in secret.get("data", {}).items()}
    data.update({key: value.encode() for key, value in secret.get("stringData", {}).items()})
    return data


def config_map_bytes(config_map: ConfigMap) -> dict[str, bytes]:
    data = {key: base64.b64decode(value) for key, value in config_map.get("binaryData", {}).items()}
    data.update({key: value.encode() for key, value in config_map.get("data", {}).items()})
    return data


def plan_volume(
    volume: Volume,
    *,
    namespace: str,
    secrets: Mapping[str, Secret],
    config_maps: Mapping[str, ConfigMap],
) -> VolumePlan:
    """The contents of one supported volume; ``ContainerConfigError`` when a source is
    missing and not optional. Unsupported kinds are refused earlier (``admission``)."""
    name = volume.get("name", "")
    if "secret" in volume:
        source = volume["secret"]
        secret_name = source.get("secretName", "")
        optional = source.get("optional", False)
        secret = secrets.get(secret_name)
        if secret is None:
            if optional:
                return VolumePlan(name, "secret")
            raise ContainerConfigError(f'secret "{secret_name}" not found')
        files = _items_files(
            secret_bytes(secret),
            source.get("items"),
            source.get("defaultMode", DEFAULT_MODE),
            kind="Secret",
            object_name=secret_name,
            namespace=namespace,
            optional=optional,
        )
        return VolumePlan(name, "secret", files)
    if "configMap" in volume:
        cm_source = volume["configMap"]
        cm_name = cm_source.get("name", "")
        optional = cm_source.get("optional", False)
        config_map = config_maps.get(cm_name)
        if config_map is None:
            if optional:
                return VolumePlan(name, "configMap")
            raise ContainerConfigError(f'configmap "{cm_name}" not found')
        files = _items_files(
            config_map_bytes(config_map),
            cm_source.get("items"),
            cm_source.get("defaultMode", DEFAULT_MODE),
            kind="ConfigMap",
            object_name=cm_name,
            namespace=namespace,
            optional=optional,
        )
        return VolumePlan(name, "configMap", files)
    if "persistentVolumeClaim" in volume:
        claim = volume["persistentVolumeClaim"].get("claimName", "")
        return VolumePlan(name, "persistentVolumeClaim", claim_name=claim)
    return VolumePlan(name, "emptyDir")


def volume_host_dir(
    layout: PodLayout, plan: VolumePlan, *, namespace: str, pvc_root: Path | None
) -> Path:
    """Where a planned volume lives: the pod's root, or the persistent claim directory."""
    if plan.kind == "persistentVolumeClaim":
        if pvc_root is None:
            raise ContainerConfigError(f"no pvc_root configured for claim {plan.claim_name}")
        return pvc_root / namespace / plan.claim_name
    return layout.volume_dir(plan.name)


def materialise_volume(plan: VolumePlan, directory: Path) -> None:
    """Create the volume's directory and write its files (idempotent)."""
    directory.mkdir(parents=True, exist_ok=True)
    for item in plan.files:
        target = directory / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.chmod(0o600)
        target.write_bytes(item.content)
        target.chmod(item.mode)


def container_mounts(
    container: Container, volume_dirs: Mapping[str, Path]
) -> list[tuple[str, str]]:
    """``(mountPath, host path)`` pairs of a container, longest mount path first.

    ``subPath`` selects a file or directory inside the volume, as it does in a pod.
    """
    mounts: list[tuple[str, str]] = []
    for mount in container.get("volumeMounts", []):
        host = volume_dirs[mount.get("name", "")]
        sub_path = mount.get("subPath", "")
        if sub_path:
            host = host / sub_path
        mount_path = posixpath.normpath(mount.get("mountPath", "/"))
        mounts.append((mount_path, os.fspath(host)))
    mounts.sort(key=lambda pair: len(pair[0]), reverse=True)
    return mounts


_BOUNDARY = "\\s'\"=:;,(){}<>|&`"


def translate_path(value: str, mounts: Sequence[tuple[str, str]]) -> str:
    """Rewrite every mount path that appears as a path in ``value`` to its host path.

    A mount path counts where it starts the word or follows a space, quote, ``=``,
    ``:``, ``;``, ``,``, a bracket, ``<``, ``>``, ``|``, ``&`` or a backquote, and ends
    the word, is followed by ``/`` or by one of those characters. So ``/workspace/a``,
    ``--dir=/workspace``, ``PATH=/tools/bin:/usr/bin`` and ``sh -c "cd /workspace && make"``
    are rewritten; ``/workspacefoo`` and ``http://host/workspace`` are not. ``mounts`` must
    be longest-first, as ``container_mounts`` returns them.
    """
    if not mounts:
        return value
    hosts = dict(mounts)
    alternatives = "|".join(re.escape(mount_path) for mount_path, _ in mounts)
    pattern = re.compile(f"(?:^|(?<=[{_BOUNDARY}]))({alternatives})(?=$|[/{_BOUNDARY}])")
    return pattern.sub(lambda match: hosts[match[1]], value)


def _translate_absolute(path: str, mounts: Sequence[tuple[str, str]]) -> str:
    for mount_path, host in mounts:
        if path == mount_path:
            return host
        if path.startswith(mount_path.rstrip("/") + "/"):
            return host + path[len(mount_path.rstrip("/")) :]
    return path


def working_dir(container: Container, mounts: Sequence[tuple[str, str]], rootfs: Path) -> Path:
    """The process's working directory (see the module docstring)."""
    requested = container.get("workingDir", "")
    if not requested:
        return rootfs
    translated = _translate_absolute(posixpath.normpath(requested), mounts)
    if translated != posixpath.normpath(requested):
        return Path(translated)
    return rootfs / requested.lstrip("/")
