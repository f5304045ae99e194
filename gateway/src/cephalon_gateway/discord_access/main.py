"""``cephalon-gateway``: the Discord gateway of one tenant (one process per replica).

Settings come from ``CEPHALON_*`` variables (docs/configuration.md); credentials from
the files they name; the cluster from ``KUBECONFIG`` or the in-cluster config.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import structlog
import uvicorn

from .app import create_app
from .errors import ConfigError
from .service import GatewayService
from .settings import GatewaySettings, load_credentials


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cephalon-gateway",
        description="Run the Discord gateway of one tenant: signed HTTP interactions, the "
        "Discord gateway WebSocket, session channels and streamed rendering. Settings come "
        "from CEPHALON_* variables (see docs/configuration.md); credentials from the files "
        "they name (CEPHALON_DISCORD__TOKEN_FILE, ...).",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return parser


def configure_logging(level: str, json_logs: bool) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s", stream=sys.stderr)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = GatewaySettings()
    configure_logging(args.log_level, settings.log_json)
    try:
        credentials = load_credentials(settings)
    except ConfigError as e:
        structlog.get_logger(__name__).error("config_error", error=e.message)
        return 2
    app = create_app(GatewayService(settings, credentials))
    uvicorn.run(app, host=settings.http.host, port=settings.http.port, log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
