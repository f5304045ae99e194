"""Discord wire payloads the emulator sends, as TypedDicts (shapes of Discord API v10).

Only what discord.py and our gateway read is filled in; ids are strings, as on the
wire. Request bodies coming *in* are client data and stay ``Mapping[str, Any]`` until
the handler has validated them.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

JsonObject = dict[str, Any]


class UserPayload(TypedDict):
    id: str
    username: str
    discriminator: str
    global_name: str | None
    avatar: str | None
    bot: bool
    flags: int
    public_flags: int


class RolePayload(TypedDict):
    id: str
    name: str
    color: int
    hoist: bool
    position: int
    permissions: str
    managed: bool
    mentionable: bool
    flags: int
    tags: NotRequired[dict[str, str | None]]


class MemberPayload(TypedDict):
    user: UserPayload
    nick: str | None
    roles: list[str]
    joined_at: str
    deaf: bool
    mute: bool
    flags: int
    pending: bool
    permissions: NotRequired[str]


class OverwritePayload(TypedDict):
    id: str
    type: int
    allow: str
    deny: str


class ChannelPayload(TypedDict):
    id: str
    type: int
    guild_id: str
    name: str
    position: int
    permission_overwrites: list[OverwritePayload]
    parent_id: str | None
    topic: str | None
    nsfw: bool
    last_message_id: str | None
    rate_limit_per_user: int
    flags: int


class AttachmentPayload(TypedDict):
    id: str
    filename: str
    size: int
    url: str
    proxy_url: str
    content_type: NotRequired[str]
    description: NotRequired[str]


class MessagePayload(TypedDict):
    id: str
    channel_id: str
    type: int
    content: str
    author: UserPayload
    timestamp: str
    edited_timestamp: str | None
    tts: bool
    mention_everyone: bool
    mentions: list[UserPayload]
    mention_roles: list[str]
    attachments: list[AttachmentPayload]
    embeds: list[JsonObject]
    components: list[JsonObject]
    pinned: bool
    flags: int
    guild_id: NotRequired[str]
    member: NotRequired[JsonObject]
    nonce: NotRequired[int | str]
    reactions: NotRequired[list[JsonObject]]
    webhook_id: NotRequired[str]
    application_id: NotRequired[str]
    interaction_metadata: NotRequired[JsonObject]
    message_reference: NotRequired[JsonObject]


class GuildPayload(TypedDict):
    id: str
    name: str
    icon: str | None
    owner_id: str
    roles: list[RolePayload]
    emojis: list[JsonObject]
    stickers: list[JsonObject]
    features: list[str]
    verification_level: int
    default_message_notifications: int
    explicit_content_filter: int
    mfa_level: int
    premium_tier: int
    system_channel_flags: int
    nsfw_level: int
    preferred_locale: str
    afk_timeout: int
    member_count: NotRequired[int]
    large: NotRequired[bool]
    unavailable: NotRequired[bool]
    joined_at: NotRequired[str]
    channels: NotRequired[list[ChannelPayload]]
    threads: NotRequired[list[JsonObject]]
    members: NotRequired[list[MemberPayload]]
    voice_states: NotRequired[list[JsonObject]]
    presences: NotRequired[list[JsonObject]]
    stage_instances: NotRequired[list[JsonObject]]
    guild_scheduled_events: NotRequired[list[JsonObject]]
    soundboard_sounds: NotRequired[list[JsonObject]]
