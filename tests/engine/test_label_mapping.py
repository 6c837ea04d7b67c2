"""Labels mapped onto the loaded records (`session._map_labels`)."""

from __future__ import annotations

import pyarrow as pa

from findmatches.engine.session import open_session
from findmatches.engine.types import MatchParams, RecordSource

PARAMS = MatchParams(primary_key="id")


def test_labels_map_onto_the_records_and_count_those_not_there() -> None:
    """The labels' records are found by one scan of the records (`session._map_labels`): each labelled key's
    records (a key two records share labels both), its pairs by labeling set, and the labels whose key the
    input lacks are counted and left out."""
    records = pa.table({"id": ["a", "b", "c", "c", "d"], "name": ["ann", "anne", "bob", "bob", "eve"]})
    labels = pa.table(
        {
            "labeling_set_id": ["s1", "s1", "s1", "s2", "s2", "s2", "s2"],
            "label": ["x", "x", "y", "p", "p", "q", " "],
            "primary_key": ["a", "b", "c", "d", "gone", "also gone", "a"],
        }
    )
    logged: list[str] = []
    with open_session(RecordSource(table=records), PARAMS, labels, logged.append, None) as s:
        left, right, y = s.labelled
        rids = s.labelled_rids.tolist()
    assert rids == [0, 1, 2, 3, 4]  # both records of key "c"; the blank label of "a" in s2 is no label
    pairs = sorted(zip(left.tolist(), right.tolist(), y.tolist(), strict=True))
    assert pairs == [(0, 1, 1), (0, 2, 0), (0, 3, 0), (1, 2, 0), (1, 3, 0), (2, 3, 1)]
    assert "2 labelled record(s) are not in the input and were ignored." in logged
