"""GetTables' Expression: regex semantics with a bare `*` wildcard, and no expression can hang a worker."""

import pytest

from findmatches.aws.errors import InvalidInputException
from findmatches.service.catalog import _name_filter


@pytest.mark.parametrize(
    ("expression", "name", "expected"),
    [
        ("people*", "people_a", True),
        ("people_.*", "people_a", True),
        ("PEOPLE", "people", True),
        ("places|things", "things", True),
        ("people", "people_a", False),
        ("peo", "people", False),
    ],
)
def test_expression_semantics(expression: str, name: str, expected: bool) -> None:
    assert _name_filter(expression)(name) is expected


@pytest.mark.timeout(30)
def test_catastrophic_backtracking_does_not_hang() -> None:
    matches = _name_filter("(a|aa|a+)+(b|c+)+d")
    try:
        assert matches("a" * 250) is False
    except InvalidInputException as e:
        assert "too expensive" in e.message


def test_invalid_regex_is_invalid_input() -> None:
    with pytest.raises(InvalidInputException):
        _name_filter("(unclosed")
