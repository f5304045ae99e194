"""What local mode shows while it starts and runs: one line per component state change.

Lines are appended, never redrawn, so the same output reads well in a terminal, a CI
log and a file: ``[  3.1s] operator          ready      metrics http://127.0.0.1:9464``.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

WIDTH = 26


@dataclass
class Progress:
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    started: float = field(default_factory=time.monotonic)
    states: dict[str, tuple[str, str]] = field(default_factory=dict)
    quiet: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, component: str, state: str, detail: str = "") -> None:
        """Record (and print, when it changed) a component's state."""
        with self._lock:
            if self.states.get(component) == (state, detail):
                return
            self.states[component] = (state, detail)
            if not self.quiet:
                elapsed = time.monotonic() - self.started
                line = f"[{elapsed:6.1f}s] {component:<{WIDTH}} {state:<10} {detail}".rstrip()
                self.stream.write(line + "\n")
                self.stream.flush()

    def note(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()

    def table(self) -> str:
        """Every component's last state, as a table (for ``dev up``'s summary)."""
        rows = [
            f"  {name:<{WIDTH}} {state:<10} {detail}"
            for name, (state, detail) in self.states.items()
        ]
        return "\n".join(row.rstrip() for row in rows)
