"""Local mode benchmark: the demo's conversation, repeated, as percentiles.

Run: ``.venv/bin/python benchmarks/bench_local.py [--sessions N] [--tenants 1|2]``.
Starts local mode once (the real operator, gateways, runtime, Copilot CLI and MCP
sidecar; Discord emulator and scripted model), then plays the demo conversation N
times per tenant, one after another within a tenant and the tenants side by side. Prints
the timings the demo reports (see docs/local-mode.md#timings) as p50/p95/max and writes
``bench-results/local.json``. It reports; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from report import Report, summarize_ms  # noqa: E402

from cephalon_devkit.local.command import configure_file_logging  # noqa: E402
from cephalon_devkit.local.demo import Conversation, Demo  # noqa: E402
from cephalon_devkit.local.providers import Registry, load_registry  # noqa: E402
from cephalon_devkit.local.stack import (  # noqa: E402
    LocalStack,
    LocalTenant,
    StackOptions,
    prepare_state_dir,
)

REPO = Path(__file__).resolve().parents[1]
TIMINGS = (
    "start_chat_to_ack",
    "start_chat_to_channel",
    "start_chat_to_ready",
    "first_delta_to_visible",
    "ask_to_answer",
)


async def _sessions(demo: Demo, tenant: LocalTenant, count: int) -> list[Conversation]:
    return [await demo.converse(tenant) for _ in range(count)]


async def run(registry: Registry, sessions: int, state: Path) -> tuple[list[Conversation], float]:
    configure_file_logging(prepare_state_dir(state))
    options = StackOptions(root=REPO, registry=registry, state_dir=state, scripted_model=True)
    began = time.monotonic()
    async with LocalStack(options) as stack:
        startup = time.monotonic() - began
        demo = Demo(stack)
        try:
            batches = await asyncio.gather(*(_sessions(demo, t, sessions) for t in stack.tenants))
        finally:
            await demo.aclose()
    return [c for batch in batches for c in batch], startup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5, help="conversations per tenant")
    parser.add_argument("--tenants", type=int, choices=(1, 2), default=2)
    args = parser.parse_args()
    registry = load_registry(REPO / "providers.yml")
    registry = Registry(tenants=registry.tenants[: args.tenants])
    with tempfile.TemporaryDirectory(prefix="cephalon-bench-") as tmp:
        conversations, startup = asyncio.run(run(registry, args.sessions, Path(tmp)))
    report = Report("local")
    report.add("local mode start → every tenant Ready", **summarize_ms([startup]))
    for timing in TIMINGS:
        samples = [getattr(c.timings, timing) for c in conversations]
        report.add(timing.replace("_", " "), **summarize_ms(samples))
    report.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
