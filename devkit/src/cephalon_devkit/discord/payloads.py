"""Pure builders: emulator state → Discord API v10 JSON (the shapes discord.py parses).

Each function takes the world's dataclasses and returns a TypedDict from
:mod:`cephalon_devkit.discord.types`; nothing here changes state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from cephalon_devkit.discord.types import (
    AttachmentPayload,
    ChannelPayload,
    GuildPayload,
    JsonObject,
    MemberPayload,
    MessagePayload,
    OverwritePayload,
    RolePayload,
    UserPayload,
)

if TYPE_CHECKING:
    from cephalon_devkit.discord.models import (
        Application,
        Attachment,
        Channel,
        Command,
        Guild,
        Member,
        Message,
        Role,
        User,
    )
    from cephalon_devkit.discord.state import World


def user_payload(u: User) -> UserPayload:
    return {
        "id": str(u.id),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": None,
        "bot": u.bot,
        "flags": 0,
        "public_flags": 0,
    }


def role_payload(r: Role) -> RolePayload:
    out: RolePayload = {
        "id": str(r.id),
        "name": r.name,
        "color": 0,
        "hoist": False,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": r.managed,
        "mentionable": False,
        "flags": 0,
    }
    if r.bot_id is not None:
        out["tags"] = {"bot_id": str(r.bot_id)}
    return out


def member_payload(world: World, m: Member) -> MemberPayload:
    return {
        "user": user_payload(world.users[m.user_id]),
        "nick": m.nick,
        "roles": [str(r) for r in m.roles],
        "joined_at": m.joined_at,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }


def overwrite_payloads(c: Channel) -> list[OverwritePayload]:
    return [
        {"id": str(o.id), "type": int(o.type), "allow": str(o.allow), "deny": str(o.deny)}
        for o in c.overwrites.values()
    ]


def channel_payload(c: Channel) -> ChannelPayload:
    return {
        "id": str(c.id),
        "type": c.type,
        "guild_id": str(c.guild_id),
        "name": c.name,
        "position": c.position,
        "permission_overwrites": overwrite_payloads(c),
        "parent_id": str(c.parent_id) if c.parent_id else None,
        "topic": c.topic,
        "nsfw": c.nsfw,
        "last_message_id": str(c.last_message_id) if c.last_message_id else None,
        "rate_limit_per_user": c.rate_limit_per_user,
        "flags": 0,
    }


def attachment_path(a: Attachment) -> str:
    return f"/attachments/{a.channel_id}/{a.id}/{quote(a.filename)}"


def attachment_payload(world: World, a: Attachment) -> AttachmentPayload:
    url = world.cdn_base + world.sign_cdn_path(attachment_path(a))
    out: AttachmentPayload = {
        "id": str(a.id),
        "filename": a.filename,
        "size": len(a.data),
        "url": url,
        "proxy_url": url,
    }
    if a.content_type:
        out["content_type"] = a.content_type
    if a.description:
        out["description"] = a.description
    return out


def message_payload(world: World, m: Message, *, with_member: bool = False) -> MessagePayload:
    author = world.users[m.author_id]
    mentions = [user_payload(world.users[u]) for u in world.mentioned_ids(m) if u in world.users]
    out: MessagePayload = {
        "id": str(m.id),
        "channel_id": str(m.channel_id),
        "type": m.type,
        "content": m.content,
        "author": user_payload(author),
        "timestamp": m.timestamp,
        "edited_timestamp": m.edited_timestamp,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions,
        "mention_roles": [],
        "attachments": [attachment_payload(world, a) for a in m.attachments],
        "embeds": [dict(e) for e in m.embeds],
        "components": [dict(c) for c in m.components],
        "pinned": m.pinned_at is not None,
        "flags": m.flags,
        "guild_id": str(m.guild_id),
    }
    if m.reactions:
        out["reactions"] = [
            {
                "emoji": {"id": emoji.partition(":")[2] or None, "name": emoji.partition(":")[0]},
                "count": len(users),
                "count_details": {"burst": 0, "normal": len(users)},
                "me": world.bot.id in users,
                "me_burst": False,
                "burst_colors": [],
            }
            for emoji, users in m.reactions.items()
        ]
    if m.nonce is not None:
        out["nonce"] = m.nonce
    if m.webhook_id is not None:
        out["webhook_id"] = str(m.webhook_id)
        out["application_id"] = str(m.application_id or world.application_id)
    if m.interaction_metadata is not None:
        out["interaction_metadata"] = dict(m.interaction_metadata)
    if m.message_reference is not None:
        out["message_reference"] = dict(m.message_reference)
    if with_member:
        g = world.guilds.get(m.guild_id)
        member = g.members.get(m.author_id) if g else None
        if member is not None:
            mp: JsonObject = dict(member_payload(world, member))
            mp.pop("user")
            out["member"] = mp
    return out


def guild_payload(world: World, g: Guild) -> GuildPayload:
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "owner_id": str(g.owner_id),
        "roles": [role_payload(r) for r in g.roles.values()],
        "emojis": [],
        "stickers": [],
        "features": [],
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "premium_tier": 0,
        "system_channel_flags": 0,
        "nsfw_level": 0,
        "preferred_locale": "en-US",
        "afk_timeout": 300,
    }


def guild_create_payload(
    world: World,
    g: Guild,
    *,
    include_members: bool = True,
    bot_id: int | None = None,
    joined: bool = False,
) -> GuildPayload:
    """GUILD_CREATE as bot ``bot_id`` (default: the primary) sees it: the guild with its
    channels and (that bot's, or all) members. ``joined``: the bot was just added, so
    ``unavailable`` is absent (clients tell a join from a guild coming back online by
    that; discord.py dispatches ``guild_join`` vs ``guild_available``)."""
    me = world.bot.id if bot_id is None else bot_id
    out = guild_payload(world, g)
    members = list(g.members.values())
    if not include_members:
        members = [m for m in members if m.user_id == me]
    out.update(
        {
            "member_count": len(g.members),
            "large": False,
            "joined_at": g.members[me].joined_at
            if me in g.members
            else g.members[g.owner_id].joined_at,
            "channels": [channel_payload(world.channels[c]) for c in g.channel_ids],
            "threads": [],
            "members": [member_payload(world, m) for m in members],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
    )
    if not joined:
        out["unavailable"] = False
    return out


def command_payload(c: Command) -> JsonObject:
    out: JsonObject = {
        "id": str(c.id),
        "application_id": str(c.application_id),
        "name": c.name,
        "description": c.description,
        "type": c.type,
        "options": [dict(o) for o in c.options],
        "version": str(c.version),
        "default_member_permissions": c.default_member_permissions,
        "nsfw": c.nsfw,
        **c.extra,
    }
    if c.guild_id is not None:
        out["guild_id"] = str(c.guild_id)
    if c.contexts is not None:
        out["contexts"] = c.contexts
    return out


def application_payload(world: World, app: Application, *, owner: User) -> JsonObject:
    bot = world.users[app.bot_id]
    return {
        "id": str(app.id),
        "name": app.name,
        "icon": None,
        "description": "Cephalon (Discord emulator)",
        "rpc_origins": [],
        "bot_public": False,
        "bot_require_code_grant": False,
        "bot": user_payload(bot),
        "owner": user_payload(owner),
        "team": None,
        "verify_key": app.public_key,
        "flags": (1 << 19) | (1 << 15),  # GATEWAY_MESSAGE_CONTENT(_LIMITED) + MEMBERS
        "interactions_endpoint_url": app.interactions_url,
        "tags": [],
        "approximate_guild_count": sum(1 for g in world.guilds.values() if bot.id in g.members),
        "redirect_uris": [],
    }
