"""Container processes: start, wait, terminate.

Each container runs in its own session and process group (``setsid``), with stdin from
``/dev/null`` and stdout/stderr appended to its log file. When the main process exits,
whatever is left in its group is killed, as a container runtime kills every process
of a container whose PID 1 has exited. Termination is SIGTERM to the main process only
(a container runtime signals PID 1, which decides how to stop its children), the grace
period, then SIGKILL to the whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Exit:
    """How a container process ended, in the terms of ``state.terminated``."""

    exit_code: int
    reason: str
    message: str
    started_at: float
    finished_at: float


def exit_from_returncode(returncode: int, *, started_at: float, finished_at: float) -> Exit:
    """``Completed`` for 0, ``Error`` otherwise; death by signal N is exit code 128+N."""
    if returncode < 0:
        code = 128 - returncode
        name = signal.Signals(-returncode).name
        return Exit(code, "Error", f"killed by {name}", started_at, finished_at)
    return Exit(
        returncode, "Completed" if returncode == 0 else "Error", "", started_at, finished_at
    )


class StartError(Exception):
    """The process could not be started (missing executable, bad working directory)."""


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class ContainerProcess:
    """One running container process and its process group."""

    def __init__(self, process: asyncio.subprocess.Process, started_at: float) -> None:
        self._process = process
        self.started_at = started_at
        self._exit: Exit | None = None
        self._waiter: asyncio.Task[Exit] = asyncio.create_task(self._wait())

    @property
    def pid(self) -> int:
        return self._process.pid

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
    ) -> ContainerProcess:
        """Spawn ``argv``; raises ``StartError`` when the OS refuses."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    cwd=cwd,
                    env=dict(env),
                    start_new_session=True,
                )
            except (OSError, ValueError) as error:
                raise StartError(str(error)) from error
        return cls(process, time.time())

    async def _wait(self) -> Exit:
        returncode = await self._process.wait()
        _kill_group(self._process.pid, signal.SIGKILL)
        self._exit = exit_from_returncode(
            returncode, started_at=self.started_at, finished_at=time.time()
        )
        return self._exit

    async def wait(self) -> Exit:
        return await asyncio.shield(self._waiter)

    @property
    def exited(self) -> Exit | None:
        return self._exit

    async def terminate(self, grace: float) -> Exit:
        """SIGTERM the main process, wait up to ``grace`` seconds, then SIGKILL the group."""
        if self._exit is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._waiter), timeout=max(grace, 0))
            except TimeoutError:
                _log.info("grace period over, killing", pid=self._process.pid, grace=grace)
                _kill_group(self._process.pid, signal.SIGKILL)
        return await asyncio.shield(self._waiter)


async def run_to_completion(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
) -> tuple[int | None, bytes]:
    """Run a short command (an exec probe) in its own group; ``None`` on timeout."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    except (OSError, ValueError) as error:
        return 126, str(error).encode()
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout)
    except TimeoutError:
        _kill_group(process.pid, signal.SIGKILL)
        await process.wait()
        return None, b""
    finally:
        _kill_group(process.pid, signal.SIGKILL)
    return process.returncode, output
