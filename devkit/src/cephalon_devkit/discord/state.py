"""The emulated Discord world: users, guilds, roles, members, channels, messages,
application commands — and the rules Discord applies when a bot changes them.

Every mutation goes through a :class:`World` method that checks what Discord checks
(permissions, caps, limits) and raises :class:`ApiError` otherwise, then announces the
change as a :class:`Dispatch` for the gateway. The REST handlers and the user-side API
both call these methods, so a change made by a "user" in a test and one made by the
bot look the same to everyone watching.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from nacl.signing import SigningKey

from cephalon_devkit.discord import permissions as perms
from cephalon_devkit.discord.commands import CommandRegistry
from cephalon_devkit.discord.errors import (
    CANNOT_EDIT_OTHERS_MESSAGE,
    MAX_GUILD_CHANNELS,
    MAX_PINS,
    UNKNOWN_CHANNEL,
    UNKNOWN_GUILD,
    UNKNOWN_MEMBER,
    UNKNOWN_MESSAGE,
    UNKNOWN_OVERWRITE,
    UNKNOWN_ROLE,
    UNKNOWN_USER,
    ApiError,
    DiscordEmulatorError,
    field_error,
    forbidden_missing_access,
    forbidden_missing_permissions,
    invalid_form,
    not_found,
    required,
    too_long,
)
from cephalon_devkit.discord.limits import DiscordLimits
from cephalon_devkit.discord.models import (
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    GUILD_ANNOUNCEMENT,
    GUILD_CATEGORY,
    GUILD_TEXT,
    GUILD_VOICE,
    INTENT_GUILD_MEMBERS,
    INTENT_GUILD_MESSAGE_REACTIONS,
    INTENT_GUILD_MESSAGES,
    INTENT_GUILDS,
    INTENT_MESSAGE_CONTENT,
    MESSAGE_CHAT_INPUT_COMMAND,
    MESSAGE_DEFAULT,
    MESSAGE_REPLY,
    Application,
    Attachment,
    Channel,
    Command,
    Dispatch,
    Guild,
    Member,
    Message,
    Role,
    Upload,
    User,
    iso_now,
)
from cephalon_devkit.discord.payloads import (
    channel_payload,
    guild_create_payload,
    member_payload,
    message_payload,
    role_payload,
    user_payload,
)
from cephalon_devkit.discord.permissions import Overwrite, OverwriteType
from cephalon_devkit.discord.snowflakes import SnowflakeFactory
from cephalon_devkit.discord.types import JsonObject
from cephalon_devkit.discord.validation import check_message


class World:
    """All emulated state. Applications (bots) live in ``apps``; the first one is the
    primary (``app``, ``bot``, ``application_id``), the one every default refers to."""

    def __init__(
        self,
        *,
        limits: DiscordLimits,
        bot_name: str = "Cephalon",
        bot_token: str | None = None,
        on_dispatch: Callable[[Dispatch], None] | None = None,
    ) -> None:
        self.limits = limits
        self.ids = SnowflakeFactory()
        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.attachments: dict[int, Attachment] = {}
        self.cdn_base = ""
        self._cdn_key = secrets.token_bytes(16)
        self.typing: dict[int, float] = {}
        """Channel id → when the bot last triggered the typing indicator."""
        self._on_dispatch = on_dispatch
        self._nonces: dict[tuple[int, int, str], tuple[int, float]] = {}
        self._renames: dict[int, list[float]] = {}
        self.apps: dict[int, Application] = {}
        self.app = self.create_application(bot_name, token=bot_token)
        self.bot = self.users[self.app.bot_id]
        self.application_id = self.app.id
        self.app_commands = CommandRegistry(limits, self.ids)
        self.commands = self.app_commands.commands
        """Command id → command (the registry's own dict)."""

    # --- applications ---------------------------------------------------------------

    def create_application(self, name: str, *, token: str | None = None) -> Application:
        """A bot application with its bot user, a fresh signing key and a fake token."""
        bot = self.create_user(name, bot=True)
        app = Application(
            id=bot.id,
            name=name,
            token=token or f"fake-bot-token.{secrets.token_hex(12)}",
            signing_key=SigningKey.generate(),
        )
        self.apps[app.id] = app
        return app

    def application(self, app_id: int | None) -> Application:
        return self.app if app_id is None else self.apps[app_id]

    def app_by_token(self, token: str) -> Application | None:
        for app in self.apps.values():
            if hmac.compare_digest(app.token.encode(), token.encode()):
                return app
        return None

    def app_of_bot(self, user_id: int) -> Application | None:
        return self.apps.get(user_id)

    # --- announcements ------------------------------------------------------------

    def set_dispatch_hook(self, hook: Callable[[Dispatch], None] | None) -> None:
        self._on_dispatch = hook

    def _dispatch(self, d: Dispatch) -> None:
        if self._on_dispatch is not None:
            self._on_dispatch(d)

    # --- lookups --------------------------------------------------------------------

    def guild(self, guild_id: int) -> Guild:
        g = self.guilds.get(guild_id)
        if g is None:
            raise not_found(UNKNOWN_GUILD, "Guild")
        return g

    def channel(self, channel_id: int) -> Channel:
        c = self.channels.get(channel_id)
        if c is None:
            raise not_found(UNKNOWN_CHANNEL, "Channel")
        return c

    def user(self, user_id: int) -> User:
        u = self.users.get(user_id)
        if u is None:
            raise not_found(UNKNOWN_USER, "User")
        return u

    def member(self, guild_id: int, user_id: int) -> Member:
        m = self.guild(guild_id).members.get(user_id)
        if m is None:
            raise not_found(UNKNOWN_MEMBER, "Member")
        return m

    def message(self, channel_id: int, message_id: int) -> Message:
        m = self.messages.get(message_id)
        if m is None or m.deleted or m.channel_id != channel_id:
            raise not_found(UNKNOWN_MESSAGE, "Message")
        return m

    def live_messages(self, channel_id: int) -> list[Message]:
        ids = self.channel_messages.get(channel_id, [])
        return [self.messages[i] for i in ids if not self.messages[i].deleted]

    def guild_channels(self, guild_id: int) -> list[Channel]:
        return [self.channels[c] for c in self.guild(guild_id).channel_ids]

    # --- the CDN ---------------------------------------------------------------------

    def _cdn_mac(self, path: str, expires: str, issued: str) -> str:
        msg = f"{path}|{expires}|{issued}".encode()
        return hmac.new(self._cdn_key, msg, hashlib.sha256).hexdigest()

    def sign_cdn_path(self, path: str, *, now: float | None = None) -> str:
        """``path`` with Discord-style ``ex``/``is``/``hm`` query (hex Unix times)."""
        issued = int(time.time() if now is None else now)
        ex = f"{issued + int(self.limits.attachment_url_ttl):x}"
        is_ = f"{issued:x}"
        return f"{path}?ex={ex}&is={is_}&hm={self._cdn_mac(path, ex, is_)}&"

    def cdn_signature_ok(self, path: str, query: Mapping[str, str]) -> bool:
        ex, is_, hm = query.get("ex", ""), query.get("is", ""), query.get("hm", "")
        try:
            expires = int(ex, 16)
        except ValueError:
            return False
        return hmac.compare_digest(hm, self._cdn_mac(path, ex, is_)) and time.time() < expires

    # --- permissions ----------------------------------------------------------------

    def guild_permissions(self, guild_id: int, user_id: int) -> int:
        g = self.guild(guild_id)
        m = g.members.get(user_id)
        if m is None:
            return 0
        return perms.base_permissions(
            is_owner=g.owner_id == user_id,
            everyone=g.roles[g.id].permissions,
            role_permissions=(g.roles[r].permissions for r in m.roles if r in g.roles),
        )

    def permissions_in(self, channel_id: int, user_id: int) -> int:
        c = self.channel(channel_id)
        base = self.guild_permissions(c.guild_id, user_id)
        m = self.guilds[c.guild_id].members.get(user_id)
        if m is None:
            return 0
        return perms.apply_overwrites(
            base,
            guild_id=c.guild_id,
            member_id=user_id,
            member_roles=m.roles,
            overwrites=c.overwrites.values(),
        )

    def require(self, channel_id: int, user_id: int, needed: int) -> None:
        """403 Missing Access without VIEW_CHANNEL, 403 Missing Permissions otherwise."""
        have = self.permissions_in(channel_id, user_id)
        if not have & perms.VIEW_CHANNEL:
            raise forbidden_missing_access()
        if have & needed != needed:
            raise forbidden_missing_permissions()

    def can_view(self, channel_id: int, user_id: int) -> bool:
        return bool(self.permissions_in(channel_id, user_id) & perms.VIEW_CHANNEL)

    # --- users, guilds, roles, members ---------------------------------------------

    def create_user(self, name: str, *, bot: bool = False) -> User:
        u = User(id=self.ids.next(), name=name, bot=bot, global_name=name)
        self.users[u.id] = u
        return u

    def create_guild(
        self,
        name: str,
        *,
        owner_id: int | None = None,
        bot_permissions: int = perms.DEFAULT_BOT,
        everyone_permissions: int = perms.DEFAULT_EVERYONE,
        app_id: int | None = None,
    ) -> Guild:
        """A guild with @everyone, a bot (with its managed role) and an owner. The bot is
        the primary application's unless ``app_id`` names another (one tenant's guild
        that no other tenant's bot is in)."""
        owner = self.users[owner_id] if owner_id else self.create_user(f"{name}-owner")
        g = Guild(id=self.ids.next(), name=name, owner_id=owner.id)
        g.roles[g.id] = Role(
            id=g.id, guild_id=g.id, name="@everyone", permissions=everyone_permissions, position=0
        )
        g.members[owner.id] = Member(guild_id=g.id, user_id=owner.id, roles=[])
        self.guilds[g.id] = g
        self.add_bot(g.id, app_id or self.app.id, bot_permissions)
        return g

    def add_bot(self, guild_id: int, app_id: int, permissions: int = perms.DEFAULT_BOT) -> Role:
        """Invite an application's bot: a managed role with ``permissions``, the bot as
        a member, GUILD_CREATE to that bot's sessions."""
        g = self.guild(guild_id)
        app = self.apps[app_id]
        if app.bot_id in g.members:
            return self.bot_role(guild_id, app_id)
        role = Role(
            id=self.ids.next(),
            guild_id=g.id,
            name=app.name,
            permissions=permissions,
            position=len(g.roles),
            managed=True,
            bot_id=app.bot_id,
        )
        g.roles[role.id] = role
        g.members[app.bot_id] = Member(guild_id=g.id, user_id=app.bot_id, roles=[role.id])
        self._dispatch(
            Dispatch(
                "GUILD_CREATE",
                dict(guild_create_payload(self, g, bot_id=app.bot_id)),
                INTENT_GUILDS,
                guild_id=g.id,
                only_bot_id=app.bot_id,
            )
        )
        return role

    def bot_role(self, guild_id: int, app_id: int | None = None) -> Role:
        bot_id = self.application(app_id).bot_id
        for r in self.guild(guild_id).roles.values():
            if r.bot_id == bot_id:
                return r
        raise DiscordEmulatorError(f"guild {guild_id} has no role for bot {bot_id}")

    def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> Role:
        g = self.guild(guild_id)
        role = g.roles.get(role_id)
        if role is None:
            raise not_found(UNKNOWN_ROLE, "Role")
        role.permissions = permissions
        self._dispatch(
            Dispatch(
                "GUILD_ROLE_UPDATE",
                {"guild_id": str(g.id), "role": dict(role_payload(role))},
                INTENT_GUILDS,
                guild_id=g.id,
            )
        )
        return role

    def create_role(self, guild_id: int, name: str, permissions: int = 0) -> Role:
        g = self.guild(guild_id)
        role = Role(
            id=self.ids.next(),
            guild_id=g.id,
            name=name,
            permissions=permissions,
            position=len(g.roles),
        )
        g.roles[role.id] = role
        self._dispatch(
            Dispatch(
                "GUILD_ROLE_CREATE",
                {"guild_id": str(g.id), "role": dict(role_payload(role))},
                INTENT_GUILDS,
                guild_id=g.id,
            )
        )
        return role

    def add_member(self, guild_id: int, user_id: int, roles: Iterable[int] = ()) -> Member:
        g = self.guild(guild_id)
        self.user(user_id)
        role_ids = list(roles)
        for r in role_ids:
            if r not in g.roles:
                raise not_found(UNKNOWN_ROLE, "Role")
        m = Member(guild_id=g.id, user_id=user_id, roles=role_ids)
        g.members[user_id] = m
        data: JsonObject = dict(member_payload(self, m))
        data["guild_id"] = str(g.id)
        self._dispatch(Dispatch("GUILD_MEMBER_ADD", data, INTENT_GUILD_MEMBERS, guild_id=g.id))
        return m

    def set_member_roles(self, guild_id: int, user_id: int, roles: Iterable[int]) -> Member:
        g = self.guild(guild_id)
        m = self.member(guild_id, user_id)
        role_ids = list(roles)
        for r in role_ids:
            if r not in g.roles:
                raise not_found(UNKNOWN_ROLE, "Role")
        m.roles = role_ids
        data: JsonObject = dict(member_payload(self, m))
        data["guild_id"] = str(g.id)
        self._dispatch(Dispatch("GUILD_MEMBER_UPDATE", data, INTENT_GUILD_MEMBERS, guild_id=g.id))
        return m

    def remove_member(self, guild_id: int, user_id: int) -> None:
        g = self.guild(guild_id)
        self.member(guild_id, user_id)
        if user_id == g.owner_id or user_id in self.apps:
            raise DiscordEmulatorError("bots and the owner stay in their guild")
        del g.members[user_id]
        data: JsonObject = {"guild_id": str(g.id), "user": dict(user_payload(self.users[user_id]))}
        self._dispatch(Dispatch("GUILD_MEMBER_REMOVE", data, INTENT_GUILD_MEMBERS, guild_id=g.id))

    # --- channels -------------------------------------------------------------------

    def _parse_overwrites(self, guild: Guild, raw: Any) -> dict[int, Overwrite]:
        if raw is None:
            return {}
        if not isinstance(raw, list):
            raise invalid_form(
                {"permission_overwrites": field_error("LIST_TYPE_CONVERT", "Must be an array.")}
            )
        out: dict[int, Overwrite] = {}
        for i, o in enumerate(raw):
            try:
                target = int(o["id"])
                kind = OverwriteType(int(o.get("type", 0)))
                allow = int(o.get("allow") or 0)
                deny = int(o.get("deny") or 0)
            except (KeyError, TypeError, ValueError) as e:
                raise invalid_form(
                    {
                        "permission_overwrites": {
                            str(i): field_error("BASE_TYPE_INVALID", f"Invalid overwrite: {e}")
                        }
                    }
                ) from e
            if kind is OverwriteType.ROLE and target not in guild.roles:
                raise invalid_form(
                    {
                        "permission_overwrites": {
                            str(i): {"id": field_error("UNKNOWN_ROLE", "Unknown role")}
                        }
                    }
                )
            if kind is OverwriteType.MEMBER and target not in self.users:
                raise invalid_form(
                    {
                        "permission_overwrites": {
                            str(i): {"id": field_error("UNKNOWN_USER", "Unknown user")}
                        }
                    }
                )
            out[target] = Overwrite(id=target, type=kind, allow=allow, deny=deny)
        return out

    def _check_overwrite_grant(self, actor_perms: int, overwrites: Iterable[Overwrite]) -> None:
        """Discord: setting overwrites needs MANAGE_ROLES, and a bot can only allow or
        deny permissions it has itself (unless it is an administrator)."""
        items = list(overwrites)
        if not items or actor_perms & perms.ADMINISTRATOR:
            return
        if not actor_perms & perms.MANAGE_ROLES:
            raise forbidden_missing_permissions()
        for o in items:
            if (o.allow | o.deny) & ~actor_perms:
                raise forbidden_missing_permissions()

    def create_channel(self, guild_id: int, actor_id: int, body: Mapping[str, Any]) -> Channel:
        g = self.guild(guild_id)
        if actor_id not in g.members:
            raise forbidden_missing_access()
        actor_perms = self.guild_permissions(g.id, actor_id)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid_form({"name": required()})
        if len(name) > 100:
            raise invalid_form({"name": too_long(100)})
        ctype = int(body.get("type") or GUILD_TEXT)
        parent_id = int(body["parent_id"]) if body.get("parent_id") else None
        if parent_id is not None:
            parent = self.channels.get(parent_id)
            if parent is None or parent.guild_id != g.id or parent.type != GUILD_CATEGORY:
                raise invalid_form(
                    {"parent_id": field_error("CHANNEL_PARENT_INVALID", "Category does not exist")}
                )
            actor_perms = self.permissions_in(parent_id, actor_id)
        if not actor_perms & perms.MANAGE_CHANNELS:
            raise forbidden_missing_permissions()
        overwrites = self._parse_overwrites(g, body.get("permission_overwrites"))
        self._check_overwrite_grant(actor_perms, overwrites.values())
        if parent_id is not None and not overwrites:
            # Discord: a channel created in a category without overwrites is synced
            # with the category's.
            overwrites = dict(self.channels[parent_id].overwrites)
        if len(g.channel_ids) >= self.limits.guild_channels_max:
            raise ApiError(
                400,
                MAX_GUILD_CHANNELS,
                f"Maximum number of guild channels reached ({self.limits.guild_channels_max})",
            )
        if parent_id is not None:
            self._check_category_room(g, parent_id)
        if ctype in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
            name = re.sub(r"\s+", "-", name.strip().lower())
        c = Channel(
            id=self.ids.next(),
            guild_id=g.id,
            name=name,
            type=ctype,
            position=int(body.get("position") or len(g.channel_ids)),
            parent_id=parent_id,
            topic=body.get("topic"),
            nsfw=bool(body.get("nsfw", False)),
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
            overwrites=overwrites,
        )
        self.channels[c.id] = c
        self.channel_messages[c.id] = []
        g.channel_ids.append(c.id)
        self._channel_event("CHANNEL_CREATE", c)
        return c

    def _channel_event(self, event: str, c: Channel) -> None:
        self._dispatch(
            Dispatch(
                event, dict(channel_payload(c)), INTENT_GUILDS, guild_id=c.guild_id, channel_id=c.id
            )
        )

    def renames_left(self, channel_id: int, now: float) -> tuple[int, float]:
        """(remaining name/topic changes, seconds until one frees up)."""
        window = self.limits.channel_rename_window
        stamps = [t for t in self._renames.get(channel_id, []) if now - t < window]
        self._renames[channel_id] = stamps
        left = self.limits.channel_rename_limit - len(stamps)
        retry = (stamps[0] + window - now) if stamps and left <= 0 else 0.0
        return left, retry

    def edit_channel(self, channel_id: int, actor_id: int, body: Mapping[str, Any]) -> Channel:
        c = self.channel(channel_id)
        self.require(c.id, actor_id, perms.MANAGE_CHANNELS)
        g = self.guilds[c.guild_id]
        if "permission_overwrites" in body:
            overwrites = self._parse_overwrites(g, body.get("permission_overwrites"))
            self._check_overwrite_grant(self.permissions_in(c.id, actor_id), overwrites.values())
            c.overwrites = overwrites
        if "name" in body and body["name"] != c.name:
            name = body["name"]
            if not isinstance(name, str) or not name.strip():
                raise invalid_form({"name": required()})
            c.name = re.sub(r"\s+", "-", name.strip().lower()) if c.type == GUILD_TEXT else name
            self._renames.setdefault(c.id, []).append(time.monotonic())
        if "topic" in body and body["topic"] != c.topic:
            c.topic = body["topic"]
            self._renames.setdefault(c.id, []).append(time.monotonic())
        if "parent_id" in body:
            pid = int(body["parent_id"]) if body["parent_id"] else None
            if pid is not None and pid != c.parent_id:
                self._check_category_room(g, pid)
            c.parent_id = pid
        for key in ("nsfw", "rate_limit_per_user", "position"):
            if key in body and body[key] is not None:
                setattr(c, key, type(getattr(c, key))(body[key]))
        self._channel_event("CHANNEL_UPDATE", c)
        return c

    def move_channels(self, guild_id: int, actor_id: int, moves: Any) -> None:
        """PATCH /guilds/{id}/channels: positions, parents, ``lock_permissions``."""
        g = self.guild(guild_id)
        if not isinstance(moves, list):
            raise invalid_form(
                {"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Must be an array."}]}
            )
        if not self.guild_permissions(g.id, actor_id) & perms.MANAGE_CHANNELS:
            raise forbidden_missing_permissions()
        changed: list[Channel] = []
        for i, move in enumerate(moves):
            c = self.channels.get(int(move["id"]))
            if c is None or c.guild_id != g.id:
                raise invalid_form(
                    {str(i): {"id": field_error("CHANNEL_INVALID", "Unknown channel")}}
                )
            if move.get("position") is not None:
                c.position = int(move["position"])
            if "parent_id" in move:
                pid = int(move["parent_id"]) if move["parent_id"] else None
                if pid is not None and pid != c.parent_id:
                    self._check_category_room(g, pid)
                c.parent_id = pid
                if pid is not None and move.get("lock_permissions"):
                    c.overwrites = dict(self.channels[pid].overwrites)
            changed.append(c)
        for c in changed:
            self._channel_event("CHANNEL_UPDATE", c)

    def _check_category_room(self, g: Guild, parent_id: int) -> None:
        parent = self.channels.get(parent_id)
        if parent is None or parent.guild_id != g.id or parent.type != GUILD_CATEGORY:
            raise invalid_form(
                {"parent_id": field_error("CHANNEL_PARENT_INVALID", "Category does not exist")}
            )
        children = sum(1 for x in g.channel_ids if self.channels[x].parent_id == parent_id)
        if children >= self.limits.category_channels_max:
            raise invalid_form(
                {
                    "parent_id": field_error(
                        "CHANNEL_PARENT_MAX_CHANNELS",
                        "Maximum number of channels in category reached "
                        f"({self.limits.category_channels_max})",
                    )
                }
            )

    def delete_channel(self, channel_id: int, actor_id: int) -> Channel:
        c = self.channel(channel_id)
        self.require(c.id, actor_id, perms.MANAGE_CHANNELS)
        del self.channels[c.id]
        self.guilds[c.guild_id].channel_ids.remove(c.id)
        for mid in self.channel_messages.pop(c.id, []):
            self.messages[mid].deleted = True
        self._channel_event("CHANNEL_DELETE", c)
        return c

    def put_overwrite(
        self, channel_id: int, actor_id: int, target_id: int, body: Mapping[str, Any]
    ) -> None:
        c = self.channel(channel_id)
        self.require(c.id, actor_id, perms.MANAGE_ROLES)
        g = self.guilds[c.guild_id]
        raw = {"id": target_id, **{k: body.get(k) for k in ("type", "allow", "deny")}}
        (o,) = self._parse_overwrites(g, [raw]).values()
        self._check_overwrite_grant(self.permissions_in(c.id, actor_id), [o])
        c.overwrites[target_id] = o
        self._channel_event("CHANNEL_UPDATE", c)

    def delete_overwrite(self, channel_id: int, actor_id: int, target_id: int) -> None:
        c = self.channel(channel_id)
        self.require(c.id, actor_id, perms.MANAGE_ROLES)
        if target_id not in c.overwrites:
            raise not_found(UNKNOWN_OVERWRITE, "Permission Overwrite")
        del c.overwrites[target_id]
        self._channel_event("CHANNEL_UPDATE", c)

    # --- messages -------------------------------------------------------------------

    def find_nonce(self, channel_id: int, author_id: int, nonce: int | str) -> Message | None:
        key = (channel_id, author_id, str(nonce))
        hit = self._nonces.get(key)
        if hit is None:
            return None
        mid, at = hit
        if time.monotonic() - at > self.limits.nonce_window:
            del self._nonces[key]
            return None
        m = self.messages.get(mid)
        return m if m is not None and not m.deleted else None

    def store_attachments(self, channel_id: int, uploads: Sequence[Upload]) -> list[Attachment]:
        """Keep files on the CDN (as Discord does for a slash command's attachment
        option before any message exists)."""
        return self._store_uploads(channel_id, uploads, None)

    def _store_uploads(
        self, channel_id: int, uploads: Sequence[Upload], meta: Any
    ) -> list[Attachment]:
        by_index: dict[int, JsonObject] = {}
        if isinstance(meta, list):
            for a in meta:
                if isinstance(a, Mapping) and "id" in a:
                    try:
                        by_index[int(a["id"])] = dict(a)
                    except (TypeError, ValueError):
                        continue
        out: list[Attachment] = []
        for i, up in enumerate(uploads):
            info = by_index.get(i, {})
            att = Attachment(
                id=self.ids.next(),
                channel_id=channel_id,
                filename=str(info.get("filename") or up.filename),
                content_type=up.content_type,
                data=up.data,
                description=info.get("description"),
            )
            self.attachments[att.id] = att
            out.append(att)
        return out

    def create_message(
        self,
        channel_id: int,
        author_id: int,
        body: Mapping[str, Any],
        uploads: Sequence[Upload] = (),
        *,
        check_permissions: bool = True,
        webhook_id: int | None = None,
        application_id: int | None = None,
        message_type: int = MESSAGE_DEFAULT,
        interaction_metadata: JsonObject | None = None,
        visible_to: int | None = None,
        flags: int = 0,
        allow_empty: bool = False,
    ) -> tuple[Message, bool]:
        """Create a message; returns it and whether it is new (``False``: an earlier
        message with the same nonce was returned because ``enforce_nonce`` was set)."""
        c = self.channel(channel_id)
        if check_permissions:
            needed = perms.SEND_MESSAGES | (perms.ATTACH_FILES if uploads else 0)
            self.require(c.id, author_id, needed)
        check_message(
            body,
            file_sizes=[len(u.data) for u in uploads],
            limits=self.limits,
            creating=not allow_empty,
        )
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self.find_nonce(c.id, author_id, nonce)
            if earlier is not None:
                return earlier, False
        ref = body.get("message_reference")
        if isinstance(ref, Mapping) and ref.get("message_id"):
            ref_msg = self.messages.get(int(ref["message_id"]))
            if ref_msg is None or ref_msg.deleted:
                if ref.get("fail_if_not_exists", True):
                    raise invalid_form(
                        {
                            "message_reference": field_error(
                                "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                            )
                        }
                    )
                ref = None
            else:
                message_type = MESSAGE_REPLY if message_type == MESSAGE_DEFAULT else message_type
                # Discord answers with the reference completed (discord.py needs channel_id).
                ref = {
                    "type": 0,
                    **ref,
                    "message_id": str(ref_msg.id),
                    "channel_id": str(ref_msg.channel_id),
                    **({"guild_id": str(ref_msg.guild_id)} if ref_msg.guild_id else {}),
                }
        m = Message(
            id=self.ids.next(),
            channel_id=c.id,
            guild_id=c.guild_id,
            author_id=author_id,
            content=str(body.get("content") or ""),
            embeds=[dict(e) for e in body.get("embeds") or []],
            components=[dict(x) for x in body.get("components") or []],
            attachments=self._store_uploads(c.id, uploads, body.get("attachments")),
            timestamp=iso_now(),
            type=message_type,
            flags=flags
            | (int(body.get("flags") or 0) & (FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS)),
            nonce=nonce,
            webhook_id=webhook_id,
            application_id=application_id,
            interaction_metadata=interaction_metadata,
            visible_to=visible_to,
            message_reference=dict(ref) if isinstance(ref, Mapping) else None,
        )
        self.messages[m.id] = m
        self.channel_messages.setdefault(c.id, []).append(m.id)
        if nonce is not None:
            self._nonces[(c.id, author_id, str(nonce))] = (m.id, time.monotonic())
        if visible_to is None:
            c.last_message_id = m.id
            self._message_event("MESSAGE_CREATE", m)
        return m, True

    def mentioned_ids(self, m: Message) -> frozenset[int]:
        return frozenset(int(x) for x in re.findall(r"<@!?(\d+)>", m.content))

    def _message_event(self, event: str, m: Message) -> None:
        data: JsonObject = dict(message_payload(self, m, with_member=True))
        self._dispatch(
            Dispatch(
                event,
                data,
                INTENT_GUILD_MESSAGES,
                guild_id=m.guild_id,
                channel_id=m.channel_id,
                content_gated=True,
                author_id=m.author_id,
                mentioned_ids=self.mentioned_ids(m),
            )
        )

    def edit_message(
        self,
        channel_id: int,
        message_id: int,
        actor_id: int,
        body: Mapping[str, Any],
        uploads: Sequence[Upload] = (),
        *,
        check_author: bool = True,
    ) -> Message:
        m = self.message(channel_id, message_id)
        if check_author and m.author_id != actor_id:
            raise ApiError(
                403, CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        kept = m.attachments
        if "attachments" in body and isinstance(body["attachments"], list):
            keep_ids = {
                int(a["id"])
                for a in body["attachments"]
                if isinstance(a, Mapping)
                and str(a.get("id", "")).isdigit()
                and int(a["id"]) in self.attachments
            }
            kept = [a for a in m.attachments if a.id in keep_ids]
        check_message(
            body,
            file_sizes=[len(u.data) for u in uploads],
            limits=self.limits,
            creating=False,
            existing_attachments=len(kept),
        )
        if "content" in body:
            m.revisions.append(m.content)
            m.content = str(body["content"] or "")
        if "embeds" in body:
            m.embeds = [dict(e) for e in body["embeds"] or []]
        if "components" in body:
            m.components = [dict(x) for x in body["components"] or []]
        if "flags" in body and body["flags"] is not None:
            keep = m.flags & ~(FLAG_SUPPRESS_EMBEDS | FLAG_LOADING)
            m.flags = keep | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        m.flags &= ~FLAG_LOADING
        m.attachments = kept + self._store_uploads(m.channel_id, uploads, body.get("attachments"))
        m.edited_timestamp = iso_now()
        m.edit_times.append(time.time())
        if m.visible_to is None:
            self._message_event("MESSAGE_UPDATE", m)
        return m

    def delete_message(
        self, channel_id: int, message_id: int, actor_id: int, *, check: bool = True
    ) -> None:
        m = self.message(channel_id, message_id)
        if check and m.author_id != actor_id:
            self.require(channel_id, actor_id, perms.MANAGE_MESSAGES)
        m.deleted = True
        if m.visible_to is None:
            self._dispatch(
                Dispatch(
                    "MESSAGE_DELETE",
                    {"id": str(m.id), "channel_id": str(m.channel_id), "guild_id": str(m.guild_id)},
                    INTENT_GUILD_MESSAGES,
                    guild_id=m.guild_id,
                    channel_id=m.channel_id,
                )
            )

    def react(
        self, channel_id: int, message_id: int, user_id: int, emoji: str, *, add: bool = True
    ) -> None:
        m = self.message(channel_id, message_id)
        users = m.reactions.setdefault(emoji, [])
        if add:
            have = self.permissions_in(channel_id, user_id)
            if not have & perms.VIEW_CHANNEL:
                raise forbidden_missing_access()
            if user_id in users:
                return
            if not users and not have & perms.ADD_REACTIONS:
                raise forbidden_missing_permissions()
            users.append(user_id)
        elif user_id in users:
            users.remove(user_id)
        else:
            return
        if not users:
            del m.reactions[emoji]
        name, _, eid = emoji.partition(":")
        data: JsonObject = {
            "user_id": str(user_id),
            "channel_id": str(channel_id),
            "message_id": str(m.id),
            "guild_id": str(m.guild_id),
            "emoji": {"id": eid or None, "name": name},
            "burst": False,
            "type": 0,
        }
        if add:
            member = self.guilds[m.guild_id].members.get(user_id)
            if member is not None:
                data["member"] = dict(member_payload(self, member))
            data["message_author_id"] = str(m.author_id)
        self._dispatch(
            Dispatch(
                "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE",
                data,
                INTENT_GUILD_MESSAGE_REACTIONS,
                guild_id=m.guild_id,
                channel_id=channel_id,
            )
        )

    def pin(self, channel_id: int, message_id: int, actor_id: int, *, pinned: bool) -> None:
        m = self.message(channel_id, message_id)
        self.require(channel_id, actor_id, perms.MANAGE_MESSAGES)
        if pinned and m.pinned_at is None:
            count = sum(1 for x in self.live_messages(channel_id) if x.pinned_at is not None)
            if count >= self.limits.pins_max:
                raise ApiError(
                    400, MAX_PINS, f"Maximum number of pins reached ({self.limits.pins_max})"
                )
            m.pinned_at = iso_now()
        elif not pinned:
            m.pinned_at = None
        self._message_event("MESSAGE_UPDATE", m)
        self._dispatch(
            Dispatch(
                "CHANNEL_PINS_UPDATE",
                {
                    "guild_id": str(m.guild_id),
                    "channel_id": str(channel_id),
                    "last_pin_timestamp": m.pinned_at,
                },
                INTENT_GUILDS,
                guild_id=m.guild_id,
                channel_id=channel_id,
            )
        )

    # --- application commands -------------------------------------------------------

    # --- application commands (see commands.py) ------------------------------------

    def commands_for(self, guild_id: int | None, *, app_id: int | None = None) -> list[Command]:
        return self.app_commands.commands_for(self.application(app_id).id, guild_id)

    def upsert_command(
        self, guild_id: int | None, body: Mapping[str, Any], *, app_id: int | None = None
    ) -> tuple[Command, bool]:
        return self.app_commands.upsert(self.application(app_id).id, guild_id, body)

    def bulk_overwrite_commands(
        self, guild_id: int | None, bodies: Any, *, app_id: int | None = None
    ) -> list[Command]:
        return self.app_commands.bulk_overwrite(self.application(app_id).id, guild_id, bodies)

    def delete_command(
        self, guild_id: int | None, command_id: int, *, app_id: int | None = None
    ) -> None:
        self.app_commands.delete(self.application(app_id).id, guild_id, command_id)

    def find_command(
        self, guild_id: int | None, name: str, *, app_id: int | None = None
    ) -> Command | None:
        """From ``app_id``, or from any application when ``None``."""
        return self.app_commands.find(guild_id, name, app_id)


__all__ = [
    "Application",
    "FLAG_EPHEMERAL",
    "FLAG_LOADING",
    "GUILD_ANNOUNCEMENT",
    "GUILD_CATEGORY",
    "GUILD_TEXT",
    "GUILD_VOICE",
    "INTENT_GUILD_MEMBERS",
    "INTENT_GUILDS",
    "INTENT_MESSAGE_CONTENT",
    "MESSAGE_CHAT_INPUT_COMMAND",
    "MESSAGE_DEFAULT",
    "Attachment",
    "Channel",
    "Command",
    "Dispatch",
    "Guild",
    "Member",
    "Message",
    "Role",
    "Upload",
    "User",
    "World",
]
