"""The FastAPI app: ``POST /discord/interactions``, ``/healthz``, ``/readyz``,
``/metrics``. The gateway service is made and started in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .interactions import handle_request
from .service import GatewayService


def create_app(service: GatewayService) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title="cephalon-gateway", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.post("/discord/interactions")
    async def interactions(request: Request) -> Response:
        if service.ctx is None or service.handler is None:
            return JSONResponse({"error": "starting"}, status_code=503)
        return await handle_request(request, service.ctx, service.verifier, service.handler)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        if not service.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
