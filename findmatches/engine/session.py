"""One engine run's prepared state: records loaded and normalised, columns profiled, labels mapped to rows."""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from findmatches.engine.backend import Backend, quote_ident
from findmatches.engine.backends import open_backend
from findmatches.engine.normalised_table import create_normalised_table
from findmatches.engine.profile import ColumnKind, ColumnProfile, profile_columns
from findmatches.engine.snapshot import MATCH_ID, POSITION, Snapshot, SnapshotMismatch, common_profiles
from findmatches.engine.types import (
    Cancelled,
    EngineError,
    LogFn,
    MatchParams,
    RecordSource,
    StopFn,
    find_column,
)

RECORDS = "fm_records"
NORM = "fm_norm"
LABELS = "fm_labels"
LABEL_PAIRS = "fm_label_pairs"
# The snapshots' records (`findmatches.engine.snapshot`) with their ``_rid``s, and the records the run loaded,
# normalised, before the two meet in ``NORM``.
SNAPSHOTS = "fm_snapshots"
LOADED = "fm_norm_loaded"
# Every record's prepared values when ``NORM`` holds only the snapshot records a run can reach
# (`join_snapshots`): the loaded records and the snapshots' (their value counts each part's own).
POPULATION = "fm_population"
REACHED = "fm_reached"
LABEL_COLUMNS = ("labeling_set_id", "label", "primary_key")
# How often a run's stop request is looked at while a backend statement runs.
STOP_POLL_S = 0.2


@dataclass
class Session:
    """Everything the stages share during one engine call."""

    backend: Backend
    params: MatchParams
    columns: list[str]
    profiles: list[ColumnProfile]
    num_records: int
    log_fn: LogFn | None = None
    stop_fn: StopFn | None = None
    # Records ``_rid < num_output`` are the input's; the rest were added for matching only.
    num_output: int = 0
    # SQL over the normalised table's columns: a record's sort value inside large blocks.
    signature: str = "''"
    # Incremental matching: records ``_rid < new_below`` are new, and every candidate pair holds one; records
    # ``_rid >= pair_below`` (labelled records neither new nor matched before) only train the model.
    new_below: int | None = None
    pair_below: int | None = None
    label_pairs: pa.Table = field(default_factory=lambda: pa.table({}))
    labelled_rids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    # Records ``num_output <= _rid < num_output + snapshot_rows`` come from kept snapshots (`SNAPSHOTS`).
    snapshot_rows: int = 0
    # Blocking keys to use instead of choosing (a snapshot's, chosen for the same labels), and what a key
    # choice depends on besides the records (`findmatches.engine.snapshot.key_fingerprint`).
    kept_keys: list[str] | None = None
    key_fingerprint: str = ""
    # The swapped column pairs found in the snapshots' records (`features.swapped_columns`), else None.
    kept_swaps: tuple[tuple[str, str], ...] | None = None
    # A relation of every record's prepared values: ``NORM``, or `POPULATION` where ``NORM`` is sparse.
    population: str = NORM
    # Columns the labels show to carry no evidence (`evidence.silent_columns`): left out of matching.
    silent: tuple[str, ...] = ()
    # The labelled pairs' features and the spec (`features.FeatureSpec`) they were computed for, kept from
    # judging the columns' evidence so that training does not compute them again.
    label_features: tuple[object, np.ndarray] | None = None

    def log(self, message: str) -> None:
        """Send a progress line to the caller."""
        if self.log_fn is not None:
            self.log_fn(message)

    def check(self) -> None:
        """Raise `Cancelled` if the caller asked to stop."""
        if self.stop_fn is not None and self.stop_fn():
            raise Cancelled()

    @property
    def labelled(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The labelled pairs as (left rids, right rids, 0/1 labels), left < right."""
        if self.label_pairs.num_rows == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        left, right, y = (self.label_pairs.column(c).to_numpy().astype(np.int64) for c in ("l", "r", "y"))
        return left, right, y

    @property
    def match_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """Labelled match pairs as (left rids, right rids), left < right."""
        left, right, y = self.labelled
        return left[y == 1], right[y == 1]

    @property
    def feature_profiles(self) -> list[ColumnProfile]:
        """Profiles of the columns that take part in matching."""
        return [p for p in self.matchable if p.name not in self.silent]

    @property
    def matchable(self) -> list[ColumnProfile]:
        """Profiles of the columns that have values to match on, silent or not."""
        return [p for p in self.profiles if p.kind != ColumnKind.EMPTY]

    def silence(self, columns: Sequence[str]) -> None:
        """Leave ``columns`` out of matching (`evidence.silent_columns`), and out of the `signature`."""
        self.silent = tuple(columns)
        sign(self)


def _validate_labels(labels: pa.Table) -> pa.Table:
    missing = [c for c in LABEL_COLUMNS if c not in labels.column_names]
    if missing:
        raise EngineError(f"The labels lack the column(s): {', '.join(missing)}.")
    return pa.table({c: labels.column(c).cast(pa.string()) for c in LABEL_COLUMNS})


@contextmanager
def open_session(
    source: RecordSource,
    params: MatchParams,
    labels: pa.Table,
    log: LogFn | None,
    should_stop: StopFn | None,
    backend: Backend | None = None,
    extras: Sequence[RecordSource] = (),
    temp_dir: Path | None = None,
    snapshots: Sequence[Snapshot] = (),
) -> Iterator[Session]:
    """Load, profile and normalise the records (then the ``extras``' records, which take part in matching but
    are not part of the output) and map the labels onto them; close the backend afterwards (one made here
    spills under ``temp_dir``). With ``snapshots``, their records follow the source's (before the extras'),
    already normalised, and the loaded records are normalised with the snapshots' profiles; the two are not
    joined yet (`LOADED` and the view `SNAPSHOTS` hold them): `join_snapshots` makes ``NORM`` and maps the
    labels."""
    owned = backend is None
    be: Backend = backend if backend is not None else open_backend(temp_dir)
    done = threading.Event()
    if should_stop is not None:
        threading.Thread(target=_watch, args=(be, should_stop, done), name="engine-stop", daemon=True).start()
    # The engine's matrix products are small (pairs × features by a few models) and run on several threads
    # at once (scoring's pool): BLAS's own threads on top took twice the CPU for the same products.
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield _prepare(be, source, params, labels, log, should_stop, extras, snapshots)
    finally:
        done.set()
        if owned:
            be.close()


def _watch(backend: Backend, should_stop: StopFn, done: threading.Event) -> None:
    """Interrupt the backend's running statement once the caller asks to stop: a stop then takes effect
    within a fraction of a second, not after a query that runs for minutes on millions of records."""
    while not done.wait(STOP_POLL_S):
        try:
            stop = should_stop()
        except Exception:  # a `should_stop` that raises to stop
            stop = True
        if stop:
            backend.interrupt()
            return


def _prepare(
    be: Backend,
    source: RecordSource,
    params: MatchParams,
    labels: pa.Table,
    log: LogFn | None,
    should_stop: StopFn | None,
    extras: Sequence[RecordSource] = (),
    snapshots: Sequence[Snapshot] = (),
) -> Session:
    columns, num_output, loaded = be.load_records(source, RECORDS, extras)
    key = find_column(columns, params.primary_key)
    if key is None:
        raise EngineError(f"The input has no primary key column {params.primary_key!r}.")
    params = dataclasses.replace(params, primary_key=key)
    if snapshots:
        profiles = common_profiles(list(snapshots), columns, params.primary_key)
    else:
        profiles = profile_columns(be, RECORDS, columns, exclude={params.primary_key})
    kept = sum(s.rows for s in snapshots)
    num = loaded + kept
    session = Session(
        be, params, columns, profiles, num, log, should_stop, num_output=num_output, snapshot_rows=kept
    )
    if snapshots:
        session.kept_swaps = snapshots[0].swaps
    session.check()
    session.log(f"Engine: {be.name}.")
    session.log(
        f"Loaded {num} records; columns: "
        + ", ".join(
            f"{p.name}={p.kind.value}"
            + (f"({p.null_rate:.0%} missing)" if p.null_rate else "")
            + (" (columns of different records' schemas, joined)" if p.joins else "")
            for p in profiles
        )
    )
    feats = session.feature_profiles
    if num == 0:
        raise EngineError("The input has no records.")
    if not feats:
        raise EngineError(
            "The input has no column besides the primary key to match on."
            if len(profiles) == 0
            else "Every column besides the primary key is empty: there is nothing to match on."
        )
    sign(session)
    keep = [("_rid", "_rid"), (f"CAST({quote_ident(params.primary_key)} AS VARCHAR)", "_pk")]
    labels = _validate_labels(labels)
    if snapshots:
        _load_snapshots(be, feats, keep, num_output, loaded, list(snapshots))
        return session
    create_normalised_table(be, feats, keep, num, RECORDS, NORM)
    session.check()
    _map_labels(session, labels)
    return session


def sign(session: Session) -> None:
    """Set the session's `signature` from its most telling columns."""
    ranked = sorted(session.feature_profiles, key=lambda p: -p.information)
    text_like = [p for p in ranked if p.kind != ColumnKind.CATEGORY] or ranked
    session.signature = "concat_ws('|', " + ", ".join(f"coalesce({p.alias}, '')" for p in text_like[:4]) + ")"


def _load_snapshots(
    be: Backend,
    profiles: list[ColumnProfile],
    keep: list[tuple[str, str]],
    num_output: int,
    loaded: int,
    snapshots: list[Snapshot],
) -> None:
    """`LOADED`: the loaded records, normalised (the source's keep their ``_rid``s, the extras' move past the
    snapshots'); `SNAPSHOTS`: a view of the snapshots' prepared records (``_rid``s from ``num_output`` on, in
    order), with their ``match_id``. Refuses snapshots whose prepared columns differ from this run's."""
    total = sum(s.rows for s in snapshots)
    moved = [(f"CASE WHEN _rid < {num_output} THEN _rid ELSE _rid + {total} END", "_rid"), *keep[1:]]
    create_normalised_table(be, profiles, moved, loaded, RECORDS, LOADED)
    columns = [n for n in be.query(f"SELECT * FROM {LOADED} LIMIT 0").column_names if n != "_rid"]
    parts, offset = [], num_output
    for i, snap in enumerate(snapshots):
        table = f"{SNAPSHOTS}{i}"
        be.load_parquet(snap.records, table)
        have = set(be.query(f"SELECT * FROM {table} LIMIT 0").column_names)
        if have != {*columns, POSITION, MATCH_ID}:
            raise SnapshotMismatch(
                f"The snapshot {snap.folder} holds other prepared columns than this run's."
            )
        parts.append(
            f"SELECT CAST({offset} + {POSITION} AS BIGINT) AS _rid, {', '.join(columns)}, {MATCH_ID} FROM {table}"
        )
        offset += snap.rows
    be.execute(f"CREATE OR REPLACE VIEW {SNAPSHOTS} AS {' UNION ALL '.join(parts)}")


def join_snapshots(
    session: Session, labels: pa.Table, snapshots: Sequence[Snapshot], rows: np.ndarray | None = None
) -> None:
    """Make ``NORM`` of a session opened on ``snapshots`` from `LOADED` and the snapshots' records (only
    those at ``rows``, ascending ``_rid``s, when given: the rest cannot meet a loaded record, and
    ``session.population`` then names every record's values), and map the ``labels`` onto it.

    A value's count is its largest count in any snapshot plus its count among the loaded records
    (`findmatches.engine.snapshot`). Only the values that may differ between parts are looked up: the loaded
    records' and those of snapshots other than the largest (all snapshots' rows), or of the rows kept (some),
    so that the largest snapshot is read once."""
    be = session.backend
    num_output, total = session.num_output, session.snapshot_rows
    names = be.query(f"SELECT * FROM {LOADED} LIMIT 0").column_names
    columns = [n for n in names if n != "_rid"]
    if rows is None:
        snap, kept = SNAPSHOTS, total
        largest = max(range(len(snapshots)), key=lambda i: snapshots[i].rows)
        lo = num_output + sum(s.rows for s in snapshots[:largest])
        hi = lo + snapshots[largest].rows
        others = f"SELECT _rid, {', '.join(columns)} FROM {SNAPSHOTS} WHERE _rid < {lo} OR _rid >= {hi}"
        lookup = [LOADED] + ([f"({others})"] if len(snapshots) > 1 else [])
    else:
        be.register(f"{REACHED}_rids", pa.table({"_rid": rows.astype(np.int64)}))
        be.execute(
            f"CREATE OR REPLACE TABLE {REACHED} AS SELECT _rid, {', '.join(columns)} FROM {SNAPSHOTS} "
            f"WHERE _rid IN (SELECT _rid FROM {REACHED}_rids)"
        )
        snap, kept, lookup = REACHED, len(rows), [LOADED, REACHED]
    profiles = session.feature_profiles
    counted = [p.alias for p in profiles if p.counts_values]
    ctes, joins = [], []
    select = {n: f"u.{n}" for n in names}
    from_snapshot = f"u._rid >= {num_output} AND u._rid < {num_output + total}"
    for a in counted:
        # Per value that may differ between parts: its largest count in a snapshot, its loaded count.
        values = " UNION ".join(f"SELECT DISTINCT {a} AS v FROM {t} WHERE {a} IS NOT NULL" for t in lookup)
        ctes.append(f"v_{a} AS ({values})")
        ctes.append(
            f"z_{a} AS (SELECT v.v, x.n AS most, y.n AS added FROM v_{a} v "
            f"LEFT JOIN (SELECT {a} AS v, max(f_{a}) AS n FROM {SNAPSHOTS} WHERE {a} IN (SELECT v FROM v_{a}) "
            f"GROUP BY {a}) x ON x.v = v.v "
            f"LEFT JOIN (SELECT {a} AS v, max(f_{a}) AS n FROM {LOADED} WHERE {a} IS NOT NULL GROUP BY {a}) y "
            "ON y.v = v.v)"
        )
        joins.append(f" LEFT JOIN z_{a} ON z_{a}.v = u.{a}")
        select[f"f_{a}"] = (
            f"CAST(CASE WHEN u.{a} IS NULL THEN NULL WHEN {from_snapshot} THEN coalesce(z_{a}.most, u.f_{a}) + "
            f"coalesce(z_{a}.added, 0) ELSE coalesce(z_{a}.most, 0) + u.f_{a} END AS INTEGER) AS f_{a}"
        )
    union = f"SELECT * FROM {LOADED} UNION ALL SELECT _rid, {', '.join(columns)} FROM {snap}"
    be.execute(
        f"CREATE OR REPLACE TABLE {NORM} AS "
        + (f"WITH {', '.join(ctes)} " if ctes else "")
        + f"SELECT {', '.join(select[n] for n in names)} FROM ({union}) u{''.join(joins)}"
    )
    if rows is None:
        be.execute(f"DROP TABLE {LOADED}")
    else:
        be.execute(f"DROP TABLE {REACHED}")
        be.execute(
            f"CREATE OR REPLACE VIEW {POPULATION} AS SELECT * FROM {LOADED} "
            f"UNION ALL SELECT _rid, {', '.join(columns)} FROM {SNAPSHOTS}"
        )
        session.population = POPULATION
    session.log(
        f"Read {kept} of {total} prepared records from {len(snapshots)} snapshot(s)"
        + (": those the new records can reach." if rows is not None else ".")
    )
    session.check()
    _map_labels(session, _validate_labels(labels))


def release_population(session: Session) -> None:
    """Drop what `join_snapshots` keeps beside ``NORM`` for a run that read only the reachable records (the
    view of every record and the loaded new records), once nothing reads the population."""
    if session.population != NORM:
        session.backend.execute(f"DROP VIEW IF EXISTS {session.population}")
        session.backend.execute(f"DROP TABLE IF EXISTS {LOADED}")


def _map_labels(session: Session, labels: pa.Table) -> None:
    be = session.backend
    be.register(LABELS + "_in", labels)
    # One scan of the records finds the labelled ones and those not there (a NULL ``_rid``): on Spark a scan
    # is a job over the whole normalised table.
    be.execute(
        f"CREATE OR REPLACE TABLE {LABELS}_found AS SELECT n._rid, l.labeling_set_id, l.label "
        f"FROM {LABELS}_in l LEFT JOIN {NORM} n ON n._pk = l.primary_key"
    )
    be.execute(
        f"CREATE OR REPLACE TABLE {LABELS} AS SELECT DISTINCT _rid, labeling_set_id AS set_id, label "
        f"FROM {LABELS}_found WHERE _rid IS NOT NULL AND labeling_set_id IS NOT NULL AND label IS NOT NULL "
        "AND trim(label) <> ''"
    )
    unknown = be.query(f"SELECT count(*) AS n FROM {LABELS}_found WHERE _rid IS NULL").column("n")[0].as_py()
    be.execute(f"DROP TABLE IF EXISTS {LABELS}_found")
    if unknown:
        session.log(f"{unknown} labelled record(s) are not in the input and were ignored.")
    be.execute(
        f"CREATE OR REPLACE TABLE {LABEL_PAIRS} AS SELECT l, r, CAST(avg(y) >= 0.5 AS INTEGER) AS y, "
        f"min(set_id) AS set_id FROM (SELECT least(a._rid, b._rid) AS l, greatest(a._rid, b._rid) AS r, "
        f"CAST(a.label = b.label AS INTEGER) AS y, a.set_id FROM {LABELS} a JOIN {LABELS} b "
        f"ON a.set_id = b.set_id AND a._rid < b._rid) GROUP BY l, r ORDER BY l, r"
    )
    session.label_pairs = be.query(f"SELECT l, r, y, set_id FROM {LABEL_PAIRS}")
    session.labelled_rids = (
        be.query(f"SELECT DISTINCT _rid FROM {LABELS} ORDER BY _rid")
        .column("_rid")
        .to_numpy()
        .astype(np.int64)
    )
    y = session.labelled[2]
    session.log(
        f"Labels: {len(session.labelled_rids)} labelled records, {int(y.sum())} match pairs, "
        f"{int(len(y) - y.sum())} non-match pairs."
    )


def threshold(params: MatchParams) -> float:
    """The match-probability threshold that PrecisionRecallTradeoff asks for (0.5 neutral)."""
    t = 0.02 + 0.96 * float(params.precision_recall_tradeoff)
    return min(0.98, max(0.02, t)) if math.isfinite(t) else 0.5
