"""Reading a kubeconfig: pure parsing into the few things an HTTP client needs.

Supports what the emulator and ordinary clusters write: ``server``,
``certificate-authority(-data)``, ``insecure-skip-tls-verify``, a bearer ``token`` (or
``tokenFile``), ``client-certificate(-data)``/``client-key(-data)`` and
``username``/``password``. Exec and auth-provider plugins are not supported.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cephalon_devkit.kubelet.errors import KubeconfigError


@dataclass(frozen=True)
class Connection:
    """Where the API server is and how to authenticate to it."""

    server: str
    token: str = ""
    username: str = ""
    password: str = ""
    ca_data: bytes = b""
    client_cert_data: bytes = b""
    client_key_data: bytes = b""
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for an ``https`` server (None for ``http``)."""
        if not self.server.startswith("https"):
            return None
        context = ssl.create_default_context(cadata=self.ca_data.decode() if self.ca_data else None)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert_data:
            with tempfile.TemporaryDirectory() as tmp:
                cert = Path(tmp) / "cert.pem"
                key = Path(tmp) / "key.pem"
                cert.write_bytes(self.client_cert_data)
                key.write_bytes(self.client_key_data)
                context.load_cert_chain(cert, key)
        return context

    def headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.username:
            basic = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return {"Authorization": f"Basic {basic}"}
        return {}


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(what)
            if isinstance(body, dict):
                return body
    raise KubeconfigError(f"kubeconfig has no {what} named {name!r}")


def _data(section: dict[str, Any], key: str, base_dir: Path) -> bytes:
    if section.get(f"{key}-data"):
        return base64.b64decode(section[f"{key}-data"])
    if section.get(key):
        path = Path(os.path.expanduser(section[key]))
        return (path if path.is_absolute() else base_dir / path).read_bytes()
    return b""


def parse_kubeconfig(document: Any, *, context: str | None, base_dir: Path) -> Connection:
    """The connection of ``context`` (or ``current-context``) in a parsed kubeconfig."""
    if not isinstance(document, dict):
        raise KubeconfigError("kubeconfig is not a mapping")
    name = context or document.get("current-context")
    if not name:
        raise KubeconfigError("kubeconfig has no current-context and none was given")
    ctx = _named(document.get("contexts"), name, "context")
    cluster = _named(document.get("clusters"), ctx.get("cluster", ""), "cluster")
    user: dict[str, Any] = {}
    if ctx.get("user"):
        user = _named(document.get("users"), ctx["user"], "user")
    if "exec" in user or "auth-provider" in user:
        raise KubeconfigError("exec and auth-provider credentials are not supported")
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigError(f"cluster {ctx.get('cluster')!r} has no server")
    token = user.get("token", "")
    if not token and user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text().strip()
    try:
        return Connection(
            server=server.rstrip("/"),
            token=token,
            username=user.get("username", ""),
            password=user.get("password", ""),
            ca_data=_data(cluster, "certificate-authority", base_dir),
            client_cert_data=_data(user, "client-certificate", base_dir),
            client_key_data=_data(user, "client-key", base_dir),
            insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        )
    except OSError as error:
        raise KubeconfigError(f"cannot read a file the kubeconfig names: {error}") from error


def load_kubeconfig(path: Path, *, context: str | None = None) -> Connection:
    """Read and parse a kubeconfig file."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {error}") from error
    return parse_kubeconfig(document, context=context, base_dir=path.parent)
