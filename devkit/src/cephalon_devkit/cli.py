"""``cephalon``: the developer CLI. A small dispatcher; each command lives with its code.

Subcommand groups register themselves here with an ``add_arguments(parser)`` that sets
``func``; ``main`` parses and calls it.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from cephalon_devkit.discord import command as discord_command
    from cephalon_devkit.kube import command as kube_command
    from cephalon_devkit.kubelet import command as kubelet_command
    from cephalon_devkit.local import command as local_command
    from cephalon_devkit.local import tenants_command

    parser = argparse.ArgumentParser(prog="cephalon", description="Cephalon developer CLI")
    parser.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    dev = groups.add_parser("dev", help="local development: emulators and local mode")
    dev_commands = dev.add_subparsers(dest="dev_command", required=True, metavar="SUBCOMMAND")
    kube_command.add_arguments(
        dev_commands.add_parser(
            "kube",
            help="serve the Kubernetes API emulator and write a kubeconfig for it",
            description="Serve the Kubernetes API emulator until SIGINT/SIGTERM.",
        )
    )
    kubelet_command.add_arguments(
        dev_commands.add_parser(
            "kubelet",
            help="run the pods of a Kubernetes API (e.g. the emulator) as local processes",
            description="Run the local pod executor until SIGINT/SIGTERM.",
        )
    )
    local_command.add_up_arguments(
        dev_commands.add_parser(
            "up",
            help="local mode: the whole product as local processes, until Ctrl-C",
            description="Start Redis, the Kubernetes API emulator, the operator, the pod "
            "executor, each tenant's gateway and model gateway from providers.yml, and "
            "Discord (real when every tenant's bot credentials are in the environment, "
            "else the emulator). Ctrl-C stops everything.",
        )
    )
    local_command.add_demo_arguments(
        groups.add_parser(
            "demo",
            help="the offline end-to-end demo: a scripted conversation per tenant",
            description="Run local mode with the Discord emulator and the scripted model, "
            "play a conversation per tenant of providers.yml (Start Chat, a change in the "
            "sample repository, one approval, the streamed answer, /end), print the "
            "Discord transcript, a timing summary and the isolation checks; exit 0 when "
            "every step held.",
        )
    )
    tenants_command.add_arguments(
        groups.add_parser("tenants", help="the provider-tenant registry (providers.yml)")
    )
    discord_command.add_arguments(
        dev_commands.add_parser(
            "discord",
            help="serve the Discord emulator and write its connection details",
            description="Serve the Discord emulator until SIGINT/SIGTERM.",
        )
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    import sys

    sys.exit(main())
