"""StartImportLabelsTaskRun and StartExportLabelsTaskRun end to end, on the loopback S3 and local paths."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    PART_CSV,
    SampleTransform,
    ServerProcess,
    catalog_csv_transform,
    client,
    create_sample_transform,
    wait_run,
)
from tests.fixtures_s3 import S3Server

HEADER = "labeling_set_id,label,id,first_name,last_name\n"


def label_file(people: SampleTransform, sets: dict[str, list[str]]) -> str:
    """A label file: each set's records labelled with their true entity."""
    truth = people.truth()
    by_id = {r["id"]: r for r in people.rows}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["labeling_set_id", "label", "id", "first_name", "last_name"])
    for set_id, ids in sets.items():
        for pk in ids:
            writer.writerow([set_id, truth[pk], pk, by_id[pk]["first_name"], by_id[pk]["last_name"]])
    return out.getvalue()


def some_sets(people: SampleTransform, count: int, offset: int = 0) -> dict[str, list[str]]:
    """``count`` labeling sets, each holding a duplicate pair and one other record."""
    groups: dict[str, list[str]] = {}
    for row in people.rows:
        groups.setdefault(row["entity"], []).append(row["id"])
    dupes = [ids for ids in groups.values() if len(ids) > 1]
    singles = [ids[0] for ids in groups.values() if len(ids) == 1]
    return {f"set{offset + i}": [*dupes[offset + i][:2], singles[offset + i]] for i in range(count)}


def put(s3: Any, people: SampleTransform, key: str, body: str | bytes) -> str:
    s3.put_object(Bucket=people.bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return f"s3://{people.bucket}/{key}"


def import_labels(glue: Any, people: SampleTransform, path: str, replace: bool = False) -> dict[str, Any]:
    run_id = glue.start_import_labels_task_run(
        TransformId=people.transform_id, InputS3Path=path, ReplaceAllLabels=replace
    )["TaskRunId"]
    return wait_run(glue, people.transform_id, run_id)


def state(glue: Any, people: SampleTransform) -> tuple[str, int]:
    t = glue.get_ml_transform(TransformId=people.transform_id)
    return t["Status"], t["LabelCount"]


def test_merge_reimport_and_replace(glue: Any, s3: Any, people: SampleTransform) -> None:
    first = put(s3, people, "labels/a.csv", label_file(people, some_sets(people, 3)))
    run = import_labels(glue, people, first)
    assert run["Status"] == "SUCCEEDED", run
    assert run["Properties"] == {
        "TaskType": "IMPORT_LABELS",
        "ImportLabelsTaskRunProperties": {"InputS3Path": first, "Replace": False},
    }
    assert {"StartedOn", "LastModifiedOn", "CompletedOn", "ExecutionTime"} <= run.keys()
    assert state(glue, people) == ("READY", 9)

    assert (
        import_labels(glue, people, first)["Status"] == "SUCCEEDED"
    )  # same sets again: replaced, not doubled
    assert state(glue, people) == ("READY", 9)

    second = put(s3, people, "labels/b.csv", label_file(people, some_sets(people, 2, offset=3)))
    assert import_labels(glue, people, second)["Status"] == "SUCCEEDED"
    assert state(glue, people) == ("READY", 15)

    run = import_labels(glue, people, second, replace=True)
    assert run["Properties"]["ImportLabelsTaskRunProperties"]["Replace"] is True
    assert state(glue, people) == ("READY", 6)


def test_only_matches_stays_not_ready(glue: Any, s3: Any, people: SampleTransform) -> None:
    sets = {k: v[:2] for k, v in some_sets(people, 2).items()}  # duplicate pairs only: no non-match
    assert (
        import_labels(glue, people, put(s3, people, "l.csv", label_file(people, sets)))["Status"]
        == "SUCCEEDED"
    )
    assert state(glue, people) == ("NOT_READY", 4)


def test_export_then_import_is_identity(glue: Any, s3: Any, people: SampleTransform) -> None:
    with pytest.raises(ClientError) as e:
        glue.start_export_labels_task_run(
            TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/x/"
        )
    assert e.value.response["Error"]["Code"] == "EntityNotFoundException"
    assert "No labelset exists" in e.value.response["Error"]["Message"]

    import_labels(glue, people, put(s3, people, "l.csv", label_file(people, some_sets(people, 4))))

    def export(prefix: str) -> str:
        run_id = glue.start_export_labels_task_run(
            TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/{prefix}/"
        )["TaskRunId"]
        run = wait_run(glue, people.transform_id, run_id)
        assert run["Status"] == "SUCCEEDED", run
        assert run["Properties"]["ExportLabelsTaskRunProperties"]["OutputS3Path"].endswith(f"/{prefix}/")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=people.bucket, Prefix=prefix)["Contents"]]
        assert len(keys) == 1
        name = keys[0].rsplit("/", 1)[1]
        assert re.fullmatch(
            rf"{people.transform_id}_labels_\d{{4}}-\d\d-\d\d_\d\d_\d\d_\d\d_[0-9a-f-]{{36}}\.csv", name
        ), name
        # Named for the run (its StartedOn and id), not the attempt: a retried export writes the same file.
        stamp = run["StartedOn"].astimezone(dt.UTC).strftime("%Y-%m-%d_%H_%M_%S")
        assert name == f"{people.transform_id}_labels_{stamp}_{uuid.UUID(run_id)}.csv"
        return str(s3.get_object(Bucket=people.bucket, Key=keys[0])["Body"].read().decode())

    first = export("exp1")
    assert first.startswith("labeling_set_id,label,id,first_name,last_name\n")
    assert len(first.strip().splitlines()) == 13
    import_labels(glue, people, f"s3://{people.bucket}/exp1/", replace=True)  # a prefix holding one file
    assert state(glue, people) == ("READY", 12)
    assert export("exp2") == first


def test_people_write_labels_as_they_really_do(glue: Any, s3: Any, people: SampleTransform) -> None:
    sets = some_sets(people, 2)
    text = label_file(people, sets).replace("\n", "\r\n")
    lines = text.split("\r\n")
    lines = [line + "," for line in lines[:-1]] + lines[-1:]  # every row gets an (empty) notes cell
    lines[0] += "notes"
    lines[1] += '"a note, with ""quotes"" and a comma"'
    body = "\ufeff" + "\r\n".join(lines)
    run = import_labels(glue, people, put(s3, people, "excel.csv", body.encode("utf-8")))
    assert run["Status"] == "SUCCEEDED", run
    assert state(glue, people) == ("READY", 6)


def test_primary_keys_stay_text(glue: Any, s3: Any) -> None:
    from tests.conftest import create_sample_transform

    rows = [
        {
            "id": pk,
            "first_name": "ann",
            "last_name": "lee",
            "birth_date": "",
            "street": "",
            "city": "",
            "zip": "",
            "email": "",
            "entity": e,
        }
        for pk, e in (("007", "a"), ("7", "b"), ("0070", "a"))
    ]
    people = create_sample_transform(glue, s3, "tpk" + str(id(rows) % 10**6), rows=rows)
    body = "labeling_set_id,label,id\ns1,A,007\ns1,B,7\ns1,A,0070\n"
    assert import_labels(glue, people, put(s3, people, "l.csv", body))["Status"] == "SUCCEEDED"
    run_id = glue.start_export_labels_task_run(
        TransformId=people.transform_id, OutputS3Path=f"s3://{people.bucket}/out/"
    )["TaskRunId"]
    assert wait_run(glue, people.transform_id, run_id)["Status"] == "SUCCEEDED"
    key = s3.list_objects_v2(Bucket=people.bucket, Prefix="out/")["Contents"][0]["Key"]
    assert s3.get_object(Bucket=people.bucket, Key=key)["Body"].read().decode() == body


BAD_FILES = [
    ("no_set_column", "label,id\nA,P00001\n", r"labeling_set_id"),
    ("no_label_column", "labeling_set_id,id\ns1,P00001\n", r"label"),
    ("no_primary_key", "labeling_set_id,label,name\ns1,A,x\n", r'line 1.*"id"'),
    ("unknown_key", "labeling_set_id,label,id\ns1,A,P00001\ns1,B,NOPE\n", r'line 3, column 3 \("id"\).*NOPE'),
    ("empty_label", "labeling_set_id,label,id\ns1,A,P00001\ns1,,P00002\n", r'line 3, column 2 \("label"\)'),
    ("malformed", 'labeling_set_id,label,id\ns1,A,"P00001\n', r"line 2"),
]


@pytest.mark.parametrize(("case", "body", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_files_fail_the_run_and_change_nothing(
    glue: Any, s3: Any, people: SampleTransform, case: str, body: str, message: str
) -> None:
    import_labels(glue, people, put(s3, people, "good.csv", label_file(people, some_sets(people, 2))))
    before = state(glue, people)
    run = import_labels(glue, people, put(s3, people, f"{case}.csv", body), replace=True)
    assert run["Status"] == "FAILED"
    assert re.search(message, run["ErrorString"]), run["ErrorString"]
    assert state(glue, people) == before


def start_error(glue: Any, people: SampleTransform, path: str) -> tuple[str, str]:
    with pytest.raises(ClientError) as e:
        glue.start_import_labels_task_run(TransformId=people.transform_id, InputS3Path=path)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_bad_paths_are_refused_at_start(
    glue: Any, s3: Any, people: SampleTransform, files_root: Path, tmp_path: Path
) -> None:
    runs_before = glue.get_ml_task_runs(TransformId=people.transform_id).get("TaskRuns", [])
    assert start_error(glue, people, "http://example.com/labels.csv")[0] == "InvalidInputException"
    assert start_error(glue, people, "s3://")[0] == "InvalidInputException"
    code, message = start_error(glue, people, f"s3://{people.bucket}/missing.csv")
    assert code == "InvalidInputException" and "Cannot access the label file" in message
    assert (
        start_error(glue, people, f"s3://no-such-bucket-{people.bucket}/l.csv")[0] == "InvalidInputException"
    )
    assert start_error(glue, people, put(s3, people, "empty.csv", b"")) == (
        "InvalidInputException",
        "Invalid label file of size 0.",
    )
    big = put(s3, people, "big.csv", HEADER + "s1,A,P00001,x,y\n" * 700_000)
    assert start_error(glue, people, big) == (
        "ResourceNumberLimitExceededException",
        "Label file has exceeded the limit of 10 MB.",
    )
    outside = tmp_path / "labels.csv"
    outside.write_text(HEADER)
    assert start_error(glue, people, str(outside))[0] == "InvalidInputException"
    assert start_error(glue, people, f"file://{files_root}/../../etc/passwd")[0] == "InvalidInputException"
    link = files_root / f"escape-{people.transform_id}.csv"
    link.symlink_to(outside)
    assert start_error(glue, people, str(link))[0] == "InvalidInputException"
    with pytest.raises(ClientError) as e:
        glue.start_import_labels_task_run(TransformId="tfm-" + "0" * 40, InputS3Path=big)
    assert e.value.response["Error"]["Code"] == "EntityNotFoundException"
    assert glue.get_ml_task_runs(TransformId=people.transform_id).get("TaskRuns", []) == runs_before
    assert state(glue, people) == ("NOT_READY", 0)


def test_local_paths_under_an_allowed_root(glue: Any, people: SampleTransform, files_root: Path) -> None:
    path = files_root / f"{people.transform_id}.csv"
    path.write_text(label_file(people, some_sets(people, 2)))
    assert import_labels(glue, people, str(path))["Status"] == "SUCCEEDED"
    assert import_labels(glue, people, path.as_uri(), replace=True)["Status"] == "SUCCEEDED"
    assert state(glue, people) == ("READY", 6)
    out = files_root / f"export-{people.transform_id}"
    run_id = glue.start_export_labels_task_run(TransformId=people.transform_id, OutputS3Path=str(out))[
        "TaskRunId"
    ]
    assert wait_run(glue, people.transform_id, run_id)["Status"] == "SUCCEEDED"
    assert len(list(out.glob(f"{people.transform_id}_labels_*.csv"))) == 1


def test_concurrent_imports_never_interleave(glue: Any, s3: Any, people: SampleTransform) -> None:
    paths = [
        put(s3, people, f"c{i}.csv", label_file(people, some_sets(people, 2, offset=2 * i))) for i in range(3)
    ]
    runs = [
        glue.start_import_labels_task_run(TransformId=people.transform_id, InputS3Path=p)["TaskRunId"]
        for p in paths
    ]
    assert [wait_run(glue, people.transform_id, r)["Status"] for r in runs] == ["SUCCEEDED"] * 3
    assert state(glue, people) == ("READY", 18)  # no import's labels were lost to another's


def test_s3_endpoint_flag_and_the_data_dir_as_default_root(
    tmp_path: Path, s3_server: S3Server, s3: Any
) -> None:
    """--s3-endpoint-url beats the environment's endpoint; without --allow-path only the data dir is allowed."""
    dead = "http://127.0.0.1:9"  # nothing listens there
    srv = ServerProcess(
        tmp_path / "data",
        ["--s3-endpoint-url", s3_server.endpoint_url],
        env={**s3_server.env(), "AWS_ENDPOINT_URL_S3": dead, "AWS_ENDPOINT_URL": dead},
    )
    srv.start()
    try:
        glue = client(srv.url)
        people = create_sample_transform(glue, s3, "t" + uuid.uuid4().hex[:12])
        on_s3 = put(s3, people, "l.csv", label_file(people, some_sets(people, 2)))
        assert import_labels(glue, people, on_s3)["Status"] == "SUCCEEDED"
        inside = srv.data_dir / "labels.csv"
        inside.write_text(label_file(people, some_sets(people, 3)))
        assert import_labels(glue, people, str(inside), replace=True)["Status"] == "SUCCEEDED"
        assert state(glue, people) == ("READY", 9)
        outside = tmp_path / "outside.csv"
        outside.write_text(label_file(people, some_sets(people, 2)))
        code, message = start_error(glue, people, str(outside))
        assert code == "InvalidInputException" and "outside the allowed roots" in message
    finally:
        srv.stop()


def test_tab_separated_table(glue: Any, s3: Any, people: SampleTransform) -> None:
    """A CSV table with another delimiter (the SerDe's field.delim): labels find their records in it."""
    from findmatches import sample
    from tests.conftest import SAMPLE_COLUMNS

    tsv = sample.to_csv(people.rows, SAMPLE_COLUMNS).replace(",", "\t")
    s3.put_object(Bucket=people.bucket, Key=f"people/{PART_CSV}", Body=tsv.encode())
    source = glue.get_ml_transform(TransformId=people.transform_id)["InputRecordTables"][0]
    table = glue.get_table(DatabaseName=source["DatabaseName"], Name=source["TableName"])["Table"]
    serde = {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": "\t", "serialization.format": "1"},
    }
    table_input = {
        "Name": table["Name"],
        "StorageDescriptor": {**table["StorageDescriptor"], "SerdeInfo": serde},
        "Parameters": table["Parameters"],
    }
    glue.update_table(DatabaseName=source["DatabaseName"], TableInput=table_input)
    run = import_labels(glue, people, put(s3, people, "l.csv", label_file(people, some_sets(people, 2))))
    assert run["Status"] == "SUCCEEDED", run
    assert state(glue, people) == ("READY", 6)


def test_headerless_table_with_serde_quoting(glue: Any, s3: Any) -> None:
    """A table whose files have no header row (skip.header.line.count 0: the Columns name the fields), tab
    separated and quoted with ' (OpenCSVSerde): every task reads its records as the catalog says."""
    from findmatches import sample
    from tests.conftest import SAMPLE_COLUMNS

    name = "th" + uuid.uuid4().hex[:12]
    rows = sample.generate()
    body = io.StringIO()
    writer = csv.writer(body, delimiter="\t", quotechar="'", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows([[r[c] for c in SAMPLE_COLUMNS] for r in rows])  # no header row
    people = catalog_csv_transform(
        glue,
        s3,
        name,
        rows,
        body.getvalue().encode(),
        {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
            "Parameters": {"separatorChar": "\t", "quoteChar": "'"},
        },
        {"skip.header.line.count": "0"},
    )
    transform_id = people.transform_id

    run_id = glue.start_ml_labeling_set_generation_task_run(
        TransformId=transform_id, OutputS3Path=f"s3://{name}/labeling/"
    )["TaskRunId"]
    generated = wait_run(glue, transform_id, run_id)
    assert generated["Status"] == "SUCCEEDED"
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=name, Prefix="labeling/")["Contents"]]
    # Named for the run (its StartedOn and id), not the attempt: a retried generation writes the same file.
    stamp = generated["StartedOn"].astimezone(dt.UTC).strftime("%Y-%m-%d_%H_%M_%S")
    assert key == f"labeling/{transform_id}_labeling_set_{stamp}_{run_id}.csv"
    shown = list(csv.DictReader(io.StringIO(s3.get_object(Bucket=name, Key=key)["Body"].read().decode())))
    assert shown and list(shown[0]) == ["labeling_set_id", "label", *SAMPLE_COLUMNS]
    by_id = {r["id"]: r for r in rows}
    assert all(
        {c: r[c] for c in SAMPLE_COLUMNS} == {c: by_id[r["id"]][c] for c in SAMPLE_COLUMNS} for r in shown
    )

    # The first line of the file is a record, not a header: labels may name it; unknown keys still fail.
    sets = {**some_sets(people, 3), "first": [rows[0]["id"], rows[1]["id"]]}
    unknown = label_file(people, sets) + "first,X,NOPE,a,b\n"
    failed = import_labels(glue, people, put(s3, people, "bad.csv", unknown))
    assert failed["Status"] == "FAILED" and "NOPE" in failed["ErrorString"]
    run = import_labels(glue, people, put(s3, people, "l.csv", label_file(people, sets)))
    assert run["Status"] == "SUCCEEDED", run
    assert state(glue, people) == ("READY", 11)

    run_id = glue.start_ml_evaluation_task_run(TransformId=transform_id)["TaskRunId"]
    run = wait_run(glue, transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    run_id = glue.start_find_matches_task_run(TransformId=transform_id, OutputS3Path=f"s3://{name}/matches/")[
        "TaskRunId"
    ]
    run = wait_run(glue, transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    key = s3.list_objects_v2(Bucket=name, Prefix="matches/")["Contents"][0]["Key"]
    out = list(csv.DictReader(io.StringIO(s3.get_object(Bucket=name, Key=key)["Body"].read().decode())))
    assert list(out[0])[: len(SAMPLE_COLUMNS)] == SAMPLE_COLUMNS
    assert sorted(r["id"] for r in out) == sorted(r["id"] for r in rows)  # every record once, none a header
    assert out[0]["street"] == next(r["street"] for r in rows if r["id"] == out[0]["id"])  # quotes removed

    # Other records in the table's layout (headerless, tab separated): the labelled ones come from the table.
    labelled = {pk for ids in sets.values() for pk in ids}
    new_rows = [r for r in rows if r["id"] not in labelled]
    body = io.StringIO()
    writer = csv.writer(body, delimiter="\t", quotechar="'", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows([[r[c] for c in SAMPLE_COLUMNS] for r in new_rows])
    s3.put_object(Bucket=name, Key=f"new/{PART_CSV}", Body=body.getvalue().encode())
    run_id = glue.start_find_matches_task_run(
        TransformId=transform_id, OutputS3Path=f"s3://{name}/m2/", InputS3Path=f"s3://{name}/new/{PART_CSV}"
    )["TaskRunId"]
    run = wait_run(glue, transform_id, run_id)
    assert run["Status"] == "SUCCEEDED", run
    key = s3.list_objects_v2(Bucket=name, Prefix="m2/")["Contents"][0]["Key"]
    out = list(csv.DictReader(io.StringIO(s3.get_object(Bucket=name, Key=key)["Body"].read().decode())))
    assert sorted(r["id"] for r in out) == sorted(r["id"] for r in new_rows)
    assert f"added {len(labelled)} labelled records" in Path(run["LogGroupName"]).read_text()
