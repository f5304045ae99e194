"""Runs the access layer's Deployments as local processes.

The operator turns each ``ProviderTenant`` into two Deployments in the release
namespace (the chat gateway and the model gateway). A cluster would run them through
its Deployment controller and a kubelet; local mode has neither for them, so this
runner plays both for exactly those Deployments: it starts one process per Deployment
from the pod template's command and environment, with its Secret volumes written to
private files and the template's mount paths pointed at them. Each process listens on
the address local mode chose for its component (sessions reach the model gateway there,
Discord's interactions reach the gateway there), and its ``/readyz`` becomes the
Deployment's ``readyReplicas``, so the operator's ``GatewayReady`` and
``ModelGatewayReady`` conditions are as true as in a cluster.

One replica per Deployment: a laptop needs no more, and two replicas would need two
addresses for one Service.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp

from cephalon_devkit.kubelet.errors import ContainerConfigError
from cephalon_devkit.kubelet.types import Secret, Volume
from cephalon_devkit.kubelet.volumes import plan_volume, translate_path
from cephalon_devkit.local.kubeapi import KubeApi, Obj, resource_path

LABEL_PROVIDER = "cephalon.dev/provider"
LABEL_TENANT = "cephalon.dev/tenant"
LABEL_COMPONENT = "app.kubernetes.io/component"
POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 10.0


class AccessLayerError(RuntimeError):
    """A Deployment's pod template asks for something local mode cannot provide."""


@dataclass(frozen=True, slots=True)
class Listen:
    """Where one component of one tenant listens."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


Key = tuple[str, str, str]
"""(provider, tenant, component) of an access-layer Deployment."""
StateCallback = Callable[[Key, str, str], None]
"""Called with the Deployment's key, its state and a detail (URL, exit code...)."""


def deployment_key(deployment: Obj) -> Key | None:
    labels = deployment.get("metadata", {}).get("labels") or {}
    parts = (labels.get(LABEL_PROVIDER), labels.get(LABEL_TENANT), labels.get(LABEL_COMPONENT))
    if not all(parts):
        return None
    return (str(parts[0]), str(parts[1]), str(parts[2]))


def template_digest(deployment: Obj) -> str:
    """Changes when the pod template does (the Deployment controller's rollout trigger)."""
    template = deployment.get("spec", {}).get("template", {})
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class ProcessPlan:
    """What one replica runs: argv, environment, where its volumes live."""

    argv: list[str]
    env: dict[str, str]
    volumes: dict[str, Path]
    secret_files: dict[Path, bytes] = field(default_factory=dict)


def plan_process(
    deployment: Obj,
    secrets: Mapping[str, Obj],
    directory: Path,
    listen: Listen,
    base_env: Mapping[str, str],
) -> ProcessPlan:
    """The replica's process from the Deployment's pod template (pure: writes nothing).

    ``secrets`` maps the names of Secrets the template mounts to those objects.
    ``directory`` is the replica's private directory; each volume becomes a folder
    in it and every mount path in the environment points at that folder.
    """
    spec = deployment["spec"]["template"]["spec"]
    containers = spec.get("containers") or []
    if len(containers) != 1:
        raise AccessLayerError("an access-layer pod has exactly one container")
    container = containers[0]
    volumes: dict[str, Path] = {}
    secret_files: dict[Path, bytes] = {}
    for volume in spec.get("volumes") or []:
        name = volume["name"]
        if "secret" not in volume and "emptyDir" not in volume:
            raise AccessLayerError(f"volume {name!r}: only secret and emptyDir are supported")
        if "secret" in volume and volume["secret"]["secretName"] not in secrets:
            raise AccessLayerError(f"Secret {volume['secret']['secretName']} does not exist (yet)")
        folder = directory / "volumes" / name
        volumes[name] = folder
        try:  # the kubelet's own rules: items, missing keys, paths kept inside the volume
            plan = plan_volume(
                cast(Volume, volume),
                namespace=deployment["metadata"].get("namespace", ""),
                secrets=cast(Mapping[str, Secret], secrets),
                config_maps={},
            )
        except ContainerConfigError as e:
            raise AccessLayerError(str(e)) from e
        secret_files.update({folder / f.path: f.content for f in plan.files})
    mounts = sorted(
        (
            (mount["mountPath"], os.fspath(volumes[mount["name"]]))
            for mount in container.get("volumeMounts") or []
        ),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
    env = dict(base_env)
    for variable in container.get("env") or []:
        if "value" not in variable:
            raise AccessLayerError(f"env {variable['name']}: only plain values are supported")
        env[variable["name"]] = translate_path(str(variable["value"]), mounts)
    env["CEPHALON_HTTP__HOST"] = listen.host
    env["CEPHALON_HTTP__PORT"] = str(listen.port)
    env.setdefault("TMPDIR", os.fspath(volumes.get("tmp", directory / "tmp")))
    argv = [*container.get("command", []), *container.get("args", [])]
    if not argv:
        raise AccessLayerError("the container has no command")
    return ProcessPlan(argv, env, volumes, secret_files)


@dataclass
class Replica:
    key: Key
    name: str
    digest: str
    listen: Listen
    task: asyncio.Task[None]
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    stopping: bool = False

    def is_stopping(self) -> bool:
        """Read through a method: ``stopping`` changes while ``_supervise`` awaits."""
        return self.stopping


class AccessLayerRunner:
    """Watches the release namespace's access-layer Deployments and runs them."""

    def __init__(
        self,
        api: KubeApi,
        namespace: str,
        *,
        listen: Mapping[Key, Listen],
        run_dir: Path,
        log_dir: Path,
        env: Mapping[str, str],
        on_state: StateCallback | None = None,
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._listen = dict(listen)
        self._run_dir = run_dir
        self._log_dir = log_dir
        self._env = dict(env)
        self._on_state = on_state or (lambda key, state, detail: None)
        self._replicas: dict[str, Replica] = {}
        self._http: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        """Reconcile until cancelled; every replica is stopped on the way out."""
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        try:
            while True:
                await self._reconcile()
                await asyncio.sleep(POLL_SECONDS)
        finally:
            await asyncio.shield(self._stop_all())
            await self._http.close()

    async def _reconcile(self) -> None:
        path = resource_path("apps/v1", "deployments", self._namespace)
        seen: set[str] = set()
        for deployment in await self._api.items(path):
            key = deployment_key(deployment)
            if key is None or key not in self._listen:
                continue
            name = deployment["metadata"]["name"]
            seen.add(name)
            digest = template_digest(deployment)
            replica = self._replicas.get(name)
            if replica is not None and replica.digest != digest:
                await self._stop(replica)  # a new template: roll it
                replica = None
            if replica is None:
                replica = self._start(key, name, digest)
            await self._report(deployment, replica)
        for name in set(self._replicas) - seen:
            await self._stop(self._replicas[name])

    def _start(self, key: Key, name: str, digest: str) -> Replica:
        listen = self._listen[key]
        replica = Replica(key, name, digest, listen, asyncio.create_task(asyncio.sleep(0)))
        replica.task = asyncio.create_task(self._supervise(replica), name=f"access-{name}")
        self._replicas[name] = replica
        return replica

    async def _supervise(self, replica: Replica) -> None:
        """Start the replica, restart it with a growing delay when it exits."""
        delay = 1.0
        log_path = self._log_dir / f"{replica.name}.log"
        while not replica.stopping:
            try:
                plan = await self._plan(replica)
            except AccessLayerError as e:
                self._on_state(replica.key, "waiting", str(e))
                await asyncio.sleep(1.0)
                continue
            for path, content in plan.secret_files.items():
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                path.write_bytes(content)
                path.chmod(0o600)
            for folder in plan.volumes.values():
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            started = time.monotonic()
            with log_path.open("ab") as log:
                replica.process = await asyncio.create_subprocess_exec(
                    *plan.argv,
                    env=plan.env,
                    cwd=self._run_dir,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            self._on_state(replica.key, "starting", replica.listen.url)
            code = await replica.process.wait()
            replica.ready = False
            if replica.is_stopping():
                return
            self._on_state(replica.key, "crashed", f"exit {code}, see {log_path}")
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 30.0)
            await asyncio.sleep(delay)

    async def _plan(self, replica: Replica) -> ProcessPlan:
        path = resource_path("apps/v1", "deployments", self._namespace, replica.name)
        deployment = await self._api.get(path)
        if deployment is None:
            raise AccessLayerError("the Deployment is gone")
        volumes = deployment["spec"]["template"]["spec"].get("volumes") or []
        secrets: dict[str, Obj] = {}
        for volume in volumes:
            if "secret" in volume:
                name = volume["secret"]["secretName"]
                secret = await self._api.get(resource_path("v1", "secrets", self._namespace, name))
                if secret is not None:
                    secrets[name] = secret
        return plan_process(
            deployment, secrets, self._run_dir / replica.name, replica.listen, self._env
        )

    async def _report(self, deployment: Obj, replica: Replica) -> None:
        """Probe ``/readyz`` and write what it says into the Deployment's status."""
        ready = await self._probe(replica)
        if ready != replica.ready:
            replica.ready = ready
            self._on_state(replica.key, "ready" if ready else "not ready", replica.listen.url)
        status = deployment.get("status") or {}
        wanted = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": int(ready),
            "availableReplicas": int(ready),
        }
        if any(status.get(k) != v for k, v in wanted.items()):
            name = deployment["metadata"]["name"]
            path = resource_path("apps/v1", "deployments", self._namespace, name) + "/status"
            await self._api.merge_patch(path, {"status": wanted})

    async def _probe(self, replica: Replica) -> bool:
        if replica.process is None or replica.process.returncode is not None:
            return False
        assert self._http is not None
        try:
            async with self._http.get(f"{replica.listen.url}/readyz") as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _stop(self, replica: Replica) -> None:
        replica.stopping = True
        process = replica.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        replica.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await replica.task
        late = replica.process  # started while this stop was under way
        if late is not None and late.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                late.kill()
            await late.wait()
        self._replicas.pop(replica.name, None)
        self._on_state(replica.key, "stopped", "")

    async def _stop_all(self) -> None:
        await asyncio.gather(*(self._stop(r) for r in list(self._replicas.values())))

    def processes(self) -> dict[str, Any]:
        """Deployment name → pid of its running replica (for status output)."""
        return {
            name: replica.process.pid
            for name, replica in self._replicas.items()
            if replica.process is not None and replica.process.returncode is None
        }
