"""Labels, owner references and the restricted security contexts shared by builders."""

from __future__ import annotations

from . import Manifest

PART_OF = {
    "app.kubernetes.io/part-of": "cephalon",
    "app.kubernetes.io/managed-by": "cephalon-operator",
}
LABEL_PROVIDER = "cephalon.dev/provider"
LABEL_TENANT = "cephalon.dev/tenant"
LABEL_SESSION = "cephalon.dev/session"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_NAME = "app.kubernetes.io/name"

#: Non-root user the images run as.
RUN_AS_USER = 10001


def tenant_labels(provider: str, tenant: str) -> dict[str, str]:
    return {**PART_OF, LABEL_PROVIDER: provider, LABEL_TENANT: tenant}


def owner_reference(api_version: str, kind: str, name: str, uid: str) -> Manifest:
    """A controller reference: the owner's deletion garbage-collects the object."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_security_context() -> Manifest:
    """Pod-level fields the Pod Security ``restricted`` profile requires."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Manifest:
    """Container-level fields of the ``restricted`` profile, plus a read-only root."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
