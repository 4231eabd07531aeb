"""An export with redaction says what it did: in its result, in HAR's `log.comment`, in the
report's header; and names and body patterns reach the engine through `ExportOptions`."""

from __future__ import annotations

import json

import pytest

from mitmtape.export.pipeline import ExportError, ExportOptions, export_session
from tests.export.redaction.leaky import SECRETS

# What `leaky_records` holds, by kind (pinned: a place redaction stops finding shows here).
LEAKY_COUNTS = {
    "headers": 3,
    "cookies": 3,
    "query_parameters": 5,
    "body_fields": 13,
    "jwts": 2,
    "bodies": 0,
}
LEAKY_TEXT = "3 headers, 3 cookies, 5 query parameters, 13 body fields, 2 JWTs"


def test_the_result_counts_what_was_redacted_by_kind(store, leaky_session, tmp_path) -> None:
    result = export_session(store, leaky_session, "json", tmp_path, ExportOptions(redact=True))
    assert result.redacted is not None
    assert result.redacted.as_json() == LEAKY_COUNTS
    assert result.message().endswith(f"; redacted {LEAKY_TEXT}")


def test_an_export_without_redaction_counts_nothing(store, leaky_session, tmp_path) -> None:
    result = export_session(store, leaky_session, "json", tmp_path)
    assert result.redacted is None
    assert "redacted" not in result.message()


def test_har_says_what_was_redacted_in_its_log_comment(store, leaky_session, tmp_path) -> None:
    result = export_session(store, leaky_session, "har", tmp_path, ExportOptions(redact="strict"))
    log = json.loads(result.path.read_text())["log"]
    assert log["comment"] == f"redacted by mitmtape: {LEAKY_TEXT}"
    plain = export_session(store, leaky_session, "har", tmp_path / "plain")
    assert "comment" not in json.loads(plain.path.read_text())["log"]


def test_the_report_header_says_what_was_redacted(store, leaky_session, tmp_path) -> None:
    result = export_session(store, leaky_session, "html", tmp_path, ExportOptions(redact=True))
    page = result.path.read_text()
    # The report reads no bodies, so only headers, cookies, URLs and JWTs in headers count.
    assert f'<span id="redacted">redacted {result.redacted.text()}</span>' in page
    assert result.redacted.counts["headers"] == 3


def test_names_and_body_patterns_reach_the_engine(store, leaky_session, tmp_path) -> None:
    options = ExportOptions(redact=True, redact_names=("user",), redact_bodies=("files.example",))
    result = export_session(store, leaky_session, "json", tmp_path, options)
    flows = json.loads(result.path.read_text())
    assert "user=***" in flows[1]["request"]["body"]["data"]
    assert flows[2]["request"]["body"] == {
        "encoding": "utf-8",
        "data": "",
        "size": len(json.dumps({"password": SECRETS["binary-typed json password"]})),
        "omitted": "redacted",
    }
    assert result.redacted.counts["bodies"] == 4


def test_har_states_a_body_left_out_by_pattern_in_its_comment(store, leaky_session, tmp_path):
    options = ExportOptions(redact=True, redact_bodies=("https://files.example.com/*",))
    result = export_session(store, leaky_session, "har", tmp_path, options)
    entry = json.loads(result.path.read_text())["log"]["entries"][2]
    assert entry["request"]["postData"]["text"] == ""
    assert "redact-bodies" in entry["request"]["postData"]["comment"]
    assert "redact-bodies" in entry["response"]["content"]["comment"]


@pytest.mark.parametrize("mode", ["maybe", "yes", ""])
def test_a_mode_other_than_false_true_strict_is_refused_in_one_sentence(mode: str) -> None:
    with pytest.raises(ExportError, match=f"redaction must be false, true or strict, not '{mode}'"):
        ExportOptions(redact=mode)


@pytest.mark.parametrize(
    ("mode", "parsed"), [("false", False), ("TRUE", True), ("strict", "strict")]
)
def test_the_three_mode_words_are_taken(mode: str, parsed) -> None:
    assert ExportOptions(redact=mode).redact == parsed


def test_body_patterns_blank_the_messages_of_a_websocket_flow(store, leaky_session, tmp_path):
    options = ExportOptions(redact=True, redact_bodies=("ws.example.com/socket",))
    result = export_session(store, leaky_session, "har", tmp_path, options)
    entry = json.loads(result.path.read_text())["log"]["entries"][4]
    assert [message["data"] for message in entry["_webSocketMessages"]] == ["", ""]
    assert result.redacted.counts["bodies"] == 2
