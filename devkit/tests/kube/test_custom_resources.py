"""CRDs at run time: discovery, OpenAPI, schema validation (422 with the API server's
field-path messages), defaulting, pruning, ``x-kubernetes-preserve-unknown-fields``,
the CEL transition rules our CRDs use, and field validation directives
(https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/)."""

from __future__ import annotations

from .conftest import AS_PATH, PT_PATH, Http, session_body

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


async def test_crd_becomes_servable_when_created(http: Http) -> None:
    groups = await http.ok("GET", "/apis")
    assert "cephalon.dev" not in [g["name"] for g in groups["groups"]]
    assert (await http.get(AS_PATH)).status == 404
    from .conftest import load_crds

    for crd in load_crds():
        created = await http.ok("POST", CRDS, crd)
        conditions = {c["type"]: c["status"] for c in created["status"]["conditions"]}
        assert conditions == {"NamesAccepted": "True", "Established": "True"}
        assert created["status"]["storedVersions"] == ["v1alpha1"]
    groups = await http.ok("GET", "/apis")
    entry = next(g for g in groups["groups"] if g["name"] == "cephalon.dev")
    assert entry["preferredVersion"] == {
        "groupVersion": "cephalon.dev/v1alpha1",
        "version": "v1alpha1",
    }
    resources = await http.ok("GET", "/apis/cephalon.dev/v1alpha1")
    by_name = {r["name"]: r for r in resources["resources"]}
    assert by_name["agentsessions"]["shortNames"] == ["as"]
    assert by_name["agentsessions"]["namespaced"] is True
    assert by_name["providertenants"]["namespaced"] is False
    assert by_name["agentsessions/status"]["verbs"] == ["get", "patch", "update"]
    assert (await http.ok("GET", AS_PATH))["items"] == []


async def test_openapi_v3_advertises_field_validation(http: Http, crds: object) -> None:
    root = await http.ok("GET", "/openapi/v3")
    url = root["paths"]["apis/cephalon.dev/v1alpha1"]["serverRelativeURL"]
    document = await http.ok("GET", url)
    item = document["paths"][
        "/apis/cephalon.dev/v1alpha1/namespaces/{namespace}/agentsessions/{name}"
    ]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "cephalon.dev",
        "version": "v1alpha1",
        "kind": "AgentSession",
    }
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    schema = document["components"]["schemas"]["dev.cephalon.v1alpha1.AgentSession"]
    assert schema["properties"]["spec"]["required"] == [
        "provider",
        "tenant",
        "owner",
        "conversation",
    ]
    core = await http.ok("GET", root["paths"]["api/v1"]["serverRelativeURL"])
    pod_patch = core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in pod_patch["requestBody"]["content"]


async def test_schema_errors_are_422_with_field_paths(http: Http, crds: object) -> None:
    body = session_body("bad", tenant="Duck")
    del body["spec"]["owner"]
    reply = await http.post(AS_PATH, body)
    assert reply.status == 422
    assert reply.body["reason"] == "Invalid"
    assert reply.body["message"] == (
        'AgentSession.cephalon.dev "bad" is invalid: [spec.owner: Required value,'
        ' spec.tenant: Invalid value: "Duck": spec.tenant in body should match'
        " '^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$']"
    )
    causes = reply.body["details"]["causes"]
    assert [(c["field"], c["reason"]) for c in causes] == [
        ("spec.owner", "FieldValueRequired"),
        ("spec.tenant", "FieldValueInvalid"),
    ]
    assert reply.body["details"]["kind"] == "AgentSession"
    assert reply.body["details"]["group"] == "cephalon.dev"


async def test_defaulting_and_pruning(http: Http, crds: object) -> None:
    body = session_body(lifecycle={}, workspace={"storage": {}}, extra="pruned")
    created = await http.post(AS_PATH, body)
    assert created.status == 201
    assert created.body["spec"]["lifecycle"] == {"state": "Running"}
    assert created.body["spec"]["workspace"]["storage"] == {"size": "1Gi"}
    assert "extra" not in created.body["spec"]
    assert created.headers.getall("Warning") == ['299 - "unknown field \\"spec.extra\\""']
    status = await http.ok(
        "PATCH",
        f"{AS_PATH}/s1/status",
        {"status": {"kopf": {"progress": {"h": {"retries": 1}}}, "junk": 1}},
        content_type="application/merge-patch+json",
    )
    assert status["status"]["kopf"] == {"progress": {"h": {"retries": 1}}}  # preserved
    assert "junk" not in status["status"]
    assert status["status"]["phase"] == "Pending"  # defaulted


async def test_strict_field_validation_rejects_unknown_fields(http: Http, crds: object) -> None:
    reply = await http.post(AS_PATH, session_body(extra=1), params={"fieldValidation": "Strict"})
    assert reply.status == 400
    assert reply.body["message"] == (
        'AgentSession in version "v1alpha1" cannot be handled as a AgentSession:'
        ' strict decoding error: unknown field "spec.extra"'
    )
    ignored = await http.post(AS_PATH, session_body(extra=1), params={"fieldValidation": "Ignore"})
    assert ignored.status == 201 and "Warning" not in ignored.headers
    cm = await http.post(
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "c"}, "datum": {}},
        params={"fieldValidation": "Strict"},
    )
    assert cm.status == 400 and 'unknown field "datum"' in cm.body["message"]


async def test_cel_immutability_rule(http: Http, crds: object) -> None:
    await http.ok("POST", AS_PATH, session_body())
    reply = await http.patch(f"{AS_PATH}/s1", {"spec": {"tenant": "goose"}})
    assert reply.status == 422
    assert reply.body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "string": field is immutable',
            "field": "spec.tenant",
        }
    ]
    assert (await http.patch(f"{AS_PATH}/s1", {"spec": {"owner": {"name": "bob"}}})).status == 200


async def test_cluster_scoped_custom_resource(http: Http, crds: object) -> None:
    body = {
        "apiVersion": "cephalon.dev/v1alpha1",
        "kind": "ProviderTenant",
        "metadata": {"name": "discord-duck"},
        "spec": {
            "provider": "discord",
            "tenant": "duck",
            "credentialsSecretRef": {"name": "creds"},
            "models": {"default": "m"},
        },
    }
    created = await http.ok("POST", PT_PATH, body)
    assert "namespace" not in created["metadata"]
    assert created["spec"]["credentialsSecretRef"]["botTokenKey"] == "bot-token"
    namespaced = await http.post(
        "/apis/cephalon.dev/v1alpha1/namespaces/default/providertenants", body
    )
    assert namespaced.status == 404


async def test_wrong_kind_or_version_in_body_is_bad_request(http: Http, crds: object) -> None:
    body = session_body()
    body["apiVersion"] = "cephalon.dev/v9"
    assert (await http.post(AS_PATH, body)).status == 400
    body = session_body()
    body["kind"] = "ProviderTenant"
    assert (await http.post(AS_PATH, body)).status == 400


async def test_tables_use_printer_columns(http: Http, crds: object) -> None:
    await http.ok("POST", AS_PATH, session_body())
    await http.ok(
        "PATCH",
        f"{AS_PATH}/s1/status",
        {
            "status": {
                "phase": "Ready",
                "progress": {"step": "cloning"},
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Up",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        },
        content_type="application/merge-patch+json",
    )
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = await http.ok("GET", AS_PATH, headers={"Accept": accept})
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Tenant",
        "Owner",
        "Phase",
        "Ready",
        "Step",
        "Age",
    ]
    cells = table["rows"][0]["cells"]
    assert cells[:6] == ["s1", "duck", "alice", "Ready", "True", "cloning"]
    assert cells[6].endswith("s")
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def test_crd_removal_ends_watches(http: Http, crds: object) -> None:
    import asyncio

    crd = f"{CRDS}/agentsessions.cephalon.dev"

    async def remove_crd() -> None:
        await asyncio.sleep(0.2)
        await http.ok("DELETE", crd)

    remover = asyncio.create_task(remove_crd())
    events = await http.watch(AS_PATH, {"timeoutSeconds": "20"}, until=lambda e: False, timeout=10)
    await remover
    assert events == []  # the stream ended (not timed out) when the resource went away
