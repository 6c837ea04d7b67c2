"""Columns the labels show to carry no evidence are left out of matching (`findmatches.engine.evidence`)."""

from __future__ import annotations

import random
import string

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.evidence import silent_columns
from findmatches.engine.features import RECORD, codes_key, features_for, session_spec
from findmatches.engine.session import open_session
from findmatches.engine.types import MatchParams, RecordSource
from tests.engine.conftest import oracle_labels

COLUMNS = ("name", "name", "shop", "ref", "ref", "batch", RECORD)
MONOTONE = (1, 1, 0, 1, 1, 0, 1)


def _features(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled pairs' features, a fifth of them matches: two similarities of a name the matches share,
    a shop's agreement that the non-matches share more often, two similarities of an opaque id and a batch
    code's agreement that know nothing, and a whole-record feature that is not judged."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 5 == 0).astype(np.int64)
    name = np.where(y == 1, rng.uniform(0.8, 1.0, n), rng.uniform(0.0, 0.9, n))
    shop = np.where(y == 1, 0.0, (rng.random(n) < 0.7).astype(float))
    x = np.column_stack(
        [
            name,
            name**2,
            shop,
            rng.random(n),
            rng.random(n),
            (rng.random(n) < 0.2).astype(float),
            rng.random(n),
        ]
    )
    return x, y


def test_columns_without_evidence_are_silent_and_the_others_kept() -> None:
    x, y = _features(600, 0)
    assert silent_columns(COLUMNS, MONOTONE, x, y, skip=RECORD) == ["ref", "batch"]
    assert silent_columns(COLUMNS, MONOTONE, x, y) == ["ref", "batch", RECORD]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_a_column_that_tells_matches_apart_either_way_is_never_silent(seed: int) -> None:
    x, y = _features(400, seed)
    silent = silent_columns(COLUMNS, MONOTONE, x, y, skip=RECORD)
    assert "name" not in silent and "shop" not in silent


def test_a_similarity_that_ranks_the_matches_below_chance_is_no_evidence() -> None:
    # Labeling sets are drawn where the model is unsure: non-matches that random notes made look alike.
    x, y = _features(600, 4)
    x[:, 3] = np.where(y == 1, 0.2, 0.6) + 0.3 * np.random.default_rng(1).random(len(y))
    assert silent_columns(COLUMNS, MONOTONE, x, y, skip=RECORD) == ["ref", "batch"]
    # A category's agreement may count either way: the same numbers under a free direction are evidence.
    assert silent_columns(COLUMNS, (1, 1, 0, 0, 1, 0, 1), x, y, skip=RECORD) == ["batch"]


def test_too_few_labels_judge_nothing() -> None:
    x, y = _features(45, 1)  # 9 matches
    assert silent_columns(COLUMNS, MONOTONE, x, y) == []


def test_one_telling_feature_is_enough_and_missing_values_are_no_evidence() -> None:
    x, y = _features(600, 2)
    x[:, 0] = np.random.default_rng(0).random(len(y))  # the name's first similarity knows nothing now
    x[::2, 1] = np.nan  # and its second is missing in half the pairs
    x[:, 5] = np.nan  # a column missing everywhere is left to the model
    assert silent_columns(COLUMNS, MONOTONE, x, y, skip=RECORD) == ["ref"]


def test_a_feature_present_in_too_few_pairs_to_judge_is_kept() -> None:
    x, y = _features(600, 3)
    x[20:, 3] = x[20:, 4] = np.nan  # the id present in 20 pairs (4 matches): no AUC could be told there
    assert silent_columns(COLUMNS, MONOTONE, x, y, skip=RECORD) == ["batch"]


def test_a_session_leaves_out_an_opaque_id_and_keeps_it_out_of_the_sort_key(
    people: tuple[pa.Table, dict[str, str]],
) -> None:
    table, truth = people
    rng = random.Random(5)
    ref = ["".join(rng.choices(string.ascii_uppercase + string.digits, k=12)) for _ in range(table.num_rows)]
    table = table.append_column("internal_ref", pa.array(ref))
    # Labeling sets of neighbours by surname, answered from the truth.
    ids = table.column("id").to_pylist()
    order = np.argsort(np.asarray(table.column("surname").to_pylist(), dtype=object).astype(str))
    rows = pa.table(
        {
            "labeling_set_id": pa.array([f"s{i // 10}" for i in range(len(order))]),
            "id": pa.array([ids[i] for i in order]),
        }
    )
    labels = oracle_labels(rows, truth)
    source, params = RecordSource(table=table), MatchParams(primary_key="id")
    with open_session(source, params, labels, None, None) as session:
        alias = next(p.alias for p in session.profiles if p.name == "internal_ref")
        # Before the labels are judged, the id, unique per record, leads the sort key.
        assert f"coalesce({alias}, '')" in session.signature
        spec = session_spec(session)
        assert session.silent == ("internal_ref",)
        assert "internal_ref" not in spec.columns
        assert "internal_ref" not in [p.name for p in session.feature_profiles]
        assert f"coalesce({alias}, '')" not in session.signature
        assert session_spec(session) == spec  # judged the same again
    with open_session(source, params, labels.slice(0, 0), None, None) as unlabelled:
        assert "internal_ref" in session_spec(unlabelled).columns
        assert unlabelled.silent == ()


def test_evaluation_gives_a_silent_column_no_importance(people: tuple[pa.Table, dict[str, str]]) -> None:
    from findmatches.engine.api import evaluate

    table, truth = people
    rng = random.Random(6)
    table = table.append_column("batch", pa.array([rng.choice("ABCDE") for _ in range(table.num_rows)]))
    ids = table.column("id").to_pylist()
    order = np.argsort(np.asarray(table.column("surname").to_pylist(), dtype=object).astype(str))
    rows = pa.table(
        {
            "labeling_set_id": pa.array([f"s{i // 10}" for i in range(len(order))]),
            "id": pa.array([ids[i] for i in order]),
        }
    )
    result = evaluate(RecordSource(table=table), MatchParams(primary_key="id"), oracle_labels(rows, truth))
    importance = {c.column: c.importance for c in result.column_importances}
    assert importance["batch"] == 0.0
    assert set(importance) == set(table.column_names) - {"id"}
    assert max(importance.values()) == 1.0


def test_a_silent_code_column_takes_the_whole_records_codes_with_it() -> None:
    """A column of internal notes holds codes ("lot ab12x9") that tell nothing; the titles and makers hold
    none. Left out, it takes the whole record's codes with it, and the pairs are still compared."""
    rng = random.Random(3)
    words = [
        "red",
        "blue",
        "lamp",
        "desk",
        "chair",
        "table",
        "shelf",
        "stool",
        "sofa",
        "rug",
        "clock",
        "vase",
    ]
    makers = ["acme", "bolt", "crest", "delta", "echo", "falcon", "gala", "helix"]
    titles, maker, notes, truth = [], [], [], {}
    for e in range(60):
        title = " ".join(rng.sample(words, 3))
        for k in range(2 if e % 3 else 1):
            pk = f"{e}-{k}"
            titles.append(title if k == 0 else title + " new")
            maker.append(makers[e % len(makers)])
            letters, digits = rng.choices(string.ascii_lowercase, k=2), rng.choices(string.digits, k=3)
            notes.append(f"lot {''.join(letters + digits)} bin {rng.choice(words)}")
            truth[pk] = f"e{e}"
    ids = list(truth)
    table = pa.table({"id": ids, "title": titles, "maker": maker, "notes": notes})
    rows = pa.table({"labeling_set_id": pa.array([f"s{i // 10}" for i in range(len(ids))]), "id": ids})
    labels = oracle_labels(rows, truth)
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        notes_profile = next(p for p in session.profiles if p.name == "notes")
        assert notes_profile.compares_codes
        spec = session_spec(session)
        assert session.silent == ("notes",)
        assert not any(name.startswith(f"{RECORD}:codes") for name in spec.names)
        assert codes_key(RECORD) not in spec.words
        x = features_for(session, spec, np.array([0, 1]), np.array([1, 2]))
        assert x.shape == (2, len(spec.names))
