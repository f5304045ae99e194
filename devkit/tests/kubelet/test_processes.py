"""Container processes and probes against real child processes and a local HTTP server."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from cephalon_devkit.kubelet.probes import ProbeContext, ProbeTracker, resolve_port, run_probe
from cephalon_devkit.kubelet.processes import ContainerProcess, exit_from_returncode


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_exit_reasons() -> None:
    assert exit_from_returncode(0, started_at=1, finished_at=2).reason == "Completed"
    assert exit_from_returncode(3, started_at=1, finished_at=2).exit_code == 3
    killed = exit_from_returncode(-9, started_at=1, finished_at=2)
    assert (killed.exit_code, killed.reason, killed.message) == (137, "Error", "killed by SIGKILL")


async def test_term_ignored_then_killed_and_group_cleaned(tmp_path: Path) -> None:
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "open('child.pid', 'w').write(str(child.pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = await ContainerProcess.start(
        [sys.executable, "-c", script],
        env={"PATH": os.environ["PATH"]},
        cwd=tmp_path,
        log_path=tmp_path / "logs/c.log",
    )
    await _until(
        lambda: (
            (tmp_path / "child.pid").exists() and b"ready" in (tmp_path / "logs/c.log").read_bytes()
        )
    )
    child = int((tmp_path / "child.pid").read_text())
    began = time.monotonic()
    exit = await process.terminate(0.5)
    assert time.monotonic() - began >= 0.5
    assert (exit.exit_code, exit.reason) == (137, "Error")
    await _until(lambda: not _alive(child))
    assert (tmp_path / "logs/c.log").read_text() == "ready\n"


async def test_sigterm_reaches_the_main_process_only_so_it_can_stop_its_children(
    tmp_path: Path,
) -> None:
    """As a container runtime signals PID 1: a runtime whose CLI child is still alive
    when SIGTERM arrives can close its session before stopping the child."""
    script = (
        "import signal, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "def stop(*_):\n"
        "    print('child alive' if child.poll() is None else 'child gone', flush=True)\n"
        "    child.terminate(); child.wait(); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    log = tmp_path / "c.log"
    process = await ContainerProcess.start(
        [sys.executable, "-c", script], env={"PATH": os.environ["PATH"]}, cwd=tmp_path, log_path=log
    )
    await _until(lambda: log.exists() and b"ready" in log.read_bytes())
    exit = await process.terminate(10)
    assert exit.exit_code == 0
    assert log.read_text() == "ready\nchild alive\n"


async def test_graceful_exit_on_sigterm(tmp_path: Path) -> None:
    process = await ContainerProcess.start(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={},
        cwd=tmp_path,
        log_path=tmp_path / "c.log",
    )
    exit = await process.terminate(10)
    assert exit.exit_code == 143
    assert exit.finished_at - exit.started_at < 10


async def test_http_exec_and_tcp_probes(tmp_path: Path) -> None:
    statuses = iter([200, 503])

    async def handler(request: web.Request) -> web.Response:
        assert request.headers["User-Agent"].startswith("kube-probe/")
        assert request.headers["X-Probe"] == "yes"
        return web.Response(status=next(statuses))

    app = web.Application()
    app.router.add_get("/healthz", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    context = ProbeContext(
        host="127.0.0.1",
        ports=[{"name": "http", "containerPort": port}],
        env={"PATH": os.environ["PATH"], "WANT": "1"},
        cwd=tmp_path,
        translate=lambda value: value,
    )
    http_probe = {
        "httpGet": {
            "path": "healthz",
            "port": "http",
            "httpHeaders": [{"name": "X-Probe", "value": "yes"}],
        }
    }
    try:
        async with aiohttp.ClientSession() as session:
            assert (await run_probe(http_probe, context, session)).ok  # type: ignore[arg-type]
            failed = await run_probe(http_probe, context, session)  # type: ignore[arg-type]
            assert not failed.ok
            assert failed.message == "HTTP probe failed with statuscode: 503"
            assert (await run_probe({"tcpSocket": {"port": port}}, context, session)).ok
            ok = await run_probe(
                {"exec": {"command": ["sh", "-c", "test $WANT = 1"]}}, context, session
            )
            bad = await run_probe({"exec": {"command": ["sh", "-c", "exit 3"]}}, context, session)
            slow = await run_probe(
                {"exec": {"command": ["sleep", "5"]}, "timeoutSeconds": 1}, context, session
            )
    finally:
        await runner.cleanup()
    assert ok.ok
    assert (bad.ok, bad.message) == (False, "exit code 3: ")
    assert (slow.ok, slow.message) == (False, "command timed out after 1s")
    async with aiohttp.ClientSession() as session:
        closed = await run_probe({"tcpSocket": {"port": port}}, context, session)
    assert not closed.ok


def test_tracker_thresholds() -> None:
    tracker = ProbeTracker(success_threshold=2, failure_threshold=2, result=False)
    assert [tracker.record(ok) for ok in (True, True, False, True, False, False)] == [
        False,
        True,
        False,
        False,
        False,
        True,
    ]
    assert tracker.result is False
    assert resolve_port("8080", []) == 8080
