"""Keep credentials out of every log line and error body.

Two nets: the exact secret values this process knows (the tenant's upstream key, its
Redis password) and the shapes credentials travel in (``Authorization: Bearer …``,
``api-key``/``x-api-key`` headers, provider key formats). Session tokens are never in
the known set (there are thousands, and the gateway keeps only digests), so the shape
net is what catches them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

REDACTED = "[REDACTED]"

_SHAPES = (
    re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"),
    re.compile(r"(?i)((?:x-)?api[-_]key[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+"),
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?!bearer\s)[^\s\"',;]+"),
    re.compile(r"()\bsk-(?:ant-|proj-)?[\w-]{16,}"),
    re.compile(r"()\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,})"),
)
_SENSITIVE_KEYS = frozenset(
    {"authorization", "api-key", "x-api-key", "api_key", "token", "password", "secret"}
)


class Redactor:
    """Replaces known secret values and credential-shaped substrings with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        if len(secret) >= 4 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        for shape in _SHAPES:
            value = shape.sub(lambda m: f"{m.group(1)}{REDACTED}", value)
        return value

    def value(self, value: Any) -> Any:
        """Redact strings inside any JSON-like value (dicts, lists, tuples)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: REDACTED if str(k).lower() in _SENSITIVE_KEYS else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, BaseException):
            return self.text(f"{type(value).__name__}: {value}")
        return value

    # structlog processor signature: (logger, method_name, event_dict) -> event_dict
    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key in list(event_dict):
            if key.lower() in _SENSITIVE_KEYS:
                event_dict[key] = REDACTED
            else:
                event_dict[key] = self.value(event_dict[key])
        return event_dict


class RedactingFilter(logging.Filter):
    """The same net for stdlib records (uvicorn, httpx): formats once, then redacts."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        record.msg = self._redactor.text(message)
        record.args = None
        return True
