"""Per-match explanations through the API (``ComputeMatchExplanations``) and ``findmatches explain``."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.api.test_run_files import _label_file, _teach
from tests.conftest import REGION, SAMPLE_COLUMNS, SampleTransform, ServerProcess, wait_run


def _taught(glue: Any, s3: Any, people: SampleTransform) -> str:
    s3.put_object(Bucket=people.bucket, Key="labels.csv", Body=_label_file(people.rows))
    _teach(glue, people.transform_id, f"s3://{people.bucket}/labels.csv")
    return people.transform_id


def _output(s3: Any, bucket: str, prefix: str) -> list[dict[str, str]]:
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_match_explanation_only_when_asked(glue: Any, s3: Any, people: SampleTransform) -> None:
    t = _taught(glue, s3, people)
    runs = {
        asked: glue.start_find_matches_task_run(
            TransformId=t, OutputS3Path=f"s3://{people.bucket}/{asked}/", ComputeMatchExplanations=asked
        )["TaskRunId"]
        for asked in (False, True)
    }
    for run_id in runs.values():
        assert wait_run(glue, t, run_id)["Status"] == "SUCCEEDED"
    plain = _output(s3, people.bucket, "False/")
    assert "match_explanation" not in plain[0]
    explained = _output(s3, people.bucket, "True/")
    assert list(explained[0]) == [*SAMPLE_COLUMNS, "match_id", "match_explanation"]
    match_id = {r["id"]: r["match_id"] for r in explained}
    docs = {r["id"]: json.loads(r["match_explanation"]) for r in explained if r["match_explanation"]}
    assert len(docs) > 0.9 * len(explained)
    for key, doc in docs.items():
        assert list(doc["columns"]) == [*SAMPLE_COLUMNS[1:], "(whole record)"]
        assert abs(doc["prior"] + sum(w for _, w in doc["columns"].values()) - doc["score"]) < 1e-4
        assert {level for level, _ in doc["columns"].values()} <= {"exact", "close", "different", "missing"}
        assert doc["same_group"] == (match_id[doc["partner"]] == match_id[key]) and doc["partner"] != key
    # every record of a group of several is explained by a link inside its group
    sizes: dict[str, int] = {}
    for r in explained:
        sizes[r["match_id"]] = sizes.get(r["match_id"], 0) + 1
    grouped = [k for k in docs if sizes[match_id[k]] > 1]
    assert grouped and sum(docs[k]["same_group"] for k in grouped) >= 0.95 * len(grouped)


def _explain_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    env["AWS_DEFAULT_REGION"] = REGION
    command = [sys.executable, "-m", "findmatches.cli", "explain", "--endpoint-url", url, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_explain_cli_prints_a_waterfall(
    server: ServerProcess, glue: Any, s3: Any, people: SampleTransform, files_root: Path
) -> None:
    t = _taught(glue, s3, people)
    entities: dict[str, list[str]] = {}
    for row in people.rows:
        entities.setdefault(row["entity"], []).append(row["id"])
    first, second = next(ids for ids in entities.values() if len(ids) > 1)[:2]
    folder = files_root / f"explain-{uuid.uuid4().hex[:8]}"
    done = _explain_cli(
        server.url, "--transform-id", t, "--record-id", first, "--output", str(folder), "--quiet"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"Record {first}, match_id ")
    assert any(line.startswith("prior ") for line in lines)
    for column in SAMPLE_COLUMNS[1:]:
        (line,) = [line for line in lines if line.startswith(f"{column} ")]
        assert line.split()[1] in ("exact", "close", "different", "missing") and "│" in line
    assert any(line.startswith("score ") for line in lines) and "probability" in lines[-1]

    # ...and from that output again, without a new run
    (part,) = folder.glob("part-*.csv")
    done = _explain_cli(server.url, "--transform-id", t, "--record-id", second, "--matches", str(part))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Record {second}, match_id ")
    assert len(list(folder.iterdir())) == 1
    done = _explain_cli(
        server.url, "--transform-id", t, "--record-id", "no-such-id", "--matches", str(folder)
    )
    assert done.returncode == 1 and "no record has id no-such-id" in done.stderr
    # an output without explanations says so
    plain = glue.start_find_matches_task_run(TransformId=t, OutputS3Path=str(folder / "plain"))["TaskRunId"]
    assert wait_run(glue, t, plain)["Status"] == "SUCCEEDED"
    done = _explain_cli(
        server.url, "--transform-id", t, "--record-id", first, "--matches", str(folder / "plain")
    )
    assert done.returncode == 1 and "ComputeMatchExplanations" in done.stderr
