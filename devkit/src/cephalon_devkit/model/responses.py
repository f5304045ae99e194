"""Pure builders for what the stub sends: chunks, completions, errors, usage.

Kept free of I/O so the exact wire shapes can be tested against literal dicts and
reused by anything else that has to speak OpenAI (the model gateway's tests build
expected chunks with them).
"""

from __future__ import annotations

import json
import math

from cephalon_devkit.model.script import ErrorSpec, ScriptedToolCall
from cephalon_devkit.model.wire import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Delta,
    ErrorBody,
    FinishReason,
    ModelList,
    ToolCall,
    Usage,
)


def sse(data: ChatCompletionChunk | str) -> bytes:
    """One server-sent event; a ``str`` is sent raw (``[DONE]``)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


def split_text(text: str, size: int) -> list[str]:
    """Cut ``text`` into pieces of ``size`` characters (the last may be shorter)."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate (4 characters a token, at least 1 for non-empty)."""
    return math.ceil(len(text) / 4)


def prompt_tokens(request: ChatCompletionRequest) -> int:
    """Estimate over messages and tool definitions, as the client would be billed."""
    text = json.dumps(request.get("messages") or []) + json.dumps(request.get("tools") or [])
    return estimate_tokens(text)


def usage(prompt: int, completion: int) -> Usage:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def chunk(
    completion_id: str,
    model: str,
    created: int,
    delta: Delta,
    finish_reason: FinishReason | None = None,
) -> ChatCompletionChunk:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def usage_chunk(completion_id: str, model: str, created: int, counts: Usage) -> ChatCompletionChunk:
    """The extra last chunk OpenAI sends for ``stream_options.include_usage``."""
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": counts,
    }


def tool_call_ids(calls: list[ScriptedToolCall], prefix: str) -> list[str]:
    return [call.id or f"call_{prefix}_{i}" for i, call in enumerate(calls)]


def tool_call_deltas(
    calls: list[ScriptedToolCall], ids: list[str], arguments_chunk_chars: int
) -> list[Delta]:
    """OpenAI's tool-call streaming: a header delta per call (id, name, empty
    arguments), then the arguments JSON in pieces addressed by ``index``."""
    deltas: list[Delta] = []
    for index, (call, call_id) in enumerate(zip(calls, ids, strict=True)):
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": ""},
                    }
                ]
            }
        )
        for piece in split_text(call.arguments_json(), arguments_chunk_chars):
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    return deltas


def completion(
    completion_id: str,
    model: str,
    created: int,
    content: str | None,
    calls: list[ScriptedToolCall],
    ids: list[str],
    finish_reason: FinishReason,
    counts: Usage,
) -> ChatCompletion:
    """A whole non-streamed ``chat.completion`` object."""
    message: AssistantMessage = {"role": "assistant", "content": content}
    if calls:
        tool_calls: list[ToolCall] = [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for call, call_id in zip(calls, ids, strict=True)
        ]
        message["tool_calls"] = tool_calls
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": counts,
    }


def error_body(message: str, type_: str, code: str | None = None) -> ErrorBody:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def scripted_error(spec: ErrorSpec) -> tuple[str, dict[str, str]]:
    """Body text and extra headers of a scripted error answer."""
    headers: dict[str, str] = {}
    if spec.retry_after is not None:
        headers["Retry-After"] = str(spec.retry_after)
    if spec.retry_after_ms is not None:
        headers["retry-after-ms"] = str(spec.retry_after_ms)
    if isinstance(spec.body, str):
        return spec.body, headers
    body = spec.body if spec.body is not None else error_body(spec.message, spec.type, spec.code)
    return json.dumps(body), headers


def model_list(ids: list[str]) -> ModelList:
    return {
        "object": "list",
        "data": [
            {"id": i, "object": "model", "created": 0, "owned_by": "cephalon-devkit"} for i in ids
        ],
    }
