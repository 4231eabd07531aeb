"""The guard in front of mitmproxy's filter parser: limits at their edge, quoting, the worst cases.

Every string here goes through `compile_expression`, the door all of mitmtape's filters use;
timings of the worst strings at the limits are in the module docstring of `filterguard`.
"""

from __future__ import annotations

import pytest

from mitmtape.capture.filterguard import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_FILTER_WORK,
    check_filter,
    measure_filter,
)
from mitmtape.capture.record import FilterError, compile_expression
from tests.conftest import RecordFactory


def nested(depth: int, inner: str = "~m GET", opener: str = "(", closer: str = ")") -> str:
    return opener * depth + inner + closer * depth


def padded_to_work(work: int) -> str:
    """A string estimated at exactly `work`: one more quoted character three groups deep is
    one more unit (4³ characters of work over 64 per unit)."""
    shape = "((( ~u '{}' )))"
    base = measure_filter(shape.format("")).work
    return shape.format("a" * (work - base))


def grouped_to_work(group: str, work: int) -> str:
    """As many copies of `group`, side by side, as fit within `work`: the additive blow-up."""
    copies = work // measure_filter(group).work
    while measure_filter(" ".join([group] * copies)).work > work:
        copies -= 1
    return " ".join([group] * copies)


@pytest.mark.parametrize(
    ("at_limit", "over"),
    [
        (nested(MAX_FILTER_DEPTH), nested(MAX_FILTER_DEPTH + 1)),
        ("!" * MAX_FILTER_DEPTH + "~q", "!" * (MAX_FILTER_DEPTH + 1) + "~q"),
        ("! " * MAX_FILTER_DEPTH + "~q", "! " * (MAX_FILTER_DEPTH + 1) + "~q"),
        (
            nested(MAX_FILTER_DEPTH // 2, opener="!("),
            "!" + nested(MAX_FILTER_DEPTH // 2, opener="!("),
        ),
    ],
    ids=["parentheses", "not", "spaced-not", "not-group"],
)
def test_nesting_at_the_limit_compiles_and_one_more_is_refused(at_limit: str, over: str) -> None:
    assert measure_filter(at_limit).deepest == MAX_FILTER_DEPTH

    compile_expression(at_limit)
    with pytest.raises(FilterError) as refused:
        compile_expression(over)
    assert str(refused.value) == (
        f"filter expression nests {MAX_FILTER_DEPTH + 1} levels deep (parentheses and `!` "
        f"together); the limit is {MAX_FILTER_DEPTH}"
    )


def test_length_at_the_limit_compiles_and_one_more_is_refused() -> None:
    at_limit = "~u '" + "a" * (MAX_FILTER_LENGTH - 5) + "'"
    assert len(at_limit) == MAX_FILTER_LENGTH

    compile_expression(at_limit)
    with pytest.raises(FilterError, match=f"is {MAX_FILTER_LENGTH + 1:,} characters long"):
        compile_expression(at_limit + "a")


def test_work_at_the_limit_compiles_and_one_more_is_refused() -> None:
    at_limit, over = padded_to_work(MAX_FILTER_WORK), padded_to_work(MAX_FILTER_WORK + 1)
    assert measure_filter(at_limit).work == MAX_FILTER_WORK

    compile_expression(at_limit)
    with pytest.raises(FilterError, match=f"{MAX_FILTER_WORK + 1:,} units of work"):
        compile_expression(over)


@pytest.mark.parametrize(
    "expression",
    [
        nested(MAX_FILTER_DEPTH),
        grouped_to_work("((~m GET))", MAX_FILTER_WORK),
        grouped_to_work("(~m GET)", MAX_FILTER_WORK),
        grouped_to_work("!(!(~m GET))", MAX_FILTER_WORK),
        padded_to_work(MAX_FILTER_WORK),
        grouped_to_work("~q", MAX_FILTER_WORK),
    ],
    ids=["deepest", "groups-2", "groups-1", "not-groups", "long-deep-value", "many-tokens"],
)
def test_the_worst_strings_within_the_limits_compile(expression: str) -> None:
    check_filter(expression)
    assert compile_expression(expression) is not None


@pytest.mark.parametrize(
    ("expression", "depth"),
    [
        (nested(1_000), "1,000"),
        (nested(1_000, opener="!", closer=""), "1,000"),
        (nested(1_000, opener="!("), "2,000"),
    ],
    ids=["parentheses", "not", "not-group"],
)
def test_a_thousand_levels_are_refused_never_a_recursion_error(expression: str, depth: str) -> None:
    with pytest.raises(FilterError, match=f"nests {depth} levels deep"):
        compile_expression(expression)


def test_many_groups_side_by_side_are_refused_as_too_complex() -> None:
    group = nested(MAX_FILTER_DEPTH - 1)
    expression = " & ".join([group] * 40)  # 40 × `(((~m GET)))`: 1.0 s on mitmproxy 11

    with pytest.raises(FilterError, match="too complex to parse quickly"):
        compile_expression(expression)


@pytest.mark.parametrize(
    "expression",
    [
        '~u "((((((((a))))))))"',
        "~h 'x: ((((((((a))))))))'",
        '~b "a\\"((((((((a))))))))"',
        "~u '!!!!!!!!!!'",
        "~u a!!!!!!!!!!b",
    ],
    ids=["double-quoted", "single-quoted", "escaped-quote", "quoted-nots", "nots-in-a-word"],
)
def test_parentheses_and_nots_inside_values_do_not_count(expression: str) -> None:
    assert measure_filter(expression).deepest == 0
    compile_expression(expression)


def test_an_unterminated_quote_does_not_hide_nesting() -> None:
    with pytest.raises(FilterError, match="levels deep"):
        compile_expression('~u "' + nested(MAX_FILTER_DEPTH + 1))


def test_a_not_ends_at_the_next_operator() -> None:
    expression = " & ".join(["!~q"] * MAX_FILTER_DEPTH * 2 + ["!(~m GET | !~c 200)"])

    assert measure_filter(expression).deepest == 3
    compile_expression(expression)


def test_a_guarded_filter_still_matches_like_mitmproxy(make_record: RecordFactory) -> None:
    matches = compile_expression(nested(MAX_FILTER_DEPTH - 1, "~m POST & !~c 500"))

    assert matches(make_record(method="POST", status=201))
    assert not matches(make_record(method="POST", status=500))
    assert not matches(make_record(method="GET", status=201))
