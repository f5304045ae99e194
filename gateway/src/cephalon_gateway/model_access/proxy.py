"""One chat completion end to end: allowlist, budgets, concurrency, the upstream call
with retries and the circuit breaker, the relay of the answer, the usage record.

Retries happen only before anything went to the client. For a stream that means until
the first event of a ``200`` answer has arrived (a provider that accepts the request and
then dies before its first event is retried too); from then on the client has bytes,
and a failure is sent to it as an OpenAI-style SSE ``error`` event — never retried,
since a retry would duplicate what it already showed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import httpx
import structlog
from prometheus_client import Gauge
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .auth import SessionIdentity
from .breaker import CircuitBreaker
from .concurrency import ConcurrencyLimiter, Slot
from .errors import (
    BadUpstreamResponseError,
    ModelNotAllowedError,
    UpstreamCredentialError,
    UpstreamError,
    UpstreamRateLimitedError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from .metrics import Metrics
from .redaction import Redactor
from .retrying import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after
from .settings import GatewaySettings
from .sse import SseSplitter, encode, event_fields, usage_of
from .upstreams import StreamTranslator, Upstream
from .usage import Usage, UsageLedger

JsonObject = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RequestContext:
    identity: SessionIdentity
    trace_id: str
    started: float
    log: structlog.stdlib.BoundLogger
    request_bytes: int = 0
    """Size of the client's body: the fallback estimate of prompt tokens (bytes / 4)."""


@dataclass(frozen=True, slots=True)
class _Opened:
    response: httpx.Response
    events: AsyncGenerator[list[bytes], None]
    first: list[bytes]


class _EmptyStream(httpx.TransportError):
    """The provider answered 200 and then closed the stream without a single event."""


class ChatProxy:
    def __init__(
        self,
        *,
        settings: GatewaySettings,
        upstream: Upstream,
        clients: Sequence[httpx.AsyncClient],
        ledger: UsageLedger,
        limiter: ConcurrencyLimiter,
        breaker: CircuitBreaker,
        retry: RetryPolicy,
        metrics: Metrics,
        redactor: Redactor,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.upstream = upstream
        self._clients = clients
        self._next_client = itertools.cycle(range(len(clients)))
        self.ledger = ledger
        self._limiter = limiter
        self.breaker = breaker
        self._retry = retry
        self.metrics = metrics
        self._redactor = redactor
        self._sleep = sleep
        self._allowed = settings.model.allowlist()

    @property
    def tenant(self) -> str:
        return self.settings.tenant

    def model_for(self, body: JsonObject) -> str:
        model = body.get("model") or self.settings.model.default
        if not isinstance(model, str) or model not in self._allowed:
            raise ModelNotAllowedError(
                f"model {str(model)[:100]!r} is not allowed for this tenant; "
                f"allowed: {', '.join(sorted(self._allowed))}"
            )
        return model

    async def complete(self, ctx: RequestContext, body: JsonObject) -> Response:
        model = self.model_for(body)
        body["model"] = model
        await self.ledger.check_budgets(ctx.identity.session_id)
        stream = bool(body.get("stream"))
        options = body.get("stream_options")
        wants_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        if stream:  # the gateway needs the counts even when the client does not
            body["stream_options"] = {**(options if isinstance(options, dict) else {}),
                                      "include_usage": True}  # fmt: skip
        hold = _Hold(await self._limiter.acquire(), self.metrics.in_flight.labels(self.tenant))
        try:
            if stream:
                translator = self.upstream.stream_translator(model)
                opened = await self._with_retries(ctx, body, lambda r: self._open(r, translator))
            else:
                whole = await self._complete_whole(ctx, body, model)
        except BaseException:
            await hold.release()
            raise
        if not stream:
            await hold.release()
            return whole
        relay = StreamRelay(self, ctx, model, opened, hold=hold, wants_usage=wants_usage)
        return RelayResponse(relay, headers={"x-cephalon-trace-id": ctx.trace_id})

    # --- upstream calls ---------------------------------------------------------------

    async def _open(self, response: httpx.Response, translator: StreamTranslator) -> _Opened:
        events = self._events(response, translator)
        try:
            first = await anext(events)
        except StopAsyncIteration:
            raise _EmptyStream("the stream ended before its first event") from None
        return _Opened(response, events, first)

    async def _events(
        self, response: httpx.Response, translator: StreamTranslator
    ) -> AsyncGenerator[list[bytes], None]:
        """The complete events of each read from the provider, as soon as it arrives
        (batched per read, so a fast stream costs one send per read, not per event)."""
        splitter = SseSplitter()
        async for data in response.aiter_bytes():
            batch = [out for event in splitter.feed(data) for out in translator.feed(event)]
            if batch:
                yield batch
        rest = splitter.rest()
        if rest.strip() and (batch := translator.feed(rest + b"\n\n")):
            yield batch

    async def _complete_whole(self, ctx: RequestContext, body: JsonObject, model: str) -> Response:
        async def read(response: httpx.Response) -> bytes:
            return await response.aread()

        data = await self._with_retries(ctx, body, read)
        try:
            if not self.upstream.translates:
                completion = json.loads(data)
                content = data
            else:
                completion = self.upstream.completion(data, model)
                content = json.dumps(completion).encode()
        except ValueError as e:
            raise BadUpstreamResponseError("the model provider's answer is not valid") from e
        raw_usage = completion.get("usage") if isinstance(completion, dict) else None
        usage = _usage(raw_usage) or Usage(ctx.request_bytes // 4, 0)
        await self.account(ctx, model, usage, outcome="ok")
        elapsed = time.monotonic() - ctx.started
        self.metrics.ttfb.labels(self.tenant, model).observe(elapsed)
        self.metrics.duration.labels(self.tenant, model).observe(elapsed)
        return Response(
            content,
            media_type="application/json",
            headers={"x-cephalon-trace-id": ctx.trace_id},
        )

    async def _with_retries(
        self,
        ctx: RequestContext,
        body: JsonObject,
        consume: Callable[[httpx.Response], Awaitable[T]],
    ) -> T:
        """Call the provider until ``consume`` succeeds, retrying transient failures."""
        name = self.upstream.name
        attempt = 0
        while True:
            self.breaker.before_call()
            client = self._clients[next(self._next_client)]
            request = self.upstream.build_request(client, body)
            response: httpx.Response | None = None
            cause: BaseException | None = None
            retry_after: float | None = None
            try:
                response = await client.send(request, stream=True)
                if response.status_code < 400:
                    result = await consume(response)
                    self.breaker.record_success()
                    self.metrics.upstream_attempts.labels(name, "ok").inc()
                    return result
                data = await response.aread()
                await response.aclose()
            except httpx.TimeoutException as e:
                failure: UpstreamError = UpstreamTimeoutError(
                    "the model provider did not answer in time"
                )
                cause = e
            except httpx.TransportError as e:
                failure = UpstreamUnavailableError("the model provider is unreachable")
                cause = e
            except BaseException:
                self.breaker.abandon_probe()
                if response is not None:
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
                raise
            else:
                status = response.status_code
                if status not in RETRYABLE_STATUSES:
                    self.breaker.record_success()  # it answered; the request was the problem
                    self.metrics.upstream_attempts.labels(name, "rejected").inc()
                    raise self._rejected(status, data)
                retry_after = parse_retry_after(response.headers)
                if status == 429:
                    message, _ = self.upstream.error_message(data)
                    failure = UpstreamRateLimitedError(
                        f"the model provider is rate limiting: {self._redactor.text(message)}",
                        retry_after=retry_after,
                    )
                else:
                    failure = UpstreamUnavailableError(f"the model provider failed (HTTP {status})")
            if response is not None and cause is not None:
                await response.aclose()
            if isinstance(failure, UpstreamRateLimitedError):
                self.breaker.record_success()  # alive, only busy
            else:
                self.breaker.record_failure()
            self.metrics.circuit_open.labels(name).set(int(self.breaker.state != "closed"))
            delay = self._retry.delay(attempt, retry_after)
            ctx.log.warning(
                "upstream_failed",
                attempt=attempt + 1,
                error_code=failure.error_code.value,
                reason=failure.message,
                error=repr(cause) if cause else None,
                retry_in_s=None if delay is None else round(delay, 3),
            )
            if delay is None:
                self.metrics.upstream_attempts.labels(name, "failed").inc()
                raise failure from cause
            self.metrics.upstream_attempts.labels(name, "retried").inc()
            await self._sleep(delay)
            attempt += 1

    def _rejected(self, status: int, data: bytes) -> UpstreamError:
        if status in (401, 403):
            return UpstreamCredentialError(
                f"the model provider refused the tenant's credential (HTTP {status}); "
                "ask the tenant admin to check the provider Secret"
            )
        message, openai_type = self.upstream.error_message(data)
        return UpstreamRejectedError(
            f"the model provider refused the request: {self._redactor.text(message)[:1000]}",
            status=status,
            openai_type=openai_type,
        )

    # --- accounting -------------------------------------------------------------------

    async def account(self, ctx: RequestContext, model: str, usage: Usage, *, outcome: str) -> None:
        session = ctx.identity.session_id
        try:
            await self.ledger.record(session, usage)
        except Exception as e:  # the answer went out; a lost record must not fail it
            ctx.log.error("usage_record_failed", error=repr(e))
        self.metrics.tokens.labels(self.tenant, session, model, "input").inc(usage.input_tokens)
        self.metrics.tokens.labels(self.tenant, session, model, "output").inc(usage.output_tokens)
        self.metrics.requests.labels(self.tenant, model, outcome).inc()
        ctx.log.info(
            "completion",
            model=model,
            outcome=outcome,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            duration_ms=round((time.monotonic() - ctx.started) * 1000, 1),
        )


def _usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    try:
        return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


class _Hold:
    """A request's concurrency slot and its in-flight gauge, released exactly once
    (shielded: a cancelled request still frees its slot)."""

    def __init__(self, slot: Slot, gauge: Gauge) -> None:
        self.slot = slot
        self._gauge = gauge
        self._released = False
        gauge.inc()

    async def release(self) -> None:
        if self._released:
            return
        self._released = True
        self._gauge.dec()
        with anyio.CancelScope(shield=True):
            await self.slot.release()


class StreamRelay:
    """Sends a provider's stream on event by event and settles the books at the end."""

    def __init__(
        self,
        proxy: ChatProxy,
        ctx: RequestContext,
        model: str,
        opened: _Opened,
        *,
        hold: _Hold,
        wants_usage: bool,
    ) -> None:
        self._proxy = proxy
        self._ctx = ctx
        self._model = model
        self._opened = opened
        self._hold = hold
        self._wants_usage = wants_usage
        self.usage: Usage | None = None
        self.events = 0
        self.outcome = "client_disconnected"
        self._first_sent: float | None = None
        self._closed = False

    async def body(self) -> AsyncGenerator[bytes, None]:
        metrics, tenant = self._proxy.metrics, self._proxy.tenant
        try:
            batch = self._opened.first
            while True:
                out: list[bytes] = []
                for event in batch:
                    if b'"usage"' in event:
                        found = usage_of(event_fields(event)[1])
                        if found is not None:
                            self.usage = _usage(found[0]) or self.usage
                            if found[1] and not self._wants_usage:
                                continue
                    out.append(event)
                if out:
                    if self._first_sent is None:
                        self._first_sent = time.monotonic()
                        elapsed = self._first_sent - self._ctx.started
                        metrics.ttfb.labels(tenant, self._model).observe(elapsed)
                    self.events += len(out)
                    yield b"".join(out)
                await self._hold.slot.renew_if_due()
                try:
                    batch = await anext(self._opened.events)
                except StopAsyncIteration:
                    break
            self.outcome = "ok"
        except httpx.HTTPError as e:
            # Bytes already went out: tell the client, never retry (it would duplicate).
            self.outcome = "PROVIDER_UNAVAILABLE"
            self._proxy.breaker.record_failure()
            self._ctx.log.warning("upstream_stream_broken", error=repr(e), events=self.events)
            yield encode(
                {
                    "error": {
                        "message": "the model provider's stream broke off (PROVIDER_UNAVAILABLE)",
                        "type": "server_error",
                        "param": None,
                        "code": "PROVIDER_UNAVAILABLE",
                    }
                }
            )
        # Settle before the body ends, so the usage is recorded by the time the client
        # sees the end of the stream (a client that left is settled by the response).
        await self.close()

    async def close(self) -> None:
        """Close the provider stream, free the slot, record usage — exactly once."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._opened.events.aclose()
            await self._opened.response.aclose()
        finally:
            await self._hold.release()
        usage = self.usage or Usage(self._ctx.request_bytes // 4, self.events)
        await self._proxy.account(self._ctx, self._model, usage, outcome=self.outcome)
        self._proxy.metrics.duration.labels(self._proxy.tenant, self._model).observe(
            time.monotonic() - self._ctx.started
        )


class RelayResponse(StreamingResponse):
    """A streaming response that always settles its relay, even when the client left."""

    def __init__(self, relay: StreamRelay, *, headers: dict[str, str]) -> None:
        self._relay = relay
        self._body = relay.body()
        super().__init__(
            self._body,
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no", **headers},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()
                await self._relay.close()
