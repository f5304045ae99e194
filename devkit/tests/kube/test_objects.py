"""Object lifecycle conformance: server-set metadata, optimistic concurrency, dry runs,
and Status bodies — compared with the API conventions
(https://kubernetes.io/docs/reference/using-api/api-concepts/)."""

from __future__ import annotations

import re

from cephalon_devkit.testing.kube import KubeApiHandle

from .conftest import AS_PATH, Http, pod_body, session_body

PODS = "/api/v1/namespaces/default/pods"
CMS = "/api/v1/namespaces/default/configmaps"


async def test_server_sets_uid_timestamp_generation_and_version(http: Http) -> None:
    body = pod_body()
    body["metadata"].update(
        uid="forged", resourceVersion="5", creationTimestamp="2000-01-01T00:00:00Z"
    )
    created = await http.ok("POST", PODS, body)
    meta = created["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert meta["creationTimestamp"] != "2000-01-01T00:00:00Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 5
    assert created["status"]["phase"] == "Pending"


async def test_generate_name_appends_five_random_characters(http: Http) -> None:
    body = {"metadata": {"generateName": "job-"}, "data": {"a": "b"}}
    first = await http.ok("POST", CMS, body)
    second = await http.ok("POST", CMS, body)
    assert re.fullmatch(r"job-[bcdfghjklmnpqrstvwxz2456789]{5}", first["metadata"]["name"])
    assert first["metadata"]["name"] != second["metadata"]["name"]


async def test_one_monotonic_resource_version_across_resources(http: Http) -> None:
    versions = []
    for i in range(3):
        cm = await http.ok("POST", CMS, {"metadata": {"name": f"cm{i}"}})
        pod = await http.ok("POST", PODS, pod_body(f"p{i}"))
        versions += [
            int(cm["metadata"]["resourceVersion"]),
            int(pod["metadata"]["resourceVersion"]),
        ]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    listed = await http.ok("GET", CMS)
    assert int(listed["metadata"]["resourceVersion"]) >= versions[-1]


async def test_generation_bumps_on_spec_changes_only(http: Http, crds: object) -> None:
    created = await http.ok("POST", AS_PATH, session_body())
    assert created["metadata"]["generation"] == 1
    labelled = await http.ok(
        "PATCH",
        f"{AS_PATH}/s1",
        {"metadata": {"labels": {"x": "y"}}},
        content_type="application/merge-patch+json",
    )
    assert labelled["metadata"]["generation"] == 1
    status = await http.ok(
        "PATCH",
        f"{AS_PATH}/s1/status",
        {"status": {"phase": "Ready"}},
        content_type="application/merge-patch+json",
    )
    assert status["metadata"]["generation"] == 1
    changed = await http.ok(
        "PATCH",
        f"{AS_PATH}/s1",
        {"spec": {"owner": {"name": "bob"}}},
        content_type="application/merge-patch+json",
    )
    assert changed["metadata"]["generation"] == 2


async def test_noop_write_keeps_resource_version(http: Http) -> None:
    created = await http.ok("POST", CMS, {"metadata": {"name": "same"}, "data": {"a": "1"}})
    again = await http.ok(
        "PATCH", f"{CMS}/same", {"data": {"a": "1"}}, content_type="application/merge-patch+json"
    )
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_already_exists_is_409_with_status_body(http: Http) -> None:
    await http.ok("POST", CMS, {"metadata": {"name": "dup"}})
    reply = await http.post(CMS, {"metadata": {"name": "dup"}})
    assert reply.status == 409
    assert reply.body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'configmaps "dup" already exists',
        "reason": "AlreadyExists",
        "details": {"name": "dup", "kind": "configmaps"},
        "code": 409,
    }


async def test_not_found_names_the_group_resource(http: Http, crds: object) -> None:
    reply = await http.get(f"{AS_PATH}/nope")
    assert reply.status == 404
    assert reply.body["reason"] == "NotFound"
    assert reply.body["message"] == 'agentsessions.cephalon.dev "nope" not found'
    assert reply.body["details"] == {
        "name": "nope",
        "group": "cephalon.dev",
        "kind": "agentsessions",
    }
    assert reply.headers["Content-Type"].startswith("application/json")


async def test_stale_resource_version_conflicts_on_put_and_patch(http: Http) -> None:
    created = await http.ok("POST", CMS, {"metadata": {"name": "c"}, "data": {"v": "1"}})
    stale = created["metadata"]["resourceVersion"]
    updated = await http.ok("PUT", f"{CMS}/c", {**created, "data": {"v": "2"}})
    assert updated["metadata"]["resourceVersion"] != stale
    reply = await http.put(f"{CMS}/c", {**created, "data": {"v": "3"}})
    assert reply.status == 409
    assert reply.body["reason"] == "Conflict"
    assert "the object has been modified" in reply.body["message"]
    reply = await http.patch(
        f"{CMS}/c", {"metadata": {"resourceVersion": stale}, "data": {"v": "4"}}
    )
    assert reply.status == 409 and reply.body["reason"] == "Conflict"
    # A patch without a resourceVersion is unconditional.
    assert (await http.patch(f"{CMS}/c", {"data": {"v": "5"}})).status == 200
    assert (await http.ok("GET", f"{CMS}/c"))["data"] == {"v": "5"}


async def test_put_name_mismatch_is_bad_request(http: Http) -> None:
    await http.ok("POST", CMS, {"metadata": {"name": "a"}})
    reply = await http.put(f"{CMS}/a", {"metadata": {"name": "b"}})
    assert reply.status == 400 and reply.body["reason"] == "BadRequest"


async def test_dry_run_all_validates_without_storing(http: Http) -> None:
    dry = {"dryRun": "All"}
    created = await http.ok("POST", CMS, {"metadata": {"name": "d"}}, params=dry)
    assert created["metadata"]["name"] == "d"
    assert (await http.get(f"{CMS}/d")).status == 404
    invalid = await http.post(CMS, {"metadata": {"name": "Not_Valid"}}, params=dry)
    assert invalid.status == 422
    real = await http.ok("POST", CMS, {"metadata": {"name": "d"}, "data": {"a": "1"}})
    rv = real["metadata"]["resourceVersion"]
    await http.ok(
        "PATCH",
        f"{CMS}/d",
        {"data": {"a": "2"}},
        params=dry,
        content_type="application/merge-patch+json",
    )
    await http.ok("PUT", f"{CMS}/d", {**real, "data": {"a": "3"}}, params=dry)
    await http.ok("DELETE", f"{CMS}/d", params=dry)
    kept = await http.ok("GET", f"{CMS}/d")
    assert kept["data"] == {"a": "1"} and kept["metadata"]["resourceVersion"] == rv


async def test_missing_namespace_is_404_and_terminating_is_403(http: Http) -> None:
    reply = await http.post("/api/v1/namespaces/ghost/configmaps", {"metadata": {"name": "x"}})
    assert reply.status == 404
    assert reply.body["message"] == 'namespaces "ghost" not found'
    await http.ok("POST", "/api/v1/namespaces", {"metadata": {"name": "doomed"}})
    await http.ok("POST", "/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "x"}})
    await http.ok("DELETE", "/api/v1/namespaces/doomed")
    reply = await http.post("/api/v1/namespaces/doomed/configmaps", {"metadata": {"name": "y"}})
    # Either still terminating (403) or already gone (404): never accepted.
    assert reply.status in (403, 404), reply


async def test_invalid_name_and_labels_are_422_with_causes(http: Http) -> None:
    reply = await http.post(CMS, {"metadata": {"name": "Bad_Name", "labels": {"a": "no spaces"}}})
    assert reply.status == 422
    body = reply.body
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: [metadata.name: Invalid value: "Bad_Name"'
    )
    fields = [c["field"] for c in body["details"]["causes"]]
    assert fields == ["metadata.name", "metadata.labels"]


async def test_pod_needs_containers_and_images(http: Http) -> None:
    reply = await http.post(
        PODS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    )
    assert reply.status == 422
    assert reply.body["details"]["causes"][0]["field"] == "spec.containers[0].image"


async def test_secret_string_data_is_encoded_into_data(http: Http) -> None:
    secret = await http.ok(
        "POST",
        "/api/v1/namespaces/default/secrets",
        {"metadata": {"name": "s"}, "stringData": {"token": "abc"}},
    )
    assert secret["data"] == {"token": "YWJj"} and "stringData" not in secret
    assert secret["type"] == "Opaque"


async def test_list_pagination_with_limit_and_continue(http: Http) -> None:
    for i in range(5):
        await http.ok("POST", CMS, {"metadata": {"name": f"page{i}"}})
    names: list[str] = []
    params = {"limit": "2"}
    while True:
        page = await http.ok("GET", CMS, params=params)
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
        params = {"limit": "2", "continue": token}
    assert names == [f"page{i}" for i in range(5)]


async def test_protobuf_bodies_are_unsupported_media_type(http: Http) -> None:
    reply = await http.post(
        CMS, b"k8s\x00\n\x09\n\x02v1\x12\x03Pod", content_type="application/vnd.kubernetes.protobuf"
    )
    assert reply.status == 415 and reply.body["reason"] == "UnsupportedMediaType"


async def test_delete_collection_with_selector(http: Http) -> None:
    for name, app in (("k1", "x"), ("k2", "x"), ("k3", "y")):
        await http.ok("POST", CMS, {"metadata": {"name": name, "labels": {"app": app}}})
    deleted = await http.ok("DELETE", CMS, params={"labelSelector": "app=x"})
    assert [o["metadata"]["name"] for o in deleted["items"]] == ["k1", "k2"]
    left = await http.ok("GET", CMS)
    assert [o["metadata"]["name"] for o in left["items"]] == ["k3"]


def test_threaded_server_for_synchronous_callers(kube_api_threaded: KubeApiHandle) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{kube_api_threaded.url}/api/v1/namespaces/default") as reply:
        assert json.load(reply)["status"]["phase"] == "Active"
    assert kube_api_threaded.kubeconfig_path.read_text().count(kube_api_threaded.url) == 1


async def test_builtin_status_is_reset_on_create(http: Http) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"replicas": 1},
        "status": {"readyReplicas": 5},
    }
    created = await http.ok("POST", "/apis/apps/v1/namespaces/default/deployments", deployment)
    assert "status" not in created and created["metadata"]["generation"] == 1


def test_protobuf_envelope_decoding() -> None:
    from cephalon_devkit.kube.protobuf import decode

    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    meta = field(1, b"cfg") + field(3, b"") + field(11, field(1, b"app") + field(2, b"x"))
    raw_cm = field(1, meta) + field(2, field(1, b"k") + field(2, b"v")) + bytes([4 << 3, 1])
    envelope = field(1, field(1, b"v1") + field(2, b"ConfigMap")) + field(2, raw_cm)
    assert decode(b"k8s\x00" + envelope) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "labels": {"app": "x"}},
        "data": {"k": "v"},
        "immutable": True,
    }


async def test_kinds_the_operator_and_chart_write_are_served(http: Http) -> None:
    for path, body in (
        ("/api/v1/namespaces/default/persistentvolumeclaims", {"spec": {}}),
        ("/api/v1/namespaces/default/limitranges", {"spec": {"limits": []}}),
        ("/api/v1/namespaces/default/resourcequotas", {"spec": {"hard": {"pods": "4"}}}),
        ("/apis/apps/v1/namespaces/default/statefulsets", {"spec": {}}),
        ("/apis/policy/v1/namespaces/default/poddisruptionbudgets", {"spec": {}}),
        ("/apis/rbac.authorization.k8s.io/v1/clusterroles", {"rules": []}),
        (
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            {"roleRef": {"kind": "ClusterRole", "name": "x"}},
        ),
    ):
        created = await http.ok("POST", path, {"metadata": {"name": "x"}, **body})
        assert created["metadata"]["uid"]
    cluster_role = await http.ok("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/x")
    assert "namespace" not in cluster_role["metadata"]


async def test_builtin_immutability_rules(http: Http) -> None:
    pod = await http.ok("POST", PODS, pod_body("imm"))
    image = await http.patch(
        f"{PODS}/imm",
        {"spec": {"containers": [{"name": "main", "image": "python:3.12"}]}},
        kind="strategic",
    )
    assert image.status == 200
    env = await http.patch(
        f"{PODS}/imm",
        {"spec": {"containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}},
        kind="strategic",
    )
    assert env.status == 422
    assert env.body["details"]["causes"][0]["field"] == "spec"
    # A PUT without the server-set defaults is defaulted again, not refused.
    replaced = {**pod_body("imm"), "metadata": {"name": "imm", "labels": {"x": "y"}}}
    replaced["spec"]["containers"][0]["image"] = "python:3.12"
    assert (await http.put(f"{PODS}/imm", replaced)).status == 200
    assert pod["spec"]["restartPolicy"] == "Always"

    cm = await http.ok(
        "POST", CMS, {"metadata": {"name": "frozen"}, "data": {"a": "1"}, "immutable": True}
    )
    frozen = await http.patch(f"{CMS}/frozen", {"data": {"a": "2"}})
    assert frozen.status == 422 and cm["immutable"] is True

    deployments = "/apis/apps/v1/namespaces/default/deployments"
    await http.ok(
        "POST",
        deployments,
        {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}}}},
    )
    moved = await http.patch(
        f"{deployments}/d", {"spec": {"selector": {"matchLabels": {"app": "b"}}}}
    )
    assert moved.status == 422
    assert moved.body["details"]["causes"][0]["field"] == "spec.selector"


async def test_annotations_size_limit(http: Http) -> None:
    reply = await http.post(CMS, {"metadata": {"name": "big", "annotations": {"a": "x" * 262_145}}})
    assert reply.status == 422
    assert reply.body["details"]["causes"][0]["field"] == "metadata.annotations"
