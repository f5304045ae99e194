"""Patch formats: RFC 6902 JSON patch (``test`` → 422), RFC 7386 merge patch, and
strategic merge patch for built-in kinds (merge keys as in the Go struct tags)."""

from __future__ import annotations

import pytest

from cephalon_devkit.kube.errors import BadRequest, Invalid
from cephalon_devkit.kube.patching import (
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)

from .conftest import AS_PATH, Http, pod_body, session_body

PODS = "/api/v1/namespaces/default/pods"


def test_json_patch_operations() -> None:
    doc = {"a": {"b": [1, 2]}, "c": "x"}
    out = apply_json_patch(
        doc,
        [
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/e"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/e", "value": "y"},
            {"op": "add", "path": "/k~1v", "value": 1},
        ],
    )
    assert out == {"a": {"b": [2, 3]}, "c": "y", "e": "y", "k/v": 1}
    assert doc == {"a": {"b": [1, 2]}, "c": "x"}  # atomic: the input is untouched


def test_json_patch_failures_are_422_or_400() -> None:
    with pytest.raises(Invalid) as failed:
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert failed.value.code == 422
    assert failed.value.message == "the server rejected our request due to an error in our request"
    with pytest.raises(Invalid):
        apply_json_patch({"a": 1}, [{"op": "remove", "path": "/missing"}])
    with pytest.raises(BadRequest):
        apply_json_patch({"a": 1}, {"op": "add"})
    with pytest.raises(BadRequest):
        apply_json_patch({"a": 1}, [{"op": "frobnicate", "path": "/a"}])


def test_merge_patch_null_deletes_and_lists_replace() -> None:
    out = apply_merge_patch(
        {"a": {"b": 1, "c": 2}, "l": [1, 2]}, {"a": {"b": None, "d": 3}, "l": [9]}
    )
    assert out == {"a": {"c": 2, "d": 3}, "l": [9]}


def test_strategic_merge_lists_by_name() -> None:
    pod = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "x",
                    "env": [{"name": "E1", "value": "1"}],
                    "ports": [{"containerPort": 80, "name": "http"}],
                },
                {"name": "b", "image": "y"},
            ],
            "volumes": [{"name": "v1", "emptyDir": {}}],
            "tolerations": [{"key": "k1"}],
        },
        "metadata": {"finalizers": ["f1"]},
    }
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "env": [{"name": "E2", "value": "2"}, {"name": "E1", "value": "one"}],
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                },
                {"name": "b", "$patch": "delete"},
                {"name": "c", "image": "z"},
            ],
            "volumes": [{"name": "v2", "secret": {"secretName": "s"}}],
            "tolerations": [{"key": "k2"}],
        },
        "metadata": {"finalizers": ["f2"]},
    }
    out = apply_strategic_merge_patch(pod, patch)
    containers = out["spec"]["containers"]
    assert [c["name"] for c in containers] == ["a", "c"]
    assert containers[0]["image"] == "x"
    assert containers[0]["env"] == [{"name": "E1", "value": "one"}, {"name": "E2", "value": "2"}]
    assert containers[0]["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}]
    assert [v["name"] for v in out["spec"]["volumes"]] == ["v1", "v2"]
    assert out["spec"]["tolerations"] == [{"key": "k2"}]  # no merge key: replaced
    assert out["metadata"]["finalizers"] == ["f1", "f2"]  # merged primitive list


def test_strategic_merge_directives() -> None:
    base = {
        "spec": {
            "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}],
            "template": {"x": 1, "y": 2},
        }
    }
    out = apply_strategic_merge_patch(
        base,
        {
            "spec": {
                "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                "containers": [{"name": "a", "image": "x2"}],
                "template": {"$patch": "replace", "z": 3},
            }
        },
    )
    assert [c["name"] for c in out["spec"]["containers"]] == ["b", "a"]
    assert out["spec"]["containers"][1]["image"] == "x2"
    assert out["spec"]["template"] == {"z": 3}
    out = apply_strategic_merge_patch(
        {"m": {"a": 1, "b": 2}}, {"m": {"$retainKeys": ["b"], "b": 3}}
    )
    assert out == {"m": {"b": 3}}


async def test_http_patch_types(http: Http, crds: object) -> None:
    await http.ok("POST", PODS, pod_body("p"))
    deployments = "/apis/apps/v1/namespaces/default/deployments"
    template = {"spec": pod_body("t")["spec"]}
    await http.ok("POST", deployments, {"metadata": {"name": "d"}, "spec": {"template": template}})
    env = [{"name": "B", "value": "2"}]
    patched = await http.ok(
        "PATCH",
        f"{deployments}/d",
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "env": env}]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    assert patched["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]
    assert patched["metadata"]["generation"] == 2
    reply = await http.patch(
        f"{PODS}/p", [{"op": "test", "path": "/metadata/name", "value": "q"}], kind="json"
    )
    assert reply.status == 422 and reply.body["reason"] == "Invalid"
    await http.ok("POST", AS_PATH, session_body())
    reply = await http.patch(f"{AS_PATH}/s1", {"spec": {}}, kind="strategic")
    assert reply.status == 415 and reply.body["reason"] == "UnsupportedMediaType"
    reply = await http.request("PATCH", f"{AS_PATH}/s1", {"spec": {}}, content_type="text/plain")
    assert reply.status == 415
    current = await http.ok("GET", f"{AS_PATH}/s1")
    rv = current["metadata"]["resourceVersion"]
    ok = await http.patch(
        f"{AS_PATH}/s1",
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
        ],
        kind="json",
    )
    assert ok.status == 200 and ok.body["metadata"]["finalizers"] == ["x/y"]
    stale = await http.patch(
        f"{AS_PATH}/s1",
        [
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "remove", "path": "/metadata/finalizers"},
        ],
        kind="json",
    )
    assert stale.status == 422


async def test_apply_patch_creates_and_updates(http: Http) -> None:
    cm = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    created = await http.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/applied",
        cm,
        content_type="application/apply-patch+yaml",
        params={"fieldManager": "t"},
    )
    assert created.status == 201 and created.body["data"] == {"a": "1"}
    updated = await http.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/applied",
        cm.replace(b"'1'", b"'2'"),
        content_type="application/apply-patch+yaml",
        params={"fieldManager": "t"},
    )
    assert updated.status == 200 and updated.body["data"] == {"a": "2"}
