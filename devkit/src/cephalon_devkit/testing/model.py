"""pytest fixtures for the scripted model server.

Load in a test package's ``conftest.py`` with
``from cephalon_devkit.testing.model import make_model_server, model_server  # noqa: F401``
(pytest only honours ``pytest_plugins`` in the root conftest). Each server gets a fresh
random credential, so a test that asserts ``record.auth_ok`` proves the very key it
configured arrived — not some constant that happens to be everywhere.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from cephalon_devkit.model import Script, ScriptedModelServer

MakeModelServer = Callable[..., Awaitable[ScriptedModelServer]]


def new_api_key() -> str:
    """A credential shaped like an OpenAI key, unique per call."""
    return f"sk-cephalon-test-{secrets.token_hex(12)}"


@pytest_asyncio.fixture
async def make_model_server() -> AsyncIterator[MakeModelServer]:
    """Factory: ``await make_model_server(script, api_key=..., check_auth=True)`` starts
    a server on 127.0.0.1 (random port); all are stopped when the test ends."""
    servers: list[ScriptedModelServer] = []

    async def make(
        script: Script | list[Any] | None = None,
        *,
        api_key: str | None = None,
        check_auth: bool = True,
    ) -> ScriptedModelServer:
        key = (api_key or new_api_key()) if check_auth else None
        server = ScriptedModelServer(script, api_key=key)
        await server.start()
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in reversed(servers):
            await server.stop()


@pytest_asyncio.fixture
async def model_server(make_model_server: MakeModelServer) -> ScriptedModelServer:
    """A started server with an empty script and a fresh expected key
    (``model_server.api_key``); give it steps with ``model_server.load([...])``."""
    return await make_model_server()
