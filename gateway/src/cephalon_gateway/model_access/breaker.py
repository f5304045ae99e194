"""A circuit breaker per upstream: stop calling a provider that keeps failing.

Closed: calls pass; ``failure_threshold`` consecutive transient failures open it. Open:
calls fail at once with :class:`CircuitOpenError` (503 + ``Retry-After``) for
``reset_s``. Then half-open: one probe passes; its success closes the circuit, its
failure opens it again. State is per replica (each replica learns on its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from .errors import CircuitOpenError


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failure_threshold
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Raise when the call must not go out now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return
        assert self._opened_at is not None
        remaining = max(1.0, self._reset_s - (self._clock() - self._opened_at))
        raise CircuitOpenError(
            f"the model provider failed repeatedly; calls are paused for {remaining:.0f} s",
            retry_after=remaining,
        )

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def abandon_probe(self) -> None:
        """A probe ended without a verdict (cancelled): let the next call probe."""
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._probing = False
