"""The session runtime's heartbeat: what the operator turns into AgentSession status.

The runtime rewrites it (``SET`` with a TTL) at least every few seconds and whenever
something changes; the operator reads it at most once per second per session and
writes status only when the visible part changed. Activity is measured from here,
never from object changes (a status patch is not user activity).
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from .base import WireModel
from .events import Usage


class TurnProgress(WireModel):
    turn: int = Field(default=0, ge=0)
    step: str = Field(default="", max_length=100)
    message: str = Field(default="", max_length=500)


class Heartbeat(WireModel):
    at: AwareDatetime
    """When the runtime wrote this heartbeat."""
    ready: bool
    """The agent engine is started and the turn loop is consuming."""
    busy: bool = False
    """A turn is running."""
    last_activity_at: AwareDatetime | None = None
    """The last turn received or finished (drives idle suspension)."""
    turns: int = Field(default=0, ge=0)
    usage: Usage = Field(default_factory=Usage)
    progress: TurnProgress = Field(default_factory=TurnProgress)
    mcp: dict[str, bool] = Field(default_factory=dict)
    """MCP server name → healthy (tools/list answered)."""
    policy_hash: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")
