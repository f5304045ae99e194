"""The interactions endpoint: signatures first, PING, deferred ACKs, dedupe."""

from __future__ import annotations

import json
import time

from .conftest import World


async def test_endpoint_passes_discords_check(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    assert await world.emu.verify_endpoint()


async def test_forged_and_replayed_signatures_are_rejected(world: World) -> None:
    await world.setup_cluster()
    gateway = await world.start_gateway()
    emu = world.emu
    body = json.dumps(
        {"type": 2, "id": "99", "token": "t", "application_id": "1", "version": 1}
    ).encode()
    forged = emu.interactions.signed_headers(body)
    forged["X-Signature-Ed25519"] = "ab" * 64
    assert (await emu.interactions.post_raw(body, forged))[0] == 401
    # A genuine signature over another body, and a genuine one that is an hour old.
    other = emu.interactions.signed_headers(b"{}")
    assert (await emu.interactions.post_raw(body, other))[0] == 401
    old = emu.interactions.signed_headers(body, timestamp=str(int(time.time()) - 3600))
    assert (await emu.interactions.post_raw(body, old))[0] == 401
    metrics = gateway.service.metrics
    assert metrics.signature_failures._value.get() == 3
    # Nothing was done for them.
    assert await world.admin.keys(world.space.gateway("seen.interaction") + ".*") == []


async def test_deferred_ack_then_followup_and_dedupe(world: World) -> None:
    await world.setup_cluster()
    await world.start_gateway()
    emu = world.emu
    record = await world.start_session()
    channel = int(record.channel_id)
    interaction = await emu.run_command(channel, world.owner, "status")
    assert interaction.deferred and interaction.responded_via == "http"
    assert interaction.http_elapsed is not None and interaction.http_elapsed < 1.0
    # No REST call came before the ACK: the answer is an edit of @original.
    await emu.wait_for(
        lambda: bool(
            interaction.original_message_id
            and "Ready" in emu.world.messages[interaction.original_message_id].content
        )
    )
    before = len(emu.requests)
    await emu.interactions.deliver(interaction)  # Discord redelivers the same id
    await emu.wait_for(lambda: True)
    edits = [r for r in emu.requests[before:] if r.route == "edit_webhook_message"]
    assert edits == []


async def test_health_readiness_and_metrics(world: World) -> None:
    import httpx

    await world.setup_cluster()
    gateway = await world.start_gateway()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).json() == {"status": "ready"}
        await world.emu.ping_endpoint()
        metrics = (await http.get("/metrics")).text
    assert 'cephalon_discord_interactions_total{outcome="pong",type="ping"} 1.0' in metrics
    assert "cephalon_discord_requests_total" in metrics
