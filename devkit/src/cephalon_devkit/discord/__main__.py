"""``python -m cephalon_devkit.discord --port N --info-file F``: the emulator as a process."""

from __future__ import annotations

import argparse
import logging
import sys

from cephalon_devkit.discord import command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cephalon_devkit.discord",
        description="Serve the Discord emulator until SIGINT/SIGTERM.",
    )
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
