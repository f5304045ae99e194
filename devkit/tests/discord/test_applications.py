"""Several bot applications (one per tenant) in one Discord: each has its own token,
key, endpoint, commands, rate limits and gateway view; they share guilds."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from cephalon_devkit.discord import DiscordEmulator

from .conftest import defer


async def test_two_tenant_bots_share_a_guild_but_nothing_else(
    emu: DiscordEmulator, connect_bot, make_receiver, point_discord_py
):
    guild = emu.create_guild("acme")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    goose = emu.create_application("Goose")
    assert goose.token != emu.bot_token and goose.public_key != emu.public_key

    duck_bot = await connect_bot(emu)
    goose_client = discord.Client(intents=duck_bot.intents, guild_ready_timeout=0.05)
    goose_bot = await connect_bot(emu, client=goose_client, token=goose.token)
    assert goose_bot.user is not None and goose_bot.user.id == goose.bot_id
    assert goose_bot.get_guild(guild.id) is None  # not invited yet
    joined = asyncio.get_running_loop().create_future()

    @goose_bot.event
    async def on_guild_join(g: discord.Guild) -> None:
        joined.set_result(g)

    emu.add_bot(guild.id, goose)
    assert (await asyncio.wait_for(joined, 5)).id == guild.id
    assert duck_bot.get_guild(guild.id) is not None

    # duck makes a private channel only alice and duck can see.
    g = duck_bot.get_guild(guild.id)
    assert g is not None
    can_see = discord.PermissionOverwrite(view_channel=True)
    secret = await g.create_text_channel(
        "alice-duck",
        overwrites={
            g.default_role: discord.PermissionOverwrite(view_channel=False),
            discord.Object(alice.id, type=discord.Member): can_see,
            discord.Object(emu.bot.id, type=discord.Member): can_see,
        },
    )
    seen: dict[str, list[str]] = {"duck": [], "goose": []}

    async def duck_saw(message: discord.Message) -> None:
        seen["duck"].append(message.content)

    async def goose_saw(message: discord.Message) -> None:
        seen["goose"].append(message.content)

    duck_bot.on_message = duck_saw  # type: ignore[attr-defined]
    goose_bot.on_message = goose_saw  # type: ignore[attr-defined]

    emu.post_message(secret.id, alice, "for duck only")
    emu.post_message(lobby.id, alice, "for everyone")
    await emu.wait_for(lambda: len(seen["duck"]) == 2 and len(seen["goose"]) == 1)
    assert seen == {"duck": ["for duck only", "for everyone"], "goose": ["for everyone"]}

    # goose cannot touch duck's private channel.
    headers = {"Authorization": f"Bot {goose.token}"}
    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.post(
            f"{emu.api_base}/channels/{secret.id}/messages", json={"content": "hi"}
        ) as r:
            assert (r.status, (await r.json())["code"]) == (403, 50001)
        url = f"{emu.api_base}/applications/{goose.id}/guilds/{guild.id}/commands"
        async with s.put(url, json=[{"name": "ask", "description": "Ask goose"}]) as r:
            assert r.status == 200
        duck_url = f"{emu.api_base}/applications/{emu.application_id}/commands"
        async with s.get(duck_url) as r:  # another application's commands
            assert r.status == 403

    # Each application's interactions go to its own endpoint, signed with its own key.
    goose_receiver = await make_receiver(emu, defer)
    emu.set_interactions_url(goose_receiver.url, goose)
    emu.set_interactions_url(None)  # duck has no endpoint: nothing may go there
    goose_receiver.public_key = goose.public_key
    i = await emu.run_command(lobby.id, alice, "ask")
    assert i.app_id == goose.id and i.acknowledged
    assert goose_receiver.received[-1]["application_id"] == str(goose.id)
    async with aiohttp.ClientSession() as s:
        wrong = f"{emu.api_base}/webhooks/{emu.application_id}/{i.token}?wait=true"
        async with s.post(wrong, json={"content": "x"}) as r:
            assert r.status == 401
        right = f"{emu.api_base}/webhooks/{goose.id}/{i.token}?wait=true"
        async with s.post(right, json={"content": "from goose"}) as r:
            assert (await r.json())["author"]["id"] == str(goose.bot_id)


async def test_a_guild_can_be_made_with_only_another_tenants_bot(emu: DiscordEmulator):
    goose = emu.create_application("Goose")
    guild = emu.create_guild("goose community", app=goose)
    assert goose.bot_id in emu.world.guilds[guild.id].members
    assert emu.bot.id not in emu.world.guilds[guild.id].members
