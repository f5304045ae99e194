"""The FastAPI app: routes, the per-request session check, error answers.

Everything stateful (Redis, the upstream HTTP client, the breaker, metrics) is made in
``lifespan`` from the settings and credentials passed to :func:`create_app`; tests pass
their own ``transport`` to reach fake providers.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from .auth import TokenVerifier, bearer_token
from .breaker import CircuitBreaker
from .concurrency import ConcurrencyLimiter
from .errors import (
    AuthenticationError,
    InvalidRequestError,
    ModelGatewayError,
)
from .logs import make_logger
from .metrics import Metrics
from .proxy import ChatProxy, RequestContext
from .redaction import Redactor
from .retrying import RetryPolicy
from .settings import Credentials, GatewaySettings
from .upstreams import build_upstream
from .usage import UsageLedger

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class Gateway:
    """What the routes use; built in ``lifespan``."""

    settings: GatewaySettings
    redis: aioredis.Redis
    verifier: TokenVerifier
    proxy: ChatProxy
    metrics: Metrics
    redactor: Redactor


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _trace_id(request: Request) -> str:
    incoming = request.headers.get("x-cephalon-trace-id", "")
    trace_id = incoming if _TRACE_ID.fullmatch(incoming) else uuid.uuid4().hex
    request.state.trace_id = trace_id
    return trace_id


def create_app(
    settings: GatewaySettings,
    credentials: Credentials,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    redactor: Redactor | None = None,
) -> FastAPI:
    """The model gateway app. Fails fast (:class:`ConfigError`) on an unusable upstream."""
    redactor = redactor or Redactor()
    for secret in credentials.secret_values():
        redactor.add(secret)
    upstream = build_upstream(settings, credentials.upstream_key)  # copilot: ConfigError now
    log = make_logger(redactor, json_output=settings.log.json_output).bind(
        component="model-gateway", provider=settings.provider, tenant=settings.tenant
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = aioredis.Redis.from_url(
            settings.redis.url,
            username=credentials.redis_username,
            password=(
                credentials.redis_password.get_secret_value()
                if credentials.redis_password
                else None
            ),
            decode_responses=True,
        )
        model = settings.model
        # Several small connection pools instead of one large one: httpcore's pool does
        # O(waiting requests x connections) work on every request and release, which
        # dominated the CPU profile at 100 concurrent streams.
        shards = model.client_shards
        per_shard = max(1, model.max_connections // shards)
        clients = [
            httpx.AsyncClient(
                transport=transport,
                timeout=httpx.Timeout(
                    connect=model.connect_timeout_s,
                    read=model.read_timeout_s,
                    write=model.read_timeout_s,
                    pool=model.connect_timeout_s,
                ),
                limits=httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard),
                follow_redirects=False,
            )
            for _ in range(shards)
        ]
        root, provider, tenant = settings.topic_root, settings.provider, settings.tenant
        metrics = Metrics()
        proxy = ChatProxy(
            settings=settings,
            upstream=upstream,
            clients=clients,
            ledger=UsageLedger(
                redis, provider=provider, tenant=tenant, root=root, budgets=settings.budget
            ),
            limiter=ConcurrencyLimiter(
                redis,
                provider=provider,
                tenant=tenant,
                root=root,
                limit=settings.budget.tenant_concurrency,
                lease_s=settings.budget.concurrency_lease_s,
            ),
            breaker=CircuitBreaker(
                upstream.name,
                failure_threshold=settings.breaker.failure_threshold,
                reset_s=settings.breaker.reset_s,
            ),
            retry=RetryPolicy(settings.retry),
            metrics=metrics,
            redactor=redactor,
        )
        app.state.gateway = Gateway(
            settings=settings,
            redis=redis,
            verifier=TokenVerifier(redis, provider=provider, tenant=tenant, root=root),
            proxy=proxy,
            metrics=metrics,
            redactor=redactor,
        )
        log.info(
            "model_gateway_started",
            upstream_kind=settings.model.upstream_kind.value,
            upstream=upstream.name,
            upstream_key=credentials.upstream_key is not None,
            models=sorted(settings.model.allowlist()),
        )
        try:
            yield
        finally:
            for client in clients:
                await client.aclose()
            await redis.aclose()
            log.info("model_gateway_stopped")

    app = FastAPI(
        title="Cephalon model gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.exception_handler(ModelGatewayError)
    async def _gateway_error(request: Request, exc: ModelGatewayError) -> Response:
        trace_id = getattr(request.state, "trace_id", None) or uuid.uuid4().hex
        gateway = _gateway(request)
        body = gateway.redactor.value(exc.body(trace_id))
        log.bind(trace_id=trace_id).info(
            "request_refused",
            path=request.url.path,
            status=exc.http_status,
            error_code=exc.error_code.value,
            reason=exc.message,
        )
        headers = {**exc.headers(), "x-cephalon-trace-id": trace_id}
        return JSONResponse(body, status_code=exc.http_status, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        trace_id = getattr(request.state, "trace_id", None) or uuid.uuid4().hex
        log.bind(trace_id=trace_id).error("internal_error", error=repr(exc), exc_info=exc)
        error = ModelGatewayError("internal error in the model gateway")
        return JSONResponse(error.body(trace_id), status_code=500)

    async def authenticate(request: Request, gateway: Gateway) -> RequestContext:
        trace_id = _trace_id(request)
        started = time.monotonic()
        try:
            token = bearer_token(request.headers.get("authorization"))
            identity = await gateway.verifier.verify(token)
        except AuthenticationError:
            gateway.metrics.auth_failures.labels(settings.tenant).inc()
            raise
        return RequestContext(
            identity=identity,
            trace_id=trace_id,
            started=started,
            log=log.bind(trace_id=trace_id, session_id=identity.session_id),
        )

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        gateway = _gateway(request)
        ctx = await authenticate(request, gateway)
        body, size = await _read_json(request, settings.model.max_body_bytes)
        ctx = dataclasses.replace(ctx, request_bytes=size)
        try:
            return await gateway.proxy.complete(ctx, body)
        except ModelGatewayError as e:
            model = str(body.get("model") or settings.model.default)[:100]
            gateway.metrics.requests.labels(settings.tenant, model, e.error_code.value).inc()
            raise

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        gateway = _gateway(request)
        await authenticate(request, gateway)
        data = [
            {"id": m, "object": "model", "created": 0, "owned_by": settings.tenant}
            for m in sorted(settings.model.allowlist())
        ]
        return JSONResponse({"object": "list", "data": data})

    @app.get("/healthz")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz(request: Request) -> Response:
        gateway = _gateway(request)
        try:
            await gateway.redis.ping()
        except RedisError:
            return JSONResponse({"status": "redis unreachable"}, status_code=503)
        return JSONResponse({"status": "ready", "circuit": gateway.proxy.breaker.state.value})

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        registry = _gateway(request).metrics.registry
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _read_json(request: Request, limit: int) -> tuple[dict[str, Any], int]:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise InvalidRequestError(f"the request body is larger than {limit} bytes", status=413)
    raw = bytearray()
    async for piece in request.stream():
        raw += piece
        if len(raw) > limit:
            raise InvalidRequestError(f"the request body is larger than {limit} bytes", status=413)
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise InvalidRequestError("the request body is not valid JSON") from e
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise InvalidRequestError("the body must be a JSON object with a 'messages' array")
    return body, len(raw)
