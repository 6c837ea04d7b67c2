"""Incremental matching through the API: ``ExistingMatchesS3Path`` beside ``InputS3Path``."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from findmatches import sample
from tests.api.test_run_files import _label_file, _teach
from tests.conftest import (
    PART_CSV,
    SAMPLE_COLUMNS,
    ServerProcess,
    apply_cli,
    create_sample_transform,
    wait_run,
)


def _rows(s3: Any, bucket: str, prefix: str, name: str = ".csv") -> list[dict[str, str]]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    out: list[dict[str, str]] = []
    for key in keys:
        if key.endswith(name) and not key.endswith("merges.csv"):
            out += csv.DictReader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()))
    return out


def _merges(s3: Any, bucket: str, key: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())))


def _find(glue: Any, transform_id: str, **args: Any) -> dict[str, Any]:
    run_id = glue.start_find_matches_task_run(TransformId=transform_id, **args)["TaskRunId"]
    return wait_run(glue, transform_id, run_id)


def _increment(
    glue: Any, transform_id: str, bucket: str, new: str, existing: str, out: str
) -> dict[str, Any]:
    """An incremental run: the records under ``new`` against those under ``existing``, into ``out``."""
    return _find(
        glue,
        transform_id,
        InputS3Path=f"s3://{bucket}/{new}",
        ExistingMatchesS3Path=f"s3://{bucket}/{existing}",
        OutputS3Path=f"s3://{bucket}/{out}",
    )


@pytest.fixture
def split(glue: Any, s3: Any) -> tuple[str, str, list[dict[str, str]], list[dict[str, str]]]:
    """A taught transform over most of the sample people, and new records: later records of entities the
    table holds, and records of entities it does not."""
    rows = sample.generate()
    entities: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        entities.setdefault(r["entity"], []).append(r)
    new: list[dict[str, str]] = []
    for e, members in entities.items():
        if len(members) > 1 and int(e) % 4 == 0:
            new.append(members[-1])  # an entity the table has
        elif int(e) % 10 == 1:
            new += members  # an entity the table lacks
    new_ids = {r["id"] for r in new}
    table = [r for r in rows if r["id"] not in new_ids]
    name = "t" + uuid.uuid4().hex[:12]
    t = create_sample_transform(glue, s3, name, rows=table)
    s3.put_object(Bucket=t.bucket, Key="labels.csv", Body=_label_file(table, sets=40))
    _teach(glue, t.transform_id, f"s3://{t.bucket}/labels.csv")
    s3.put_object(Bucket=t.bucket, Key=f"new/{PART_CSV}", Body=sample.to_csv(new, SAMPLE_COLUMNS).encode())
    return t.transform_id, t.bucket, table, new


def test_new_records_join_existing_groups_and_a_third_run_reads_both(
    server: ServerProcess,
    glue: Any,
    s3: Any,
    split: tuple[str, str, list[dict[str, str]], list[dict[str, str]]],
) -> None:
    transform_id, bucket, table, new = split
    first = _find(glue, transform_id, OutputS3Path=f"s3://{bucket}/matches/day1/")
    assert first["Status"] == "SUCCEEDED", first
    day1 = _rows(s3, bucket, "matches/day1/")
    assert len(day1) == len(table)
    existing_id = {r["id"]: r["match_id"] for r in day1}
    entity = {r["id"]: r["entity"] for r in (*table, *new)}
    id_of_entity: dict[str, set[str]] = {}
    for pk, mid in existing_id.items():
        id_of_entity.setdefault(entity[pk], set()).add(mid)

    second = _increment(glue, transform_id, bucket, "new/", "matches/day1/", "matches/day2/")
    assert second["Status"] == "SUCCEEDED", second
    day2 = _rows(s3, bucket, "matches/day2/")
    assert sorted(r["id"] for r in day2) == sorted(r["id"] for r in new)
    assert list(day2[0]) == [*SAMPLE_COLUMNS, "match_id"]
    assert _merges(s3, bucket, "matches/day2/merges.csv") == []  # the header, and nothing merged
    joined = [r for r in day2 if entity[r["id"]] in id_of_entity]
    fresh = [r for r in day2 if entity[r["id"]] not in id_of_entity]
    assert joined and fresh
    # Records of entities the table has take that entity's existing id (nearly all: the model may miss one).
    hits = sum(r["match_id"] in id_of_entity[entity[r["id"]]] for r in joined)
    assert hits >= 0.9 * len(joined)
    all_existing = set(existing_id.values())
    assert not {r["match_id"] for r in fresh} & all_existing
    by_entity: dict[str, set[str]] = {}
    for r in fresh:
        by_entity.setdefault(entity[r["id"]], set()).add(r["match_id"])
    assert sum(len(ids) == 1 for ids in by_entity.values()) >= 0.9 * len(by_entity)

    # A third run over both earlier outputs (its own output folder inside them is not read): a record whose
    # entity is in day2 only joins day2's id.
    late = dict(new[-1], id="late-1")
    s3.put_object(Bucket=bucket, Key=f"late/{PART_CSV}", Body=sample.to_csv([late], SAMPLE_COLUMNS).encode())
    third = _increment(glue, transform_id, bucket, "late/", "matches/", "matches/day3/")
    assert third["Status"] == "SUCCEEDED", third
    (row,) = _rows(s3, bucket, "matches/day3/")
    assert row["match_id"] == {r["id"]: r["match_id"] for r in day2}[new[-1]["id"]]
    # Run again into the same folder: its first output there is not read as existing matches (no clash of keys).
    again = _increment(glue, transform_id, bucket, "late/", "matches/", "matches/day3/")
    assert again["Status"] == "SUCCEEDED", again
    # The same from the command line.
    done = apply_cli(
        server.url,
        "--transform-id",
        transform_id,
        "--input",
        f"s3://{bucket}/late/",
        "--existing",
        f"s3://{bucket}/matches/day1/",
        "--output",
        f"s3://{bucket}/cli/",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    (row,) = _rows(s3, bucket, "cli/")
    assert row["id"] == "late-1" and row["match_id"] not in all_existing
    assert _merges(s3, bucket, "cli/merges.csv") == []


def test_merges_are_written_and_followed(
    glue: Any, s3: Any, split: tuple[str, str, list[dict[str, str]], list[dict[str, str]]]
) -> None:
    """Existing matches where one entity is two groups: a new record of it merges them into the first, the
    merges file says so, and the next run reads the merges and treats both as one group."""
    transform_id, bucket, table, new = split
    first = _find(glue, transform_id, OutputS3Path=f"s3://{bucket}/m/day1/")
    assert first["Status"] == "SUCCEEDED", first
    day1 = _rows(s3, bucket, "m/day1/")
    entity = {r["id"]: r["entity"] for r in (*table, *new)}
    newcomer = next(r for r in new if sum(entity[d["id"]] == r["entity"] for d in day1) >= 2)
    members = [k for k, d in enumerate(day1) if entity[d["id"]] == newcomer["entity"]]
    kept = day1[members[0]]["match_id"]
    assert all(day1[k]["match_id"] == kept for k in members), "day 1 keeps the entity whole"
    day1[members[-1]]["match_id"] = "424242"  # the entity's last record: a group of its own, later on
    s3.put_object(
        Bucket=bucket,
        Key=f"m2/day1/{PART_CSV}",
        Body=sample.to_csv(day1, [*SAMPLE_COLUMNS, "match_id"]).encode(),
    )
    s3.put_object(
        Bucket=bucket, Key=f"one/{PART_CSV}", Body=sample.to_csv([newcomer], SAMPLE_COLUMNS).encode()
    )
    run = _increment(glue, transform_id, bucket, "one/", "m2/day1/", "m2/day2/")
    assert run["Status"] == "SUCCEEDED", run
    (row,) = _rows(s3, bucket, "m2/day2/")
    assert row["match_id"] == kept
    assert _merges(s3, bucket, "m2/day2/merges.csv") == [{"retired_match_id": "424242", "match_id": kept}]
    # The next run reads day1 and day2 with the merges: a record matching the retired group's record joins
    # the surviving id, and nothing is merged again.
    twin = dict(day1[members[-1]], id="twin-1")
    s3.put_object(Bucket=bucket, Key=f"two/{PART_CSV}", Body=sample.to_csv([twin], SAMPLE_COLUMNS).encode())
    run = _increment(glue, transform_id, bucket, "two/", "m2/", "m3/")
    assert run["Status"] == "SUCCEEDED", run
    (row,) = _rows(s3, bucket, "m3/")
    assert row["match_id"] == kept
    assert _merges(s3, bucket, "m3/merges.csv") == []


def test_bad_requests_and_bad_existing_matches(
    glue: Any, s3: Any, split: tuple[str, str, list[dict[str, str]], list[dict[str, str]]]
) -> None:
    transform_id, bucket, table, _ = split
    s3.put_object(
        Bucket=bucket, Key=f"plain/{PART_CSV}", Body=sample.to_csv(table[:50], SAMPLE_COLUMNS).encode()
    )
    refused = [
        {"ExistingMatchesS3Path": f"s3://{bucket}/plain/", "OutputS3Path": f"s3://{bucket}/o1/"},
        {
            "InputS3Path": f"s3://{bucket}/new/",
            "ExistingMatchesS3Path": f"s3://{bucket}/plain/",
            "OutputS3Path": f"s3://{bucket}/plain/",
        },
        {
            "InputS3Path": f"s3://{bucket}/new/",
            "ExistingMatchesS3Path": f"s3://{bucket}/nothing-here/",
            "OutputS3Path": f"s3://{bucket}/o2/",
        },
    ]
    runs_before = glue.get_ml_task_runs(TransformId=transform_id)["TaskRuns"]
    for args in refused:
        with pytest.raises(ClientError) as e:
            glue.start_find_matches_task_run(TransformId=transform_id, **args)
        assert e.value.response["Error"]["Code"] == "InvalidInputException"
    assert glue.get_ml_task_runs(TransformId=transform_id)["TaskRuns"] == runs_before
    # Records without match_id: the run fails and says what is missing.
    run = _increment(glue, transform_id, bucket, "new/", "plain/", "o3/")
    assert run["Status"] == "FAILED" and "match_id" in run["ErrorString"], run
    # New records already among the existing ones.
    first = _find(glue, transform_id, OutputS3Path=f"s3://{bucket}/all/")
    assert first["Status"] == "SUCCEEDED"
    run = _increment(glue, transform_id, bucket, "plain/", "all/", "o4/")
    assert run["Status"] == "FAILED" and "already hold" in run["ErrorString"], run
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="o4/")
    # Existing matches in Windows-1252: no table describes them, so the refusal asks for UTF-8 alone.
    matched = [{**r, "match_id": str(i // 2)} for i, r in enumerate(table[:50])]
    matched[3]["first_name"] = "José"
    text = sample.to_csv(matched, [*SAMPLE_COLUMNS, "match_id"])
    s3.put_object(Bucket=bucket, Key=f"latin/{PART_CSV}", Body=text.encode("cp1252"))
    run = _increment(glue, transform_id, bucket, "new/", "latin/", "o5/")
    assert run["Status"] == "FAILED", run
    assert f"Cannot read the existing matches at s3://{bucket}/latin/" in run["ErrorString"], run
    assert "line 5: not UTF-8 encoded (byte 0xE9); save it as UTF-8." in run["ErrorString"], run
    assert "serialization.encoding" not in run["ErrorString"], run
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="o5/")


def _log(server: ServerProcess, run: dict[str, Any]) -> str:
    return (server.data_dir / "logs" / f"{run['TaskRunId']}.log").read_text(encoding="utf-8")


@pytest.mark.slow  # seven incremental runs through the API
def test_later_runs_read_kept_snapshots_until_the_files_change(
    server: ServerProcess,
    glue: Any,
    s3: Any,
    split: tuple[str, str, list[dict[str, str]], list[dict[str, str]]],
) -> None:
    transform_id, bucket, _, new = split
    kept = server.data_dir / "snapshots" / transform_id
    assert _find(glue, transform_id, OutputS3Path=f"s3://{bucket}/m/day1/")["Status"] == "SUCCEEDED"
    assert not kept.exists()  # a full run keeps none: nothing says an incremental one will follow

    # The first incremental run reads the files, and keeps snapshots of them and of its own output.
    cold = _increment(glue, transform_id, bucket, "new/", "m/day1/", "m/day2/")
    assert cold["Status"] == "SUCCEEDED", cold
    assert "kept snapshot" not in _log(server, cold)
    assert len(list(kept.iterdir())) == 2
    # The next reads the snapshot instead, and gives every record the same id.
    warm = _increment(glue, transform_id, bucket, "new/", "m/day1/", "other/warm/")
    assert warm["Status"] == "SUCCEEDED", warm
    assert "read from 1 kept snapshot(s)" in _log(server, warm)
    # The labelled records are all among the existing ones, found in the snapshot: none is added again.
    assert "labelled records of the transform's table" not in _log(server, warm)
    ids = {r["id"]: r["match_id"] for r in _rows(s3, bucket, "m/day2/")}
    assert {r["id"]: r["match_id"] for r in _rows(s3, bucket, "other/warm/")} == ids
    assert len(ids) == len(new)

    # Both earlier outputs at once, each from its snapshot: a record whose entity only day2 holds joins
    # day2's id.
    late = dict(new[-1], id="late-1")
    s3.put_object(Bucket=bucket, Key=f"late/{PART_CSV}", Body=sample.to_csv([late], SAMPLE_COLUMNS).encode())
    both = _increment(glue, transform_id, bucket, "late/", "m/", "other/both/")
    assert both["Status"] == "SUCCEEDED", both
    assert "read from 2 kept snapshot(s)" in _log(server, both)
    (row,) = _rows(s3, bucket, "other/both/")
    assert row["match_id"] == ids[new[-1]["id"]]

    # Kept snapshots the engine cannot use (here of another format version) are dropped and the files read.
    for meta in kept.glob("*/snapshot.json"):
        meta.write_text(json.dumps({**json.loads(meta.read_text()), "version": 0}))
    refused = _increment(glue, transform_id, bucket, "new/", "m/day1/", "other/refused/")
    assert refused["Status"] == "SUCCEEDED", refused
    assert "do not fit this run" in _log(server, refused)
    assert {r["id"]: r["match_id"] for r in _rows(s3, bucket, "other/refused/")} == ids

    # A changed file is read again, whole.
    day1 = _rows(s3, bucket, "m/day1/")
    body = io.StringIO()
    writer = csv.DictWriter(body, fieldnames=list(day1[0]))
    writer.writeheader()
    writer.writerows(day1[1:])
    s3.put_object(Bucket=bucket, Key=_key(s3, bucket, "m/day1/"), Body=body.getvalue().encode())
    changed = _increment(glue, transform_id, bucket, "new/", "m/day1/", "other/changed/")
    assert changed["Status"] == "SUCCEEDED", changed
    assert "kept snapshot" not in _log(server, changed)
    glue.delete_ml_transform(TransformId=transform_id)
    assert not kept.exists()


def _key(s3: Any, bucket: str, prefix: str) -> str:
    """The one data file (not a merges file) under ``prefix``."""
    (key,) = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
        if not o["Key"].endswith("merges.csv")
    ]
    return str(key)
