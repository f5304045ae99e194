"""pytest fixtures for the Discord emulator.

Registered in the root ``conftest.py`` (``pytest_plugins``), so every test can ask for
``discord_emulator`` (a started emulator with Discord's default limits, no guild) or
``make_discord_emulator`` (a factory taking the same keyword arguments as
:class:`~cephalon_devkit.discord.DiscordEmulator`, e.g. ``limits=DiscordLimits(...)``
with short windows). Every emulator made here is stopped when the test ends.

Pointing discord.py at an emulator is the test's business (the devkit does not import
discord.py)::

    monkeypatch.setattr(discord.http.Route, "BASE", emu.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY",
                        yarl.URL(emu.gateway_url))
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio

from cephalon_devkit.discord import DiscordEmulator

MakeDiscordEmulator = Callable[..., Awaitable[DiscordEmulator]]


@pytest_asyncio.fixture
async def make_discord_emulator() -> AsyncIterator[MakeDiscordEmulator]:
    """Factory: ``await make_discord_emulator(limits=..., interactions_url=...)``."""
    started: list[DiscordEmulator] = []

    async def make(**kwargs: Any) -> DiscordEmulator:
        emu = DiscordEmulator(**kwargs)
        await emu.start()
        started.append(emu)
        return emu

    try:
        yield make
    finally:
        for emu in reversed(started):
            await emu.stop()


@pytest_asyncio.fixture
async def discord_emulator(make_discord_emulator: MakeDiscordEmulator) -> DiscordEmulator:
    """A started emulator with Discord's default limits and an empty world."""
    return await make_discord_emulator()
