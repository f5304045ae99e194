"""Discord REST through discord.py's HTTP client, behind the shared rate limiter.

discord.py does the HTTP work (auth header, JSON, its own per-process buckets and 429
retries); every call first takes a slot from :class:`~.ratelimit.RateLimiter`, and an
aiohttp trace hook hands every response's ``X-RateLimit-*`` headers to the limiter so
all replicas learn them. discord.py errors are mapped to :mod:`.errors`.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

import aiohttp
import discord
from discord.http import Route

from .errors import DiscordError, DiscordRejected, DiscordTransient
from .metrics import Metrics
from .payloads import Channel, Message, MessageBody, Overwrite
from .ratelimit import RateLimiter, parse_rate_limit

_current_route: contextvars.ContextVar[Route | None] = contextvars.ContextVar(
    "cephalon_discord_route", default=None
)

TRANSIENT_STATUSES = {429, 500, 502, 503, 504, 524}


def configure_endpoints(api_base: str, gateway_url: str) -> None:
    """Point discord.py at Discord (or the emulator). Called once at start-up."""
    import yarl
    from discord.gateway import DiscordWebSocket

    Route.BASE = api_base.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def make_trace(limiter: RateLimiter, metrics: Metrics) -> aiohttp.TraceConfig:
    """The aiohttp hook that feeds every Discord response to the shared limiter."""

    async def on_end(
        session: aiohttp.ClientSession,
        ctx: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        route = _current_route.get()
        if route is None:
            return
        response = params.response
        body: dict[str, Any] | None = None
        if response.status == 429:
            try:
                parsed = json.loads(await response.read())
                body = parsed if isinstance(parsed, dict) else None
            except (ValueError, aiohttp.ClientError):
                body = None
        info = parse_rate_limit(response.status, dict(response.headers), body)
        metrics.discord_requests.labels(method=route.method, status=str(response.status)).inc()
        if info.limited:
            metrics.discord_429.labels(scope="global" if info.is_global else "bucket").inc()
        await limiter.observe(route_key=route.key, major=route.major_parameters, info=info)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    return trace


def _classify(e: discord.HTTPException) -> DiscordError:
    status = e.status
    message = f"Discord answered {status}: {e.text[:200]}" if e.text else f"Discord {status}"
    if status in TRANSIENT_STATUSES:
        return DiscordTransient(message, status=status, code=e.code)
    return DiscordRejected(message, status=status, code=e.code)


class DiscordRest:
    """The REST calls the gateway makes, each rate limited and error-mapped."""

    def __init__(self, http: discord.http.HTTPClient, limiter: RateLimiter, app_id: str) -> None:
        self._http = http
        self._limiter = limiter
        self.app_id = app_id

    async def call(
        self,
        method: str,
        path: str,
        *,
        channel: str | None = None,
        json_body: Any = None,
        params: dict[str, str | int] | None = None,
        reason: str | None = None,
        **route_params: Any,
    ) -> Any:
        route = Route(method, path, **route_params)
        if channel is None and "channel_id" in route_params:
            channel = str(route_params["channel_id"])
        await self._limiter.acquire(
            route_key=route.key, major=route.major_parameters, channel=channel
        )
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["json"] = json_body
        if params:
            kwargs["params"] = params
        if reason:
            kwargs["reason"] = reason
        token = _current_route.set(route)
        try:
            return await self._http.request(route, **kwargs)
        except discord.HTTPException as e:
            raise _classify(e) from e
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            raise DiscordTransient(f"network error talking to Discord: {e}") from e
        finally:
            _current_route.reset(token)

    # ------------------------------------------------------------------ messages

    async def send_message(self, channel_id: str, body: MessageBody) -> Message:
        data = await self.call(
            "POST", "/channels/{channel_id}/messages", channel_id=channel_id, json_body=body
        )
        return cast(Message, data)

    async def edit_message(self, channel_id: str, message_id: str, body: MessageBody) -> Message:
        data = await self.call(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
            json_body=body,
        )
        return cast(Message, data)

    async def get_message(self, channel_id: str, message_id: str) -> Message:
        data = await self.call(
            "GET",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )
        return cast(Message, data)

    async def recent_messages(self, channel_id: str, limit: int = 50) -> list[Message]:
        data = await self.call(
            "GET", "/channels/{channel_id}/messages", channel_id=channel_id, params={"limit": limit}
        )
        return cast(list[Message], data)

    async def typing(self, channel_id: str) -> None:
        await self.call("POST", "/channels/{channel_id}/typing", channel_id=channel_id)

    # ------------------------------------------------------------------ channels

    async def guild_channels(self, guild_id: str) -> list[Channel]:
        data = await self.call("GET", "/guilds/{guild_id}/channels", guild_id=guild_id)
        return cast(list[Channel], data)

    async def create_channel(
        self,
        guild_id: str,
        *,
        name: str,
        parent_id: str | None,
        topic: str,
        overwrites: Sequence[Overwrite],
    ) -> Channel:
        body: dict[str, Any] = {
            "name": name,
            "type": 0,
            "topic": topic,
            "permission_overwrites": list(overwrites),
        }
        if parent_id:
            body["parent_id"] = parent_id
        data = await self.call(
            "POST", "/guilds/{guild_id}/channels", guild_id=guild_id, json_body=body
        )
        return cast(Channel, data)

    async def edit_channel(self, channel_id: str, body: dict[str, Any]) -> Channel:
        data = await self.call(
            "PATCH", "/channels/{channel_id}", channel_id=channel_id, json_body=body
        )
        return cast(Channel, data)

    async def put_overwrite(self, channel_id: str, overwrite: Overwrite) -> None:
        await self.call(
            "PUT",
            "/channels/{channel_id}/permissions/{overwrite_id}",
            channel_id=channel_id,
            overwrite_id=overwrite["id"],
            json_body={
                "type": overwrite["type"],
                "allow": overwrite["allow"],
                "deny": overwrite["deny"],
            },
        )

    async def delete_channel(self, channel_id: str) -> None:
        await self.call("DELETE", "/channels/{channel_id}", channel_id=channel_id)

    # ------------------------------------------------------------------ commands

    async def guild_commands(self, guild_id: str) -> list[dict[str, Any]]:
        data = await self.call(
            "GET",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            application_id=self.app_id,
            guild_id=guild_id,
        )
        return cast(list[dict[str, Any]], data)

    async def put_guild_commands(
        self, guild_id: str, commands: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        data = await self.call(
            "PUT",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            application_id=self.app_id,
            guild_id=guild_id,
            json_body=list(commands),
        )
        return cast(list[dict[str, Any]], data)

    # -------------------------------------------------------------- interactions

    async def followup(self, token: str, body: MessageBody) -> Message:
        data = await self.call(
            "POST",
            "/webhooks/{webhook_id}/{webhook_token}",
            webhook_id=self.app_id,
            webhook_token=token,
            json_body=body,
        )
        return cast(Message, data)

    async def edit_original(self, token: str, body: MessageBody) -> Message:
        data = await self.call(
            "PATCH",
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            webhook_id=self.app_id,
            webhook_token=token,
            json_body=body,
        )
        return cast(Message, data)
