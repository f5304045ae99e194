"""structlog set-up: JSON lines in the pod, with ``trace_id``/``session_id``/``turn_id``
bound through contextvars by the turn loop."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(*, json: bool = True, level: int = logging.INFO) -> None:
    """Configure structlog (and route the standard library's records through it)."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
