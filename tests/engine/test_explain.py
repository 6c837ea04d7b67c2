"""Per-record match explanations: the weights add up to the pair's score, levels follow the values."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.api import _label_features, find_matches
from findmatches.engine.explain import CLOSE_LEVEL, DIFFERENT, EXACT, choose_partners, levels
from findmatches.engine.features import RECORD, feature_spec, features_for, session_spec
from findmatches.engine.model import MatchModel
from findmatches.engine.profile import ColumnKind, ColumnProfile
from findmatches.engine.session import NORM, open_session
from findmatches.engine.types import MatchParams, RecordSource

PARAMS = MatchParams(primary_key="id")


def _labels(table: pa.Table, truth: dict[str, str], sets: int = 24, size: int = 10) -> pa.Table:
    """Oracle labels on sets of records sorted by entity, so that each set holds matches and non-matches."""
    ids = sorted(table.column("id").to_pylist(), key=lambda k: (truth[k], k))[: sets * size]
    return pa.table(
        {
            "labeling_set_id": [f"s{i // size}" for i in range(len(ids))],
            "label": [truth[k] for k in ids],
            "primary_key": ids,
        }
    )


@pytest.fixture(scope="module")
def explained(
    people: tuple[pa.Table, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[pa.Table, pa.Table, dict[str, dict[str, Any]]]:
    """The people with a copy of one complete record (``twin``) and a record with its e-mail removed
    (``gap``), matched with explanations; returns the input, the labels and each record's explanation."""
    table, truth = people
    rows = table.to_pylist()
    complete = next(r for r in rows if all(v is not None for v in r.values()))
    rows.append({**complete, "id": "twin"})
    truth = {**truth, "twin": truth[complete["id"]]}
    with_email = next(r for r in rows[1:] if r["email"] is not None and r["id"] != complete["id"])
    rows.append({**with_email, "id": "gap", "email": None})
    truth["gap"] = truth[with_email["id"]]
    table = pa.Table.from_pylist(rows, schema=table.schema)
    labels = _labels(table, truth)
    out = tmp_path_factory.mktemp("explain") / "out.parquet"
    find_matches(
        RecordSource(table=table),
        PARAMS,
        labels,
        out_path=out,
        out_format="parquet",
        compute_confidence=True,
        compute_explanations=True,
    )
    written = pq.read_table(out)
    docs = {
        key: json.loads(text)
        for key, text in zip(
            written.column("id").to_pylist(), written.column("match_explanation").to_pylist(), strict=True
        )
        if text is not None
    }
    return table, labels, docs


def test_weights_sum_to_the_pairs_score(
    explained: tuple[pa.Table, pa.Table, dict[str, dict[str, Any]]],
) -> None:
    table, labels, docs = explained
    assert len(docs) > 0.9 * table.num_rows
    for doc in docs.values():
        total = doc["prior"] + sum(w for _, w in doc["columns"].values())
        assert total == pytest.approx(doc["score"], abs=1e-5 * len(doc["columns"]))
        assert doc["probability"] == pytest.approx(1 / (1 + math.exp(-doc["score"])), abs=1e-6)
        assert 0.0 <= doc["match_probability"] <= 1.0
        assert list(doc["columns"])[-1] == RECORD
    # ...and the score is the model's own for that pair: the same model, fitted again on the same labels,
    # scores the explained pairs with scikit-learn's decision functions (not the compiled lookups).
    with open_session(RecordSource(table=table), PARAMS, labels, None, None) as session:
        spec = session_spec(session)
        x, y = _label_features(session, spec)
        model = MatchModel(spec, 0).fit(x, y, committee=False)
        keys = session.backend.query(f"SELECT _rid, _pk FROM {NORM}")
        rid = dict(zip(keys.column("_pk").to_pylist(), keys.column("_rid").to_pylist(), strict=True))
        chosen = sorted(docs)[:60]
        left = np.array([rid[k] for k in chosen], dtype=np.int64)
        right = np.array([rid[docs[k]["partner"]] for k in chosen], dtype=np.int64)
        lo, hi = np.minimum(left, right), np.maximum(left, right)
        features = features_for(session, spec, lo, hi)
    members = []
    for member in model._members:
        folds = [c.estimator for c in member.calibrated_classifiers_]
        raws = [
            f.raw_score(features) if hasattr(f, "raw_score") else f.decision_function(features) for f in folds
        ]
        members.append(np.mean(raws, axis=0))
    exact = np.mean(members, axis=0)
    assert [docs[k]["score"] for k in chosen] == pytest.approx(exact.tolist(), abs=1e-4)
    assert [docs[k]["match_probability"] for k in chosen] == pytest.approx(
        model.predict(features).tolist(), abs=1e-5
    )


def test_an_identical_pair_is_exact_everywhere(
    explained: tuple[pa.Table, pa.Table, dict[str, dict[str, Any]]],
) -> None:
    table, _, docs = explained
    twin = docs["twin"]
    rows = table.to_pylist()
    copied = next(r for r in rows if r["id"] == "twin")
    original = next(r for r in rows if r["id"] != "twin" and {**r, "id": "twin"} == copied)
    assert twin["partner"] == original["id"] and twin["same_group"] is True
    assert [level for level, _ in twin["columns"].values()] == ["exact"] * len(twin["columns"])
    assert all(weight > 0 for _, weight in twin["columns"].values()), twin
    assert twin["probability"] > 0.5


def test_a_missing_value_explains_as_missing(
    explained: tuple[pa.Table, pa.Table, dict[str, dict[str, Any]]],
) -> None:
    _, _, docs = explained
    assert docs["gap"]["columns"]["email"] == ["missing", 0.0]


def test_no_explanations_unless_asked(people: tuple[pa.Table, dict[str, str]], tmp_path: Path) -> None:
    table, truth = people
    out = tmp_path / "out.parquet"
    find_matches(
        RecordSource(table=table),
        PARAMS,
        _labels(table, truth),
        out_path=out,
        out_format="parquet",
        compute_confidence=False,
    )
    assert "match_explanation" not in pq.read_table(out).column_names


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11), st.floats(0, 1)), max_size=40),
    st.lists(st.integers(0, 3), min_size=12, max_size=12),
)
def test_partners_prefer_the_own_group(pairs: list[tuple[int, int, float]], groups: list[int]) -> None:
    pairs = [(a, b, p) for a, b, p in pairs if a < b]
    left = np.array([a for a, _, _ in pairs], dtype=np.int64)
    right = np.array([b for _, b, _ in pairs], dtype=np.int64)
    prob = np.array([p for _, _, p in pairs])
    rep = np.array(groups, dtype=np.int64)
    partner = choose_partners(10, left, right, prob, rep)
    for record in range(10):
        links = [(p, b if a == record else a) for a, b, p in pairs if record in (a, b)]
        if not links:
            assert partner[record] == -1
            continue
        own = [link for link in links if rep[link[1]] == rep[record]]
        best = max(p for p, _ in (own or links))
        chosen = [p for p, other in (own or links) if other == partner[record]]
        assert chosen and max(chosen) == best


@pytest.fixture(scope="module")
def fitted(people: tuple[pa.Table, dict[str, str]]) -> tuple[MatchModel, np.ndarray]:
    """The model find_matches fits on the people's oracle labels, and the labelled pairs' features."""
    table, truth = people
    with open_session(RecordSource(table=table), PARAMS, _labels(table, truth), None, None) as session:
        spec = session_spec(session)
        x, y = _label_features(session, spec)
    return MatchModel(spec, 0).fit(x, y, committee=False), x


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_weights_sum_to_the_score_for_any_features(fitted: tuple[MatchModel, np.ndarray], data: Any) -> None:
    model, x = fitted
    rows = data.draw(st.integers(1, 20))
    values = data.draw(
        st.lists(
            st.one_of(st.none(), st.floats(0, 1), st.sampled_from([0.0, 1.0])),
            min_size=rows * x.shape[1],
            max_size=rows * x.shape[1],
        )
    )
    features = np.array([np.nan if v is None else v for v in values], dtype=np.float32).reshape(rows, -1)
    explained = model.explain(features)
    assert explained is not None
    bias, terms = explained
    assert terms.shape == features.shape
    assert bias + terms.sum(axis=1) == pytest.approx(model.log_odds(features), abs=1e-9)
    assert np.all(terms[np.isnan(features)] == 0.0)  # a missing value weighs nothing


def test_the_same_words_in_another_order_are_close() -> None:
    """A name of two words written "smith, john" and "john smith": far apart by every edit similarity, the
    same words by the token sort ratio."""
    spec = feature_spec([ColumnProfile("name", 0, ColumnKind.NAME, 0.0, 1.0, 2.0, 10.0)])
    position = {n: j for j, n in enumerate(spec.names)}
    x = np.zeros((3, len(spec.names)))
    x[:, position["name:jw"]] = 0.55
    x[:, position["name:tsort"]] = [1.0, 0.6, 1.0]
    x[2, position["name:exact"]] = 1.0
    assert levels(spec, x, ["name"])[:, 0].tolist() == [CLOSE_LEVEL, DIFFERENT, EXACT]
