"""A find-matches run may ask for an engine other than the server's (``Engine``, ``apply --engine``)."""

from __future__ import annotations

import csv
import io
import shutil
from typing import Any

import pytest
from botocore.exceptions import ClientError

from findmatches import sample
from tests.api.test_run_files import _label_file, _teach
from tests.conftest import PART_CSV, SAMPLE_COLUMNS, SampleTransform, ServerProcess, apply_cli, wait_run


def _groups(s3: Any, bucket: str, prefix: str) -> set[frozenset[str]]:
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    rows = csv.DictReader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()))
    groups: dict[str, set[str]] = {}
    for r in rows:
        groups.setdefault(r["match_id"], set()).add(r["id"])
    return {frozenset(g) for g in groups.values()}


def test_an_unknown_engine_is_refused(glue: Any, people: SampleTransform) -> None:
    s3_path = f"s3://{people.bucket}/out/"
    with pytest.raises(ClientError) as e:
        glue.start_find_matches_task_run(
            TransformId=people.transform_id, OutputS3Path=s3_path, Engine="oracle"
        )
    assert e.value.response["Error"]["Code"] == "InvalidInputException"


@pytest.mark.spark
def test_a_run_on_spark_on_a_duckdb_server_finds_the_same_groups(
    server: ServerProcess, glue: Any, s3: Any, people: SampleTransform
) -> None:
    pytest.importorskip("pyspark", reason="the Spark tests need PySpark: pip install 'findmatches[spark]'")
    if shutil.which("java") is None:
        pytest.skip("the Spark tests need Java 17")
    s3.put_object(Bucket=people.bucket, Key="labels.csv", Body=_label_file(people.rows, sets=30))
    _teach(glue, people.transform_id, f"s3://{people.bucket}/labels.csv")
    # A small input: Spark's cost here is its fixed cost per stage, not the records.
    few = people.rows[:120]
    s3.put_object(
        Bucket=people.bucket, Key=f"few/{PART_CSV}", Body=sample.to_csv(few, SAMPLE_COLUMNS).encode()
    )
    runs = {}
    for engine in ("duckdb", "spark"):
        runs[engine] = glue.start_find_matches_task_run(
            TransformId=people.transform_id,
            InputS3Path=f"s3://{people.bucket}/few/",
            OutputS3Path=f"s3://{people.bucket}/{engine}/",
            Engine=engine,
        )["TaskRunId"]
    for engine, run_id in runs.items():
        run = wait_run(glue, people.transform_id, run_id, timeout=300)
        assert run["Status"] == "SUCCEEDED", run
        log = (server.data_dir / "logs" / f"{run_id}.log").read_text()
        assert f"Engine: {engine}." in log
    assert _groups(s3, people.bucket, "spark/") == _groups(s3, people.bucket, "duckdb/")
    # The same from the command line.
    done = apply_cli(
        server.url,
        "--transform-id",
        people.transform_id,
        "--input",
        f"s3://{people.bucket}/few/",
        "--output",
        f"s3://{people.bucket}/cli/",
        "--engine",
        "duckdb",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert _groups(s3, people.bucket, "cli/") == _groups(s3, people.bucket, "duckdb/")
