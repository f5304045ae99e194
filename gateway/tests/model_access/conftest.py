"""Fixtures: the model gateway as a real uvicorn server, connected to a real
redis-server as a tenant-confined ACL user, in front of the scripted model server.

Every credential a test creates is registered in ``secrets``; after each test the logs
it produced (stdlib records at DEBUG and anything printed) are scanned for them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as secrets_module
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn

from cephalon_devkit.model import ScriptedModelServer
from cephalon_devkit.redis_server import RedisServer, free_port
from cephalon_devkit.testing.model import make_model_server, model_server  # noqa: F401
from cephalon_gateway.model_access.app import create_app
from cephalon_gateway.model_access.settings import GatewaySettings, load_credentials
from cephalon_operator.credentials import (
    SessionCredentials,
    SessionRef,
    apply_access_user,
    apply_session_credentials,
    new_session_credentials,
    revoke_session_credentials,
)

PROVIDER, TENANT, ROOT = "discord", "duck", "promethean"
MODEL = "gpt-4.1"


@dataclass
class Secrets:
    """Every credential value of the running test, for the log scan."""

    values: set[str] = field(default_factory=set)

    def add(self, value: str | None) -> None:
        if value:
            self.values.add(value)


@pytest.fixture
def secrets(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Any:
    caplog.set_level(logging.DEBUG)
    found = Secrets()
    yield found
    out, err = capsys.readouterr()
    texts = {"captured log": caplog.text, "stdout": out, "stderr": err}
    texts["log records"] = "\n".join(
        f"{r.getMessage()} {r.args!r} {getattr(r, '__dict__', '')!r}" for r in caplog.records
    )
    for where, text in texts.items():
        for value in found.values:
            assert value not in text, f"a credential appeared in the {where}"


@dataclass
class Gateway:
    url: str
    settings: GatewaySettings
    admin: aioredis.Redis
    secrets: Secrets
    app: Any
    client: httpx.AsyncClient
    sessions: dict[str, SessionCredentials] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    async def issue(self, session_id: str = "s-1") -> str:
        """Register a session the way the operator does; returns its bearer token."""
        ref = SessionRef(PROVIDER, TENANT, session_id, ROOT)
        creds = new_session_credentials(ref)
        await apply_session_credentials(self.admin, ref, creds)
        self.sessions[session_id] = creds
        self.secrets.add(creds.model_token)
        self.secrets.add(creds.redis_password)
        return creds.model_token

    async def revoke(self, session_id: str) -> None:
        ref = SessionRef(PROVIDER, TENANT, session_id, ROOT)
        await revoke_session_credentials(self.admin, ref, self.sessions[session_id].model_token)

    async def chat(self, token: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
        return await self.client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {token}"}, **kw
        )

    @staticmethod
    def body(text: str = "hello", *, stream: bool = True, **extra: Any) -> dict[str, Any]:
        """A chat-completions body as the Copilot CLI sends it (streamed, with usage)."""
        body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": text}]}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body | extra

    async def in_flight(self) -> int:
        """Concurrency slots held now (0 once every request has settled)."""
        return int(await self.admin.zcard(f"{ROOT}.p.{PROVIDER}.t.{TENANT}.model.inflight"))

    async def usage(self, session_id: str) -> dict[str, int]:
        raw = await self.admin.hgetall(f"{ROOT}.p.{PROVIDER}.t.{TENANT}.usage.session.{session_id}")
        return {k: int(v) for k, v in raw.items()}


StartGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def start_gateway(
    redis_server: RedisServer,
    redis_admin: aioredis.Redis,
    tmp_path: Path,
    secrets: Secrets,
) -> AsyncIterator[StartGateway]:
    """``await start_gateway(upstream_base_url=..., upstream_key=..., **settings)``."""
    running: list[tuple[uvicorn.Server, asyncio.Task[None], httpx.AsyncClient]] = []

    async def start(
        *,
        upstream_base_url: str,
        upstream_key: str | None,
        upstream_kind: str = "openai",
        allowed: str = MODEL,
        transport: httpx.AsyncBaseTransport | None = None,
        **overrides: Any,
    ) -> Gateway:
        directory = tmp_path / f"gw{len(running)}"
        directory.mkdir()
        username = f"model-gateway-{PROVIDER}-{TENANT}-{len(running)}"
        password = secrets_module.token_urlsafe(24)
        await apply_access_user(redis_admin, username, PROVIDER, TENANT, password, ROOT)
        (directory / "username").write_text(username)
        (directory / "password").write_text(password)
        key_file = directory / "upstream-key"
        if upstream_key is not None:
            key_file.write_text(upstream_key + "\n")
        secrets.add(upstream_key)
        secrets.add(password)
        model: dict[str, Any] = {
            "upstream_kind": upstream_kind,
            "upstream_base_url": upstream_base_url,
            "default": MODEL,
            "allowed": allowed,
            "upstream_key_file": key_file,
            "read_timeout_s": 10,
        }
        model.update(overrides.pop("model", {}))
        settings = GatewaySettings(
            provider=PROVIDER,
            tenant=TENANT,
            topic_root=ROOT,
            redis={
                "url": redis_server.url,
                "username_file": directory / "username",
                "password_file": directory / "password",
            },
            model=model,
            **overrides,
        )
        app = create_app(settings, load_credentials(settings), transport=transport)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{port}"
        client = httpx.AsyncClient(base_url=url, timeout=30)
        running.append((server, task, client))
        return Gateway(url, settings, redis_admin, secrets, app, client)

    try:
        yield start
    finally:
        for server, task, client in reversed(running):
            await client.aclose()
            server.should_exit = True
            await task


@pytest.fixture
async def gateway(
    start_gateway: StartGateway,
    model_server: ScriptedModelServer,  # noqa: F811 (the imported fixture)
) -> Gateway:
    """A gateway in front of ``model_server`` with its key."""
    return await start_gateway(
        upstream_base_url=model_server.base_url, upstream_key=model_server.api_key
    )
