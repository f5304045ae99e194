"""``cephalon dev kubelet`` / ``python -m cephalon_devkit.kubelet``: run the executor
until SIGINT/SIGTERM, then stop every container."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import signal
import tempfile
from collections.abc import Sequence
from pathlib import Path

import structlog

from cephalon_devkit.kubelet.config import KubeletConfig
from cephalon_devkit.kubelet.executor import open_executor
from cephalon_devkit.kubelet.kubeconfig import load_kubeconfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The executor's options (shared with ``cephalon dev kubelet``)."""
    parser.add_argument("--kubeconfig", type=Path, required=True, help="kubeconfig to use")
    parser.add_argument("--context", default=None, help="kubeconfig context (default: current)")
    parser.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="namespace to run pods of (repeatable; default: all namespaces)",
    )
    parser.add_argument("--node-name", default="cephalon-local")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="per-pod roots (default: a temp dir)",
    )
    parser.add_argument(
        "--log-dir", type=Path, default=None, help="container logs (default: <state-dir>/logs)"
    )
    parser.add_argument(
        "--pvc-root",
        type=Path,
        default=None,
        help="enable persistentVolumeClaim volumes as <pvc-root>/<namespace>/<claim>",
    )
    parser.add_argument(
        "--image-command",
        action="append",
        default=[],
        metavar="IMAGE=COMMAND",
        help="local command prefix for containers of IMAGE without a command (repeatable)",
    )
    parser.add_argument(
        "--pod-ip-pool",
        default="",
        metavar="CIDR",
        help="give each pod its own loopback address from CIDR (e.g. 127.10.0.0/16)",
    )
    parser.add_argument("--backoff-base", type=float, default=10.0, help="seconds (kubelet: 10)")
    parser.add_argument("--backoff-cap", type=float, default=300.0, help="seconds (kubelet: 300)")
    parser.set_defaults(func=run)


def parse_image_commands(items: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``["repo/img=python -m pkg"]`` → ``{"repo/img": ("python", "-m", "pkg")}``."""
    mapping: dict[str, tuple[str, ...]] = {}
    for item in items:
        image, sep, command = item.partition("=")
        if not sep or not image or not command.strip():
            raise argparse.ArgumentTypeError(f"--image-command wants IMAGE=COMMAND, got {item!r}")
        mapping[image] = tuple(shlex.split(command))
    return mapping


def config_from_args(args: argparse.Namespace, state_dir: Path) -> KubeletConfig:
    return KubeletConfig(
        state_dir=state_dir,
        log_dir=args.log_dir or state_dir / "logs",
        namespaces=tuple(args.namespace),
        node_name=args.node_name,
        image_commands=parse_image_commands(args.image_command),
        pvc_root=args.pvc_root,
        pod_ip_pool=args.pod_ip_pool,
        backoff_base=args.backoff_base,
        backoff_cap=args.backoff_cap,
    )


def run(args: argparse.Namespace) -> int:
    asyncio.run(serve(args))
    return 0


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT/SIGTERM, then stop every container."""
    connection = load_kubeconfig(args.kubeconfig, context=args.context)
    with contextlib.ExitStack() as stack:
        state_dir = args.state_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="cephalon-kubelet-"))
        )
        config = config_from_args(args, state_dir)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with open_executor(config, connection):
            structlog.get_logger(__name__).info(
                "serving", logs=str(config.log_dir), state=str(config.state_dir)
            )
            await stop.wait()
