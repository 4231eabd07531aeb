"""The target registry: the one place doors look targets up."""

from __future__ import annotations

import pytest

from mitmtape.codegen import TARGETS, generate


def test_registry_holds_the_five_spec_targets() -> None:
    assert set(TARGETS) == {"curl", "fetch", "python", "httpie", "markdown"}


def test_generate_uses_the_registered_target(make_record) -> None:
    record = make_record()
    assert generate("curl", record) == TARGETS["curl"](record)


def test_unknown_target_names_itself_and_the_valid_ones(make_record) -> None:
    with pytest.raises(ValueError, match="'powershell'") as error:
        generate("powershell", make_record())
    assert all(name in str(error.value) for name in TARGETS)
