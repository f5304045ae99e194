"""Interactions the way Discord delivers them to an HTTP endpoint: signed with
Ed25519 over ``timestamp + raw body``, answered in the HTTP response or through
``POST /interactions/{id}/{token}/callback`` within the deadline, then followed up
through the interaction's webhook while its token lives.

Rules enforced (with Discord's codes): the initial response must arrive within
``interaction_deadline`` (3 s) or the interaction is unknown (10062); an interaction
is acknowledged once (40060); follow-ups and edits of ``@original`` need an
acknowledged interaction (10015) and a token younger than ``interaction_token_ttl``
(15 min; 401 50027 after).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

from cephalon_devkit.discord.errors import (
    ALREADY_ACKNOWLEDGED,
    INVALID_WEBHOOK_TOKEN,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    ApiError,
    DiscordEmulatorError,
    field_error,
    invalid_form,
)
from cephalon_devkit.discord.limits import DiscordLimits
from cephalon_devkit.discord.payloads import (
    channel_payload,
    member_payload,
    message_payload,
    user_payload,
)
from cephalon_devkit.discord.state import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    MESSAGE_CHAT_INPUT_COMMAND,
    MESSAGE_DEFAULT,
    Message,
    Upload,
    World,
)
from cephalon_devkit.discord.types import JsonObject

# Interaction types.
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

# Interaction callback types.
PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
DEFERRED_UPDATE_MESSAGE = 6
UPDATE_MESSAGE = 7
AUTOCOMPLETE_RESULT = 8
MODAL = 9

USER_AGENT = "Discord-Interactions/1.0 (+https://discord.com)"


@dataclass
class Interaction:
    """One interaction: what was sent, how the endpoint answered, what followed."""

    id: int
    token: str
    type: int
    user_id: int | None
    guild_id: int | None
    channel_id: int | None
    payload: JsonObject
    message_id: int | None = None
    """For component clicks: the message holding the component."""
    app_id: int = 0
    """The application the interaction is for (its endpoint, key and webhook)."""
    created_at: float = field(default_factory=time.monotonic)
    deadline: float = 3.0
    """Seconds the app has for its initial response."""
    http_status: int | None = None
    http_body: Any = None
    http_error: str | None = None
    http_elapsed: float | None = None
    late_response: bool = False
    """The endpoint's HTTP answer came after the deadline and was ignored."""
    acknowledged: bool = False
    response_type: int | None = None
    responded_via: str | None = None
    """``http`` (the answer body) or ``callback`` (the REST route)."""
    responded_after: float | None = None
    response_data: JsonObject | None = None
    response_error: str | None = None
    """Why an answer in the HTTP body was refused (invalid message...)."""
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    callback_attempts: list[tuple[float, int]] = field(default_factory=list)
    """(seconds after creation, HTTP status) of every callback request."""
    sent_body: bytes = b""
    """The exact bytes delivered (and signed), for replay tests."""
    sent_headers: dict[str, str] = field(default_factory=dict)

    @property
    def age(self) -> float:
        return time.monotonic() - self.created_at

    @property
    def failed(self) -> bool:
        """No initial response in time: the user sees "This interaction failed"."""
        return not self.acknowledged and self.age > self.deadline

    @property
    def deferred(self) -> bool:
        return self.response_type in (
            DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            DEFERRED_UPDATE_MESSAGE,
        )


class Interactions:
    def __init__(self, world: World, limits: DiscordLimits) -> None:
        self.world = world
        self.limits = limits
        self.by_id: dict[int, Interaction] = {}
        self._by_token: dict[str, Interaction] = {}
        self._session: aiohttp.ClientSession | None = None
        self._log = structlog.get_logger("cephalon_devkit.discord.interactions")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the primary application's key and endpoint ----------------------------------

    @property
    def public_key_hex(self) -> str:
        return self.world.app.public_key

    @property
    def endpoint_url(self) -> str | None:
        return self.world.app.interactions_url

    @endpoint_url.setter
    def endpoint_url(self, url: str | None) -> None:
        self.world.app.interactions_url = url

    # --- signing and delivery -------------------------------------------------------

    def sign(self, timestamp: str, body: bytes, *, app_id: int | None = None) -> str:
        key = self.world.application(app_id).signing_key
        return key.sign(timestamp.encode() + body).signature.hex()

    def signed_headers(
        self, body: bytes, *, timestamp: str | None = None, app_id: int | None = None
    ) -> dict[str, str]:
        ts = timestamp or str(int(time.time()))
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Signature-Ed25519": self.sign(ts, body, app_id=app_id),
            "X-Signature-Timestamp": ts,
        }

    async def post_raw(
        self,
        body: bytes,
        headers: Mapping[str, str],
        *,
        url: str | None = None,
        app_id: int | None = None,
    ) -> tuple[int, bytes]:
        """POST ``body`` as given (forged or replayed requests in tests) to ``url`` or
        the application's endpoint."""
        target = url or self._require_url(app_id)
        if self._session is None:
            # No connection cap: benchmarks deliver hundreds of interactions at once.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        timeout = aiohttp.ClientTimeout(total=self.limits.interaction_http_timeout)
        async with self._session.post(
            target, data=body, headers=dict(headers), timeout=timeout
        ) as resp:
            return resp.status, await resp.read()

    def _require_url(self, app_id: int | None) -> str:
        app = self.world.application(app_id)
        if not app.interactions_url:
            raise DiscordEmulatorError(f"application {app.name!r} has no interactions URL")
        return app.interactions_url

    def new(
        self,
        kind: int,
        *,
        user_id: int | None,
        channel_id: int | None,
        data: JsonObject | None,
        message_id: int | None = None,
        app_id: int | None = None,
    ) -> Interaction:
        world = self.world
        app = world.application(app_id)
        iid = world.ids.next()
        token = f"fake-interaction-token.{secrets.token_urlsafe(24)}"
        payload: JsonObject = {
            "id": str(iid),
            "application_id": str(app.id),
            "type": kind,
            "token": token,
            "version": 1,
        }
        guild_id = None
        if channel_id is not None and user_id is not None:
            c = world.channel(channel_id)
            guild_id = c.guild_id
            member = world.member(c.guild_id, user_id)
            member_json: JsonObject = dict(member_payload(world, member))
            member_json["permissions"] = str(world.permissions_in(c.id, user_id))
            payload.update(
                {
                    "guild_id": str(c.guild_id),
                    "channel_id": str(c.id),
                    "channel": dict(channel_payload(c)),
                    "guild": {"id": str(c.guild_id), "locale": "en-US", "features": []},
                    "member": member_json,
                    "app_permissions": str(world.permissions_in(c.id, app.bot_id)),
                    "locale": "en-US",
                    "guild_locale": "en-US",
                    "entitlements": [],
                    "authorizing_integration_owners": {"0": str(c.guild_id)},
                    "context": 0,
                    "attachment_size_limit": self.limits.upload_max_bytes,
                }
            )
        if data is not None:
            payload["data"] = data
        if message_id is not None and channel_id is not None:
            payload["message"] = dict(message_payload(world, world.message(channel_id, message_id)))
        i = Interaction(
            id=iid,
            token=token,
            type=kind,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            payload=payload,
            message_id=message_id,
            app_id=app.id,
            deadline=self.limits.interaction_deadline,
        )
        self.by_id[iid] = i
        self._by_token[token] = i
        return i

    async def deliver(self, i: Interaction) -> Interaction:
        """Send ``i`` signed to the endpoint and apply an answer that came in time."""
        body = json.dumps(i.payload, separators=(",", ":")).encode()
        headers = self.signed_headers(body, app_id=i.app_id)
        i.sent_body, i.sent_headers = body, headers
        started = time.monotonic()
        try:
            status, raw = await self.post_raw(body, headers, app_id=i.app_id)
        except (aiohttp.ClientError, TimeoutError) as e:
            i.http_error = f"{type(e).__name__}: {e}"
            i.http_elapsed = time.monotonic() - started
            self._log.info("discord_interaction_delivery_failed", id=i.id, error=i.http_error)
            return i
        i.http_elapsed = time.monotonic() - started
        i.http_status = status
        try:
            i.http_body = json.loads(raw) if raw else None
        except ValueError:
            i.http_body = raw.decode(errors="replace")
        if not 200 <= status < 300 or not isinstance(i.http_body, dict):
            return i
        if "type" not in i.http_body:
            return i
        if i.age > i.deadline:
            i.late_response = True
            return i
        try:
            self.respond(i, i.http_body, via="http")
        except ApiError as e:
            i.response_error = str(e)
        return i

    async def redeliver(self, i: Interaction, *, resign: bool = True) -> tuple[int, Any]:
        """POST ``i`` again. ``resign=True``: freshly signed, as Discord redelivers;
        ``resign=False``: the exact earlier bytes and headers, as an attacker replays.
        Answers are returned, never applied (the first delivery decided the outcome)."""
        if not i.sent_body:
            raise DiscordEmulatorError(f"interaction {i.id} was never delivered")
        headers = self.signed_headers(i.sent_body, app_id=i.app_id) if resign else i.sent_headers
        status, raw = await self.post_raw(i.sent_body, headers, app_id=i.app_id)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    # --- the initial response -------------------------------------------------------

    def find(self, interaction_id: int, token: str) -> Interaction:
        i = self.by_id.get(interaction_id)
        if i is None or i.token != token:
            raise ApiError(404, UNKNOWN_INTERACTION, "Unknown interaction")
        return i

    def respond(
        self, i: Interaction, body: Mapping[str, Any], uploads: Sequence[Upload] = (), *, via: str
    ) -> Message | None:
        """Apply an initial response; returns the message it created or changed."""
        if i.acknowledged:
            raise ApiError(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged.")
        if i.age > i.deadline:
            raise ApiError(404, UNKNOWN_INTERACTION, "Unknown interaction")
        kind = body.get("type")
        data = body.get("data") or {}
        if not isinstance(data, Mapping):
            raise invalid_form({"data": field_error("DICT_TYPE_CONVERT", "Must be an object.")})
        valid = {
            PING: {PONG},
            APPLICATION_COMMAND: {
                CHANNEL_MESSAGE_WITH_SOURCE,
                DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                MODAL,
            },
            MESSAGE_COMPONENT: {
                CHANNEL_MESSAGE_WITH_SOURCE,
                DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                DEFERRED_UPDATE_MESSAGE,
                UPDATE_MESSAGE,
                MODAL,
            },
            AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
            MODAL_SUBMIT: {
                CHANNEL_MESSAGE_WITH_SOURCE,
                DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                DEFERRED_UPDATE_MESSAGE,
                UPDATE_MESSAGE,
            },
        }[i.type]
        if kind not in valid:
            raise invalid_form(
                {
                    "type": field_error(
                        "INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid"
                    )
                }
            )
        message: Message | None = None
        if kind == CHANNEL_MESSAGE_WITH_SOURCE:
            message = self._create(i, data, uploads, loading=False)
            i.original_message_id = message.id
        elif kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            message = self._create(i, {"flags": data.get("flags", 0)}, (), loading=True)
            i.original_message_id = message.id
        elif kind == UPDATE_MESSAGE and i.message_id is not None and i.channel_id is not None:
            message = self.world.edit_message(
                i.channel_id, i.message_id, i.app_id, data, uploads, check_author=False
            )
            i.original_message_id = i.message_id
        elif kind == DEFERRED_UPDATE_MESSAGE:
            i.original_message_id = i.message_id
        i.acknowledged = True
        i.response_type = int(kind)
        i.responded_via = via
        i.responded_after = i.age
        i.response_data = dict(data)
        return message

    def _create(
        self, i: Interaction, data: Mapping[str, Any], uploads: Sequence[Upload], *, loading: bool
    ) -> Message:
        if i.channel_id is None:
            raise DiscordEmulatorError("only guild interactions can create messages here")
        flags = int(data.get("flags") or 0)
        ephemeral = bool(flags & FLAG_EPHEMERAL)
        body = dict(data)
        if loading:
            body["content"] = ""
        metadata: JsonObject = {
            "id": str(i.id),
            "type": i.type,
            "user": dict(user_payload(self.world.user(i.user_id or 0))),
            "authorizing_integration_owners": {"0": str(i.guild_id)},
        }
        if i.type == APPLICATION_COMMAND:
            metadata["name"] = i.payload.get("data", {}).get("name")
        if i.message_id is not None:
            metadata["interacted_message_id"] = str(i.message_id)
        m, _ = self.world.create_message(
            i.channel_id,
            i.app_id,
            body,
            uploads,
            check_permissions=False,
            webhook_id=i.app_id,
            application_id=i.app_id,
            message_type=MESSAGE_CHAT_INPUT_COMMAND
            if i.type == APPLICATION_COMMAND
            else MESSAGE_DEFAULT,
            interaction_metadata=metadata,
            visible_to=i.user_id if ephemeral else None,
            flags=(FLAG_EPHEMERAL if ephemeral else 0) | (FLAG_LOADING if loading else 0),
            allow_empty=loading,
        )
        return m

    # --- the webhook (follow-ups) ---------------------------------------------------

    def by_webhook(self, application_id: int, token: str) -> Interaction:
        i = self._by_token.get(token)
        if i is None or application_id != i.app_id:
            raise ApiError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        if i.age > self.limits.interaction_token_ttl:
            raise ApiError(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
        if not i.acknowledged:
            raise ApiError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        return i

    def followup(
        self, i: Interaction, body: Mapping[str, Any], uploads: Sequence[Upload] = ()
    ) -> Message:
        original = self._original(i, missing_ok=True)
        if (
            original is not None
            and original.flags & FLAG_LOADING
            and i.response_type == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            and not i.followup_ids
        ):
            # Discord: the first follow-up after a deferred response edits the
            # "thinking..." message.
            m = self.world.edit_message(
                original.channel_id,
                original.id,
                i.app_id,
                body,
                uploads,
                check_author=False,
            )
            i.followup_ids.append(m.id)
            return m
        m = self._create(i, body, uploads, loading=False)
        i.followup_ids.append(m.id)
        return m

    def _original(self, i: Interaction, *, missing_ok: bool = False) -> Message | None:
        mid = i.original_message_id
        m = self.world.messages.get(mid) if mid is not None else None
        if m is None or m.deleted:
            if missing_ok:
                return None
            raise ApiError(404, UNKNOWN_MESSAGE, "Unknown Message")
        return m

    def message_of(self, i: Interaction, message_id: str) -> Message:
        if message_id == "@original":
            m = self._original(i)
            assert m is not None
            return m
        try:
            mid = int(message_id)
        except ValueError as e:
            raise ApiError(404, UNKNOWN_MESSAGE, "Unknown Message") from e
        if mid != i.original_message_id and mid not in i.followup_ids:
            raise ApiError(404, UNKNOWN_MESSAGE, "Unknown Message")
        m = self.world.messages.get(mid)
        if m is None or m.deleted:
            raise ApiError(404, UNKNOWN_MESSAGE, "Unknown Message")
        return m

    def edit(
        self,
        i: Interaction,
        message_id: str,
        body: Mapping[str, Any],
        uploads: Sequence[Upload] = (),
    ) -> Message:
        m = self.message_of(i, message_id)
        return self.world.edit_message(
            m.channel_id, m.id, i.app_id, body, uploads, check_author=False
        )

    def delete(self, i: Interaction, message_id: str) -> None:
        m = self.message_of(i, message_id)
        self.world.delete_message(m.channel_id, m.id, i.app_id, check=False)


def button_exists(components: Sequence[Mapping[str, Any]], custom_id: str) -> bool:
    for row in components:
        for c in row.get("components") or []:
            if c.get("custom_id") == custom_id and not c.get("disabled"):
                return True
    return False
