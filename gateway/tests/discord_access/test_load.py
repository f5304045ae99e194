"""Many sessions streaming at once stay inside Discord's limits, and injected 429s are
absorbed without losing anything."""

from __future__ import annotations

import asyncio

from cephalon_contracts import Final, FinalStatus, ResponseDelta, new_id
from cephalon_contracts.resources import API_VERSION

from .conftest import NAMESPACE, World, eventually

SESSIONS = 50


async def make_sessions(world: World, n: int) -> list[tuple[str, int]]:
    """Sessions as an earlier Start Chat left them: a channel and an AgentSession each."""
    out = []
    for i in range(n):
        channel = world.emu.create_channel(world.guild.id, f"load-{i}")
        name = f"s-load-{i}"
        await world.k.request(
            "POST",
            f"/apis/cephalon.dev/v1alpha1/namespaces/{NAMESPACE}/agentsessions",
            body={
                "apiVersion": API_VERSION,
                "kind": "AgentSession",
                "metadata": {"name": name, "namespace": NAMESPACE},
                "spec": {
                    "provider": "discord",
                    "tenant": "duck",
                    "owner": {"id": str(world.owner.id), "name": "ada"},
                    "conversation": {"guild": str(world.guild.id), "channel": str(channel.id)},
                },
            },
        )
        out.append((name, channel.id))
    return out


def answer(i: int) -> str:
    return "".join(f"Session {i}, line {n}: " + "words " * 12 + "\n" for n in range(40))


async def test_fifty_sessions_streaming_make_no_429_and_absorb_injected_ones(
    world: World,
) -> None:
    await world.setup_cluster()
    sessions = await make_sessions(world, SESSIONS)
    await world.start_gateway()
    gateway = world.gateways[-1].service
    await eventually(lambda: len(gateway.renders.tasks) == SESSIONS, timeout=10)  # type: ignore[union-attr]
    injected = world.emu.inject_rate_limit("edit_message", times=3, retry_after=0.2)

    async def run(i: int, name: str) -> None:
        text, turn = answer(i), new_id()
        step = len(text) // 6 + 1
        for seq, start in enumerate(range(0, len(text), step)):
            await world.write_event(
                name, turn, ResponseDelta(seq=seq, text=text[start : start + step])
            )
            await asyncio.sleep(0.3)
        await world.write_event(name, turn, Final(status=FinalStatus.COMPLETED, text=text))

    await asyncio.gather(*(run(i, name) for i, (name, _) in enumerate(sessions)))

    def done() -> bool:
        for i, (_, channel) in enumerate(sessions):
            shown = "".join(m.content for m in world.emu.messages(channel))
            if shown != answer(i):
                return False
        return True

    await eventually(done, timeout=60, interval=0.2)
    limited = world.emu.rate_limited_requests
    assert len(limited) == 3 and injected.used == 3, [r.route for r in limited]
