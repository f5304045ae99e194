"""Token budgets (per session, per tenant and day) and the tenant's concurrency limit."""

from __future__ import annotations

import asyncio
from typing import Any

from cephalon_devkit.model import ScriptedModelServer

INFLIGHT = "promethean.p.discord.t.duck.model.inflight"


def step(prompt: int, completion: int) -> dict[str, Any]:
    return {"reply": "ok", "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}


async def test_session_budget_runs_out_mid_session(
    start_gateway: Any, model_server: ScriptedModelServer
) -> None:
    gateway = await start_gateway(
        upstream_base_url=model_server.base_url,
        upstream_key=model_server.api_key,
        budget={"session_tokens": 1000},
    )
    model_server.load([step(700, 100), step(250, 50), step(10, 1)])
    token = await gateway.issue("s-1")
    assert (await gateway.chat(token, gateway.body())).status_code == 200
    assert (await gateway.chat(token, gateway.body())).status_code == 200  # 800 < 1000
    refused = await gateway.chat(token, gateway.body())  # 1100 >= 1000

    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "PROVIDER_BUDGET_EXCEEDED"
    assert error["type"] == "insufficient_quota"
    assert "1100 of its 1000 tokens" in error["message"]
    assert refused.json()["cephalon"]["retryable"] is False
    assert "retry-after" not in refused.headers
    assert await gateway.usage("s-1") == {"input_tokens": 950, "output_tokens": 150, "requests": 2}
    assert len(model_server.chat_requests) == 2

    other = await gateway.issue("s-2")  # another session of the tenant is unaffected
    assert (await gateway.chat(other, gateway.body())).status_code == 200


async def test_tenant_daily_budget_covers_all_sessions(
    start_gateway: Any, model_server: ScriptedModelServer, redis_admin: Any
) -> None:
    gateway = await start_gateway(
        upstream_base_url=model_server.base_url,
        upstream_key=model_server.api_key,
        budget={"session_tokens": None, "tenant_tokens_per_day": 500},
    )
    model_server.load([step(400, 200)])
    first, second = await gateway.issue("s-1"), await gateway.issue("s-2")
    assert (await gateway.chat(first, gateway.body(stream=False))).status_code == 200
    refused = await gateway.chat(second, gateway.body())
    assert refused.status_code == 402
    assert "tenant used 600 of its 500 tokens for today" in refused.json()["error"]["message"]
    (day_key,) = await redis_admin.keys("promethean.p.discord.t.duck.usage.day.*")
    assert await redis_admin.hgetall(day_key) == {
        "input_tokens": "400",
        "output_tokens": "200",
        "requests": "1",
    }


async def test_tenant_concurrency_limit_over_replicas(
    start_gateway: Any, model_server: ScriptedModelServer, redis_admin: Any
) -> None:
    upstream = {"upstream_base_url": model_server.base_url, "upstream_key": model_server.api_key}
    one = await start_gateway(**upstream, budget={"tenant_concurrency": 1})
    two = await start_gateway(**upstream, budget={"tenant_concurrency": 1})  # a 2nd replica
    model_server.load([{"reply": "slow answer", "chunk_chars": 1, "delay_ms": 30}, step(1, 1)])
    token = await one.issue("s-1")

    slow = asyncio.create_task(one.chat(token, one.body()))
    await model_server.wait_for(lambda rs: any(r.chunks_sent > 2 for r in rs))
    refused = await two.chat(token, two.body())
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMIT_QUOTA"
    assert refused.headers["retry-after"] == "1"

    assert (await slow).status_code == 200
    assert await redis_admin.zcard(INFLIGHT) == 0
    assert (await two.chat(token, two.body())).status_code == 200


async def test_a_client_that_leaves_mid_stream_frees_its_slot_and_is_billed(
    gateway: Any, model_server: ScriptedModelServer, redis_admin: Any
) -> None:
    model_server.load([{"reply": "x" * 400, "chunk_chars": 1, "delay_ms": 10}])
    token = await gateway.issue("s-1")
    async with gateway.client.stream(
        "POST",
        "/v1/chat/completions",
        json=gateway.body(),
        headers={"authorization": f"Bearer {token}"},
    ) as response:
        async for _ in response.aiter_bytes():
            break
    await model_server.wait_for(lambda rs: rs[-1].outcome == "client_disconnected", timeout=10)
    for _ in range(100):
        if await redis_admin.zcard(INFLIGHT) == 0 and await gateway.usage("s-1"):
            break
        await asyncio.sleep(0.02)
    assert await redis_admin.zcard(INFLIGHT) == 0
    assert (await gateway.usage("s-1"))["requests"] == 1
