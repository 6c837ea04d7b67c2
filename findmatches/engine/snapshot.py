"""Kept snapshots of matched records, so that an incremental run need not read and normalise them again.

A snapshot is a folder: ``records.parquet`` (one file, or a folder of part files written by Spark's executors)
holds records as the engine prepared them (the normalised table's
columns: normalised values, coarse codes, digit runs, value counts) with their position (``_pos``) and the
``match_id`` they were given; ``snapshot.json`` holds what reading them back needs: the source's columns, the
column profiles they were normalised with, the columns found swapped in them, the format version, and, with
the labels they were found for, the blocking keys the writing run chose and its labelled pairs' held-out
probabilities. An incremental run that is given snapshots of every existing record (`ExistingMatches.snapshots`)
normalises only its new records, with the snapshots' profiles. When its labels and parameters are those of
the run that wrote them, on a like population, it also takes the keys instead of choosing them, and the
held-out probabilities instead of the cross-validation behind them (a fit per labeling set: the longest work
of a run that matches few records). The model that scores the pairs is always fitted again. Features of the labelled pairs
can differ a little from the writing run's (value counts grow), so these two are its decisions, reused, not
ones recomputed.

Value counts (``f_<alias>``) are kept as the writing run counted them, over everything it saw. Runs that
continue one another count ever more records, so a value's count is its largest count in any snapshot plus
its count among the run's loaded records; that is exact along a chain of incremental runs (each snapshot counts
the records of the ones before it), but for the labelled records a run adds from the transform's table, which
each run counts again, and a lower bound where snapshots come from unrelated runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from findmatches.engine.backend import output_files
from findmatches.engine.profile import ColumnKind, ColumnProfile
from findmatches.engine.types import EngineError, MatchParams

#: Bumped whenever normalisation changes what a record's prepared columns hold. 2: numbered lists lose their
#: numbers (`profile.unnumbered_sql`), and the records may be a folder of part files.
VERSION = 2
RECORDS_FILE = "records.parquet"
META_FILE = "snapshot.json"
POSITION = "_pos"
MATCH_ID = "match_id"
# Key choices are reused while the population stays within this factor of the one they were chosen on.
KEY_POPULATION_FACTOR = 1.5


class SnapshotMismatch(EngineError):
    """Snapshots that cannot stand for the existing records of this run (columns, version or primary key
    differ): the caller runs again with the records themselves."""


@dataclass(frozen=True)
class Snapshot:
    """One kept snapshot (see the module): its folder and what ``snapshot.json`` says of it."""

    folder: Path
    version: int
    columns: tuple[str, ...]
    primary_key: str
    profiles: tuple[ColumnProfile, ...]
    rows: int
    population: int
    keys: tuple[str, ...]
    key_fingerprint: str
    # Column pairs (aliases) found swapped in the writing run's records (`features.swapped_columns`).
    swaps: tuple[tuple[str, str], ...] = ()
    # The labelled pairs' held-out probabilities, by the pair's primary keys (smaller first).
    held_out: dict[tuple[str, str], float] = field(default_factory=dict)

    @property
    def records(self) -> Path:
        """The prepared records' Parquet file, or folder of part files."""
        return self.folder / RECORDS_FILE


def key_fingerprint(labels: pa.Table, params: MatchParams) -> str:
    """What a run's key choice depends on besides its records: the labels (as sets of primary keys per label
    per labeling set) and the parameters that scale the pair budget."""
    rows = sorted(
        zip(
            *(
                labels.column(c).cast(pa.string()).to_pylist()
                for c in ("labeling_set_id", "label", "primary_key")
            ),
            strict=True,
        ),
        key=lambda r: tuple("" if v is None else v for v in r),
    )
    digest = hashlib.sha256(
        json.dumps([rows, params.primary_key, params.accuracy_cost_tradeoff]).encode("utf-8")
    )
    return digest.hexdigest()


def read_snapshot(folder: Path) -> Snapshot:
    """The snapshot in ``folder``; `SnapshotMismatch` when it is missing, unreadable or of another version."""
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        if int(meta["version"]) != VERSION:
            raise SnapshotMismatch(
                f"The snapshot {folder} has format version {meta['version']}, not {VERSION}."
            )
        files = output_files(folder / RECORDS_FILE)
        if not files or not all(f.is_file() for f in files):
            raise SnapshotMismatch(f"The snapshot {folder} has no {RECORDS_FILE}.")
        profiles = tuple(
            ColumnProfile(**{**p, "kind": ColumnKind(p["kind"]), "joins": tuple(p.get("joins", ()))})
            for p in meta["profiles"]
        )
        return Snapshot(
            folder=folder,
            version=VERSION,
            columns=tuple(str(c) for c in meta["columns"]),
            primary_key=str(meta["primary_key"]),
            profiles=profiles,
            rows=int(meta["rows"]),
            population=int(meta["population"]),
            keys=tuple(str(k) for k in meta["keys"]),
            key_fingerprint=str(meta["key_fingerprint"]),
            swaps=tuple((str(a), str(b)) for a, b in meta["swaps"]),
            held_out={(str(a), str(b)): float(p) for a, b, p in meta["held_out"]},
        )
    except SnapshotMismatch:
        raise
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SnapshotMismatch(f"The snapshot {folder} cannot be read: {e}") from e


def write_meta(
    folder: Path,
    *,
    columns: list[str],
    primary_key: str,
    profiles: list[ColumnProfile],
    rows: int,
    population: int,
    keys: list[str],
    fingerprint: str,
    swaps: tuple[tuple[str, str], ...],
    held_out: list[tuple[str, str, float]],
) -> None:
    """Write ``snapshot.json`` (after ``records.parquet``: a folder without it is no snapshot)."""
    meta = {
        "version": VERSION,
        "columns": columns,
        "primary_key": primary_key,
        "profiles": [{**asdict(p), "kind": p.kind.value} for p in profiles],
        "rows": rows,
        "population": population,
        "keys": keys,
        "key_fingerprint": fingerprint,
        "swaps": [list(pair) for pair in swaps],
        "held_out": [list(entry) for entry in held_out],
    }
    tmp = folder / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta), encoding="utf-8")
    tmp.replace(folder / META_FILE)


def common_profiles(snapshots: list[Snapshot], columns: list[str], primary_key: str) -> list[ColumnProfile]:
    """The profiles every snapshot was normalised with; `SnapshotMismatch` unless they all agree and were
    taken over the same columns and primary key as this run's input."""
    first = snapshots[0]
    for s in snapshots:
        if list(s.columns) != columns:
            raise SnapshotMismatch(
                f"The snapshot {s.folder} was taken of columns {list(s.columns)}, the input has {columns}."
            )
        if s.primary_key != primary_key:
            raise SnapshotMismatch(
                f"The snapshot {s.folder} is keyed by {s.primary_key!r}, not {primary_key!r}."
            )
        if s.profiles != first.profiles:
            raise SnapshotMismatch(
                f"The snapshots {first.folder} and {s.folder} were normalised differently."
            )
    return list(first.profiles)


def _like(snapshots: list[Snapshot], fingerprint: str, population: int) -> bool:
    """Whether the snapshots' runs had this run's labels and parameters and a population near its own."""
    if any(s.key_fingerprint != fingerprint for s in snapshots):
        return False
    largest = max(s.population for s in snapshots)
    return largest / KEY_POPULATION_FACTOR <= population <= largest * KEY_POPULATION_FACTOR


def kept_keys(snapshots: list[Snapshot], fingerprint: str, population: int) -> list[str] | None:
    """The blocking keys the snapshots' runs chose, when every one chose the same for the same labels and
    parameters, on a population near this run's; else None (choose again)."""
    keys = {s.keys for s in snapshots}
    if len(keys) != 1 or not _like(snapshots, fingerprint, population):
        return None
    chosen = keys.pop()
    return list(chosen) if chosen else None


def kept_held_out(
    snapshots: list[Snapshot], fingerprint: str, population: int, pairs: list[tuple[str, str]]
) -> np.ndarray | None:
    """The labelled ``pairs``' held-out probabilities (by primary keys, smaller first) that the first
    snapshot holding them all kept, under the conditions of `kept_keys`; else None (fit them again)."""
    if not pairs or not _like(snapshots, fingerprint, population):
        return None
    for s in snapshots:
        if all(p in s.held_out for p in pairs):
            return np.asarray([s.held_out[p] for p in pairs], dtype=np.float64)
    return None
