"""The target registry: the one place doors look targets up."""

from __future__ import annotations

import pytest

from mitmtape.codegen import TARGETS, generate

URL = "https://api.example.com/v1/items?page=2"
# What only the named target's snippet holds, for a GET of `URL`.
MARKS = {
    "curl": f"curl '{URL}'",
    "fetch": f"await fetch('{URL}'",
    "python": f'requests.get("{URL}"',
    "httpie": f"http GET '{URL}'",
    "markdown": "## GET /v1/items",
}


def test_registry_holds_the_five_spec_targets() -> None:
    assert set(TARGETS) == {"curl", "fetch", "python", "httpie", "markdown"}


@pytest.mark.parametrize("target", sorted(MARKS))
def test_generate_writes_the_named_targets_snippet(make_record, target: str) -> None:
    snippet = generate(target, make_record(url=URL))
    assert [name for name, mark in MARKS.items() if mark in snippet] == [target]


def test_unknown_target_names_itself_and_the_valid_ones(make_record) -> None:
    with pytest.raises(ValueError, match="'powershell'") as error:
        generate("powershell", make_record())
    assert all(name in str(error.value) for name in TARGETS)
