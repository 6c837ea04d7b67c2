"""A table whose files' header writes the primary key in another case than the catalog and the transform
(crawlers keep column names in lower case, as Hive does): every task finds the key, through boto3 and the S3
server on loopback."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

from findmatches import sample
from tests.api.test_labels import import_labels, label_file, put, some_sets
from tests.conftest import SAMPLE_COLUMNS, catalog_csv_transform, wait_run

LAZY = {"SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"}


def _csv(rows: list[dict[str, str]], header: list[str]) -> bytes:
    """``rows`` (keyed by the sample's column names) as CSV under ``header``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[r[c] for c in SAMPLE_COLUMNS] for r in rows])
    return out.getvalue().encode()


def test_a_key_written_in_another_case_is_found_by_every_task(glue: Any, s3: Any) -> None:
    rows = sample.generate()
    header = ["ID", "First_Name", *SAMPLE_COLUMNS[2:]]
    people = catalog_csv_transform(glue, s3, "case" + uuid.uuid4().hex[:12], rows, _csv(rows, header), LAZY)

    sets = some_sets(people, 3)
    run = import_labels(glue, people, put(s3, people, "labels.csv", label_file(people, sets)))
    assert run["Status"] == "SUCCEEDED", run  # the import found its keys in the table's "ID" column

    run_id = glue.start_ml_labeling_set_generation_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/labeling/"
    )["TaskRunId"]
    assert wait_run(glue, people.transform_id, run_id)["Status"] == "SUCCEEDED"

    # New records without the labelled ones, headed "Id": the labelled records come from the table.
    labelled = {pk for ids in sets.values() for pk in ids}
    given = [r for r in rows if r["id"] not in labelled]
    put(s3, people, "input/part-00000.csv", _csv(given, ["Id", *SAMPLE_COLUMNS[1:]]))
    run_id = glue.start_find_matches_task_run(
        TransformId=people.transform_id,
        InputS3Path=f"s3://{people.bucket}/input/",
        OutputS3Path=f"s3://{people.bucket}/matches/",
    )["TaskRunId"]
    run = wait_run(glue, people.transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    assert f"added {len(labelled)} labelled records" in Path(run["LogGroupName"]).read_text()
    out: list[dict[str, str]] = []
    for obj in s3.list_objects_v2(Bucket=people.bucket, Prefix="matches/")["Contents"]:
        body = s3.get_object(Bucket=people.bucket, Key=obj["Key"])["Body"].read().decode()
        out += list(csv.DictReader(io.StringIO(body)))
    assert sorted(r["Id"] for r in out) == sorted(r["id"] for r in given)  # each input record once
    assert all(r["match_id"] for r in out)
