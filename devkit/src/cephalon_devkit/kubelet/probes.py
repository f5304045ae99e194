"""Readiness, liveness and startup probes (HTTP GET, exec, TCP).

``ProbeTracker`` is the pure threshold logic (``successThreshold`` /
``failureThreshold``); ``run_probe`` performs one probe; ``probe_loop`` runs one probe
of one container on its schedule and reports result changes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from cephalon_devkit.kubelet.processes import run_to_completion
from cephalon_devkit.kubelet.types import Container, ContainerPort, Probe

PROBE_KINDS = ("startupProbe", "readinessProbe", "livenessProbe")


def container_probes(container: Container) -> dict[str, Probe]:
    """The probes a container declares, by kind."""
    probes: dict[str, Probe] = {}
    if "startupProbe" in container:
        probes["startupProbe"] = container["startupProbe"]
    if "readinessProbe" in container:
        probes["readinessProbe"] = container["readinessProbe"]
    if "livenessProbe" in container:
        probes["livenessProbe"] = container["livenessProbe"]
    return probes


@dataclass
class ProbeTracker:
    """Consecutive successes and failures against the probe's thresholds."""

    success_threshold: int = 1
    failure_threshold: int = 3
    result: bool | None = None
    successes: int = 0
    failures: int = 0

    @classmethod
    def for_probe(cls, probe: Probe, initial: bool | None) -> ProbeTracker:
        return cls(
            success_threshold=probe.get("successThreshold", 1),
            failure_threshold=probe.get("failureThreshold", 3),
            result=initial,
        )

    def record(self, ok: bool) -> bool:
        """Count one probe outcome; True when the overall result changed."""
        before = self.result
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= self.success_threshold:
                self.result = True
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= self.failure_threshold:
                self.result = False
        return self.result != before


def resolve_port(port: int | str, ports: Sequence[ContainerPort]) -> int:
    """A probe port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for declared in ports:
        if declared.get("name") == port:
            return declared.get("containerPort", 0)
    raise ValueError(f"port {port!r} names no container port")


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    message: str


@dataclass(frozen=True)
class ProbeContext:
    """What a probe needs about its container."""

    host: str
    ports: Sequence[ContainerPort]
    env: Mapping[str, str]
    cwd: Path
    translate: Callable[[str], str]


async def run_probe(
    probe: Probe, context: ProbeContext, session: aiohttp.ClientSession
) -> ProbeOutcome:
    """Perform one probe, with its ``timeoutSeconds`` (default 1)."""
    timeout = float(probe.get("timeoutSeconds", 1))
    if "exec" in probe:
        argv = [context.translate(word) for word in probe["exec"].get("command", [])]
        code, output = await run_to_completion(
            argv, env=context.env, cwd=context.cwd, timeout=timeout
        )
        if code is None:
            return ProbeOutcome(False, f"command timed out after {timeout:g}s")
        text = output.decode(errors="replace").strip()
        return ProbeOutcome(code == 0, text if code == 0 else f"exit code {code}: {text}")
    if "httpGet" in probe:
        action = probe["httpGet"]
        try:
            port = resolve_port(action.get("port", 80), context.ports)
        except ValueError as error:
            return ProbeOutcome(False, str(error))
        scheme = action.get("scheme", "HTTP").lower()
        host = action.get("host") or context.host
        path = action.get("path", "/")
        if not path.startswith("/"):
            path = "/" + path
        url = f"{scheme}://{host}:{port}{path}"
        headers = {"User-Agent": "kube-probe/1.33", "Accept": "*/*"}
        headers.update({h["name"]: h["value"] for h in action.get("httpHeaders", [])})
        try:
            async with session.get(
                url,
                headers=headers,
                ssl=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                await response.read()
                ok = 200 <= response.status < 400
                return ProbeOutcome(ok, f"HTTP probe failed with statuscode: {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return ProbeOutcome(False, f'Get "{url}": {type(error).__name__}: {error}')
    if "tcpSocket" in probe:
        socket_action = probe["tcpSocket"]
        try:
            port = resolve_port(socket_action.get("port", 0), context.ports)
        except ValueError as error:
            return ProbeOutcome(False, str(error))
        host = socket_action.get("host") or context.host
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, TimeoutError) as error:
            return ProbeOutcome(False, f"dial tcp {host}:{port}: {error}")
        writer.close()
        return ProbeOutcome(True, "")
    return ProbeOutcome(False, "probe has no supported handler")


async def probe_loop(
    probe: Probe,
    tracker: ProbeTracker,
    perform: Callable[[], Awaitable[ProbeOutcome]],
    on_result: Callable[[bool, bool | None, ProbeOutcome], None],
    *,
    stop_when: Callable[[ProbeTracker], bool] = lambda _: False,
) -> None:
    """Probe every ``periodSeconds`` after ``initialDelaySeconds`` until cancelled.

    ``on_result(changed, result, outcome)`` is called when the overall result changed and
    after every failed attempt (so callers can post ``Unhealthy`` events).
    """
    await asyncio.sleep(probe.get("initialDelaySeconds", 0))
    period = max(probe.get("periodSeconds", 10), 1)
    loop = asyncio.get_running_loop()
    while True:
        began = loop.time()
        outcome = await perform()
        changed = tracker.record(outcome.ok)
        if changed or not outcome.ok:
            on_result(changed, tracker.result, outcome)
        if stop_when(tracker):
            return
        await asyncio.sleep(max(period - (loop.time() - began), 0.05))
