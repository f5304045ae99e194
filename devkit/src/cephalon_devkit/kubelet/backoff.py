"""CrashLoopBackOff timing, as the kubelet does it: pure.

The kubelet keeps one back-off entry per container. When a container has exited, it
is restarted at once if it has no entry (or the entry expired: the container ran
longer than ``reset_after`` since its last restart); otherwise it waits the entry's
duration from the moment it exited, in state ``waiting`` with reason
``CrashLoopBackOff``. Every restart doubles the entry, up to ``cap``. With the real
kubelet's base of 10 s the waits are 0, 10, 20, 40, … 300 s.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffEntry:
    """The current back-off of one container and when it was last advanced."""

    duration: float
    updated_at: float


@dataclass(frozen=True)
class RestartPlan:
    """How long to wait after the exit, and the entry to store when restarting."""

    delay: float
    entry: BackoffEntry


def plan_restart(
    entry: BackoffEntry | None,
    *,
    exited_at: float,
    base: float,
    cap: float,
    reset_after: float,
) -> RestartPlan:
    """The wait before restarting a container that exited at ``exited_at``."""
    if entry is None or exited_at - entry.updated_at > reset_after:
        return RestartPlan(0.0, BackoffEntry(base, exited_at))
    return RestartPlan(
        min(entry.duration, cap),
        BackoffEntry(min(entry.duration * 2, cap), exited_at + min(entry.duration, cap)),
    )


def should_restart(restart_policy: str, exit_code: int) -> bool:
    """Whether a container that exited with ``exit_code`` is started again."""
    if restart_policy == "Never":
        return False
    if restart_policy == "OnFailure":
        return exit_code != 0
    return True


def backoff_message(delay: float, container: str, pod: str, namespace: str, uid: str) -> str:
    """The kubelet's CrashLoopBackOff message."""
    seconds = f"{delay:g}s" if delay < 60 else f"{int(delay // 60)}m{delay % 60:g}s"
    return (
        f"back-off {seconds} restarting failed container={container} pod={pod}_{namespace}({uid})"
    )
