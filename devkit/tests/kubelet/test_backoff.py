"""CrashLoopBackOff timing and restart decisions."""

from __future__ import annotations

import pytest

from cephalon_devkit.kubelet.backoff import (
    BackoffEntry,
    RestartPlan,
    backoff_message,
    plan_restart,
    should_restart,
)


def test_delays_grow_like_the_kubelets_and_cap() -> None:
    entry = None
    delays = []
    now = 1000.0
    for _ in range(7):
        plan = plan_restart(entry, exited_at=now, base=10, cap=60, reset_after=600)
        delays.append(plan.delay)
        entry = plan.entry
        now += plan.delay + 1  # the container runs one second, then crashes again
    assert delays == [0, 10, 20, 40, 60, 60, 60]


def test_first_plan_and_entry() -> None:
    assert plan_restart(None, exited_at=5.0, base=1, cap=8, reset_after=16) == RestartPlan(
        0.0, BackoffEntry(1, 5.0)
    )
    assert plan_restart(
        BackoffEntry(1, 5.0), exited_at=6.0, base=1, cap=8, reset_after=16
    ) == RestartPlan(1, BackoffEntry(2, 7.0))


def test_a_long_run_resets_the_backoff() -> None:
    entry = BackoffEntry(40, 100.0)
    assert plan_restart(entry, exited_at=150.0, base=10, cap=300, reset_after=600).delay == 40
    assert plan_restart(entry, exited_at=701.0, base=10, cap=300, reset_after=600) == RestartPlan(
        0.0, BackoffEntry(10, 701.0)
    )


@pytest.mark.parametrize(
    ("policy", "code", "expected"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 2, True),
        ("Never", 0, False),
        ("Never", 137, False),
    ],
)
def test_should_restart(policy: str, code: int, expected: bool) -> None:
    assert should_restart(policy, code) is expected


def test_backoff_message_reads_like_the_kubelets() -> None:
    assert (
        backoff_message(20, "app", "web", "team", "u-1")
        == "back-off 20s restarting failed container=app pod=web_team(u-1)"
    )
    assert backoff_message(300, "app", "web", "team", "u-1").startswith("back-off 5m0s ")
