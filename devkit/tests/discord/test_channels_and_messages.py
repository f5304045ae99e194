"""More of what the gateway does through discord.py: typing, reactions, deletes,
renames under Discord's 2-per-10-minutes limit, command sync, session invalidation."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from cephalon_devkit.discord import BucketRule, DiscordEmulator
from cephalon_devkit.discord.errors import MAX_DAILY_COMMAND_CREATES

from .conftest import fast_limits


async def test_typing_reactions_and_delete(emu: DiscordEmulator, connect_bot):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu)
    reacted: asyncio.Future[discord.RawReactionActionEvent] = (
        asyncio.get_running_loop().create_future()
    )

    @bot.event
    async def on_raw_reaction_add(event: discord.RawReactionActionEvent) -> None:
        if event.user_id == alice.id:
            reacted.set_result(event)

    channel = bot.get_channel(lobby.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.typing()
    assert lobby.id in emu.world.typing
    message = await channel.send("queued")
    await message.add_reaction("⏳")
    emu.react(message.id, "👍", alice)
    event = await asyncio.wait_for(reacted, 5)
    assert event.emoji.name == "👍" and event.message_id == message.id
    assert emu.transcript(lobby.id)[0].reactions == {"⏳": 1, "👍": 1}
    await message.delete()
    assert emu.transcript(lobby.id) == []


async def test_channel_renames_are_limited_to_two_per_window(make_discord_emulator, connect_bot):
    emu = await make_discord_emulator(limits=fast_limits(channel_rename_window=0.5))
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "alice-1")
    bot = await connect_bot(emu)
    channel = bot.get_channel(lobby.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.edit(name="alice-1-idle")
    await channel.edit(name="alice-1-archived")
    await channel.edit(name="alice-1-again")  # discord.py waits out the 429
    limited = [r for r in emu.requests_for("edit_channel") if r.status == 429]
    assert len(limited) == 1
    assert emu.world.channels[lobby.id].name == "alice-1-again"


async def test_command_sync_versions_and_daily_create_limit(make_discord_emulator):
    emu = await make_discord_emulator(limits=fast_limits(command_creates_per_day=3))
    guild = emu.create_guild("duck")
    url = f"{emu.api_base}/applications/{emu.application_id}/guilds/{guild.id}/commands"
    headers = {"Authorization": f"Bot {emu.bot_token}"}

    def cmd(name: str, description: str = "d") -> dict[str, object]:
        return {"name": name, "description": description}

    async with aiohttp.ClientSession(headers=headers) as s:
        async with s.put(url, json=[cmd("ask"), cmd("end")]) as r:
            first = {c["name"]: c for c in await r.json()}
        async with s.put(url, json=[cmd("ask"), cmd("end")]) as r:
            same = {c["name"]: c for c in await r.json()}
        assert same["ask"]["version"] == first["ask"]["version"]  # unchanged: same version
        assert same["ask"]["id"] == first["ask"]["id"]
        async with s.put(url, json=[cmd("ask", "changed"), cmd("end")]) as r:
            changed = {c["name"]: c for c in await r.json()}
        assert changed["ask"]["version"] != first["ask"]["version"]
        async with s.post(url, json=cmd("status")) as r:
            assert r.status == 201
        async with s.post(url, json=cmd("cancel")) as r:
            body = await r.json()
            assert r.status == 429 and body["code"] == MAX_DAILY_COMMAND_CREATES
            assert r.headers["Via"] == "1.1 google" and body["retry_after"] > 0
        async with s.get(url) as r:
            assert sorted(c["name"] for c in await r.json()) == ["ask", "end", "status"]
        bad = {"name": "Bad Name", "description": "x"}
        async with s.post(url, json=bad) as r:
            assert (r.status, (await r.json())["code"]) == (400, 50035)


async def test_invalid_session_makes_discord_py_identify_again(emu: DiscordEmulator, connect_bot):
    emu.create_guild("duck")
    bot = await connect_bot(emu)
    first = emu.gateway_sessions[0].id
    ready_again = asyncio.Event()

    @bot.event
    async def on_ready() -> None:
        ready_again.set()

    await emu.gateway.invalidate_sessions(resumable=False)
    await asyncio.wait_for(ready_again.wait(), 10)
    assert [s.id for s in emu.gateway_sessions] != [first]
    assert emu.gateway.connect_paths[-1] == "/gateway"  # a new session starts afresh


async def test_unanswered_interaction_is_marked_failed(make_discord_emulator, make_receiver):
    from aiohttp import web

    from .conftest import start_chat_message

    emu = await make_discord_emulator(limits=fast_limits(interaction_deadline=0.2))
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")

    async def ignore(payload: dict[str, object]) -> web.StreamResponse:
        return web.Response(status=202)

    await make_receiver(emu, ignore)
    i = await emu.click_button(start_chat_message(emu, lobby.id), "cephalon:start", alice)
    assert not i.failed
    await asyncio.sleep(0.25)
    assert i.failed


async def test_buckets_are_per_channel(make_discord_emulator):
    emu = await make_discord_emulator(
        limits=fast_limits(buckets={"create_message": BucketRule(1, 10.0)})
    )
    guild = emu.create_guild("duck")
    a = emu.create_channel(guild.id, "a")
    b = emu.create_channel(guild.id, "b")
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as s:
        statuses = []
        for cid in (a.id, b.id, a.id):
            async with s.post(
                f"{emu.api_base}/channels/{cid}/messages", json={"content": "x"}
            ) as r:
                statuses.append(r.status)
    assert statuses == [200, 200, 429]


async def test_pins_and_edit_times(emu: DiscordEmulator, connect_bot):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu)
    channel = bot.get_channel(lobby.id)
    assert isinstance(channel, discord.TextChannel)
    start = await channel.send("Start Chat here")
    await start.pin()
    pins = [m async for m in channel.pins()]
    assert [m.id for m in pins] == [start.id] and pins[0].pinned
    answer = await channel.send("partial")
    await answer.edit(content="partial answer")
    await answer.edit(content="partial answer, complete")
    record = emu.world.messages[answer.id]
    assert len(record.edit_times) == 2 and record.edit_times[0] >= record.created_at
    assert record.revisions == ["partial", "partial answer"]


async def test_many_concurrent_interactions_are_all_delivered(make_discord_emulator, make_receiver):
    from .conftest import defer, fast_limits, start_chat_message

    # Discord's own 3 s deadline: this is about delivery, and 100 signed interactions
    # at once can take longer than the suite's short test deadline on two busy cores.
    emu = await make_discord_emulator(limits=fast_limits(interaction_deadline=3.0))
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    users = [emu.create_member(guild.id, f"u{i}") for i in range(100)]
    receiver = await make_receiver(emu, defer)
    message = start_chat_message(emu, lobby.id)
    done = await asyncio.gather(*(emu.click_button(message, "cephalon:start", u) for u in users))
    assert all(i.acknowledged for i in done) and len(receiver.received) == 100
    assert len({i.id for i in done}) == 100


async def test_user_edits_and_deletes_reach_the_bot_and_reasons_are_recorded(
    emu: DiscordEmulator, connect_bot
):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu)
    edited: asyncio.Future[discord.RawMessageUpdateEvent] = (
        asyncio.get_running_loop().create_future()
    )
    deleted: asyncio.Future[discord.RawMessageDeleteEvent] = (
        asyncio.get_running_loop().create_future()
    )

    @bot.event
    async def on_raw_message_edit(event: discord.RawMessageUpdateEvent) -> None:
        edited.set_result(event)

    @bot.event
    async def on_raw_message_delete(event: discord.RawMessageDeleteEvent) -> None:
        deleted.set_result(event)

    m = emu.post_message(lobby.id, alice, "typo")
    emu.edit_message(m, alice, "fixed")
    assert (await asyncio.wait_for(edited, 5)).data["content"] == "fixed"
    emu.delete_message(m, alice)
    assert (await asyncio.wait_for(deleted, 5)).message_id == m.id
    g = bot.get_guild(guild.id)
    assert g is not None
    await g.create_text_channel("ada-1f2e", reason="Start Chat by ada (session s-1)")
    assert emu.requests_for("create_guild_channel")[0].audit_log_reason == (
        "Start Chat by ada (session s-1)"
    )


async def test_category_sync_and_archive_move(emu: DiscordEmulator, connect_bot):
    from cephalon_devkit.discord import permissions

    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    hidden = [
        {"id": str(guild.id), "type": 0, "deny": str(permissions.VIEW_CHANNEL)},
        {"id": str(emu.bot.id), "type": 1, "allow": str(permissions.VIEW_CHANNEL)},
    ]
    sessions = emu.create_category(guild.id, "sessions")
    archive = emu.create_channel(guild.id, "archive", type=4, overwrites=hidden)
    bot = await connect_bot(emu)
    g = bot.get_guild(guild.id)
    assert g is not None
    category = g.get_channel(sessions.id)
    assert isinstance(category, discord.CategoryChannel)
    channel = await g.create_text_channel("alice-1", category=category)
    assert emu.world.can_view(channel.id, alice.id)  # synced with an open category
    archived = g.get_channel(archive.id)
    assert isinstance(archived, discord.CategoryChannel)
    await channel.move(category=archived, sync_permissions=True, beginning=True)
    assert emu.world.channels[channel.id].parent_id == archive.id
    assert not emu.world.can_view(channel.id, alice.id)  # now synced with the archive
    assert emu.requests_for("edit_channel_positions")[0].body[0]["lock_permissions"]


async def test_slow_and_dropped_requests(emu: DiscordEmulator):
    import time

    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    url = f"{emu.api_base}/channels/{lobby.id}/messages"
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    emu.inject_latency("create_message", 0.3, times=1)
    emu.inject_disconnect("create_message")
    async with aiohttp.ClientSession(headers=headers) as s:
        started = time.monotonic()
        async with s.post(url, json={"content": "slow"}) as r:
            assert r.status == 200
        assert time.monotonic() - started >= 0.3
        try:
            async with s.post(url, json={"content": "dropped"}) as r:
                raise AssertionError(f"expected a disconnect, got {r.status}")
        except aiohttp.ServerDisconnectedError:
            pass
        async with s.post(url, json={"content": "after"}) as r:
            assert r.status == 200
    assert [m.content for m in emu.messages(lobby.id)] == ["slow", "after"]
    assert [(r.status, r.fault) for r in emu.requests_for("create_message")] == [
        (200, "delay"),
        (499, "disconnect"),
        (200, None),
    ]


async def test_a_reply_by_message_id_alone_comes_back_with_the_reference_completed(
    emu: DiscordEmulator, connect_bot
):
    """discord.py needs channel_id in a reply's message_reference, as Discord returns it."""
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu)
    channel = bot.get_channel(lobby.id)
    assert isinstance(channel, discord.TextChannel)
    question = await channel.send("question")
    reply = await channel.send(
        "answer", reference=discord.MessageReference(message_id=question.id, channel_id=lobby.id)
    )
    assert reply.reference is not None and reply.reference.message_id == question.id
    stored = emu.world.messages[reply.id].message_reference
    assert stored is not None
    assert stored["channel_id"] == str(lobby.id) and stored["guild_id"] == str(guild.id)
    raw = await bot.http.request(
        discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=lobby.id),
        json={"content": "bare", "message_reference": {"message_id": str(question.id)}},
    )
    assert raw["message_reference"]["channel_id"] == str(lobby.id)
