"""Session runtime (issue 5): what the runtime adds per turn on top of the bare Copilot
SDK, measured in the same run against the same scripted model.

* turn latency: ``TurnRequest`` written to Redis → first ``response_delta`` on the
  events stream, and → ``final``; side by side with the bare SDK (``send`` → first
  ``assistant.message_delta`` / ``session.idle``) on its own CLI against the same stub;
  p50/p99, the ratio and the added milliseconds (turns interleaved so drift hits both);
* MCP tool round trip: ``tool_call`` → ``tool_result_summary`` on the events stream (the
  CLI calling the sidecar, as the runtime reports it) vs the bare ``mcp`` client's
  ``call_tool`` on an open session and with a fresh connection per call;
* runtime RSS (the runtime process plus its Copilot CLI) idle and during a turn.

Run: ``.venv/bin/python benchmarks/bench_runtime.py`` (prints a table, writes
``bench-results/runtime.json``). Redis, the scripted model, the MCP server and the
runtime (``python -m cephalon_runtime``, configured as the operator configures it) each
run as their own process; this process is the gateway's side and the bare SDK.
Benchmarks report; they do not assert.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from copilot import CopilotClient, RuntimeConnection
from copilot.session import PermissionHandler

sys.path.insert(0, str(Path(__file__).parent))
from report import Report, summarize_ms  # noqa: E402

from cephalon_contracts.envelope import decode_envelope, encode_envelope, envelope, new_id  # noqa: E402
from cephalon_contracts.heartbeat import Heartbeat  # noqa: E402
from cephalon_contracts.social import TurnRequest  # noqa: E402
from cephalon_devkit.redis_server import free_port, running_redis  # noqa: E402
from cephalon_operator.credentials import (  # noqa: E402
    SessionRef,
    apply_session_credentials,
    new_session_credentials,
)

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "tools" / "copilot" / "node_modules" / ".bin" / "copilot"
TURNS = int(os.environ.get("CEPHALON_BENCH_TURNS", "30"))
TOOL_TURNS = int(os.environ.get("CEPHALON_BENCH_TOOL_TURNS", "15"))
MCP_CALLS = 200
MODEL = "gpt-4.1"
ANSWER = "The build uses uv workspaces; run make setup first, then make test. " * 3
USER = "urn:cephalon:discord:duck:user:1"


def script() -> dict[str, Any]:
    return {
        "models": [MODEL],
        "steps": [
            {"match": {"last_role": "tool"}, "repeat": True, "reply": "Read it."},
            {
                "match": {"user_contains": "use the tool"},
                "repeat": True,
                "tool_calls": [{"name": "ws-read_file", "arguments": {"path": "README.md"}}],
            },
            {
                "match": {"user_contains": "slowly"},
                "repeat": True,
                "reply": "s" * 400,
                "chunk_chars": 2,
                "delay_ms": 10,
            },
            {"repeat": True, "reply": ANSWER, "chunk_chars": 8},
        ],
    }


def rss_kib(pid: int, *, tree: bool = True) -> int:
    """VmRSS of ``pid`` (and all its descendants), KiB (from /proc)."""
    total = 0
    pending = [pid]
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    while pending:
        current = pending.pop()
        if tree:
            pending += children.get(current, [])
        with contextlib.suppress(OSError):
            for line in (Path("/proc") / str(current) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


@contextlib.asynccontextmanager
async def process(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[int]:
    proc = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield proc.pid
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


async def wait_file(path: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} never appeared")
        await asyncio.sleep(0.05)
    return path.read_text()


class Gateway:
    """Writes turns and reads events the way the gateway does (XADD / XREAD)."""

    def __init__(self, admin: aioredis.Redis, ref: SessionRef) -> None:
        self.admin = admin
        self.ref = ref
        prefix = ref.key_prefix
        self.turns, self.events = prefix + "turns", prefix + "events"
        self.last = "$"

    async def start(self) -> None:
        last: Any = await self.admin.xrevrange(self.events, count=1)
        self.last = str(last[0][0]) if last else "0"

    async def turn(self, text: str) -> dict[str, float]:
        """Times (seconds from XADD) of the first of each event type of the turn."""
        turn_id = new_id()
        message = envelope(
            TurnRequest(text=text, author=USER),
            provider=self.ref.provider,
            tenant=self.ref.tenant,
            session_id=self.ref.session_id,
            turn_id=turn_id,
        )
        seen: dict[str, float] = {}
        sent = time.perf_counter()
        await self.admin.xadd(self.turns, {"envelope": encode_envelope(message)})
        while True:
            reply: Any = await self.admin.xread({self.events: self.last}, block=30_000)
            if not reply:
                raise RuntimeError("no events for 30 s")
            for _, entries in reply:
                for entry_id, fields in entries:
                    self.last = entry_id
                    event = decode_envelope(fields["envelope"])
                    if event.turn_id != turn_id:
                        continue
                    seen.setdefault(event.type, time.perf_counter() - sent)
                    if event.type in {"final", "error"}:
                        return seen


async def bare_sdk(base_url: str, token: str, home: Path) -> tuple[CopilotClient, Any]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "COPILOT_HOME": str(home),
        "COPILOT_OFFLINE": "true",
        "COPILOT_PROVIDER_BASE_URL": base_url,
        "COPILOT_MODEL": MODEL,
    }
    client = CopilotClient(connection=RuntimeConnection.for_stdio(path=str(CLI)), env=env)
    await client.start()
    session = await client.create_session(
        model=MODEL,
        provider={"type": "openai", "base_url": base_url, "api_key": token},
        streaming=True,
        on_permission_request=PermissionHandler.approve_all,
        working_directory=str(home),
    )
    return client, session


async def bare_turn(session: Any, text: str) -> dict[str, float]:
    seen: dict[str, float] = {}
    done = asyncio.Event()
    sent = time.perf_counter()

    def on(event: Any) -> None:
        kind = event.type.value
        if kind == "assistant.message_delta":
            seen.setdefault("response_delta", time.perf_counter() - sent)
        elif kind == "session.idle":
            seen.setdefault("final", time.perf_counter() - sent)
            done.set()

    unsubscribe = session.on(on)
    try:
        await session.send(text)
        await asyncio.wait_for(done.wait(), 30)
    finally:
        unsubscribe()
    return seen


async def main() -> None:
    report = Report("runtime")
    base = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    workspace = base / "workspace"
    workspace.mkdir()
    (workspace / "README.md").write_text("# Demo\nRun make setup.\n")
    (base / "script.json").write_text(json.dumps(script()))
    token_file = base / "model-token"
    token_file.write_text("bench-session-token")
    model_port = free_port()
    base_url = f"http://127.0.0.1:{model_port}/v1"
    ref = SessionRef("discord", "duck", "bench1")
    py = sys.executable
    async with (
        running_redis(base / "redis") as server,
        process(py, "-m", "cephalon_devkit.model", "--port", str(model_port),
                "--script", str(base / "script.json"), "--api-key-file", str(token_file)),
        process(py, "-m", "cephalon_devkit.mcp_servers.workspace", "--root", str(workspace),
                "--ready-file", str(base / "mcp.ready")),
    ):  # fmt: skip
        mcp_url = await wait_file(base / "mcp.ready")
        admin = aioredis.Redis(
            host=server.host,
            port=server.port,
            username=server.admin_user,
            password=server.admin_password,
            decode_responses=True,
        )
        credentials = new_session_credentials(ref)
        await apply_session_credentials(admin, ref, credentials)
        (base / "redis-username").write_text(credentials.redis_username)
        (base / "redis-password").write_text(credentials.redis_password)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(base),
            "CEPHALON_SESSION__ID": ref.session_id,
            "CEPHALON_SESSION__PROVIDER": ref.provider,
            "CEPHALON_SESSION__TENANT": ref.tenant,
            "CEPHALON_REDIS__URL": server.url,
            "CEPHALON_REDIS__USERNAME_FILE": str(base / "redis-username"),
            "CEPHALON_REDIS__PASSWORD_FILE": str(base / "redis-password"),
            "CEPHALON_MODEL__BASE_URL": base_url,
            "CEPHALON_MODEL__TOKEN_FILE": str(token_file),
            "CEPHALON_MODEL__DEFAULT": MODEL,
            "CEPHALON_MCP__SERVERS": json.dumps([{"name": "ws", "url": mcp_url}]),
            "CEPHALON_WORKSPACE__PATH": str(workspace),
            "CEPHALON_POLICY__DEFAULTS_DIR": str(REPO),
            "CEPHALON_BUDGETS": json.dumps({"turn_tokens": 0, "session_tokens": 0}),
            "CEPHALON_HEALTH_PORT": "0",
            "CEPHALON_HEALTH_HOST": "127.0.0.1",
            "CEPHALON_COPILOT__CLI_PATH": str(CLI),
        }
        started = time.perf_counter()
        async with process(py, "-m", "cephalon_runtime", env=env) as runtime_pid:
            heartbeat_key = ref.key_prefix + "heartbeat"
            while True:
                raw = await admin.get(heartbeat_key)
                if raw and Heartbeat.model_validate_json(raw).ready:
                    break
                await asyncio.sleep(0.05)
            report.add("runtime start to ready", seconds=round(time.perf_counter() - started, 3))
            gateway = Gateway(admin, ref)
            await gateway.start()
            client, session = await bare_sdk(base_url, token_file.read_text(), base / "bare")
            try:
                for _ in range(2):  # warm both up (first turn pays session set-up)
                    await gateway.turn("hello")
                    await bare_turn(session, "hello")
                runtime: list[dict[str, float]] = []
                bare: list[dict[str, float]] = []
                for i in range(TURNS):
                    runtime.append(await gateway.turn(f"question {i}"))
                    bare.append(await bare_turn(session, f"question {i}"))
                for label, key in (("first delta", "response_delta"), ("final", "final")):
                    r = summarize_ms([t[key] for t in runtime])
                    b = summarize_ms([t[key] for t in bare])
                    report.add(f"turn → {label}: bare SDK", **b)
                    report.add(
                        f"turn → {label}: runtime",
                        **r,
                        ratio_p50=round(r["p50_ms"] / b["p50_ms"], 2),
                        added_p50_ms=round(r["p50_ms"] - b["p50_ms"], 1),
                        added_p99_ms=round(r["p99_ms"] - b["p99_ms"], 1),
                    )

                idle = rss_kib(runtime_pid)
                idle_python = rss_kib(runtime_pid, tree=False)
                peak = [0]

                async def sample() -> None:
                    while True:
                        peak[0] = max(peak[0], rss_kib(runtime_pid))
                        await asyncio.sleep(0.1)

                sampler = asyncio.create_task(sample())
                await gateway.turn("answer slowly")
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
                report.add("runtime RSS idle (runtime + CLI)", MiB=round(idle / 1024, 1))
                report.add(
                    "runtime RSS idle (Python process only)", MiB=round(idle_python / 1024, 1)
                )
                report.add("runtime RSS during a turn", MiB=round(peak[0] / 1024, 1))

                round_trips: list[float] = []
                for _ in range(TOOL_TURNS):
                    seen = await gateway.turn("please use the tool")
                    if "tool_call" in seen and "tool_result_summary" in seen:
                        round_trips.append(seen["tool_result_summary"] - seen["tool_call"])
                report.add("MCP round trip through the runtime", **summarize_ms(round_trips))
            finally:
                await session.disconnect()
                process_ = client._cli_process
                await client.stop()
                if process_ is not None:
                    for pipe in (process_.stdout, process_.stderr):
                        if pipe is not None:
                            pipe.close()

        from mcp import Client

        open_session: list[float] = []
        async with Client(mcp_url, mode="legacy") as mcp:
            for _ in range(MCP_CALLS):
                t0 = time.perf_counter()
                await mcp.call_tool("read_file", {"path": "README.md"})
                open_session.append(time.perf_counter() - t0)
        report.add("MCP call_tool, bare client (open session)", **summarize_ms(open_session))
        fresh: list[float] = []
        for _ in range(20):
            t0 = time.perf_counter()
            async with Client(mcp_url, mode="legacy") as mcp:
                await mcp.call_tool("read_file", {"path": "README.md"})
            fresh.append(time.perf_counter() - t0)
        report.add("MCP call_tool, bare client (connect per call)", **summarize_ms(fresh))
        await admin.aclose()
    report.emit()


if __name__ == "__main__":
    asyncio.run(main())
