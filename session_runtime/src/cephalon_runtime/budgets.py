"""Turn and session budgets: wall clock, tool calls and tokens (pure bookkeeping).

A :class:`TurnBudget` is charged as the turn runs; ``check()`` raises the first budget
that is used up, which the turn loop turns into a clean stop with an ``error`` event.
Zero means "no limit" for counts (a tenant that sets 0 tool calls forbids tools,
which :attr:`tool_calls_allowed` expresses separately).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cephalon_contracts.events import Usage
from cephalon_contracts.resources import Budgets

from .errors import BudgetExceededError, TurnTimeoutError


@dataclass
class SessionUsage:
    """Tokens used by the whole session (survives turns; lost on restart by design —
    the model gateway keeps the authoritative count)."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        return self.input_tokens + self.output_tokens

    def as_usage(self) -> Usage:
        return Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens)


@dataclass
class TurnBudget:
    limits: Budgets
    session: SessionUsage
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def usage(self) -> Usage:
        return Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens)

    @property
    def deadline(self) -> float:
        return self.started + self.limits.turn_seconds

    def remaining_seconds(self) -> float:
        return self.deadline - self.clock()

    def add_usage(self, input_tokens: int, output_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.session.input_tokens += input_tokens
        self.session.output_tokens += output_tokens

    def charge_tool_call(self) -> BudgetExceededError | None:
        """Count one tool call; the error if it goes over the budget (the call is refused)."""
        if self.tool_calls >= self.limits.turn_tool_calls:
            return BudgetExceededError(
                "turn_tool_calls", self.limits.turn_tool_calls, self.tool_calls + 1
            )
        self.tool_calls += 1
        return None

    def exceeded(self) -> BudgetExceededError | None:
        """The first budget that is used up, if any."""
        elapsed = self.clock() - self.started
        if elapsed >= self.limits.turn_seconds:
            return TurnTimeoutError("turn_seconds", self.limits.turn_seconds, round(elapsed, 1))
        if self.limits.turn_tokens and self.tokens > self.limits.turn_tokens:
            return BudgetExceededError("turn_tokens", self.limits.turn_tokens, self.tokens)
        if self.limits.session_tokens and self.session.total > self.limits.session_tokens:
            return BudgetExceededError(
                "session_tokens", self.limits.session_tokens, self.session.total
            )
        return None


def session_exhausted(limits: Budgets, session: SessionUsage) -> BudgetExceededError | None:
    """Refuse a new turn once the session's tokens are spent."""
    if limits.session_tokens and session.total >= limits.session_tokens:
        return BudgetExceededError("session_tokens", limits.session_tokens, session.total)
    return None
