"""Transient upstream failures: retried before the first byte, surfaced after it; the
circuit breaker stops calls to a failing provider."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from cephalon_devkit.model import ScriptedModelServer


def sse_data(raw: bytes) -> list[str]:
    return [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]


def text_of(raw: bytes) -> str:
    text = ""
    for data in sse_data(raw):
        if data == "[DONE]":
            continue
        chunk = json.loads(data)
        for choice in chunk.get("choices") or []:
            text += choice["delta"].get("content") or ""
    return text


async def test_429_before_the_first_byte_is_retried_honouring_retry_after(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"rate_limit": {"retry_after": 1}}, {"reply": "after the wait"}])
    token = await gateway.issue("s-1")
    started = time.monotonic()
    response = await gateway.chat(token, gateway.body())
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert text_of(response.content) == "after the wait"
    first, second = model_server.chat_requests
    assert first.status == 429 and second.status == 200
    assert second.received_at - first.finished_at >= 0.95  # Retry-After: 1 was honoured
    assert elapsed < 3


async def test_429_asking_for_a_long_wait_is_passed_to_the_client(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"rate_limit": {"retry_after": 60}}])
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())

    assert response.status_code == 429
    assert response.headers["retry-after"] == "60"
    assert response.json()["error"]["code"] == "RATE_LIMIT_MODEL"
    assert len(model_server.chat_requests) == 1
    assert await gateway.in_flight() == 0  # a refused request frees its slot


async def test_rate_limit_after_the_first_byte_is_surfaced_not_retried(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load(
        [
            {
                "reply": "partial answer that the provider cuts",
                "chunk_chars": 4,
                "break_after_chunks": 2,
                "stream_error": {
                    "message": "Rate limit reached",
                    "type": "requests",
                    "code": "rate_limit_exceeded",
                },
            },
            {"reply": "a retry would have produced this"},
        ]
    )
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())

    assert response.status_code == 200  # the status line had gone out
    events = sse_data(response.content)
    assert text_of(response.content) == "partial "
    assert json.loads(events[-1])["error"]["code"] == "rate_limit_exceeded"
    assert "[DONE]" not in events
    assert len(model_server.chat_requests) == 1


async def test_stream_that_breaks_after_the_first_byte_ends_with_an_error_event(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"reply": "abcdefgh", "chunk_chars": 2, "break_after_chunks": 2}])
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())

    events = sse_data(response.content)
    assert text_of(response.content) == "abcd"
    assert json.loads(events[-1])["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert len(model_server.chat_requests) == 1
    assert await gateway.in_flight() == 0
    usage = await gateway.usage("s-1")  # estimated, so a broken stream still counts
    assert usage["requests"] == 1 and usage["output_tokens"] > 0


async def test_5xx_is_retried_with_backoff(gateway: Any, model_server: ScriptedModelServer) -> None:
    model_server.load(
        [
            {"error": {"status": 503, "message": "overloaded"}},
            {"error": {"status": 502, "body": "<html>bad gateway</html>"}},
            {"reply": "third time lucky"},
        ]
    )
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())
    assert text_of(response.content) == "third time lucky"
    statuses = [r.status for r in model_server.chat_requests]
    assert statuses == [503, 502, 200]


async def test_5xx_after_all_attempts_is_a_provider_error(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"error": {"status": 500}, "repeat": True}])
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body(stream=False))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert response.json()["cephalon"]["retryable"] is True
    assert len(model_server.chat_requests) == 3
    assert await gateway.in_flight() == 0


async def test_slow_first_byte_times_out_and_is_retried(
    start_gateway: Any, model_server: ScriptedModelServer
) -> None:
    gateway = await start_gateway(
        upstream_base_url=model_server.base_url,
        upstream_key=model_server.api_key,
        model={"read_timeout_s": 0.3},
    )
    model_server.load([{"reply": "late", "first_byte_delay_ms": 1000}, {"reply": "on time"}])
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())
    assert text_of(response.content) == "on time"


async def test_4xx_from_the_provider_is_not_retried(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"error": {"status": 400, "message": "context too long"}}])
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())
    assert response.status_code == 400
    assert "context too long" in response.json()["error"]["message"]
    assert len(model_server.chat_requests) == 1


async def test_provider_refusing_the_tenant_key_is_a_502_that_names_no_key(
    start_gateway: Any, model_server: ScriptedModelServer
) -> None:
    gateway = await start_gateway(
        upstream_base_url=model_server.base_url, upstream_key="sk-wrong-key-for-this-test-000"
    )
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())
    assert response.status_code == 502
    assert "credential" in response.json()["error"]["message"]
    assert response.json()["cephalon"]["retryable"] is False
    assert len(model_server.chat_requests) == 1


async def test_circuit_opens_after_repeated_failures(
    start_gateway: Any, model_server: ScriptedModelServer
) -> None:
    gateway = await start_gateway(
        upstream_base_url=model_server.base_url,
        upstream_key=model_server.api_key,
        retry={"attempts": 1},
        breaker={"failure_threshold": 2, "reset_s": 0.5},
    )
    model_server.load([{"error": {"status": 503}}, {"error": {"status": 503}}, {"reply": "back"}])
    token = await gateway.issue("s-1")
    assert (await gateway.chat(token, gateway.body())).status_code == 502
    assert (await gateway.chat(token, gateway.body())).status_code == 502
    paused = await gateway.chat(token, gateway.body())
    assert paused.status_code == 503
    assert paused.json()["error"]["code"] == "PROVIDER_UNAVAILABLE"
    assert int(paused.headers["retry-after"]) >= 1
    assert len(model_server.chat_requests) == 2  # the open circuit did not call out
    assert "cephalon_model_circuit_open" in (await gateway.client.get("/metrics")).text

    await asyncio.sleep(0.5)
    probe = await gateway.chat(token, gateway.body())  # half-open: one probe, it works
    assert text_of(probe.content) == "back"
    assert (await gateway.client.get("/readyz")).json()["circuit"] == "closed"
