"""Path cutting in the report's table: 60 characters, then `…`, never through a character."""

from __future__ import annotations

import pytest

from mitmtape.export.report.textcut import PATH_CUT, cut_path


def test_a_path_of_sixty_characters_is_kept_whole() -> None:
    path = "/" + "a" * 59
    assert cut_path(path) == path


def test_a_longer_path_keeps_sixty_characters_and_an_ellipsis() -> None:
    path = "/" + "abcdefghij" * 10
    assert cut_path(path) == path[:PATH_CUT] + "…"


def test_multi_byte_characters_count_as_one_each() -> None:
    path = "/" + "é日本🚀" * 20
    cut = cut_path(path)
    assert cut == path[:60] + "…"
    assert len(cut) == 61
    assert len(cut.encode("utf-8")) > 61
    cut.encode("utf-8", "strict")


@pytest.mark.parametrize(
    ("joined", "why"),
    [
        ("e\u0301", "a letter and its combining accent"),
        ("👩\u200d💻", "an emoji joined with a zero-width joiner"),
        ("👍🏽", "an emoji and its skin-tone modifier"),
        ("🇫🇷", "a flag made of two regional indicators"),
        ("%E2%9C%93", "a percent-escaped three-byte UTF-8 character"),
        ("%20", "a percent escape"),
    ],
)
def test_a_character_across_the_cut_is_left_out_whole(joined: str, why: str) -> None:
    for before in range(PATH_CUT - len(joined) + 1, PATH_CUT):
        path = "/" + "x" * (before - 1) + joined + "/tail" * 10
        cut = cut_path(path)
        assert cut == path[:before] + "…", why


def test_a_character_ending_at_the_cut_is_kept() -> None:
    path = "/" + "x" * (PATH_CUT - 3) + "e\u0301" + "/more"
    assert cut_path(path) == path[:PATH_CUT] + "…"
