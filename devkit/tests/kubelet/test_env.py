"""Container environment resolution against exact expected values."""

from __future__ import annotations

import base64

import pytest

from cephalon_devkit.kubelet.env import (
    config_map_data,
    expand,
    expand_command,
    referenced_objects,
    resolve_env,
    secret_data,
)
from cephalon_devkit.kubelet.errors import ContainerConfigError
from cephalon_devkit.kubelet.types import Container, Pod

VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The cases of Kubernetes' third_party/forked/golang/expansion tests.
        ("$(VAR_A)", "A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)-$(VAR_B)", "A-B"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("foo\\$(VAR_C)bar", "foo\\Cbar"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$(VAR_DNE)", "$(VAR_DNE)"),
        ("$(VAR_EMPTY)", ""),
        ("$(VAR_A", "$(VAR_A"),
        ("$VAR_A", "$VAR_A"),
        ("$", "$"),
        ("$()", "$()"),
        ("$$", "$"),
        ("x$", "x$"),
        ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
    ],
)
def test_expand_matches_kubernetes(text: str, expected: str) -> None:
    assert expand(text, VARS.get) == expected


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


POD: Pod = {
    "metadata": {
        "name": "web",
        "namespace": "team",
        "uid": "u-1",
        "labels": {"app": "web"},
        "annotations": {"note": "hi"},
    },
    "spec": {"containers": []},
}


def test_resolve_env_order_sources_and_expansion() -> None:
    container: Container = {
        "name": "c",
        "envFrom": [
            {"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
            {"secretRef": {"name": "creds"}},
            {"secretRef": {"name": "absent", "optional": True}},
        ],
        "env": [
            {"name": "GREETING", "value": "hello $(CFG_mode) $$(NOT) $(MISSING)"},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
            {
                "name": "OPTIONAL",
                "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nope", "optional": True}},
            },
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "EMPTY"},
            {"name": "WORK", "value": "/workspace/src"},
            {"name": "PASSWORD_COPY", "value": "$(PASSWORD)"},
            {"name": "VOL", "value": "$(CEPHALON_VOLUME_WORK)/x"},
        ],
    }
    env = resolve_env(
        POD,
        container,
        secrets={"creds": secret_data({"data": {"pw": _b64("s3cret"), "user": _b64("ann")}})},
        config_maps={"settings": config_map_data({"data": {"mode": "fast", "bad key": "x"}})},
        base={"PATH": "/usr/bin", "CEPHALON_VOLUME_WORK": "/host/work"},
        pod_ip="127.0.0.1",
        node_name="node-a",
        translate=lambda value: (
            value.replace("/workspace", "/host/work", 1)
            if value.startswith("/workspace")
            else value
        ),
    )
    assert env == {
        "PATH": "/usr/bin",
        "CEPHALON_VOLUME_WORK": "/host/work",
        "CFG_mode": "fast",
        "pw": "s3cret",
        "user": "ann",
        "GREETING": "hello fast $(NOT) $(MISSING)",
        "PASSWORD": "s3cret",
        "MODE": "fast",
        "POD": "web",
        "NS": "team",
        "IP": "127.0.0.1",
        "APP": "web",
        "NODE": "node-a",
        "EMPTY": "",
        "WORK": "/host/work/src",
        "PASSWORD_COPY": "s3cret",
        "VOL": "/host/work/x",
    }


@pytest.mark.parametrize(
    ("container", "message"),
    [
        (
            {
                "name": "c",
                "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k"}}}],
            },
            'secret "db" not found',
        ),
        (
            {
                "name": "c",
                "env": [
                    {"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}
                ],
            },
            "couldn't find key k in Secret team/creds",
        ),
        (
            {
                "name": "c",
                "env": [
                    {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}
                ],
            },
            'configmap "cm" not found',
        ),
        ({"name": "c", "envFrom": [{"configMapRef": {"name": "cm"}}]}, 'configmap "cm" not found'),
    ],
)
def test_missing_references_are_config_errors(container: Container, message: str) -> None:
    with pytest.raises(ContainerConfigError) as caught:
        resolve_env(
            POD,
            container,
            secrets={"creds": {"other": "v"}},
            config_maps={},
            base={},
            pod_ip="127.0.0.1",
            node_name="n",
        )
    assert str(caught.value) == message


def test_expand_command_uses_final_env() -> None:
    assert expand_command(["sh", "-c", "echo $(A) $$(A) $(B)"], {"A": "1"}) == [
        "sh",
        "-c",
        "echo 1 $(A) $(B)",
    ]


def test_secret_data_decodes_and_string_data_wins() -> None:
    assert secret_data({"data": {"a": _b64("1"), "b": _b64("2")}, "stringData": {"b": "3"}}) == {
        "a": "1",
        "b": "3",
    }


def test_referenced_objects_collects_env_and_volumes() -> None:
    pod: Pod = {
        "spec": {
            "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "s1"}}]}],
            "containers": [
                {
                    "name": "c",
                    "envFrom": [{"configMapRef": {"name": "c1"}}],
                    "env": [
                        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s2", "key": "k"}}},
                        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c2", "key": "k"}}},
                    ],
                }
            ],
            "volumes": [
                {"name": "v1", "secret": {"secretName": "s3"}},
                {"name": "v2", "configMap": {"name": "c3"}},
                {"name": "v3", "emptyDir": {}},
            ],
        }
    }
    assert referenced_objects(pod) == ({"s1", "s2", "s3"}, {"c1", "c2", "c3"})
