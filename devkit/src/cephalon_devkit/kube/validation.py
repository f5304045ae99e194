"""Admission checks: object metadata, the built-in kinds we serve, and CRD schemas.

Custom objects go through :mod:`cephalon_contracts.crds.validation` (prune, default,
validate, CEL transition rules) — the same code the contract tests use, so a sample
rejected here is rejected with the message the API server would give. Built-in kinds
get the handful of checks our components can trip over (names, labels, containers,
Secret data), not the whole of ``k8s.io/kubernetes/pkg/apis/*/validation``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Mapping
from typing import Any

from cephalon_contracts.crds import FieldError, apply_defaults, prune_unknown, validate_object

from .errors import field_error, invalid_value
from .resources import ResourceType
from .types import KubeObject

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters,"
    " '-' or '.', and must start and end with an alphanumeric character (e.g."
    " 'example.com', regex used for validation is"
    " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-',"
    " and must start and end with an alphanumeric character (e.g. 'my-name',  or"
    " '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_'"
    " or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or"
    " 'my_value',  or '12345', regex used for validation is"
    " '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_TOP_LEVEL: dict[str, frozenset[str]] = {
    "ConfigMap": frozenset({"data", "binaryData", "immutable"}),
    "Secret": frozenset({"data", "stringData", "type", "immutable"}),
    "ServiceAccount": frozenset({"secrets", "imagePullSecrets", "automountServiceAccountToken"}),
    "Role": frozenset({"rules"}),
    "RoleBinding": frozenset({"subjects", "roleRef"}),
    "ClusterRole": frozenset({"rules", "aggregationRule"}),
    "ClusterRoleBinding": frozenset({"subjects", "roleRef"}),
    "Lease": frozenset({"spec"}),
    "NetworkPolicy": frozenset({"spec"}),
    "Binding": frozenset({"target"}),
}
_CORE_EVENT_FIELDS = frozenset(
    {
        "involvedObject",
        "reason",
        "message",
        "source",
        "firstTimestamp",
        "lastTimestamp",
        "count",
        "type",
        "eventTime",
        "series",
        "action",
        "related",
        "reportingComponent",
        "reportingInstance",
    }
)
_EVENTS_V1_FIELDS = frozenset(
    {
        "eventTime",
        "series",
        "reportingController",
        "reportingInstance",
        "action",
        "reason",
        "regarding",
        "related",
        "note",
        "type",
        "deprecatedSource",
        "deprecatedFirstTimestamp",
        "deprecatedLastTimestamp",
        "deprecatedCount",
    }
)


def unknown_builtin_fields(rtype: ResourceType, obj: KubeObject) -> list[str]:
    """Top-level and ``metadata`` fields a built-in kind does not have (strict decoding)."""
    if rtype.kind == "Event":
        allowed = _CORE_EVENT_FIELDS if rtype.group == "" else _EVENTS_V1_FIELDS
    else:
        allowed = _TOP_LEVEL.get(rtype.kind, frozenset({"spec", "status"}))
    allowed = allowed | {"apiVersion", "kind", "metadata"}
    unknown = [key for key in obj if key not in allowed]
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        unknown += [f"metadata.{k}" for k in meta if k not in OBJECT_META_FIELDS]
    return unknown


def admit_custom(
    rtype: ResourceType, version: str, obj: KubeObject, old: KubeObject | None
) -> tuple[list[FieldError], list[str]]:
    """Prune, default and validate a custom object in place, as the API server does.

    Returns the field errors and the paths of the unknown fields that were pruned.
    """
    unknown: list[str] = []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for key in [k for k in meta if k not in OBJECT_META_FIELDS]:
            unknown.append(f"metadata.{key}")
            del meta[key]
    schema = rtype.schemas.get(version) or rtype.schemas.get(rtype.storage_version)
    if schema is None:
        return [], unknown
    unknown += prune_unknown(schema, obj)
    apply_defaults(schema, obj)
    body = {k: v for k, v in obj.items() if k != "metadata"}
    old_body = None if old is None else {k: v for k, v in old.items() if k != "metadata"}
    return validate_object(_without_metadata(schema), body, old=old_body), unknown


def _without_metadata(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    props = dict(schema.get("properties") or {})
    props.pop("metadata", None)
    return {**schema, "properties": props}


def validate_metadata(rtype: ResourceType, obj: KubeObject) -> list[FieldError]:
    errors: list[FieldError] = []
    meta = obj["metadata"]
    name = meta.get("name", "")
    if rtype.kind in ("Namespace", "Service"):
        if len(name) > 63 or not DNS1123_LABEL.match(name):
            errors.append(invalid_value("metadata.name", name, LABEL_MESSAGE))
    elif rtype.kind == "Event":
        if not name:
            errors.append(field_error("metadata.name", "FieldValueRequired", "Required value"))
    elif len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        message = SUBDOMAIN_MESSAGE if len(name) <= 253 else "must be no more than 253 characters"
        errors.append(invalid_value("metadata.name", name, message))
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
        if size > _ANNOTATIONS_LIMIT:
            errors.append(
                field_error(
                    "metadata.annotations",
                    "FieldValueTooLong",
                    f"Too long: may not be more than {_ANNOTATIONS_LIMIT} bytes",
                )
            )
    for kind in ("labels", "annotations"):
        value = meta.get(kind)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        ):
            errors.append(invalid_value(f"metadata.{kind}", "object", "must be a map of strings"))
    for key, value in (meta.get("labels") or {}).items():
        prefix, _, short = key.rpartition("/")
        if (
            not short
            or len(short) > 63
            or not _QUALIFIED_NAME.match(short)
            or (prefix and not DNS1123_SUBDOMAIN.match(prefix))
        ):
            errors.append(
                invalid_value(
                    "metadata.labels",
                    key,
                    "name part must consist of alphanumeric characters, '-', '_' or '.', and"
                    " must start and end with an alphanumeric character",
                )
            )
        if isinstance(value, str) and (len(value) > 63 or not _LABEL_VALUE.match(value)):
            errors.append(invalid_value("metadata.labels", value, LABEL_VALUE_MESSAGE))
    finalizers = meta.get("finalizers") or []
    if not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers):
        errors.append(invalid_value("metadata.finalizers", "object", "must be a list of strings"))
    for i, ref in enumerate(meta.get("ownerReferences") or []):
        for required in ("apiVersion", "kind", "name", "uid"):
            if not isinstance(ref, dict) or not ref.get(required):
                errors.append(
                    field_error(
                        f"metadata.ownerReferences[{i}].{required}",
                        "FieldValueRequired" if required != "uid" else "FieldValueInvalid",
                        "Required value"
                        if required != "uid"
                        else 'Invalid value: "": uid must not be empty',
                    )
                )
    return errors


_POD_UPDATE_MESSAGE = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only"
    " additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be"
    " set to 1 if it was previously negative)"
)
_ANNOTATIONS_LIMIT = 256 * 1024


def validate_update(rtype: ResourceType, new: KubeObject, old: KubeObject) -> list[FieldError]:
    """What the built-in strategies refuse to change on the main endpoint.

    The operator must see these errors here rather than first in a cluster: a pod's
    spec is immutable except images and a few fields, a Deployment's selector is
    immutable, and an ``immutable`` ConfigMap or Secret keeps its data.
    """
    if rtype.custom:
        return []
    if rtype.kind == "Pod" and not rtype.group:
        if _mutable_pod_spec(new.get("spec")) != _mutable_pod_spec(old.get("spec")):
            return [field_error("spec", "FieldValueForbidden", _POD_UPDATE_MESSAGE)]
    if rtype.kind in ("Deployment", "StatefulSet"):
        selector = (new.get("spec") or {}).get("selector")
        if selector != (old.get("spec") or {}).get("selector"):
            return [invalid_value("spec.selector", "object", "field is immutable")]
    if rtype.kind in ("ConfigMap", "Secret") and old.get("immutable"):
        errors = []
        if not new.get("immutable"):
            errors.append(
                field_error(
                    "immutable",
                    "FieldValueForbidden",
                    "Forbidden: field is immutable when `immutable` is set",
                )
            )
        for key in ("data", "binaryData"):
            if new.get(key) != old.get(key):
                errors.append(
                    field_error(
                        key,
                        "FieldValueForbidden",
                        "Forbidden: field is immutable when `immutable` is set",
                    )
                )
        return errors
    return []


def _mutable_pod_spec(spec: Any) -> Any:
    """The pod spec with the fields an update may change blanked out."""
    if not isinstance(spec, dict):
        return spec
    spec = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                container.pop("image", None)
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        spec.pop(key, None)
    return spec


def validate_builtin(rtype: ResourceType, obj: KubeObject) -> list[FieldError]:
    if rtype.kind == "Pod":
        return _validate_pod(obj)
    if rtype.kind == "Secret":
        return _validate_secret(obj)
    if rtype.kind == "CustomResourceDefinition":
        return _validate_crd(obj)
    return []


def _validate_pod(obj: KubeObject) -> list[FieldError]:
    errors: list[FieldError] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [field_error("spec", "FieldValueRequired", "Required value")]
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [field_error("spec.containers", "FieldValueRequired", "Required value")]
    seen: set[str] = set()
    for i, container in enumerate(containers):
        path = f"spec.containers[{i}]"
        name = container.get("name", "") if isinstance(container, dict) else ""
        if not name:
            errors.append(field_error(f"{path}.name", "FieldValueRequired", "Required value"))
        elif not DNS1123_LABEL.match(name) or len(name) > 63:
            errors.append(invalid_value(f"{path}.name", name, LABEL_MESSAGE))
        elif name in seen:
            errors.append(
                field_error(f"{path}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"')
            )
        seen.add(name)
        if not isinstance(container, dict) or not container.get("image"):
            errors.append(field_error(f"{path}.image", "FieldValueRequired", "Required value"))
    policy = spec.get("restartPolicy", "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        errors.append(
            field_error(
                "spec.restartPolicy",
                "FieldValueNotSupported",
                f'Unsupported value: "{policy}": supported values: "Always", "OnFailure", "Never"',
            )
        )
    return errors


def _validate_secret(obj: KubeObject) -> list[FieldError]:
    errors: list[FieldError] = []
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, TypeError, ValueError):
            errors.append(
                invalid_value(f"data[{key}]", "<secret contents redacted>", "illegal base64 data")
            )
    return errors


def _validate_crd(obj: KubeObject) -> list[FieldError]:
    errors: list[FieldError] = []
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [field_error("spec", "FieldValueRequired", "Required value")]
    names = spec.get("names") or {}
    group = spec.get("group", "")
    for required, value in (
        ("spec.group", group),
        ("spec.names.plural", names.get("plural")),
        ("spec.names.kind", names.get("kind")),
    ):
        if not value:
            errors.append(field_error(required, "FieldValueRequired", "Required value"))
    if errors:
        return errors
    expected = f"{names['plural']}.{group}"
    if obj["metadata"]["name"] != expected:
        errors.append(
            invalid_value(
                "metadata.name", obj["metadata"]["name"], 'must be spec.names.plural+"."+spec.group'
            )
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        errors.append(
            field_error(
                "spec.scope",
                "FieldValueNotSupported",
                f'Unsupported value: "{spec.get("scope")}": supported values:'
                ' "Cluster", "Namespaced"',
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        errors.append(field_error("spec.versions", "FieldValueRequired", "Required value"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        errors.append(
            invalid_value(
                "spec.versions", "array", "must have exactly one version marked as storage version"
            )
        )
    return errors


def prepare_secret(obj: KubeObject) -> None:
    """``stringData`` is write-only: merge it into ``data``, base64-encoded."""
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    obj.setdefault("type", "Opaque")


def prepare_pod(obj: KubeObject) -> None:
    """The defaults the API server fills in that our executor and operator rely on."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("enableServiceLinks", True)
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(container, dict):
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            image = str(container.get("image", ""))
            latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
            container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")


def crd_status(obj: KubeObject, now: str) -> dict[str, Any]:
    spec = obj["spec"]
    storage = [v["name"] for v in spec.get("versions", []) if v.get("storage")]
    condition = {"status": "True", "lastTransitionTime": now}
    return {
        "acceptedNames": copy.deepcopy(spec["names"]),
        "storedVersions": storage,
        "conditions": [
            {
                **condition,
                "type": "NamesAccepted",
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                **condition,
                "type": "Established",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
    }
