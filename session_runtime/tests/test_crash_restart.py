"""A runtime process killed mid-turn and started again finishes the turn exactly once.

The runtime runs as the real console entry point (``python -m cephalon_runtime``) with
the environment the operator's pod builder gives it, as the session's Redis ACL user.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cephalon_contracts.heartbeat import Heartbeat
from cephalon_devkit.model import ScriptedModelServer
from cephalon_devkit.redis_server import RedisServer
from cephalon_runtime.bus import FIELD, SessionKeys

from .conftest import CLI, REPO, Harness, env_for, needs_cli, session_user

pytestmark = [needs_cli, pytest.mark.slow]


@contextlib.asynccontextmanager
async def runtime_process(
    env: dict[str, str], log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The runtime in its own process group (the CLI is its child), stopped at the end."""
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cephalon_runtime",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def wait_ready(admin: aioredis.Redis, keys: SessionKeys, since: float) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        raw = await admin.get(keys.heartbeat)
        if raw is not None:
            beat = Heartbeat.model_validate_json(raw)
            if beat.ready and beat.at.timestamp() >= since:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the runtime did not become ready")


async def test_killed_mid_turn_then_restarted_finishes_the_turn_once(
    redis_server: RedisServer,
    redis_admin: aioredis.Redis,
    model_server: ScriptedModelServer,
    tmp_path: Path,
) -> None:
    keys = SessionKeys("discord", "duck", "crash1", "promethean")
    username, password = await session_user(redis_admin, redis_server, tmp_path / "creds", keys)
    token = tmp_path / "creds" / "model-token"
    token.write_text(str(model_server.api_key))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    env = env_for(
        {
            "CEPHALON_SESSION__ID": keys.session_id,
            "CEPHALON_SESSION__PROVIDER": keys.provider,
            "CEPHALON_SESSION__TENANT": keys.tenant,
            "CEPHALON_SESSION__OWNER": "42",
            "CEPHALON_TOPIC_ROOT": keys.root,
            "CEPHALON_REDIS__URL": redis_server.url,
            "CEPHALON_REDIS__USERNAME_FILE": str(username),
            "CEPHALON_REDIS__PASSWORD_FILE": str(password),
            "CEPHALON_MODEL__BASE_URL": model_server.base_url,
            "CEPHALON_MODEL__TOKEN_FILE": str(token),
            "CEPHALON_MODEL__DEFAULT": "gpt-4.1",
            "CEPHALON_MODEL__ALLOWED": '["gpt-4.1"]',
            "CEPHALON_MCP__SERVERS": "[]",
            "CEPHALON_WORKSPACE__PATH": str(workspace),
            "CEPHALON_POLICY__TENANT_DIR": str(tmp_path / "no-tenant-policy"),
            "CEPHALON_POLICY__DEFAULTS_DIR": str(REPO),
            "CEPHALON_BUDGETS": '{"turn_seconds": 60, "turn_tool_calls": 5,'
            ' "turn_tokens": 200000, "session_tokens": 2000000}',
            "CEPHALON_APPROVALS__TIMEOUT_SECONDS": "5",
            "CEPHALON_HEALTH_PORT": "0",
            "CEPHALON_HEALTH_HOST": "127.0.0.1",
            "CEPHALON_COPILOT__CLI_PATH": str(CLI),
            "CEPHALON_HEARTBEAT__INTERVAL_SECONDS": "1",
        }
    )
    model_server.load(
        [
            {"reply": "z" * 300, "chunk_chars": 2, "delay_ms": 20},
            {"reply": "Finished after the restart."},
        ]
    )
    harness = Harness(redis_admin, keys)
    log = tmp_path / "runtime.log"

    started = time.time()
    async with runtime_process(env, log) as first:
        await wait_ready(redis_admin, keys, started)
        turn = await harness.turn("write a long answer")
        await harness.wait(turn.turn_id, "response_delta")
        os.killpg(first.pid, signal.SIGKILL)  # the runtime and its CLI, mid-stream
        await first.wait()

    before_restart = await harness.events(turn.turn_id)
    assert not any(e.type in {"final", "error"} for e in before_restart)
    pending = await redis_admin.xpending(keys.turns, "runtime")
    assert pending["pending"] == 1, "the unfinished turn stays pending"

    restarted = time.time()
    async with runtime_process(env, log) as second:
        await wait_ready(redis_admin, keys, restarted)
        events = await harness.wait(turn.turn_id)
        assert events[-1].type == "final" and events[-1].payload.status == "completed"
        assert events[-1].payload.text == "Finished after the restart."
        assert (await redis_admin.xpending(keys.turns, "runtime"))["pending"] == 0

        # the same turn delivered again (a gateway retry): acknowledged, not run again
        await redis_admin.xadd(keys.turns, {FIELD: turn.model_dump_json()})
        model_server.load([{"reply": "next one"}])
        marker = await harness.turn("after the duplicate")
        await harness.wait(marker.turn_id)
        finals = [e for e in await harness.events(turn.turn_id) if e.type in {"final", "error"}]
        assert len(finals) == 1, "finished exactly once"
        assert (await redis_admin.xpending(keys.turns, "runtime"))["pending"] == 0

        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 20) == 0
    beat = Heartbeat.model_validate_json(await redis_admin.get(keys.heartbeat))
    assert not beat.ready and beat.turns == 2
    assert len(model_server.chat_requests) == 3
