"""One container of a pod: start, probe, restart with back-off, stop.

``ContainerRunner`` keeps the container's reported state (what ``status.ContainerView``
shows) and drives its process. It asks its pod (``PodHooks``) for the launch details
(argv, env, working directory), so that Secrets and ConfigMaps are read at each start,
as the kubelet reads them when it creates a container.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import aiohttp
import structlog

from cephalon_devkit.kubelet.backoff import (
    BackoffEntry,
    backoff_message,
    plan_restart,
    should_restart,
)
from cephalon_devkit.kubelet.config import KubeletConfig
from cephalon_devkit.kubelet.errors import ContainerConfigError
from cephalon_devkit.kubelet.probes import (
    ProbeContext,
    ProbeOutcome,
    ProbeTracker,
    container_probes,
    probe_loop,
    run_probe,
)
from cephalon_devkit.kubelet.processes import ContainerProcess, Exit, StartError
from cephalon_devkit.kubelet.status import ContainerView, timestamp, waiting
from cephalon_devkit.kubelet.types import Container, ContainerState, Pod, Probe

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one container process."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    log_path: Path
    probe_context: ProbeContext


class PodHooks(Protocol):
    """What a container needs from its pod worker."""

    @property
    def pod(self) -> Pod: ...

    @property
    def config(self) -> KubeletConfig: ...

    def stopping(self) -> bool: ...

    @property
    def http(self) -> aiohttp.ClientSession: ...

    def changed(self) -> None: ...

    def emit(
        self, type_: Literal["Normal", "Warning"], reason: str, message: str, field_path: str
    ) -> None: ...

    async def launch(self, container: Container) -> Launch: ...


def terminated_state(exit: Exit, container_id: str) -> ContainerState:
    state: ContainerState = {
        "terminated": {
            "exitCode": exit.exit_code,
            "reason": exit.reason,
            "startedAt": timestamp(exit.started_at),
            "finishedAt": timestamp(exit.finished_at),
        }
    }
    if exit.message:
        state["terminated"]["message"] = exit.message
    if container_id:
        state["terminated"]["containerID"] = container_id
    return state


def _last_exit_code(state: ContainerState) -> int:
    return state.get("terminated", {}).get("exitCode", -1)


class ContainerRunner:
    """Runs one container (init or regular) of a pod for as long as it should run."""

    def __init__(self, spec: Container, pod: PodHooks, *, init: bool) -> None:
        self.spec = spec
        self.name = spec.get("name", "")
        self._pod = pod
        self._init = init
        self.state: ContainerState = waiting("ContainerCreating" if not init else "PodInitializing")
        self.last_state: ContainerState = {}
        self.ready = False
        self.started = False
        self.restart_count = 0
        self.container_id = ""
        self.process: ContainerProcess | None = None
        self._backoff: BackoffEntry | None = None
        self._probe_tasks: list[asyncio.Task[None]] = []
        self._log = _log.bind(container=self.name)
        self._field_path = f"spec.{'initContainers' if init else 'containers'}{{{self.name}}}"

    def view(self) -> ContainerView:
        return ContainerView(
            name=self.name,
            image=self.spec.get("image", ""),
            state=self.state,
            last_state=self.last_state,
            ready=self.ready,
            started=self.started,
            restart_count=self.restart_count,
            container_id=self.container_id,
        )

    def _set(self, state: ContainerState) -> None:
        self.state = state
        self._pod.changed()

    async def run(self) -> int:
        """Start, supervise and restart until the container is done; its last exit code."""
        config = self._pod.config
        policy = self._pod.pod.get("spec", {}).get("restartPolicy", "Always")
        while True:
            if self._pod.stopping():
                return _last_exit_code(self.state)
            try:
                launch = await self._pod.launch(self.spec)
            except ContainerConfigError as error:
                self._set(waiting("CreateContainerConfigError", str(error)))
                self._pod.emit("Warning", "Failed", f"Error: {error}", self._field_path)
                await asyncio.sleep(config.config_retry_delay)
                continue
            exit = await self._run_once(launch)
            self.ready = False
            self.started = False
            self._set(terminated_state(exit, self.container_id))
            if self._init:
                again = exit.exit_code != 0 and policy != "Never"
            else:
                again = should_restart(policy, exit.exit_code)
            if not again or self._pod.stopping():
                return exit.exit_code
            plan = plan_restart(
                self._backoff,
                exited_at=exit.finished_at,
                base=config.backoff_base,
                cap=config.backoff_cap,
                reset_after=config.backoff_reset_after,
            )
            self._backoff = plan.entry
            remaining = plan.delay - (time.time() - exit.finished_at)
            if remaining > 0:
                meta = self._pod.pod.get("metadata", {})
                message = backoff_message(
                    plan.delay,
                    self.name,
                    meta.get("name", ""),
                    meta.get("namespace", ""),
                    meta.get("uid", ""),
                )
                self.last_state = self.state
                self._set(waiting("CrashLoopBackOff", message))
                self._pod.emit(
                    "Warning", "BackOff", "Back-off restarting failed container", self._field_path
                )
                await asyncio.sleep(remaining)
            if self._pod.stopping():
                return exit.exit_code
            if "terminated" in self.state:
                self.last_state = self.state
            self.restart_count += 1

    async def _run_once(self, launch: Launch) -> Exit:
        image = self.spec.get("image", "")
        self._pod.emit(
            "Normal",
            "Pulled",
            f'Container image "{image}" already present on machine',
            self._field_path,
        )
        self._pod.emit("Normal", "Created", f"Created container {self.name}", self._field_path)
        start = asyncio.ensure_future(
            ContainerProcess.start(
                launch.argv, env=launch.env, cwd=launch.cwd, log_path=launch.log_path
            )
        )
        try:
            self.process = await asyncio.shield(start)
        except StartError as error:
            now = time.time()
            self._pod.emit("Warning", "Failed", f"Error: {error}", self._field_path)
            return Exit(128, "StartError", str(error), now, now)
        except asyncio.CancelledError:
            with contextlib.suppress(StartError):
                self.process = await start
            raise
        process = self.process
        self.container_id = f"local://{process.pid}"
        self._pod.emit("Normal", "Started", f"Started container {self.name}", self._field_path)
        self._log.info("container started", pid=process.pid, argv=launch.argv)
        probes = container_probes(self.spec)
        self.started = "startupProbe" not in probes
        self.ready = self.started and "readinessProbe" not in probes
        self.state = {"running": {"startedAt": timestamp(process.started_at)}}
        self._pod.changed()
        self._start_probes(probes, launch.probe_context, process)
        try:
            exit = await process.wait()
        finally:
            await self._stop_probes()
        self._log.info("container exited", code=exit.exit_code, reason=exit.reason)
        return exit

    # -- probes -------------------------------------------------------------------------

    def _start_probes(
        self, probes: dict[str, Probe], context: ProbeContext, process: ContainerProcess
    ) -> None:
        if "startupProbe" in probes:
            self._spawn_probe("startupProbe", probes, context, process)
            return
        for kind in ("readinessProbe", "livenessProbe"):
            if kind in probes:
                self._spawn_probe(kind, probes, context, process)

    def _spawn_probe(
        self,
        kind: str,
        probes: dict[str, Probe],
        context: ProbeContext,
        process: ContainerProcess,
    ) -> None:
        probe = probes[kind]
        http = self._pod.http
        initial = {"startupProbe": None, "readinessProbe": False, "livenessProbe": True}[kind]
        tracker = ProbeTracker.for_probe(probe, initial)

        async def perform() -> ProbeOutcome:
            return await run_probe(probe, context, http)

        def on_result(changed: bool, result: bool | None, outcome: ProbeOutcome) -> None:
            self._on_probe(kind, changed, result, outcome, probes, context, process)

        def done(t: ProbeTracker) -> bool:
            return kind == "startupProbe" and t.result is True

        self._probe_tasks.append(
            asyncio.create_task(probe_loop(probe, tracker, perform, on_result, stop_when=done))
        )

    def _on_probe(
        self,
        kind: str,
        changed: bool,
        result: bool | None,
        outcome: ProbeOutcome,
        probes: dict[str, Probe],
        context: ProbeContext,
        process: ContainerProcess,
    ) -> None:
        if not outcome.ok:
            label = kind.removesuffix("Probe").capitalize()
            self._pod.emit(
                "Warning", "Unhealthy", f"{label} probe failed: {outcome.message}", self._field_path
            )
        if not changed:
            return
        if kind == "readinessProbe":
            self.ready = bool(result)
            self._pod.changed()
            return
        if kind == "startupProbe" and result:
            self.started = True
            self.ready = "readinessProbe" not in probes
            self._pod.changed()
            for later in ("readinessProbe", "livenessProbe"):
                if later in probes:
                    self._spawn_probe(later, probes, context, process)
            return
        if result is False:
            what = "startup" if kind == "startupProbe" else "liveness"
            self._pod.emit(
                "Normal",
                "Killing",
                f"Container {self.name} failed {what} probe, will be restarted",
                self._field_path,
            )
            grace = float(probes[kind].get("terminationGracePeriodSeconds", self._grace()))
            self._probe_tasks.append(asyncio.create_task(self._kill(process, grace)))

    @staticmethod
    async def _kill(process: ContainerProcess, grace: float) -> None:
        await process.terminate(grace)

    def _grace(self) -> float:
        return float(self._pod.pod.get("spec", {}).get("terminationGracePeriodSeconds", 30))

    async def _stop_probes(self) -> None:
        tasks, self._probe_tasks = self._probe_tasks, []
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)

    async def stop(self, grace: float) -> None:
        """Terminate the process (SIGTERM, ``grace`` seconds, SIGKILL) and record it."""
        await self._stop_probes()
        process = self.process
        if process is None:
            return
        exit = process.exited
        if exit is None:
            self._pod.emit("Normal", "Killing", f"Stopping container {self.name}", self._field_path)
            exit = await process.terminate(grace)
        if "running" in self.state:
            self.ready = False
            self.started = False
            self._set(terminated_state(exit, self.container_id))
