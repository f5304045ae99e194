"""Signed interactions to a local receiver: the signature verifies with the public
key the emulator exposes; deadlines, double ACKs and expired tokens fail as on
Discord; discord.py's webhook client does the follow-ups."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
import pytest
from aiohttp import web

from cephalon_devkit.discord import DiscordEmulator
from cephalon_devkit.discord.errors import (
    ALREADY_ACKNOWLEDGED,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_INTERACTION,
)

from .conftest import defer, fast_limits, start_chat_message


@pytest.fixture
def world(emu: DiscordEmulator) -> tuple[Any, Any, Any]:
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    return guild, alice, lobby


async def callback(
    emu: DiscordEmulator, interaction_id: int, token: str, body: dict[str, Any]
) -> tuple[int, Any]:
    url = f"{emu.api_base}/interactions/{interaction_id}/{token}/callback"
    async with aiohttp.ClientSession() as s, s.post(url, json=body) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else None)


async def test_click_is_signed_deferred_and_followed_up_through_discord_py(
    emu: DiscordEmulator, world, make_receiver, point_discord_py
):
    _, alice, lobby = world
    receiver = await make_receiver(emu, defer)
    assert await emu.verify_endpoint()  # PONG to a good PING, 401 to a forged one
    assert receiver.rejected == 1
    message = start_chat_message(emu, lobby.id)

    i = await emu.click_button(message, "cephalon:start", alice)
    assert i.acknowledged and i.response_type == 5 and i.responded_via == "http"
    sent = receiver.received[-1]
    assert sent["data"]["custom_id"] == "cephalon:start"
    assert sent["member"]["user"]["id"] == str(alice.id)
    assert sent["message"]["id"] == str(message.id)
    assert emu.transcript(lobby.id)[-1].loading

    point_discord_py(emu)
    async with aiohttp.ClientSession() as session:
        hook = discord.Webhook.partial(emu.application_id, i.token, session=session)
        first = await hook.send("Channel #alice-1 is ready", wait=True)
        second = await hook.send("one more", wait=True)
        await hook.edit_message(first.id, content="Channel #alice-1 is ready!")
    entries = emu.transcript(lobby.id)
    # The first follow-up replaces the "thinking" message; the next is a new one.
    assert [e.content for e in entries[1:]] == ["Channel #alice-1 is ready!", "one more"]
    assert not entries[1].loading
    assert second.id == entries[2].message_id


async def test_late_initial_response_fails_with_unknown_interaction(
    emu: DiscordEmulator, world, make_receiver
):
    _, alice, lobby = world

    async def slow(payload: dict[str, Any]) -> web.StreamResponse:
        await asyncio.sleep(emu.limits.interaction_deadline + 0.2)
        return web.json_response({"type": 5})

    await make_receiver(emu, slow)
    i = await emu.click_button(start_chat_message(emu, lobby.id), "cephalon:start", alice)
    assert i.late_response and not i.acknowledged
    status, body = await callback(emu, i.id, i.token, {"type": 5})
    assert (status, body["code"]) == (404, UNKNOWN_INTERACTION)


async def test_callback_in_time_works_once_then_40060(emu: DiscordEmulator, world, make_receiver):
    _, alice, lobby = world

    async def accept_later(payload: dict[str, Any]) -> web.StreamResponse:
        return web.Response(status=202)

    await make_receiver(emu, accept_later)
    i = await emu.click_button(start_chat_message(emu, lobby.id), "cephalon:start", alice)
    assert not i.acknowledged
    assert (await callback(emu, i.id, i.token, {"type": 6}))[0] == 204
    status, body = await callback(emu, i.id, i.token, {"type": 5})
    assert (status, body["code"]) == (400, ALREADY_ACKNOWLEDGED)
    assert i.responded_via == "callback" and i.response_type == 6


async def test_double_ack_after_http_answer_is_40060(emu: DiscordEmulator, world, make_receiver):
    _, alice, lobby = world
    await make_receiver(emu, defer)
    i = await emu.click_button(start_chat_message(emu, lobby.id), "cephalon:start", alice)
    status, body = await callback(emu, i.id, i.token, {"type": 4, "data": {"content": "x"}})
    assert (status, body["code"]) == (400, ALREADY_ACKNOWLEDGED)


async def test_follow_up_after_token_expiry_is_50027(make_discord_emulator, make_receiver):
    emu = await make_discord_emulator(
        limits=fast_limits(interaction_deadline=0.3, interaction_token_ttl=0.6)
    )
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    await make_receiver(emu, defer)
    i = await emu.click_button(start_chat_message(emu, lobby.id), "cephalon:start", alice)
    url = f"{emu.api_base}/webhooks/{emu.application_id}/{i.token}?wait=true"
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json={"content": "in time"}) as r:
            assert r.status == 200
        await asyncio.sleep(0.7)
        async with s.post(url, json={"content": "too late"}) as r:
            body = await r.json()
            assert (r.status, body["code"]) == (401, INVALID_WEBHOOK_TOKEN)
    assert emu.invalid_request_count == 1  # a 401 counts


async def test_slash_command_with_attachment_option(emu: DiscordEmulator, world, make_receiver):
    guild, alice, lobby = world

    async def reply(payload: dict[str, Any]) -> web.StreamResponse:
        return web.json_response({"type": 4, "data": {"content": "got it", "flags": 64}})

    receiver = await make_receiver(emu, reply)
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    commands = [
        {
            "name": "ask",
            "description": "Ask the agent",
            "options": [
                {"name": "prompt", "description": "what", "type": 3, "required": True},
                {"name": "file", "description": "a file", "type": 11},
            ],
        }
    ]
    url = f"{emu.api_base}/applications/{emu.application_id}/guilds/{guild.id}/commands"
    async with aiohttp.ClientSession() as s:
        async with s.put(url, json=commands, headers=headers) as r:
            assert r.status == 200
            assert (await r.json())[0]["name"] == "ask"
        i = await emu.run_command(
            lobby.id,
            alice,
            "ask",
            {"prompt": "hi"},
            files={"file": ("notes.md", b"# notes", "text/markdown")},
        )
        data = receiver.received[-1]["data"]
        assert data["options"][0] == {"name": "prompt", "type": 3, "value": "hi"}
        attachment = data["resolved"]["attachments"][data["options"][1]["value"]]
        async with s.get(attachment["url"]) as r:
            assert await r.read() == b"# notes"
    assert i.acknowledged and i.response_type == 4
    last = emu.transcript(lobby.id)[-1]
    assert last.content == "got it" and last.visible_to == alice.id
    assert emu.messages(lobby.id) == []  # ephemeral: not in the public channel


async def test_forged_signature_is_rejected_by_a_verifying_endpoint(
    emu: DiscordEmulator, make_receiver
):
    receiver = await make_receiver(emu, defer)
    body = b'{"type":1}'
    headers = emu.interactions.signed_headers(body)
    status, _ = await emu.interactions.post_raw(body + b" ", headers)  # body changed
    assert status == 401 and receiver.rejected == 1


async def test_redelivery_and_replay(emu: DiscordEmulator, world, make_receiver):
    _, alice, lobby = world

    async def update(payload: dict[str, Any]) -> web.StreamResponse:
        return web.json_response({"type": 6})

    receiver = await make_receiver(emu, update)
    i = await emu.click_button(start_chat_message(emu, lobby.id), "cephalon:start", alice)
    assert i.sent_headers["X-Signature-Ed25519"] == emu.interactions.sign(
        i.sent_headers["X-Signature-Timestamp"], i.sent_body
    )
    # A replay of the captured request still verifies (the signature covers only the
    # timestamp and body): rejecting it is the endpoint's job (timestamp window, dedupe).
    assert (await emu.redeliver(i, resign=False))[0] == 200
    assert (await emu.redeliver(i))[0] == 200  # Discord-style duplicate delivery
    assert receiver.received[0] == receiver.received[1] == receiver.received[2]
    assert i.response_type == 6  # answers to redeliveries are not applied


async def test_command_options_resolve_and_permissions_apply(
    emu: DiscordEmulator, world, make_receiver
):
    from cephalon_devkit.discord import DiscordEmulatorError, permissions

    guild, alice, lobby = world
    bob = emu.create_member(guild.id, "bob")
    receiver = await make_receiver(emu, defer)
    emu.world.bulk_overwrite_commands(
        guild.id,
        [
            {
                "name": "share",
                "description": "Share the session",
                "options": [{"name": "with", "description": "who", "type": 6, "required": True}],
            },
            {
                "name": "admin",
                "description": "Operators only",
                "default_member_permissions": str(permissions.MANAGE_GUILD),
            },
        ],
    )
    await emu.run_command(lobby.id, alice, "share", {"with": bob})
    data = receiver.received[-1]["data"]
    assert data["options"] == [{"name": "with", "type": 6, "value": str(bob.id)}]
    assert data["resolved"]["users"][str(bob.id)]["username"] == "bob"
    assert set(data["resolved"]["members"][str(bob.id)]) >= {"roles", "permissions"}
    with pytest.raises(DiscordEmulatorError, match="missing required"):
        await emu.run_command(lobby.id, alice, "share")
    with pytest.raises(DiscordEmulatorError, match="may not use"):
        await emu.run_command(lobby.id, alice, "admin")
    owner = emu.world.users[guild.owner_id]
    assert (await emu.run_command(lobby.id, owner, "admin")).acknowledged


async def test_modal_opened_and_submitted(emu: DiscordEmulator, world, make_receiver):
    _, alice, lobby = world

    async def answer(payload: dict[str, Any]) -> web.StreamResponse:
        if payload["type"] == 3:
            return web.json_response(
                {
                    "type": 9,
                    "data": {
                        "custom_id": "cephalon:ask-modal",
                        "title": "Ask",
                        "components": [
                            {
                                "type": 1,
                                "components": [
                                    {
                                        "type": 4,
                                        "custom_id": "prompt",
                                        "label": "Prompt",
                                        "style": 2,
                                    }
                                ],
                            }
                        ],
                    },
                }
            )
        return web.json_response({"type": 4, "data": {"content": "queued", "flags": 64}})

    receiver = await make_receiver(emu, answer)
    opened = await emu.click_button(start_chat_message(emu, lobby.id), "cephalon:start", alice)
    assert opened.response_type == 9
    submitted = await emu.submit_modal(opened, {"prompt": "fix the build"})
    data = receiver.received[-1]["data"]
    assert receiver.received[-1]["type"] == 5
    assert data["custom_id"] == "cephalon:ask-modal"
    assert data["components"][0]["components"][0] == {
        "type": 4,
        "custom_id": "prompt",
        "value": "fix the build",
    }
    assert submitted.acknowledged and emu.transcript(lobby.id)[-1].content == "queued"
