"""The scripted model server spoken to directly over HTTP, as any OpenAI client would."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from cephalon_devkit.model import ScriptedModelServer
from cephalon_devkit.testing.model import MakeModelServer

USER = [{"role": "user", "content": "hello there"}]


def auth(server: ScriptedModelServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


async def stream_events(
    server: ScriptedModelServer, body: dict[str, Any]
) -> list[dict[str, Any] | str]:
    """POST a streaming request and return the decoded SSE data payloads in order."""
    events: list[dict[str, Any] | str] = []
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        async with client.stream(
            "POST", "/chat/completions", json=body, headers=auth(server)
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    data = line.removeprefix("data: ")
                    events.append(data if data == "[DONE]" else json.loads(data))
    return events


async def post(server: ScriptedModelServer, body: dict[str, Any], **kw: Any) -> httpx.Response:
    headers = kw.pop("headers", auth(server))
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        return await client.post("/chat/completions", json=body, headers=headers, **kw)


async def test_streamed_text_arrives_in_order_with_usage_last(
    model_server: ScriptedModelServer,
) -> None:
    model_server.load([{"reply": "Hello from the stub model.", "chunk_chars": 5}])
    events = await stream_events(
        model_server,
        {
            "model": "m1",
            "messages": USER,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert events[-1] == "[DONE]"
    chunks = [e for e in events if isinstance(e, dict)]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-2]]
    assert contents == ["Hello", " from", " the ", "stub ", "model", "."]
    finish = chunks[-2]
    assert finish["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 7  # 26 characters / 4, rounded up
    assert usage_chunk["usage"]["prompt_tokens"] > 0
    u = usage_chunk["usage"]
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"m1"}
    assert len({c["id"] for c in chunks}) == 1


async def test_no_usage_chunk_unless_asked(model_server: ScriptedModelServer) -> None:
    model_server.load([{"reply": "hi", "usage": {"prompt_tokens": 11, "completion_tokens": 2}}])
    events = await stream_events(model_server, {"messages": USER, "stream": True})
    chunks = [e for e in events if isinstance(e, dict)]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_usage_override_is_reported_exactly(model_server: ScriptedModelServer) -> None:
    model_server.load([{"reply": "hi", "usage": {"prompt_tokens": 11, "completion_tokens": 2}}])
    response = await post(model_server, {"model": "m", "messages": USER})
    assert response.json()["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 2,
        "total_tokens": 13,
    }


async def test_non_streaming_text(model_server: ScriptedModelServer) -> None:
    model_server.load([{"reply": "Whole answer."}])
    response = await post(model_server, {"model": "m2", "messages": USER})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Whole answer."},
            "finish_reason": "stop",
        }
    ]
    assert body["model"] == "m2"


async def test_tool_call_streams_as_openai_deltas(model_server: ScriptedModelServer) -> None:
    model_server.load(
        [
            {
                "text": "Checking.",
                "tool_calls": [
                    {"name": "view", "arguments": {"path": "/work/README.md"}, "id": "call_a"},
                    {"name": "grep", "arguments": {"pattern": "TODO"}},
                ],
                "arguments_chunk_chars": 7,
            }
        ]
    )
    events = await stream_events(model_server, {"messages": USER, "stream": True})
    deltas = [e["choices"][0]["delta"] for e in events if isinstance(e, dict)]
    assert deltas[0] == {"role": "assistant", "content": None}
    assert deltas[1] == {"content": "Checking."}
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas[2:-1]:
        (piece,) = delta["tool_calls"]
        call = calls.setdefault(piece["index"], {"id": "", "name": "", "arguments": ""})
        if "id" in piece:
            assert call["id"] == "", "the id comes once, in the call's first delta"
            call["id"] = piece["id"]
            call["name"] = piece["function"]["name"]
            assert piece["type"] == "function"
        else:
            assert len(piece["function"]["arguments"]) <= 7
        call["arguments"] += piece["function"]["arguments"]
    assert calls[0]["id"] == "call_a"
    assert calls[0]["name"] == "view"
    assert json.loads(calls[0]["arguments"]) == {"path": "/work/README.md"}
    assert calls[1]["name"] == "grep"
    assert calls[1]["id"].startswith("call_")
    assert json.loads(calls[1]["arguments"]) == {"pattern": "TODO"}
    last = [e for e in events if isinstance(e, dict)][-1]
    assert last["choices"][0]["finish_reason"] == "tool_calls"


async def test_non_streaming_tool_call(model_server: ScriptedModelServer) -> None:
    model_server.load([{"tool_calls": [{"name": "bash", "arguments": '{"command": "ls"'}]}])
    body = (await post(model_server, {"messages": USER})).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "bash", "arguments": '{"command": "ls"'}


async def test_scripted_error_has_status_body_and_retry_headers(
    model_server: ScriptedModelServer,
) -> None:
    model_server.load(
        [
            {
                "error": {
                    "status": 503,
                    "message": "overloaded",
                    "retry_after": 3,
                    "retry_after_ms": 2500,
                }
            }
        ]
    )
    response = await post(model_server, {"messages": USER, "stream": True})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    assert response.headers["retry-after-ms"] == "2500"
    assert response.json() == {
        "error": {"message": "overloaded", "type": "server_error", "param": None, "code": None}
    }


async def test_raw_error_body(model_server: ScriptedModelServer) -> None:
    model_server.load([{"error": {"status": 502, "body": "<html>bad gateway</html>"}}])
    response = await post(model_server, {"messages": USER})
    assert (response.status_code, response.text) == (502, "<html>bad gateway</html>")
    assert response.headers["content-type"].startswith("text/html")


async def test_rate_limit_then_success(model_server: ScriptedModelServer) -> None:
    model_server.load([{"rate_limit": {"retry_after": 2}}, {"reply": "after the wait"}])
    first = await post(model_server, {"messages": USER})
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    second = await post(model_server, {"messages": USER})
    assert second.json()["choices"][0]["message"]["content"] == "after the wait"
    assert [r.status for r in model_server.chat_requests] == [429, 200]
    assert model_server.unused_steps() == []


async def test_wrong_or_missing_key_is_rejected_without_using_a_step(
    model_server: ScriptedModelServer,
) -> None:
    model_server.load([{"reply": "only for the right key"}])
    wrong = await post(model_server, {"messages": USER}, headers={"Authorization": "Bearer sk-x"})
    missing = await post(model_server, {"messages": USER}, headers={})
    for response in (wrong, missing):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert "sk-x" not in response.text
    right = await post(model_server, {"messages": USER})
    assert right.status_code == 200
    assert [r.auth_ok for r in model_server.chat_requests] == [False, False, True]
    assert [r.outcome for r in model_server.chat_requests] == ["rejected", "rejected", "completed"]


async def test_records_keep_the_request_but_never_the_key(
    model_server: ScriptedModelServer,
) -> None:
    model_server.load([{"reply": "ok"}])
    tools = [{"type": "function", "function": {"name": "view", "parameters": {}}}]
    messages = [{"role": "system", "content": "be brief"}, *USER]
    await post(
        model_server,
        {"model": "gpt-x", "messages": messages, "tools": tools, "stream": False},
        headers={**auth(model_server), "X-Trace": "t1"},
    )
    (record,) = model_server.chat_requests
    assert record.model == "gpt-x"
    assert record.messages == messages
    assert record.tool_names == ["view"]
    assert record.system_prompt == "be brief"
    assert record.last_user_text == "hello there"
    assert record.auth_ok and not record.stream
    assert record.headers["Authorization"] == "<redacted>"
    assert record.headers["X-Trace"] == "t1"
    assert model_server.api_key is not None
    assert model_server.api_key not in repr(model_server.requests)


async def test_predicates_and_standing_rules(model_server: ScriptedModelServer) -> None:
    model_server.load(
        {
            "steps": [
                {"match": {"last_role": "tool"}, "repeat": True, "reply": "tool seen"},
                {"match": {"user_contains": "deploy"}, "reply": "deploying"},
                {"reply": "first plain"},
                {"reply": "second plain"},
            ]
        }
    )

    async def answer(messages: list[dict[str, Any]]) -> str:
        body = (await post(model_server, {"messages": messages})).json()
        return str(body["choices"][0]["message"]["content"])

    tool_result = [*USER, {"role": "tool", "tool_call_id": "c", "content": "x"}]
    assert await answer(USER) == "first plain"
    assert await answer(tool_result) == "tool seen"
    assert await answer([{"role": "user", "content": [{"type": "text", "text": "deploy it"}]}]) == (
        "deploying"
    )
    assert await answer(tool_result) == "tool seen"
    assert await answer(USER) == "second plain"
    exhausted = await post(model_server, {"messages": USER})
    assert exhausted.status_code == 500
    assert "exhausted" in exhausted.json()["error"]["message"]
    assert model_server.chat_requests[-1].outcome == "exhausted"
    assert [r.step_index for r in model_server.chat_requests] == [2, 0, 1, 0, 3, None]


async def test_repeat_last_never_runs_dry(model_server: ScriptedModelServer) -> None:
    model_server.load({"when_exhausted": "repeat_last", "steps": [{"reply": "a"}, {"reply": "z"}]})
    answers = [(await post(model_server, {"messages": USER})).json() for _ in range(4)]
    assert [a["choices"][0]["message"]["content"] for a in answers] == ["a", "z", "z", "z"]


async def test_slow_stream_paces_chunks(model_server: ScriptedModelServer) -> None:
    model_server.load(
        [{"reply": "abcd", "chunk_chars": 1, "delay_ms": 60, "first_byte_delay_ms": 150}]
    )
    arrivals: list[float] = []
    start = time.monotonic()
    async with httpx.AsyncClient(base_url=model_server.base_url) as client:
        async with client.stream(
            "POST",
            "/chat/completions",
            json={"messages": USER, "stream": True},
            headers=auth(model_server),
        ) as response:
            first_byte = time.monotonic() - start
            async for line in response.aiter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    arrivals.append(time.monotonic())
    assert first_byte >= 0.15
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert len(arrivals) == 4
    assert min(gaps) >= 0.05


async def test_stream_breaks_mid_way(model_server: ScriptedModelServer) -> None:
    model_server.load([{"reply": "one two three four", "chunk_chars": 4, "break_after_chunks": 2}])
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError):
        async with httpx.AsyncClient(base_url=model_server.base_url) as client:
            async with client.stream(
                "POST",
                "/chat/completions",
                json={"messages": USER, "stream": True},
                headers=auth(model_server),
            ) as response:
                async for line in response.aiter_lines():
                    received.append(line)
    contents = [
        json.loads(line[6:])["choices"][0]["delta"].get("content")
        for line in received
        if line.startswith("data: {")
    ]
    assert contents == ["", "one ", "two "]
    assert "data: [DONE]" not in received
    (record,) = await model_server.wait_for_requests(1)
    assert record.outcome == "broken"


async def test_stream_ends_with_an_error_event(model_server: ScriptedModelServer) -> None:
    model_server.load(
        [
            {
                "reply": "abcdefgh",
                "chunk_chars": 4,
                "break_after_chunks": 1,
                "stream_error": {"message": "overloaded mid-way", "code": "overloaded"},
            },
            {"reply": "x", "stream_error": {}},
        ]
    )
    events = await stream_events(model_server, {"messages": USER, "stream": True})
    assert [e["choices"][0]["delta"] for e in events[:2] if isinstance(e, dict)] == [
        {"role": "assistant", "content": ""},
        {"content": "abcd"},
    ]
    assert events[2:] == [
        {
            "error": {
                "message": "overloaded mid-way",
                "type": "server_error",
                "param": None,
                "code": "overloaded",
            }
        }
    ]
    response = await post(model_server, {"messages": USER})
    assert response.status_code == 500
    assert response.json()["error"]["type"] == "server_error"
    assert [r.outcome for r in model_server.chat_requests] == ["stream_error", "stream_error"]


async def test_non_streaming_break_drops_the_connection(model_server: ScriptedModelServer) -> None:
    model_server.load([{"reply": "never sent", "break_after_chunks": 0}])
    with pytest.raises(httpx.RemoteProtocolError):
        await post(model_server, {"messages": USER})


async def test_client_going_away_is_recorded(model_server: ScriptedModelServer) -> None:
    model_server.load([{"reply": "x" * 40, "chunk_chars": 1, "delay_ms": 20}])
    async with httpx.AsyncClient(base_url=model_server.base_url) as client:
        async with client.stream(
            "POST",
            "/chat/completions",
            json={"messages": USER, "stream": True},
            headers=auth(model_server),
        ) as response:
            async for line in response.aiter_lines():
                if '"content":"x"' in line:
                    break
    (record,) = await model_server.wait_for_requests(1, timeout=5)
    assert record.outcome == "client_disconnected"
    assert record.chunks_sent < 40


async def test_models_and_unknown_paths(model_server: ScriptedModelServer) -> None:
    model_server.load({"models": ["a", "b"]})
    async with httpx.AsyncClient(base_url=model_server.base_url, headers=auth(model_server)) as c:
        models = (await c.get("/models")).json()
        unknown = await c.post("/responses", json={"input": "hi"})
        unauthorised = await c.get("/models", headers={"Authorization": "Bearer nope"})
    assert [m["id"] for m in models["data"]] == ["a", "b"]
    assert models["object"] == "list"
    assert unknown.status_code == 404
    assert unauthorised.status_code == 401
    assert [(r.method, r.path, r.status) for r in model_server.requests] == [
        ("GET", "/v1/models", 200),
        ("POST", "/v1/responses", 404),
        ("GET", "/v1/models", 401),
    ]


async def test_malformed_request_is_a_400(model_server: ScriptedModelServer) -> None:
    async with httpx.AsyncClient(base_url=model_server.base_url, headers=auth(model_server)) as c:
        response = await c.post("/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_concurrent_requests_each_get_their_own_step(
    model_server: ScriptedModelServer,
) -> None:
    model_server.load([{"reply": str(i), "delay_ms": 10, "chunk_chars": 1} for i in range(10)])
    results = await asyncio.gather(
        *(stream_events(model_server, {"messages": USER, "stream": True}) for _ in range(10))
    )
    answers = sorted(
        "".join(
            e["choices"][0]["delta"].get("content") or "" for e in events if isinstance(e, dict)
        )
        for events in results
    )
    assert answers == sorted(str(i) for i in range(10))


async def test_server_without_key_accepts_anything(make_model_server: MakeModelServer) -> None:
    server = await make_model_server([{"reply": "open"}], check_auth=False)
    assert server.api_key is None
    response = await post(server, {"messages": USER}, headers={})
    assert response.status_code == 200
    assert server.chat_requests[0].auth_ok
