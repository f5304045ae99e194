"""``cephalon-operator``: run the kopf operator for ProviderTenants and AgentSessions.

One replica runs at a time (``--standalone``, the default, with a Deployment strategy of
``Recreate``): the quota admission and the status coalescing keep per-process state,
and kopf's peering would only add a second source of truth for "who is active".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

import kopf
from prometheus_client import start_http_server

from .handlers import register
from .metrics import Metrics
from .settings import OperatorSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cephalon-operator",
        description="Reconcile ProviderTenants into their access layer and AgentSessions "
        "into sandboxed session pods. Settings come from CEPHALON_* variables "
        "(see docs/configuration.md); the cluster from KUBECONFIG or the in-cluster config.",
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        help="watch AgentSessions only in this namespace (repeatable); default: all namespaces",
    )
    parser.add_argument(
        "--liveness",
        default="http://0.0.0.0:8081/healthz",
        help="kopf liveness endpoint URL (default: %(default)s)",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=9090,
        help="Prometheus metrics port, 0 to disable (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    return parser


async def run(args: argparse.Namespace) -> None:
    settings = OperatorSettings()
    registry = kopf.OperatorRegistry()
    register(registry, settings)
    metrics = Metrics()
    if args.metrics_port:
        start_http_server(args.metrics_port, registry=metrics.registry)
    await kopf.operator(
        registry=registry,
        standalone=True,
        clusterwide=not args.namespace,
        namespaces=list(args.namespace),
        liveness_endpoint=args.liveness or None,
        memo=kopf.Memo(metrics=metrics),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
