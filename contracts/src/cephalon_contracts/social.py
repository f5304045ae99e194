"""Provider-neutral chat messages and the commands that drive a session.

Every provider id is a URN (``urn:cephalon:discord:duck:user:123``), so nothing
downstream of the access layer needs to know which chat service a message came from.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, Field

from .base import WireModel
from .urns import Urn

MIME_PATTERN = r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$"


class Author(WireModel):
    urn: Urn
    display_name: str = Field(min_length=1, max_length=100)
    is_bot: bool = False


class AttachmentMeta(WireModel):
    """What a provider told us about an attachment, before we fetched it."""

    urn: Urn
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(pattern=MIME_PATTERN)
    size_bytes: int = Field(ge=0)


class AttachmentRef(WireModel):
    """An attachment the access layer accepted and stored under the session's blob keys."""

    blob_key: str = Field(min_length=1, max_length=512)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(pattern=MIME_PATTERN)
    size_bytes: int = Field(ge=0)


class SocialMessageCreated(WireModel):
    """A message appeared in a conversation we watch (normalized from any provider)."""

    type: Literal["social.message.created"] = "social.message.created"
    message: Urn
    author: Author
    channel: Urn
    guild: Urn | None = None
    content: str = Field(max_length=16_000)
    attachments: list[AttachmentMeta] = Field(default_factory=list, max_length=10)
    created_at: AwareDatetime
    reply_to: Urn | None = None


class PostMessage(WireModel):
    """A command to say something in a conversation; only the access layer executes it.

    The access layer splits ``content`` to the provider's limits.
    """

    type: Literal["social.message.post"] = "social.message.post"
    channel: Urn
    content: str = Field(min_length=1, max_length=200_000)
    reply_to: Urn | None = None
    ephemeral_for: Urn | None = None


class TurnMode(StrEnum):
    QUEUE = "queue"
    """Wait for the running turn to finish (the default)."""
    IMMEDIATE = "immediate"
    """Steer the running turn now."""


class SessionOverrides(WireModel):
    """Per-session choices made with chat commands; ``None`` keeps the current value."""

    model: str | None = Field(default=None, min_length=1, max_length=200)
    agent: str | None = Field(default=None, min_length=1, max_length=100)
    skills: list[str] | None = Field(default=None, max_length=50)
    mcp_servers: list[str] | None = Field(default=None, max_length=20)


class TurnRequest(WireModel):
    """One thing the user asked the agent (text plus attachments)."""

    type: Literal["session.turn"] = "session.turn"
    text: str = Field(max_length=16_000)
    author: Urn
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=10)
    mode: TurnMode = TurnMode.QUEUE
    overrides: SessionOverrides = Field(default_factory=SessionOverrides)


class Cancel(WireModel):
    """Stop the running turn (control stream); a ``final`` with ``cancelled`` follows."""

    type: Literal["session.cancel"] = "session.cancel"
    requested_by: Urn
    reason: str = Field(default="", max_length=500)
