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
