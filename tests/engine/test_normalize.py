"""The staged normalisation query gives exactly what the one-piece expression gives, for every kind."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.profile import ColumnKind, ColumnProfile, normalized_select, normalized_sql

PROFILES = [
    ColumnProfile("name", 0, ColumnKind.NAME, 0.0, 1.0, 1.0, 6.0),
    # Compared part by part and by its codes: its parts (``s_c1``) and codes (``k_c1``) are normalised beside it.
    ColumnProfile("text", 1, ColumnKind.TEXT, 0.0, 1.0, 4.0, 30.0, segment_share=0.8, code_share=0.5),
    ColumnProfile("number", 2, ColumnKind.NUMBER, 0.0, 1.0, 1.0, 3.0, digits=4),
    ColumnProfile("date", 3, ColumnKind.DATE, 0.0, 1.0, 1.0, 10.0, date_format="%m/%d/%Y"),
    ColumnProfile("code", 4, ColumnKind.CODE, 0.0, 1.0, 1.0, 8.0),
    ColumnProfile("email", 5, ColumnKind.EMAIL, 0.0, 1.0, 1.0, 20.0),
    ColumnProfile("phone", 6, ColumnKind.PHONE, 0.0, 1.0, 1.0, 12.0),
    ColumnProfile("category", 7, ColumnKind.CATEGORY, 0.0, 0.1, 1.0, 5.0),
    ColumnProfile("parts", 8, ColumnKind.TEXT, 0.0, 1.0, 6.0, 40.0, segment_share=0.9),
]
VALUES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            *("", " NA ", "null", "José-María  Ñúñez", "4/1/1980", "04/01/1980", "(02) 9876-5432", "1,5"),
            *(
                "Dept. of Physics, Univ. of Bristol; UK",
                " | a - b (c) [d] /",
                "Sony DSC-W830 (dscw830) 20.1MP",
            ),
        ]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=8))
def test_staged_normalisation_equals_the_one_piece_expression(values: list[str | None]) -> None:
    con = duckdb.connect()
    try:
        cols = ", ".join(f"CAST(v AS VARCHAR) AS {p.name}" for p in PROFILES)
        con.execute(
            f"CREATE TABLE t AS SELECT i, {cols} FROM (SELECT unnest(range(?)) AS i, unnest(?) AS v)",
            [len(values), values],
        )
        flat = ", ".join(f"{normalized_sql(p)} AS {p.alias}" for p in PROFILES)
        want = con.sql(f"SELECT i, {flat} FROM t ORDER BY i").fetchall()
        staged = normalized_select(PROFILES, "t", [("i", "i")])
        aliases = ", ".join(p.alias for p in PROFILES)
        got = con.sql(f"SELECT i, {aliases} FROM ({staged}) ORDER BY i").fetchall()
        assert got == want
    finally:
        con.close()


@settings(max_examples=30, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=6), st.lists(VALUES, min_size=1, max_size=6))
def test_normalising_per_distinct_value_equals_per_row(
    repeated: list[str | None], once: list[str | None]
) -> None:
    """Columns whose values repeat are normalised once per value and joined back: the same result, with the
    values and their counts from the records or from one table of them all (`VALUE_COUNTS`)."""
    from findmatches.engine.backends import DuckDBBackend
    from findmatches.engine.normalised_table import (
        VALUE_COUNTS,
        layout,
        normalised_table_sql,
        value_counts_sql,
    )
    from findmatches.engine.session import RECORDS

    values = repeated * 3
    be = DuckDBBackend()
    try:
        unique = [f"{v}#{i}" if v is not None else None for i, v in enumerate((once * 3)[: len(values)])]
        unique += [None] * (len(values) - len(unique))
        cols = ", ".join(f"CAST(v AS VARCHAR) AS {p.name}" for p in PROFILES[:4]) + ", "
        cols += ", ".join(f"CAST(u AS VARCHAR) AS {p.name}" for p in PROFILES[4:])
        be.execute(
            f"CREATE TABLE {RECORDS} AS SELECT i AS _rid, {cols} FROM (SELECT unnest(range({len(values)})) AS i, "
            f"unnest({_sql_list(values)}::VARCHAR[]) AS v, unnest({_sql_list(unique)}::VARCHAR[]) AS u)"
        )
        keep = [("_rid", "_rid")]
        want = be.query(f"SELECT * FROM ({normalized_select(PROFILES, RECORDS, keep)}) ORDER BY _rid")
        lay = layout(be, PROFILES, len(values), RECORDS)
        be.execute(f"CREATE TABLE {VALUE_COUNTS} AS {value_counts_sql(lay, RECORDS)}")
        for counts in (None, VALUE_COUNTS):
            sql = normalised_table_sql(lay, keep, RECORDS, counts)
            got = be.query(f"SELECT * FROM ({sql}) ORDER BY _rid")
            assert got.select(want.column_names).to_pylist() == want.to_pylist()
    finally:
        be.close()


def _sql_list(values: list[str | None]) -> str:
    return "[" + ", ".join("NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in values) + "]"


def _normalised(profile: ColumnProfile, values: list[str]) -> list[str | None]:
    con = duckdb.connect()
    try:
        con.execute(
            f"CREATE TABLE t AS SELECT unnest(?) AS {profile.name}, unnest(range(?)) AS i",
            [values, len(values)],
        )
        return [r[0] for r in con.sql(f"SELECT {normalized_sql(profile)} FROM t ORDER BY i").fetchall()]
    finally:
        con.close()


def test_special_latin_letters_are_spelled_out() -> None:
    """Letters without a combining-mark decomposition compare equal to their usual ASCII spelling."""
    name, text = PROFILES[0], PROFILES[1]
    assert _normalised(text, ["Hauptstraße 5", "HAUPTSTRASSE 5"]) == ["hauptstrasse 5", "hauptstrasse 5"]
    assert _normalised(name, ["Søren Ærø", "Łukasz Œuvre", "Þór Đorđe"]) == [
        "soren aero",
        "lukasz oeuvre",
        "thor dorde",
    ]


def test_letters_of_every_script_are_kept() -> None:
    """Non-Latin names are values, not punctuation: only the separators between their words go."""
    name, code = PROFILES[0], PROFILES[4]
    assert _normalised(name, ["Αλέξανδρος  Παπαδόπουλος", "山田 太郎", "Иван-Петров"]) == [
        "αλεξανδρος παπαδοπουλος",
        "山田 太郎",
        "иван петров",
    ]
    assert _normalised(code, ["АБ-12/3", "x.9"]) == ["аб123", "x9"]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.one_of(
            VALUES,
            st.text(alphabet="0123456789 -().+/x#", max_size=18),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_phones_keep_their_last_ten_digits_whatever_the_separators(values: list[str | None]) -> None:
    """The plain replaces and the GLOB that spare most phones the regular expression change nothing: the
    result is the last ten of the value's digits, as one regular expression over the value gives."""
    from findmatches.engine.profile import _cleaned

    phone = ColumnProfile("v", 0, ColumnKind.PHONE, 0.0, 1.0, 1.0, 12.0)
    # A number's cleaned value is the trimmed one, placeholders NULL: what the phone's was before its replaces.
    plain = ColumnProfile("v", 0, ColumnKind.NUMBER, 0.0, 1.0, 1.0, 12.0)
    reference = f"nullif(right(regexp_replace({_cleaned(plain)}, '[^0-9]+', '', 'g'), 10), '')"
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t AS SELECT unnest(?) AS v", [values])
        got = con.sql(f"SELECT {normalized_sql(phone)} AS a, {reference} AS b FROM t").fetchall()
        assert all(a == b for a, b in got)
    finally:
        con.close()


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet="abz0189-./ ,", max_size=30))
def test_codes_in_sql_are_the_codes_python_finds(value: str) -> None:
    """`codes_sql` (on the engine's backends) finds what `profile._codes` (which profiles the column) finds."""
    from findmatches.engine.profile import _codes, codes_sql

    got = duckdb.sql(f"SELECT {codes_sql('v')} FROM (SELECT ?::VARCHAR AS v)", params=[value]).fetchall()[0][
        0
    ]
    assert got == (" ".join(sorted(set(_codes(value)))) or None)
