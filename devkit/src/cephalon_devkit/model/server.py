"""The scripted model server: an aiohttp app that plays an OpenAI-compatible provider.

It answers what the pinned Copilot CLI (1.0.102) actually calls in BYOK mode —
``POST /v1/chat/completions`` with ``stream: true`` and
``stream_options.include_usage`` (measured: no ``/v1/models``, no ``/v1/responses``
unless a provider sets ``wire_api="responses"``) — plus ``GET /v1/models`` for clients
that list models. Any other path is recorded and answered 404, so a test can see when a
client starts calling something new.

One server is one provider with one expected credential and one script; tests make as
many as they need (no module-level state).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, cast

import structlog
from aiohttp import web

from cephalon_devkit.model.recording import Outcome, RecordedRequest, redact_headers
from cephalon_devkit.model.responses import (
    chunk,
    completion,
    error_body,
    estimate_tokens,
    model_list,
    prompt_tokens,
    scripted_error,
    split_text,
    sse,
    tool_call_deltas,
    tool_call_ids,
    usage,
    usage_chunk,
)
from cephalon_devkit.model.script import (
    ErrorSpec,
    ErrorStep,
    RateLimitStep,
    Script,
    ScriptCursor,
    Step,
    TextStep,
    ToolCallStep,
    parse_script,
    step_kind,
)
from cephalon_devkit.model.wire import ChatCompletionRequest, Delta, FinishReason, Usage
from cephalon_devkit.serving import LoopbackHttpServer

CHAT_PATH = "/v1/chat/completions"


class _Cut(Exception):
    """The script ended the answer early (``break_after_chunks``, ``stream_error``)."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


class ScriptedModelServer(LoopbackHttpServer):
    """An OpenAI-compatible model provider on 127.0.0.1 that answers from a script.

    ``api_key=None`` accepts any request; otherwise a request must carry
    ``Authorization: Bearer <api_key>`` or it gets OpenAI's 401 ``invalid_api_key``
    (and uses up no step). Use as ``async with ScriptedModelServer(script) as server``
    and point the client at :attr:`base_url`.
    """

    def __init__(
        self,
        script: Script | list[Any] | None = None,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self._cursor = ScriptCursor(_as_script(script))
        self._records: list[RecordedRequest] = []
        self._changed = asyncio.Condition()
        self._log = structlog.get_logger("cephalon_devkit.model")

    # --- lifecycle -------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application, for embedding in another server or test client."""
        app = web.Application()
        app.router.add_post(CHAT_PATH, self._chat_completions)
        app.router.add_get("/v1/models", self._models)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        return app

    def on_started(self) -> None:
        self._log.info("model_stub_started", base_url=self.base_url, auth=self.api_key is not None)

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as its base URL (ends in ``/v1``)."""
        return f"{self.url}/v1"

    # --- script and records ----------------------------------------------------------

    @property
    def script(self) -> Script:
        return self._cursor.script

    def load(self, script: Script | list[Any]) -> None:
        """Replace the script (a :class:`Script`, or a list of step dicts) and start it
        from its first step; records are kept."""
        self._cursor = ScriptCursor(_as_script(script))

    def unused_steps(self) -> list[Step]:
        return self._cursor.unused()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request seen, oldest first (a copy; records themselves are live)."""
        return list(self._records)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self._records if r.path == CHAT_PATH]

    def clear_requests(self) -> None:
        self._records.clear()

    async def wait_for(
        self,
        predicate: Callable[[list[RecordedRequest]], bool],
        *,
        timeout: float = 10.0,
    ) -> list[RecordedRequest]:
        """Wait until ``predicate(records)`` holds; records change when a request
        arrives and when its answer finishes."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: predicate(self._records)), timeout
            )
        return list(self._records)

    async def wait_for_requests(
        self, count: int, *, finished: bool = True, timeout: float = 10.0
    ) -> list[RecordedRequest]:
        """Wait for ``count`` chat-completion requests (answered, unless
        ``finished=False``) and return the chat-completion records."""

        def enough(records: list[RecordedRequest]) -> bool:
            chats = [r for r in records if r.path == CHAT_PATH]
            if finished:
                chats = [r for r in chats if r.finished_at is not None]
            return len(chats) >= count

        await self.wait_for(enough, timeout=timeout)
        return self.chat_requests

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # --- handlers --------------------------------------------------------------------

    def _record(self, request: web.Request) -> RecordedRequest:
        record = RecordedRequest(
            seq=len(self._records) + 1,
            method=request.method,
            path=request.path,
            headers=redact_headers(request.headers),
            auth_ok=self._auth_ok(request.headers.get("Authorization")),
        )
        self._records.append(record)
        return record

    def _auth_ok(self, header: str | None) -> bool:
        if self.api_key is None:
            return True
        expected = f"Bearer {self.api_key}".encode()
        return header is not None and hmac.compare_digest(header.encode(), expected)

    async def _finish(self, record: RecordedRequest, status: int, outcome: Outcome) -> None:
        record.status = status
        record.outcome = outcome
        record.finished_at = time.monotonic()
        if record.first_byte_at is None and outcome != "broken":
            record.first_byte_at = record.finished_at
        self._log.info(
            "model_stub_request",
            seq=record.seq,
            path=record.path,
            model=record.model,
            stream=record.stream,
            auth_ok=record.auth_ok,
            step=record.step_index,
            kind=record.step_kind,
            status=status,
            outcome=outcome,
        )
        await self._notify()

    async def _reject(self, record: RecordedRequest) -> web.Response:
        await self._finish(record, 401, "rejected")
        body = error_body("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        return web.json_response(body, status=401)

    async def _models(self, request: web.Request) -> web.Response:
        record = self._record(request)
        await self._notify()
        if not record.auth_ok:
            return await self._reject(record)
        await self._finish(record, 200, "completed")
        return web.json_response(model_list(self.script.models))

    async def _unknown(self, request: web.Request) -> web.Response:
        record = self._record(request)
        await request.read()
        await self._finish(record, 404, "error")
        message = f"{request.method} {request.path} is not served by the model stub"
        return web.json_response(error_body(message, "invalid_request_error"), status=404)

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request)
        await self._notify()
        if not record.auth_ok:
            return await self._reject(record)
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            await self._finish(record, 400, "error")
            message = "The body must be a JSON object with a 'messages' array."
            return web.json_response(error_body(message, "invalid_request_error"), status=400)
        chat = cast(ChatCompletionRequest, body)
        record.body = chat

        picked = self._cursor.next(chat)
        if picked is None:
            await self._finish(record, 500, "exhausted")
            message = (
                f"model script exhausted: no step matches request #{record.seq} "
                f"(last user message {record.last_user_text[-200:]!r})"
            )
            self._log.warning("model_stub_script_exhausted", seq=record.seq)
            return web.json_response(error_body(message, "server_error"), status=500)
        index, step = picked
        record.step_index = index
        record.step_kind = step_kind(step)
        record.step_label = step.label

        if step.first_byte_delay_ms:
            await asyncio.sleep(step.first_byte_delay_ms / 1000)
        if isinstance(step, ErrorStep | RateLimitStep):
            spec: ErrorSpec = step.error if isinstance(step, ErrorStep) else step.as_error()
            text, headers = scripted_error(spec)
            await self._finish(record, spec.status, "error")
            raw = isinstance(spec.body, str)
            content_type = (
                ("text/html" if text.lstrip().startswith("<") else "text/plain")
                if raw
                else "application/json"
            )
            return web.Response(
                status=spec.status, text=text, headers=headers, content_type=content_type
            )
        assert isinstance(step, TextStep | ToolCallStep)
        if chat.get("stream"):
            return await self._stream(request, record, chat, step)
        return await self._complete(request, record, chat, step)

    async def _complete(
        self,
        request: web.Request,
        record: RecordedRequest,
        chat: ChatCompletionRequest,
        step: TextStep | ToolCallStep,
    ) -> web.StreamResponse:
        if isinstance(step, TextStep) and step.stream_error is not None:
            error = step.stream_error
            await self._finish(record, 500, "stream_error")
            body = error_body(error.message, error.type, error.code)
            return web.json_response(body, status=500)
        if isinstance(step, TextStep) and step.break_after_chunks is not None:
            try:
                await self._cut(request, response=None, step=step)
            except _Cut:
                await self._finish(record, 0, "broken")
                return web.Response()  # never reaches the client: the socket is gone
        completion_id = f"chatcmpl-stub{record.seq}"
        model = chat.get("model") or "cephalon-stub"
        if isinstance(step, TextStep):
            content: str | None = step.reply
            calls, ids = [], []
            finish: FinishReason = step.finish_reason
        else:
            content = step.text
            calls = step.tool_calls
            ids = tool_call_ids(calls, str(record.seq))
            finish = "tool_calls"
        payload = completion(
            completion_id,
            model,
            int(time.time()),
            content,
            calls,
            ids,
            finish,
            _usage(chat, step),
        )
        await self._finish(record, 200, "completed")
        return web.json_response(payload)

    async def _stream(
        self,
        request: web.Request,
        record: RecordedRequest,
        chat: ChatCompletionRequest,
        step: TextStep | ToolCallStep,
    ) -> web.StreamResponse:
        completion_id = f"chatcmpl-stub{record.seq}"
        model = chat.get("model") or "cephalon-stub"
        created = int(time.time())
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        try:
            await response.prepare(request)
            record.first_byte_at = time.monotonic()

            async def send(delta: Delta, finish: FinishReason | None = None) -> None:
                await response.write(sse(chunk(completion_id, model, created, delta, finish)))
                record.chunks_sent += 1
                await self._notify()  # lets a test act mid-stream (wait_for on chunks_sent)

            if isinstance(step, TextStep):
                await send({"role": "assistant", "content": ""})
                for i, piece in enumerate(split_text(step.reply, step.chunk_chars)):
                    if i == step.break_after_chunks:
                        await self._cut(request, response, step)
                    if i and step.delay_ms:
                        await asyncio.sleep(step.delay_ms / 1000)
                    await send({"content": piece})
                if step.break_after_chunks is not None or step.stream_error is not None:
                    await self._cut(request, response, step)
                finish: FinishReason = step.finish_reason
            else:
                await send({"role": "assistant", "content": None})
                text_deltas: list[Delta] = [{"content": p} for p in split_text(step.text or "", 16)]
                pieces = text_deltas + tool_call_deltas(
                    step.tool_calls,
                    tool_call_ids(step.tool_calls, str(record.seq)),
                    step.arguments_chunk_chars,
                )
                for i, delta in enumerate(pieces):
                    if i and step.delay_ms:
                        await asyncio.sleep(step.delay_ms / 1000)
                    await send(delta)
                finish = "tool_calls"
            await send({}, finish)
            if record.include_usage:
                await response.write(
                    sse(usage_chunk(completion_id, model, created, _usage(chat, step)))
                )
                record.chunks_sent += 1
            await response.write(sse("[DONE]"))
            await response.write_eof()
        except _Cut as cut:
            await self._finish(record, 200, cut.outcome)  # the status line had gone out
            return response
        except ConnectionResetError:
            await self._finish(record, 200, "client_disconnected")
            return response
        await self._finish(record, 200, "completed")
        return response

    async def _cut(
        self, request: web.Request, response: web.StreamResponse | None, step: TextStep
    ) -> None:
        """End the answer early: with an SSE error event and a clean end of the body if
        the step has ``stream_error``, else by dropping the TCP connection as a
        crashing upstream would (no finish chunk, no ``[DONE]``, no last chunk)."""
        if step.stream_error is not None and response is not None:
            error = step.stream_error
            payload = json.dumps(error_body(error.message, error.type, error.code))
            await response.write(f"data: {payload}\n\n".encode())
            await response.write_eof()
            raise _Cut("stream_error")
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise _Cut("broken")


def _as_script(script: Script | list[Any] | None) -> Script:
    if script is None:
        return Script()
    if isinstance(script, Script):
        return script
    return parse_script(script)


def _usage(chat: ChatCompletionRequest, step: TextStep | ToolCallStep) -> Usage:
    if step.usage is not None:
        return usage(step.usage.prompt_tokens, step.usage.completion_tokens)
    if isinstance(step, TextStep):
        produced = step.reply
    else:
        produced = (step.text or "") + "".join(c.arguments_json() for c in step.tool_calls)
    return usage(prompt_tokens(chat), estimate_tokens(produced))
