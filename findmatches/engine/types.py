"""Public types of the matching engine.

The engine knows nothing of HTTP, the metadata store or S3: data comes in as local files (or an Arrow
table) and goes out as local files or plain values. The task layer downloads and uploads around it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pyarrow as pa

FileFormat = Literal["csv", "parquet", "json"]


@dataclass(frozen=True)
class CsvFormat:
    """How CSV input files are written. An option left at None is detected from the data (sniffed).

    ``header`` False means the files have no header row: their fields are named ``names``, in file order
    (a file with more fields than names gets ``column<N>`` for the rest). ``encoding``: the files' text
    encoding where it is not UTF-8 (read through UTF-8 copies, `findmatches.engine.charsets`).
    """

    delimiter: str | None = None
    quote: str | None = None
    escape: str | None = None
    header: bool = True
    names: tuple[str, ...] = ()
    encoding: str | None = None


@dataclass(frozen=True)
class RecordSource:
    """Records to match: local files of one format (or, on Spark, objects its executors read), or an in-memory
    Arrow table.

    The engine matches on every column as text (VARCHAR) and profiles the columns itself; the output keeps
    the columns' own types (CSV columns are text). ``csv`` says how CSV
    files are written (the default: one header row, delimiter and quoting detected).
    """

    paths: tuple[Path, ...] = ()
    format: FileFormat = "csv"
    table: pa.Table | None = None
    csv: CsvFormat = field(default_factory=CsvFormat)
    #: Object URIs (``s3a://``) in place of ``paths``, which only the Spark backend reads (its executors do).
    uris: tuple[str, ...] = ()

    @property
    def locations(self) -> tuple[str, ...]:
        """The files' paths, or the objects' URIs, as text."""
        return tuple(str(p) for p in self.paths) or self.uris


@dataclass(frozen=True)
class ExistingMatches:
    """Records matched before (incremental matching), each with the ``match_id`` a previous run gave it, and
    the merges recorded since: ``merges`` (retired_match_id, match_id: its successor), applied first.

    The records come as files (``records``) or as the folders of snapshots that earlier runs kept of them
    (``snapshots``, `findmatches.engine.snapshot`): already normalised, so not read and normalised again."""

    records: RecordSource | None = None
    merges: pa.Table | None = None
    snapshots: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if (self.records is None) == (not self.snapshots):
            raise ValueError("Existing matches come as records or as snapshots, one of the two.")


@dataclass(frozen=True)
class KeepSnapshots:
    """Where a run keeps snapshots (`findmatches.engine.snapshot`): of the records it writes (``output``), and
    of the existing records it read from files (``existing``); None: not kept."""

    output: Path | None = None
    existing: Path | None = None


@dataclass(frozen=True)
class MatchParams:
    """The transform's FindMatchesParameters, with Glue's defaults."""

    primary_key: str
    precision_recall_tradeoff: float = 0.5
    accuracy_cost_tradeoff: float = 0.5
    enforce_provided_labels: bool = False


def find_column(columns: Sequence[str], name: str) -> str | None:
    """The column called ``name``: by its exact name, else the one column whose name is ``name`` but for case
    (the Data Catalog keeps column names in lower case, as Hive does, while files' headers keep theirs);
    None where there is none, or several but for case and none exactly."""
    if name in columns:
        return name
    folded = [c for c in columns if c.casefold() == name.strip().casefold()]
    return folded[0] if len(folded) == 1 else None


@dataclass(frozen=True)
class ColumnImportance:
    column: str
    importance: float


@dataclass(frozen=True)
class EvaluationResult:
    """Cross-validated quality estimate (StartMLEvaluationTaskRun)."""

    area_under_pr_curve: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    true_negatives: int
    false_negatives: int
    column_importances: list[ColumnImportance] = field(default_factory=list)
    # The precision-recall curve of the out-of-fold scores, (threshold, precision, recall), at most CURVE_POINTS;
    # and the threshold the transform's PrecisionRecallTradeoff sets.
    curve: list[tuple[float, float, float]] = field(default_factory=list)
    threshold: float = 0.5


class Cancelled(Exception):
    """Raised inside the engine when the caller's cancel check says stop."""

    def __init__(self, message: str = "The run was cancelled.") -> None:
        super().__init__(message)


class EngineError(Exception):
    """A failure the user can act on (bad data, not enough labels); its message becomes ErrorString."""


# Called now and then with a short message; raise Cancelled (or return) from `should_stop` to stop work.
LogFn = Callable[[str], None]
StopFn = Callable[[], bool]
