"""Raw Discord payloads the gateway reads and writes, as ``TypedDict``s (the shapes of
Discord's documented API; discord.py keeps its own in ``discord.types``)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from .embeds import Embed

# Interaction types and callback types (Discord API v10).
PING = 1
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5

PONG = 1
CHANNEL_MESSAGE = 4
DEFERRED_CHANNEL_MESSAGE = 5
DEFERRED_UPDATE_MESSAGE = 6

EPHEMERAL = 1 << 6

# Permission bits.
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_CHANNELS = 1 << 4
MANAGE_MESSAGES = 1 << 13
USE_APPLICATION_COMMANDS = 1 << 31

GUILD_TEXT = 0
GUILD_CATEGORY = 4


class User(TypedDict):
    id: str
    username: str
    global_name: NotRequired[str | None]
    bot: NotRequired[bool]


class Member(TypedDict):
    user: NotRequired[User]
    roles: list[str]
    nick: NotRequired[str | None]


class Attachment(TypedDict):
    id: str
    filename: str
    size: int
    url: str
    content_type: NotRequired[str]


class Resolved(TypedDict, total=False):
    attachments: dict[str, Attachment]


class CommandOption(TypedDict):
    name: str
    type: int
    value: NotRequired[Any]


class InteractionData(TypedDict, total=False):
    id: str
    name: str
    type: int
    options: list[CommandOption]
    resolved: Resolved
    custom_id: str
    component_type: int


class Interaction(TypedDict):
    id: str
    application_id: str
    type: int
    token: str
    version: int
    data: NotRequired[InteractionData]
    guild_id: NotRequired[str]
    channel_id: NotRequired[str]
    member: NotRequired[Member]
    user: NotRequired[User]
    message: NotRequired[dict[str, Any]]


class Overwrite(TypedDict):
    id: str
    type: int  # 0 role, 1 member
    allow: str
    deny: str


class Channel(TypedDict):
    id: str
    type: int
    name: NotRequired[str]
    guild_id: NotRequired[str]
    parent_id: NotRequired[str | None]
    topic: NotRequired[str | None]
    permission_overwrites: NotRequired[list[Overwrite]]


class Button(TypedDict):
    type: int  # 2
    style: int
    label: str
    custom_id: str


class ActionRow(TypedDict):
    type: int  # 1
    components: list[Button]


class MessageReference(TypedDict):
    message_id: str
    channel_id: NotRequired[str]
    fail_if_not_exists: NotRequired[bool]


class MessageBody(TypedDict, total=False):
    content: str
    embeds: list[Embed]
    components: list[ActionRow]
    nonce: str
    enforce_nonce: bool
    flags: int
    message_reference: MessageReference
    allowed_mentions: dict[str, Any]


class Message(TypedDict):
    id: str
    channel_id: str
    content: str
    author: User
    nonce: NotRequired[str | int | None]
    components: NotRequired[list[dict[str, Any]]]


BUTTON_PRIMARY = 1
BUTTON_SECONDARY = 2
BUTTON_SUCCESS = 3
BUTTON_DANGER = 4


def button(label: str, custom_id: str, style: int = BUTTON_PRIMARY) -> Button:
    return Button(type=2, style=style, label=label, custom_id=custom_id)


def row(*buttons: Button) -> ActionRow:
    return ActionRow(type=1, components=list(buttons))
