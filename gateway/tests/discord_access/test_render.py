"""The renderer against the emulator: long answers, embeds, approvals, errors, and a
gateway killed mid-stream."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import aiohttp

from cephalon_contracts import (
    ApprovalRequest,
    ErrorCode,
    ErrorEnvelope,
    ErrorEvent,
    Final,
    FinalStatus,
    Plan,
    PlanStep,
    ResponseDelta,
    ToolCall,
    ToolResultSummary,
    decode_envelope,
    new_id,
)
from cephalon_devkit.discord import Message
from cephalon_gateway.discord_access.chunking import split_message
from cephalon_gateway.discord_access.context import nonce

from .conftest import World, eventually

FENCE = re.compile(r"^```", re.M)


def long_answer(size: int = 30_000) -> str:
    parts, n = [], 0
    while sum(map(len, parts)) < size:
        n += 1
        if n % 3 == 0:
            body = "".join(f"    value_{n}_{i} = compute({i})\n" for i in range(25))
            parts.append(f"```python\ndef block_{n}():\n{body}```\n")
        else:
            parts.append(f"Paragraph {n}: " + "lorem ipsum " * 40 + "\n\n")
    return "".join(parts)


def answer_messages(world: World, channel: int, welcome_ids: set[int]) -> list[Message]:
    return [
        m
        for m in world.emu.messages(channel)
        if m.author_id == world.emu.bot.id
        and m.id not in welcome_ids
        and not m.embeds
        and not m.components
        and "is ready" not in m.content
    ]


def unfence(chunks: list[str]) -> str:
    """Join chunks, dropping the fence the splitter closed at a chunk's end and reopened
    at the next chunk's start."""
    out = []
    for i, chunk in enumerate(chunks):
        if (
            i > 0
            and len(FENCE.findall(out_prev := chunks[i - 1])) % 2 == 0
            and out_prev.endswith("```")
            and chunk.startswith("```")
            and _open_before_last(out_prev)
        ):
            chunk = chunk.split("\n", 1)[1]
        if i + 1 < len(chunks) and chunk.endswith("```") and _open_before_last(chunk):
            chunk = chunk[:-3]
        out.append(chunk)
    return "".join(out)


def _open_before_last(chunk: str) -> bool:
    return len(FENCE.findall(chunk[: chunk.rfind("```")])) % 2 == 1


async def stream(world: World, session: str, turn: str, text: str, step: int = 700) -> None:
    for seq, start in enumerate(range(0, len(text), step)):
        await world.write_event(
            session, turn, ResponseDelta(seq=seq, text=text[start : start + step])
        )


async def test_long_streamed_answer_arrives_complete_in_order_with_fences(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    existing = {m.id for m in world.emu.messages(channel)}
    text = long_answer()
    turn = new_id()
    await world.write_event(record.name, turn, Plan(steps=[PlanStep(title="Write it")]))
    await world.write_event(
        record.name, turn, ToolCall(call_id="c1", tool="read_file", arguments_summary="src/a.py")
    )
    await world.write_event(
        record.name,
        turn,
        ToolResultSummary(call_id="c1", ok=True, summary="120 lines", duration_ms=5),
    )
    await stream(world, record.name, turn, text)
    await world.write_event(record.name, turn, Final(status=FinalStatus.COMPLETED, text=text))

    def complete() -> bool:
        msgs = answer_messages(world, channel, existing)
        return unfence([m.content for m in msgs]) == text

    await eventually(complete, timeout=40)
    msgs = answer_messages(world, channel, existing)
    assert all(len(m.content) <= 2000 for m in msgs)
    assert all(len(FENCE.findall(m.content)) % 2 == 0 for m in msgs)
    activity = [m for m in world.emu.messages(channel) if m.embeds]
    assert len(activity) == 1 and "read_file" in str(activity[0].embeds)
    assert world.emu.rate_limited_requests == []

    # The events were all acknowledged.
    async def all_acknowledged() -> bool:
        info = await world.admin.xpending(world.space.events(record.name), "cephalon-gateway")
        return bool(info["pending"] == 0)

    await eventually(all_acknowledged)


async def test_approval_only_owner_decides_and_error_shows_trace(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    emu = world.emu
    turn = new_id()
    await world.write_event(
        record.name,
        turn,
        ApprovalRequest(
            request_id="req-1",
            call_id="c9",
            tool="git_push",
            arguments_summary="origin main",
            reason="pushes to the remote",
            expires_at=datetime.now(UTC) + timedelta(minutes=5),
        ),
    )
    card = await emu.wait_for_message(channel, lambda m: bool(m.components) and bool(m.embeds))
    # The turn is running: the channel shows "typing…".
    await eventually(lambda: bool(emu.requests_for("typing")))
    assert emu.requests_for("typing")[0].path.endswith(f"/channels/{channel}/typing")
    emu.world.put_overwrite(
        channel,
        world.guild.owner_id,
        world.other.id,
        {"type": 1, "allow": str(1 << 10), "deny": "0"},
    )
    denied = await emu.click_button(card, "cephalon:approve:" + record.name + ":req-1", world.other)
    await eventually(
        lambda: (
            bool(denied.original_message_id)
            and "Only the owner" in emu.world.messages[denied.original_message_id or 0].content
        )
    )
    assert await world.admin.xlen(world.space.control(record.name)) == 0
    await emu.click_button(card, "cephalon:approve:" + record.name + ":req-1", world.owner)
    await eventually(lambda: world.admin.xlen(world.space.control(record.name)))
    (entry,) = await world.admin.xrange(world.space.control(record.name))
    decision = decode_envelope(entry[1]["envelope"]).payload
    assert decision.type == "approval_decision" and decision.approved  # type: ignore[union-attr]
    await eventually(lambda: emu.world.messages[card.id].components == [])
    trace = new_id()
    await world.write_event(
        record.name,
        turn,
        ErrorEvent(
            error=ErrorEnvelope(
                error_code=ErrorCode.TIMEOUT_TOOL,
                message="The tool hung.",
                trace_id=trace,
                retryable=True,
            )
        ),
        trace_id=trace,
    )
    error = await emu.wait_for_message(channel, lambda m: "The tool hung." in m.content)
    assert trace in error.content


async def test_gateway_killed_mid_stream_posts_the_final_once(world: World) -> None:
    await world.setup_cluster()
    first = await world.start_gateway("gw-a")
    record = await world.start_session()
    channel = int(record.channel_id)
    existing = {m.id for m in world.emu.messages(channel)}
    text = long_answer(9000)
    turn = new_id()
    half = len(text) // 2
    await stream(world, record.name, turn, text[:half], step=half)
    await eventually(lambda: len(answer_messages(world, channel, existing)) >= 1, timeout=10)
    await world.kill_gateway(first)
    # The runtime keeps going while no gateway runs.
    await world.write_event(record.name, turn, ResponseDelta(seq=1, text=text[half:]))
    await world.write_event(record.name, turn, Final(status=FinalStatus.COMPLETED, text=text))
    await world.start_gateway("gw-b")

    def complete() -> bool:
        return unfence([m.content for m in answer_messages(world, channel, existing)]) == text

    await eventually(complete, timeout=30)
    await eventually(lambda: True)
    msgs = answer_messages(world, channel, existing)
    assert unfence([m.content for m in msgs]) == text
    assert len(msgs) == len({m.content for m in msgs})  # nothing posted twice

    # Even with the render state lost, a replayed final reuses the same messages:
    # the posts carry the same nonces and Discord returns the first messages.
    await world.admin.delete(world.space.gateway(f"render.{record.name}"))
    await world.write_event(record.name, turn, Final(status=FinalStatus.COMPLETED, text=text))

    async def acknowledged() -> bool:
        (group,) = await world.admin.xinfo_groups(world.space.events(record.name))
        return bool(group["lag"] == 0 and group["pending"] == 0)

    await eventually(acknowledged, timeout=20)
    assert [m.id for m in answer_messages(world, channel, existing)] == [m.id for m in msgs]


async def test_two_replicas_make_one_turn_and_render_once(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway("gw-a")
    record = await world.start_session()
    second = await world.start_gateway("gw-b")
    await world.emu.wait_for_gateway(2)
    await eventually(lambda: second.service.ctx.sessions.get(record.name) is not None)  # type: ignore[union-attr]
    channel = int(record.channel_id)
    existing = {m.id for m in world.emu.messages(channel)}
    world.emu.post_message(channel, world.owner, "hello both")
    await eventually(lambda: world.admin.xlen(world.space.turns(record.name)))
    await asyncio.sleep(0.5)
    assert len(await world.turns(record.name)) == 1
    assert await world.admin.xlen(world.space.social_created) == 1
    turn = new_id()
    await stream(world, record.name, turn, "answer " * 50, step=50)
    await world.write_event(
        record.name, turn, Final(status=FinalStatus.COMPLETED, text="answer " * 50)
    )
    await eventually(
        lambda: (
            "".join(m.content for m in answer_messages(world, channel, existing)) == "answer " * 50
        )
    )
    await asyncio.sleep(0.5)
    assert len(answer_messages(world, channel, existing)) == 1


async def test_server_errors_are_retried_and_the_final_arrives_once(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    existing = {m.id for m in world.emu.messages(channel)}
    await world.emu.wait_for_message(channel, lambda m: "is ready" in m.content)
    existing = {m.id for m in world.emu.messages(channel)}
    # discord.py itself retries 500/502/504; a 503 reaches the renderer, which retries.
    fault = world.emu.inject_error("create_message", 503, times=3)
    turn = new_id()
    text = long_answer(5000)
    await world.write_event(record.name, turn, Final(status=FinalStatus.COMPLETED, text=text))
    await eventually(
        lambda: unfence([m.content for m in answer_messages(world, channel, existing)]) == text,
        timeout=20,
    )
    assert fault.used == 3
    gateway = world.gateways[-1].service
    assert gateway.metrics.render_failures.labels(event="final")._value.get() == 3
    await asyncio.sleep(0.3)
    msgs = answer_messages(world, channel, existing)
    assert len(msgs) == len(split_message(text))


async def _post_as_predecessor(world: World, channel: int, body: dict[str, object]) -> None:
    """A post the crashed predecessor made and never recorded, as Discord holds it."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{world.emu.api_base}/channels/{channel}/messages",
            headers={"Authorization": f"Bot {world.emu.bot_token}"},
            json={**body, "enforce_nonce": True},
        ) as response:
            assert response.status == 200, await response.text()


async def test_a_post_that_returns_a_predecessors_older_message_is_corrected(
    world: World,
) -> None:
    """A gateway that crashed after Discord took its post, but before it recorded the
    message, leaves a message with the chunk's nonce and older text. The successor's
    post with that nonce gets that message back (Discord returns the first message for a
    repeated nonce): it must show the final text, not trust what it sent."""
    await world.setup_cluster()
    await world.start_gateway()
    record = await world.start_session()
    channel = int(record.channel_id)
    existing = {m.id for m in world.emu.messages(channel)}
    turn = new_id()
    # The predecessor's posts: the first chunk's and the activity embed's nonces, older
    # content.
    await _post_as_predecessor(
        world, channel, {"content": "The answer so f", "nonce": nonce(record.name, turn, "0")}
    )
    await _post_as_predecessor(
        world,
        channel,
        {
            "embeds": [{"title": "Working", "description": "…"}],
            "nonce": nonce(record.name, turn, "activity"),
        },
    )
    await world.write_event(
        record.name, turn, ToolCall(call_id="c1", tool="read_file", arguments_summary="a.py")
    )
    text = "The answer so far, and then the rest of it."
    await world.write_event(record.name, turn, ResponseDelta(seq=0, text=text))
    await world.write_event(record.name, turn, Final(status=FinalStatus.COMPLETED, text=text))

    def shown() -> list[str]:
        return [m.content for m in answer_messages(world, channel, existing)]

    await eventually(lambda: shown() == [text], timeout=10)

    def activity_shows_the_tool() -> bool:
        return any("read_file" in str(m.embeds) for m in world.emu.messages(channel) if m.embeds)

    await eventually(activity_shows_the_tool, timeout=10)
