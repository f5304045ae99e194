"""The checker must catch each kind of violation, or the table test above proves nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cephalon_operator.builders.session import build_session_pod
from cephalon_operator.podsecurity import restricted_violations


def _runtime(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "privileged": lambda p: _runtime(p)["securityContext"].update(privileged=True),
    "allowPrivilegeEscalation": lambda p: _runtime(p)["securityContext"].pop(
        "allowPrivilegeEscalation"
    ),
    "runAsNonRoot": lambda p: (
        _runtime(p)["securityContext"].pop("runAsNonRoot"),
        p["spec"]["securityContext"].pop("runAsNonRoot"),
    ),
    "runAsUser": lambda p: _runtime(p)["securityContext"].update(runAsUser=0),
    "seccompProfile": lambda p: (
        _runtime(p)["securityContext"].pop("seccompProfile"),
        p["spec"]["securityContext"].pop("seccompProfile"),
    ),
    "capabilities must drop ALL": lambda p: _runtime(p)["securityContext"].update(capabilities={}),
    "NET_BIND_SERVICE": lambda p: _runtime(p)["securityContext"]["capabilities"].update(
        add=["SYS_ADMIN"]
    ),
    "hostNetwork": lambda p: p["spec"].update(hostNetwork=True),
    "forbidden type": lambda p: p["spec"]["volumes"].append(
        {"name": "host", "hostPath": {"path": "/"}}
    ),
    "hostPort": lambda p: _runtime(p)["ports"][0].update(hostPort=80),
    "sysctl": lambda p: p["spec"]["securityContext"].update(
        sysctls=[{"name": "kernel.msgmax", "value": "1"}]
    ),
}


@pytest.mark.parametrize("expected", sorted(BREAKAGES))
def test_each_violation_is_reported(make: Any, expected: str) -> None:
    pod = copy.deepcopy(build_session_pod(make.session()))
    BREAKAGES[expected](pod)
    violations = restricted_violations(pod)
    assert any(expected in v for v in violations), violations
