"""Labels in the store: merge replaces whole labeling sets, ReplaceAllLabels forgets, and the READY rule."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from findmatches.io.labels import LABEL_SCHEMA
from findmatches.store.database import Database
from findmatches.store.labels import load_labels, write_labels

T = "tfm-1"


def labels(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "labeling_set_id": [r[0] for r in rows],
            "label": [r[1] for r in rows],
            "primary_key": [r[2] for r in rows],
            "record": [json.dumps({"id": r[2]}) for r in rows],
        },
        schema=LABEL_SCHEMA,
    )


@pytest.fixture
def db(tmp_path: Path) -> Database:
    db = Database(tmp_path)
    with db.write() as conn:
        conn.execute(
            "INSERT INTO transforms (transform_id, account, region, name, status, created, last_modified, "
            "doc) VALUES (?, 'a', 'r', 'n', 'NOT_READY', 0, 0, '{}')",
            (T,),
        )
    return db


def write(db: Database, rows: list[tuple[str, str, str]], replace: bool = False) -> None:
    with db.write() as conn:
        write_labels(conn, T, labels(rows), replace)


def stored(db: Database) -> list[tuple[str, str, str]]:
    table = load_labels(db.conn, T)
    return list(
        zip(*(table.column(c).to_pylist() for c in ("labeling_set_id", "label", "primary_key")), strict=True)
    )


def status(db: Database) -> tuple[str, int]:
    row = db.conn.execute("SELECT status, label_count FROM transforms WHERE transform_id=?", (T,)).fetchone()
    return row["status"], row["label_count"]


def test_merge_replaces_sets_and_replace_all_forgets(db: Database) -> None:
    write(db, [("s1", "A", "1"), ("s1", "B", "2"), ("s2", "A", "3")])
    write(db, [("s1", "A", "9"), ("s3", "C", "4")])
    assert stored(db) == [("s2", "A", "3"), ("s1", "A", "9"), ("s3", "C", "4")]
    write(db, [("s1", "A", "9"), ("s3", "C", "4")])  # the same file again changes nothing
    assert stored(db) == [("s2", "A", "3"), ("s1", "A", "9"), ("s3", "C", "4")]
    write(db, [("s4", "A", "5")], replace=True)
    assert stored(db) == [("s4", "A", "5")]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("s", "A", "1"), ("s", "A", "2"), ("s", "B", "3")], ("READY", 3)),
        ([("s", "A", "1"), ("s", "A", "2"), ("t", "X", "1"), ("t", "Y", "9")], ("READY", 4)),
        ([("s", "A", "1"), ("s", "A", "2")], ("NOT_READY", 2)),  # only a match
        ([("s", "A", "1"), ("s", "B", "2")], ("NOT_READY", 2)),  # only a non-match
        ([("s", "A", "1"), ("t", "A", "2")], ("NOT_READY", 2)),  # different sets say nothing
    ],
)
def test_ready_needs_a_match_and_a_non_match(
    db: Database, rows: list[tuple[str, str, str]], expected: tuple[str, int]
) -> None:
    write(db, rows)
    assert status(db) == expected


def test_replace_with_only_matches_goes_back_to_not_ready(db: Database) -> None:
    write(db, [("s", "A", "1"), ("s", "A", "2"), ("s", "B", "3")])
    assert status(db) == ("READY", 3)
    write(db, [("t", "A", "1"), ("t", "A", "2")], replace=True)
    assert status(db) == ("NOT_READY", 2)
