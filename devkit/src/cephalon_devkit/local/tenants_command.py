"""``cephalon tenants render providers.yml``: print the ProviderTenant resources."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .providers import ProvidersError, load_registry, render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="tenants_command", required=True, metavar="SUBCOMMAND")
    render_parser = commands.add_parser(
        "render",
        help="print the ProviderTenant resources a providers.yml stands for",
        description="Validate providers.yml and print its ProviderTenant resources as YAML "
        "(credentials stay ${ENV} references; no secret value is printed).",
    )
    render_parser.add_argument("path", type=Path, nargs="?", default=Path("providers.yml"))
    render_parser.set_defaults(func=run_render)


def run_render(args: argparse.Namespace) -> int:
    try:
        registry = load_registry(args.path)
    except ProvidersError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    sys.stdout.write(render(registry))
    return 0
