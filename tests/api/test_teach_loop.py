"""The whole teaching loop through the public API, with boto3 and with the aws CLI:
generate → label → import (merge, re-import, replace) → export → import the export → evaluate → apply."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from findmatches.aws.spec import EXTRAS_DATA_PATH
from tests.conftest import PART_PARQUET, SampleTransform, ServerProcess, apply_cli, wait_run


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def only_object(s3: Any, bucket: str, prefix: str) -> str:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert len(keys) == 1, keys
    return str(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read().decode("utf-8"))


def oracle(rows: list[dict[str, str]], truth: dict[str, str]) -> str:
    """Label a labeling file as a careful person would: same entity ⇒ same label."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "label": truth[row["id"]]})
    return out.getvalue()


def generate(glue: Any, s3: Any, people: SampleTransform, round_no: int) -> list[dict[str, str]]:
    prefix = f"labeling/round{round_no}/"
    run_id = glue.start_ml_labeling_set_generation_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/{prefix}"
    )["TaskRunId"]
    run = wait_run(glue, people.transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    assert run["Properties"]["LabelingSetGenerationTaskRunProperties"]["OutputS3Path"].endswith(prefix)
    return read_csv(only_object(s3, people.bucket, prefix))


def test_teach_loop_with_boto3(glue: Any, s3: Any, people: SampleTransform) -> None:
    t = people.transform_id
    with pytest.raises(ClientError) as e:
        glue.start_ml_evaluation_task_run(TransformId=t)
    assert e.value.response["Error"]["Code"] == "MLTransformNotReadyException"
    with pytest.raises(ClientError) as e:
        glue.start_find_matches_task_run(TransformId=t, OutputS3Path=f"s3://{people.bucket}/m/")
    assert e.value.response["Error"]["Code"] == "MLTransformNotReadyException"

    truth = people.truth()
    shown: set[str] = set()
    for round_no in range(2):
        rows = generate(glue, s3, people, round_no)
        assert list(rows[0])[:2] == ["labeling_set_id", "label"]
        assert list(rows[0])[2:] == [
            "id",
            "first_name",
            "last_name",
            "birth_date",
            "street",
            "city",
            "zip",
            "email",
        ]
        assert all(r["label"] == "" for r in rows)
        ids = [r["id"] for r in rows]
        assert 20 <= len(ids) <= 130 and len(set(ids)) == len(ids)
        assert not shown & set(ids), "a record was shown again after it was labelled"
        shown |= set(ids)
        sizes = Counter(r["labeling_set_id"] for r in rows)
        assert all(2 <= n <= 30 for n in sizes.values()), sizes
        assert 5 <= len(sizes) <= 20, sizes  # about 10 labeling sets
        # similarity, not a random sample: most sets hold at least one true match
        with_match = sum(
            1 for s in sizes if len({truth[r["id"]] for r in rows if r["labeling_set_id"] == s}) < sizes[s]
        )
        assert with_match >= len(sizes) // 2, (with_match, len(sizes))
        key = f"labels/round{round_no}.csv"
        s3.put_object(Bucket=people.bucket, Key=key, Body=oracle(rows, truth).encode())
        run_id = glue.start_import_labels_task_run(TransformId=t, InputS3Path=f"s3://{people.bucket}/{key}")[
            "TaskRunId"
        ]
        assert wait_run(glue, t, run_id)["Status"] == "SUCCEEDED"
    transform = glue.get_ml_transform(TransformId=t)
    assert transform["Status"] == "READY" and transform["LabelCount"] == len(shown)

    run_id = glue.start_ml_evaluation_task_run(TransformId=t)["TaskRunId"]
    run = wait_run(glue, t, run_id)
    assert run["Status"] == "SUCCEEDED", run
    metrics = glue.get_ml_transform(TransformId=t)["EvaluationMetrics"]
    assert metrics["TransformType"] == "FIND_MATCHES"
    fm = metrics["FindMatchesMetrics"]
    for name in ("AreaUnderPRCurve", "Precision", "Recall", "F1"):
        assert 0.0 <= fm[name] <= 1.0
    assert fm["F1"] > 0.5
    matrix = fm["ConfusionMatrix"]
    assert matrix["NumTruePositives"] + matrix["NumFalseNegatives"] > 0
    importances = [c["Importance"] for c in fm["ColumnImportances"]]
    assert importances == sorted(importances, reverse=True)

    run_id = glue.start_find_matches_task_run(
        TransformId=t, OutputS3Path=f"s3://{people.bucket}/matches/", ComputeMatchConfidenceScores=True
    )["TaskRunId"]
    run = wait_run(glue, t, run_id)
    assert run["Status"] == "SUCCEEDED", run
    assert run["Properties"]["TaskType"] == "FIND_MATCHES"
    out = read_csv(only_object(s3, people.bucket, "matches/"))
    assert sorted(r["id"] for r in out) == sorted(r["id"] for r in people.rows)  # every row exactly once
    assert all(0.0 <= float(r["match_confidence_score"]) <= 1.0 for r in out)
    clusters: dict[str, set[str]] = {}
    for r in out:
        clusters.setdefault(r["match_id"], set()).add(truth[r["id"]])
    pure = sum(1 for entities in clusters.values() if len(entities) == 1)
    assert pure / len(clusters) > 0.9

    # Apply to other records, in another format than the table's (Parquet in, Parquet out): none of them is
    # labelled, yet what the labels taught still counts (the labelled records come from the table).
    import pyarrow as pa
    import pyarrow.parquet as pq

    new_rows = [r for r in people.rows if r["id"] not in shown]
    sink = io.BytesIO()
    columns = ["id", "first_name", "last_name", "birth_date", "street", "city", "zip", "email"]
    pq.write_table(pa.table({c: [r[c] for r in new_rows] for c in columns}), sink)
    # Named as the table's object is (Spark's part-00000 names): the two fetches must not overwrite each other.
    s3.put_object(Bucket=people.bucket, Key=f"new/{PART_PARQUET}", Body=sink.getvalue())
    with pytest.raises(ClientError) as e:
        glue.start_find_matches_task_run(
            TransformId=t,
            OutputS3Path=f"s3://{people.bucket}/m2/",
            InputS3Path=f"s3://{people.bucket}/missing/",
        )
    assert e.value.response["Error"]["Code"] == "InvalidInputException"
    run_id = glue.start_find_matches_task_run(
        TransformId=t,
        OutputS3Path=f"s3://{people.bucket}/m2/out.parquet",
        InputS3Path=f"s3://{people.bucket}/new/{PART_PARQUET}",
    )["TaskRunId"]
    run = wait_run(glue, t, run_id)
    assert run["Status"] == "SUCCEEDED", run
    body = s3.get_object(Bucket=people.bucket, Key="m2/out.parquet")["Body"].read()
    applied = pq.read_table(io.BytesIO(body))
    assert sorted(applied.column("id").to_pylist()) == sorted(
        r["id"] for r in new_rows
    )  # no labelled row leaks
    assert "match_confidence_score" not in applied.column_names
    groups: dict[str, set[str]] = {}
    for pk, match_id in zip(
        applied.column("id").to_pylist(), applied.column("match_id").to_pylist(), strict=True
    ):
        groups.setdefault(str(match_id), set()).add(truth[pk])
    assert sum(1 for entities in groups.values() if len(entities) == 1) / len(groups) > 0.9
    assert "labelled records of the transform's table" in Path(run["LogGroupName"]).read_text()

    # Export, then import the export with ReplaceAllLabels: the labels are identical.
    def export(prefix: str) -> str:
        run_id = glue.start_export_labels_task_run(
            TransformId=t, OutputS3Path=f"s3://{people.bucket}/{prefix}/"
        )["TaskRunId"]
        assert wait_run(glue, t, run_id)["Status"] == "SUCCEEDED"
        return only_object(s3, people.bucket, f"{prefix}/")

    first = export("export1")
    run_id = glue.start_import_labels_task_run(
        TransformId=t, InputS3Path=f"s3://{people.bucket}/export1/", ReplaceAllLabels=True
    )["TaskRunId"]
    assert wait_run(glue, t, run_id)["Status"] == "SUCCEEDED"
    assert export("export2") == first
    assert glue.get_ml_transform(TransformId=t)["LabelCount"] == len(shown)


def aws(server: ServerProcess, *args: str) -> Any:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_DATA_PATH": str(EXTRAS_DATA_PATH),
        "AWS_MAX_ATTEMPTS": "1",
    }
    cli = Path(os.__file__).parents[3] / "bin" / "aws"
    command = [
        str(cli) if cli.exists() else "aws",
        "glue",
        "--endpoint-url",
        server.url,
        "--output",
        "json",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def cli_wait(server: ServerProcess, transform_id: str, run_id: str) -> dict[str, Any]:
    """The run as the aws CLI reports it once it has ended (waited for with boto3: a CLI process per poll
    took most of this test's minute)."""
    import time

    import boto3

    glue = boto3.client(
        "glue",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    for _ in range(600):
        status = glue.get_ml_task_run(TransformId=transform_id, TaskRunId=run_id)["Status"]
        if status in ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"):
            break
        time.sleep(0.2)
    run: dict[str, Any] = aws(
        server, "get-ml-task-run", "--transform-id", transform_id, "--task-run-id", run_id
    )
    assert run["Status"] in ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"), run
    return run


@pytest.mark.slow  # a process per aws CLI call (tests/api/test_cli.py keeps the CLI in make test)
def test_teach_loop_with_the_aws_cli(
    server: ServerProcess, people: SampleTransform, files_root: Path
) -> None:
    t = people.transform_id
    folder = files_root / t
    run = aws(
        server,
        "start-ml-labeling-set-generation-task-run",
        "--transform-id",
        t,
        "--output-s3-path",
        str(folder / "labeling"),
    )
    assert cli_wait(server, t, run["TaskRunId"])["Status"] == "SUCCEEDED"
    (labeling_file,) = (folder / "labeling").glob("*.csv")
    rows = read_csv(labeling_file.read_text())
    (folder / "labels.csv").write_text(oracle(rows, people.truth()))

    def cli_import(path: Path, *flags: str) -> dict[str, Any]:
        run = aws(
            server, "start-import-labels-task-run", "--transform-id", t, "--input-s3-path", str(path), *flags
        )
        return cli_wait(server, t, run["TaskRunId"])

    # Merge (the default), then the same labeling sets again: replaced, not doubled.
    for _ in range(2):
        done = cli_import(folder / "labels.csv")
        assert done["Status"] == "SUCCEEDED", done
        assert done["Properties"]["ImportLabelsTaskRunProperties"]["Replace"] is False
        assert aws(server, "get-ml-transform", "--transform-id", t)["LabelCount"] == len(rows)
    # A plain path: the aws CLI v1 reads any argument that starts with file:// as a file's content.
    run = aws(
        server,
        "start-import-labels-task-run",
        "--transform-id",
        t,
        "--input-s3-path",
        str(folder / "labels.csv"),
        "--replace-all-labels",
    )
    done = cli_wait(server, t, run["TaskRunId"])
    assert (
        done["Status"] == "SUCCEEDED"
        and done["Properties"]["ImportLabelsTaskRunProperties"]["Replace"] is True
    )
    assert aws(server, "get-ml-transform", "--transform-id", t)["LabelCount"] == len(rows)
    assert aws(server, "get-ml-transform", "--transform-id", t)["Status"] == "READY"

    def cli_export(name: str) -> str:
        run = aws(
            server,
            "start-export-labels-task-run",
            "--transform-id",
            t,
            "--output-s3-path",
            str(folder / name),
        )
        assert cli_wait(server, t, run["TaskRunId"])["Status"] == "SUCCEEDED"
        (exported,) = (folder / name).glob(f"{t}_labels_*.csv")
        return exported.read_text()

    # Export, import the export with --replace-all-labels: the labels are identical.
    first = cli_export("export1")
    assert cli_import(folder / "export1", "--replace-all-labels")["Status"] == "SUCCEEDED"
    assert cli_export("export2") == first
    assert aws(server, "get-ml-transform", "--transform-id", t)["LabelCount"] == len(rows)
    run = aws(server, "start-ml-evaluation-task-run", "--transform-id", t)
    assert cli_wait(server, t, run["TaskRunId"])["Status"] == "SUCCEEDED"
    metrics = aws(server, "get-ml-transform", "--transform-id", t)["EvaluationMetrics"]["FindMatchesMetrics"]
    assert 0.0 <= metrics["F1"] <= 1.0 and "ConfusionMatrix" in metrics
    run = aws(
        server,
        "start-find-matches-task-run",
        "--transform-id",
        t,
        "--output-s3-path",
        str(folder / "matches.parquet"),
    )
    assert cli_wait(server, t, run["TaskRunId"])["Status"] == "SUCCEEDED"
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "matches.parquet")
    assert table.num_rows == len(people.rows) and "match_id" in table.column_names
    runs = aws(server, "get-ml-task-runs", "--transform-id", t)["TaskRuns"]
    assert {r["Properties"]["TaskType"] for r in runs} == {
        "LABELING_SET_GENERATION",
        "IMPORT_LABELS",
        "EXPORT_LABELS",
        "EVALUATION",
        "FIND_MATCHES",
    }
    # The same run through `findmatches apply`, the CLI front that waits with a progress bar.
    done = apply_cli(server.url, "--transform-id", t, "--output", str(folder / "applied"), "--confidence")
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED" in done.stdout
    (part,) = (folder / "applied").glob("part-*.csv")
    applied = read_csv(part.read_text())
    assert len(applied) == len(people.rows) and "match_confidence_score" in applied[0]
    missing = "tfm-" + "0" * 40
    done = apply_cli(
        server.url, "--transform-id", missing, "--output", str(folder / "x"), "--quiet", timeout=60
    )
    assert done.returncode == 1 and "EntityNotFoundException" in done.stderr
