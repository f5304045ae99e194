"""Snowflake ids shaped like Discord's, so discord.py's ``created_at`` is sensible."""

from __future__ import annotations

import time

DISCORD_EPOCH_MS = 1_420_070_400_000


class SnowflakeFactory:
    """Strictly increasing snowflakes: timestamp in the high bits, a counter below."""

    def __init__(self, worker: int = 1) -> None:
        self._worker = worker & 0x1F
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (self._worker << 17)
        self._last = max(candidate, self._last + 1)
        return self._last


def snowflake_time(snowflake: int) -> float:
    """Unix time (seconds) a snowflake was made."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000.0
