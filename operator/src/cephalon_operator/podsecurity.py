"""A checker for the Pod Security Standards ``restricted`` profile.

The session namespace enforces ``restricted`` through its labels, so a pod the
operator builds wrong would be refused by the API server at run time. Checking every
pod before it is sent turns that into an immediate, clear operator error, and lets the
tests run the check over every combination of tenant options.

Follows the published profile (Kubernetes 1.30): the baseline controls plus volume
types, privilege escalation, non-root, seccomp and capabilities.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

ALLOWED_VOLUME_KEYS = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
ALLOWED_SELINUX_TYPES = {
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
}


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """Every way ``pod`` breaks the ``restricted`` profile (empty when it complies)."""
    return list(_violations(pod.get("spec", {})))


def _containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key, []) or []:
            yield f"{key}[{container.get('name', '?')}]", container


def _violations(spec: dict[str, Any]) -> Iterator[str]:
    pod_sc: dict[str, Any] = spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"spec.{field} must not be true"
    for volume in spec.get("volumes", []) or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUME_KEYS:
            bad = sorted(kinds - ALLOWED_VOLUME_KEYS)
            yield f"volume {volume.get('name')!r} uses a forbidden type {bad}"
    for sysctl in pod_sc.get("sysctls", []) or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"sysctl {sysctl.get('name')!r} is not in the safe set"
    yield from _check_selinux("spec.securityContext", pod_sc)
    if pod_sc.get("runAsUser") == 0:
        yield "spec.securityContext.runAsUser must not be 0"
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp == "Unconfined":
        yield "spec.securityContext.seccompProfile must not be Unconfined"
    for where, container in _containers(spec):
        sc: dict[str, Any] = container.get("securityContext") or {}
        if sc.get("privileged"):
            yield f"{where}: privileged must not be true"
        if sc.get("allowPrivilegeEscalation") is not False:
            yield f"{where}: allowPrivilegeEscalation must be false"
        if sc.get("procMount", "Default") != "Default":
            yield f"{where}: procMount must be Default"
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            yield f"{where}: runAsNonRoot must be true (here or on the pod)"
        if sc.get("runAsUser") == 0:
            yield f"{where}: runAsUser must not be 0"
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            yield f"{where}: seccompProfile must be RuntimeDefault or Localhost"
        caps: dict[str, Any] = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"{where}: capabilities must drop ALL"
        added = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            yield f"{where}: capabilities may only add NET_BIND_SERVICE, not {sorted(added)}"
        for port in container.get("ports", []) or []:
            if port.get("hostPort"):
                yield f"{where}: hostPort must not be set"
        yield from _check_selinux(f"{where}.securityContext", sc)
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            yield f"{where}: windowsOptions.hostProcess must not be true"


def _check_selinux(where: str, sc: dict[str, Any]) -> Iterator[str]:
    options: dict[str, Any] = sc.get("seLinuxOptions") or {}
    if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
        yield f"{where}.seLinuxOptions.type {options.get('type')!r} is not allowed"
    if options.get("user") or options.get("role"):
        yield f"{where}.seLinuxOptions.user/role must not be set"
