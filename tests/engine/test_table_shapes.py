"""The teach loop on tables of any shape: columns of every kind the profiler tells apart, and of none (empty,
constant, separators, emoji, thousands of characters), one record to a few hundred, entities of one to
eight records. Whatever the shape, each entry point either works or raises a named EngineError, and a
find-matches run writes every input row once with a match id."""

from __future__ import annotations

import datetime as dt
import random
import string

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findmatches.engine.api import evaluate, find_matches, generate_labeling_set
from findmatches.engine.types import EngineError, MatchParams, RecordSource
from tests.engine.conftest import no_labels, oracle_labels

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "university",
    "of",
    "the",
    "institute",
    "street",
    "road",
    "main",
    "north",
    "société",
    "münchen",
    "東京",
    "大学",
    "naïve",
    "café",
]


def _value(kind: str, r: random.Random) -> str | None:
    def word() -> str:
        return r.choice(WORDS)

    if kind == "name":
        return r.choice(["John", "Émile", "O'Brien", "Smith-Jones", "李", "van der Berg"]) + " " + word()
    if kind == "text":
        return " ".join(word() for _ in range(r.randint(1, 12)))
    if kind == "number":
        return str(r.randint(-5, 10 ** r.randint(1, 12)))
    if kind == "decimal":
        return f"{r.uniform(-1e6, 1e6):.{r.randint(0, 6)}f}"
    if kind == "date":
        d = dt.date(1900, 1, 1) + dt.timedelta(days=r.randint(0, 50_000))
        return r.choice([d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%b %d %Y"), str(d.year)])
    if kind == "category":
        return r.choice("abc")
    if kind == "code":
        return "".join(
            r.choice(string.ascii_uppercase + string.digits + "-") for _ in range(r.randint(3, 10))
        )
    if kind == "email":
        return f"{word()}{r.randint(0, 99)}@{r.choice(['x.com', 'y.org'])}"
    if kind == "phone":
        return r.choice(["+1 ", "(0)", ""]) + "".join(
            r.choice(string.digits) for _ in range(r.randint(5, 12))
        )
    if kind == "empty":
        return None
    if kind == "constant":
        return "same"
    if kind == "long":
        return " ".join(word() for _ in range(r.randint(100, 300)))
    if kind == "odd":
        return r.choice(
            ["", " ", "\n", "a,b", '"q"', "null", "NA", "-", "\t", "😀😀", "a|b|c|d", "1; 2", "\\", "%"]
        )
    if kind == "parts":
        return " | ".join(word() for _ in range(r.randint(3, 8)))
    return f"{word()} {r.randint(1, 999)} {word()}-{r.randint(10, 99)}"  # words and codes


KINDS = [
    "name", "text", "number", "decimal", "date", "category", "code", "email", "phone", "empty", "constant",
    "long", "odd", "parts", "mixed",
]  # fmt: skip


def _variant(value: str | None, r: random.Random) -> str | None:
    if value is None or r.random() < 0.5:
        return value
    if r.random() < 0.2:
        return None
    chars = list(value)
    if chars:
        chars[r.randrange(len(chars))] = r.choice(string.ascii_lowercase)
    return "".join(chars)


@st.composite
def tables(draw: st.DrawFn) -> tuple[pa.Table, dict[str, str]]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=6))
    sizes = draw(st.lists(st.sampled_from([1, 1, 2, 3, 8]), min_size=1, max_size=40))
    r = random.Random(draw(st.integers(0, 2**32)))
    rows: list[list[str | None]] = []
    truth: dict[str, str] = {}
    for entity, size in enumerate(sizes):
        first = [_value(k, r) for k in kinds]
        for i in range(size):
            truth[str(len(rows))] = str(entity)
            rows.append(first if i == 0 else [_variant(v, r) for v in first])
    order = list(range(len(rows)))
    r.shuffle(order)
    columns = {"id": pa.array([str(i) for i in order], pa.string())}
    for j, kind in enumerate(kinds):
        columns[f"{kind}_{j}"] = pa.array([rows[i][j] for i in order], pa.string())
    return pa.table(columns), truth


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=tables())
def test_every_shape_is_taught_and_matched_or_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, data: tuple[pa.Table, dict[str, str]]
) -> None:
    table, truth = data
    tmp = tmp_path_factory.mktemp("shape")
    source, params = RecordSource(table=table), MatchParams(primary_key="id")
    labels = no_labels()
    try:
        for round_no in (1, 2):
            out = tmp / f"round{round_no}.csv"
            if generate_labeling_set(source, params, labels, out_path=out, target_records=40, seed=round_no):
                rows = duckdb.read_csv(str(out), all_varchar=True, header=True).to_arrow_table()
                labels = pa.concat_tables([labels, oracle_labels(rows, truth)])
    except EngineError as e:
        assert str(e)
    out = tmp / "matches.parquet"
    written = find_matches(
        source, params, labels, out_path=out, out_format="parquet", compute_confidence=True
    )
    matched = duckdb.read_parquet(str(out)).to_arrow_table()
    assert written == matched.num_rows == table.num_rows
    assert sorted(matched.column("id").to_pylist()) == sorted(table.column("id").to_pylist())
    assert matched.column("match_id").null_count == 0
    assert matched.column_names[: table.num_columns] == table.column_names
    try:
        evaluate(source, params, labels)
    except EngineError as e:
        assert str(e)
