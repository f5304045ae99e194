"""OpenAI chat completions ↔ Anthropic Messages API, both directions, streaming too.

Pure functions and one small state machine, so each wire shape is testable against
literal dicts. What maps where:

* ``system``/``developer`` messages → the top-level ``system`` string;
* ``tool`` messages → ``tool_result`` blocks in a ``user`` message; assistant
  ``tool_calls`` → ``tool_use`` blocks; consecutive same-role messages are merged
  (Anthropic requires alternation);
* ``tools`` → ``{name, description, input_schema}``; ``tool_choice`` auto/none/required
  /named → auto/none/any/tool; ``stop`` → ``stop_sequences``; ``max_tokens`` is
  required by Anthropic, so a default is sent when the request has none;
* answers: ``text`` → ``content``, ``tool_use`` → ``tool_calls``, ``stop_reason`` →
  ``finish_reason``, ``usage`` (cache reads and writes count as prompt tokens);
  ``thinking`` blocks are dropped — no raw chain of thought leaves the gateway.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .sse import DONE, encode, event_fields

JsonObject = dict[str, Any]

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
#: Anthropic error types → the OpenAI error types clients act on.
ERROR_TYPES = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "invalid_request_error",
    "permission_error": "invalid_request_error",
    "not_found_error": "invalid_request_error",
    "request_too_large": "invalid_request_error",
    "rate_limit_error": "requests",
    "api_error": "server_error",
    "overloaded_error": "server_error",
}


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def _user_blocks(content: object) -> list[JsonObject]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[JsonObject] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and part.get("text"):
            blocks.append({"type": "text", "text": str(part["text"])})
        elif part.get("type") == "image_url":
            image = part.get("image_url") or {}
            url = str(image.get("url", "")) if isinstance(image, dict) else ""
            if url.startswith("data:") and ";base64," in url:
                media_type, _, data = url[5:].partition(";base64,")
                source: JsonObject = {"type": "base64", "media_type": media_type, "data": data}
            else:
                source = {"type": "url", "url": url}
            blocks.append({"type": "image", "source": source})
    return blocks


def _arguments(raw: object) -> JsonObject:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"value": value}


def _tool_choice(choice: object) -> JsonObject | None:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "tool", "name": str(choice["function"].get("name", ""))}
    return None


def to_messages_request(chat: JsonObject, *, default_max_tokens: int) -> JsonObject:
    """The Anthropic ``POST /v1/messages`` body for an OpenAI chat-completions body."""
    system: list[str] = []
    messages: list[JsonObject] = []

    def append(role: str, blocks: list[JsonObject]) -> None:
        if not blocks:
            return
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": list(blocks)})

    for message in chat.get("messages") or []:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            if text := _text(content):
                system.append(text)
        elif role == "user":
            append("user", _user_blocks(content))
        elif role == "assistant":
            blocks: list[JsonObject] = []
            if text := _text(content):
                blocks.append({"type": "text", "text": text})
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": str(call.get("id", "")),
                        "name": str(function.get("name", "")),
                        "input": _arguments(function.get("arguments")),
                    }
                )
            append("assistant", blocks)
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": str(message.get("tool_call_id", "")),
                "content": _text(content),
            }
            append("user", [result])

    body: JsonObject = {
        "model": chat.get("model"),
        "max_tokens": int(
            chat.get("max_completion_tokens") or chat.get("max_tokens") or default_max_tokens
        ),
        "messages": messages,
    }
    if system:
        body["system"] = "\n\n".join(system)
    if chat.get("stream"):
        body["stream"] = True
    if isinstance(chat.get("temperature"), int | float):
        body["temperature"] = min(1.0, max(0.0, float(chat["temperature"])))
    if isinstance(chat.get("top_p"), int | float):
        body["top_p"] = float(chat["top_p"])
    stop = chat.get("stop")
    if stop:
        body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    tools = [
        {
            "name": str(fn.get("name", "")),
            "description": str(fn.get("description", "")),
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
        }
        for tool in chat.get("tools") or []
        if isinstance(fn := tool.get("function"), dict)
    ]
    if tools:
        body["tools"] = tools
        choice = _tool_choice(chat.get("tool_choice"))
        if choice is not None:
            body["tool_choice"] = choice
    return body


def to_usage(usage: JsonObject) -> JsonObject:
    prompt = sum(
        int(usage.get(k) or 0)
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def to_chat_completion(message: JsonObject, *, model: str) -> JsonObject:
    """An OpenAI ``chat.completion`` for an Anthropic (non-streamed) message."""
    text = ""
    calls: list[JsonObject] = []
    for block in message.get("content") or []:
        if block.get("type") == "text":
            text += str(block.get("text", ""))
        elif block.get("type") == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name", "")),
                        "arguments": json.dumps(block.get("input") or {}, separators=(",", ":")),
                    },
                }
            )
    reply: JsonObject = {"role": "assistant", "content": text or None}
    if calls:
        reply["tool_calls"] = calls
    return {
        "id": str(message.get("id", "")),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(message.get("model") or model),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "finish_reason": FINISH_REASONS.get(str(message.get("stop_reason")), "stop"),
            }
        ],
        "usage": to_usage(message.get("usage") or {}),
    }


def error_message(body: bytes) -> tuple[str, str]:
    """``(message, openai_type)`` of an Anthropic error body."""
    try:
        error = json.loads(body).get("error") or {}
        return str(error.get("message", "")), ERROR_TYPES.get(str(error.get("type")), "api_error")
    except (ValueError, AttributeError):
        return body[:500].decode("utf-8", "replace"), "api_error"


class StreamTranslator:
    """Anthropic stream events in, OpenAI ``chat.completion.chunk`` events out.

    It always emits the usage chunk (the proxy drops it for clients that did not ask).
    """

    def __init__(self, *, model: str) -> None:
        self._id = "chatcmpl-anthropic"
        self._model = model
        self._created = int(time.time())
        self._usage: JsonObject = {}
        self._tool_index: dict[int, int] = {}
        self._finish: str | None = None

    def _chunk(self, delta: JsonObject, finish: str | None = None) -> bytes:
        return encode(
            {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    def feed(self, event: bytes) -> list[bytes]:
        name, data = event_fields(event)
        if not data:
            return []
        try:
            payload = json.loads(data)
        except ValueError:
            return []
        kind = payload.get("type") or name
        if kind == "message_start":
            message = payload.get("message") or {}
            self._id = str(message.get("id") or self._id)
            self._model = str(message.get("model") or self._model)
            self._usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            block = payload.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self._tool_index.setdefault(
                    int(payload.get("index", 0)), len(self._tool_index)
                )
                call = {
                    "index": index,
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {"name": str(block.get("name", "")), "arguments": ""},
                }
                return [self._chunk({"tool_calls": [call]})]
            if block.get("type") == "text" and block.get("text"):
                return [self._chunk({"content": str(block["text"])})]
            return []
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [self._chunk({"content": str(delta.get("text", ""))})]
            if delta.get("type") == "input_json_delta":
                index = self._tool_index.get(int(payload.get("index", 0)), 0)
                arguments = str(delta.get("partial_json", ""))
                return [
                    self._chunk(
                        {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}
                    )
                ]
            return []  # thinking and signature deltas never leave the gateway
        if kind == "message_delta":
            self._usage.update(
                {k: v for k, v in (payload.get("usage") or {}).items() if v is not None}
            )
            reason = (payload.get("delta") or {}).get("stop_reason")
            if reason:
                self._finish = FINISH_REASONS.get(str(reason), "stop")
                return [self._chunk({}, self._finish)]
            return []
        if kind == "message_stop":
            usage_chunk = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self._model,
                "choices": [],
                "usage": to_usage(self._usage),
            }
            return [encode(usage_chunk), DONE]
        if kind == "error":
            error = payload.get("error") or {}
            body = {
                "error": {
                    "message": str(error.get("message", "")),
                    "type": ERROR_TYPES.get(str(error.get("type")), "server_error"),
                    "param": None,
                    "code": str(error.get("type")) if error.get("type") else None,
                }
            }
            return [encode(body)]
        return []  # ping and unknown events
