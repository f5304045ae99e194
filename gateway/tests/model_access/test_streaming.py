"""Pass-through: streamed and whole answers, the upstream key, the allowlist."""

from __future__ import annotations

import json
import time
from typing import Any

from cephalon_devkit.model import ScriptedModelServer


def sse_data(raw: bytes) -> list[str]:
    return [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]


async def test_streamed_completion_passes_through_intact_and_in_order(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    reply = "".join(f"word{i} " for i in range(60))
    model_server.load([{"reply": reply, "chunk_chars": 5, "delay_ms": 2}])
    token = await gateway.issue("s-1")

    direct = await _raw_stream(model_server.base_url, model_server.api_key, gateway.body("hi"))
    model_server.load([{"reply": reply, "chunk_chars": 5, "delay_ms": 2}])
    arrivals: list[float] = []
    received = b""
    async with gateway.client.stream(
        "POST",
        "/v1/chat/completions",
        json=gateway.body("hi"),
        headers={"authorization": f"Bearer {token}"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for piece in response.aiter_bytes():
            arrivals.append(time.monotonic())
            received += piece

    events = sse_data(received)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == reply
    # the same events as the provider sent, apart from ids and timestamps
    expected = [json.loads(e) for e in sse_data(direct)[:-1]]
    strip = lambda c: {k: v for k, v in c.items() if k not in ("id", "created")}  # noqa: E731
    assert [strip(c) for c in chunks] == [strip(c) for c in expected]
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    # it streamed: bytes arrived over time, not in one piece at the end
    assert len(arrivals) > 5 and arrivals[-1] - arrivals[0] > 0.05

    (first, second) = model_server.chat_requests
    assert second.auth_ok and second.stream and second.include_usage
    usage = await gateway.usage("s-1")
    assert usage["requests"] == 1
    assert usage["output_tokens"] == chunks[-1]["usage"]["completion_tokens"]
    assert usage["input_tokens"] == chunks[-1]["usage"]["prompt_tokens"]


async def _raw_stream(base_url: str, key: str | None, body: dict[str, Any]) -> bytes:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base_url}/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )
        return response.content


async def test_upstream_gets_the_tenant_key_and_the_client_never_sees_it(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    key = str(model_server.api_key)
    model_server.load(
        [
            {"reply": "fine"},
            {"reply": "fine", "label": "whole"},
            # a provider that echoes the key in an error must not leak it downstream
            {"error": {"status": 400, "message": f"bad request for key {key}"}},
        ]
    )
    token = await gateway.issue("s-1")
    streamed = await gateway.chat(token, gateway.body())
    whole = await gateway.chat(token, gateway.body(stream=False))
    refused = await gateway.chat(token, gateway.body(stream=False))
    models = await gateway.client.get("/v1/models", headers={"authorization": f"Bearer {token}"})

    assert [r.auth_ok for r in model_server.chat_requests] == [True, True, True]
    for record in model_server.chat_requests:  # the session token never goes upstream
        assert token not in json.dumps(record.headers)
    assert whole.json()["choices"][0]["message"]["content"] == "fine"
    assert refused.status_code == 400
    assert "[REDACTED]" in refused.json()["error"]["message"]
    for response in (streamed, whole, refused, models):
        assert key not in response.text
        assert key not in json.dumps(dict(response.headers))
    assert models.json()["data"] == [
        {"id": "gpt-4.1", "object": "model", "created": 0, "owned_by": "duck"}
    ]


async def test_usage_chunk_is_added_for_accounting_but_only_sent_when_asked(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"reply": "counted", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}])
    token = await gateway.issue("s-1")
    body = gateway.body()
    del body["stream_options"]
    response = await gateway.chat(token, body)

    events = sse_data(response.content)
    assert all("usage" not in json.loads(e) for e in events[:-1])
    (record,) = model_server.chat_requests
    assert record.include_usage  # the gateway asked for it
    assert await gateway.usage("s-1") == {"input_tokens": 7, "output_tokens": 3, "requests": 1}


async def test_model_outside_the_allowlist_is_refused(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body(model="gpt-5-secret"))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "PROVIDER_MODEL_NOT_ALLOWED"
    assert error["type"] == "invalid_request_error"
    assert "gpt-5-secret" in error["message"] and "gpt-4.1" in error["message"]
    assert response.json()["cephalon"]["error_code"] == "PROVIDER_MODEL_NOT_ALLOWED"
    assert response.headers["x-cephalon-error-code"] == "PROVIDER_MODEL_NOT_ALLOWED"
    assert model_server.requests == []


async def test_a_request_without_model_gets_the_default(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"reply": "ok"}])
    token = await gateway.issue("s-1")
    body = gateway.body(stream=False)
    del body["model"]
    response = await gateway.chat(token, body)
    assert response.status_code == 200
    assert model_server.chat_requests[0].model == "gpt-4.1"


async def test_health_readiness_and_metrics(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"reply": "ok", "usage": {"prompt_tokens": 11, "completion_tokens": 2}}])
    token = await gateway.issue("s-1")
    await gateway.chat(token, gateway.body())
    assert (await gateway.client.get("/healthz")).status_code == 200
    ready = await gateway.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["circuit"] == "closed"
    metrics = (await gateway.client.get("/metrics")).text
    assert (
        'cephalon_model_tokens_total{direction="input",model="gpt-4.1",session="s-1",'
        'tenant="duck"} 11.0' in metrics
    )
    assert 'cephalon_model_requests_total{model="gpt-4.1",outcome="ok",tenant="duck"} 1.0' in (
        metrics
    )
