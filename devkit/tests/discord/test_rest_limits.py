"""Discord's REST rules through the real discord.py HTTP client: content and embed
limits, nonce idempotency, buckets and the global limit with honoured retry_after,
channel caps, permission checks and the invalid-request counter."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest

from cephalon_devkit.discord import BucketRule, DiscordEmulator, DiscordLimits, permissions
from cephalon_devkit.discord.errors import MAX_GUILD_CHANNELS, MISSING_PERMISSIONS, ApiError

from .conftest import fast_limits

MakeClient = Callable[[DiscordEmulator], Awaitable[discord.Client]]


@pytest.fixture
async def rest_client(point_discord_py):
    """A discord.py client that only logs in (REST, no gateway)."""
    clients: list[discord.Client] = []

    async def make(emu: DiscordEmulator) -> discord.Client:
        point_discord_py(emu)
        client = discord.Client(intents=discord.Intents.default())
        await client.login(emu.bot_token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def text_channel(client: discord.Client, channel_id: int) -> discord.TextChannel:
    channel = await client.fetch_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_content_over_2000_is_50035(emu: DiscordEmulator, rest_client: MakeClient):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    channel = await text_channel(await rest_client(emu), lobby.id)
    await channel.send("x" * 2000)
    with pytest.raises(discord.HTTPException) as err:
        await channel.send("x" * 2001)
    assert (err.value.status, err.value.code) == (400, 50035)
    assert "In content: Must be 2000 or fewer in length." in err.value.text


@pytest.mark.parametrize(
    ("embeds", "where"),
    [
        ([discord.Embed(title="t" * 257)], "In embeds.0.title"),
        ([discord.Embed(description="d" * 4097)], "In embeds.0.description"),
        (
            [discord.Embed(title="x").add_field(name="n", value="v" * 1025)],
            "In embeds.0.fields.0.value",
        ),
        (
            [discord.Embed(description="d" * 4000), discord.Embed(description="d" * 2001)],
            "Embed size exceeds maximum size of 6000",
        ),
        ([discord.Embed(title="x").set_footer(text="f" * 2049)], "In embeds.0.footer.text"),
    ],
)
async def test_embed_limits(emu: DiscordEmulator, rest_client: MakeClient, embeds, where):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    channel = await text_channel(await rest_client(emu), lobby.id)
    with pytest.raises(discord.HTTPException) as err:
        await channel.send(embeds=embeds)
    assert err.value.code == 50035 and where in err.value.text


async def test_too_many_embed_fields_and_embeds(emu: DiscordEmulator):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    url = f"{emu.api_base}/channels/{lobby.id}/messages"
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    fields = [{"name": str(i), "value": "v"} for i in range(26)]
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.post(url, json={"embeds": [{"fields": fields}]}) as r:
            body = await r.json()
        assert body["errors"]["embeds"]["0"]["fields"]["_errors"][0]["code"] == (
            "BASE_TYPE_MAX_LENGTH"
        )
        async with s.post(url, json={"embeds": [{"title": "x"}] * 11}) as r:
            assert (await r.json())["errors"]["embeds"]["_errors"][0]["message"] == (
                "Must be 10 or fewer in length."
            )
        async with s.post(url, json={"content": ""}) as r:
            assert (r.status, (await r.json())["code"]) == (400, 50006)
        assert r.headers["Content-Type"] == "application/json"


async def test_nonce_with_enforce_nonce_posts_once(emu: DiscordEmulator, rest_client: MakeClient):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    channel = await text_channel(await rest_client(emu), lobby.id)
    first = await channel.send("final answer", nonce="evt-1-0")
    again = await channel.send("final answer", nonce="evt-1-0")
    other = await channel.send("final answer", nonce="evt-1-1")
    assert first.id == again.id != other.id
    assert [m.content for m in emu.messages(lobby.id)] == ["final answer", "final answer"]
    assert emu.requests_for("create_message")[1].body["enforce_nonce"] is True


async def test_attachments_by_multipart(emu: DiscordEmulator, rest_client: MakeClient):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    channel = await text_channel(await rest_client(emu), lobby.id)
    sent = await channel.send("log", file=discord.File(io.BytesIO(b"line 1\n"), "run.log"))
    assert sent.attachments[0].filename == "run.log"
    assert await sent.attachments[0].read() == b"line 1\n"
    assert emu.transcript(lobby.id)[0].attachments == ["run.log"]


async def test_injected_429_is_honoured_by_discord_py(
    emu: DiscordEmulator, rest_client: MakeClient
):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    channel = await text_channel(await rest_client(emu), lobby.id)
    emu.inject_rate_limit("create_message", retry_after=0.3)
    await channel.send("after a wait")
    limited, ok = emu.requests_for("create_message")
    assert (limited.status, limited.rate_limit_scope, ok.status) == (429, "user", 200)
    assert ok.started_at - limited.started_at >= 0.3
    assert emu.invalid_request_count == 1


async def test_replicas_without_a_shared_limiter_hit_the_bucket(
    make_discord_emulator, rest_client: MakeClient
):
    # Two gateway replicas with the same token and no shared limiter: each one's
    # discord.py only knows its own requests, so the channel bucket (5 per 1 s here)
    # answers 429s; discord.py waits retry_after and every message still arrives.
    emu = await make_discord_emulator(
        limits=DiscordLimits(buckets={"create_message": BucketRule(5, 1.0)})
    )
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    a = await text_channel(await rest_client(emu), lobby.id)
    b = await text_channel(await rest_client(emu), lobby.id)
    await asyncio.gather(*(ch.send(f"{n}-{i}") for i in range(5) for n, ch in (("a", a), ("b", b))))
    assert len(emu.messages(lobby.id)) == 10
    records = emu.requests_for("create_message")
    limited = [r for r in records if r.status == 429]
    assert limited, "two uncoordinated clients should collide on the bucket"
    assert all(r.rate_limit_scope == "user" for r in limited)
    ok = [r for r in records if r.status == 200]
    assert ok[0].bucket == ok[-1].bucket
    assert emu.invalid_requests_total == len(limited)


async def test_bucket_and_global_headers(make_discord_emulator):
    emu = await make_discord_emulator(limits=DiscordLimits(global_per_second=10))
    guild = emu.create_guild("duck")
    channels = [emu.create_channel(guild.id, f"c{i}") for i in range(12)]
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.get(f"{emu.api_base}/channels/{channels[0].id}") as r:
            assert r.headers["X-RateLimit-Limit"] == "5"
            assert r.headers["X-RateLimit-Remaining"] == "4"
            assert float(r.headers["X-RateLimit-Reset-After"]) > 0
            assert "X-RateLimit-Bucket" in r.headers and "X-RateLimit-Reset" in r.headers

        async def get(cid: int) -> tuple[int, dict[str, Any], Any]:
            async with s.get(f"{emu.api_base}/channels/{cid}") as r:
                return r.status, dict(r.headers), await r.json()

        results = await asyncio.gather(*(get(c.id) for c in channels[1:]))
    limited = [(h, b) for status, h, b in results if status == 429]
    assert len(limited) == 2  # 1 + 11 requests against a global limit of 10 per second
    headers_, body = limited[0]
    assert body["global"] is True and body["retry_after"] > 0
    assert headers_["X-RateLimit-Global"] == "true" and headers_["Via"] == "1.1 google"


async def test_channel_caps(make_discord_emulator, rest_client: MakeClient):
    emu = await make_discord_emulator(
        limits=fast_limits(
            guild_channels_max=4,
            category_channels_max=2,
            buckets={"create_guild_channel": BucketRule(50, 1.0)},
        )
    )
    guild = emu.create_guild("duck")
    sessions = emu.create_category(guild.id, "sessions")
    client = await rest_client(emu)
    g = await client.fetch_guild(guild.id)
    category = await client.fetch_channel(sessions.id)
    assert isinstance(category, discord.CategoryChannel)
    await g.create_text_channel("s1", category=category)
    await g.create_text_channel("s2", category=category)
    with pytest.raises(discord.HTTPException) as err:
        await g.create_text_channel("s3", category=category)
    assert err.value.code == 50035
    assert "In parent_id: Maximum number of channels in category reached (2)" in err.value.text
    await g.create_text_channel("free")
    with pytest.raises(discord.HTTPException) as err:
        await g.create_text_channel("one-too-many")
    assert (err.value.status, err.value.code) == (400, MAX_GUILD_CHANNELS)


async def test_private_channel_with_overwrites(emu: DiscordEmulator, rest_client: MakeClient):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    bob = emu.create_member(guild.id, "bob")
    client = await rest_client(emu)
    g = await client.fetch_guild(guild.id)
    everyone = g.default_role
    overwrites: dict[Any, discord.PermissionOverwrite] = {
        everyone: discord.PermissionOverwrite(view_channel=False),
        discord.Object(alice.id, type=discord.Member): discord.PermissionOverwrite(
            view_channel=True, send_messages=True
        ),
        discord.Object(emu.bot.id, type=discord.Member): discord.PermissionOverwrite(
            view_channel=True, send_messages=True
        ),
    }
    channel = await g.create_text_channel("alice-1a2b", overwrites=overwrites)
    assert emu.world.can_view(channel.id, alice.id)
    assert not emu.world.can_view(channel.id, bob.id)
    await channel.set_permissions(await g.fetch_member(bob.id), view_channel=True)
    assert emu.world.can_view(channel.id, bob.id)
    request = emu.requests_for("create_guild_channel")[0]
    assert {str(o["id"]) for o in request.body["permission_overwrites"]} == {
        str(guild.id),
        str(alice.id),
        str(emu.bot.id),
    }


async def test_permission_checks(emu: DiscordEmulator, rest_client: MakeClient):
    guild = emu.create_guild(
        "duck",
        bot_permissions=permissions.VIEW_CHANNEL
        | permissions.SEND_MESSAGES
        | permissions.MANAGE_CHANNELS,
    )
    alice = emu.create_member(guild.id, "alice")
    client = await rest_client(emu)
    g = await client.fetch_guild(guild.id)
    await g.create_text_channel("plain")  # MANAGE_CHANNELS is enough without overwrites
    member = discord.Object(alice.id, type=discord.Member)
    with pytest.raises(discord.Forbidden) as err:  # overwrites need MANAGE_ROLES
        await g.create_text_channel(
            "private", overwrites={member: discord.PermissionOverwrite(view_channel=True)}
        )
    assert err.value.code == MISSING_PERMISSIONS
    emu.set_bot_permissions(guild.id, permissions.DEFAULT_BOT)
    with pytest.raises(discord.Forbidden):  # cannot grant what the bot does not have
        await g.create_text_channel(
            "admin", overwrites={member: discord.PermissionOverwrite(administrator=True)}
        )
    emu.set_bot_permissions(guild.id, permissions.VIEW_CHANNEL)
    with pytest.raises(discord.Forbidden):
        await g.create_text_channel("nope")
    assert emu.invalid_request_count == 3


async def test_invalid_requests_are_counted_until_a_cloudflare_ban(
    make_discord_emulator, point_discord_py
):
    emu = await make_discord_emulator(
        limits=fast_limits(invalid_request_limit=3, invalid_request_window=60.0)
    )
    url = f"{emu.api_base}/users/@me"
    async with aiohttp.ClientSession() as s:
        for token in ("Bot fake-wrong-1", "Bot fake-wrong-2", "Bot fake-wrong-3"):
            async with s.get(url, headers={"Authorization": token}) as r:
                assert r.status == 401
        assert emu.invalid_request_count == 3
        async with s.get(url, headers={"Authorization": f"Bot {emu.bot_token}"}) as r:
            assert r.status == 429 and "Via" not in r.headers
            assert r.content_type == "text/html"
    point_discord_py(emu)
    client = discord.Client(intents=discord.Intents.default())
    try:
        with pytest.raises(discord.HTTPException) as err:
            await client.login(emu.bot_token)
        assert err.value.status == 429  # discord.py treats it as a Cloudflare ban
    finally:
        await client.close()
    assert emu.requests[-1].rate_limit_scope == "cloudflare"


async def test_oversized_upload_is_413_40005(make_discord_emulator, rest_client: MakeClient):
    emu = await make_discord_emulator(limits=fast_limits(upload_max_bytes=1024))
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    channel = await text_channel(await rest_client(emu), lobby.id)
    with pytest.raises(discord.HTTPException) as err:
        await channel.send(file=discord.File(io.BytesIO(b"x" * 2048), "big.bin"))
    assert (err.value.status, err.value.code) == (413, 40005)
    with pytest.raises(discord.HTTPException) as err:  # past what the server reads at all
        await channel.send(file=discord.File(io.BytesIO(b"x" * 20_000), "huge.bin"))
    assert (err.value.status, err.value.code) == (413, 40005)
    with pytest.raises(ApiError) as too_big:  # a user cannot upload it either
        emu.post_message(
            lobby.id, emu.world.guilds[guild.id].owner_id, "", files=[("big.bin", b"x" * 2048)]
        )
    assert too_big.value.code == 40005
