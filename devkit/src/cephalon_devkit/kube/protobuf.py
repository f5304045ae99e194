"""Protobuf request bodies for the few built-in kinds kubectl's generators send.

``kubectl create namespace|configmap|secret|serviceaccount`` use client-go's typed
clientset, which since Kubernetes 1.30 encodes bodies as protobuf
(``application/vnd.kubernetes.protobuf``) and does not fall back to JSON on a 415.
This decodes the ``k8s\\x00`` envelope (``runtime.Unknown``) and those kinds' messages
with their field numbers from ``k8s.io/api`` ``generated.proto``; anything else is
still refused with 415, naming the kind. Empty scalars are dropped, as JSON's
``omitempty`` would.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeAlias

from .errors import BadRequest, UnsupportedMediaType
from .types import KubeObject

MAGIC = b"k8s\x00"

Kind: TypeAlias = "str | tuple[str, Schema]"
Schema: TypeAlias = "Mapping[int, tuple[str, Kind]]"

_TIME: Schema = {1: ("seconds", "int"), 2: ("nanos", "int")}
_OWNER_REFERENCE: Schema = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
_OBJECT_META: Schema = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    8: ("creationTimestamp", "time"),
    11: ("labels", "map_string"),
    12: ("annotations", "map_string"),
    13: ("ownerReferences", ("repeated", _OWNER_REFERENCE)),
    14: ("finalizers", "repeated_string"),
}
_REFERENCE: Schema = {
    1: ("kind", "string"),
    2: ("namespace", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
}
_KINDS: dict[tuple[str, str], Schema] = {
    ("v1", "Namespace"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("spec", ("message", {1: ("finalizers", "repeated_string")})),
    },
    ("v1", "ConfigMap"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("data", "map_string"),
        3: ("binaryData", "map_bytes"),
        4: ("immutable", "bool"),
    },
    ("v1", "Secret"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("data", "map_bytes"),
        3: ("type", "string"),
        4: ("stringData", "map_string"),
        5: ("immutable", "bool"),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", ("message", _OBJECT_META)),
        2: ("secrets", ("repeated", _REFERENCE)),
        3: ("imagePullSecrets", ("repeated", {1: ("name", "string")})),
        4: ("automountServiceAccountToken", "bool"),
    },
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise BadRequest("protobuf: truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs; length-delimited values stay bytes."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            fields.append((number, value))
        elif wire == 2:
            length, pos = _varint(data, pos)
            fields.append((number, data[pos : pos + length]))
            pos += length
        elif wire == 1:
            fields.append((number, int.from_bytes(data[pos : pos + 8], "little")))
            pos += 8
        elif wire == 5:
            fields.append((number, int.from_bytes(data[pos : pos + 4], "little")))
            pos += 4
        else:
            raise BadRequest(f"protobuf: unsupported wire type {wire}")
    return fields


def _message(data: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _fields(data):
        if number not in schema:
            continue  # a field this emulator does not model; JSON would carry it
        name, kind = schema[number]
        if kind == "string" and isinstance(value, bytes):
            if value:
                out[name] = value.decode()
        elif kind == "int" and isinstance(value, int):
            if value:
                out[name] = value
        elif kind == "bool" and isinstance(value, int):
            if value:
                out[name] = True
        elif kind == "time" and isinstance(value, bytes):
            seconds = _message(value, _TIME).get("seconds", 0)
            if seconds:
                moment = datetime.fromtimestamp(seconds, UTC)
                out[name] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif kind == "repeated_string" and isinstance(value, bytes):
            out.setdefault(name, []).append(value.decode())
        elif kind in ("map_string", "map_bytes") and isinstance(value, bytes):
            entry = dict(_fields(value))
            key, item = entry.get(1, b""), entry.get(2, b"")
            assert isinstance(key, bytes) and isinstance(item, bytes)
            rendered = item.decode() if kind == "map_string" else base64.b64encode(item).decode()
            out.setdefault(name, {})[key.decode()] = rendered
        elif isinstance(kind, tuple) and isinstance(value, bytes):
            shape, inner = kind
            decoded = _message(value, inner)
            if shape == "repeated":
                out.setdefault(name, []).append(decoded)
            elif decoded:
                out[name] = decoded
    return out


def decode(raw: bytes) -> KubeObject:
    """A JSON-shaped object from a ``k8s\\x00``-framed protobuf body."""
    if not raw.startswith(MAGIC):
        raise BadRequest("protobuf body without the k8s envelope")
    envelope = dict(_fields(raw[len(MAGIC) :]))
    type_meta = envelope.get(1, b"")
    payload = envelope.get(2, b"")
    if not isinstance(type_meta, bytes) or not isinstance(payload, bytes):
        raise BadRequest("protobuf: malformed runtime.Unknown envelope")
    meta = {n: v for n, v in _fields(type_meta)}
    api_version = meta.get(1, b"")
    kind = meta.get(2, b"")
    assert isinstance(api_version, bytes) and isinstance(kind, bytes)
    key = (api_version.decode(), kind.decode())
    schema = _KINDS.get(key)
    if schema is None:
        raise UnsupportedMediaType(
            f"the emulator decodes protobuf only for {', '.join(k for _, k in sorted(_KINDS))};"
            f" send {key[1]} as application/json (e.g. kubectl apply -f)"
        )
    obj = _message(payload, schema)
    return {"apiVersion": key[0], "kind": key[1], **obj}
