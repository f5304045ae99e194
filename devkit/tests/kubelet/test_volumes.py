"""Volume plans, materialisation and the mount-path translation."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from cephalon_devkit.kubelet.errors import ContainerConfigError
from cephalon_devkit.kubelet.types import Container
from cephalon_devkit.kubelet.volumes import (
    PodLayout,
    VolumeFile,
    VolumePlan,
    container_mounts,
    materialise_volume,
    plan_volume,
    pod_layout,
    translate_path,
    volume_env_name,
    volume_host_dir,
    working_dir,
)

SECRETS = {
    "tls": {
        "data": {
            "tls.crt": base64.b64encode(b"CERT").decode(),
            "tls.key": base64.b64encode(b"\x00KEY").decode(),
        }
    }
}
CONFIG_MAPS = {"policy": {"data": {"RULES.md": "# rules\n", "AGENTS.md": "# agents\n"}}}


def test_secret_volume_with_items_and_modes() -> None:
    plan = plan_volume(
        {
            "name": "certs",
            "secret": {
                "secretName": "tls",
                "defaultMode": 0o400,
                "items": [
                    {"key": "tls.crt", "path": "pem/cert.pem"},
                    {"key": "tls.key", "path": "key.pem", "mode": 0o600},
                ],
            },
        },
        namespace="ns",
        secrets=SECRETS,
        config_maps={},
    )
    assert plan == VolumePlan(
        "certs",
        "secret",
        (VolumeFile("pem/cert.pem", b"CERT", 0o400), VolumeFile("key.pem", b"\x00KEY", 0o600)),
    )


def test_config_map_volume_all_keys_sorted_default_mode() -> None:
    plan = plan_volume(
        {"name": "policy", "configMap": {"name": "policy"}},
        namespace="ns",
        secrets={},
        config_maps=CONFIG_MAPS,
    )
    assert plan == VolumePlan(
        "policy",
        "configMap",
        (
            VolumeFile("AGENTS.md", b"# agents\n", 0o644),
            VolumeFile("RULES.md", b"# rules\n", 0o644),
        ),
    )


def test_optional_missing_sources_give_empty_volumes() -> None:
    assert plan_volume(
        {"name": "v", "secret": {"secretName": "nope", "optional": True}},
        namespace="ns",
        secrets={},
        config_maps={},
    ) == VolumePlan("v", "secret")
    assert plan_volume(
        {
            "name": "v",
            "configMap": {"name": "policy", "optional": True, "items": [{"key": "x", "path": "x"}]},
        },
        namespace="ns",
        secrets={},
        config_maps=CONFIG_MAPS,
    ) == VolumePlan("v", "configMap")


def test_missing_required_sources_are_config_errors() -> None:
    with pytest.raises(ContainerConfigError, match='^secret "nope" not found$'):
        plan_volume(
            {"name": "v", "secret": {"secretName": "nope"}},
            namespace="ns",
            secrets={},
            config_maps={},
        )
    with pytest.raises(ContainerConfigError, match="^couldn't find key x in ConfigMap ns/policy$"):
        plan_volume(
            {"name": "v", "configMap": {"name": "policy", "items": [{"key": "x", "path": "x"}]}},
            namespace="ns",
            secrets={},
            config_maps=CONFIG_MAPS,
        )


def test_empty_dir_and_claim_plans_and_their_directories(tmp_path: Path) -> None:
    layout = PodLayout(tmp_path / "pod")
    empty = plan_volume(
        {"name": "scratch", "emptyDir": {}}, namespace="ns", secrets={}, config_maps={}
    )
    claim = plan_volume(
        {"name": "ws", "persistentVolumeClaim": {"claimName": "ws-s1"}},
        namespace="ns",
        secrets={},
        config_maps={},
    )
    assert empty == VolumePlan("scratch", "emptyDir")
    assert claim == VolumePlan("ws", "persistentVolumeClaim", claim_name="ws-s1")
    assert (
        volume_host_dir(layout, empty, namespace="ns", pvc_root=None)
        == tmp_path / "pod/volumes/scratch"
    )
    assert (
        volume_host_dir(layout, claim, namespace="ns", pvc_root=tmp_path / "pvc")
        == tmp_path / "pvc/ns/ws-s1"
    )
    with pytest.raises(ContainerConfigError):
        volume_host_dir(layout, claim, namespace="ns", pvc_root=None)


def test_materialise_writes_contents_and_modes_idempotently(tmp_path: Path) -> None:
    plan = VolumePlan(
        "certs",
        "secret",
        (VolumeFile("pem/cert.pem", b"CERT", 0o400), VolumeFile("key.pem", b"KEY", 0o640)),
    )
    materialise_volume(plan, tmp_path / "v")
    materialise_volume(plan, tmp_path / "v")
    assert (tmp_path / "v/pem/cert.pem").read_bytes() == b"CERT"
    assert stat.S_IMODE((tmp_path / "v/pem/cert.pem").stat().st_mode) == 0o400
    assert stat.S_IMODE((tmp_path / "v/key.pem").stat().st_mode) == 0o640


def test_pod_layout_and_volume_env_names(tmp_path: Path) -> None:
    layout = pod_layout(
        tmp_path, {"metadata": {"name": "p", "namespace": "ns", "uid": "0123456789"}}
    )
    assert layout.root == tmp_path / "pods/ns/p-01234567"
    assert volume_env_name("agent-home.v2") == "CEPHALON_VOLUME_AGENT_HOME_V2"


CONTAINER: Container = {
    "name": "c",
    "volumeMounts": [
        {"name": "ws", "mountPath": "/workspace"},
        {"name": "cfg", "mountPath": "/etc/app/config.yaml", "subPath": "config.yaml"},
        {"name": "home", "mountPath": "/workspace/.home/"},
    ],
}
DIRS = {"ws": Path("/h/ws"), "cfg": Path("/h/cfg"), "home": Path("/h/home")}


def test_container_mounts_longest_first_with_sub_path() -> None:
    assert container_mounts(CONTAINER, DIRS) == [
        ("/etc/app/config.yaml", "/h/cfg/config.yaml"),
        ("/workspace/.home", "/h/home"),
        ("/workspace", "/h/ws"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/workspace", "/h/ws"),
        ("/workspace/src/a.py", "/h/ws/src/a.py"),
        ("/workspace/.home/.config", "/h/home/.config"),
        ("/workspacefoo", "/workspacefoo"),
        ("/etc/app/config.yaml", "/h/cfg/config.yaml"),
        ("--config=/etc/app/config.yaml", "--config=/h/cfg/config.yaml"),
        ("--root=/elsewhere", "--root=/elsewhere"),
        ("relative/workspace", "relative/workspace"),
        ("cd /workspace && cat '/etc/app/config.yaml'", "cd /h/ws && cat '/h/cfg/config.yaml'"),
        ("PATH=/workspace/bin:/usr/bin", "PATH=/h/ws/bin:/usr/bin"),
        ("echo x>/workspace/.home/f", "echo x>/h/home/f"),
        ("$(ls /workspace)", "$(ls /h/ws)"),
        ("/workspace/../workspace", "/h/ws/../workspace"),
        ("http://x/workspace", "http://x/workspace"),
        ("", ""),
    ],
)
def test_translate_path(value: str, expected: str) -> None:
    assert translate_path(value, container_mounts(CONTAINER, DIRS)) == expected


def test_working_dir_under_a_mount_outside_and_default(tmp_path: Path) -> None:
    mounts = container_mounts(CONTAINER, DIRS)
    rootfs = tmp_path / "rootfs"
    assert working_dir({"name": "c", "workingDir": "/workspace/src"}, mounts, rootfs) == Path(
        "/h/ws/src"
    )
    assert working_dir({"name": "c", "workingDir": "/app"}, mounts, rootfs) == rootfs / "app"
    assert working_dir({"name": "c"}, mounts, rootfs) == rootfs
