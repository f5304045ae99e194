"""Raw Kubernetes API payloads the executor reads and writes, as ``TypedDict``.

Only the fields the executor looks at are declared; everything else in a payload is
carried through untouched. Names follow the API (camelCase) so that a payload can be
read straight from JSON.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

JsonObject = dict[str, Any]


class OwnerReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    uid: str


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    finalizers: list[str]
    ownerReferences: list[OwnerReference]


class KeySelector(TypedDict, total=False):
    name: str
    key: str
    optional: bool


class ObjectFieldSelector(TypedDict, total=False):
    apiVersion: str
    fieldPath: str


class ResourceFieldSelector(TypedDict, total=False):
    containerName: str
    resource: str
    divisor: str


class EnvVarSource(TypedDict, total=False):
    secretKeyRef: KeySelector
    configMapKeyRef: KeySelector
    fieldRef: ObjectFieldSelector
    resourceFieldRef: ResourceFieldSelector


class EnvVar(TypedDict):
    name: str
    value: NotRequired[str]
    valueFrom: NotRequired[EnvVarSource]


class NameRef(TypedDict, total=False):
    name: str
    optional: bool


class EnvFromSource(TypedDict, total=False):
    prefix: str
    secretRef: NameRef
    configMapRef: NameRef


class HTTPHeader(TypedDict):
    name: str
    value: str


class HTTPGetAction(TypedDict, total=False):
    path: str
    port: int | str
    host: str
    scheme: Literal["HTTP", "HTTPS"]
    httpHeaders: list[HTTPHeader]


class ExecAction(TypedDict, total=False):
    command: list[str]


class TCPSocketAction(TypedDict, total=False):
    port: int | str
    host: str


class Probe(TypedDict, total=False):
    httpGet: HTTPGetAction
    exec: ExecAction
    tcpSocket: TCPSocketAction
    grpc: JsonObject
    initialDelaySeconds: int
    periodSeconds: int
    timeoutSeconds: int
    successThreshold: int
    failureThreshold: int
    terminationGracePeriodSeconds: int


class ContainerPort(TypedDict, total=False):
    name: str
    containerPort: int
    protocol: str
    hostPort: int


class VolumeMount(TypedDict, total=False):
    name: str
    mountPath: str
    readOnly: bool
    subPath: str
    subPathExpr: str
    mountPropagation: str


class Container(TypedDict, total=False):
    name: str
    image: str
    command: list[str]
    args: list[str]
    workingDir: str
    env: list[EnvVar]
    envFrom: list[EnvFromSource]
    ports: list[ContainerPort]
    volumeMounts: list[VolumeMount]
    volumeDevices: list[JsonObject]
    readinessProbe: Probe
    livenessProbe: Probe
    startupProbe: Probe
    lifecycle: JsonObject
    resources: JsonObject
    securityContext: JsonObject
    restartPolicy: str
    stdin: bool
    tty: bool


class KeyToPath(TypedDict, total=False):
    key: str
    path: str
    mode: int


class SecretVolumeSource(TypedDict, total=False):
    secretName: str
    items: list[KeyToPath]
    defaultMode: int
    optional: bool


class ConfigMapVolumeSource(TypedDict, total=False):
    name: str
    items: list[KeyToPath]
    defaultMode: int
    optional: bool


class EmptyDirVolumeSource(TypedDict, total=False):
    medium: str
    sizeLimit: str


class PersistentVolumeClaimVolumeSource(TypedDict, total=False):
    claimName: str
    readOnly: bool


class Volume(TypedDict, total=False):
    name: str
    emptyDir: EmptyDirVolumeSource
    secret: SecretVolumeSource
    configMap: ConfigMapVolumeSource
    persistentVolumeClaim: PersistentVolumeClaimVolumeSource
    hostPath: JsonObject
    projected: JsonObject
    downwardAPI: JsonObject
    ephemeral: JsonObject


class PodSpec(TypedDict, total=False):
    containers: list[Container]
    initContainers: list[Container]
    ephemeralContainers: list[JsonObject]
    volumes: list[Volume]
    restartPolicy: Literal["Always", "OnFailure", "Never"]
    terminationGracePeriodSeconds: int
    activeDeadlineSeconds: int
    nodeName: str
    hostPID: bool
    hostIPC: bool
    shareProcessNamespace: bool
    readinessGates: list[JsonObject]
    serviceAccountName: str
    automountServiceAccountToken: bool


class ContainerStateWaiting(TypedDict, total=False):
    reason: str
    message: str


class ContainerStateRunning(TypedDict, total=False):
    startedAt: str


class ContainerStateTerminated(TypedDict, total=False):
    exitCode: int
    signal: int
    reason: str
    message: str
    startedAt: str
    finishedAt: str
    containerID: str


class ContainerState(TypedDict, total=False):
    waiting: ContainerStateWaiting
    running: ContainerStateRunning
    terminated: ContainerStateTerminated


class ContainerStatus(TypedDict, total=False):
    name: str
    image: str
    imageID: str
    containerID: str
    ready: bool
    started: bool
    restartCount: int
    state: ContainerState
    lastState: ContainerState


class PodCondition(TypedDict, total=False):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str
    lastProbeTime: str | None
    lastTransitionTime: str


class PodIP(TypedDict):
    ip: str


PodPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"]


class PodStatus(TypedDict, total=False):
    phase: PodPhase
    reason: str
    message: str
    conditions: list[PodCondition]
    hostIP: str
    hostIPs: list[PodIP]
    podIP: str
    podIPs: list[PodIP]
    startTime: str
    qosClass: str
    containerStatuses: list[ContainerStatus]
    initContainerStatuses: list[ContainerStatus]


class Pod(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: PodSpec
    status: PodStatus


class Secret(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    data: dict[str, str]
    stringData: dict[str, str]
    type: str


class ConfigMap(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    data: dict[str, str]
    binaryData: dict[str, str]


class ObjectReference(TypedDict, total=False):
    apiVersion: str
    kind: str
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    fieldPath: str


class EventSource(TypedDict, total=False):
    component: str
    host: str


class Event(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta
    involvedObject: ObjectReference
    reason: str
    message: str
    type: Literal["Normal", "Warning"]
    source: EventSource
    firstTimestamp: str
    lastTimestamp: str
    eventTime: str | None
    count: int
    reportingComponent: str
    reportingInstance: str
    action: str


class WatchEvent(TypedDict):
    type: Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]
    object: JsonObject


class ListMeta(TypedDict, total=False):
    resourceVersion: str
    # ``continue`` is a Python keyword, so it is read with ``.get("continue")``.


class PodList(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ListMeta
    items: list[Pod]
