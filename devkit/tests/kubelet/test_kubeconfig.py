"""Kubeconfig parsing."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from cephalon_devkit.kubelet.errors import KubeconfigError
from cephalon_devkit.kubelet.kubeconfig import Connection, load_kubeconfig, parse_kubeconfig

DOC = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "local",
    "contexts": [
        {"name": "local", "context": {"cluster": "emu", "user": "dev"}},
        {"name": "other", "context": {"cluster": "tls"}},
    ],
    "clusters": [
        {"name": "emu", "cluster": {"server": "http://127.0.0.1:6443/"}},
        {
            "name": "tls",
            "cluster": {
                "server": "https://k.example:6443",
                "certificate-authority-data": base64.b64encode(b"CA").decode(),
                "insecure-skip-tls-verify": True,
            },
        },
    ],
    "users": [{"name": "dev", "user": {"token": "t0k"}}],
}


def test_current_context() -> None:
    assert parse_kubeconfig(DOC, context=None, base_dir=Path("/")) == Connection(
        server="http://127.0.0.1:6443", token="t0k"
    )
    assert Connection(server="http://x", token="t").headers() == {"Authorization": "Bearer t"}


def test_named_context_without_user() -> None:
    assert parse_kubeconfig(DOC, context="other", base_dir=Path("/")) == Connection(
        server="https://k.example:6443", ca_data=b"CA", insecure=True
    )


def test_errors_are_kubeconfig_errors(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="no context named 'nope'"):
        parse_kubeconfig(DOC, context="nope", base_dir=tmp_path)
    with pytest.raises(KubeconfigError, match="cannot read kubeconfig"):
        load_kubeconfig(tmp_path / "missing")


def test_load_from_file_with_relative_ca(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"PEM")
    doc = {
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k"}}],
        "clusters": [
            {"name": "k", "cluster": {"server": "https://h", "certificate-authority": "ca.crt"}}
        ],
    }
    (tmp_path / "config").write_text(yaml.safe_dump(doc))
    assert load_kubeconfig(tmp_path / "config").ca_data == b"PEM"
