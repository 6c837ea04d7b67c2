"""The labeling file a LABELING_SET_GENERATION run writes, read set by set, and the label file the console
writes back for StartImportLabelsTaskRun (the columns ``io/labels.py`` reads: ``labeling_set_id``, ``label``,
then the source columns, the primary key among them)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from findmatches.io.labels import LABEL, SET_ID


@dataclass(frozen=True)
class Record:
    """One row of the labeling file; ``index`` is its row number, which names its label field."""

    index: int
    key: str
    values: tuple[str, ...]
    #: Per column: does the value differ from the set's first record?
    differs: tuple[bool, ...]
    label: str


@dataclass(frozen=True)
class LabelingSet:
    set_id: str
    records: tuple[Record, ...]


@dataclass(frozen=True)
class LabelingFile:
    """The source ``columns`` (file order, without labeling_set_id and label) and the sets in file order."""

    columns: tuple[str, ...]
    primary_key: str
    sets: tuple[LabelingSet, ...]

    def records(self) -> list[tuple[str, Record]]:
        return [(s.set_id, r) for s in self.sets for r in s.records]


class LabelingFileError(Exception):
    """A labeling file the console cannot show (not one a labeling run wrote)."""


def read_labeling_file(data: bytes, primary_key: str) -> LabelingFile:
    """Parse a labeling file: records grouped by ``labeling_set_id`` in the order the sets first appear."""
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    if SET_ID not in header or LABEL not in header or primary_key not in header:
        raise LabelingFileError(
            f"the labeling file needs {SET_ID}, {LABEL} and {primary_key} columns; it has: {', '.join(header)}"
        )
    i_set, i_label = header.index(SET_ID), header.index(LABEL)
    data_idx = [j for j in range(len(header)) if j not in (i_set, i_label)]
    i_key = header.index(primary_key)
    grouped: dict[str, list[Record]] = {}
    for index, row in enumerate(r for r in reader if any(r)):
        if len(row) != len(header):
            raise LabelingFileError(f"row {index + 2} has {len(row)} fields; the header has {len(header)}")
        values = tuple(row[j] for j in data_idx)
        members = grouped.setdefault(row[i_set], [])
        first = members[0].values if members else values
        differs = tuple(v != f for v, f in zip(values, first, strict=True))
        members.append(Record(index, row[i_key], values, differs, row[i_label]))
    sets = tuple(LabelingSet(set_id, tuple(records)) for set_id, records in grouped.items())
    return LabelingFile(tuple(header[j] for j in data_idx), primary_key, sets)


def label_field(record: Record) -> str:
    """The form field that carries ``record``'s label."""
    return f"label-{record.index}"


def label_file(labeling: LabelingFile, labels: Mapping[int, str]) -> bytes:
    """The label file for the records given a label (``labels`` by record index; blank ones are left out)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([SET_ID, LABEL, *labeling.columns])
    for set_id, record in labeling.records():
        label = labels.get(record.index, "").strip()
        if label:
            writer.writerow([set_id, label, *record.values])
    return out.getvalue().encode("utf-8")


def console_folder(data_dir: Path, account_id: str, region: str, transform_id: str) -> Path:
    """Where the console keeps a transform's files: labeling sets it asked for, label files it wrote."""
    return data_dir.resolve() / "console" / account_id / region / transform_id
