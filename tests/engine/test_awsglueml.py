"""``awsglueml.transforms`` (issue 19): a Glue ETL script runs unchanged under spark-submit against the server.

The script is the FindMatches tutorial's generated script, its GlueContext replaced by a plain Spark session
where ``awsglue`` is absent. It needs PySpark and Java (skipped, saying so, where either is missing).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from findmatches import sample
from findmatches.engine.metrics import clustering_scores
from tests.api.test_run_files import _label_file
from tests.conftest import REGION, SAMPLE_COLUMNS, ServerProcess, create_sample_transform, wait_run

pyspark = pytest.importorskip("pyspark", reason="awsglueml runs in Spark: pip install 'findmatches[spark]'")
pytest.importorskip("sqlglot", reason="the Spark backend needs sqlglot: pip install 'findmatches[spark]'")

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
        reason="Spark needs Java 17 (java on PATH, or JAVA_HOME)",
    ),
]

SPARK_SUBMIT = Path(pyspark.__file__).parent / "bin" / "spark-submit"

# The tutorial's script (docs.aws.amazon.com/glue/latest/dg/machine-learning-transform-tutorial.html), with
# the job's arguments from the command line, its catalog source and S3 sink as local CSV, then an incremental
# step (machine-learning-incremental-matches.html) over a matched dataset, written as Parquet.
SCRIPT = textwrap.dedent(
    """
    import sys

    from pyspark.context import SparkContext
    from pyspark.sql import SparkSession

    from awsglueml.transforms import FindIncrementalMatches, FindMatches

    try:
        from awsglue.context import GlueContext
    except ImportError:  # outside Glue: a plain Spark session
        GlueContext = None

    transform_id, records, existing_matches, new_records, out = sys.argv[1:6]
    sc = SparkContext.getOrCreate()
    spark = GlueContext(sc).spark_session if GlueContext else SparkSession(sc)

    datasource0 = spark.read.option("header", True).csv(records)
    findmatches2 = FindMatches.apply(frame = datasource0, transformId = transform_id,
                                     transformation_ctx = "findmatches2", computeMatchConfidenceScores = True)
    single_partition = findmatches2.repartition(1)
    single_partition.write.mode("overwrite").option("header", True).csv(out + "/matches")

    findincrementalmatches3 = FindIncrementalMatches.apply(
        existingFrame = spark.read.option("header", True).csv(existing_matches),
        incrementalFrame = spark.read.option("header", True).csv(new_records),
        transformId = transform_id,
        transformation_ctx = "findincrementalmatches3",
    )
    findincrementalmatches3.repartition(1).write.mode("overwrite").parquet(out + "/incremental")
    """
)


def _read_csvs(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for part in sorted(folder.glob("part-*.csv")):
        with open(part, newline="") as f:
            rows.extend(csv.DictReader(f))
    return rows


def _partition(ids: list[str], groups: list[Any]) -> set[frozenset[str]]:
    by_group: dict[Any, set[str]] = {}
    for i, g in zip(ids, groups, strict=True):
        by_group.setdefault(g, set()).add(i)
    return {frozenset(v) for v in by_group.values()}


def _python_error(stderr: str) -> str:
    """The script's Python traceback out of spark-submit's log (else the log's end)."""
    start = stderr.rfind("Traceback (most recent call last)")
    return stderr[start:][:6000] if start >= 0 else stderr[-4000:]


def _find_matches(glue: Any, transform_id: str, out: Path, records: Path | None = None) -> str:
    """Start the server's own find-matches run (over ``records``, else the transform's table)."""
    more = {"InputS3Path": str(records)} if records else {}
    run: str = glue.start_find_matches_task_run(TransformId=transform_id, OutputS3Path=str(out), **more)[
        "TaskRunId"
    ]
    return run


@pytest.mark.slow  # two matching runs on Spark: about a minute on two cores
@pytest.mark.timeout(900)
def test_a_glue_script_finds_matches_under_spark_submit(
    server: ServerProcess, glue: Any, s3: Any, files_root: Path, tmp_path: Path
) -> None:
    rows = sample.generate(entities=200, seed=7)
    truth = {r["id"]: r["entity"] for r in rows}
    name = "glueml" + uuid.uuid4().hex[:10]
    tid = create_sample_transform(glue, s3, name, rows=rows).transform_id
    work = files_root / name
    work.mkdir()
    (work / "labels.csv").write_bytes(_label_file(rows, sets=12))
    run_id = glue.start_import_labels_task_run(TransformId=tid, InputS3Path=str(work / "labels.csv"))[
        "TaskRunId"
    ]
    assert wait_run(glue, tid, run_id)["Status"] == "SUCCEEDED"
    # A matched dataset to match new records against: the server's own output over the other records.
    existing_rows = [r for r in rows if int(r["entity"]) % 3 != 0]
    new_rows = [r for r in rows if int(r["entity"]) % 3 == 0]
    inputs = {"records": rows, "existing": existing_rows, "new": new_rows}
    for key, part in inputs.items():
        (work / f"{key}.csv").write_text(sample.to_csv(part, SAMPLE_COLUMNS))
    run_id = _find_matches(glue, tid, work / "existing-matches", work / "existing.csv")
    assert wait_run(glue, tid, run_id)["Status"] == "SUCCEEDED"
    # And the server's run over every record (the transform's table), for the partition to compare with.
    server_run = _find_matches(glue, tid, work / "server-matches")

    script = tmp_path / "findmatches_job.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
        "AWS_ENDPOINT_URL_GLUE": server.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "FINDMATCHES_LABELS_PATH": str(work / "exports"),
        "FINDMATCHES_GLUEML_TMP": str(tmp_path / "staging"),
    }
    command = [
        str(SPARK_SUBMIT),
        "--master",
        "local[2]",
        "--conf",
        "spark.ui.enabled=false",
        "--conf",
        "spark.sql.shuffle.partitions=2",
        str(script),
        tid,
        (work / "records.csv").as_uri(),
        (work / "existing-matches").as_uri(),
        (work / "new.csv").as_uri(),
        out.as_uri(),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=800)
    assert done.returncode == 0, _python_error(done.stderr)
    assert not list((work / "exports").iterdir())  # each label export was removed after reading

    # FindMatches: every record once, with its columns, a match_id and a score; the server's partition.
    matches = _read_csvs(out / "matches")
    assert list(matches[0]) == [*SAMPLE_COLUMNS, "match_id", "match_confidence_score"]
    assert sorted(r["id"] for r in matches) == sorted(r["id"] for r in rows)
    assert all(r["match_id"] and 0 <= float(r["match_confidence_score"]) <= 1 for r in matches)
    assert wait_run(glue, tid, server_run)["Status"] == "SUCCEEDED"
    by_server = _read_csvs(work / "server-matches")
    assert _partition([r["id"] for r in matches], [r["match_id"] for r in matches]) == _partition(
        [r["id"] for r in by_server], [r["match_id"] for r in by_server]
    )
    scores = clustering_scores(
        np.array([int(r["match_id"]) for r in matches]), np.array([truth[r["id"]] for r in matches])
    )
    assert scores["pairwise_f1"] > 0.8, scores  # a sanity check: the labels are few

    # FindIncrementalMatches: the existing records and the new ones, each once; every existing group keeps
    # its id, or (when new records joined it to another) takes the other's.
    before = {r["id"]: int(r["match_id"]) for r in _read_csvs(work / "existing-matches")}
    after = pq.read_table(out / "incremental").to_pylist()
    assert sorted(r["id"] for r in after) == sorted(r["id"] for r in rows)
    assert list(after[0]) == [*SAMPLE_COLUMNS, "match_id"]
    now = {r["id"]: r["match_id"] for r in after}
    successors: dict[int, set[int]] = {}
    for key, was in before.items():
        successors.setdefault(was, set()).add(now[key])
    assert all(len(s) == 1 for s in successors.values())  # no existing group split
    moved = {was: next(iter(s)) for was, s in successors.items() if next(iter(s)) != was}
    assert all(new in successors for new in moved.values())  # merged into another existing group
    assert len(moved) <= len(successors) // 10
    scores = clustering_scores(np.array(list(now.values())), np.array([truth[k] for k in now]))
    assert scores["pairwise_f1"] > 0.8, scores


# -- the pieces around the engine, in this process's Spark session ---------------------------------------


@pytest.fixture(scope="module")
def spark() -> Any:
    from findmatches.engine.backends.spark import spark_session

    return spark_session()


def test_enforced_matches_become_one_labeling_set_per_group(spark: Any) -> None:
    from awsglueml.transforms import _enforced

    frame = spark.createDataFrame(
        [("a", 1), ("b", 1), ("c", 2), ("d", 3), ("e", 3), ("f", 3)], "id string, match_id long"
    )
    labels = _enforced(frame, "id").to_pylist()
    sets = {r["primary_key"]: r["labeling_set_id"] for r in labels}
    assert sorted(sets) == ["a", "b", "d", "e", "f"]  # a group of one record links nothing
    assert sets["a"] == sets["b"] != sets["d"] == sets["e"] == sets["f"]
    assert all(r["label"] == r["labeling_set_id"] for r in labels)


def test_a_dynamic_frame_comes_back_as_one(spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Glue's DynamicFrame, where awsglue is importable: converted with toDF(), returned with fromDF()."""
    import types

    from awsglueml.transforms import _data_frame, _same_kind

    class DynamicFrame:
        def __init__(self, df: Any, glue_ctx: Any, name: str) -> None:
            self.df, self.glue_ctx, self.name = df, glue_ctx, name

        def toDF(self) -> Any:
            return self.df

        @classmethod
        def fromDF(cls, df: Any, glue_ctx: Any, name: str) -> DynamicFrame:
            return cls(df, glue_ctx, name)

    module = types.ModuleType("awsglue.dynamicframe")
    module.DynamicFrame = DynamicFrame  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "awsglue", types.ModuleType("awsglue"))
    monkeypatch.setitem(sys.modules, "awsglue.dynamicframe", module)
    df = spark.createDataFrame([("a",)], "id string")
    dynamic = DynamicFrame(df, "glue-context", "in")
    assert _data_frame(dynamic) is df and _data_frame(df) is df
    back = _same_kind(df, dynamic, "findmatches2")
    assert isinstance(back, DynamicFrame) and back.glue_ctx == "glue-context" and back.name == "findmatches2"
    assert _same_kind(df, df, "x") is df


def test_existing_records_follow_the_merges(spark: Any, tmp_path: Path) -> None:
    from awsglueml.transforms import _with_existing

    existing = spark.createDataFrame(
        [("a", "10"), ("b", "10"), ("c", "20"), ("d", "30")], "id string, match_id string"
    )
    new = spark.createDataFrame([("e", 10, 0.9)], "id string, match_id long, match_confidence_score double")
    merges = tmp_path / "merges.csv"
    merges.write_text("retired_match_id,match_id\n20,30\n30,10\n")  # a chain: 20 → 30 → 10
    out = {r["id"]: r.asDict() for r in _with_existing(spark, existing, new, merges).collect()}
    assert {k: v["match_id"] for k, v in out.items()} == {"a": 10, "b": 10, "c": 10, "d": 10, "e": 10}
    assert out["a"]["match_confidence_score"] is None and out["e"]["match_confidence_score"] == 0.9
