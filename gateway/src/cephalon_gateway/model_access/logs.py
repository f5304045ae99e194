"""Structured, credential-free logs.

The gateway's logger is built per app (no global structlog configuration): structlog
processors bind context, redact with the app's :class:`~.redaction.Redactor`, render
JSON and hand the line to the stdlib logger ``cephalon_gateway.model_access``. The
process-wide handler installed by :func:`configure_process_logging` runs the same
redactor over third-party records (uvicorn, httpx).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

import structlog

from .redaction import RedactingFilter, Redactor

LOGGER_NAME = "cephalon_gateway.model_access"


def make_logger(redactor: Redactor, *, json_output: bool = True) -> structlog.stdlib.BoundLogger:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json_output
        else structlog.processors.KeyValueRenderer(key_order=["event"])
    )
    logger: structlog.stdlib.BoundLogger = structlog.wrap_logger(
        logging.getLogger(LOGGER_NAME),
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    return logger


class JsonLineFormatter(logging.Formatter):
    """Our structlog lines are JSON already; third-party records become JSON too."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name == LOGGER_NAME:
            return message
        return json.dumps(
            {
                "event": message,
                "logger": record.name,
                "level": record.levelname.lower(),
                "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            }
        )


def configure_process_logging(redactor: Redactor, level: str = "INFO") -> None:
    """One stderr handler for the whole process, redacting every record (``main`` only)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
