"""OpenAPI 3.1 export: a recorded API becomes a document that validates and says exactly what
the traffic showed (paths with typed ids, query parameters, merged body schemas, responses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import tflow
from openapi_spec_validator import validate
from ruamel.yaml import YAML

from mitmtape.capture.record import flow_to_record
from mitmtape.export.openapi import EXAMPLE_MAX_BYTES
from mitmtape.export.pipeline import ExportOptions, export_session
from mitmtape.importers import import_new_session
from mitmtape.model import Body, FlowRecord
from mitmtape.store import FlowFilter, Store

SAMPLES = Path(__file__).resolve().parents[2] / "sample_captures"
SERVER = "http://127.0.0.1:8080"
ORDER_A = "550e8400-e29b-41d4-a716-446655440000"
ORDER_B = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
JSON_TYPE = ("content-type", "application/json")
FORM_TYPE = ("content-type", "application/x-www-form-urlencoded")
# The secrets the first samples carry, so they appear in the examples unless redacted.
SECRETS = ("hunter2", "tok-s3cr3t", "sid-s3cr3t", "jwt-s3cr3t")


def exchange(
    method: str,
    path: str,
    status: int,
    answer: object,
    body: bytes = b"",
    request_headers: tuple[tuple[str, str], ...] = (),
    response_headers: tuple[tuple[str, str], ...] = (JSON_TYPE,),
) -> http.HTTPFlow:
    """A real mitmproxy flow to the little API on 127.0.0.1:8080."""
    flow = tflow.tflow(resp=True)
    flow.request = http.Request.make(
        method, f"{SERVER}{path}", body, [(b"host", b"127.0.0.1:8080"), *_raw(request_headers)]
    )
    flow.response = http.Response.make(status, json.dumps(answer).encode(), _raw(response_headers))
    return flow


def _raw(headers: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in headers]


def user(uid: int, manager: int | None) -> dict[str, object]:
    return {
        "id": uid,
        "name": f"user {uid}",
        "email": f"u{uid}@example.com",
        "created": "2024-01-02T03:04:05Z",
        "manager": manager,
    }


def little_api() -> list[http.HTTPFlow]:
    """Ids in paths, query strings, JSON in and out, a form POST, two statuses per endpoint."""
    cookie = (JSON_TYPE, ("set-cookie", "sid=sid-s3cr3t; Path=/"), ("x-request-id", "r1"))
    return [
        exchange("GET", "/users/42?verbose=true&page=1", 200, user(42, None),
                 response_headers=cookie),
        exchange("GET", "/users/97?page=2", 200, user(97, 42)),
        exchange("GET", "/users/5", 404, {"error": "no such user"}),
        exchange("GET", f"/users/42/orders/{ORDER_A}", 200,
                 {"items": [{"sku": "a", "price": 3}, {"sku": "b", "price": 2.5}]}),
        exchange("GET", f"/users/42/orders/{ORDER_B}", 404, {"error": "no such order"}),
        exchange("POST", "/users", 201, {"id": 7},
                 json.dumps({"name": "Cy", "password": "hunter2"}).encode(), (JSON_TYPE,)),
        exchange("POST", "/users", 400, {"error": "name taken"},
                 json.dumps({"name": "Cy", "password": "pw-s3cr3t", "tags": ["a"]}).encode(),
                 (JSON_TYPE,)),
        exchange("POST", "/login", 200, {"token": "jwt-s3cr3t"},
                 b"user=ada&password=hunter2&remember=1", (FORM_TYPE,)),
        exchange("POST", "/login", 401, {"error": "bad password"},
                 b"user=bob&password=pw-s3cr3t", (FORM_TYPE,)),
        exchange("GET", "/search?q=tea&access_token=tok-s3cr3t", 200, {"hits": []}),
        exchange("GET", "/search?q=", 400, {"error": "empty query"}),
    ]  # fmt: skip


@pytest.fixture
def recorded(store: Store) -> Store:
    session = store.create_session("little api")
    store.add_flows([flow_to_record(flow, session.id) for flow in little_api()])
    return store


def export(store: Store, tmp_path: Path, name: str = "api.json", **options: object) -> dict:
    result = export_session(
        store, "little api", "openapi", tmp_path / name, ExportOptions(**options)
    )
    text = result.path.read_text(encoding="utf-8")
    document = YAML(typ="safe").load(text) if name.endswith(".yaml") else json.loads(text)
    validate(document)
    return document


def summary(document: dict) -> dict:
    """Each operation as what it declares: parameters, request schemas, response schemas."""
    found = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            found[f"{method.upper()} {path}"] = {
                "path": [(p["name"], p["schema"]) for p in item.get("parameters", [])],
                "query": [
                    (p["name"], p["required"], p["schema"]) for p in operation.get("parameters", [])
                ],
                "body": {
                    m: c["schema"]
                    for m, c in operation.get("requestBody", {}).get("content", {}).items()
                },
                "responses": {
                    status: {m: c["schema"] for m, c in answer.get("content", {}).items()}
                    for status, answer in operation["responses"].items()
                },
            }  # fmt: skip
    return found


def obj(required: list[str], **properties: dict) -> dict:
    return {"type": "object", "properties": properties, "required": required}


STRING, INTEGER = {"type": "string"}, {"type": "integer"}
ERROR = {"application/json": obj(["error"], error=STRING)}
EXPECTED = {
    "POST /login": {
        "path": [],
        "query": [],
        "body": {
            "application/x-www-form-urlencoded": obj(
                ["password", "user"], user=STRING, password=STRING, remember=INTEGER
            )
        },
        "responses": {"200": {"application/json": obj(["token"], token=STRING)}, "401": ERROR},
    },
    "GET /search": {
        "path": [],
        "query": [("q", True, STRING), ("access_token", False, STRING)],
        "body": {},
        "responses": {
            "200": {"application/json": obj(["hits"], hits={"type": "array"})}, "400": ERROR,
        },
    },
    "POST /users": {
        "path": [],
        "query": [],
        "body": {
            "application/json": obj(
                ["name", "password"],
                name=STRING, password=STRING, tags={"type": "array", "items": STRING},
            )
        },
        "responses": {"201": {"application/json": obj(["id"], id=INTEGER)}, "400": ERROR},
    },
    "GET /users/{id}": {
        "path": [("id", INTEGER)],
        "query": [("verbose", False, {"type": "boolean"}), ("page", False, INTEGER)],
        "body": {},
        "responses": {
            "200": {
                "application/json": obj(
                    ["created", "email", "id", "manager", "name"],
                    id=INTEGER,
                    name=STRING,
                    email={"type": "string", "format": "email"},
                    created={"type": "string", "format": "date-time"},
                    manager={"type": ["integer", "null"]},
                )
            },
            "404": ERROR,
        },
    },
    "GET /users/{id}/orders/{id2}": {
        "path": [("id", INTEGER), ("id2", {"type": "string", "format": "uuid"})],
        "query": [],
        "body": {},
        "responses": {
            "200": {
                "application/json": obj(
                    ["items"],
                    items={
                        "type": "array",
                        "items": obj(["price", "sku"], sku=STRING, price={"type": "number"}),
                    },
                )
            },
            "404": ERROR,
        },
    },
}  # fmt: skip


def test_format_is_registered_as_openapi_with_its_file_name(recorded, tmp_path) -> None:
    result = export_session(recorded, "little api", "openapi", tmp_path, ExportOptions())
    assert result.path.name.startswith("little_api_") and result.path.suffix == ".json"
    assert result.path.name.endswith(".openapi.json")
    assert result.format.label == "OpenAPI" and result.artifact is not None
    assert result.format.shared  # the web page ticks redaction for it


def test_recorded_api_becomes_exactly_the_expected_document(recorded, tmp_path) -> None:
    document = export(recorded, tmp_path)
    assert document["openapi"] == "3.1.0"
    assert document["info"]["title"] == "little api"
    assert document["servers"] == [{"url": SERVER}]
    assert summary(document) == EXPECTED


def test_each_operation_counts_its_samples_and_median_duration(recorded, tmp_path) -> None:
    operation = export(recorded, tmp_path)["paths"]["/users/{id}"]["get"]
    samples = [
        r
        for r in _records(recorded)
        if r.request.path.startswith("/users/") and "/orders" not in r.request.path
    ]
    durations = sorted(r.duration_ms for r in samples)
    assert operation["x-mitmtape"] == {"samples": 3, "median_duration_ms": round(durations[1], 1)}


def _records(store: Store) -> list[FlowRecord]:
    session = store.get_session("little api")
    return [r for batch in store.iter_flow_batches(session.id) for r in batch]


def test_examples_and_headers_come_from_a_real_flow(recorded, tmp_path) -> None:
    operation = export(recorded, tmp_path)["paths"]["/users/{id}"]["get"]
    ok = operation["responses"]["200"]
    assert ok["content"]["application/json"]["example"] == user(42, None)
    assert ok["headers"] == {
        "set-cookie": {"schema": STRING, "example": "sid=sid-s3cr3t; Path=/"},
        "x-request-id": {"schema": STRING, "example": "r1"},
    }
    assert operation["parameters"][0]["example"] == "true"
    login = export(recorded, tmp_path)["paths"]["/login"]["post"]["requestBody"]
    assert login["content"]["application/x-www-form-urlencoded"]["example"] == {
        "user": "ada", "password": "hunter2", "remember": 1,
    }  # fmt: skip


def test_examples_are_redacted_when_asked(recorded, tmp_path) -> None:
    text = json.dumps(export(recorded, tmp_path, "plain.json"))
    assert [secret for secret in SECRETS if secret in text] == list(
        SECRETS
    )  # so the redacted check below can fail
    document = export(recorded, tmp_path, "redacted.json", redact=True)
    redacted = json.dumps(document)
    assert [secret for secret in SECRETS if secret in redacted] == []
    ok = document["paths"]["/users/{id}"]["get"]["responses"]["200"]
    assert ok["headers"]["set-cookie"]["example"] == "sid=***; Path=/"
    login = document["paths"]["/login"]["post"]
    assert (
        login["requestBody"]["content"]["application/x-www-form-urlencoded"]["example"]["password"]
        == "***"
    )
    assert summary(document) == EXPECTED  # the shapes stay what the traffic showed


def test_yaml_when_the_path_ends_in_yaml(recorded, tmp_path) -> None:
    as_yaml = export(recorded, tmp_path, "api.yaml")
    assert (tmp_path / "api.yaml").read_text().startswith("%YAML 1.1\n")
    assert as_yaml == export(recorded, tmp_path, "api.json")


def test_host_picks_one_server(recorded, tmp_path) -> None:
    session = recorded.get_session("little api")
    other = exchange("GET", "/health", 200, {"ok": True})
    other.request.host, other.request.port = "localhost", 9090
    recorded.add_flows([flow_to_record(other, session.id)])
    both = export(recorded, tmp_path)
    assert both["servers"] == [{"url": SERVER}, {"url": "http://localhost:9090"}]
    one = export(recorded, tmp_path, flow_filter=FlowFilter(host="localhost"))
    assert one["servers"] == [{"url": "http://localhost:9090"}]
    assert list(one["paths"]) == ["/health"]


@pytest.mark.parametrize(("extra", "has_example"), [(0, True), (1, False)])
def test_examples_stop_at_the_size_limit(store, tmp_path, extra: int, has_example: bool) -> None:
    session = store.create_session("little api")
    envelope = len(json.dumps({"blob": ""}))
    answer = {"blob": "x" * (EXAMPLE_MAX_BYTES - envelope + extra)}
    flow = exchange("GET", "/big", 200, answer)
    assert len(flow.response.content) == EXAMPLE_MAX_BYTES + extra
    store.add_flows([flow_to_record(flow, session.id)])
    content = export(store, tmp_path)["paths"]["/big"]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == obj(["blob"], blob=STRING)
    assert ("example" in content["application/json"]) is has_example


def test_bodies_that_are_not_json_are_strings_or_binary(store, tmp_path) -> None:
    session = store.create_session("little api")
    page = exchange("GET", "/page", 200, None, response_headers=(("content-type", "text/html"),))
    page.response.content = b"<p>hi</p>"
    image = exchange("GET", "/logo", 200, None, response_headers=(("content-type", "image/png"),))
    image.response.content = bytes(range(256))
    store.add_flows([flow_to_record(flow, session.id) for flow in (page, image)])
    paths = export(store, tmp_path)["paths"]
    assert paths["/page"]["get"]["responses"]["200"]["content"] == {"text/html": {"schema": STRING}}
    assert paths["/logo"]["get"]["responses"]["200"]["content"] == {
        "image/png": {"schema": {"type": "string", "format": "binary"}}
    }


def test_methods_openapi_has_no_operation_for_are_left_out(store, tmp_path) -> None:
    session = store.create_session("little api")
    flows = [exchange("PROPFIND", "/dav", 207, {}), exchange("GET", "/dav", 200, {})]
    store.add_flows([flow_to_record(flow, session.id) for flow in flows])
    document = export(store, tmp_path)
    assert list(document["paths"]["/dav"]) == ["get"]
    assert document["x-mitmtape"]["flows"] == 1


def test_an_empty_session_is_a_valid_document(store, tmp_path) -> None:
    store.create_session("little api")
    document = export(store, tmp_path)
    assert document["paths"] == {} and "servers" not in document


def test_a_flow_without_response_is_a_default_response(store, tmp_path) -> None:
    session = store.create_session("little api")
    record = flow_to_record(exchange("GET", "/down", 200, {}), session.id)
    record.response, record.error = None, "connection refused"
    store.add_flows([record])
    responses = export(store, tmp_path)["paths"]["/down"]["get"]["responses"]
    assert responses == {"default": {"description": "no response was recorded"}}


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.har")))
def test_every_sample_capture_exports_a_valid_document(store, tmp_path, sample: str) -> None:
    session, result = import_new_session(store, SAMPLES / sample)
    assert result.imported > 0
    exported = export_session(store, session.id, "openapi", tmp_path / "out.json")
    document = json.loads(exported.path.read_text())
    validate(document)
    assert document["paths"] and document["x-mitmtape"]["flows"] > 0


def test_gzip_json_is_read_after_decoding(store, tmp_path) -> None:
    session = store.create_session("little api")
    flow = exchange("GET", "/zipped", 200, {"n": 1})
    flow.response.encode("gzip")
    record = flow_to_record(flow, session.id)
    assert record.response is not None and record.response.body != Body(b'{"n": 1}')
    store.add_flows([record])
    content = export(store, tmp_path)["paths"]["/zipped"]["get"]["responses"]["200"]["content"]
    assert content["application/json"] == {"schema": obj(["n"], n=INTEGER), "example": {"n": 1}}
