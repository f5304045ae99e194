"""A scripted Anthropic Messages API server: the upstream for the model gateway's
``anthropic`` kind in offline tests.

It plays the same scripts as :class:`~cephalon_devkit.model.ScriptedModelServer` but
speaks Anthropic's wire format, as documented for ``POST /v1/messages``:

* auth by ``x-api-key`` (401 ``authentication_error`` otherwise) and a required
  ``anthropic-version`` header;
* the request rules a translation most easily gets wrong, each a 400
  ``invalid_request_error`` as the real API answers: ``model`` and ``max_tokens``
  required, roles only ``user``/``assistant`` (system goes top-level), the first
  message from the user, known content block types, every ``tool_use`` answered by a
  ``tool_result`` in the very next user message and no ``tool_result`` without one;
* streams as ``event:``/``data:`` pairs — ``message_start``, ``content_block_start``,
  ``ping``, ``content_block_delta`` (``text_delta``, ``input_json_delta``),
  ``content_block_stop``, ``message_delta`` (stop reason, output tokens),
  ``message_stop`` — and errors as ``{"type": "error", "error": {...}}`` (529
  ``overloaded_error``, 429 ``rate_limit_error`` with ``retry-after``).

For matching, a user message made only of ``tool_result`` blocks counts as role
``tool``, so the same ``match: {last_role: tool}`` scripts work for both servers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from cephalon_devkit.model.recording import redact_headers
from cephalon_devkit.model.responses import estimate_tokens, split_text
from cephalon_devkit.model.script import (
    ErrorSpec,
    ErrorStep,
    RateLimitStep,
    Script,
    ScriptCursor,
    TextStep,
    ToolCallStep,
    parse_script,
)
from cephalon_devkit.model.wire import ChatCompletionRequest
from cephalon_devkit.serving import LoopbackHttpServer

MESSAGES_PATH = "/v1/messages"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_BLOCK_TYPES = {"text", "image", "tool_use", "tool_result", "document", "thinking"}


class InvalidRequest(Exception):
    """The body breaks one of the Messages API's rules (answered 400)."""


@dataclass
class AnthropicRecord:
    seq: int
    headers: dict[str, str]
    """Credentials redacted."""
    auth_ok: bool
    body: dict[str, Any] | None = None
    status: int = 0
    outcome: str = "pending"
    error: str | None = None
    events: list[str] = field(default_factory=list)
    """Names of the stream events sent, in order."""


def error_body(status: int, message: str, type_: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": type_ or _ERROR_TYPES.get(status, "api_error"), "message": message},
    }


def validate(body: object) -> dict[str, Any]:
    """Raise :class:`InvalidRequest` naming the first rule the body breaks."""
    if not isinstance(body, dict):
        raise InvalidRequest("body: must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: Field required")
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        raise InvalidRequest("max_tokens: Field required")
    temperature = body.get("temperature")
    if temperature is not None and not 0 <= temperature <= 1:
        raise InvalidRequest("temperature: must be between 0 and 1")
    if "system" in body and not isinstance(body["system"], str | list):
        raise InvalidRequest("system: must be a string or a list of text blocks")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: at least one message is required")
    pending_tool_uses: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise InvalidRequest(
                f"messages.{i}.role: Input should be 'user' or 'assistant'"
                + (" (use the top-level system parameter)" if role == "system" else "")
            )
        if i == 0 and role != "user":
            raise InvalidRequest("messages.0.role: the first message must use the user role")
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not isinstance(blocks, list) or not blocks:
            raise InvalidRequest(f"messages.{i}.content: must be a string or non-empty list")
        answered: set[str] = set()
        for j, block in enumerate(blocks):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind not in _BLOCK_TYPES:
                raise InvalidRequest(f"messages.{i}.content.{j}.type: unknown block type {kind!r}")
            if kind == "tool_result":
                if role != "user" or block.get("tool_use_id") not in pending_tool_uses:
                    raise InvalidRequest(
                        f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                        "`tool_result` blocks; each must answer a `tool_use` of the "
                        "previous message"
                    )
                answered.add(block["tool_use_id"])
            if kind == "tool_use" and (
                role != "assistant" or not isinstance(block.get("input"), dict)
            ):
                raise InvalidRequest(f"messages.{i}.content.{j}: tool_use needs an object input")
        if pending_tool_uses - answered:
            raise InvalidRequest(
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {sorted(pending_tool_uses - answered)}"
            )
        pending_tool_uses = {
            b["id"] for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"
        }
    return body


def chat_view(body: dict[str, Any]) -> ChatCompletionRequest:
    """The request as chat messages, so script ``match`` rules apply unchanged."""
    messages: list[Any] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        only_results = all(b.get("type") == "tool_result" for b in blocks)
        role = "tool" if message.get("role") == "user" and only_results else message.get("role")
        messages.append({"role": role, "content": text})
    return {"model": body.get("model", ""), "messages": messages}


def _event(name: str, payload: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


class ScriptedAnthropicServer(LoopbackHttpServer):
    """``async with ScriptedAnthropicServer(script, api_key=...) as server`` — point an
    Anthropic client at :attr:`url` (the API root, without ``/v1``)."""

    def __init__(
        self, script: Script | list[Any] | None = None, *, api_key: str | None = None
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self._cursor = ScriptCursor(_as_script(script))
        self.records: list[AnthropicRecord] = []

    def load(self, script: Script | list[Any]) -> None:
        self._cursor = ScriptCursor(_as_script(script))

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(MESSAGES_PATH, self._messages)
        return app

    def _auth_ok(self, header: str | None) -> bool:
        if self.api_key is None:
            return True
        return header is not None and hmac.compare_digest(header.encode(), self.api_key.encode())

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        record = AnthropicRecord(
            seq=len(self.records) + 1,
            headers=redact_headers(request.headers),
            auth_ok=self._auth_ok(request.headers.get("x-api-key")),
        )
        self.records.append(record)

        def fail(status: int, message: str, **headers: str) -> web.Response:
            record.status, record.outcome, record.error = status, "error", message
            return web.json_response(error_body(status, message), status=status, headers=headers)

        if not record.auth_ok:
            return fail(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return fail(400, "anthropic-version: header is required")
        try:
            body = validate(await request.json())
        except json.JSONDecodeError:
            return fail(400, "body: not valid JSON")
        except InvalidRequest as e:
            return fail(400, str(e))
        record.body = body
        view = chat_view(body)
        picked = self._cursor.next(view)
        if picked is None:
            return fail(500, f"model script exhausted at request #{record.seq}")
        _, step = picked
        if step.first_byte_delay_ms:
            await asyncio.sleep(step.first_byte_delay_ms / 1000)
        if isinstance(step, ErrorStep | RateLimitStep):
            spec: ErrorSpec = step.error if isinstance(step, ErrorStep) else step.as_error()
            extra = {"retry-after": str(spec.retry_after)} if spec.retry_after is not None else {}
            return fail(spec.status, spec.message, **extra)
        assert isinstance(step, TextStep | ToolCallStep)
        input_tokens = step.usage.prompt_tokens if step.usage else estimate_tokens(json.dumps(body))
        blocks = _blocks(step, record.seq)
        output_tokens = (
            step.usage.completion_tokens
            if step.usage
            else estimate_tokens(json.dumps([b.get("text") or b.get("input") for b in blocks]))
        )
        stop_reason = "tool_use" if isinstance(step, ToolCallStep) else (
            "max_tokens" if step.finish_reason == "length" else "end_turn"
        )  # fmt: skip
        message = {
            "id": f"msg_stub{record.seq}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
        if not body.get("stream"):
            record.status, record.outcome = 200, "completed"
            return web.json_response(message)
        return await self._stream(request, record, step, message)

    async def _stream(
        self,
        request: web.Request,
        record: AnthropicRecord,
        step: TextStep | ToolCallStep,
        message: dict[str, Any],
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200, headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
        )
        await response.prepare(request)
        record.status = 200
        delay = step.delay_ms / 1000

        async def send(name: str, payload: dict[str, Any]) -> None:
            await response.write(_event(name, {"type": name, **payload}))
            record.events.append(name)

        start = {**message, "content": [], "stop_reason": None}
        start["usage"] = {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1}
        await send("message_start", {"message": start})
        await send("ping", {})
        sent = 0
        for index, block in enumerate(message["content"]):
            if block["type"] == "text":
                await send(
                    "content_block_start",
                    {"index": index, "content_block": {"type": "text", "text": ""}},
                )
                size = step.chunk_chars if isinstance(step, TextStep) else 16
                pieces = split_text(block["text"], size)
                deltas = [{"type": "text_delta", "text": p} for p in pieces]
            else:
                header = {**block, "input": {}}
                await send("content_block_start", {"index": index, "content_block": header})
                size = step.arguments_chunk_chars if isinstance(step, ToolCallStep) else 24
                arguments = json.dumps(block["input"], separators=(",", ":"))
                deltas = [
                    {"type": "input_json_delta", "partial_json": p}
                    for p in split_text(arguments, size)
                ]
            for delta in deltas:
                if isinstance(step, TextStep) and sent == step.break_after_chunks:
                    return await self._cut(request, response, record, step)
                if sent and delay:
                    await asyncio.sleep(delay)
                await send("content_block_delta", {"index": index, "delta": delta})
                sent += 1
            await send("content_block_stop", {"index": index})
        if isinstance(step, TextStep) and (
            step.break_after_chunks is not None or step.stream_error is not None
        ):
            return await self._cut(request, response, record, step)
        await send(
            "message_delta",
            {
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        )
        await send("message_stop", {})
        await response.write_eof()
        record.outcome = "completed"
        return response

    async def _cut(
        self,
        request: web.Request,
        response: web.StreamResponse,
        record: AnthropicRecord,
        step: TextStep,
    ) -> web.StreamResponse:
        if step.stream_error is not None:
            error = {"type": step.stream_error.type, "message": step.stream_error.message}
            await response.write(_event("error", {"type": "error", "error": error}))
            record.events.append("error")
            await response.write_eof()
            record.outcome = "stream_error"
            return response
        if request.transport is not None:
            request.transport.abort()
        record.outcome = "broken"
        return response


def _blocks(step: TextStep | ToolCallStep, seq: int) -> list[dict[str, Any]]:
    if isinstance(step, TextStep):
        return [{"type": "text", "text": step.reply}]
    blocks: list[dict[str, Any]] = [{"type": "text", "text": step.text}] if step.text else []
    for i, call in enumerate(step.tool_calls):
        arguments = call.arguments if isinstance(call.arguments, dict) else {"raw": call.arguments}
        blocks.append(
            {"type": "tool_use", "id": call.id or f"toolu_stub{seq}_{i}", "name": call.name,
             "input": arguments}
        )  # fmt: skip
    return blocks


def _as_script(script: Script | list[Any] | None) -> Script:
    if script is None:
        return Script()
    return script if isinstance(script, Script) else parse_script(script)
