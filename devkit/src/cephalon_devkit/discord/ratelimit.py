"""Discord's REST rate limits: per-route buckets, the global per-bot limit, and the
invalid-request counter behind Cloudflare bans.

* A bucket is ``limit`` requests per ``window`` seconds for one route and one major
  parameter (channel, guild or webhook). The window starts with its first request;
  every answer carries ``X-RateLimit-Limit/Remaining/Reset/Reset-After/Bucket``.
* The global limit counts every request of the bot in a sliding second.
* Every 401, 403 and 429 (except 429s of scope ``shared``) counts as invalid; at
  ``invalid_request_limit`` within ``invalid_request_window`` the client is banned:
  answers become Cloudflare's HTML 429 without a ``Via`` header until the window
  moves on.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass

from cephalon_devkit.discord.limits import DiscordLimits

VIA = "1.1 google"


def bucket_hash(route_name: str) -> str:
    return hashlib.sha256(route_name.encode()).hexdigest()[:32]


@dataclass
class Bucket:
    name: str
    hash: str
    limit: int
    window: float
    count: int = 0
    reset_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of asking for one request's slot."""

    allowed: bool
    headers: dict[str, str]
    retry_after: float = 0.0
    scope: str = "user"
    is_global: bool = False


def rate_limited_body(retry_after: float, *, is_global: bool) -> dict[str, object]:
    return {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": is_global,
    }


def limited_headers(retry_after: float, scope: str, *, is_global: bool) -> dict[str, str]:
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": scope,
        "Via": VIA,
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return headers


class RateLimiter:
    def __init__(self, limits: DiscordLimits) -> None:
        self.limits = limits
        self._buckets: dict[tuple[str, str, str], Bucket] = {}
        self._global: dict[str, deque[float]] = {}
        self._invalid: deque[float] = deque()
        self.invalid_total = 0
        self.rate_limited_total = 0

    # --- global ---------------------------------------------------------------------

    def take_global(self, now: float | None = None, *, owner: str = "") -> Verdict:
        """One slot of ``owner``'s (a bot's) global limit."""
        now = time.monotonic() if now is None else now
        recent = self._global.setdefault(owner, deque())
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) >= self.limits.global_per_second:
            retry = recent[0] + 1.0 - now
            self.rate_limited_total += 1
            return Verdict(
                False, limited_headers(retry, "global", is_global=True), retry, "global", True
            )
        recent.append(now)
        return Verdict(True, {})

    # --- buckets --------------------------------------------------------------------

    def take(
        self, route_name: str, major: str, now: float | None = None, *, owner: str = ""
    ) -> Verdict:
        """One slot of the bucket of ``route_name`` for ``major`` and bot ``owner``."""
        now = time.monotonic() if now is None else now
        key = (owner, route_name, major)
        b = self._buckets.get(key)
        if b is None:
            rule = self.limits.bucket_for(route_name)
            b = Bucket(route_name, bucket_hash(route_name), rule.limit, rule.window)
            self._buckets[key] = b
        if now >= b.reset_at:
            b.count = 0
            b.reset_at = now + b.window
        reset_after = b.reset_at - now
        if b.count >= b.limit:
            self.rate_limited_total += 1
            headers = self._headers(b, reset_after)
            headers.update(limited_headers(reset_after, "user", is_global=False))
            return Verdict(False, headers, reset_after)
        b.count += 1
        return Verdict(True, self._headers(b, reset_after))

    @staticmethod
    def _headers(b: Bucket, reset_after: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(b.limit),
            "X-RateLimit-Remaining": str(max(0, b.limit - b.count)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": b.hash,
        }

    # --- invalid requests -----------------------------------------------------------

    def _trim_invalid(self, now: float) -> None:
        window = self.limits.invalid_request_window
        while self._invalid and now - self._invalid[0] >= window:
            self._invalid.popleft()

    def count_invalid(self, status: int, scope: str | None, now: float | None = None) -> bool:
        """Count one answer if Discord would; returns whether it was counted."""
        if status not in (401, 403, 429) or (status == 429 and scope == "shared"):
            return False
        now = time.monotonic() if now is None else now
        self._trim_invalid(now)
        self._invalid.append(now)
        self.invalid_total += 1
        return True

    def invalid_count(self, now: float | None = None) -> int:
        """Invalid requests inside the current window."""
        self._trim_invalid(time.monotonic() if now is None else now)
        return len(self._invalid)

    def banned(self, now: float | None = None) -> bool:
        return self.invalid_count(now) >= self.limits.invalid_request_limit

    def reset(self) -> None:
        self._buckets.clear()
        self._global.clear()
        self._invalid.clear()
