"""The leak test of issue 17: every format, both modes, searched every way; none leaks.

Real records go into a real store and out through the real pipeline, so what is checked is
what a person would share. The same exports without redaction hold the secrets (so the test
can fail), and redacted HAR and Postman files still pass their schemas and mitmproxy's reader.
A `.mitm` file is searched as its bytes and as mitmproxy reads it: bodies decoded by
`get_content()` (gzip, deflate, brotli), WebSocket messages.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from mitmproxy.io import har as mitmproxy_har

from mitmtape.export.formats import FORMATS
from mitmtape.export.pipeline import ExportOptions, export_session
from mitmtape.store import Store
from tests.export.redaction.leaky import (
    JWT_PAYLOADS,
    SECRETS,
    flow_file_view,
    found_in,
)

HERE = Path(__file__).parent.parent
HAR_SCHEMA = json.loads((HERE / "har-1.2.schema.json").read_text())
POSTMAN_SCHEMA = json.loads((HERE / "postman-collection-v2.1.0.schema.json").read_text())
# The formats that carry every place readably (CSV carries URLs only, Postman requests only).
LOSSLESS_ENOUGH = {"har", "json", "mitm"}


def exported(store: Store, session: str, name: str, folder: Path, redact) -> bytes:
    result = export_session(store, session, name, folder, ExportOptions(redact=redact))
    return result.path.read_bytes()


def searchable(store: Store, session: str, name: str, folder: Path, redact) -> bytes:
    """The export as a person would search it: a flow file also as mitmproxy shows it."""
    data = exported(store, session, name, folder, redact)
    return data + b"\n" + flow_file_view(data) if name == "mitm" else data


@pytest.mark.parametrize("mode", [True, "strict"])
@pytest.mark.parametrize("name", list(FORMATS))
def test_a_redacted_export_leaks_no_secret_read_any_way(
    store: Store, leaky_session: str, tmp_path: Path, name: str, mode
) -> None:
    data = searchable(store, leaky_session, name, tmp_path, mode)
    hidden = [*SECRETS.values(), *(JWT_PAYLOADS if mode == "strict" else ())]
    assert found_in(data, hidden) == set()


@pytest.mark.parametrize("name", list(FORMATS))
def test_the_same_export_without_redaction_holds_the_secrets(
    store: Store, leaky_session: str, tmp_path: Path, name: str
) -> None:
    data = searchable(store, leaky_session, name, tmp_path, False)
    found = found_in(data, [*SECRETS.values(), *JWT_PAYLOADS])
    if name in LOSSLESS_ENOUGH:
        assert found == {*SECRETS.values(), *JWT_PAYLOADS}
    else:
        assert SECRETS["query access_token"] in found


@pytest.mark.parametrize("mode", [True, "strict"])
def test_a_redacted_har_passes_the_schema_and_mitmproxys_reader(
    store: Store, leaky_session: str, tmp_path: Path, mode
) -> None:
    har = json.loads(exported(store, leaky_session, "har", tmp_path, mode))
    jsonschema.validate(har, HAR_SCHEMA)
    flows = [mitmproxy_har.request_to_flow(entry) for entry in har["log"]["entries"]]
    methods = ["POST", "POST", "PUT", "POST", "GET", "POST", "POST"]
    assert [flow.request.method for flow in flows] == methods
    form = har["log"]["entries"][1]["request"]["postData"]
    assert form["params"] == [
        {"name": "user", "value": "alice"},
        {"name": "password", "value": "***"},
    ]
    assert (
        har["log"]["entries"][0]["response"]["redirectURL"]
        == "https://app.example.com/cb?code=***&state=x"
    )


@pytest.mark.parametrize("mode", [True, "strict"])
def test_a_redacted_postman_collection_passes_its_schema(
    store: Store, leaky_session: str, tmp_path: Path, mode
) -> None:
    collection = json.loads(exported(store, leaky_session, "postman", tmp_path, mode))
    jsonschema.validate(collection, POSTMAN_SCHEMA)
    json.loads(collection["item"][0]["request"]["body"]["raw"])  # still JSON after masking


def test_a_flow_file_read_by_mitmproxy_shows_no_secret_where_its_bytes_hide_them(
    store: Store, leaky_session: str, tmp_path: Path
) -> None:
    """Compressed bodies hide their secrets from a search of the file's bytes: only the
    decoded reading can show that redaction reached them."""
    data = exported(store, leaky_session, "mitm", tmp_path, False)
    compressed = {SECRETS[place] for place in ("deflate json password", "gzip json secret")}
    assert found_in(data, compressed) == set()
    assert found_in(flow_file_view(data), compressed) == compressed
    redacted = flow_file_view(exported(store, leaky_session, "mitm", tmp_path / "r", True))
    assert found_in(redacted, compressed) == set()
    assert b'{"password": "***"}' in redacted and b'{"secret": "***"}' in redacted
