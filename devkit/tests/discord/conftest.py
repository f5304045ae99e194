"""Drive the emulator with the real discord.py: ``connect_bot`` points discord.py's
REST base and gateway at an emulator, logs in and waits for READY."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

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
        token: str | None = None,
        **kwargs: Any,
    ) -> discord.Client:
        point_discord_py(e)
        if client is None:
            if intents is None:
                intents = discord.Intents.default()
                intents.message_content = True
            kwargs.setdefault("guild_ready_timeout", 0.05)
            client = discord.Client(intents=intents, **kwargs)
        await client.login(token or e.bot_token)
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


Answer = Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]


@dataclass
class Receiver:
    """The app's interactions endpoint: verifies Ed25519 first, then ``answer``s."""

    public_key: str
    answer: Answer
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            VerifyKey(bytes.fromhex(self.public_key)).verify(
                request.headers["X-Signature-Timestamp"].encode() + raw,
                bytes.fromhex(request.headers["X-Signature-Ed25519"]),
            )
        except (BadSignatureError, KeyError, ValueError):
            self.rejected += 1
            return web.Response(status=401, text="invalid request signature")
        payload = json.loads(raw)
        self.received.append(payload)
        if payload["type"] == 1:
            return web.json_response({"type": 1})
        return await self.answer(payload)


async def defer(payload: dict[str, Any]) -> web.StreamResponse:
    return web.json_response({"type": 5})


MakeReceiver = Callable[[DiscordEmulator, Answer], Awaitable[Receiver]]


@pytest_asyncio.fixture
async def make_receiver() -> AsyncIterator[MakeReceiver]:
    runners: list[web.AppRunner] = []

    async def make(emu: DiscordEmulator, answer: Answer) -> Receiver:
        receiver = Receiver(emu.public_key, answer)
        app = web.Application()
        app.router.add_post("/discord/interactions", receiver.handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/discord/interactions"
        emu.set_interactions_url(receiver.url)
        return receiver

    yield make
    for runner in runners:
        await runner.cleanup()


def start_chat_message(emu: DiscordEmulator, channel_id: int) -> Any:
    components = [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 1, "label": "Start Chat", "custom_id": "cephalon:start"}
            ],
        }
    ]
    m, _ = emu.world.create_message(
        channel_id, emu.bot.id, {"content": "Talk to the agent", "components": components}
    )
    return m
