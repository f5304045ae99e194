"""What the emulator saw and sent, for assertions: REST requests, gateway dispatches
and interaction deliveries. Records never hold the bot token."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedRequest:
    seq: int
    method: str
    path: str
    route: str
    """The route's name (``create_message``, ``interaction_callback``...); ``unknown``
    for paths the emulator does not serve, ``control`` for the user-side API."""
    query: dict[str, str]
    body: Any = None
    """Parsed JSON (or ``payload_json`` of a multipart request)."""
    files: int = 0
    status: int = 0
    error_code: int | None = None
    rate_limit_scope: str | None = None
    """Set on 429s: ``user``, ``global``, ``shared``, or ``cloudflare`` for a ban."""
    bucket: str | None = None
    fault: str | None = None
    """The injected fault that shaped the answer (``answer``, ``delay``,
    ``disconnect``); ``None`` for a normal one."""
    audit_log_reason: str | None = None
    """``X-Audit-Log-Reason``, URL-decoded, as Discord shows it in the audit log."""
    started_at: float = field(default_factory=time.time)
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class RecordedDispatch:
    session_id: str
    seq: int
    event: str
    data: Any
    at: float
    replayed: bool = False
