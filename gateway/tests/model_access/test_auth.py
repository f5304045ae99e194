"""Session tokens: checked in Redis on every request, revoked at once."""

from __future__ import annotations

from typing import Any

import pytest

from cephalon_devkit.model import ScriptedModelServer
from cephalon_operator.credentials import (
    SessionRef,
    apply_session_credentials,
    new_session_credentials,
)


async def test_revoked_token_gets_401_on_the_very_next_request(
    gateway: Any, model_server: ScriptedModelServer
) -> None:
    model_server.load([{"reply": "ok", "repeat": True}])
    token = await gateway.issue("s-1")
    assert (await gateway.chat(token, gateway.body())).status_code == 200

    await gateway.revoke("s-1")
    refused = await gateway.chat(token, gateway.body())

    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "AUTH_UNAUTHENTICATED" and error["type"] == "invalid_request_error"
    assert "revoked" in error["message"]
    assert len(model_server.chat_requests) == 1  # the refused one never went upstream
    models = await gateway.client.get("/v1/models", headers={"authorization": f"Bearer {token}"})
    assert models.status_code == 401


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-session-token"],
)
async def test_requests_without_a_valid_token_are_refused(
    gateway: Any, model_server: ScriptedModelServer, header: str | None
) -> None:
    headers = {} if header is None else {"authorization": header}
    response = await gateway.client.post(
        "/v1/chat/completions", json=gateway.body(), headers=headers
    )
    assert response.status_code == 401
    assert response.json()["cephalon"]["error_code"] == "AUTH_UNAUTHENTICATED"
    assert model_server.requests == []


async def test_a_token_of_another_tenant_is_refused(
    gateway: Any, model_server: ScriptedModelServer, redis_admin: Any
) -> None:
    ref = SessionRef("discord", "goose", "s-1")
    creds = new_session_credentials(ref)
    gateway.secrets.add(creds.model_token)
    gateway.secrets.add(creds.redis_password)
    await apply_session_credentials(redis_admin, ref, creds)

    response = await gateway.chat(creds.model_token, gateway.body())
    assert response.status_code == 401
    assert model_server.requests == []


async def test_the_gateway_cannot_read_other_tenants_keys(gateway: Any, redis_server: Any) -> None:
    """Its Redis user is confined to its tenant: a token registered for another tenant is
    not even readable, let alone accepted."""
    import redis.asyncio as aioredis
    from redis.exceptions import NoPermissionError

    settings = gateway.settings
    client = aioredis.Redis.from_url(
        redis_server.url,
        username=settings.redis.username_file.read_text(),
        password=settings.redis.password_file.read_text(),
    )
    try:
        with pytest.raises(NoPermissionError):
            await client.get("promethean.p.discord.t.goose.auth.model-token.x")
    finally:
        await client.aclose()
