"""Shared reporting for ``make bench``: percentiles, a printed table, a JSON file.

Each ``benchmarks/bench_<area>.py`` builds a :class:`Report`, adds rows, and calls
:meth:`Report.emit`, which prints an aligned table and writes
``bench-results/<area>.json`` (the directory comes from ``CEPHALON_BENCH_DIR``).
Benchmarks report; they do not assert timings.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples`` (``pct`` in 0..100)."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarize_ms(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max in milliseconds of samples given in seconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": float(len(ms)),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
        "max_ms": round(max(ms), 3) if ms else float("nan"),
    }


@dataclass
class Report:
    area: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, **values: Any) -> None:
        self.rows.append({"name": name, **values})

    def emit(self) -> Path:
        columns: list[str] = []
        for row in self.rows:
            columns += [c for c in row if c not in columns]
        widths = {c: max(len(c), *(len(_fmt(r.get(c, ""))) for r in self.rows)) for c in columns}
        out = sys.stdout
        out.write(f"\n== {self.area} ==\n")
        out.write("  ".join(c.ljust(widths[c]) for c in columns) + "\n")
        for row in self.rows:
            out.write("  ".join(_fmt(row.get(c, "")).ljust(widths[c]) for c in columns) + "\n")
        directory = Path(os.environ.get("CEPHALON_BENCH_DIR", "bench-results"))
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.area}.json"
        path.write_text(
            json.dumps(
                {
                    "area": self.area,
                    "at": datetime.now(UTC).isoformat(),
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                    "rows": self.rows,
                },
                indent=2,
            )
        )
        out.write(f"(written to {path})\n")
        return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
