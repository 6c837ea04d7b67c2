"""The compiled model scores exactly as the scikit-learn estimators it was compiled from."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from findmatches.engine.additive import LinearAdditive, StepAdditive
from findmatches.engine.features import FeatureSpec, feature_spec
from findmatches.engine.model import MatchModel
from findmatches.engine.profile import ColumnKind, ColumnProfile

WIDTH = 6


def _spec(width: int = WIDTH) -> FeatureSpec:
    return FeatureSpec((), tuple(f"f{i}" for i in range(width)), ("c",) * width, (1,) * (width - 1) + (0,))


def _training(seed: int, n: int = 400, width: int = WIDTH) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    x = np.clip(rng.normal(0.4 + 0.4 * y[:, None], 0.2, (n, width)), 0, 1).astype(np.float32)
    x[rng.random((n, width)) < 0.1] = np.nan
    x[:, 2] = np.round(x[:, 2])  # a 0/1 feature, as "exact" is
    return x, y


_FITTED = {seed: MatchModel(_spec(), seed).fit(*_training(seed)) for seed in (0, 1)}

features = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 40), st.just(WIDTH)),
    elements=st.one_of(st.floats(-0.5, 1.5, width=32), st.just(np.nan), st.sampled_from([0.0, 0.5, 1.0])),
)


@settings(max_examples=60, deadline=None)
@given(x=features, seed=st.sampled_from([0, 1]))
def test_compiled_model_equals_sklearn(x: np.ndarray, seed: int) -> None:
    model = _FITTED[seed]
    # scikit-learn's pipeline keeps float32 input in float32; the lookups add in float64.
    np.testing.assert_allclose(model.predict(x), model.predict_exact(x), rtol=0, atol=1e-6)


def test_compiled_committee_equals_sklearn() -> None:
    model = _FITTED[0]
    x, _ = _training(7)
    exact = np.vstack([m.predict_proba(x)[:, 1] for m in model._committee])
    np.testing.assert_allclose(model.committee(x), exact, rtol=0, atol=1e-6)


def test_trees_are_additive_and_used() -> None:
    """The probe is only exact for one-feature trees; a model that splits on nothing would be a constant."""
    model = _FITTED[0]
    steps = model._main.steps
    assert steps is not None and len(steps.features) > 0
    x, y = _training(5)
    p = model.predict(x)
    assert p[y == 1].mean() > p[y == 0].mean() + 0.3


def test_step_additive_probe_recovers_a_step_function() -> None:
    def f(x: np.ndarray) -> np.ndarray:
        a = np.where(np.isnan(x[:, 0]), -1.0, np.where(x[:, 0] <= 0.5, 0.0, 2.0))
        b = np.where(
            np.isnan(x[:, 1]), 0.25, np.where(x[:, 1] <= 0.2, 1.0, np.where(x[:, 1] <= 0.7, 3.0, 4.0))
        )
        return np.asarray(a + b + 10.0)

    compiled = StepAdditive.probe([f], [[np.array([0.5]), np.array([0.2, 0.7])]], 2)
    x = np.array([[0.5, 0.2], [0.50001, 0.7], [np.nan, 0.9], [0.0, np.nan], [1.0, -3.0]])
    np.testing.assert_allclose(compiled.raw(x)[:, 0], f(x))


def test_linear_additive_probe_recovers_slopes_and_missing_values() -> None:
    slopes, nan_values = np.array([2.0, -1.0, 0.5]), np.array([0.3, 0.0, -2.0])

    def f(x: np.ndarray) -> np.ndarray:
        return np.asarray(1.5 + np.where(np.isnan(x), nan_values, np.nan_to_num(x) * slopes).sum(axis=1))

    compiled = LinearAdditive.probe([f, lambda x: 2 * f(x)], 3)
    x = np.array([[0.1, np.nan, 3.0], [np.nan, np.nan, np.nan], [1.0, 2.0, -1.0]])
    np.testing.assert_allclose(compiled.raw(x), np.column_stack([f(x), 2 * f(x)]))


@pytest.mark.parametrize("labels", [np.zeros(20), np.ones(20)])
def test_one_class_falls_back_to_unsupervised(labels: np.ndarray) -> None:
    x, _ = _training(3, n=20)
    model = MatchModel(_spec(), 0).fit(x, labels)
    assert not model.supervised and model.committee(x).shape == (0, 20)
    assert ((model.predict(x) >= 0) & (model.predict(x) <= 1)).all()


def test_with_only_non_matches_labelled_what_they_share_counts_for_nothing() -> None:
    """Before any match is labelled, the unsupervised score leaves out the similarity the labelled non-matches
    all have (a source column they agree on): a pair agreeing on that alone ranks below one agreeing on the
    rest, which the plain mean ranks the other way round."""
    spec = _spec(4)  # f0-f2 similarities, f3 a category's agreement
    rng = np.random.default_rng(0)
    non_matches = np.column_stack([rng.uniform(0, 0.4, (50, 3)), np.ones(50)]).astype(np.float32)
    same_source = np.array([[0.4, 0.4, 0.4, 1.0]], dtype=np.float32)
    similar = np.array([[0.6, 0.6, 0.6, 0.0]], dtype=np.float32)
    plain = MatchModel(spec, 0).fit(np.zeros((0, 4), np.float32), np.zeros(0))
    taught = MatchModel(spec, 0).fit(non_matches, np.zeros(50))
    assert not taught.supervised
    assert plain.predict(same_source)[0] > plain.predict(similar)[0]
    assert taught.predict(same_source)[0] < taught.predict(similar)[0]
    assert np.isclose(taught.predict(same_source)[0], 0.4**2, atol=1e-6)


def test_committee_members_each_go_without_one_column() -> None:
    """Labels where every match agrees on the title teach that only the title tells; the member without the
    title still votes for a pair agreeing on everything else, so the committee disagrees there and active
    learning asks about it."""
    profiles = (
        ColumnProfile("title", 0, ColumnKind.TEXT, 0.0, 1.0, 5.0, 30.0),
        ColumnProfile("description", 1, ColumnKind.TEXT, 0.3, 0.5, 20.0, 120.0),
    )
    spec = FeatureSpec(profiles, ("t0", "t1", "d0", "d1"), ("title",) * 2 + ("description",) * 2, (1,) * 4)
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(np.int64)
    x = np.clip(rng.normal(0.3 + 0.6 * y[:, None], 0.1, (300, 4)), 0, 1).astype(np.float32)
    model = MatchModel(spec, 0).fit(x, y)
    votes = model.committee(np.asarray([[0.3, 0.3, 0.95, 0.95], [0.95, 0.95, 0.95, 0.95]], np.float32))
    without_title = votes[0::2][0], votes[1::2][0]  # members 0 and 1 drop the most informative column
    assert max(without_title[0][0], without_title[1][0]) > 0.5 > min(votes[:, 0])
    assert (votes[:, 1] > 0.5).all()


def _two_shops(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Labelled pairs of two shops' listings: a match is always one listing of each shop; same-shop pairs are
    the look-alikes (a product family's members), with titles as alike as the matches' reworded ones."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(np.int64)
    same_shop = np.where(y == 1, 0.0, (rng.random(n) < 0.5).astype(np.float64))
    title = np.clip(rng.normal(np.where(y == 1, 0.7, 0.35 + 0.35 * same_shop), 0.1), 0, 1)
    shop_jw = np.where(same_shop == 1, 1.0, 0.93)
    return np.column_stack([same_shop, shop_jw, title, title]).astype(np.float32), y


def test_a_category_agreement_counts_the_way_the_labels_show() -> None:
    """A column of few values (the shop a listing comes from) is fitted free of direction: agreeing on it is
    evidence against a match where each source holds an entity once, and both members learn that."""
    profiles = [
        ColumnProfile("shop", 0, ColumnKind.CATEGORY, 0.0, 0.0002, 1.0, 6.0),
        ColumnProfile("title", 1, ColumnKind.TEXT, 0.0, 1.0, 6.0, 40.0),
    ]
    spec = feature_spec(profiles)
    directions = dict(zip(spec.names, spec.monotone, strict=True))
    assert directions["shop:exact"] == directions["shop:jw"] == 0
    assert directions["title:tsort"] == 1
    columns = [spec.names.index(n) for n in ("shop:exact", "shop:jw", "title:tsort", "title:indel")]
    x, y = _two_shops(0)
    wide = np.full((len(y), len(spec.names)), np.nan, np.float32)
    wide[:, columns] = x
    model = MatchModel(spec, 0).fit(wide, y, committee=False)
    pairs = np.full((2, len(spec.names)), np.nan, np.float32)
    pairs[:, columns] = [[1.0, 1.0, 0.7, 0.7], [0.0, 0.93, 0.7, 0.7]]  # same shop, then across shops
    for member in model._members:
        same, across = member.predict_proba(pairs)[:, 1]
        assert same < across - 0.2
    same, across = model.predict(pairs)
    assert same < 0.5 < across
