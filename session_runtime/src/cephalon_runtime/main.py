"""``cephalon-runtime``: the session pod's agent process. Settings come from
``CEPHALON_*`` environment variables (see docs/runtime.md); SIGTERM stops it cleanly."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .logs import configure_logging
from .runtime import SessionRuntime
from .settings import RuntimeSettings


async def _serve(settings: RuntimeSettings) -> bool:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return await SessionRuntime(settings).serve(stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="cephalon-runtime",
        description="Run a Cephalon session: turns from Redis, the Copilot engine, MCP tools."
        " Configured with CEPHALON_* environment variables (docs/runtime.md).",
    )
    parser.parse_args(argv)
    settings = RuntimeSettings()
    configure_logging(json=settings.log_json)
    if not asyncio.run(_serve(settings)):
        sys.exit(1)


if __name__ == "__main__":
    main()
