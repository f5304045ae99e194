"""Settings of the local pod executor (a dataclass: internal settings, not wire data)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _no_images() -> dict[str, tuple[str, ...]]:
    return {}


def _no_image_env() -> dict[str, Mapping[str, str]]:
    return {}


def _interpreter_bin() -> tuple[str, ...]:
    return (str(Path(sys.executable).parent),)


@dataclass(frozen=True)
class KubeletConfig:
    """How the executor runs pods on this machine.

    ``image_commands`` maps an image (exact reference first, then the reference without
    its tag or digest) to the command prefix used when a container has no ``command``:
    ``{"images.example.test/x/cephalon-runtime": ("python", "-m", "cephalon_runtime")}`` runs
    ``python -m cephalon_runtime <args...>``. A container with neither is refused as
    ``Unsupported``.

    ``image_env`` maps an image (same lookup) to the variables its Dockerfile's ``ENV``
    lines would set: ``{"images.example.test/x/tool": {"TOOL_HOME": "/opt/tool"}}``.
    There is no image to read them from, so they are configured here. They go into a
    container's environment after the executor's defaults (``HOME``, ``TMPDIR``,
    ``CEPHALON_POD_ROOT``, which they may therefore override) and before the
    container's own ``envFrom``/``env``, which override them as in Kubernetes. Values
    are host values, used as written: no mount-path or loopback translation, since
    whoever configures them knows where things are on this machine.

    ``pvc_root`` enables ``persistentVolumeClaim`` volumes: claim ``c`` of namespace
    ``ns`` is the directory ``<pvc_root>/ns/c``, kept when pods come and go. Without
    it such pods are refused.

    ``pod_ip_pool`` (e.g. ``127.10.0.0/16``) gives every pod its own loopback address
    instead of ``pod_ip`` (see ``addresses``); ``pod_ip`` stays the node's ``hostIP``.

    ``path_prepend`` goes in front of the inherited ``PATH`` of every container; by
    default the directory of the executor's Python, so that the workspace's console
    scripts (``cephalon-runtime``…) and ``python`` resolve to the virtualenv the executor
    runs in.

    ``bind_pods``: there is no scheduler, so the executor binds each unbound pod it takes
    to ``node_name`` through ``pods/binding`` (which makes the API server delete it
    gracefully, waiting for the executor). When the API has no binding subresource the
    pod is run unbound, and its deletion is immediate.
    """

    state_dir: Path
    log_dir: Path
    namespaces: tuple[str, ...] = ()
    node_name: str = "cephalon-local"
    pod_ip: str = "127.0.0.1"
    pod_ip_pool: str = ""
    image_commands: Mapping[str, tuple[str, ...]] = field(default_factory=_no_images)
    image_env: Mapping[str, Mapping[str, str]] = field(default_factory=_no_image_env)
    pvc_root: Path | None = None
    bind_pods: bool = True
    backoff_base: float = 10.0
    backoff_cap: float = 300.0
    backoff_reset_after: float = 600.0
    inherit_env: tuple[str, ...] = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
    path_prepend: tuple[str, ...] = field(default_factory=_interpreter_bin)
    shutdown_grace: float = 5.0
    config_retry_delay: float = 2.0
    watch_timeout_seconds: int = 240


def image_lookup(image: str, by_image: Mapping[str, T]) -> T | None:
    """The entry for an image: the exact reference first, then without tag or digest.

    One rule for every per-image setting, so ``image_commands`` and ``image_env``
    never disagree about which image a key stands for.
    """
    if image in by_image:
        return by_image[image]
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    return by_image.get(repository)


def image_command(
    image: str, image_commands: Mapping[str, tuple[str, ...]]
) -> tuple[str, ...] | None:
    """The configured command prefix for an image, or None."""
    return image_lookup(image, image_commands)


def image_environment(image: str, image_env: Mapping[str, Mapping[str, str]]) -> Mapping[str, str]:
    """The configured ``ENV`` of an image; empty when it has none."""
    return image_lookup(image, image_env) or {}
