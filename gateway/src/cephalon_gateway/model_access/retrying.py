"""When and how long to wait before trying the upstream again.

Only transient failures are retried — connection errors and timeouts, 429 and 5xx (and
Anthropic's 529) — and only before the first byte went to the client; the proxy
enforces the latter. Waits use exponential backoff with jitter, or the provider's own
``Retry-After`` / ``retry-after-ms`` when it sends one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .settings import RetrySettings

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class RetryPolicy:
    settings: RetrySettings
    rng: Callable[[float, float], float] = field(default=random.uniform)

    def backoff(self, attempt: int) -> float:
        """Equal jitter: half of the exponential step, plus up to the other half."""
        step = min(self.settings.max_delay_s, self.settings.base_delay_s * 2.0**attempt)
        return step / 2 + self.rng(0, step / 2)

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` not to retry
        (attempts used up, or the provider asks for a longer wait than we hold a
        request for — then the client gets the provider's ``Retry-After``)."""
        if attempt + 1 >= self.settings.attempts:
            return None
        if retry_after is not None:
            if retry_after > self.settings.max_retry_after_s:
                return None
            return retry_after
        return self.backoff(attempt)
