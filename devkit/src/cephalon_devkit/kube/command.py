"""``cephalon dev kube``: serve the emulator on a port and write a kubeconfig for it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from .server import KubeApiServer

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=6443, help="port to listen on (0: any)")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=Path("cephalon-dev.kubeconfig"),
        help="where to write a kubeconfig pointing at the emulator",
    )
    parser.add_argument(
        "--namespace", default="default", help="the kubeconfig context's default namespace"
    )
    parser.add_argument(
        "--watch-history",
        type=int,
        default=10_000,
        help="events kept per resource for watch resumption (older ones get 410 Gone)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    server = KubeApiServer(host=args.host, port=args.port, history_size=args.watch_history)
    await server.start()
    path = server.write_kubeconfig(args.kubeconfig, namespace=args.namespace)
    logger.info("Kubernetes API emulator serving at %s; kubeconfig written to %s", server.url, path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        logger.info("stopping the Kubernetes API emulator")
        await server.stop()
    return 0
