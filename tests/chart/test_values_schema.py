"""``charts/cephalon/values.schema.json``: generated here, checked here.

The tenant entries are the ProviderTenant spec (taken from the generated CRD, so the two
cannot drift) with ``policy`` replaced by the chart's inline form, and every object
closed (``additionalProperties: false``) so that a typo in a values file fails the
install instead of being pruned silently.

Regenerate after a CRD change: ``.venv/bin/python tests/chart/test_values_schema.py``.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "cephalon"
SCHEMA_FILE = CHART / "values.schema.json"
TENANT_CRD = ROOT / "crds" / "providertenants.cephalon.dev.yaml"

NAME = "^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$"
DURATION = "^[0-9]+(ms|s|m|h)$"


def _closed(node: Any) -> Any:
    """Drop Kubernetes-only keywords and close every object that lists its properties."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _closed(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def _obj(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties, **extra}


def _str(**extra: Any) -> dict[str, Any]:
    return {"type": "string", **extra}


def _image(description: str) -> dict[str, Any]:
    return _obj(
        {
            "repository": _str(minLength=1, description=description),
            "tag": _str(description="Defaults to the chart's appVersion."),
            "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        },
        required=["repository"],
    )


def _resources() -> dict[str, Any]:
    quantities = {"type": "object", "additionalProperties": {"type": ["string", "number"]}}
    return _obj({"requests": quantities, "limits": quantities})


def tenant_schema() -> dict[str, Any]:
    crd = yaml.safe_load(TENANT_CRD.read_text())
    spec = copy.deepcopy(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"])
    tenant = _closed(spec["spec"])
    refs = tenant["properties"]["policy"]["properties"]
    tenant["properties"]["policy"] = _obj(
        {
            "rules": _str(description="RULES.md, rendered into the ConfigMap <name>-rules."),
            "agents": _str(description="AGENTS.md, rendered into the ConfigMap <name>-agents."),
            "skills": {
                "type": "object",
                "description": "Skill name -> SKILL.md text, rendered into <name>-skills.",
                "propertyNames": {"pattern": DNS_LABEL},
                "additionalProperties": {"type": "string"},
            },
            **refs,
        },
        description="The tenant's policy: inline text (rendered as ConfigMaps) or the "
        "names of existing ConfigMaps in the release namespace.",
    )
    tenant["properties"]["provider"]["pattern"] = NAME
    tenant["properties"]["tenant"]["pattern"] = NAME
    tenant["description"] = "One ProviderTenant (named <provider>-<tenant>); see docs/crds.md."
    return tenant


def build_schema() -> dict[str, Any]:
    pod_placement = {
        "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
        "tolerations": {"type": "array", "items": {"type": "object"}},
        "affinity": {"type": "object"},
    }
    return {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "title": "Values of the Cephalon chart",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "global": {"type": "object"},
            "nameOverride": _str(),
            "fullnameOverride": _str(maxLength=40),
            "imagePullSecrets": {"type": "array", "items": _str(pattern=DNS_SUBDOMAIN)},
            "commonLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "topicRoot": _str(pattern="^[a-z][a-z0-9_-]{0,31}$"),
            "images": _obj(
                {
                    "gateway": _image("Access-layer image (gateway and model gateway)."),
                    "runtime": _image("Session runtime image."),
                    "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
                }
            ),
            "operator": _obj(
                {
                    "image": _image("Operator image."),
                    "watchNamespaces": {
                        "type": "array",
                        "items": _str(pattern=DNS_LABEL),
                        "uniqueItems": True,
                    },
                    "logLevel": {"enum": ["DEBUG", "INFO", "WARNING", "ERROR"]},
                    "healthPort": {"type": "integer", "minimum": 1024, "maximum": 65535},
                    "metrics": _obj(
                        {
                            "port": {"type": "integer", "minimum": 1024, "maximum": 65535},
                            "serviceMonitor": _obj(
                                {
                                    "enabled": {"type": "boolean"},
                                    "interval": _str(pattern=DURATION),
                                    "labels": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                }
                            ),
                        }
                    ),
                    "resources": _resources(),
                    "extraEnv": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": _str(pattern="^[A-Za-z_][A-Za-z0-9_]*$")},
                        },
                    },
                    "podAnnotations": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                    },
                    "podLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "priorityClassName": _str(),
                    **pod_placement,
                }
            ),
            "redis": _obj(
                {
                    "enabled": {"type": "boolean"},
                    "image": _image("Redis image (7.x, with sh and sha256sum)."),
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "runAsUser": {"type": "integer", "minimum": 1},
                    "auth": _obj(
                        {
                            "username": _str(pattern="^[A-Za-z0-9_.:-]{1,64}$"),
                            "existingSecret": {
                                "anyOf": [_str(maxLength=0), _str(pattern=DNS_SUBDOMAIN)]
                            },
                            "passwordKey": _str(pattern="^[-._a-zA-Z0-9]+$"),
                        }
                    ),
                    "persistence": _obj(
                        {
                            "enabled": {"type": "boolean"},
                            "size": _str(pattern=QUANTITY),
                            "storageClassName": _str(),
                            "accessModes": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "enum": ["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"]
                                },
                            },
                        }
                    ),
                    "appendfsync": {"enum": ["always", "everysec", "no"]},
                    "maxmemory": _str(pattern="^([0-9]+(kb|mb|gb|k|m|g)?)?$"),
                    "resources": _resources(),
                    "networkPolicy": _obj({"enabled": {"type": "boolean"}}),
                    "external": _obj(
                        {
                            "url": {"anyOf": [_str(maxLength=0), _str(pattern="^rediss?://")]},
                            "serviceSelector": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        }
                    ),
                    **pod_placement,
                },
                **{
                    "if": {"properties": {"enabled": {"const": False}}},
                    "then": {
                        "properties": {
                            "external": {
                                "required": ["url"],
                                "properties": {"url": _str(minLength=1)},
                            }
                        },
                        "required": ["external"],
                    },
                },
            ),
            "tenants": {
                "type": "array",
                "description": "ProviderTenants to create; <provider>-<tenant> must be unique.",
                "items": tenant_schema(),
            },
        },
    }


def render_schema() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"


def test_values_schema_is_generated_from_the_crd() -> None:
    assert SCHEMA_FILE.read_text() == render_schema(), (
        "charts/cephalon/values.schema.json is stale: run "
        "`.venv/bin/python tests/chart/test_values_schema.py`"
    )


def test_every_tenant_spec_field_of_the_crd_is_allowed_in_values() -> None:
    crd = yaml.safe_load(TENANT_CRD.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    items = json.loads(SCHEMA_FILE.read_text())["properties"]["tenants"]["items"]
    assert set(items["properties"]) == set(spec["properties"])
    assert set(spec["required"]) <= set(items["required"])


@pytest.mark.parametrize("name", ["duck", "a", "team-42", "a" * 30])
def test_tenant_name_pattern_accepts(name: str) -> None:
    import re

    assert re.fullmatch(NAME, name)


@pytest.mark.parametrize("name", ["Duck", "-duck", "duck-", "4duck", "a" * 31, "du_ck"])
def test_tenant_name_pattern_rejects(name: str) -> None:
    import re

    assert not re.fullmatch(NAME, name)


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render_schema())
    sys.stdout.write(f"wrote {SCHEMA_FILE.relative_to(ROOT)}\n")
