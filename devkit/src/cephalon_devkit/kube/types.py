"""Raw API payload shapes (``TypedDict``), as the Kubernetes API serializes them.

Objects themselves stay plain ``dict[str, Any]`` (:data:`KubeObject`): the emulator
stores arbitrary kinds, and a schema per kind would only restate the API reference.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

KubeObject = dict[str, Any]
"""One stored object (``apiVersion``, ``kind``, ``metadata``, ...), JSON-compatible."""

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]


class StatusCause(TypedDict, total=False):
    reason: str
    message: str
    field: str


class StatusDetails(TypedDict, total=False):
    name: str
    group: str
    kind: str
    uid: str
    causes: list[StatusCause]
    retryAfterSeconds: int


class StatusBody(TypedDict):
    kind: Literal["Status"]
    apiVersion: Literal["v1"]
    metadata: dict[str, Any]
    status: Literal["Success", "Failure"]
    message: str
    reason: str
    code: int
    details: NotRequired[StatusDetails]


class WatchEvent(TypedDict):
    type: EventType
    object: KubeObject


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str
    controller: bool
    blockOwnerDeletion: bool


class DeleteOptions(TypedDict, total=False):
    kind: str
    apiVersion: str
    gracePeriodSeconds: int
    propagationPolicy: Literal["Orphan", "Background", "Foreground"]
    preconditions: dict[str, str]
    dryRun: list[str]


class PrinterColumn(TypedDict, total=False):
    name: str
    type: str
    format: str
    description: str
    priority: int
    jsonPath: str
