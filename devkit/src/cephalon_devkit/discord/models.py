"""The emulated Discord's records (users, guilds, channels, messages, commands) and
the wire constants they use. Plain dataclasses; the rules live in
:mod:`cephalon_devkit.discord.state`."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from cephalon_devkit.discord.permissions import Overwrite
from cephalon_devkit.discord.types import JsonObject

# Channel types (Discord ChannelType).
GUILD_TEXT = 0
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_ANNOUNCEMENT = 5

# Message types and flags.
MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12

# Gateway intents that decide who receives a dispatch.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10
INTENT_MESSAGE_CONTENT = 1 << 15


def iso_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


@dataclass
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int
    managed: bool = False
    bot_id: int | None = None


@dataclass
class Member:
    guild_id: int
    user_id: int
    roles: list[int]
    joined_at: str = field(default_factory=iso_now)
    nick: str | None = None


@dataclass
class Channel:
    id: int
    guild_id: int
    name: str
    type: int
    position: int
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    last_message_id: int | None = None


@dataclass
class Attachment:
    id: int
    channel_id: int
    filename: str
    content_type: str | None
    data: bytes
    description: str | None = None


@dataclass
class Message:
    id: int
    channel_id: int
    guild_id: int
    author_id: int
    content: str
    embeds: list[JsonObject]
    components: list[JsonObject]
    attachments: list[Attachment]
    timestamp: str
    type: int = MESSAGE_DEFAULT
    flags: int = 0
    nonce: int | str | None = None
    edited_timestamp: str | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: JsonObject | None = None
    visible_to: int | None = None
    """An ephemeral message: the only user who sees it."""
    message_reference: JsonObject | None = None
    deleted: bool = False
    revisions: list[str] = field(default_factory=list)
    """Earlier contents, oldest first (edits)."""
    pinned_at: str | None = None
    edit_times: list[float] = field(default_factory=list)
    """Unix time of every edit, oldest first (edit-rate assertions, benchmarks)."""
    created_at: float = field(default_factory=time.time)
    reactions: dict[str, list[int]] = field(default_factory=dict)
    """Emoji (unicode or ``name:id``) → ids of the users who reacted, in order."""
    created_monotonic: float = field(default_factory=time.monotonic)


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    channel_ids: list[int] = field(default_factory=list)


@dataclass
class Command:
    id: int
    application_id: int
    guild_id: int | None
    name: str
    description: str
    type: int
    options: list[JsonObject]
    version: int
    default_member_permissions: str | None = None
    contexts: list[int] | None = None
    nsfw: bool = False
    extra: JsonObject = field(default_factory=dict)


@dataclass
class Application:
    """One bot application: its bot user, token, signing key and interactions URL.
    Its id equals its bot user's id (true of every application made since 2019)."""

    id: int
    name: str
    token: str
    signing_key: SigningKey
    interactions_url: str | None = None

    @property
    def bot_id(self) -> int:
        return self.id

    @property
    def public_key(self) -> str:
        """Hex Ed25519 public key (the developer portal's "Public Key")."""
        return self.signing_key.verify_key.encode().hex()


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A gateway event the world announces; the gateway decides who receives it."""

    event: str
    data: JsonObject
    intent: int
    guild_id: int | None = None
    channel_id: int | None = None
    content_gated: bool = False
    """A MESSAGE_* event: content is stripped for a session without MESSAGE_CONTENT
    unless its bot wrote the message or is mentioned."""
    author_id: int | None = None
    only_bot_id: int | None = None
    """Deliver only to this bot's sessions (a GUILD_CREATE for a bot that just joined)."""
    mentioned_ids: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Upload:
    """A file that came with a request (multipart ``files[n]``)."""

    filename: str
    content_type: str | None
    data: bytes
