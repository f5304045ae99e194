"""What the stub saw: one record per HTTP request, for test assertions.

Records keep the parsed body (model, messages, tools) and whether the credential
matched, but never the credential: credential-bearing headers are redacted before a
record is made, so a record can be logged or printed in a failing assertion without
leaking the key a test is trying to prove arrives upstream.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from cephalon_devkit.model.script import last_user_text
from cephalon_devkit.model.wire import ChatCompletionRequest, ChatMessage

REDACTED = "<redacted>"
_CREDENTIAL_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})

Outcome = Literal[
    "pending",  # still being answered
    "completed",  # a full answer was sent
    "error",  # a scripted error or a malformed request was answered with 4xx/5xx
    "rejected",  # the credential did not match: 401
    "exhausted",  # no step matched: 500
    "broken",  # the script dropped the connection mid-answer
    "stream_error",  # the script ended the stream with an SSE error event
    "client_disconnected",  # the client went away before the answer was complete
]


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy of ``headers`` with every credential value replaced by ``<redacted>``."""
    return {
        name: (REDACTED if name.lower() in _CREDENTIAL_HEADERS else value)
        for name, value in headers.items()
    }


@dataclass
class RecordedRequest:
    seq: int
    method: str
    path: str
    headers: dict[str, str]
    """Request headers with credentials redacted."""
    auth_ok: bool
    """The request carried exactly ``Authorization: Bearer <expected key>`` (always
    true when the server checks no key)."""
    body: ChatCompletionRequest | None = None
    status: int = 0
    outcome: Outcome = "pending"
    step_index: int | None = None
    step_kind: str | None = None
    step_label: str | None = None
    chunks_sent: int = 0
    """Server-sent events written (role, content, tool-call, finish and usage chunks)."""
    received_at: float = field(default_factory=time.monotonic)
    first_byte_at: float | None = None
    finished_at: float | None = None

    @property
    def model(self) -> str | None:
        return self.body.get("model") if self.body else None

    @property
    def stream(self) -> bool:
        return bool(self.body and self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options") if self.body else None
        return bool(options and options.get("include_usage"))

    @property
    def messages(self) -> list[ChatMessage]:
        return list(self.body.get("messages") or []) if self.body else []

    @property
    def tool_names(self) -> list[str]:
        tools = self.body.get("tools") or [] if self.body else []
        return [t.get("function", {}).get("name", "") for t in tools]

    @property
    def last_user_text(self) -> str:
        return last_user_text(self.messages)

    @property
    def system_prompt(self) -> str:
        """Concatenated text of the system/developer messages."""
        parts: list[str] = []
        for message in self.messages:
            if message.get("role") in ("system", "developer"):
                content = message.get("content")
                if isinstance(content, str):
                    parts.append(content)
                elif isinstance(content, list):
                    parts.extend(p.get("text", "") for p in content)
        return "\n".join(parts)
