"""discord.py connects through the emulator's gateway: READY, GUILD_CREATE, events,
intents, and RESUME with replay after a dropped socket."""

from __future__ import annotations

import asyncio

import discord

from cephalon_devkit.discord import DiscordEmulator


async def test_ready_brings_guilds_channels_and_members(emu: DiscordEmulator, connect_bot):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "Lobby Room")
    bot = await connect_bot(emu)
    assert bot.user is not None and bot.user.id == emu.bot.id
    g = bot.get_guild(guild.id)
    assert g is not None and g.name == "duck"
    assert g.get_channel(lobby.id).name == "lobby-room"  # Discord normalises text names
    assert g.me.guild_permissions.manage_channels
    assert emu.gateway.connect_paths[0] == "/gateway"
    assert emu.requests_for("get_current_user")[0].status == 200
    assert bot.application_id == emu.application_id
    del alice


async def test_message_create_reaches_the_bot_with_content(emu: DiscordEmulator, connect_bot):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu)
    got: asyncio.Future[discord.Message] = asyncio.get_running_loop().create_future()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if not got.done():
            got.set_result(message)

    emu.post_message(lobby.id, alice, "hello bot", files=[("notes.txt", b"abc", "text/plain")])
    message = await asyncio.wait_for(got, 5)
    assert message.content == "hello bot"
    assert message.author.id == alice.id
    assert message.channel.id == lobby.id
    assert message.attachments[0].filename == "notes.txt"
    assert await message.attachments[0].read() == b"abc"


async def test_without_message_content_intent_content_is_empty(emu: DiscordEmulator, connect_bot):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu, intents=discord.Intents.default())
    got: asyncio.Future[discord.Message] = asyncio.get_running_loop().create_future()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        got.set_result(message)

    emu.post_message(lobby.id, alice, "secret words")
    assert (await asyncio.wait_for(got, 5)).content == ""


async def test_send_and_edit_show_in_the_transcript(emu: DiscordEmulator, connect_bot):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu)
    channel = bot.get_channel(lobby.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("working…", embed=discord.Embed(title="Plan", description="1. x"))
    await sent.edit(content="done")
    entries = emu.transcript(lobby.id)
    assert [e.content for e in entries] == ["done"]
    assert entries[0].edited and entries[0].embeds[0]["title"] == "Plan"
    assert "done" in emu.render_transcript(lobby.id)
    fetched = await channel.fetch_message(sent.id)
    assert fetched.content == "done"


async def test_channel_events_reach_the_bot(emu: DiscordEmulator, connect_bot):
    guild = emu.create_guild("duck")
    bot = await connect_bot(emu)
    created = asyncio.get_running_loop().create_future()

    @bot.event
    async def on_guild_channel_create(channel: discord.abc.GuildChannel) -> None:
        created.set_result(channel)

    c = emu.create_channel(guild.id, "later")
    assert (await asyncio.wait_for(created, 5)).id == c.id


async def test_resume_after_a_dropped_socket_replays_missed_events(
    emu: DiscordEmulator, connect_bot
):
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    bot = await connect_bot(emu)
    seen: list[str] = []
    resumed = asyncio.Event()

    @bot.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    @bot.event
    async def on_resumed() -> None:
        resumed.set()

    session = emu.gateway_sessions[0]
    assert await emu.drop_gateway_connections() == 1
    # Posted while the bot is away: buffered, then replayed on RESUME.
    emu.post_message(lobby.id, alice, "while you were away")
    await asyncio.wait_for(resumed.wait(), 10)
    await emu.wait_for(lambda: "while you were away" in seen, timeout=5)
    assert emu.gateway.connect_paths == ["/gateway", "/resume-gateway"]
    assert session.resumes == 1
    assert any(d.replayed and d.event == "MESSAGE_CREATE" for d in emu.dispatches)
    emu.post_message(lobby.id, alice, "after")
    await emu.wait_for(lambda: "after" in seen, timeout=5)
    assert seen == ["while you were away", "after"]


async def test_wrong_token_is_refused(emu: DiscordEmulator, point_discord_py):
    point_discord_py(emu)
    client = discord.Client(intents=discord.Intents.default())
    try:
        try:
            await client.login("fake-wrong-token")
        except discord.LoginFailure:
            pass
        else:
            raise AssertionError("login should fail")
    finally:
        await client.close()
    assert emu.requests_for("get_current_user")[0].status == 401
    assert emu.invalid_request_count == 1


async def test_second_identify_within_the_window_gets_invalid_session(
    make_discord_emulator, connect_bot
):
    from .conftest import fast_limits

    emu = await make_discord_emulator(limits=fast_limits(identify_window=0.3))
    emu.create_guild("duck")
    # Two replicas starting together: the second IDENTIFY inside max_concurrency's
    # window gets op 9; discord.py identifies again and both end up READY.
    a, b = await asyncio.gather(connect_bot(emu), connect_bot(emu))
    assert a.is_ready() and b.is_ready()
    assert emu.gateway.identify_refusals >= 1
    assert emu.gateway.session_starts == 2


async def test_gateway_send_limit_closes_with_4008(make_discord_emulator):
    import json

    import aiohttp

    from .conftest import fast_limits

    emu = await make_discord_emulator(limits=fast_limits(gateway_send_limit=3))
    async with aiohttp.ClientSession() as s, s.ws_connect(emu.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        for _ in range(4):
            await ws.send_str(json.dumps({"op": 1, "d": None}))
        frames = [msg async for msg in ws]
        assert [json.loads(m.data)["op"] for m in frames] == [11, 11, 11]
        assert ws.close_code == 4008


async def test_cdn_links_are_signed_and_expire(make_discord_emulator):
    import aiohttp

    from .conftest import fast_limits

    emu = await make_discord_emulator(limits=fast_limits(attachment_url_ttl=1.0))
    guild = emu.create_guild("duck")
    alice = emu.create_member(guild.id, "alice")
    lobby = emu.create_channel(guild.id, "lobby")
    m = emu.post_message(lobby.id, alice, "", files=[("my notes.txt", b"hi", "text/plain")])
    from cephalon_devkit.discord.payloads import attachment_payload

    url = attachment_payload(emu.world, m.attachments[0])["url"]
    assert "?ex=" in url and "&hm=" in url and "my%20notes.txt" in url
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            assert r.status == 200 and await r.read() == b"hi"
            assert r.content_type == "text/plain"
        async with s.get(url.replace("hm=", "hm=0")) as r:
            assert r.status == 404
        await asyncio.sleep(1.1)
        async with s.get(url) as r:
            assert r.status == 404


async def test_missing_heartbeats_close_with_4009_and_discord_py_keeps_up(
    make_discord_emulator, connect_bot
):
    import aiohttp

    from .conftest import fast_limits

    emu = await make_discord_emulator(limits=fast_limits(heartbeat_interval=0.2))
    emu.create_guild("duck")
    async with aiohttp.ClientSession() as s, s.ws_connect(emu.gateway_url) as ws:
        assert (await ws.receive_json())["op"] == 10
        assert [m async for m in ws] == []  # silent client: closed, no frames
        assert ws.close_code == 4009
    await connect_bot(emu)  # discord.py heartbeats every 0.2 s and stays connected
    await asyncio.sleep(0.8)
    assert len(emu.gateway.connected_sessions) == 1
    assert emu.gateway.close_codes == [4009]


async def test_malformed_bodies_are_400_not_500(emu: DiscordEmulator):
    import aiohttp

    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    headers = {"Authorization": f"Bot {emu.bot_token}"}
    async with aiohttp.ClientSession(headers=headers) as s:
        url = f"{emu.api_base}/channels/{lobby.id}/messages"
        async with s.post(url, json=["not", "an", "object"]) as r:
            assert (r.status, (await r.json())["code"]) == (400, 50035)
        async with s.get(url + "?limit=lots") as r:
            assert r.status == 400
        async with s.post(
            url, data=b"{not json", headers={"Content-Type": "application/json"}
        ) as r:
            assert (r.status, (await r.json())["code"]) == (400, 50109)


async def test_the_transcript_shows_multi_line_embed_fields_and_footers(emu: DiscordEmulator):
    guild = emu.create_guild("duck")
    lobby = emu.create_channel(guild.id, "lobby")
    ada = emu.create_member(guild.id, "ada")
    embed = {
        "title": "Approval needed",
        "fields": [{"name": "Arguments", "value": "one\ntwo"}],
        "footer": {"text": "Approved by ada"},
    }
    emu.post_message(lobby.id, ada, "", embeds=[embed])
    text = emu.render_transcript(lobby.id)
    assert "    Arguments: one\n      two\n    — Approved by ada" in text
