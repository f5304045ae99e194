"""The ``azure`` upstream's URL and header shape (httpx MockTransport as the provider),
and the log redaction seen from outside."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from cephalon_devkit.model import ScriptedModelServer

AZURE_KEY = "azure-key-for-test-0123456789abcdef"


async def test_azure_deployment_url_api_key_header_and_stream(start_gateway: Any) -> None:
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        base = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4.1"}
        delta = {"index": 0, "delta": {"content": "azure says hi"}, "finish_reason": None}
        chunk = {**base, "choices": [delta]}
        counts = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
        usage = {**base, "choices": [], "usage": counts}
        body = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(usage)}\n\ndata: [DONE]\n\n"
        return httpx.Response(
            200, content=body.encode(), headers={"content-type": "text/event-stream"}
        )

    gateway = await start_gateway(
        upstream_kind="azure",
        upstream_base_url="https://duck.openai.azure.com/",
        upstream_key=AZURE_KEY,
        transport=httpx.MockTransport(provider),
    )
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())

    assert "azure says hi" in response.text
    (request,) = seen
    assert str(request.url) == (
        "https://duck.openai.azure.com/openai/deployments/gpt-4.1/chat/completions"
        "?api-version=2024-10-21"
    )
    assert request.headers["api-key"] == AZURE_KEY
    assert "authorization" not in request.headers
    assert json.loads(request.content)["stream_options"] == {"include_usage": True}
    assert await gateway.usage("s-1") == {"input_tokens": 3, "output_tokens": 4, "requests": 1}


async def test_a_provider_echoing_the_key_is_redacted_in_logs_and_answers(
    gateway: Any, model_server: ScriptedModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = str(model_server.api_key)
    model_server.load(
        [{"error": {"status": 429, "message": f"slow down, {key}", "retry_after": 600}}]
    )
    token = await gateway.issue("s-1")
    response = await gateway.chat(token, gateway.body())

    assert response.status_code == 429
    assert key not in response.text and "[REDACTED]" in response.text
    lines = [r.getMessage() for r in caplog.records if r.name == "cephalon_gateway.model_access"]
    failed = [line for line in lines if '"upstream_failed"' in line]
    assert failed and "[REDACTED]" in failed[0]
    assert all(key not in line and token not in line for line in lines)
    # the `secrets` fixture scans everything captured once more when the test ends
