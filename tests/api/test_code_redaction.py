"""`GET /api/v1/flows/{id}/code/{target}?redact=false|true|strict` over a live server."""

from __future__ import annotations

import json

import httpx
import pytest

from mitmtape.model import Body, FlowRecord, Request
from mitmtape.store import Store

JWT_KEPT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"
JWT = f"{JWT_KEPT}.c2lnLXNlY3JldA"
SECRETS = ("tok-s3", "bearer-s3", "pw-s3", "c2lnLXNlY3JldA")


@pytest.fixture
def flow_id(store: Store) -> str:
    session = store.create_session("secrets")
    record = FlowRecord(
        session_id=session.id,
        request=Request(
            "POST",
            "https://api.example.com/login?access_token=tok-s3&page=1",
            headers=[
                ("Authorization", "Bearer bearer-s3"),
                ("X-Debug", JWT),
                ("Content-Type", "application/json"),
            ],
            body=Body(json.dumps({"password": "pw-s3", "user": "alice"}).encode()),
        ),
    )
    store.add_flows([record])
    return record.id


def code(client: httpx.Client, flow_id: str, target: str = "curl", **query) -> httpx.Response:
    return client.get(f"/api/v1/flows/{flow_id}/code/{target}", params=query)


def test_without_redact_the_snippet_keeps_every_secret(client, flow_id) -> None:
    for response in (code(client, flow_id), code(client, flow_id, redact="false")):
        assert response.status_code == 200
        assert all(secret in response.text for secret in SECRETS)
        assert "X-Mitmtape-Redacted" not in response.headers


def test_redact_true_masks_as_the_cli_does_and_says_what_it_masked(client, flow_id) -> None:
    response = code(client, flow_id, "python", redact="true")
    assert response.status_code == 200
    assert not any(secret in response.text for secret in SECRETS)
    assert "Bearer ***" in response.text and f"{JWT_KEPT}.***" in response.text
    assert response.headers["X-Mitmtape-Redacted"] == (
        "headers=1, cookies=0, query_parameters=1, body_fields=1, jwts=1, bodies=0"
    )


def test_redact_strict_masks_jwts_whole(client, flow_id) -> None:
    response = code(client, flow_id, redact="Strict")
    assert response.status_code == 200
    assert JWT_KEPT not in response.text and "pw-s3" not in response.text


def test_markdown_masks_credentials_even_without_redact(client, flow_id) -> None:
    response = code(client, flow_id, "markdown")
    assert "bearer-s3" not in response.text and "Bearer ***" in response.text


@pytest.mark.parametrize("value", ["maybe", "", "yes"])
def test_a_redact_value_other_than_false_true_strict_is_a_400_in_one_sentence(
    client, flow_id, value: str
) -> None:
    response = code(client, flow_id, redact=value)
    assert response.status_code == 400
    assert response.json() == {"error": f"redact must be false, true or strict, got {value!r}"}


def test_the_openapi_document_lists_the_redact_parameter(client) -> None:
    route = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/flows/{id}/code/{target}"]
    parameters = {p["name"]: p for p in route["get"]["parameters"]}
    assert parameters["redact"]["schema"]["enum"] == ["false", "true", "strict"]
    assert "X-Mitmtape-Redacted" in route["get"]["responses"]["200"]["headers"]
