"""discord.py parses the emulator's interaction payloads and answers through its own
InteractionResponse / followup code (as a gateway that hands the HTTP payload to
discord.py would)."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from aiohttp import web

from cephalon_devkit.discord import DiscordEmulator

from .conftest import start_chat_message


async def test_discord_py_answers_a_click_through_the_callback_route(
    emu: DiscordEmulator, connect_bot, make_receiver
):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu)
    handled: asyncio.Future[discord.Interaction] = asyncio.get_running_loop().create_future()

    async def answer(payload: dict[str, Any]) -> web.StreamResponse:
        interaction = discord.Interaction(data=payload, state=bot._connection)
        # Accept the HTTP request, answer through the REST callback route instead.
        await interaction.response.defer(ephemeral=True, thinking=True)
        handled.set_result(interaction)
        return web.Response(status=202)

    await make_receiver(emu, answer)
    i = await emu.click_button(start_chat_message(emu, lobby.id), "cephalon:start", alice)
    interaction = await handled
    assert interaction.user.id == alice.id
    assert interaction.data is not None and interaction.data["custom_id"] == "cephalon:start"
    assert interaction.channel is not None and interaction.channel.id == lobby.id
    assert interaction.message is not None and interaction.message.id == i.message_id
    assert i.acknowledged and i.responded_via == "callback" and i.response_type == 5

    await interaction.edit_original_response(content="Creating your channel…")
    follow = await interaction.followup.send("Ready: #alice-1", ephemeral=True, wait=True)
    assert follow.flags.ephemeral
    entries = emu.transcript(lobby.id)
    assert [e.content for e in entries[1:]] == ["Creating your channel…", "Ready: #alice-1"]
    assert all(e.visible_to == alice.id for e in entries[1:])
    original = await interaction.original_response()
    assert original.content == "Creating your channel…"


async def test_update_message_replaces_the_buttons(emu: DiscordEmulator, make_receiver):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")

    async def approve(payload: dict[str, Any]) -> web.StreamResponse:
        return web.json_response(
            {"type": 7, "data": {"content": "Approved by alice", "components": []}}
        )

    await make_receiver(emu, approve)
    components = [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 3, "label": "Approve", "custom_id": "cephalon:approve:s:r"},
                {"type": 2, "style": 4, "label": "Deny", "custom_id": "cephalon:deny:s:r"},
            ],
        }
    ]
    m, _ = emu.world.create_message(
        lobby.id, emu.bot.id, {"content": "Run rm -rf build/?", "components": components}
    )
    assert [b.label for b in emu.transcript(lobby.id)[0].buttons] == ["Approve", "Deny"]
    await emu.click_button(m, "cephalon:approve:s:r", alice)
    entry = emu.transcript(lobby.id)[0]
    assert entry.content == "Approved by alice" and entry.buttons == [] and entry.edited
