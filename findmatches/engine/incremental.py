"""Incremental matching: new records matched against records already matched, keeping their ``match_id``s.

The existing records are loaded after the new ones (new records have the lowest ids) with the ids a previous
run gave them. Only pairs holding a new record are proposed and scored; every existing group that such a pair
touches enters clustering whole (its members must-linked), so an existing group is never split, and new
records join it, or join two of them into one, only on the evidence of their own pairs. A merged group keeps
the id of the group that comes first in the existing matches (the older one, where runs append their output)
and each retired id is reported with its successor. Groups no new record touched are not read again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from findmatches.engine.backend import quote_ident
from findmatches.engine.clustering import pairs_within
from findmatches.engine.session import LOADED, NORM, SNAPSHOTS, Session
from findmatches.engine.snapshot import MATCH_ID, POSITION, RECORDS_FILE, write_meta
from findmatches.engine.types import EngineError, ExistingMatches

#: A record's match id from its primary key, in the order tried: DuckDB's fast string hash, MD5 (where two
#: clusters' fast hashes collide), then salted MD5 (where an existing group already has the id).
ID_EXPRESSIONS = tuple(
    ["CAST(hash(_pk) >> 1 AS BIGINT)", "CAST(md5_number(_pk) >> 65 AS BIGINT)"]
    + [f"CAST(md5_number(_pk || '#{i}') >> 65 AS BIGINT)" for i in (1, 2, 3)]
)
EXISTING = "fm_existing"
# How many offending keys an error message names.
EXAMPLES = 3


def in_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each value is in ``sorted_set`` (ascending): a binary search, where ``np.isin`` would hash
    or sort a million ids again (NumPy 2's hashing unique took a second on a million)."""
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return np.asarray(sorted_set[pos] == values, dtype=bool)


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending (by a sort: see `in_sorted`)."""
    s = np.sort(values)
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


@dataclass(frozen=True)
class ExistingGroups:
    """The existing records' ids: ``rids`` (ascending: the existing matches' order) and their ``ids``;
    ``groups``: the distinct ids, ascending."""

    rids: np.ndarray
    ids: np.ndarray
    groups: np.ndarray

    @cached_property
    def _by_id(self) -> np.ndarray:
        """Positions of the records ordered by id (each group's members together)."""
        return np.argsort(self.ids)

    def touched(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The members (ascending) of every group that a pair (``left``, ``right``) touches, and their ids."""
        if len(self.rids) == 0:
            return self.rids, self.ids
        ends = np.concatenate([left, right])
        hit = in_sorted(ends, self.rids)
        groups = distinct_sorted(self.ids[np.searchsorted(self.rids, ends[hit])])
        # Each group's run in the records ordered by id: found by binary search, not a pass over every id.
        by_id = self._by_id
        ordered = self.ids[by_id]
        starts = np.searchsorted(ordered, groups, side="left")
        sizes = np.searchsorted(ordered, groups, side="right") - starts
        first = np.repeat(starts - np.cumsum(np.r_[0, sizes[:-1]]), sizes)
        member = np.sort(by_id[first + np.arange(int(sizes.sum()))])
        return self.rids[member], self.ids[member]

    def links_within(self, records: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Every pair of members of the groups that ``records`` touch: a previous run's decision that they
        are one entity, standing in for the links between them that are not candidates again. None where
        those groups would give more than ``most`` two-step paths between their members."""
        members, ids = self.touched(records, records[:0])
        order = np.argsort(ids, kind="stable")
        members, ids = members[order], ids[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else ids
        sizes = np.diff(np.r_[starts, len(ids)]).astype(np.int64)
        if float(np.sum(sizes * (sizes - 1.0) ** 2)) > most:
            return None
        _, first, second = pairs_within(starts, sizes)
        return members[first], members[second]


def _examples(table: pa.Table) -> str:
    return ", ".join(repr(str(v)) for v in table.column(0).to_pylist()[:EXAMPLES])


def follow_merges(ids: np.ndarray, merges: pa.Table | None) -> np.ndarray:
    """Each id replaced by its last successor along the merges (retired id → successor, in any order)."""
    if merges is None or merges.num_rows == 0:
        return ids
    try:
        retired = merges.column("retired_match_id").cast(pa.int64()).to_numpy(zero_copy_only=False)
        successor = merges.column("match_id").cast(pa.int64()).to_numpy(zero_copy_only=False)
    except (KeyError, pa.ArrowInvalid) as e:
        raise EngineError(
            f"The existing merges need integer columns retired_match_id and match_id: {e}"
        ) from e
    order = np.argsort(retired, kind="stable")
    retired, successor = retired[order], successor[order]
    out = ids.copy()
    # Chains are short (one link per merge day); each pass follows one link, and a cycle cannot last.
    for _ in range(len(retired) + 1):
        pos = np.minimum(np.searchsorted(retired, out), len(retired) - 1)
        hit = retired[pos] == out
        if not hit.any():
            return out
        out[hit] = successor[pos[hit]]
    raise EngineError("The existing merges form a cycle of retired ids.")


def load_existing(session: Session, existing: ExistingMatches) -> ExistingGroups:
    """Read the existing records' primary keys and ``match_id``s (with the recorded merges followed), and map
    them to the session's records that follow the new ones (loaded from ``existing`` first among the
    extras); set the session's ``new_below`` and ``pair_below``. Refuses existing matches without ids, with a
    key twice, or holding a new record's key."""
    be = session.backend
    new = int(session.num_output)
    if existing.records is None:
        return _snapshot_groups(session, existing)
    pk = session.params.primary_key
    try:
        be.load_columns(existing.records, EXISTING, [pk, MATCH_ID])
    except EngineError as e:
        raise EngineError(f"The existing matches cannot be used: {e}") from e
    key = quote_ident(pk)
    twice = be.query(f"SELECT {key} FROM {EXISTING} GROUP BY {key} HAVING count(*) > 1 LIMIT {EXAMPLES}")
    if twice.num_rows:
        raise EngineError(f"The existing matches hold the primary key(s) {_examples(twice)} more than once.")
    bad = be.query(
        f"SELECT {key} FROM {EXISTING} WHERE TRY_CAST({MATCH_ID} AS BIGINT) IS NULL LIMIT {EXAMPLES}"
    )
    if bad.num_rows:
        raise EngineError(
            f"Existing records have no integer {MATCH_ID} (primary key(s) {_examples(bad)}): give the records "
            "with their match_id as a previous find-matches run wrote them."
        )
    again = be.query(
        f"SELECT _pk FROM {NORM} WHERE _rid < {new} AND _pk IN (SELECT {key} FROM {EXISTING}) LIMIT {EXAMPLES}"
    )
    if again.num_rows:
        raise EngineError(
            f"New records have primary key(s) the existing matches already hold: {_examples(again)}."
        )
    num = int(be.query(f"SELECT count(*) AS n FROM {EXISTING}").column("n")[0].as_py())
    got = be.query(
        f"SELECT n._rid, CAST(e.{MATCH_ID} AS BIGINT) AS id FROM {NORM} n JOIN {EXISTING} e "
        f"ON e.{key} = n._pk WHERE n._rid >= {new} AND n._rid < {new + num} ORDER BY n._rid"
    )
    session.new_below, session.pair_below = new, new + num
    be.execute(f"DROP TABLE IF EXISTS {EXISTING}")
    rids = got.column("_rid").to_numpy().astype(np.int64)
    ids = follow_merges(got.column("id").to_numpy().astype(np.int64), existing.merges)
    return ExistingGroups(rids, ids, distinct_sorted(ids))


def check_snapshot_keys(session: Session, existing: ExistingMatches) -> None:
    """Refuse snapshots (read before ``NORM`` is made, `join_snapshots`) that hold a key twice (across
    snapshots) or a new record's key; set the session's ``new_below`` and ``pair_below``."""
    be = session.backend
    new, num = int(session.num_output), int(session.snapshot_rows)
    if len(existing.snapshots) > 1:  # each snapshot's keys were checked when it was kept
        twice = be.query(f"SELECT _pk FROM {SNAPSHOTS} GROUP BY _pk HAVING count(*) > 1 LIMIT {EXAMPLES}")
        if twice.num_rows:
            raise EngineError(
                f"The existing matches hold the primary key(s) {_examples(twice)} more than once."
            )
    # The few new keys are the hash table; the existing ones probe it.
    again = be.query(
        f"SELECT _pk FROM {SNAPSHOTS} WHERE _pk IN (SELECT _pk FROM {LOADED} WHERE _rid < {new}) "
        f"LIMIT {EXAMPLES}"
    )
    if again.num_rows:
        raise EngineError(
            f"New records have primary key(s) the existing matches already hold: {_examples(again)}."
        )
    session.new_below, session.pair_below = new, new + num


def snapshot_group_ids(session: Session, existing: ExistingMatches) -> np.ndarray:
    """The distinct ids (ascending, the merges followed) of every group the snapshots hold."""
    got = session.backend.query(f"SELECT DISTINCT {MATCH_ID} AS id FROM {SNAPSHOTS}")
    return distinct_sorted(follow_merges(got.column("id").to_numpy().astype(np.int64), existing.merges))


def _snapshot_groups(session: Session, existing: ExistingMatches) -> ExistingGroups:
    """`load_existing` for records read from snapshots: their ids are in the snapshots, and only keys held
    twice (across snapshots) or by a new record are looked for (`check_snapshot_keys`)."""
    check_snapshot_keys(session, existing)
    got = session.backend.query(f"SELECT _rid, {MATCH_ID} AS id FROM {SNAPSHOTS} ORDER BY _rid")
    rids = got.column("_rid").to_numpy().astype(np.int64)
    ids = follow_merges(got.column("id").to_numpy().astype(np.int64), existing.merges)
    return ExistingGroups(rids, ids, distinct_sorted(ids))


def keep_snapshot(
    session: Session,
    folder: Path,
    start: int,
    ids: np.ndarray,
    keys: list[str],
    swaps: tuple[tuple[str, str], ...],
    held_out: list[tuple[str, str, float]],
) -> None:
    """Keep the records ``start`` … ``start + len(ids) - 1`` as prepared, with ``ids`` as their match ids, as
    a snapshot in ``folder`` (`findmatches.engine.snapshot`), with the blocking ``keys``, the swapped
    columns and the labelled pairs' ``held_out`` probabilities (by primary keys) this run used."""
    be = session.backend
    twice = be.query(
        f"SELECT _pk FROM {NORM} WHERE _rid >= {start} AND _rid < {start + len(ids)} GROUP BY _pk "
        "HAVING count(*) > 1 LIMIT 1"
    )
    if twice.num_rows:  # a snapshot stands for records with distinct keys (`_snapshot_groups`)
        session.log("Kept no snapshot: the records hold a primary key more than once.")
        return
    folder.mkdir(parents=True, exist_ok=True)
    be.register(
        "fm_keep_ids", pa.table({"_rid": np.arange(start, start + len(ids), dtype=np.int64), "id": ids})
    )
    names = [n for n in be.query(f"SELECT * FROM {NORM} LIMIT 0").column_names if n != "_rid"]
    # Written where the data is (Spark's executors: a folder of part files), as the output records are.
    be.write_records(
        f"SELECT CAST(n._rid - {start} AS BIGINT) AS {POSITION}, {', '.join(f'n.{c}' for c in names)}, "
        f"CAST(k.id AS BIGINT) AS {MATCH_ID} FROM {NORM} n JOIN fm_keep_ids k ON k._rid = n._rid ORDER BY n._rid",
        folder / RECORDS_FILE,
        "parquet",
    )
    be.execute("DROP TABLE fm_keep_ids")
    write_meta(
        folder,
        columns=session.columns,
        primary_key=session.params.primary_key,
        profiles=session.profiles,
        rows=len(ids),
        population=session.num_records,
        keys=keys,
        fingerprint=session.key_fingerprint,
        swaps=swaps,
        held_out=held_out,
    )


def group_links(members: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Must-links that hold each group together: every member to the next member of its group."""
    order = np.lexsort((members, ids))
    m, g = members[order], ids[order]
    same = g[1:] == g[:-1]
    return m[:-1][same], m[1:][same]


@dataclass(frozen=True)
class Assignment:
    """Ids for the new records (``_rid < new_below``), and the retired ids with their successors."""

    new_ids: np.ndarray
    retired: np.ndarray
    successors: np.ndarray


def assign_ids(
    representative: np.ndarray, members: np.ndarray, ids: np.ndarray, new_below: int, fresh: np.ndarray
) -> Assignment:
    """The new records' ids given the clusters (``representative`` per record): the id of the first existing
    group in their cluster (``members`` ascending is the existing order), else ``fresh`` (per new record, an
    id no existing group has). Every other existing group in a cluster is retired in favour of that id."""
    if len(members):
        cluster_of = representative[members]
        # Per cluster, its first member in the existing order: lexsort by cluster, then record id.
        order = np.lexsort((members, cluster_of))
        first = np.r_[True, cluster_of[order][1:] != cluster_of[order][:-1]]
        keeper_cluster, keeper_id = cluster_of[order][first], ids[order][first]
    else:
        cluster_of = keeper_cluster = keeper_id = np.zeros(0, np.int64)
    new_rep = representative[:new_below]
    pos = np.minimum(np.searchsorted(keeper_cluster, new_rep), max(len(keeper_cluster) - 1, 0))
    joins = (keeper_cluster[pos] == new_rep) if len(keeper_cluster) else np.zeros(new_below, bool)
    new_ids = np.where(joins, keeper_id[pos] if len(keeper_cluster) else 0, fresh).astype(np.int64)
    successor = keeper_id[np.searchsorted(keeper_cluster, cluster_of)] if len(members) else cluster_of
    retired = ids != successor
    pairs = np.unique(np.stack([ids[retired], successor[retired]], axis=1), axis=0).reshape(-1, 2)
    return Assignment(new_ids, pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64))


def fresh_ids(session: Session, representative: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """Ids for new records' clusters (per record, its cluster's ``representative``): the first of
    `ID_EXPRESSIONS` of the representatives' primary keys under which no two clusters share an id and none is
    in ``taken`` (the existing groups' ids, ascending); a full run's first choice is the same hash."""
    reps, inverse = np.unique(representative, return_inverse=True)
    session.backend.register("fm_reps", pa.table({"_rid": reps.astype(np.int64)}))
    for expr in ID_EXPRESSIONS:
        got = session.backend.query(
            f"SELECT r._rid, {expr} AS h FROM fm_reps r JOIN {NORM} USING (_rid) ORDER BY r._rid"
        )
        h = got.column("h").to_numpy().astype(np.int64)
        if len(distinct_sorted(h)) == len(h) and not in_sorted(h, taken).any():
            return np.asarray(h[inverse], dtype=np.int64)
    raise EngineError("Could not find new match ids that no existing group has.")  # pragma: no cover


def write_merges(assigned: Assignment, path: Path | None) -> None:
    """The retired ids and their successors as CSV at ``path`` (a header only when nothing merged)."""
    if path is not None:
        pa_csv.write_csv(
            pa.table({"retired_match_id": assigned.retired, "match_id": assigned.successors}), str(path)
        )
