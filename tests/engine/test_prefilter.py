"""The pre-filter's cheap similarity (`features.cheap_sql`), computed by the query or, where the backend's SQL
functions are Python functions (Spark's UDFs, `Backend.python_functions`), in Python: the same numbers, and
the same pairs left out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa

from findmatches.engine.api import _score_candidates
from findmatches.engine.blocking import CANDIDATES, build_candidates
from findmatches.engine.features import FeatureSpec, cheap_similarity, pairs_sql, session_spec
from findmatches.engine.model import MatchModel
from findmatches.engine.session import Session, open_session
from findmatches.engine.types import MatchParams, RecordSource
from tests.engine.conftest import no_labels

PARAMS = MatchParams(primary_key="id")


@contextmanager
def _candidates(people: tuple[pa.Table, dict[str, str]]) -> Iterator[tuple[Session, FeatureSpec, int]]:
    """A session on the people, its feature spec and its candidate pairs (`CANDIDATES`), counted."""
    with open_session(RecordSource(table=people[0]), PARAMS, no_labels(), None, None) as s:
        spec = session_spec(s)
        yield s, spec, build_candidates(s).num_candidates


def test_the_cheap_similarity_computed_in_python_is_the_querys(
    people: tuple[pa.Table, dict[str, str]],
) -> None:
    with _candidates(people) as (s, spec, _):
        pairs = s.backend.query(pairs_sql(spec, f"SELECT l, r FROM {CANDIDATES}", with_cheap=True))
        by_query = pairs.column("cheap").to_numpy()
        # Missing values, equal ones, near and far ones: every case of the query's CASE.
        assert pairs.num_rows > 1000 and len(np.unique(by_query)) > 5
        assert np.array_equal(cheap_similarity(spec, pairs), by_query)


def test_the_mapped_function_leaves_out_the_pairs_the_query_would(
    people: tuple[pa.Table, dict[str, str]],
) -> None:
    with _candidates(people) as (s, spec, total):
        model = MatchModel(spec).fit(np.zeros((0, len(spec.names))), np.zeros(0))
        scored = {}
        for mapped in (False, True):
            s.backend.python_functions = mapped  # type: ignore[misc]
            left, right, prob, _, _ = _score_candidates(
                s, spec, model, f"SELECT l, r FROM {CANDIDATES}", min_cheap=0.6, quiet=True
            )
            scored[mapped] = sorted(zip(left.tolist(), right.tolist(), prob.tolist(), strict=True))
    assert 0 < len(scored[False]) < total
    assert scored[True] == scored[False]
