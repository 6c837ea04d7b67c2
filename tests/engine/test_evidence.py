"""Columns the labels show to carry no evidence are left out of matching (`findmatches.engine.evidence`)."""

from __future__ import annotations

import random
import string

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.evidence import silent_columns
from findmatches.engine.session import open_session
from findmatches.engine.types import MatchParams, RecordSource
from tests.engine.conftest import oracle_labels


def _pairs(n: int, seed: int) -> tuple[np.ndarray, dict[str, tuple[list[str | None], list[str | None]]]]:
    """``n`` labelled pairs, a fifth of them matches: a name the matches share, a shop code the non-matches
    share more often, and an opaque id and a batch code that know nothing."""
    rng = random.Random(seed)
    y = np.array([1 if i % 5 == 0 else 0 for i in range(n)])
    names: list[str | None] = [f"name{rng.randrange(10**6)}" for _ in range(n)]
    other = [f"name{rng.randrange(10**6)}" for _ in range(n)]

    def opaque() -> str:
        return "".join(rng.choices(string.ascii_uppercase + string.digits, k=10))

    values: dict[str, tuple[list[str | None], list[str | None]]] = {
        "name": (names, [a if m else b for a, b, m in zip(names, other, y, strict=True)]),
        "shop": (
            ["a"] * n,
            ["b" if m else ("a" if rng.random() < 0.7 else "b") for m in y],
        ),
        "ref": ([opaque() for _ in range(n)], [opaque() for _ in range(n)]),
        "batch": ([rng.choice("ABCDE") for _ in range(n)], [rng.choice("ABCDE") for _ in range(n)]),
    }
    return y, values


def test_columns_without_evidence_are_silent_and_the_others_kept() -> None:
    y, values = _pairs(600, 0)
    assert sorted(silent_columns(values, y)) == ["batch", "ref"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_a_column_that_tells_matches_apart_either_way_is_never_silent(seed: int) -> None:
    y, values = _pairs(400, seed)
    silent = silent_columns(values, y)
    assert "name" not in silent and "shop" not in silent


def test_too_few_labels_judge_nothing() -> None:
    y, values = _pairs(30, 1)  # 6 matches
    assert silent_columns(values, y) == []


def test_missing_values_are_not_evidence_and_an_all_missing_column_is_left_to_the_model() -> None:
    y, values = _pairs(300, 2)
    left, right = values["name"]
    values["name"] = (left, [v if i % 2 else None for i, v in enumerate(right)])
    values["empty"] = ([None] * 300, [None] * 300)
    assert sorted(silent_columns(values, y)) == ["batch", "ref"]


def test_a_session_leaves_out_an_opaque_id_and_keeps_it_out_of_the_sort_key(
    people: tuple[pa.Table, dict[str, str]],
) -> None:
    table, truth = people
    rng = random.Random(5)
    ref = ["".join(rng.choices(string.ascii_uppercase + string.digits, k=12)) for _ in range(table.num_rows)]
    table = table.append_column("internal_ref", pa.array(ref))
    # Labeling sets of true entities and their neighbours by surname, as a person would answer them.
    ids = table.column("id").to_pylist()
    order = np.argsort(np.asarray(table.column("surname").to_pylist(), dtype=object).astype(str))
    sets = [f"s{i // 10}" for i in range(len(order))]
    rows = pa.table(
        {
            "labeling_set_id": pa.array(sets),
            "id": pa.array([ids[i] for i in order]),
        }
    )
    labels = oracle_labels(rows, truth)
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        assert session.silent == ("internal_ref",)
        assert "internal_ref" not in [p.name for p in session.feature_profiles]
        alias = next(p.alias for p in session.profiles if p.name == "internal_ref")
        assert f"coalesce({alias}, '')" not in session.signature
    # Without labels nothing is judged: the id, unique per record, leads the sort key.
    source = RecordSource(table=table)
    with open_session(source, MatchParams(primary_key="id"), labels.slice(0, 0), None, None) as unlabelled:
        assert unlabelled.silent == ()
        assert "internal_ref" in [p.name for p in unlabelled.feature_profiles]
        assert f"coalesce({alias}, '')" in unlabelled.signature


def test_a_column_present_in_too_few_pairs_to_judge_is_kept() -> None:
    y, values = _pairs(600, 3)
    left, right = values["ref"]
    # Present in 20 pairs (4 matches): no AUC could be told from chance there.
    values["ref"] = (left, [v if i < 20 else None for i, v in enumerate(right)])
    assert silent_columns(values, y) == ["batch"]
