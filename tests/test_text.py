"""Numbers for people (text.py), as every door writes them."""

from __future__ import annotations

import pytest

from mitmtape.text import count, human_size


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (999, "999 B"), (1000, "1.0 KB"), (3_200_000, "3.2 MB")]
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_count_uses_thousands_and_plural() -> None:
    assert (count(1, "flow"), count(1247, "flow")) == ("1 flow", "1,247 flows")
