"""The provider interface: what the turn loop needs from an agent engine.

An engine starts once per runtime and opens one conversation (:class:`EngineSession`)
per session. Events come back as ``(kind, data)`` pairs through the callback given to
:meth:`EngineSession.subscribe`; :mod:`cephalon_runtime.events` maps them. Before any
tool runs the engine must ask the :data:`Gate` and obey its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..approvals import GateDecision
from ..attachments import StoredAttachment

#: Call ids an engine makes up when it cannot tell which call a question is about.
UNMATCHED_CALL_PREFIX = "unmatched-"

Gate = Callable[[str, Any, str], Awaitable[GateDecision]]
"""``gate(tool, arguments, call_id)`` → allow or refuse (with a reason)."""


@dataclass(frozen=True)
class EngineEvent:
    kind: str
    data: Any


@dataclass(frozen=True)
class SessionConfig:
    model: str
    system_message: str
    working_directory: str
    gate: Gate
    mcp_servers: dict[str, dict[str, object]] = field(default_factory=dict)
    skill_directories: list[str] = field(default_factory=list)


class EngineSession(Protocol):
    def subscribe(self, callback: Callable[[EngineEvent], None]) -> Callable[[], None]: ...

    async def send(self, prompt: str, attachments: list[StoredAttachment]) -> None: ...

    async def abort(self) -> None: ...

    async def set_model(self, model: str) -> None: ...

    async def close(self) -> None: ...


class Engine(Protocol):
    async def start(self) -> None: ...

    async def open_session(self, config: SessionConfig) -> EngineSession: ...

    async def stop(self) -> None: ...
