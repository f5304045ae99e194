"""The pure wire builders against the exact dicts OpenAI documents."""

from __future__ import annotations

from cephalon_devkit.model import ErrorSpec, ScriptedToolCall, redact_headers
from cephalon_devkit.model.responses import (
    chunk,
    completion,
    scripted_error,
    split_text,
    sse,
    tool_call_deltas,
    usage,
    usage_chunk,
)


def test_chunk_and_sse_framing() -> None:
    built = chunk("chatcmpl-1", "gpt-4.1", 1700000000, {"content": "Hi"})
    assert built == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
    }
    assert sse(built).startswith(b'data: {"id":"chatcmpl-1",')
    assert sse(built).endswith(b"}\n\n")
    assert sse("[DONE]") == b"data: [DONE]\n\n"


def test_usage_chunk_has_no_choices() -> None:
    assert usage_chunk("c", "m", 0, usage(10, 2)) == {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
    }


def test_tool_call_deltas_exact() -> None:
    calls = [ScriptedToolCall(name="view", arguments={"path": "/a"})]
    assert tool_call_deltas(calls, ["call_1"], 6) == [
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "view", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"path'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '":"/a"'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]},
    ]


def test_non_streamed_completion_with_tool_calls() -> None:
    calls = [ScriptedToolCall(name="bash", arguments={"command": "ls"})]
    assert completion("c", "m", 0, None, calls, ["call_9"], "tool_calls", usage(5, 1)) == {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "bash", "arguments": '{"command":"ls"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


def test_scripted_error_headers_only_when_set() -> None:
    assert scripted_error(ErrorSpec(status=500)) == (
        '{"error": {"message": "The server had an error while processing your request.", '
        '"type": "server_error", "param": null, "code": null}}',
        {},
    )
    _, headers = scripted_error(ErrorSpec(status=429, retry_after=0, retry_after_ms=250))
    assert headers == {"Retry-After": "0", "retry-after-ms": "250"}


def test_split_text_keeps_every_character() -> None:
    assert split_text("abcdefg", 3) == ["abc", "def", "g"]
    assert split_text("", 3) == []


def test_redaction_covers_every_credential_header_case_insensitively() -> None:
    headers = {
        "authorization": "Bearer sk-1",
        "Api-Key": "k2",
        "X-API-KEY": "k3",
        "Proxy-Authorization": "Basic x",
        "Content-Type": "application/json",
    }
    assert redact_headers(headers) == {
        "authorization": "<redacted>",
        "Api-Key": "<redacted>",
        "X-API-KEY": "<redacted>",
        "Proxy-Authorization": "<redacted>",
        "Content-Type": "application/json",
    }
