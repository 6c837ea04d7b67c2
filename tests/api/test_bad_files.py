"""Hostile files (issue 17): label files and input tables from ``tests/bad_files.py`` end their run FAILED with
an ErrorString naming the problem and change nothing; valid but unusual files (BOM, CRLF, quoted line breaks,
spreadsheet formulas) are read as they are."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from findmatches import sample
from tests.api.test_labels import import_labels, label_file, put, some_sets, state
from tests.bad_files import (
    FORMULAS,
    BadFile,
    bad_input_tables,
    bad_label_files,
    garbage,
    huge_line_csv,
    unusual_input_table,
    unusual_label_file,
)
from tests.conftest import (
    SAMPLE_COLUMNS,
    S3Server,
    SampleTransform,
    ServerProcess,
    client,
    create_sample_transform,
    wait_run,
)

ROLE = "arn:aws:iam::000000000000:role/findmatches"
GOOD_TABLE = sample.to_csv(sample.generate(), SAMPLE_COLUMNS)


@pytest.fixture(scope="module")
def glue_m(server: ServerProcess) -> Any:
    return client(server.url)


@pytest.fixture(scope="module")
def s3_m(s3_server: S3Server) -> Any:
    return s3_server.client()


@pytest.fixture(scope="module")
def taught(glue_m: Any, s3_m: Any) -> Iterator[tuple[SampleTransform, str]]:
    """A READY transform over the sample people, and the label file it was taught with."""
    people = create_sample_transform(glue_m, s3_m, "bad" + uuid.uuid4().hex[:12])
    good = label_file(people, some_sets(people, 3))
    run = import_labels(glue_m, people, put(s3_m, people, "good.csv", good))
    assert run["Status"] == "SUCCEEDED", run
    assert state(glue_m, people) == ("READY", 9)
    yield people, good


@pytest.fixture(scope="module")
def huge_line(files_root: Path) -> Path:
    """A CSV table file with a ~50 MB line, written once."""
    header = GOOD_TABLE.split("\n", 1)[0]
    return huge_line_csv(
        files_root / f"hostile-{uuid.uuid4().hex[:8]}" / "huge" / "part-00000.csv", header, "P1,"
    )


def snapshot(glue: Any, s3: Any, people: SampleTransform) -> tuple[dict[str, Any], bytes]:
    """GetMLTransform and an export of the labels: what a failed import must leave as it was."""
    transform = glue.get_ml_transform(TransformId=people.transform_id)
    transform.pop("ResponseMetadata")
    prefix = f"snapshot-{uuid.uuid4().hex[:8]}/"
    run_id = glue.start_export_labels_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/{prefix}"
    )["TaskRunId"]
    assert wait_run(glue, people.transform_id, run_id)["Status"] == "SUCCEEDED"
    (obj,) = s3.list_objects_v2(Bucket=people.bucket, Prefix=prefix)["Contents"]
    body: bytes = s3.get_object(Bucket=people.bucket, Key=obj["Key"])["Body"].read()
    return transform, body


def _label_cases() -> list[BadFile]:
    # The catalogue is built from a label file of the sample's shape; its keys are the sample's own.
    people = SampleTransform("", "", sample.generate())
    return bad_label_files(label_file(people, some_sets(people, 3)))


LABEL_CASES = _label_cases()


def _find_matches(glue_m: Any, people: SampleTransform, folder: Path) -> dict[str, Any]:
    """A find-matches run of the taught transform on ``folder/table``, written to ``folder/matches``."""
    run_id = glue_m.start_find_matches_task_run(
        TransformId=people.transform_id,
        OutputS3Path=str(folder / "matches"),
        InputS3Path=str(folder / "table"),
    )["TaskRunId"]
    run: dict[str, Any] = wait_run(glue_m, people.transform_id, run_id)
    return run


def _matched_rows(glue_m: Any, people: SampleTransform, folder: Path) -> list[dict[str, str]]:
    """The rows a successful find-matches run of ``folder/table`` writes (`_find_matches`)."""
    run = _find_matches(glue_m, people, folder)
    assert run["Status"] == "SUCCEEDED", run
    (part,) = (folder / "matches").glob("part-*.csv")
    with open(part, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("bad", LABEL_CASES, ids=[b.name for b in LABEL_CASES])
def test_a_bad_label_file_fails_the_import_and_changes_nothing(
    glue_m: Any, s3_m: Any, taught: tuple[SampleTransform, str], bad: BadFile
) -> None:
    people, _ = taught
    before = snapshot(glue_m, s3_m, people)
    prefix = f"bad/{bad.name}-{uuid.uuid4().hex[:6]}/"
    for name, body in bad.parts:
        put(s3_m, people, prefix + name, body)
    run = import_labels(glue_m, people, f"s3://{people.bucket}/{prefix}", replace=True)
    assert run["Status"] == "FAILED", run
    assert run["ErrorString"].startswith("Invalid label file: "), run["ErrorString"]
    assert re.search(bad.error, run["ErrorString"]), run["ErrorString"]
    assert snapshot(glue_m, s3_m, people) == before


def test_empty_and_oversized_label_files_are_refused_at_start(
    glue_m: Any, s3_m: Any, taught: tuple[SampleTransform, str], huge_line: Path
) -> None:
    people, _ = taught
    before = snapshot(glue_m, s3_m, people)
    runs = glue_m.get_ml_task_runs(TransformId=people.transform_id)["TaskRuns"]
    for path, code, message in (
        (put(s3_m, people, "bad/empty.csv", b""), "InvalidInputException", "Invalid label file of size 0."),
        (
            str(huge_line),
            "ResourceNumberLimitExceededException",
            "Label file has exceeded the limit of 10 MB.",
        ),
    ):
        with pytest.raises(ClientError) as e:
            glue_m.start_import_labels_task_run(TransformId=people.transform_id, InputS3Path=path)
        assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (code, message)
    assert glue_m.get_ml_task_runs(TransformId=people.transform_id)["TaskRuns"] == runs
    assert snapshot(glue_m, s3_m, people) == before


def test_spreadsheet_ways_and_duplicate_keys_across_sets_are_accepted(
    glue: Any, s3: Any, people: SampleTransform
) -> None:
    """A BOM, CRLF line ends and a quoted value holding line breaks, quotes and a comma: read as written, and
    exported as the same value. A record may be in two labeling sets."""
    good = label_file(people, some_sets(people, 3))
    run = import_labels(glue, people, put(s3, people, "unusual.csv", unusual_label_file(good)))
    assert run["Status"] == "SUCCEEDED", run
    assert state(glue, people) == ("READY", 9)
    _, exported = snapshot(glue, s3, people)
    rows = list(csv.DictReader(io.StringIO(exported.decode(), newline="")))
    assert rows[0]["last_name"] == 'lee\r\nmarie "the second",\r\njr'
    assert [r["id"] for r in rows] == [r["id"] for r in csv.DictReader(io.StringIO(good))]

    first_set = good.split("\n")[1:4]
    again = good + "".join(line.replace("set0,", "set9,", 1) + "\n" for line in first_set)
    run = import_labels(glue, people, put(s3, people, "again.csv", again), replace=True)
    assert run["Status"] == "SUCCEEDED", run
    assert state(glue, people) == ("READY", 12)


def test_formulas_are_stored_as_text_and_exported_as_imported(glue: Any, s3: Any) -> None:
    """Cells that a spreadsheet would run (``=``, ``+``, ``-``, ``@``) are plain text here: nothing evaluates
    them, and an export gives back the very bytes imported (see docs/api.md: no quote is added)."""
    blank = dict.fromkeys(SAMPLE_COLUMNS, "")
    rows = [{**blank, "id": f, "first_name": f, "entity": str(i // 2)} for i, f in enumerate(FORMULAS)]
    people = create_sample_transform(glue, s3, "tfx" + uuid.uuid4().hex[:10], rows=rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["labeling_set_id", "label", "id", "first_name"])
    writer.writerows(['=HYPERLINK("x")', FORMULAS[i // 2], f, f"@{f}"] for i, f in enumerate(FORMULAS))
    body = out.getvalue()
    run = import_labels(glue, people, put(s3, people, "formulas.csv", body))
    assert run["Status"] == "SUCCEEDED", run
    assert state(glue, people) == ("READY", 4)
    assert snapshot(glue, s3, people)[1].decode() == body


# -- input tables ------------------------------------------------------------------------------------------


def _table(glue: Any, location: str, classification: str = "csv") -> str:
    """A catalog table over ``location`` and a transform over it; the transform id."""
    database = f"db_{uuid.uuid4().hex[:10]}"
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "records",
            "StorageDescriptor": {
                "Location": location,
                "Columns": [{"Name": c, "Type": "string"} for c in SAMPLE_COLUMNS],
            },
            "Parameters": {"classification": classification},
        },
    )
    transform_id: str = glue.create_ml_transform(
        Name=f"t-{uuid.uuid4().hex[:10]}",
        Role=ROLE,
        InputRecordTables=[{"DatabaseName": database, "TableName": "records"}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
    )["TransformId"]
    return transform_id


def _written(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def _both_runs_fail(glue: Any, taught: SampleTransform, table: Path, error: str, fmt: str = "csv") -> None:
    """A labeling-set run over a catalog table at ``table`` and a find-matches run with ``table`` as its input
    fail with ``error`` and write nothing to their output paths."""
    transform_id = _table(glue, str(table), fmt)
    out = table.parent / "labeling"
    run_id = glue.start_ml_labeling_set_generation_task_run(TransformId=transform_id, OutputS3Path=str(out))[
        "TaskRunId"
    ]
    run = wait_run(glue, transform_id, run_id)
    assert run["Status"] == "FAILED", run
    assert re.search(error, run["ErrorString"]), run["ErrorString"]
    assert len(run["ErrorString"]) < 4000  # never the hostile line itself
    assert _written(out) == []

    out = table.parent / "matches"
    run_id = glue.start_find_matches_task_run(
        TransformId=taught.transform_id, OutputS3Path=str(out), InputS3Path=str(table)
    )["TaskRunId"]
    run = wait_run(glue, taught.transform_id, run_id)
    assert run["Status"] == "FAILED", run
    assert re.search(error, run["ErrorString"]), run["ErrorString"]
    assert len(run["ErrorString"]) < 4000
    assert _written(out) == []


INPUT_CASES = bad_input_tables(GOOD_TABLE)


@pytest.mark.parametrize("bad", INPUT_CASES, ids=[b.name for b in INPUT_CASES])
def test_a_bad_input_table_fails_the_run_and_writes_nothing(
    glue_m: Any, files_root: Path, taught: tuple[SampleTransform, str], bad: BadFile
) -> None:
    table = files_root / f"hostile-{uuid.uuid4().hex[:8]}" / bad.name / "table"
    table.mkdir(parents=True)
    for name, body in bad.parts:
        (table / name).write_bytes(body)
    _both_runs_fail(glue_m, taught[0], table, bad.error)


def test_a_fifty_megabyte_line_is_refused_without_reading_it_whole(
    glue_m: Any, taught: tuple[SampleTransform, str], huge_line: Path
) -> None:
    _both_runs_fail(
        glue_m, taught[0], huge_line.parent, r"part-00000\.csv, line 2: a line longer than 2,097,152 bytes"
    )


def test_binary_garbage_as_a_parquet_table(
    glue_m: Any, files_root: Path, taught: tuple[SampleTransform, str]
) -> None:
    table = files_root / f"hostile-{uuid.uuid4().hex[:8]}" / "parquet" / "table"
    table.mkdir(parents=True)
    (table / "part-00000.snappy.parquet").write_bytes(garbage(64 * 1024))
    _both_runs_fail(glue_m, taught[0], table, r"(?i)parquet", fmt="parquet")


def test_a_header_only_table_has_no_records_to_label_and_none_to_match(
    glue_m: Any, files_root: Path, taught: tuple[SampleTransform, str]
) -> None:
    """A header and no rows is a valid table of no records: nothing to label (a named error), and matching
    it writes the header alone."""
    header = GOOD_TABLE.split("\n", 1)[0]
    folder = files_root / f"header-only-{uuid.uuid4().hex[:8]}"
    (folder / "table").mkdir(parents=True)
    (folder / "table" / "part-00000.csv").write_text(header + "\r\n")
    transform_id = _table(glue_m, str(folder / "table"))
    run_id = glue_m.start_ml_labeling_set_generation_task_run(
        TransformId=transform_id, OutputS3Path=str(folder / "labeling")
    )["TaskRunId"]
    run = wait_run(glue_m, transform_id, run_id)
    assert run["Status"] == "FAILED" and "The input has no records" in run["ErrorString"], run
    assert _written(folder / "labeling") == []
    people = taught[0]
    run = _find_matches(glue_m, people, folder)
    assert run["Status"] == "SUCCEEDED", run
    (part,) = (folder / "matches").glob("part-*.csv")
    assert part.read_text() == header + ",match_id\n"


def test_spreadsheet_ways_in_an_input_table_are_read_as_written(
    glue_m: Any, files_root: Path, taught: tuple[SampleTransform, str]
) -> None:
    """A BOM, CRLF line ends and a quoted value holding line breaks, quotes and a comma: valid CSV, matched."""
    body, value = unusual_input_table(GOOD_TABLE)
    folder = files_root / f"unusual-{uuid.uuid4().hex[:8]}"
    (folder / "table").mkdir(parents=True)
    (folder / "table" / "part-00000.csv").write_bytes(body)
    transform_id = _table(glue_m, str(folder / "table"))
    run_id = glue_m.start_ml_labeling_set_generation_task_run(
        TransformId=transform_id, OutputS3Path=str(folder / "labeling")
    )["TaskRunId"]
    run = wait_run(glue_m, transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run

    people = taught[0]
    out = _matched_rows(glue_m, people, folder)
    assert list(out[0])[: len(SAMPLE_COLUMNS)] == SAMPLE_COLUMNS  # the BOM is not part of the first name
    assert len(out) == len(people.rows)
    first_id = GOOD_TABLE.split("\n")[1].split(",")[0]
    assert next(r for r in out if r["id"] == first_id)["first_name"] == value


def test_rows_without_their_trailing_fields_or_with_one_more_are_read_as_spark_reads_them(
    glue_m: Any, files_root: Path, taught: tuple[SampleTransform, str]
) -> None:
    """Writers that leave out a row's empty trailing fields, and a row with a field more than the header:
    read as Glue's Spark reads them (missing fields empty, the extra one dropped), not refused nor taken for
    one column."""
    lines = GOOD_TABLE.rstrip("\n").split("\n")
    cut = [i for i, line in enumerate(lines) if i and line.endswith(",")][:20]
    assert len(cut) >= 5
    for i in cut:
        lines[i] = lines[i].rstrip(",")
    lines[1] += ",a field beyond the header"
    folder = files_root / f"ragged-{uuid.uuid4().hex[:8]}"
    (folder / "table").mkdir(parents=True)
    (folder / "table" / "part-00000.csv").write_text("\n".join(lines) + "\n")
    out = _matched_rows(glue_m, taught[0], folder)
    assert list(out[0]) == [*SAMPLE_COLUMNS, "match_id"]
    written = {r["id"]: r for r in out}
    expected = {r["id"]: r for r in csv.DictReader(io.StringIO(GOOD_TABLE))}
    assert len(out) == len(expected)
    assert all(written[k][c] == expected[k][c] for k in expected for c in SAMPLE_COLUMNS)
