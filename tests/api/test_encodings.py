"""A table whose CSV is not UTF-8: read in the encoding the catalog declares (``serialization.encoding``), and
refused with a named error where it declares none, through boto3 and the S3 server on loopback."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from findmatches import sample
from tests.api.test_labels import import_labels, label_file, put, some_sets
from tests.conftest import PART_CSV, SAMPLE_COLUMNS, SampleTransform, catalog_csv_transform, wait_run

# Windows-1252 beyond Latin-1 too: an en dash and curly quotes (0x96, 0x93, 0x94).
NAMES = {0: ("José", "Müller–Lüdenscheidt"), 1: ("Zoë", "“O’Brien”"), 2: ("François", "Æbelø")}


def _rows() -> list[dict[str, str]]:
    rows = sample.generate()
    for i, (first, last) in NAMES.items():
        rows[i] = {**rows[i], "first_name": first, "last_name": last}
    return rows


def _transform(glue: Any, s3: Any, rows: list[dict[str, str]], encoding: str | None) -> SampleTransform:
    """``rows`` as Windows-1252 CSV in a new bucket, catalogued with ``encoding`` as the table's
    serialization.encoding (none where None), and a transform over it."""
    serde: dict[str, Any] = {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"}
    if encoding is not None:
        serde["Parameters"] = {"field.delim": ",", "serialization.encoding": encoding}
    body = sample.to_csv(rows, SAMPLE_COLUMNS).encode("windows-1252")
    return catalog_csv_transform(glue, s3, "enc" + uuid.uuid4().hex[:12], rows, body, serde)


def _read_csv(s3: Any, bucket: str, prefix: str) -> list[dict[str, str]]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    rows: list[dict[str, str]] = []
    for key in keys:
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        rows += list(csv.DictReader(io.StringIO(text)))
    return rows


def test_a_declared_encoding_is_read_and_written_back_as_utf8(glue: Any, s3: Any) -> None:
    rows = _rows()
    people = _transform(glue, s3, rows, "windows-1252")
    want = {rows[i]["id"]: names for i, names in NAMES.items()}

    run = import_labels(glue, people, put(s3, people, "labels.csv", label_file(people, some_sets(people, 3))))
    assert run["Status"] == "SUCCEEDED", run  # the label import finds its keys in the table

    run_id = glue.start_ml_labeling_set_generation_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/labeling/"
    )["TaskRunId"]
    run = wait_run(glue, people.transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    labeling = _read_csv(s3, people.bucket, "labeling/")
    assert labeling and all(r["id"] in {row["id"] for row in rows} for r in labeling)
    for r in labeling:
        if r["id"] in want:
            assert (r["first_name"], r["last_name"]) == want[r["id"]]

    run_id = glue.start_find_matches_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/matches/"
    )["TaskRunId"]
    run = wait_run(glue, people.transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    out = {r["id"]: (r["first_name"], r["last_name"]) for r in _read_csv(s3, people.bucket, "matches/")}
    assert len(out) == len(rows)
    assert {pk: out[pk] for pk in want} == want


def test_undeclared_bytes_that_are_not_utf8_fail_the_run_naming_the_fix(glue: Any, s3: Any) -> None:
    people = _transform(glue, s3, _rows(), None)
    run_id = glue.start_ml_labeling_set_generation_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/labeling/"
    )["TaskRunId"]
    run = wait_run(glue, people.transform_id, run_id)
    assert run["Status"] == "FAILED", run
    assert f"{PART_CSV}, line 2: not UTF-8 encoded (byte 0xE9)" in run["ErrorString"], run
    assert "serialization.encoding" in run["ErrorString"]
    assert "Contents" not in s3.list_objects_v2(Bucket=people.bucket, Prefix="labeling/")


def test_an_unknown_declared_encoding_fails_the_run(glue: Any, s3: Any) -> None:
    people = _transform(glue, s3, _rows(), "klingon-8")
    run_id = glue.start_ml_labeling_set_generation_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/labeling/"
    )["TaskRunId"]
    run = wait_run(glue, people.transform_id, run_id)
    assert run["Status"] == "FAILED", run
    assert "serialization.encoding: Unknown text encoding 'klingon-8'" in run["ErrorString"], run
