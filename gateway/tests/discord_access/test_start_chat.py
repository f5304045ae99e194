"""Start Chat end to end: the real gateway (FastAPI + discord.py) against the Discord
emulator, the Kubernetes API emulator and a real Redis."""

from __future__ import annotations

import asyncio

from .conftest import World, eventually


async def test_start_chat_opens_one_private_channel_and_session(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    emu = world.emu
    start = await emu.wait_for_message(
        world.lobby.id, lambda m: any("cephalon:start" in str(c) for c in m.components)
    )
    interaction = await emu.click_button(start, "cephalon:start", world.owner)
    assert interaction.deferred, interaction
    # A second quick click and a redelivery of the first: still one session.
    await emu.click_button(start, "cephalon:start", world.owner)
    await emu.interactions.deliver(interaction)
    await asyncio.sleep(1.0)
    sessions = await world.session_objects()
    assert len(sessions) == 1, sessions
    session = sessions[0]
    assert session["metadata"]["name"] == f"s-{interaction.id}"
    channel_id = int(session["spec"]["conversation"]["channel"])
    channel = emu.world.channels[channel_id]
    assert channel.parent_id == world.category.id
    assert emu.world.can_view(channel_id, world.owner.id)
    assert not emu.world.can_view(channel_id, world.other.id)
    welcome = await emu.wait_for_message(channel_id, lambda m: "Status:" in m.content)
    await world.set_phase(session["metadata"]["name"], "Provisioning")
    await eventually(lambda: "provisioning" in emu.world.messages[welcome.id].content)
    await world.set_phase(session["metadata"]["name"], "Ready")
    await eventually(
        lambda: any("is ready" in m.content for m in emu.messages(channel_id)), timeout=5
    )
    assert "ready" in emu.world.messages[welcome.id].content


async def test_start_chat_right_after_a_session_ended_opens_a_new_one(world: World) -> None:
    """The double-click guard must not outlive the session it guarded: a user who ends
    a session and clicks Start Chat again at once gets a new session, not "already
    being opened" pointing at the ended one."""
    await world.setup_cluster()
    await world.start_gateway()
    emu = world.emu
    start = await emu.wait_for_message(
        world.lobby.id, lambda m: any("cephalon:start" in str(c) for c in m.components)
    )
    await emu.click_button(start, "cephalon:start", world.owner)
    await eventually(lambda: _count(world, 1))
    first = (await world.session_objects())[0]["metadata"]["name"]
    await world.set_phase(first, "Ended")
    await eventually(lambda: _phase_seen(world, first, "Ended"))

    await emu.click_button(start, "cephalon:start", world.owner)
    await eventually(lambda: _count(world, 2))
    # ...and a quick second click still only reuses the session just opened.
    await emu.click_button(start, "cephalon:start", world.owner)
    await asyncio.sleep(1.0)
    assert len(await world.session_objects()) == 2


async def _count(world: World, n: int) -> bool:
    return len(await world.session_objects()) == n


def _phase_seen(world: World, name: str, phase: str) -> bool:
    record = world.gateways[0].service.ctx.sessions.get(name) if world.gateways else None
    return record is not None and record.phase.value == phase
