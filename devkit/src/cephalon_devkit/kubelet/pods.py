"""One pod on this node, from admission to its final delete.

``PodWorker.run`` is the pod's life: refuse it when it needs something the executor
cannot honour; otherwise materialise its volumes, run init containers in order, then
run all containers (each a ``ContainerRunner``) while a status loop writes the
``/status`` subresource whenever what it would write changes. ``activeDeadlineSeconds``
ends the pod as Failed/DeadlineExceeded. Deletion (a ``deletionTimestamp``, or the object
vanishing) stops every container with SIGTERM, the grace period, then SIGKILL, and
then, if the object still exists, makes the kubelet's final delete with grace period 0.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import aiohttp
import structlog

from cephalon_devkit.kubelet import env as envs
from cephalon_devkit.kubelet.addresses import translate_loopback
from cephalon_devkit.kubelet.admission import unsupported
from cephalon_devkit.kubelet.client import KubeClient
from cephalon_devkit.kubelet.config import KubeletConfig, image_command, image_environment
from cephalon_devkit.kubelet.containers import ContainerRunner, Launch
from cephalon_devkit.kubelet.errors import ApiError, Conflict, ContainerConfigError, NotFound
from cephalon_devkit.kubelet.events import EventRecorder
from cephalon_devkit.kubelet.probes import ProbeContext
from cephalon_devkit.kubelet.status import (
    PodView,
    build_pod_status,
    timestamp,
    unsupported_status,
)
from cephalon_devkit.kubelet.types import ConfigMap, Container, Pod, PodStatus, Secret
from cephalon_devkit.kubelet.volumes import (
    PodLayout,
    container_mounts,
    materialise_volume,
    plan_volume,
    pod_layout,
    translate_path,
    volume_env_name,
    volume_host_dir,
    working_dir,
)

_log = structlog.get_logger(__name__)


def grace_period(pod: Pod) -> float:
    """Seconds between SIGTERM and SIGKILL: the deletion's, else the pod spec's (30)."""
    meta = pod.get("metadata", {})
    if "deletionGracePeriodSeconds" in meta:
        return float(meta["deletionGracePeriodSeconds"])
    return float(pod.get("spec", {}).get("terminationGracePeriodSeconds", 30))


def is_older(candidate: Pod, current: Pod) -> bool:
    """Whether ``candidate`` is an older version of the pod than ``current``.

    resourceVersions are opaque to clients, but every server we talk to (the emulator,
    etcd-backed API servers) uses increasing integers; anything else counts as newer.
    """
    try:
        new = int(candidate.get("metadata", {}).get("resourceVersion", ""))
        old = int(current.get("metadata", {}).get("resourceVersion", ""))
    except ValueError:
        return False
    return new < old


def container_argv(
    container: Container, image_commands: Mapping[str, tuple[str, ...]]
) -> list[str]:
    """``command`` + ``args``, or the image's configured prefix + ``args``."""
    command = container.get("command") or list(
        image_command(container.get("image", ""), image_commands) or ()
    )
    return [*command, *container.get("args", [])]


class PodWorker:
    """Runs one pod (one uid) and reports its status."""

    def __init__(
        self,
        pod: Pod,
        *,
        config: KubeletConfig,
        client: KubeClient,
        events: EventRecorder,
        http: aiohttp.ClientSession,
        pod_ip: str = "",
    ) -> None:
        self._pod = pod
        self._pod_ip = pod_ip or config.pod_ip
        self._config = config
        self._client = client
        self._events = events
        self._http = http
        meta = pod.get("metadata", {})
        self.uid = meta.get("uid", "")
        self.namespace = meta.get("namespace", "")
        self.name = meta.get("name", "")
        self._layout: PodLayout = pod_layout(config.state_dir, pod)
        spec = pod.get("spec", {})
        self._init = [ContainerRunner(c, self, init=True) for c in spec.get("initContainers", [])]
        self._main = [ContainerRunner(c, self, init=False) for c in spec.get("containers", [])]
        self._volume_dirs: dict[str, Path] = {}
        self._start_time = ""
        self._failure: tuple[str, str] | None = None
        self._unsupported = ""
        self._stopping = False
        self._stop = asyncio.Event()
        self._gone = False
        self._shutdown_grace: float | None = None
        self._life_task: asyncio.Task[None] | None = None
        self._deleting = False  # stopping because of deletion (or shutdown), not a deadline
        self._dirty = asyncio.Event()
        self._written: PodStatus | None = None
        self._log = _log.bind(pod=f"{self.namespace}/{self.name}", uid=self.uid)

    # -- PodHooks ---------------------------------------------------------------------

    @property
    def pod(self) -> Pod:
        return self._pod

    @property
    def config(self) -> KubeletConfig:
        return self._config

    @property
    def http(self) -> aiohttp.ClientSession:
        return self._http

    def stopping(self) -> bool:
        return self._stopping

    def changed(self) -> None:
        self._dirty.set()

    def emit(
        self,
        type_: Literal["Normal", "Warning"],
        reason: str,
        message: str,
        field_path: str = "",
        component: str = "kubelet",
    ) -> None:
        self._events.emit(
            self._pod, type_, reason, message, field_path=field_path, component=component
        )

    async def launch(self, container: Container) -> Launch:
        secrets, config_maps = await self._fetch_sources()
        mounts = container_mounts(container, self._volume_dirs)

        own_loopback = self._pod_ip != self._config.pod_ip  # a pod IP from the pool

        def translate(value: str) -> str:
            value = translate_path(value, mounts)
            return translate_loopback(value, self._pod_ip) if own_loopback else value

        name = container.get("name", "")
        root = self._layout.container_root(name)
        cwd = working_dir(container, mounts, root / "rootfs")
        cwd.mkdir(parents=True, exist_ok=True)
        base = {key: os.environ[key] for key in self._config.inherit_env if key in os.environ}
        if self._config.path_prepend:
            base["PATH"] = os.pathsep.join(
                [*self._config.path_prepend, base.get("PATH", os.defpath)]
            )
        base.update(
            {
                "HOSTNAME": self.name,
                "HOME": os.fspath(self._layout.home),
                "TMPDIR": os.fspath(self._layout.tmp),
                "CEPHALON_POD_ROOT": os.fspath(self._layout.root),
            }
        )
        # The image's own ENV (host values, not translated); the container's env wins.
        base.update(image_environment(container.get("image", ""), self._config.image_env))
        for mount in container.get("volumeMounts", []):
            volume = mount.get("name", "")
            base[volume_env_name(volume)] = os.fspath(self._volume_dirs[volume])
        env = envs.resolve_env(
            self._pod,
            container,
            secrets={key: envs.secret_data(value) for key, value in secrets.items()},
            config_maps={key: envs.config_map_data(value) for key, value in config_maps.items()},
            base=base,
            pod_ip=self._pod_ip,
            node_name=self._config.node_name,
            translate=translate,
            host_ip=self._config.pod_ip,
        )
        argv = [
            translate(word)
            for word in envs.expand_command(
                container_argv(container, self._config.image_commands), env
            )
        ]
        log_path = self._config.log_dir / self.namespace / self.name / f"{name}.log"
        context = ProbeContext(
            host=self._pod_ip,
            ports=container.get("ports", []),
            env=env,
            cwd=cwd,
            translate=translate,
        )
        return Launch(argv=argv, env=env, cwd=cwd, log_path=log_path, probe_context=context)

    # -- watch input --------------------------------------------------------------------

    def observe(self, pod: Pod) -> None:
        """A version of this pod arrived (watch or write response); older ones are ignored."""
        if is_older(pod, self._pod):
            return
        self._pod = pod
        if pod.get("metadata", {}).get("deletionTimestamp"):
            self._stop.set()

    def vanished(self) -> None:
        """The pod object is gone from the API (deleted without waiting for us)."""
        self._gone = True
        self._stop.set()

    def shutdown(self, grace: float) -> None:
        """Executor shutdown: stop the containers, leave the pod object alone."""
        self._gone = True
        self._shutdown_grace = grace
        self._stop.set()

    # -- life ---------------------------------------------------------------------------

    async def run(self) -> None:
        status_loop = asyncio.create_task(self._status_loop())
        life = self._life_task = asyncio.create_task(self._life())
        deadline = asyncio.create_task(self._deadline())
        try:
            await self._stop.wait()
            self._stopping = True
            self._deleting = True
            for task in (deadline, life):
                task.cancel()
            await asyncio.gather(deadline, life, return_exceptions=True)
            grace = grace_period(self._pod)
            if self._shutdown_grace is not None:
                grace = min(grace, self._shutdown_grace)
            await self._stop_containers(grace)
            if not self._gone:
                await self._flush_status()
                # Like the kubelet, reclaim the pod's volumes before the final delete.
                await self._remove_pod_root()
                await self._final_delete()
        finally:
            for task in (deadline, life):
                task.cancel()
            status_loop.cancel()
            await asyncio.gather(status_loop, deadline, life, return_exceptions=True)
            await self._stop_containers(0)
            await self._remove_pod_root()

    async def _final_delete(self, attempts: int = 8) -> None:
        """The grace-0 delete, retried on transient errors (nothing else would retry it)."""
        for attempt in range(attempts):
            try:
                await self._client.delete_pod_now(self.namespace, self.name, self.uid)
            except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
                self._log.warning("final delete failed", error=str(error), attempt=attempt)
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
            else:
                self._log.info("pod deleted")
                return

    async def _remove_pod_root(self) -> None:
        await asyncio.to_thread(shutil.rmtree, self._layout.root, ignore_errors=True)

    async def _stop_containers(self, grace: float) -> None:
        await asyncio.gather(*(c.stop(grace) for c in [*self._init, *self._main]))

    async def _bind(self) -> bool:
        """Bind an unbound pod to this node; False when another node has it."""
        if not self._config.bind_pods or self._pod.get("spec", {}).get("nodeName"):
            return True
        try:
            await self._client.bind_pod(self.namespace, self.name, self.uid, self._config.node_name)
        except Conflict as error:
            self._log.warning("pod not bound here", error=str(error))
            return False
        except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
            self._log.info("pod left unbound", error=str(error))
        return True

    async def _life(self) -> None:
        try:
            await self._live()
        except asyncio.CancelledError:
            raise
        except Exception:
            self._log.exception("pod worker failed")
            raise

    async def _live(self) -> None:
        if not await self._bind():
            self._gone = True
            return
        problems = unsupported(self._pod, self._config)
        if problems:
            self._unsupported = "; ".join(problems)
            self._log.warning("pod refused", problems=problems)
            self.emit("Warning", "Unsupported", self._unsupported)
            self.changed()
            return
        self._start_time = timestamp(time.time())
        self.emit(
            "Normal",
            "Scheduled",
            f"Successfully assigned {self.namespace}/{self.name} to {self._config.node_name}",
            component="default-scheduler",
        )
        self.changed()
        await self._prepare_volumes()
        for runner in self._init:
            code = await runner.run()
            if code != 0:
                return
        await asyncio.gather(*(runner.run() for runner in self._main))

    async def _deadline(self) -> None:
        seconds = self._pod.get("spec", {}).get("activeDeadlineSeconds")
        if seconds is None:
            return
        began = time.monotonic()
        while not self._start_time:
            await asyncio.sleep(0.05)
            if self._unsupported:
                return
        await asyncio.sleep(max(seconds - (time.monotonic() - began), 0))
        message = "Pod was active on the node longer than the specified deadline"
        self._log.info("active deadline exceeded", seconds=seconds)
        self.emit("Normal", "DeadlineExceeded", message)
        self._stopping = True
        if self._life_task is not None:
            self._life_task.cancel()  # no further starts, restarts or volume retries
            await asyncio.gather(self._life_task, return_exceptions=True)
        await self._stop_containers(grace_period(self._pod))
        # Failed is reported once the containers are stopped, never while one still runs.
        self._failure = ("DeadlineExceeded", message)
        self._dirty.set()

    async def _fetch_sources(self) -> tuple[dict[str, Secret], dict[str, ConfigMap]]:
        secret_names, config_map_names = envs.referenced_objects(self._pod)
        secrets: dict[str, Secret] = {}
        config_maps: dict[str, ConfigMap] = {}
        try:
            for name in sorted(secret_names):
                secret = await self._client.get_secret(self.namespace, name)
                if secret is not None:
                    secrets[name] = secret
            for name in sorted(config_map_names):
                config_map = await self._client.get_config_map(self.namespace, name)
                if config_map is not None:
                    config_maps[name] = config_map
        except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
            # Retried like a missing object, as the kubelet retries a failed cache sync.
            raise ContainerConfigError(f"failed to read secrets/configmaps: {error}") from error
        return secrets, config_maps

    async def _prepare_volumes(self) -> None:
        """Write every volume, retrying while a Secret or ConfigMap is missing."""
        while True:
            try:
                secrets, config_maps = await self._fetch_sources()
                dirs: dict[str, Path] = {}
                for volume in self._pod.get("spec", {}).get("volumes", []):
                    plan = plan_volume(
                        volume,
                        namespace=self.namespace,
                        secrets=secrets,
                        config_maps=config_maps,
                    )
                    directory = volume_host_dir(
                        self._layout,
                        plan,
                        namespace=self.namespace,
                        pvc_root=self._config.pvc_root,
                    )
                    materialise_volume(plan, directory)
                    dirs[plan.name] = directory
                self._layout.home.mkdir(parents=True, exist_ok=True)
                self._layout.tmp.mkdir(parents=True, exist_ok=True)
                self._volume_dirs = dirs
                return
            except ContainerConfigError as error:
                self.emit("Warning", "FailedMount", f"MountVolume.SetUp failed: {error}")
                await asyncio.sleep(self._config.config_retry_delay)

    # -- status -------------------------------------------------------------------------

    def build_status(self) -> PodStatus:
        # The latest pod seen (our own writes included) keeps conditions others wrote.
        previous: PodStatus = self._pod.get("status", {})
        now = timestamp(time.time())
        spec = self._pod.get("spec", {})
        if self._unsupported:
            return unsupported_status(spec, self._unsupported, previous, now=now)
        view = PodView(
            init_containers=tuple(r.view() for r in self._init),
            containers=tuple(r.view() for r in self._main),
            start_time=self._start_time or now,
            failure=self._failure,
            terminating=self._deleting and self._failure is None,
        )
        return build_pod_status(
            spec, view, previous, now=now, pod_ip=self._pod_ip, host_ip=self._config.pod_ip
        )

    async def _status_loop(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if not await self._flush_status():
                await asyncio.sleep(1)
                self._dirty.set()
            await asyncio.sleep(0.02)

    async def _flush_status(self) -> bool:
        """Write the status if it changed; False when the write should be retried."""
        if self._gone:
            return True
        status = self.build_status()
        if status == self._written:
            return True
        try:
            pod = await self._client.patch_pod_status(self.namespace, self.name, self.uid, status)
        except (NotFound, Conflict):
            self._log.info("pod gone while writing status")
            self.vanished()
            return True
        except (ApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
            self._log.warning("status not written", error=str(error))
            return False
        self._written = status
        self.observe(pod)
        return True
