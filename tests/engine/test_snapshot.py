"""Kept snapshots of matched records: read back, they stand for the records as the files would."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from findmatches.engine import api
from findmatches.engine.api import find_matches
from findmatches.engine.reach import Reached, reachable
from findmatches.engine.session import NORM, Session, join_snapshots, open_session
from findmatches.engine.snapshot import META_FILE, SnapshotMismatch, read_snapshot
from findmatches.engine.types import EngineError, ExistingMatches, KeepSnapshots, MatchParams, RecordSource
from tests.engine.test_incremental import _labels

PARAMS = MatchParams(primary_key="id")


def _match(
    records: pa.Table,
    labels: pa.Table,
    out: Path,
    existing: ExistingMatches | None = None,
    keep: KeepSnapshots | None = None,
    log: list[str] | None = None,
) -> pa.Table:
    find_matches(
        RecordSource(table=records),
        PARAMS,
        labels,
        out_path=out,
        out_format="parquet",
        compute_confidence=False,
        existing=existing,
        merges_path=out.with_suffix(".merges.csv") if existing is not None else None,
        keep=keep,
        log=log.append if log is not None else None,
    )
    return pq.read_table(out)


def _counts_are_exact(records: pa.Table, labels: pa.Table, snapshots: tuple[Path, ...]) -> None:
    """Every value count in the prepared table equals the value's count over all its records, whether it
    holds every snapshot record or some of them (`join_snapshots`)."""
    for every in (1, 3):
        snaps = [read_snapshot(s) for s in snapshots]
        with open_session(
            RecordSource(table=records), PARAMS, labels, None, None, snapshots=snaps
        ) as session:
            start, total = session.num_output, session.snapshot_rows
            rows = None if every == 1 else np.arange(start, start + total, every, dtype=np.int64)
            join_snapshots(session, labels, snaps, rows)
            held = session.backend.query(f"SELECT count(*) AS n FROM {NORM}").column("n")[0].as_py()
            assert held == session.num_records if rows is None else held < session.num_records
            counted = [p.alias for p in session.feature_profiles if p.counts_values]
            assert counted
            for a in counted:
                wrong = session.backend.query(
                    f"SELECT count(*) AS n FROM {NORM} n JOIN (SELECT {a} AS v, count(*) AS c "
                    f"FROM {session.population} WHERE {a} IS NOT NULL GROUP BY {a}) p ON p.v = n.{a} "
                    f"WHERE n.f_{a} <> p.c"
                )
                assert wrong.column("n")[0].as_py() == 0, a
            assert session.num_records == records.num_rows + sum(s.rows for s in snaps)


def test_a_snapshot_gives_the_ids_the_files_give(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    table, truth = people
    labels = _labels(table.slice(0, 450), truth)
    old, new = table.slice(0, 450), table.slice(450)
    _match(old, labels, tmp_path / "old.parquet")
    files = ExistingMatches(RecordSource(paths=(tmp_path / "old.parquet",), format="parquet"))
    snap = tmp_path / "snap"
    from_files = _match(new, labels, tmp_path / "a.parquet", files, KeepSnapshots(existing=snap))
    log: list[str] = []
    from_snapshot = _match(new, labels, tmp_path / "b.parquet", ExistingMatches(snapshots=(snap,)), log=log)
    assert from_snapshot.equals(from_files)
    merges = pa_csv.read_csv(tmp_path / "a.merges.csv")
    assert pa_csv.read_csv(tmp_path / "b.merges.csv").equals(merges)
    assert any("Read 450 of 450 prepared records from 1 snapshot(s)" in m for m in log)
    assert any("kept from the snapshots" in m for m in log)
    # Other labels: the keys are chosen again.
    log.clear()
    _match(
        new,
        _labels(table.slice(0, 450), truth, sets=8),
        tmp_path / "c.parquet",
        ExistingMatches(snapshots=(snap,)),
        log=log,
    )
    assert not any("kept from the snapshots" in m for m in log)


def test_a_run_on_by_value_keys_reads_only_the_records_it_can_reach(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table, truth = people
    labels = _labels(table.slice(0, 450), truth)
    snap = tmp_path / "snap"
    _match(table.slice(0, 450), labels, tmp_path / "old.parquet", keep=KeepSnapshots(output=snap))
    # Keys that block by value only (no word key, no sorted neighbourhood), as at scale.
    meta = json.loads((snap / META_FILE).read_text())
    by_value = ["exact:email", "exact:phone", "exact:dob", "phonetic:surname", "prefix:street"]
    (snap / META_FILE).write_text(json.dumps({**meta, "keys": by_value}))
    existing = ExistingMatches(snapshots=(snap,))
    reached: list[Reached] = []

    def reach(session: Session, existing: ExistingMatches, labels: pa.Table) -> Reached | None:
        got = reachable(session, existing, labels)
        assert got is not None
        reached.append(got)
        return got

    monkeypatch.setattr(api, "reachable", reach)
    log: list[str] = []
    sparse = _match(table.slice(450), labels, tmp_path / "sparse.parquet", existing, log=log)
    read = next(m for m in log if m.startswith("Read "))
    assert "those the new records can reach" in read and not read.startswith("Read 450 of")
    blocked = next(m for m in log if m.startswith("Blocking: "))
    assert f"({', '.join(by_value)})" in blocked
    # Every group a reached record belongs to is read whole (clustering scores new records against them all).
    kept = pq.read_table(snap / "records.parquet", columns=["_pos", "match_id"])
    rows = reached[0].rows - 150
    ids = kept.column("match_id").to_numpy()
    assert set(np.flatnonzero(np.isin(ids, ids[rows])).tolist()) == set(rows.tolist())
    monkeypatch.setattr(api, "reachable", lambda *_: None)
    log.clear()
    dense = _match(table.slice(450), labels, tmp_path / "dense.parquet", existing, log=log)
    assert any(m.startswith("Read 450 of 450") for m in log)
    # The same candidate pairs, scores and ids as with every record at hand.
    assert next(m for m in log if m.startswith("Blocking: ")) == blocked
    assert sparse.equals(dense)
    merges = pa_csv.read_csv(tmp_path / "dense.merges.csv")
    assert pa_csv.read_csv(tmp_path / "sparse.merges.csv").equals(merges)
    # A group no new record reaches, merged by an earlier run into one they reach, is read with it.
    unreached = sorted(set(ids.tolist()) - set(ids[rows].tolist()))[0]
    earlier = pa.table({"retired_match_id": [unreached], "match_id": [int(ids[rows[0]])]})
    existing = ExistingMatches(snapshots=(snap,), merges=earlier)
    monkeypatch.setattr(api, "reachable", reach)
    sparse = _match(table.slice(450), labels, tmp_path / "sparse.parquet", existing)
    assert set(np.flatnonzero(ids == unreached).tolist()) <= set((reached[-1].rows - 150).tolist())
    monkeypatch.setattr(api, "reachable", lambda *_: None)
    assert sparse.equals(_match(table.slice(450), labels, tmp_path / "dense.parquet", existing))
    assert pa_csv.read_csv(tmp_path / "sparse.merges.csv").equals(
        pa_csv.read_csv(tmp_path / "dense.merges.csv")
    )
    # New records joined existing groups: the groups they reach were read whole.
    old_ids = set(pq.read_table(tmp_path / "old.parquet").column("match_id").to_pylist())
    assert len(old_ids & set(sparse.column("match_id").to_pylist())) > 20


def test_counts_stay_exact_along_a_chain_of_snapshots(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    table, truth = people
    labels = _labels(table.slice(0, 300), truth)
    a, b, c = table.slice(0, 300), table.slice(300, 150), table.slice(450)
    first = tmp_path / "first"
    _match(a, labels, tmp_path / "a.parquet", keep=KeepSnapshots(output=first))
    _counts_are_exact(b, labels, (first,))
    second = tmp_path / "second"
    _match(
        b, labels, tmp_path / "b.parquet", ExistingMatches(snapshots=(first,)), KeepSnapshots(output=second)
    )
    assert read_snapshot(second).rows == b.num_rows
    # The later snapshot counted the earlier one's records; the largest count and the new records' add up.
    _counts_are_exact(c, labels, (first, second))


def test_snapshots_that_do_not_fit_are_refused(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    table, truth = people
    labels = _labels(table.slice(0, 450), truth)
    snap = tmp_path / "snap"
    _match(table.slice(0, 450), labels, tmp_path / "old.parquet", keep=KeepSnapshots(output=snap))
    fewer = table.slice(450).drop_columns([table.column_names[-1]])
    with pytest.raises(SnapshotMismatch, match="columns"):
        _match(fewer, labels, tmp_path / "x.parquet", ExistingMatches(snapshots=(snap,)))
    meta = json.loads((snap / META_FILE).read_text())
    (snap / META_FILE).write_text(json.dumps({**meta, "version": 0}))
    with pytest.raises(SnapshotMismatch, match="version"):
        _match(table.slice(450), labels, tmp_path / "y.parquet", ExistingMatches(snapshots=(snap,)))
    with pytest.raises(ValueError, match="one of the two"):
        ExistingMatches()


def test_keys_held_twice_against_snapshots_are_refused(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    table, truth = people
    labels = _labels(table.slice(0, 450), truth)
    snap, once, again = tmp_path / "snap", tmp_path / "once", tmp_path / "again"
    _match(table.slice(0, 400), labels, tmp_path / "old.parquet", keep=KeepSnapshots(output=snap))
    with pytest.raises(EngineError, match="already hold"):
        _match(table.slice(390), labels, tmp_path / "x.parquet", ExistingMatches(snapshots=(snap,)))
    # The same new records matched twice, each run's output kept: read together, their keys repeat.
    for out in (once, again):
        _match(
            table.slice(400, 100),
            labels,
            tmp_path / f"{out.name}.parquet",
            ExistingMatches(snapshots=(snap,)),
            KeepSnapshots(output=out),
        )
    with pytest.raises(EngineError, match="more than once"):
        _match(
            table.slice(500), labels, tmp_path / "y.parquet", ExistingMatches(snapshots=(snap, once, again))
        )
