"""Edit coalescing: many ``response_delta``s become at most one edit per message per
interval. Pure bookkeeping; the renderer asks :meth:`EditClock.wait` before an edit."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class EditClock:
    """When each message was last edited, and when it may be edited next."""

    interval: float
    _last: dict[str, float] = field(default_factory=dict)

    def wait(self, message_id: str, now: float) -> float:
        """Seconds until ``message_id`` may be edited (0 when it may be now)."""
        last = self._last.get(message_id)
        return 0.0 if last is None else max(0.0, last + self.interval - now)

    def edited(self, message_id: str, now: float) -> None:
        self._last[message_id] = now

    def forget(self, message_id: str) -> None:
        self._last.pop(message_id, None)


@dataclass(slots=True)
class Coalescer:
    """Accumulates deltas of one answer in ``seq`` order (duplicates and stale ones are
    ignored, gaps wait) and says whether there is something not yet shown."""

    text: str = ""
    next_seq: int = 0
    shown: str = ""
    _pending: dict[int, str] = field(default_factory=dict)

    def add(self, seq: int, text: str) -> bool:
        """Take delta ``seq``; ``True`` when the visible text grew."""
        if seq < self.next_seq or seq in self._pending:
            return False
        self._pending[seq] = text
        grew = False
        while self.next_seq in self._pending:
            self.text += self._pending.pop(self.next_seq)
            self.next_seq += 1
            grew = True
        return grew

    @property
    def dirty(self) -> bool:
        return self.text != self.shown
