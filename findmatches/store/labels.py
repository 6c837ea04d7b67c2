"""A transform's labels in the metadata store: merge, replace, read, and the READY rule."""

from __future__ import annotations

import json
import sqlite3

import pyarrow as pa

LABEL_COLUMNS = ("labeling_set_id", "label", "primary_key")


def write_labels(conn: sqlite3.Connection, transform_id: str, labels: pa.Table, replace_all: bool) -> None:
    """Merge ``labels`` into the transform's labels, or replace them all; call inside a write transaction.

    Merging keeps earlier labels, except that a labeling set present in ``labels`` replaces that set's
    earlier rows (importing the same file twice changes nothing).
    """
    rows = labels.select([*LABEL_COLUMNS, "record"]).to_pylist()
    if replace_all:
        conn.execute("DELETE FROM labels WHERE transform_id=?", (transform_id,))
    else:
        conn.executemany(
            "DELETE FROM labels WHERE transform_id=? AND labeling_set_id=?",
            [(transform_id, s) for s in {r["labeling_set_id"] for r in rows}],
        )
    start = conn.execute(
        "SELECT COALESCE(MAX(ordinal), -1) + 1 FROM labels WHERE transform_id=?", (transform_id,)
    ).fetchone()[0]
    conn.executemany(
        "INSERT INTO labels (transform_id, ordinal, labeling_set_id, label, primary_key, record) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (transform_id, start + i, r["labeling_set_id"], r["label"], r["primary_key"], r["record"] or "{}")
            for i, r in enumerate(rows)
        ],
    )
    refresh_status(conn, transform_id)


def refresh_status(conn: sqlite3.Connection, transform_id: str) -> None:
    """LabelCount = labelled records; READY once the labels hold both a match and a non-match."""
    count = conn.execute("SELECT COUNT(*) FROM labels WHERE transform_id=?", (transform_id,)).fetchone()[0]
    # Per labeling set: a match exists where a label repeats; a non-match where a set has two labels.
    has_match, has_non_match = conn.execute(
        """
        SELECT COALESCE(MAX(n_rows > n_labels), 0), COALESCE(MAX(n_labels > 1), 0) FROM (
            SELECT labeling_set_id, COUNT(*) AS n_rows, COUNT(DISTINCT label) AS n_labels
            FROM labels WHERE transform_id=? GROUP BY labeling_set_id
        )
        """,
        (transform_id,),
    ).fetchone()
    status = "READY" if has_match and has_non_match else "NOT_READY"
    conn.execute(
        "UPDATE transforms SET label_count=?, status=? WHERE transform_id=?", (count, status, transform_id)
    )


def load_labels(conn: sqlite3.Connection, transform_id: str) -> pa.Table:
    """The transform's labels, in import order, as the engine takes them (plus ``record``)."""
    rows = conn.execute(
        "SELECT labeling_set_id, label, primary_key, record FROM labels WHERE transform_id=? ORDER BY ordinal",
        (transform_id,),
    ).fetchall()
    return pa.table(
        {name: pa.array([r[name] for r in rows], pa.string()) for name in (*LABEL_COLUMNS, "record")}
    )


def export_columns(labels: pa.Table, schema_columns: list[str]) -> list[str]:
    """The source columns of the label file that reproduces ``labels``: schema order, then extra columns."""
    seen: dict[str, None] = {}
    for record in labels.column("record").to_pylist():
        seen.update(dict.fromkeys(json.loads(record or "{}")))
    return [c for c in schema_columns if c in seen] + [c for c in seen if c not in schema_columns]
