"""``python -m cephalon_devkit.model --port N --script FILE.yaml``: the stub as a process.

Local mode and manual debugging run it this way; tests use it in-process instead
(``cephalon_devkit.testing.model``). The expected credential comes from
``--api-key-file`` (a file, as every Cephalon component reads credentials, which also
keeps it out of the process list) or ``--api-key``; without one every request is
accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import structlog

from cephalon_devkit.model.defaults import default_script
from cephalon_devkit.model.errors import ScriptError
from cephalon_devkit.model.script import Script, load_script
from cephalon_devkit.model.server import ScriptedModelServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cephalon_devkit.model",
        description="Scripted OpenAI-compatible model server for offline runs.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8399, help="0 picks a free port")
    parser.add_argument("--script", help="YAML or JSON script (default: the built-in demo)")
    key = parser.add_mutually_exclusive_group()
    key.add_argument("--api-key-file", help="file holding the expected bearer token")
    key.add_argument("--api-key", help="expected bearer token")
    parser.add_argument("--check", action="store_true", help="validate the script and exit")
    return parser


async def _serve(script: Script, host: str, port: int, api_key: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ScriptedModelServer(script, api_key=api_key, host=host, port=port):
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    log = structlog.get_logger("cephalon_devkit.model")
    try:
        script = load_script(args.script) if args.script else default_script()
    except ScriptError as e:
        log.error("model_stub_bad_script", error=str(e))
        return 2
    if args.check:
        log.info("model_stub_script_ok", steps=len(script.steps))
        return 0
    api_key: str | None = args.api_key
    if args.api_key_file:
        try:
            api_key = Path(args.api_key_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            log.error("model_stub_bad_key_file", path=args.api_key_file, error=e.strerror)
            return 2
    asyncio.run(_serve(script, args.host, args.port, api_key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
