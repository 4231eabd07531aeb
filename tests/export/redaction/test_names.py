"""What counts as a secret name: every default entry, its spellings, words of longer names."""

from __future__ import annotations

import pytest

from mitmtape.export.redaction.names import SENSITIVE_NAMES, SecretNames


def spellings(name: str) -> list[str]:
    """The ways one name is written in the wild: case, `-` or `_` or nothing between words."""
    return [
        name,
        name.upper(),
        name.replace("_", "-"),
        name.replace("-", "_"),
        name.replace("_", "").replace("-", ""),
    ]


@pytest.mark.parametrize("name", SENSITIVE_NAMES)
def test_each_default_name_is_secret_however_it_is_spelled(name: str) -> None:
    names = SecretNames()
    assert all(spelling in names for spelling in spellings(name))


@pytest.mark.parametrize(
    "name",
    [
        "X-CSRF-Token",
        "clientSecret",
        "user_password",
        "credit_card_number",
        "X-Session-Id",
        "myApiKey",
    ],
)
def test_a_longer_name_is_secret_when_a_word_or_two_adjacent_words_are(name: str) -> None:
    assert name in SecretNames()


@pytest.mark.parametrize(
    "name",
    ["status_code", "errorCode", "zipcode", "author", "design", "inside", "Content-Type", "q"],
)
def test_innocent_names_are_not_secret(name: str) -> None:
    assert name not in SecretNames()


def test_code_is_secret_only_as_the_whole_name() -> None:
    assert "code" in SecretNames()
    assert "Code" in SecretNames()
    assert "status_code" not in SecretNames()


def test_a_name_a_person_adds_is_secret_in_every_spelling() -> None:
    names = SecretNames(["tenant-pin"])
    assert all(spelling in names for spelling in spellings("tenant_pin"))
    assert "tenant_pin" not in SecretNames()
