"""Executes ``PostMessage`` commands from the tenant topic: the only way anything else
in the system speaks in Discord. A consumer group shares the work between replicas;
each chunk is posted with a nonce derived from the envelope's idempotency key, and an
entry is acknowledged only when every chunk is posted (entries a dead replica left are
claimed after a minute)."""

from __future__ import annotations

import asyncio

import structlog

from cephalon_contracts import ContractError, PostMessage, decode_envelope, from_urn

from .chunking import split_message
from .context import GatewayContext, nonce
from .errors import DiscordRejected, DiscordTransient
from .payloads import MessageBody
from .streams import autoclaim, ensure_group, read_group

log = structlog.get_logger(__name__)

GROUP = "cephalon-gateway"
CLAIM_IDLE_MS = 60_000


class PostMessageExecutor:
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.stream = ctx.space.social_post

    def _allowed_channel(self, channel_id: str) -> bool:
        spec = self.ctx.tenant.spec
        return (
            self.ctx.sessions.by_channel(channel_id) is not None
            or channel_id in spec.allow.channels
            or channel_id in spec.gateway.start_chat_channels
        )

    async def run(self) -> None:
        redis = self.ctx.redis
        await ensure_group(redis, self.stream, GROUP)
        me = self.ctx.settings.replica
        cursor = "0"
        while True:
            if cursor == ">":
                claimed = await autoclaim(
                    redis, self.stream, GROUP, me, min_idle_ms=CLAIM_IDLE_MS, count=20
                )
                for entry_id, fields in claimed:
                    await self.execute(entry_id, fields)
            entries = await read_group(
                self.ctx.stream_redis, GROUP, me, self.stream, cursor, count=20,
                block=2000 if cursor == ">" else None,
            )  # fmt: skip
            if cursor != ">":
                cursor = entries[-1][0] if entries else ">"
            for entry_id, fields in entries:
                await self.execute(entry_id, fields)

    async def execute(self, entry_id: str, fields: dict[str, str]) -> bool:
        """Post one command; ``True`` when it is done (acknowledged)."""
        redis = self.ctx.redis
        raw = fields.get("envelope", "")
        try:
            message = decode_envelope(raw)
            command = message.payload
            if not isinstance(command, PostMessage):
                raise ContractError(f"expected social.message.post, got {command.type}")
            channel_id = from_urn(command.channel).id
        except ContractError as e:
            await self._dead_letter(entry_id, raw, f"invalid: {e.message}")
            return True
        if not self._allowed_channel(channel_id):
            await self._dead_letter(entry_id, raw, f"channel {channel_id} is not the tenant's")
            return True
        progress_key = self.ctx.space.gateway(f"post.{message.idempotency_key[:100]}")
        done = int(await redis.get(progress_key) or 0)
        text = command.content
        if command.ephemeral_for:
            text = f"<@{from_urn(command.ephemeral_for).id}> {text}"
        chunks = split_message(text)
        delay = 0.5
        index = done
        while index < len(chunks):
            body = MessageBody(
                content=chunks[index],
                allowed_mentions={"parse": ["users"]},
                nonce=nonce("post", message.idempotency_key, str(index)),
                enforce_nonce=True,
            )
            if command.reply_to and index == 0:
                body["message_reference"] = {
                    "message_id": from_urn(command.reply_to).id,
                    "channel_id": channel_id,
                    "fail_if_not_exists": False,
                }
            try:
                await self.ctx.rest.send_message(channel_id, body)
            except DiscordTransient as e:
                log.warning("post_retry", entry=entry_id, error=str(e))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            except DiscordRejected as e:
                await self._dead_letter(entry_id, raw, str(e))
                return True
            index += 1
            await redis.set(progress_key, index, ex=24 * 3600)
        await redis.xack(self.stream, GROUP, entry_id)
        return True

    async def _dead_letter(self, entry_id: str, raw: str, reason: str) -> None:
        log.error("post_dead_letter", entry=entry_id, reason=reason)
        self.ctx.metrics.dead_letters.labels(kind="post").inc()
        await self.ctx.redis.xadd(
            self.ctx.space.gateway("deadletter"),
            {"kind": "post", "entry": entry_id, "reason": reason[:500], "envelope": raw},
            maxlen=10_000,
            approximate=True,
        )
        await self.ctx.redis.xack(self.stream, GROUP, entry_id)
