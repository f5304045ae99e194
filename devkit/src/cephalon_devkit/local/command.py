"""``cephalon demo`` and ``cephalon dev up``: local mode from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from cephalon_devkit.local.providers import (
    ProvidersError,
    Registry,
    has_bot_credentials,
    load_registry,
    model_key_value,
)

if TYPE_CHECKING:
    from cephalon_devkit.local.demo import DemoResult
    from cephalon_devkit.local.progress import Progress
    from cephalon_devkit.local.stack import StackOptions


def _common(parser: argparse.ArgumentParser, state_dir: str) -> None:
    parser.add_argument(
        "--providers",
        type=Path,
        default=Path("providers.yml"),
        help="the provider-tenant registry (default: %(default)s)",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="the checkout: platform policy, sample repository, Copilot CLI (default: .)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(state_dir),
        help="working files and logs/ (default: %(default)s)",
    )


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser, ".cephalon/demo")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the timings and checks as JSON (default: <state-dir>/demo.json)",
    )
    parser.set_defaults(func=run_demo)


def add_up_arguments(parser: argparse.ArgumentParser) -> None:
    _common(parser, ".cephalon/local")
    parser.add_argument(
        "--discord",
        choices=("auto", "emulator", "real"),
        default="auto",
        help="real Discord when every tenant's bot credentials are in the environment "
        "(auto, the default), or force one",
    )
    parser.set_defaults(func=run_up)


def configure_file_logging(logs: Path) -> None:
    """In-process components (emulators, executor) log to ``logs/local.log``; the
    terminal shows only progress and results."""
    handler = logging.FileHandler(logs / "local.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
    )


def _load(args: argparse.Namespace) -> Registry | None:
    try:
        return load_registry(args.providers)
    except ProvidersError as e:
        sys.stderr.write(f"error: {e}\n")
        return None


def _fail(error: Exception, logs: Path) -> int:
    sys.stderr.write(f"\nerror: {error}\nlogs: {logs}\n")
    return 1


def run_demo(args: argparse.Namespace) -> int:
    # Imported here: the stack pulls in every emulator, which `cephalon --help` needs not.
    from cephalon_devkit.local.demo import DemoError, timing_table
    from cephalon_devkit.local.progress import Progress
    from cephalon_devkit.local.stack import LocalModeError, StackOptions, prepare_state_dir
    from cephalon_devkit.redis_server import RedisServerError

    registry = _load(args)
    if registry is None:
        return 2
    logs = prepare_state_dir(args.state_dir)
    configure_file_logging(logs)
    options = StackOptions(
        root=args.root,
        registry=registry,
        state_dir=args.state_dir,
        real_discord=False,
        scripted_model=True,
    )
    progress = Progress()
    progress.note(
        f"Cephalon local demo: {len(registry.tenants)} tenant(s), Discord emulator, scripted "
        f"model. Logs: {logs}"
    )
    try:
        result = asyncio.run(_demo(options, progress))
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted; everything was stopped\n")
        return 130
    except (DemoError, LocalModeError, ProvidersError, RedisServerError, OSError) as e:
        return _fail(e, logs)
    out = sys.stdout
    for conversation in result.conversations:
        out.write(f"\n=== Discord, tenant {conversation.tenant} ===\n")
        out.write(conversation.transcript.rstrip() + "\n")
    out.write("\n=== Timing ===\n" + timing_table(result) + "\n")
    out.write("\n=== Isolation ===\n")
    out.write("".join(f"  ok  {check}\n" for check in result.isolation.checks))
    target = args.json or args.state_dir / "demo.json"
    target.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    out.write(f"\nDemo passed. Timings as JSON: {target}; logs: {logs}\n")
    return 0


async def _demo(options: StackOptions, progress: Progress) -> DemoResult:
    from cephalon_devkit.local.demo import play
    from cephalon_devkit.local.stack import LocalStack

    async with LocalStack(options, progress) as stack:
        return await play(stack)


def run_up(args: argparse.Namespace) -> int:
    from cephalon_devkit.local.progress import Progress
    from cephalon_devkit.local.stack import LocalModeError, StackOptions, prepare_state_dir
    from cephalon_devkit.redis_server import RedisServerError

    registry = _load(args)
    if registry is None:
        return 2
    with_creds = [e.name for e in registry.tenants if has_bot_credentials(e, os.environ)]
    if args.discord == "real" or (args.discord == "auto" and with_creds):
        missing = [e.name for e in registry.tenants if e.name not in with_creds]
        if missing:
            sys.stderr.write(
                f"error: real Discord needs every tenant's bot credentials; missing for "
                f"{', '.join(missing)} (see the ${{...}} names in {args.providers})\n"
            )
            return 2
        real = True
    else:
        real = False
    logs = prepare_state_dir(args.state_dir)
    configure_file_logging(logs)
    options = StackOptions(
        root=args.root, registry=registry, state_dir=args.state_dir, real_discord=real
    )
    progress = Progress()
    try:
        asyncio.run(_up(options, progress))
    except KeyboardInterrupt:
        pass
    except (LocalModeError, ProvidersError, RedisServerError, OSError) as e:
        return _fail(e, logs)
    return 0


async def _up(options: StackOptions, progress: Progress) -> None:
    from cephalon_devkit.local.stack import LocalStack

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with LocalStack(options, progress) as stack:
        progress.note("\nCephalon is up. Components:\n" + progress.table())
        for tenant in stack.tenants:
            model = (
                "scripted model"
                if model_key_value(tenant.entry, options.environ) is None
                else "the tenant's model provider"
            )
            progress.note(f"\ntenant {tenant.name} ({model}):")
            progress.note(f"  interactions endpoint  {tenant.gateway.url}/discord/interactions")
            if options.real_discord:
                progress.note(
                    "  Discord must reach it over HTTPS: expose it with a tunnel and set the "
                    "tunnel's URL as the application's Interactions Endpoint URL."
                )
            elif tenant.world is not None and stack.discord is not None:
                progress.note(
                    f"  emulated guild {tenant.world.guild.id}, lobby channel "
                    f"{tenant.world.lobby.id}, user {tenant.world.user.id}"
                )
        if stack.discord is not None:
            progress.note(
                f"\nDiscord emulator: act as the users through {stack.discord.url}/_emulator "
                "(see docs/local-mode.md)"
            )
        progress.note(f"\nkubectl: KUBECONFIG={stack.kubeconfig} kubectl get pt,as -A")
        progress.note("Ctrl-C stops everything.")
        await stop.wait()
