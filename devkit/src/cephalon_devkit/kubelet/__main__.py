"""``python -m cephalon_devkit.kubelet``: the same as ``cephalon dev kubelet``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from cephalon_devkit.kubelet.command import add_arguments, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cephalon_devkit.kubelet",
        description="Run the pods of a Kubernetes API as local processes.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
