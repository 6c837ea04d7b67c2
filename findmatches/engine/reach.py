"""The existing records an incremental run on kept snapshots can reach, so that only those are prepared.

A run that takes its snapshots' blocking keys (`findmatches.engine.snapshot.kept_keys`) pairs a new record
only with the records that share a block with it. Where every kept key blocks by value (no word key, no
sorted neighbourhood), those are the existing records holding one of the new records' key values: one scan
of the snapshots' key columns finds them. Their whole groups come too (clustering scores a new record
against every member of a group it joins, and a group's members stand in for its links), and so do the
labelled records. The run's table then holds tens of thousands of existing records instead of millions,
with the same pairs, scores and ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from findmatches.engine.blocking import blocking_keys
from findmatches.engine.incremental import (
    ExistingGroups,
    check_snapshot_keys,
    distinct_sorted,
    follow_merges,
    in_sorted,
    snapshot_group_ids,
)
from findmatches.engine.session import LOADED, SNAPSHOTS, Session
from findmatches.engine.snapshot import MATCH_ID
from findmatches.engine.types import ExistingMatches

LABELLED_KEYS = "fm_reach_labelled"
WANTED_IDS = "fm_reach_ids"


@dataclass(frozen=True)
class Reached:
    """The snapshot records a run can reach (``rows``, ascending ``_rid``s), and their groups: ``groups``
    holds those records' ids only, but every group's id among its ``groups``."""

    rows: np.ndarray
    groups: ExistingGroups


def reachable(session: Session, existing: ExistingMatches, labels: pa.Table) -> Reached | None:
    """The snapshot records the session's new records can meet under its kept keys, with every member of
    their groups and the labelled records; None where the run has no kept keys, or one of them is not a
    by-value key (every record must then be at hand). Checks the snapshots' keys (`check_snapshot_keys`)."""
    if session.kept_keys is None or not existing.snapshots:
        return None
    by_name = {k.name: k for k in blocking_keys(session)}
    keys = [by_name[name] for name in session.kept_keys if name in by_name]
    if not keys or len(keys) < len(session.kept_keys) or not all(k.by_value for k in keys):
        return None
    check_snapshot_keys(session, existing)
    be = session.backend
    new = int(session.num_output)
    # A new record's block holds the records with its key's hash (`blocking._key_pairs_sql` blocks by it).
    shares = [
        f"(({k.expr}) IS NOT NULL AND hash({k.expr}) IN "
        f"(SELECT hash({k.expr}) FROM {LOADED} WHERE _rid < {new} AND ({k.expr}) IS NOT NULL))"
        for k in keys
    ]
    pks = sorted({str(v) for v in labels.column("primary_key").to_pylist() if v is not None})
    be.register(LABELLED_KEYS, pa.table({"pk": pa.array(pks, pa.string())}))
    shares.append(f"_pk IN (SELECT pk FROM {LABELLED_KEYS})")
    hit = be.query(f"SELECT DISTINCT {MATCH_ID} AS id FROM {SNAPSHOTS} WHERE {' OR '.join(shares)}")
    session.check()
    # Whole groups, the merges followed: a group's records may carry any id that leads to its own.
    raw = hit.column("id").to_numpy().astype(np.int64)
    merges = existing.merges
    if merges is not None and merges.num_rows:
        named = np.concatenate(
            [raw]
            + [
                merges.column(c).cast(pa.int64()).to_numpy(zero_copy_only=False)
                for c in ("retired_match_id", "match_id")
            ]
        )
        named = distinct_sorted(named)
        raw = named[in_sorted(follow_merges(named, merges), distinct_sorted(follow_merges(raw, merges)))]
    be.register(WANTED_IDS, pa.table({"id": raw}))
    got = be.query(
        f"SELECT _rid, {MATCH_ID} AS id FROM {SNAPSHOTS} WHERE {MATCH_ID} IN (SELECT id FROM {WANTED_IDS}) "
        "ORDER BY _rid"
    )
    be.execute(f"DROP TABLE {LABELLED_KEYS}")
    be.execute(f"DROP TABLE {WANTED_IDS}")
    rows = got.column("_rid").to_numpy().astype(np.int64)
    ids = follow_merges(got.column("id").to_numpy().astype(np.int64), merges)
    return Reached(rows, ExistingGroups(rows, ids, snapshot_group_ids(session, existing)))
