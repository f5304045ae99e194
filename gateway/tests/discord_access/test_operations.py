"""Operations around sessions: quotas and Discord's channel caps, PostMessage,
follow-ups after the interaction token expired, and what survives a restart."""

from __future__ import annotations

import asyncio

from cephalon_contracts import PostMessage, encode_envelope, envelope, to_urn

from .conftest import World, eventually


async def click_start(world: World) -> str:
    """Click Start Chat as the owner; returns the ephemeral answer."""
    emu = world.emu
    start = await emu.wait_for_message(
        world.lobby.id, lambda m: any("cephalon:start" in str(c) for c in m.components)
    )
    interaction = await emu.click_button(start, "cephalon:start", world.owner)
    await eventually(
        lambda: (
            bool(interaction.original_message_id)
            and "…" not in emu.world.messages[interaction.original_message_id or 0].content
            and bool(emu.world.messages[interaction.original_message_id or 0].content)
        )
    )
    return emu.world.messages[interaction.original_message_id or 0].content


async def test_quota_per_user_refuses_clearly(world: World) -> None:
    await world.setup_cluster(sessions={"maxPerUser": 1})
    await world.start_gateway(start_debounce_seconds=0.05)
    assert "Your session is open" in await click_start(world)
    await asyncio.sleep(0.1)
    answer = await click_start(world)
    assert "already have 1 open session" in answer
    assert len(await world.session_objects()) == 1


async def test_category_cap_archives_ended_sessions_then_refuses(world: World) -> None:
    await world.setup_cluster(sessions={"maxPerUser": 10})
    gateway = await world.start_gateway(
        start_debounce_seconds=0.05, category_channel_limit=3, channel_cap_margin=1
    )
    assert "open" in await click_start(world)
    await asyncio.sleep(0.1)
    assert "open" in await click_start(world)
    await asyncio.sleep(0.1)
    refused = await click_start(world)
    assert "close to Discord's channel limit" in refused
    assert len(await world.session_objects()) == 2
    # One session ends: its channel is archived to make room for a new one.
    first = sorted(await world.session_objects(), key=lambda o: o["metadata"]["name"])[0]
    await world.set_phase(first["metadata"]["name"], "Ended")
    sessions = gateway.service.ctx.sessions  # type: ignore[union-attr]
    await eventually(lambda: sessions.get(first["metadata"]["name"]).phase.value == "Ended")  # type: ignore[union-attr]
    await asyncio.sleep(0.1)
    assert "open" in await click_start(world)
    assert int(first["spec"]["conversation"]["channel"]) not in world.emu.world.channels


async def test_post_message_is_executed_once_and_foreign_channels_refused(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    text = "report: " + "x" * 2500
    command = envelope(
        PostMessage(channel=to_urn("discord", "duck", "channel", record.channel_id), content=text),
        provider="discord",
        tenant="duck",
        idempotency_key="report-1",
    )
    raw = encode_envelope(command)
    await world.admin.xadd(world.space.social_post, {"envelope": raw})
    await world.admin.xadd(world.space.social_post, {"envelope": raw})  # a duplicate
    foreign = envelope(
        PostMessage(
            channel=to_urn("discord", "duck", "channel", str(world.lobby.id)) + "0", content="hi"
        ),
        provider="discord",
        tenant="duck",
    )
    await world.admin.xadd(world.space.social_post, {"envelope": encode_envelope(foreign)})
    await eventually(lambda: world.admin.xlen(world.space.gateway("deadletter")))
    await asyncio.sleep(0.3)
    posted = [
        m.content
        for m in world.emu.messages(channel)
        if m.content.startswith("report") or m.content.startswith("x")
    ]
    assert "".join(posted) == text and len(posted) == 2


async def test_expired_token_falls_back_to_a_bot_message(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway(interaction_token_seconds=0)
    record = await world.start_session()
    channel = int(record.channel_id)
    await world.emu.run_command(channel, world.owner, "status")
    message = await world.emu.wait_for_message(
        channel, lambda m: "longer than Discord lets us answer" in m.content
    )
    assert "Ready" in message.content


async def test_restart_reuses_start_message_and_skips_unchanged_commands(world: World) -> None:
    await world.setup_cluster()
    first = await world.start_gateway("gw-a")
    await world.stop_gateway(first)
    await world.start_gateway("gw-b")
    starts = [m for m in world.emu.messages(world.lobby.id) if m.components]
    assert len(starts) == 1
    assert len(world.emu.requests_for("bulk_overwrite_commands")) == 1
