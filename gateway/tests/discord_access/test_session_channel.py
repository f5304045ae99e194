"""A session channel: who may drive it, messages becoming turns, attachments, steering,
waking a suspended session, commands and /end."""

from __future__ import annotations

import json

from cephalon_contracts import decode_envelope

from .conftest import NAMESPACE, World, eventually


def ephemeral_reply(world: World, interaction: object) -> str:
    mid = getattr(interaction, "original_message_id", None)
    return world.emu.world.messages[mid].content if mid else ""


async def test_non_owner_is_refused_ephemerally(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    # bob sees the channel only because the server's owner lets him in.
    world.emu.world.put_overwrite(
        channel,
        world.guild.owner_id,
        world.other.id,
        {"type": 1, "allow": str((1 << 10) | (1 << 11) | (1 << 31)), "deny": "0"},
    )
    interaction = await world.emu.run_command(channel, world.other, "cancel")
    await eventually(lambda: "Only the owner" in ephemeral_reply(world, interaction))
    message = world.emu.world.messages[interaction.original_message_id or 0]
    assert message.visible_to == world.other.id
    assert await world.admin.xlen(world.space.control(record.name)) == 0
    # bob's messages are published as social messages but never become turns.
    world.emu.post_message(channel, world.other, "let me in")
    await eventually(lambda: world.admin.xlen(world.space.social_created), timeout=5)
    assert await world.turns(record.name) == []


async def test_owner_messages_become_turns_with_steer_and_wake(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    world.emu.post_message(channel, world.owner, "fix the bug")
    world.emu.post_message(channel, world.owner, "!stop, use the other file")
    await eventually(lambda: len_turns(world, record.name, 2))
    turns = await world.turns(record.name)
    assert [t["payload"]["text"] for t in turns] == ["fix the bug", "stop, use the other file"]
    assert [t["payload"]["mode"] for t in turns] == ["queue", "immediate"]
    assert turns[0]["payload"]["author"] == f"urn:cephalon:discord:duck:user:{world.owner.id}"
    social = await world.admin.xrange(world.space.social_created)
    assert decode_envelope(social[0][1]["envelope"]).payload.type == "social.message.created"
    # A turn for a suspended session stamps the wake annotation.
    await world.set_phase(record.name, "Suspended", suspendedAt="2026-01-01T00:00:00Z")
    gateway = world.gateways[-1].service
    await eventually(lambda: gateway.ctx.sessions.get(record.name).phase.value == "Suspended")  # type: ignore[union-attr]
    world.emu.post_message(channel, world.owner, "are you there?")
    await eventually(lambda: len_turns(world, record.name, 3))

    async def woken() -> bool:
        obj = await world.k.request(
            "GET", f"/apis/cephalon.dev/v1alpha1/namespaces/{NAMESPACE}/agentsessions/{record.name}"
        )
        return "cephalon.dev/wake" in (obj["metadata"].get("annotations") or {})

    await eventually(woken)


async def len_turns(world: World, session: str, n: int) -> bool:
    return await world.admin.xlen(world.space.turns(session)) >= n


async def test_attachments_refused_or_stored(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    emu = world.emu
    big = emu.post_message(
        channel, world.owner, "big", files=[("big.txt", b"x" * 5000, "text/plain")]
    )
    zip_ = emu.post_message(
        channel, world.owner, "zip", files=[("a.zip", b"PK", "application/zip")]
    )
    await eventually(
        lambda: sum("Nothing was sent" in m.content for m in emu.messages(channel)) == 2
    )
    replies = [m for m in emu.messages(channel) if "Nothing was sent" in m.content]
    assert {int(r.message_reference["message_id"]) for r in replies} == {big.id, zip_.id}  # type: ignore[index]
    assert "up to 1.0 KiB" in replies[0].content
    assert "application/zip" in replies[1].content
    assert await world.turns(record.name) == []
    # An accepted file is stored under the session's blob key and referenced by hash.
    emu.post_message(
        channel, world.owner, "read this", files=[("notes.txt", b"hello", "text/plain")]
    )
    await eventually(lambda: len_turns(world, record.name, 1))
    (turn,) = await world.turns(record.name)
    (ref,) = turn["payload"]["attachments"]
    assert ref["blob_key"].startswith(f"promethean.p.discord.t.duck.session.{record.name}.blob.")
    assert await world.admin.get(ref["blob_key"]) == "hello"
    assert 0 < await world.admin.ttl(ref["blob_key"]) <= 24 * 3600


async def test_commands_set_overrides_ask_and_end(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    emu = world.emu
    refused = await emu.run_command(channel, world.owner, "model", {"name": "gpt-3"})
    await eventually(lambda: "not allowed" in ephemeral_reply(world, refused))
    await emu.run_command(channel, world.owner, "model", {"name": "gpt-5"})
    await emu.run_command(channel, world.owner, "mcp", {"name": "git"})
    asked = await emu.run_command(
        channel,
        world.owner,
        "ask",
        {"text": "hi"},
        files={"file": ("a.txt", b"data", "text/plain")},
    )
    await eventually(lambda: "Sent to the agent" in ephemeral_reply(world, asked))
    (turn,) = await world.turns(record.name)
    overrides = {k: v for k, v in turn["payload"]["overrides"].items() if v is not None}
    assert overrides == {"model": "gpt-5", "mcp_servers": ["git"]}
    assert len(turn["payload"]["attachments"]) == 1
    await emu.run_command(channel, world.owner, "cancel")
    await eventually(lambda: world.admin.xlen(world.space.control(record.name)))
    ended = await emu.run_command(channel, world.owner, "end")
    await eventually(lambda: "Session ended" in ephemeral_reply(world, ended))
    obj = await world.k.request(
        "GET", f"/apis/cephalon.dev/v1alpha1/namespaces/{NAMESPACE}/agentsessions/{record.name}"
    )
    assert obj["spec"]["lifecycle"]["state"] == "Ended"
    summary = [m for m in emu.messages(channel) if "Turns:" in m.content]
    assert len(summary) == 1
    assert not emu.world.permissions_in(channel, world.owner.id) & (1 << 11)  # locked
    # The operator reporting Ended later does not post a second summary.
    await world.set_phase(record.name, "Ended")
    await eventually(
        lambda: world.gateways[-1].service.ctx.sessions.get(record.name).phase.value == "Ended"
    )  # type: ignore[union-attr]
    assert len([m for m in emu.messages(channel) if "Turns:" in m.content]) == 1
    # After the retention the channel is deleted (the janitor runs this periodically).
    lifecycle = world.gateways[-1].service.lifecycle
    assert await lifecycle.expire_channels(now=10**12) == [record.channel_id]
    assert channel not in emu.world.channels
    assert json.loads(json.dumps(obj))  # the object is plain JSON


async def test_deleting_the_channel_ends_the_session(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    world.emu.world.delete_channel(int(record.channel_id), world.guild.owner_id)

    async def ended() -> bool:
        obj = await world.k.request(
            "GET", f"/apis/cephalon.dev/v1alpha1/namespaces/{NAMESPACE}/agentsessions/{record.name}"
        )
        return bool(obj["spec"]["lifecycle"]["state"] == "Ended")

    await eventually(ended)
