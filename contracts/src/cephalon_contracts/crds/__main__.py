"""``python -m cephalon_contracts.crds [--check] [--docs FILE] DIR``: write (or compare)
the CRD files and their reference page."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from ..resources import CRDS, GROUP
from .generate import render_crd_yaml
from .reference import render_reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cephalon_contracts.crds")
    parser.add_argument("directory", type=Path, help="where the CRD YAML files live")
    parser.add_argument(
        "--check", action="store_true", help="fail when a file differs instead of writing it"
    )
    parser.add_argument("--docs", type=Path, help="also the reference page (docs/crds.md)")
    args = parser.parse_args(argv)
    stale = []
    outputs = [(args.directory / f"{i.plural}.{GROUP}.yaml", render_crd_yaml(i)) for i in CRDS]
    if args.docs:
        outputs.append((args.docs, render_reference(CRDS)))
    for path, wanted in outputs:
        current = path.read_text() if path.exists() else ""
        if current == wanted:
            continue
        if args.check:
            stale.append(path)
            sys.stderr.writelines(
                difflib.unified_diff(
                    current.splitlines(True), wanted.splitlines(True), str(path), "generated"
                )
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted)
            sys.stderr.write(f"wrote {path}\n")
    if stale:
        names = ", ".join(str(p) for p in stale)
        sys.stderr.write(f"error: {names} differ from the models; run `make crds`\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
