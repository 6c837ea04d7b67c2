"""The metadata store: one SQLite file in the data dir, WAL, numbered migrations applied once."""

from __future__ import annotations

from pathlib import Path

import pytest

from findmatches.store.database import DB_FILE, Database, _migrations


def test_wal_and_migrations_applied_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "data")
    assert db.path == tmp_path / "data" / DB_FILE
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    versions = [v for v, _ in _migrations()]
    assert versions and versions == sorted(set(versions))
    applied = [r[0] for r in db.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert applied == versions
    with db.write() as conn:
        conn.execute(
            "INSERT INTO databases (account, region, name, created, doc) VALUES ('a', 'r', 'kept', 0, '{}')"
        )
    again = Database(tmp_path / "data")  # a restart: nothing re-applied, nothing lost
    applied = [r[0] for r in again.conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert applied == versions
    assert again.conn.execute("SELECT name FROM databases").fetchall()[0][0] == "kept"


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    db = Database(tmp_path)
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute(
            "INSERT INTO databases (account, region, name, created, doc) VALUES ('a', 'r', 'x', 0, '{}')"
        )
        raise RuntimeError("half-way")
    assert db.conn.execute("SELECT COUNT(*) FROM databases").fetchone()[0] == 0
