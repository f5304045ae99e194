"""Answering an interaction after the deferred ACK.

While the interaction token is valid (Discord: 15 minutes; we stop a little earlier)
the answer edits the deferred response. After that, or when Discord no longer knows
the token, the answer becomes a normal bot message in the channel with a short
explanation, so nothing the user asked for is lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from .context import GatewayContext, nonce
from .embeds import Embed
from .errors import DiscordRejected
from .payloads import ActionRow, MessageBody

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Responder:
    ctx: GatewayContext
    interaction_id: str
    token: str
    channel_id: str | None
    user_id: str
    received_at: float  # time.monotonic()

    @property
    def token_valid(self) -> bool:
        age = time.monotonic() - self.received_at
        return age < self.ctx.settings.discord.interaction_token_seconds

    async def reply(
        self,
        content: str,
        *,
        embeds: list[Embed] | None = None,
        components: list[ActionRow] | None = None,
    ) -> None:
        body = MessageBody(content=content[:2000], allowed_mentions={"parse": []})
        if embeds is not None:
            body["embeds"] = embeds
        if components is not None:
            body["components"] = components
        if self.token_valid:
            try:
                await self.ctx.rest.edit_original(self.token, body)
                return
            except DiscordRejected as e:
                if e.status not in (401, 404):
                    raise
                log.info("interaction_token_expired", interaction_id=self.interaction_id)
        await self._fallback(body)

    async def _fallback(self, body: MessageBody) -> None:
        if not self.channel_id:
            log.warning("interaction_reply_dropped", interaction_id=self.interaction_id)
            return
        fallback = MessageBody(
            content=(
                f"<@{self.user_id}> (your request took longer than Discord lets us answer "
                f"it directly)\n{body.get('content', '')}"
            )[:2000],
            allowed_mentions={"users": [self.user_id]},
            nonce=nonce("followup", self.interaction_id),
            enforce_nonce=True,
        )
        if "embeds" in body:
            fallback["embeds"] = body["embeds"]
        await self.ctx.rest.send_message(self.channel_id, fallback)
