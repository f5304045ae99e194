"""Fixtures for the runtime's tests: a session's Redis user, MCP server processes, the
scripted model, and a :class:`Harness` that plays the gateway (writes turns and control
messages, reads events)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from cephalon_contracts.envelope import (
    Envelope,
    PayloadModel,
    decode_envelope,
    encode_envelope,
    envelope,
)
from cephalon_contracts.social import SessionOverrides, TurnMode, TurnRequest
from cephalon_devkit.redis_server import RedisServer
from cephalon_devkit.testing.model import make_model_server, model_server  # noqa: F401
from cephalon_operator.credentials import (
    SessionRef,
    apply_session_credentials,
    new_session_credentials,
)
from cephalon_runtime.bus import FIELD, SessionKeys

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "tools" / "copilot" / "node_modules" / ".bin" / "copilot"
USER = "urn:cephalon:discord:duck:user:42"
needs_cli = pytest.mark.skipif(not CLI.exists(), reason="Copilot CLI not installed: make setup")


async def session_user(
    admin: aioredis.Redis, server: RedisServer, directory: Path, keys: SessionKeys
) -> tuple[Path, Path]:
    """Create the session's ACL user as the operator does; return its credential files."""
    ref = SessionRef(keys.provider, keys.tenant, keys.session_id, keys.root)
    credentials = new_session_credentials(ref)
    await apply_session_credentials(admin, ref, credentials)
    directory.mkdir(parents=True, exist_ok=True)
    username, password = directory / "redis-username", directory / "redis-password"
    username.write_text(credentials.redis_username)
    password.write_text(credentials.redis_password)
    return username, password


@contextlib.asynccontextmanager
async def mcp_server_process(
    root: Path, ready: Path, *options: str, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """The devkit's workspace MCP server as a real process; yields its URL.

    ``options`` are more command-line options; ``env`` adds to the inherited environment.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cephalon_devkit.mcp_servers.workspace",
        "--root",
        str(root),
        "--ready-file",
        str(ready),
        *options,
        stdin=asyncio.subprocess.DEVNULL,
        env=None if env is None else {**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            if process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("the MCP server did not start")
            await asyncio.sleep(0.05)
        yield ready.read_text()
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


@dataclass
class Harness:
    """Plays the gateway against one session's streams (as the admin user)."""

    admin: aioredis.Redis
    keys: SessionKeys

    def wrap(self, payload: PayloadModel, turn_id: str | None = None, **kw: Any) -> Envelope:
        return envelope(
            payload,
            provider=self.keys.provider,
            tenant=self.keys.tenant,
            session_id=self.keys.session_id,
            turn_id=turn_id,
            **kw,
        )

    async def turn(
        self,
        text: str,
        *,
        mode: TurnMode = TurnMode.QUEUE,
        model: str | None = None,
        idempotency_key: str | None = None,
        attachments: list[Any] | None = None,
        stream: str = "turns",
    ) -> Envelope:
        from cephalon_contracts.envelope import new_id

        message = self.wrap(
            TurnRequest(
                text=text,
                author=USER,
                mode=mode,
                overrides=SessionOverrides(model=model),
                attachments=attachments or [],
            ),
            turn_id=new_id(),
            idempotency_key=idempotency_key,
        )
        await self.admin.xadd(self.keys.stream(stream), {FIELD: encode_envelope(message)})
        return message

    async def control(self, payload: PayloadModel, turn_id: str | None = None) -> Envelope:
        message = self.wrap(payload, turn_id=turn_id)
        await self.admin.xadd(self.keys.control, {FIELD: encode_envelope(message)})
        return message

    async def all_events(self) -> list[Envelope]:
        entries = await self.admin.xrange(self.keys.events)
        return [decode_envelope(fields[FIELD]) for _, fields in entries]

    async def events(self, turn_id: str | None) -> list[Envelope]:
        return [e for e in await self.all_events() if e.turn_id == turn_id]

    async def wait(
        self, turn_id: str | None, event_type: str = "terminal", *, timeout: float = 30
    ) -> list[Envelope]:
        """Events of a turn up to the first of ``event_type`` (``terminal``: final/error)."""
        wanted = {"final", "error"} if event_type == "terminal" else {event_type}
        deadline = time.monotonic() + timeout
        while True:
            events = await self.events(turn_id)
            for index, event in enumerate(events):
                if event.type in wanted:
                    return events[: index + 1]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {event_type} for turn {turn_id} in {timeout} s: {[e.type for e in events]}"
                )
            await asyncio.sleep(0.01)


def env_for(settings: dict[str, str]) -> dict[str, str]:
    """Environment for a runtime subprocess: PATH/HOME plus the given CEPHALON_* values."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **settings}
