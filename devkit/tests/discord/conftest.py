"""Drive the emulator with the real discord.py: ``connect_bot`` points discord.py's
REST base and gateway at an emulator, logs in and waits for READY."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

with warnings.catch_warnings():
    # discord.py's voice support imports the stdlib ``audioop`` (deprecated in 3.11);
    # the root config turns warnings into errors, and we never use voice.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http
import pytest_asyncio
import yarl

from cephalon_devkit.discord import DiscordEmulator, DiscordLimits

ConnectBot = Callable[..., Awaitable[discord.Client]]


def fast_limits(**overrides: Any) -> DiscordLimits:
    """Discord's limits with windows short enough for tests."""
    base: dict[str, Any] = {"interaction_deadline": 0.5, "interaction_token_ttl": 2.0}
    base.update(overrides)
    return DiscordLimits(**base)


@pytest_asyncio.fixture
async def emu(make_discord_emulator: Callable[..., Awaitable[DiscordEmulator]]) -> DiscordEmulator:
    return await make_discord_emulator(limits=fast_limits())


@pytest.fixture
def point_discord_py(monkeypatch: pytest.MonkeyPatch) -> Callable[[DiscordEmulator], None]:
    def point(e: DiscordEmulator) -> None:
        monkeypatch.setattr(discord.http.Route, "BASE", e.api_base)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(e.gateway_url)
        )

    return point


@pytest_asyncio.fixture
async def connect_bot(
    point_discord_py: Callable[[DiscordEmulator], None],
) -> AsyncIterator[ConnectBot]:
    clients: list[tuple[discord.Client, asyncio.Task[None]]] = []

    async def connect(
        e: DiscordEmulator,
        *,
        intents: discord.Intents | None = None,
        client: discord.Client | None = None,
        **kwargs: Any,
    ) -> discord.Client:
        point_discord_py(e)
        if client is None:
            if intents is None:
                intents = discord.Intents.default()
                intents.message_content = True
            kwargs.setdefault("guild_ready_timeout", 0.05)
            client = discord.Client(intents=intents, **kwargs)
        await client.login(e.bot_token)
        task = asyncio.create_task(client.connect(reconnect=True))
        clients.append((client, task))
        await asyncio.wait_for(client.wait_until_ready(), 10)
        return client

    try:
        yield connect
    finally:
        for client, task in reversed(clients):
            await client.close()
            try:
                await asyncio.wait_for(task, 5)
            except (asyncio.CancelledError, discord.ConnectionClosed):
                pass
