"""Files that task runs read and write never collide: inputs and tables holding objects of the same name
(Spark's and Glue's ``part-00000…``), concurrent runs of one transform, partitioned tables; and the output of
a FIND_MATCHES run is the input's own records, their column types kept."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from findmatches import sample
from tests.conftest import PART_CSV, PART_PARQUET, SAMPLE_COLUMNS, ServerProcess, apply_cli, wait_run

ROLE = "arn:aws:iam::000000000000:role/findmatches"


def _csv(rows: list[dict[str, str]]) -> bytes:
    return sample.to_csv(rows, SAMPLE_COLUMNS).encode()


def _read_csv(data: bytes | str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode() if isinstance(data, bytes) else data)))


def _label_file(rows: list[dict[str, str]], sets: int = 8) -> bytes:
    """Labels for ``sets`` labeling sets of the table's records, each a duplicate pair and one other."""
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row["entity"], []).append(row)
    dupes = [g for g in groups.values() if len(g) > 1][:sets]
    singles = [g[0] for g in groups.values() if len(g) == 1][:sets]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["labeling_set_id", "label", *SAMPLE_COLUMNS])
    for i, (pair, single) in enumerate(zip(dupes, singles, strict=True)):
        for row in [*pair[:2], single]:
            writer.writerow([f"set{i}", row["entity"], *(row[c] for c in SAMPLE_COLUMNS)])
    return out.getvalue().encode()


def _catalog(glue: Any, location: str, columns: list[dict[str, str]], classification: str) -> dict[str, str]:
    database = f"db_{uuid.uuid4().hex[:10]}"
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "records",
            "StorageDescriptor": {"Location": location, "Columns": columns},
            "Parameters": {"classification": classification},
        },
    )
    return {"DatabaseName": database, "TableName": "records"}


def _transform(glue: Any, table: dict[str, str], key: str = "id") -> str:
    transform_id: str = glue.create_ml_transform(
        Name=f"t-{uuid.uuid4().hex[:10]}",
        Role=ROLE,
        InputRecordTables=[table],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": key}},
    )["TransformId"]
    return transform_id


def _teach(glue: Any, transform_id: str, labels_uri: str) -> None:
    run_id = glue.start_import_labels_task_run(TransformId=transform_id, InputS3Path=labels_uri)["TaskRunId"]
    run = wait_run(glue, transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run


def _split(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The table's records and other records (new ones, different ids), by entity so both hold duplicates."""
    table = [r for r in rows if int(r["entity"]) % 3 != 0]
    new = [r for r in rows if int(r["entity"]) % 3 == 0]
    return table, new


def _at_once(*starts: Callable[[], str]) -> list[str]:
    """Call every ``start`` from its own thread at the same moment; their results in order."""
    barrier = threading.Barrier(len(starts))
    results: list[str] = [""] * len(starts)

    def go(i: int) -> None:
        barrier.wait()
        results[i] = starts[i]()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(starts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def _body(s3: Any, bucket: str, key: str) -> bytes:
    data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


# -- inputs by role: the table's objects never overwrite the input's ---------------------------------------


def test_input_and_table_holding_objects_of_one_name_on_s3(glue: Any, s3: Any) -> None:
    rows = sample.generate(entities=300, seed=11)
    table_rows, new_rows = _split(rows)
    bucket = f"same-names-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"existing/{PART_CSV}", Body=_csv(table_rows))
    s3.put_object(Bucket=bucket, Key=f"new/{PART_CSV}", Body=_csv(new_rows))
    s3.put_object(Bucket=bucket, Key="labels.csv", Body=_label_file(table_rows))
    columns = [{"Name": c, "Type": "string"} for c in SAMPLE_COLUMNS]
    transform_id = _transform(glue, _catalog(glue, f"s3://{bucket}/existing/", columns, "csv"))
    _teach(glue, transform_id, f"s3://{bucket}/labels.csv")

    run_id = glue.start_find_matches_task_run(
        TransformId=transform_id, OutputS3Path=f"s3://{bucket}/out/", InputS3Path=f"s3://{bucket}/new/"
    )["TaskRunId"]
    run = wait_run(glue, transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    (key,) = _keys(s3, bucket, "out/")
    out = _read_csv(_body(s3, bucket, key))
    assert sorted(r["id"] for r in out) == sorted(r["id"] for r in new_rows)  # the input's, each once
    by_id = {r["id"]: r for r in new_rows}
    assert all(r["email"] == by_id[r["id"]]["email"] for r in out)  # the input's own records
    assert list(out[0]) == [*SAMPLE_COLUMNS, "match_id"]
    log = Path(run["LogGroupName"]).read_text()
    assert f"input: 1 csv file(s) from s3://{bucket}/new/" in log
    assert f"table: 1 csv file(s) from s3://{bucket}/existing/" in log
    assert f"Loaded {len(new_rows) + 24} records" in log  # the input, and the 24 labelled table records


def test_input_and_table_holding_files_of_one_name_on_local_paths(
    server: ServerProcess, glue: Any, files_root: Path
) -> None:
    rows = sample.generate(entities=300, seed=12)
    table_rows, new_rows = _split(rows)
    folder = files_root / uuid.uuid4().hex[:10]
    (folder / "existing").mkdir(parents=True)
    (folder / "new").mkdir()
    (folder / "existing" / PART_CSV).write_bytes(_csv(table_rows))
    (folder / "new" / PART_CSV).write_bytes(_csv(new_rows))
    (folder / "labels.csv").write_bytes(_label_file(table_rows))
    columns = [{"Name": c, "Type": "string"} for c in SAMPLE_COLUMNS]
    transform_id = _transform(glue, _catalog(glue, str(folder / "existing"), columns, "csv"))
    _teach(glue, transform_id, str(folder / "labels.csv"))

    # Through `findmatches apply --input`, the command-line front of StartFindMatchesTaskRun.
    new_records = f"file://{folder / 'new'}"
    args = [
        "--transform-id",
        transform_id,
        "--input",
        new_records,
        "--output",
        str(folder / "out"),
        "--quiet",
    ]
    done = apply_cli(server.url, *args)
    assert done.returncode == 0, done.stderr
    (part,) = (folder / "out").glob("part-*.csv")
    out = _read_csv(part.read_text())
    assert sorted(r["id"] for r in out) == sorted(r["id"] for r in new_rows)
    assert {r["id"]: r["street"] for r in out} == {r["id"]: r["street"] for r in new_rows}
    # The files the run read are where they were, unchanged.
    assert (folder / "existing" / PART_CSV).read_bytes() == _csv(table_rows)
    assert (folder / "new" / PART_CSV).read_bytes() == _csv(new_rows)


# -- one test per place a run writes files ---------------------------------------------------------------


def test_a_partitioned_table_whose_partitions_hold_files_of_one_name(glue: Any, s3: Any) -> None:
    """Hive-style partitions each holding ``part-00000…``: every fetch keeps them apart. Labels name records
    of both partitions (the import finds them all), and evaluation and the output see every record."""
    rows = sample.generate(entities=200, seed=13)
    first, second = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    bucket = f"partitions-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"t/dt=2026-01-01/{PART_CSV}", Body=_csv(first))
    s3.put_object(Bucket=bucket, Key=f"t/dt=2026-01-02/{PART_CSV}", Body=_csv(second))
    s3.put_object(Bucket=bucket, Key="labels.csv", Body=_label_file(rows, sets=12))
    columns = [{"Name": c, "Type": "string"} for c in SAMPLE_COLUMNS]
    transform_id = _transform(glue, _catalog(glue, f"s3://{bucket}/t/", columns, "csv"))
    _teach(glue, transform_id, f"s3://{bucket}/labels.csv")

    evaluation = glue.start_ml_evaluation_task_run(TransformId=transform_id)["TaskRunId"]
    run = wait_run(glue, transform_id, evaluation)
    assert run["Status"] == "SUCCEEDED", run
    assert f"Loaded {len(rows)} records" in Path(run["LogGroupName"]).read_text()
    run_id = glue.start_find_matches_task_run(TransformId=transform_id, OutputS3Path=f"s3://{bucket}/out/")[
        "TaskRunId"
    ]
    assert wait_run(glue, transform_id, run_id)["Status"] == "SUCCEEDED"
    (key,) = _keys(s3, bucket, "out/")
    assert sorted(r["id"] for r in _read_csv(_body(s3, bucket, key))) == sorted(r["id"] for r in rows)


def test_concurrent_runs_of_one_transform_keep_their_files_apart(
    server: ServerProcess, glue: Any, s3: Any
) -> None:
    """Labeling sets, exports and find-matches runs of one transform started at the same moment, each pair
    writing to one output folder and the find-matches runs reading inputs whose objects share one name: each
    run writes its own whole file, and none leaves files in the server's work dir."""
    rows = sample.generate(entities=300, seed=14)
    table_rows, new_rows = _split(rows)
    half = len(new_rows) // 2
    inputs = (new_rows[:half], new_rows[half:])
    bucket = f"concurrent-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"existing/{PART_CSV}", Body=_csv(table_rows))
    for i, part in enumerate(inputs):
        s3.put_object(Bucket=bucket, Key=f"new{i}/{PART_CSV}", Body=_csv(part))
    s3.put_object(Bucket=bucket, Key="labels.csv", Body=_label_file(table_rows))
    columns = [{"Name": c, "Type": "string"} for c in SAMPLE_COLUMNS]
    transform_id = _transform(glue, _catalog(glue, f"s3://{bucket}/existing/", columns, "csv"))
    _teach(glue, transform_id, f"s3://{bucket}/labels.csv")

    def labeling_set() -> str:
        out = f"s3://{bucket}/labeling/"
        run_id: str = glue.start_ml_labeling_set_generation_task_run(
            TransformId=transform_id, OutputS3Path=out
        )["TaskRunId"]
        return run_id

    def export() -> str:
        run_id: str = glue.start_export_labels_task_run(
            TransformId=transform_id, OutputS3Path=f"s3://{bucket}/export/"
        )["TaskRunId"]
        return run_id

    def apply(i: int) -> Callable[[], str]:
        def start() -> str:
            run_id: str = glue.start_find_matches_task_run(
                TransformId=transform_id,
                OutputS3Path=f"s3://{bucket}/matches/",
                InputS3Path=f"s3://{bucket}/new{i}/",
            )["TaskRunId"]
            return run_id

        return start

    runs: list[str] = []
    # Two at a time: a transform runs at most three task runs at once (Glue's limit).
    for pair in ((labeling_set, labeling_set), (export, export), (apply(0), apply(1))):
        runs += _at_once(*pair)
        for run_id in runs[-2:]:
            run = wait_run(glue, transform_id, run_id)
            assert run["Status"] == "SUCCEEDED", run

    labeling = _keys(s3, bucket, "labeling/")
    assert len(labeling) == 2
    for key in labeling:
        shown = _read_csv(_body(s3, bucket, key))
        assert shown and list(shown[0]) == ["labeling_set_id", "label", *SAMPLE_COLUMNS]
        assert {r["id"] for r in shown} <= {r["id"] for r in table_rows}
    exports = _keys(s3, bucket, "export/")
    assert len(exports) == 2
    assert _body(s3, bucket, exports[0]) == _body(s3, bucket, exports[1])  # both whole, the same labels
    matches = _keys(s3, bucket, "matches/")
    assert len(matches) == 2
    by_run = {run_id: key for key in matches for run_id in runs[4:] if run_id in key}
    for i, run_id in enumerate(runs[4:]):
        out = _read_csv(_body(s3, bucket, by_run[run_id]))
        assert sorted(r["id"] for r in out) == sorted(r["id"] for r in inputs[i])
    work = server.data_dir / "work"
    assert not any(work.joinpath(run_id).exists() for run_id in runs)  # nothing left behind


# -- the output keeps the input's column types ----------------------------------------------------------


def test_a_typed_parquet_table_comes_back_with_its_types(glue: Any, s3: Any) -> None:
    rows = sample.generate(entities=200, seed=15)
    keys = [1_000_000 + int(r["id"][1:]) for r in rows]
    postcodes = [int(r["zip"]) if r["zip"].isdigit() and i % 9 else None for i, r in enumerate(rows)]
    typed = pa.table(
        {
            "pk": pa.array(keys, pa.int64()),
            **{c: pa.array([r[c] or None for r in rows], pa.string()) for c in SAMPLE_COLUMNS[1:6]},
            "postcode": pa.array(postcodes, pa.int32()),
            "email": pa.array([r["email"] or None for r in rows], pa.string()),
        }
    )
    bucket = f"typed-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    sink = io.BytesIO()
    pq.write_table(typed, sink)
    s3.put_object(Bucket=bucket, Key=f"t/{PART_PARQUET}", Body=sink.getvalue())
    labelled = [dict(r, id=str(k)) for r, k in zip(rows, keys, strict=True)]
    labels = _label_file(labelled).replace(b"labeling_set_id,label,id,", b"labeling_set_id,label,pk,")
    s3.put_object(Bucket=bucket, Key="labels.csv", Body=labels)
    columns = [{"Name": "pk", "Type": "bigint"}]
    columns += [{"Name": c, "Type": "string"} for c in SAMPLE_COLUMNS[1:6]]
    columns += [{"Name": "postcode", "Type": "int"}, {"Name": "email", "Type": "string"}]
    transform_id = _transform(glue, _catalog(glue, f"s3://{bucket}/t/", columns, "parquet"), key="pk")
    _teach(glue, transform_id, f"s3://{bucket}/labels.csv")

    run_id = glue.start_find_matches_task_run(
        TransformId=transform_id,
        OutputS3Path=f"s3://{bucket}/out/matches.parquet",
        ComputeMatchConfidenceScores=True,
    )["TaskRunId"]
    run = wait_run(glue, transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    out = pq.read_table(io.BytesIO(_body(s3, bucket, "out/matches.parquet")))
    assert out.column_names == [*typed.column_names, "match_id", "match_confidence_score"]
    for field in typed.schema:
        assert out.schema.field(field.name) == field
    assert out.schema.field("match_id").type == pa.int64()
    assert out.schema.field("match_confidence_score").type == pa.float64()
    assert out.select(typed.column_names).equals(typed)  # every record, its values and nulls as they were
