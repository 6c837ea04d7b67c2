"""Read the stored documents that task runs need: a transform (with its state) and a catalog table.

The service answers API calls from the same rows (adding Glue's errors); task runs read them here, so that
``tasks/`` depends on ``store/`` and never on ``service/``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any


def transform_document(
    conn: sqlite3.Connection, account: str, region: str, transform_id: str
) -> dict[str, Any] | None:
    """The transform as GetMLTransform returns it (Status, LabelCount, LastModifiedOn included), or None
    when the account has no such transform in the region."""
    row = conn.execute(
        "SELECT doc, status, label_count, last_modified FROM transforms "
        "WHERE transform_id=? AND account=? AND region=?",
        (transform_id, account, region),
    ).fetchone()
    return None if row is None else transform_with_state(row)


def transform_with_state(row: sqlite3.Row) -> dict[str, Any]:
    """A transforms row's document with the state kept in its own columns."""
    doc: dict[str, Any] = json.loads(row["doc"])
    doc.update(Status=row["status"], LabelCount=row["label_count"], LastModifiedOn=row["last_modified"])
    return doc


def table_document(
    conn: sqlite3.Connection, account: str, region: str, database: str, name: str
) -> dict[str, Any] | None:
    """The stored catalog Table document (names are case-insensitive, as in Glue), or None."""
    row = conn.execute(
        "SELECT doc FROM tables WHERE account=? AND region=? AND database_name=? AND name=?",
        (account, region, database.lower(), name.lower()),
    ).fetchone()
    return None if row is None else dict(json.loads(row["doc"]))
