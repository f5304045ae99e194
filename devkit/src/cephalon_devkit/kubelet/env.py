"""Container environment as Kubernetes builds it: pure functions.

Order and precedence follow the kubelet (``makeEnvironmentVariables``): ``envFrom``
sources in order, then ``env`` entries, each overriding what came before. Literal
``value``s may reference earlier variables as ``$(NAME)``; ``$$`` escapes a dollar and
an undefined reference stays as written. ``command`` and ``args`` are expanded against
the final environment.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence

from cephalon_devkit.kubelet.errors import ContainerConfigError
from cephalon_devkit.kubelet.types import (
    ConfigMap,
    Container,
    EnvVar,
    KeySelector,
    ObjectFieldSelector,
    Pod,
    Secret,
)

_VALID_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand ``$(NAME)`` references the way Kubernetes does.

    A port of ``third_party/forked/golang/expansion``: ``$$`` becomes ``$``, ``$(NAME)``
    becomes the value of ``NAME`` or stays ``$(NAME)`` when it is undefined, an
    unterminated ``$(`` and a ``$`` before any other character are kept.
    """
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == "$" and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            nxt = text[cursor + 1]
            if nxt == "$":
                out.append("$")
                advance = 1
            elif nxt == "(":
                close = text.find(")", cursor + 2)
                if close == -1:
                    out.append("$(")
                    advance = 1
                else:
                    name = text[cursor + 2 : close]
                    value = lookup(name)
                    out.append(f"$({name})" if value is None else value)
                    advance = close - cursor
            else:
                out.append("$" + nxt)
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def decode_secret_value(encoded: str) -> str:
    """A Secret's ``data`` value as the string a container would see."""
    return base64.b64decode(encoded).decode("utf-8", errors="surrogateescape")


def secret_data(secret: Secret) -> dict[str, str]:
    """The decoded key/value pairs of a Secret (``stringData`` wins, as on write)."""
    data = {key: decode_secret_value(value) for key, value in secret.get("data", {}).items()}
    data.update(secret.get("stringData", {}))
    return data


def config_map_data(config_map: ConfigMap) -> dict[str, str]:
    """The text key/value pairs of a ConfigMap (``binaryData`` decoded as text)."""
    data = {
        key: decode_secret_value(value) for key, value in config_map.get("binaryData", {}).items()
    }
    data.update(config_map.get("data", {}))
    return data


def field_ref_value(
    pod: Pod, selector: ObjectFieldSelector, pod_ip: str, node_name: str, host_ip: str = ""
) -> str:
    """The downward-API value of ``fieldRef.fieldPath`` for this pod."""
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    path = selector.get("fieldPath", "")
    simple: dict[str, str] = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName") or node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.hostIP": host_ip or pod_ip,
        "status.hostIPs": host_ip or pod_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if match:
        bag = meta.get("labels", {}) if match[1] == "labels" else meta.get("annotations", {})
        return bag.get(match[2], "")
    raise ContainerConfigError(f"unsupported fieldPath: {path}")


def _key_value(
    kind: str,
    selector: KeySelector,
    namespace: str,
    sources: Mapping[str, Mapping[str, str]],
) -> str | None:
    name = selector.get("name", "")
    key = selector.get("key", "")
    optional = selector.get("optional", False)
    data = sources.get(name)
    if data is None:
        if optional:
            return None
        raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
    if key not in data:
        if optional:
            return None
        raise ContainerConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return data[key]


def resolve_env(
    pod: Pod,
    container: Container,
    *,
    secrets: Mapping[str, Mapping[str, str]],
    config_maps: Mapping[str, Mapping[str, str]],
    base: Mapping[str, str],
    pod_ip: str,
    node_name: str,
    translate: Callable[[str], str] = lambda value: value,
    host_ip: str = "",
) -> dict[str, str]:
    """The environment of one container.

    ``secrets`` and ``config_maps`` map object names to their decoded data (absent
    objects are simply missing). ``base`` is what the executor provides before the
    pod's own variables (``PATH``, ``HOME``, ``CEPHALON_VOLUME_*``…); pod variables
    override it and may reference it. ``translate`` rewrites literal values that are
    paths under a volume mount (see ``volumes.translate_path``). Raises
    ``ContainerConfigError`` for a missing, non-optional reference.
    """
    namespace = pod.get("metadata", {}).get("namespace", "")
    env: dict[str, str] = dict(base)
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "secretRef" in source:
            ref, kind, bag = source["secretRef"], "Secret", secrets
        elif "configMapRef" in source:
            ref, kind, bag = source["configMapRef"], "ConfigMap", config_maps
        else:
            continue
        data = bag.get(ref.get("name", ""))
        if data is None:
            if ref.get("optional", False):
                continue
            raise ContainerConfigError(f'{kind.lower()} "{ref.get("name", "")}" not found')
        for key, item in data.items():
            if _VALID_NAME.match(prefix + key):
                env[prefix + key] = item
    for var in container.get("env", []):
        value = _env_var_value(
            pod, var, env, namespace, secrets, config_maps, pod_ip, node_name, translate, host_ip
        )
        if value is not None:
            env[var["name"]] = value
        elif "valueFrom" not in var:
            env[var["name"]] = ""
    return env


def _env_var_value(
    pod: Pod,
    var: EnvVar,
    env: Mapping[str, str],
    namespace: str,
    secrets: Mapping[str, Mapping[str, str]],
    config_maps: Mapping[str, Mapping[str, str]],
    pod_ip: str,
    node_name: str,
    translate: Callable[[str], str],
    host_ip: str,
) -> str | None:
    if "value" in var:
        return translate(expand(var["value"], env.get))
    source = var.get("valueFrom")
    if source is None:
        return None
    if "secretKeyRef" in source:
        return _key_value("Secret", source["secretKeyRef"], namespace, secrets)
    if "configMapKeyRef" in source:
        return _key_value("ConfigMap", source["configMapKeyRef"], namespace, config_maps)
    if "fieldRef" in source:
        return field_ref_value(pod, source["fieldRef"], pod_ip, node_name, host_ip)
    raise ContainerConfigError(f"unsupported valueFrom for {var['name']}: {sorted(source)}")


def expand_command(words: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """``command``/``args`` with ``$(NAME)`` expanded against the container's env."""
    return [expand(word, env.get) for word in words]


def referenced_objects(pod: Pod) -> tuple[set[str], set[str]]:
    """Names of the Secrets and ConfigMaps the pod's containers and volumes refer to."""
    secrets: set[str] = set()
    config_maps: set[str] = set()
    spec = pod.get("spec", {})
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                secrets.add(source["secretRef"].get("name", ""))
            if "configMapRef" in source:
                config_maps.add(source["configMapRef"].get("name", ""))
        for var in container.get("env", []):
            value_from = var.get("valueFrom", {})
            if "secretKeyRef" in value_from:
                secrets.add(value_from["secretKeyRef"].get("name", ""))
            if "configMapKeyRef" in value_from:
                config_maps.add(value_from["configMapKeyRef"].get("name", ""))
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            secrets.add(volume["secret"].get("secretName", ""))
        if "configMap" in volume:
            config_maps.add(volume["configMap"].get("name", ""))
    return secrets, config_maps
