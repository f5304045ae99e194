"""How a gateway Deployment of the operator becomes a local process (the pure part; the
processes themselves run in tests/local/test_local_mode.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from cephalon_devkit.local.access_layer import (
    AccessLayerError,
    Listen,
    deployment_key,
    plan_process,
    template_digest,
)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def deployment(**container: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "cephalon-discord-duck-gateway",
            "namespace": "cephalon-system",
            "labels": {
                "cephalon.dev/provider": "discord",
                "cephalon.dev/tenant": "duck",
                "app.kubernetes.io/component": "gateway",
            },
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "gateway",
                            "command": ["cephalon-gateway"],
                            "env": [
                                {"name": "CEPHALON_TENANT", "value": "duck"},
                                {
                                    "name": "CEPHALON_DISCORD__TOKEN_FILE",
                                    "value": "/var/run/cephalon/credentials/bot-token",
                                },
                                {"name": "CEPHALON_HTTP__PORT", "value": "8080"},
                            ],
                            "volumeMounts": [
                                {
                                    "name": "credentials",
                                    "mountPath": "/var/run/cephalon/credentials",
                                },
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                            **container,
                        }
                    ],
                    "volumes": [
                        {
                            "name": "credentials",
                            "secret": {
                                "secretName": "duck-credentials",
                                "items": [{"key": "bot-token", "path": "bot-token"}],
                            },
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                }
            }
        },
    }


SECRETS = {
    "duck-credentials": {"data": {"bot-token": _b64("fake-token"), "app-id": _b64("1")}},
}


def test_the_process_gets_the_template_env_with_mounts_pointed_at_private_files(
    tmp_path: Path,
) -> None:
    plan = plan_process(
        deployment(), SECRETS, tmp_path, Listen("127.0.0.2", 4242), {"PATH": "/bin"}
    )
    assert plan.argv == ["cephalon-gateway"]
    token_file = tmp_path / "volumes/credentials/bot-token"
    assert plan.env["CEPHALON_DISCORD__TOKEN_FILE"] == str(token_file)
    # Only the listed item is materialised, and nothing is written yet (pure).
    assert plan.secret_files == {token_file: b"fake-token"}
    assert not token_file.exists()
    # Local mode decides where it listens; the template's port is overridden.
    assert plan.env["CEPHALON_HTTP__HOST"] == "127.0.0.2"
    assert plan.env["CEPHALON_HTTP__PORT"] == "4242"
    assert plan.env["PATH"] == "/bin" and plan.env["CEPHALON_TENANT"] == "duck"
    assert plan.env["TMPDIR"] == str(tmp_path / "volumes/tmp")


@pytest.mark.parametrize(
    ("secrets", "change", "message"),
    [
        ({}, {}, "Secret duck-credentials does not exist"),
        (
            {"duck-credentials": {"data": {}}},
            {},
            "couldn't find key bot-token in Secret cephalon-system/duck-credentials",
        ),
        (
            SECRETS,
            {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]},
            "env X: only plain values are supported",
        ),
        (SECRETS, {"command": []}, "the container has no command"),
    ],
)
def test_what_local_mode_cannot_provide_is_named(
    tmp_path: Path, secrets: dict[str, Any], change: dict[str, Any], message: str
) -> None:
    with pytest.raises(AccessLayerError, match=message):
        plan_process(deployment(**change), secrets, tmp_path, Listen("127.0.0.2", 1), {})


def test_a_deployment_is_known_by_its_labels_and_rolled_by_its_template() -> None:
    first = deployment()
    assert deployment_key(first) == ("discord", "duck", "gateway")
    assert deployment_key({"metadata": {"labels": {}}}) is None
    changed = deployment(image="cephalon/gateway:0.2.0")
    assert template_digest(first) == template_digest(deployment())
    assert template_digest(first) != template_digest(changed)


def test_a_secret_item_cannot_write_outside_its_volume(tmp_path: Path) -> None:
    escaping = deployment()
    volume = escaping["spec"]["template"]["spec"]["volumes"][0]["secret"]
    volume["items"] = [{"key": "bot-token", "path": "../../escape"}]
    with pytest.raises(AccessLayerError, match="invalid path"):
        plan_process(escaping, SECRETS, tmp_path, Listen("127.0.0.2", 1), {})
