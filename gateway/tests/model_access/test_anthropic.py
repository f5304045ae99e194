# ruff: noqa: E501  (literal wire payloads read better on one line each)
"""The ``anthropic`` upstream: chat completions translated to the Messages API and back,
against the scripted Anthropic server (which enforces the API's request rules)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cephalon_devkit.model.anthropic import ScriptedAnthropicServer
from cephalon_devkit.testing.model import new_api_key
from cephalon_gateway.model_access.anthropic import (
    StreamTranslator,
    to_chat_completion,
    to_messages_request,
)

CONVERSATION: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "stream": True,
    "temperature": 1.5,
    "stop": "STOP",
    "messages": [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "Read the README"},
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "view", "arguments": '{"path": "README.md"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "glob", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Run make setup."},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "a.py"}]},
        {"role": "user", "content": [{"type": "text", "text": "and?"},
                                     {"type": "image_url",
                                      "image_url": {"url": "data:image/png;base64,AAAA"}}]},
    ],
    "tools": [{"type": "function", "function": {"name": "view", "description": "Read a file",
                                                 "parameters": {"type": "object"}}}],
    "tool_choice": "required",
}  # fmt: skip


def test_request_translation() -> None:
    assert to_messages_request(CONVERSATION, default_max_tokens=4096) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "system": "You are a coding agent.\n\nBe brief.",
        "stream": True,
        "temperature": 1.0,
        "stop_sequences": ["STOP"],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Read the README"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "call_1", "name": "view",
                     "input": {"path": "README.md"}},
                    {"type": "tool_use", "id": "call_2", "name": "glob", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "Run make setup."},
                    {"type": "tool_result", "tool_use_id": "call_2", "content": "a.py"},
                    {"type": "text", "text": "and?"},
                    {"type": "image",
                     "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                ],
            },
        ],
        "tools": [{"name": "view", "description": "Read a file",
                   "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"},
    }  # fmt: skip


def test_whole_answer_translation() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "private reasoning", "signature": "x"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "view", "input": {"path": "a"}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 7},
    }
    completion = to_chat_completion(message, model="claude-sonnet-4-5")
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [{"id": "toolu_1", "type": "function",
                                "function": {"name": "view", "arguments": '{"path":"a"}'}}],
            },
            "finish_reason": "tool_calls",
        }
    ]  # fmt: skip
    assert completion["usage"] == {"prompt_tokens": 15, "completion_tokens": 7, "total_tokens": 22}
    assert "private reasoning" not in json.dumps(completion)


def test_stream_translation_drops_thinking_and_maps_tool_calls() -> None:
    events = [
        ("message_start", {"message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 9}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "thinking"}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}}),
        ("content_block_start", {"index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "view"}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a"'}}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}}),
        ("message_stop", {}),
    ]  # fmt: skip
    translator = StreamTranslator(model="m")
    out: list[bytes] = []
    for name, payload in events:
        data = json.dumps({"type": name, **payload})
        out += translator.feed(f"event: {name}\ndata: {data}\n\n".encode())
    datas = [e.decode()[6:].strip() for e in out]
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert "hm" not in "".join(datas)
    assert [c["choices"][0]["delta"] if c["choices"] else c["usage"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"tool_calls": [{"index": 0, "id": "t1", "type": "function",
                         "function": {"name": "view", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]},
        {},
        {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    ]  # fmt: skip
    assert chunks[3]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.fixture
async def anthropic_server() -> AsyncIterator[ScriptedAnthropicServer]:
    async with ScriptedAnthropicServer(api_key=new_api_key()) as server:
        yield server


@pytest.fixture
async def gateway(start_gateway: Any, anthropic_server: ScriptedAnthropicServer) -> Any:
    return await start_gateway(
        upstream_kind="anthropic",
        upstream_base_url=anthropic_server.url,
        upstream_key=anthropic_server.api_key,
        allowed="claude-sonnet-4-5",
        model={"default": "claude-sonnet-4-5"},
    )


def body(messages: list[dict[str, Any]], *, stream: bool = True) -> dict[str, Any]:
    request: dict[str, Any] = {"model": "claude-sonnet-4-5", "messages": messages}
    if stream:
        request |= {"stream": True, "stream_options": {"include_usage": True}}
    return request


def chunks_of(raw: bytes) -> list[Any]:
    datas = [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]
    assert datas[-1] == "[DONE]"
    return [json.loads(d) for d in datas[:-1]]


async def test_streamed_text_and_usage_through_anthropic(
    gateway: Any, anthropic_server: ScriptedAnthropicServer
) -> None:
    anthropic_server.load(
        [{"reply": "Hello from Claude.", "chunk_chars": 4,
          "usage": {"prompt_tokens": 120, "completion_tokens": 6}}]
    )  # fmt: skip
    token = await gateway.issue("s-1")
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}]
    response = await gateway.chat(token, body(messages))

    assert response.status_code == 200
    chunks = chunks_of(response.content)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello from Claude."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 120,
        "completion_tokens": 6,
        "total_tokens": 126,
    }
    (record,) = anthropic_server.records
    assert record.auth_ok and record.body is not None
    assert record.body["system"] == "Be kind." and record.body["max_tokens"] == 8192
    assert record.headers["anthropic-version"] == "2023-06-01"
    assert await gateway.usage("s-1") == {"input_tokens": 120, "output_tokens": 6, "requests": 1}


async def test_tool_round_trip_through_anthropic(
    gateway: Any, anthropic_server: ScriptedAnthropicServer
) -> None:
    anthropic_server.load(
        [
            {"text": "Looking.", "tool_calls": [{"name": "view", "arguments": {"path": "README.md"}}],
             "arguments_chunk_chars": 5},
            {"match": {"last_role": "tool"}, "reply": "It says make setup."},
        ]
    )  # fmt: skip
    token = await gateway.issue("s-1")
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Read the README"}]
    first = chunks_of((await gateway.chat(token, body(messages))).content)
    calls: dict[int, dict[str, str]] = {}
    for chunk in first:
        for call in (
            (chunk["choices"][0]["delta"].get("tool_calls") or []) if chunk["choices"] else []
        ):
            entry = calls.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            entry["id"] = call.get("id", entry["id"])
            entry["name"] = call["function"].get("name", entry["name"])
            entry["arguments"] += call["function"].get("arguments", "")
    assert calls == {
        0: {"id": "toolu_stub1_0", "name": "view", "arguments": '{"path":"README.md"}'}
    }
    assert [c["choices"][0]["finish_reason"] for c in first if c["choices"]][-1] == "tool_calls"

    messages += [
        {"role": "assistant", "content": "Looking.",
         "tool_calls": [{"id": "toolu_stub1_0", "type": "function",
                         "function": {"name": "view", "arguments": calls[0]["arguments"]}}]},
        {"role": "tool", "tool_call_id": "toolu_stub1_0", "content": "make setup"},
    ]  # fmt: skip
    second = await gateway.chat(token, body(messages, stream=False))
    assert second.status_code == 200, second.text
    assert second.json()["choices"][0]["message"]["content"] == "It says make setup."
    assert second.json()["object"] == "chat.completion"


async def test_anthropic_errors_are_translated_and_overload_retried(
    gateway: Any, anthropic_server: ScriptedAnthropicServer
) -> None:
    anthropic_server.load(
        [
            {"error": {"status": 529, "message": "Overloaded"}},
            {"reply": "after overload"},
            {"error": {"status": 400, "message": "prompt is too long: 250000 tokens"}},
        ]
    )
    token = await gateway.issue("s-1")
    ok = await gateway.chat(token, body([{"role": "user", "content": "hi"}], stream=False))
    assert ok.json()["choices"][0]["message"]["content"] == "after overload"
    refused = await gateway.chat(token, body([{"role": "user", "content": "hi"}]))
    assert refused.status_code == 400
    assert "prompt is too long" in refused.json()["error"]["message"]
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert [r.status for r in anthropic_server.records] == [529, 200, 400]


async def test_the_stub_holds_the_gateway_to_the_api_rules(
    anthropic_server: ScriptedAnthropicServer,
) -> None:
    """The stub is only useful if it refuses what the real API refuses."""
    import httpx

    headers = {"x-api-key": str(anthropic_server.api_key), "anthropic-version": "2023-06-01"}
    bad = [
        {"model": "m", "messages": [{"role": "user", "content": "x"}]},  # no max_tokens
        {"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
        {"model": "m", "max_tokens": 5,
         "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]},
        {"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]},
            {"role": "user", "content": "no result"}]},
    ]  # fmt: skip
    async with httpx.AsyncClient() as client:
        for request in bad:
            response = await client.post(
                f"{anthropic_server.url}/v1/messages", json=request, headers=headers
            )
            assert response.status_code == 400, request
            assert response.json()["error"]["type"] == "invalid_request_error"
        unauthenticated = await client.post(
            f"{anthropic_server.url}/v1/messages", json=bad[0], headers={"x-api-key": "wrong"}
        )
        assert unauthenticated.status_code == 401
