from __future__ import annotations

from datetime import datetime

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.profile import (
    CODE_MIN_LENGTH,
    CODE_PATTERN,
    DATE_FORMATS,
    MIN_DATE_SHARE,
    MIN_SEGMENTS,
    SEGMENT_SEPARATORS,
    ColumnKind,
    ColumnProfile,
    _codes,
    _forms,
    _has_digit,
    _mostly,
    _plain,
    classify,
    date_format,
    is_missing,
    normalized_sql,
    pad_width,
    placeholder,
    segment_share,
)


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["ann@example.com", "bob.smith@mail.org", "x_y@z.co"] * 5, ColumnKind.EMAIL),
        (["(02) 9876-5432", "02 9876 5433", "+61-2-9876-5434"] * 5, ColumnKind.PHONE),
        (["1980-04-01", "1975-12-31", "2001-01-09"] * 5, ColumnKind.DATE),
        (["19800401", "19751231", "20010109"] * 5, ColumnKind.DATE),
        (["12.5", "3", "-7", "1000", "2.25"] * 3, ColumnKind.NUMBER),
        (
            [
                "john",
                "mary",
                "peter",
                "jon",
                "anne",
                "sue",
                "tom",
                "kate",
                "bill",
                "amy",
                "ed",
                "al",
                "jo",
                "liz",
            ],
            ColumnKind.NAME,
        ),
        (
            [
                "AB123X",
                "ZX9981",
                "QQ1234",
                "PL0098",
                "KX7761",
                "MM1000",
                "AA0001",
                "BB0002",
                "CC0003",
                "DD0004",
                "EE0005",
                "FF0006",
                "GG0007",
            ],
            ColumnKind.CODE,
        ),
        (
            ["the quick brown fox jumps over the lazy dog", "a stitch in time saves nine today and tomorrow"]
            * 5,
            ColumnKind.TEXT,
        ),
        (["nsw", "vic", "qld"] * 50, ColumnKind.CATEGORY),
        (
            ["$1,299.00", "USD 282.96", "305.49", "$456", "12.30 usd", "€ 9,99", "1.299,00 €", "us$ 7"] * 5,
            ColumnKind.NUMBER,
        ),
        ([], ColumnKind.EMPTY),
    ],
)
def test_classify(values: list[str], kind: ColumnKind) -> None:
    assert classify(values, max(1, len(values)))[0] == kind


def test_words_with_a_number_are_not_amounts() -> None:
    values = [f"{word} {i}" for i in range(20) for word in ("vol", "no.", "abc", "ab$c")]
    assert classify(values, len(values))[0] != ColumnKind.NUMBER


def test_missing_placeholders() -> None:
    assert is_missing(None) and is_missing("  ") and is_missing("N/A") and is_missing("null")
    assert not is_missing("0") and not is_missing("nan bread")


def _norm(kind: ColumnKind, value: str | None) -> str | None:
    profile = ColumnProfile("v", 0, kind, 0.0, 1.0, 1.0, 5.0)
    result = duckdb.sql(
        f"SELECT {normalized_sql(profile)} AS n FROM (SELECT ?::VARCHAR AS v)", params=[value]
    )
    rows = result.fetchall()
    return rows[0][0]  # type: ignore[no-any-return]


def test_normalisation() -> None:
    assert _norm(ColumnKind.NAME, "  Müller-Lüdenscheidt ") == "muller ludenscheidt"
    assert _norm(ColumnKind.PHONE, "+1 (310) 246-1501") == "3102461501"
    assert _norm(ColumnKind.DATE, "1980/04/01") == "19800401"
    assert _norm(ColumnKind.CODE, "ab-12 3") == "ab123"
    assert _norm(ColumnKind.NAME, "N/A") is None
    assert _norm(ColumnKind.TEXT, "") is None


def test_amounts_of_money_normalise_to_their_numbers() -> None:
    """Prices as shops write them compare as numbers: the currency goes, a grouping separator goes, a lone comma
    is a decimal one."""
    got = {
        v: _norm(ColumnKind.NUMBER, v)
        for v in ("$1,299.00", "USD 282.96", "$456", "1.299,00 €", "EUR 12,50", "us$ 7", "1,5", "-3", "1e5")
    }
    assert got == {
        "$1,299.00": "1299.00",
        "USD 282.96": "282.96",
        "$456": "456",
        "1.299,00 €": "1299.00",
        "EUR 12,50": "12.50",
        "us$ 7": "7",
        "1,5": "1.5",
        "-3": "-3",
        "1e5": "1e5",
    }
    assert all(float(v) == float(v) for v in got.values() if v is not None)


def test_fields_cut_from_running_text_keep_their_kind() -> None:
    """A field that kept the punctuation after it ("1513.10.", "1997,") is still a number or a date, and a
    column whose values differ only in case and punctuation ("Shop_A", "shop_a.") is still a category; the
    numbers normalise without the sentence's point."""
    prices = ["1513.10.", "$610", "7.14,", "252.57", "88;", "1,299.00", "12.5", "3"] * 5
    assert classify(prices, len(prices))[0] == ColumnKind.NUMBER
    dates = ["1980-04-01.", "1975-12-31", "2001-01-09,"] * 5
    assert classify(dates, len(dates))[0] == ColumnKind.DATE
    shops = ["shop_a", "Shop_A", "shop_a.", "SHOP_A,", "shop_b", "shop_b:", "Shop B"] * 30
    assert classify(shops, len(shops))[0] == ColumnKind.CATEGORY
    assert classify([f"shop {i}" for i in range(200)], 200)[0] != ColumnKind.CATEGORY
    assert {v: _norm(ColumnKind.NUMBER, v) for v in ("1513.10.", "7.14,", "5.", "-3,", ".5")} == {
        "1513.10.": "1513.10",
        "7.14,": "7.14",
        "5.": "5",
        "-3,": "-3",
        ".5": ".5",
    }


def test_short_whole_numbers_are_zero_padded_digit_by_digit() -> None:
    assert pad_width(["3", "17", "28", "9"]) == 2
    assert pad_width(["1952", "1961"]) == 0  # one length already lines up
    assert pad_width(["1.5", "22"]) == 0 and pad_width(["-3", "12"]) == 0
    assert pad_width(["1234567890", "1"]) == 0  # long numbers are not digit strings to pad
    profile = ColumnProfile("v", 0, ColumnKind.NUMBER, 0.0, 0.1, 1.0, 1.5, digits=2)

    def norm(value: str) -> str:
        sql = f"SELECT {normalized_sql(profile)} AS n FROM (SELECT ?::VARCHAR AS v)"
        return str(duckdb.sql(sql, params=[value]).fetchall()[0][0])

    assert norm("3") == "03" and norm("28") == "28"
    assert norm("123") == "123" and norm("2.5") == "2.5"  # never cut, never pad a fraction


def test_dates_in_one_column_format_normalise_alike() -> None:
    assert date_format(["4/1/1980", "12/31/1975", "01/09/2001"]) == "%m/%d/%Y"
    assert date_format(["4/1/1980", "31/12/1975", "13/09/2001"]) == "%d/%m/%Y"
    assert date_format(["19800401", "19751231"]) == "%Y%m%d"
    assert date_format(["1980-04-01T10:00:00", "1975-12-31 08:00"]) == "%Y-%m-%d"
    assert date_format(["nonsense", "1980-04-01"]) == ""
    profile = ColumnProfile("v", 0, ColumnKind.DATE, 0.0, 1.0, 1.0, 9.0, date_format="%m/%d/%Y")

    def norm(value: str) -> str:
        sql = f"SELECT {normalized_sql(profile)} AS n FROM (SELECT ?::VARCHAR AS v)"
        return str(duckdb.sql(sql, params=[value]).fetchall()[0][0])

    assert norm("4/1/1980") == norm("04/01/1980") == "19800401"
    assert norm("13/45/1980") == "13451980"  # unreadable: its digits, as before


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=40), st.sampled_from([0.5, 0.8, 0.9, 1.0]))
def test_mostly_stops_early_with_the_answer_a_full_count_gives(hits: list[bool], need: float) -> None:
    assert _mostly(iter(hits), len(hits), need) == (sum(hits) >= need * len(hits))


def _date_format_by_full_count(values: list[str]) -> str:
    best, best_share = "", 0.0
    for fmt in DATE_FORMATS:
        hits = 0
        for v in values:
            try:
                datetime.strptime(v.strip().replace("T", " ").split(" ", 1)[0], fmt)
            except ValueError:
                continue
            hits += 1
        share = hits / len(values) if values else 0.0
        if share > best_share:
            best, best_share = fmt, share
    return best if best_share >= MIN_DATE_SHARE else ""


DATE_VALUES = st.sampled_from(
    [
        "2001-02-03",
        "03/02/2001",
        "02/03/2001",
        "13/02/2001",
        "02/13/2001",
        "3.2.2001",
        "20010203",
        "1/2/01",
        "x",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(DATE_VALUES, max_size=30))
def test_date_format_stops_early_with_the_format_a_full_count_picks(values: list[str]) -> None:
    assert date_format(values) == _date_format_by_full_count(values)


# Text that the profile's shortcuts must read as the plain definitions do: ASCII and other digits (Arabic-Indic,
# superscript), separators, code-like runs.
PROFILED_TEXT = st.text(
    alphabet=st.sampled_from(list("ab Z09-./,;|()x\u0663\u00b2\u00e9\u212a")), max_size=14
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PROFILED_TEXT, max_size=25), st.integers(min_value=0, max_value=8))
def test_the_profiles_shortcuts_agree_with_the_plain_definitions(values: list[str], cap: int) -> None:
    """`_has_digit`, `_codes`, `segment_share` and `_forms` skip work on most values; each reads every value
    as its plain definition does."""
    for v in values:
        assert _has_digit(v) == any(c.isdigit() for c in v)
        runs = (m.replace("-", "").replace(".", "").replace("/", "") for m in CODE_PATTERN.findall(v.lower()))
        plain_codes = [
            c
            for c in runs
            if len(c) >= CODE_MIN_LENGTH and any(ch.isdigit() for ch in c) and any(ch.isalpha() for ch in c)
        ]
        assert _codes(v) == plain_codes
    parts = [SEGMENT_SEPARATORS.split(v) for v in values]
    many = sum(1 for p in parts if sum(1 for x in p if any(c.isalnum() for c in x)) >= MIN_SEGMENTS)
    assert segment_share(values) == (many / len(values) if values else 0.0)
    forms = len({_plain(v) for v in values})
    assert _forms(values, cap) == forms if forms <= cap else _forms(values, cap) > cap


def test_a_number_far_outside_the_rest_held_by_many_is_a_placeholder() -> None:
    """0.0 among one country's latitudes, or 9999 among years, stands for "unknown"; a common value at the
    edge of the rest (December among months, no children among counts) does not."""
    lats = [f"{50.75 + 0.01 * i:.4f}" for i in range(270)] + ["0.0", "0", "0.00"] * 30
    assert placeholder(lats) == 0.0
    assert placeholder([str(1900 + i % 120) for i in range(300)] + ["9999"] * 40) == 9999.0
    assert placeholder([str(1 + i % 12) for i in range(300)] + ["12"] * 10) is None
    assert placeholder([str(i % 6) for i in range(300)] + ["0"] * 60) is None
    assert placeholder([f"{i}.5" for i in range(300)]) is None  # nothing held by many
    assert placeholder(["0.0"] * 5 + ["52.1"] * 5) is None  # too few to tell


def test_a_placeholder_normalises_to_missing() -> None:
    profile = ColumnProfile("v", 0, ColumnKind.NUMBER, 0.0, 1.0, 1.0, 5.0, placeholder=0.0)
    got = {
        v: duckdb.sql(
            f"SELECT {normalized_sql(profile)} FROM (SELECT ?::VARCHAR AS v)", params=[v]
        ).fetchall()[0][0]
        for v in ("0", "0.0", "0.00", "52.1", "0.5", "n/a")
    }
    assert got == {"0": None, "0.0": None, "0.00": None, "52.1": "52.1", "0.5": "0.5", "n/a": None}


def test_lists_exported_with_stars_line_breaks_or_tabs_have_parts() -> None:
    """Patent registers join co-inventors with "**", exports put a list's items on lines or between tabs: each
    is a list of parts, as one joined by commas or bars is."""
    from findmatches.engine.profile import segment_share

    for sep in ("**", "\n", "\t", " | ", ", "):
        assert segment_share([sep.join(["smith john", "doe jane", "lee ann"])] * 10) == 1.0
    assert segment_share(["Philips Electronics N.V."] * 10) == 0.0


def test_a_numbered_list_loses_its_items_numbers_and_nothing_else_does() -> None:
    """Two submissions of one disc, one with numbered tracks, normalise alike; numbers that are not the items'
    places (a street number, a title's "99", a list not counted from 1) stay."""
    from findmatches.engine.profile import segments_sql, unnumbered_sql

    def parts(v: str, unnumbered: bool = True) -> str | None:
        value = unnumbered_sql("lower(v)") if unnumbered else "lower(v)"
        sql = f"SELECT {segments_sql(value)} FROM (SELECT ?::VARCHAR AS v)"
        return duckdb.sql(sql, params=[v]).fetchall()[0][0]  # type: ignore[no-any-return, union-attr]

    plain = parts("Highway Song | Goodbye Life | I Remember for You")
    for numbered in (
        "01. Highway Song | 02. Goodbye Life | 03. I Remember for You",
        "1 - Highway Song | 2 - Goodbye Life | 3 - I Remember for You",
        "1) Highway Song; 2) Goodbye Life; 3) I Remember for You",
        "1. Highway Song\n2. Goodbye Life\n3. I Remember for You",
        "1 Highway Song | 2 Goodbye Life | 3 I Remember for You",
    ):
        assert parts(numbered) == plain == "highway song|goodbye life|i remember for you"
    for kept in ("128 Mill Lane | Bristol", "99 Problems | 2 of Us", "1st Song | 2nd Song", "2. A | 3. B"):
        assert parts(kept) == parts(kept, unnumbered=False)
    assert _norm(ColumnKind.TEXT, "01. Dark Road | 02. Sun") == "dark road sun"
    assert _norm(ColumnKind.CODE, "1 - a | 2 - b") == "1a2b"
