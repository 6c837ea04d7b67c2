"""Issue 17, storage faults: S3 answering 500 and 503 (SlowDown), slow answers and dropped connections, and
a full disk under the data dir.

S3: a fault-injecting proxy (`tests.fault_proxy`) stands between the server and the loopback S3 server;
each test sets its schedule. Faults fewer than the retry budget (botocore's standard mode, 3 attempts here:
``AWS_MAX_ATTEMPTS=3``) are retried and the run SUCCEEDS with its whole output; faults that persist FAIL the run
with an ErrorString naming the S3 location and S3's error, leave the labels as they were and leave no object
(and no multipart upload) at the output path; slow answers are waited for. The Start calls that read S3
themselves answer a Glue error, never an internal error.

Disk: the data dir on a small tmpfs (root and mount(8); skipped, with the reason, where they are not
available). With it full, runs that write the work dir, the engine's spill or the store FAIL with an
ErrorString that says the disk is full, the API goes on answering, the store passes ``PRAGMA integrity_check``
and keeps its labels; once space is freed, runs succeed again.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
import itertools
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from findmatches import sample
from findmatches.io.errors import AccessError
from findmatches.io.storage import Storage
from findmatches.store.database import DB_FILE
from tests.api.test_labels import label_file, put, some_sets
from tests.conftest import (
    PART_CSV,
    SAMPLE_COLUMNS,
    SampleTransform,
    ServerProcess,
    client,
    create_sample_transform,
    wait_run,
    wait_status,
)
from tests.fault_proxy import Fault, FaultProxy
from tests.fixtures_s3 import S3Server

KINDS = ("import", "export", "labeling_set", "find_matches")
_numbers = itertools.count()


# -- S3 faults ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxy(s3_server: S3Server) -> Iterator[FaultProxy]:
    with FaultProxy(s3_server.endpoint_url) as p:
        yield p


@pytest.fixture(scope="module")
def faulty_server(
    tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server, proxy: FaultProxy
) -> Iterator[ServerProcess]:
    """A server that reaches S3 through the proxy, with boto3's retry budget set to 3 attempts."""
    root = tmp_path_factory.mktemp("storage-faults")
    env = {**s3_server.env(), "AWS_ENDPOINT_URL_S3": proxy.url, "AWS_MAX_ATTEMPTS": "3"}
    srv = ServerProcess(root / "data", env=env)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def labelled(faulty_server: ServerProcess, s3_server: S3Server, proxy: FaultProxy) -> SampleTransform:
    """A transform over a small sample of people (~135 records) with 8 labeling sets imported (no faults)."""
    glue, s3 = client(faulty_server.url), s3_server.client()
    people = create_sample_transform(glue, s3, f"sf{os.urandom(5).hex()}", sample.generate(entities=100))
    path = put(s3, people, "labels/setup.csv", label_file(people, some_sets(people, 8)))
    run_id = glue.start_import_labels_task_run(TransformId=people.transform_id, InputS3Path=path)["TaskRunId"]
    assert wait_run(glue, people.transform_id, run_id)["Status"] == "SUCCEEDED"
    return people


@pytest.fixture(autouse=True)
def no_faults(proxy: FaultProxy) -> Iterator[None]:
    proxy.clear()
    yield
    proxy.clear()


def _start(kind: str, glue: Any, s3: Any, people: SampleTransform, prefix: str) -> str:
    """Start a run of ``kind``: an import of 2 new labeling sets, or a run writing under ``prefix``."""
    tid, out = people.transform_id, f"s3://{people.bucket}/{prefix}/"
    if kind == "import":
        sets = some_sets(people, 2, offset=8 + 2 * next(_numbers))
        path = put(s3, people, f"{prefix}/labels.csv", label_file(people, sets))
        answer = glue.start_import_labels_task_run(TransformId=tid, InputS3Path=path)
    elif kind == "export":
        answer = glue.start_export_labels_task_run(TransformId=tid, OutputS3Path=out)
    elif kind == "labeling_set":
        answer = glue.start_ml_labeling_set_generation_task_run(TransformId=tid, OutputS3Path=out)
    else:
        answer = glue.start_find_matches_task_run(TransformId=tid, OutputS3Path=out)
    return str(answer["TaskRunId"])


def _outputs(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The objects under ``prefix/``, and no multipart upload may be pending there."""
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix=f"{prefix}/").get("Uploads", [])
    assert not uploads, f"a multipart upload was left behind: {uploads}"
    found = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", [])
    return [str(o["Key"]) for o in found]


def _rows(s3: Any, bucket: str, key: str) -> list[dict[str, str]]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def _label_count(glue: Any, people: SampleTransform) -> int:
    return int(glue.get_ml_transform(TransformId=people.transform_id)["LabelCount"])


def _exported_labels(glue: Any, s3: Any, people: SampleTransform) -> list[tuple[str, str, str]]:
    """The stored labels, by an export run (sorted (labeling_set_id, label, id))."""
    prefix = f"labels-now-{next(_numbers)}"
    run = wait_run(glue, people.transform_id, _start("export", glue, s3, people, prefix))
    assert run["Status"] == "SUCCEEDED", run
    [key] = _outputs(s3, people.bucket, prefix)
    return sorted((r["labeling_set_id"], r["label"], r["id"]) for r in _rows(s3, people.bucket, key))


def _check_whole_output(kind: str, glue: Any, s3: Any, people: SampleTransform, prefix: str) -> None:
    if kind == "import":
        return
    [key] = _outputs(s3, people.bucket, prefix)
    rows = _rows(s3, people.bucket, key)
    if kind == "export":
        assert len(rows) == _label_count(glue, people)
        assert {"labeling_set_id", "label", "id"} <= set(rows[0])
    elif kind == "labeling_set":
        assert rows and {"labeling_set_id", "id"} <= set(rows[0])
        assert {r["id"] for r in rows} <= set(people.truth())
    else:  # every input record once, with its match_id
        assert sorted(r["id"] for r in rows) == sorted(people.truth())
        assert all(r["match_id"] for r in rows)


#: Fewer faults than the retry budget on each request: the table's object fails once with SlowDown, then its
#: body breaks off halfway (s3transfer retries the download), then it comes 0.5 s late; listing the table
#: drops its connection once; an output's PUT gets a 500 InternalError, then a 503 SlowDown, and the third
#: attempt goes through, 0.5 s late.
TRANSIENT = (
    Fault("slowdown", method="GET", path=r"/people/", times=1),
    Fault("truncate", method="GET", path=r"/people/", times=1),
    Fault("delay", method="GET", path=r"/people/", times=1, delay_s=0.5),
    Fault("drop", method="GET", query=r"list-type=2", times=1),
    Fault("internal", method="PUT", times=1),
    Fault("slowdown", method="PUT", times=1),
    Fault("delay", method="PUT", times=1, delay_s=0.5),
)


@pytest.mark.parametrize("kind", KINDS)
def test_transient_faults_are_retried_and_the_run_succeeds(
    kind: str, faulty_server: ServerProcess, s3_server: S3Server, proxy: FaultProxy, labelled: SampleTransform
) -> None:
    glue, s3, prefix = client(faulty_server.url), s3_server.client(), f"transient-{kind}"
    count = _label_count(glue, labelled)
    proxy.add(*(dataclasses.replace(f) for f in TRANSIENT))
    run = wait_run(glue, labelled.transform_id, _start(kind, glue, s3, labelled, prefix))
    injected = proxy.applied()
    proxy.clear()
    assert run["Status"] == "SUCCEEDED", run
    assert injected >= 3, "the schedule injected no fault into this run"
    _check_whole_output(kind, glue, s3, labelled, prefix)
    if kind == "import":
        assert _label_count(glue, labelled) == count + 6  # 2 sets of 3 records


#: Faults that persist on the step each kind cannot do without: the import's fetch of the table (whose body
#: always breaks off, after the label file was read: the last step before the store's write), the export's
#: PUT (503 SlowDown), the labeling set's PUT (the connection dropped), the find-matches run's fetch of the
#: table (500 InternalError).
PERSISTENT: dict[str, tuple[Fault, str]] = {
    "import": (Fault("truncate", method="GET", path=r"/people/"), "connection broke"),
    "export": (Fault("slowdown", method="PUT"), "SlowDown: Please reduce your request rate. (3 attempts)"),
    "labeling_set": (Fault("drop", method="PUT"), "Connection was closed before S3 answered"),
    "find_matches": (Fault("internal", method="GET", path=r"/people/"), "InternalError: We encountered"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_persistent_faults_fail_the_run_with_a_clear_error_and_change_nothing(
    kind: str, faulty_server: ServerProcess, s3_server: S3Server, proxy: FaultProxy, labelled: SampleTransform
) -> None:
    glue, s3, prefix = client(faulty_server.url), s3_server.client(), f"persistent-{kind}"
    labels_before = _exported_labels(glue, s3, labelled) if kind == "import" else None
    count = _label_count(glue, labelled)
    fault, said = PERSISTENT[kind]
    proxy.add(Fault(fault.kind, fault.method, fault.path, fault.query))
    run = wait_run(glue, labelled.transform_id, _start(kind, glue, s3, labelled, prefix))
    proxy.clear()

    assert run["Status"] == "FAILED", run
    assert _label_count(glue, labelled) == count
    if labels_before is not None:
        assert _exported_labels(glue, s3, labelled) == labels_before
    outputs = _outputs(s3, labelled.bucket, prefix)
    assert outputs == ([f"{prefix}/labels.csv"] if kind == "import" else []), outputs
    error = run["ErrorString"]
    assert "Traceback" not in error and str(faulty_server.data_dir) not in error, error
    assert f"s3://{labelled.bucket}/" in error and said in error, error


@pytest.mark.parametrize("kind", ["import", "export"])
def test_a_slow_s3_is_waited_for(
    kind: str, faulty_server: ServerProcess, s3_server: S3Server, proxy: FaultProxy, labelled: SampleTransform
) -> None:
    """Every answer 0.25 s late (the client's read timeout is 60 s); the transient test delays single answers
    in runs of every kind."""
    glue, s3, prefix = client(faulty_server.url), s3_server.client(), f"slow-{kind}"
    count = _label_count(glue, labelled)
    proxy.add(Fault("delay", delay_s=0.25))
    run = wait_run(glue, labelled.transform_id, _start(kind, glue, s3, labelled, prefix))
    delayed = proxy.applied("delay")
    proxy.clear()
    assert run["Status"] == "SUCCEEDED", run
    assert delayed >= (4 if kind == "import" else 1), delayed
    _check_whole_output(kind, glue, s3, labelled, prefix)
    if kind == "import":
        assert _label_count(glue, labelled) == count + 6


def test_start_calls_that_read_s3_answer_glue_errors(
    faulty_server: ServerProcess, s3_server: S3Server, proxy: FaultProxy, labelled: SampleTransform
) -> None:
    """StartImportLabelsTaskRun and StartFindMatchesTaskRun look at S3 before they answer: transient faults
    are retried, persistent ones answer InvalidInputException naming the path and S3's error."""
    glue, s3 = client(faulty_server.url), s3_server.client()
    tid, bucket = labelled.transform_id, labelled.bucket
    path = put(s3, labelled, "start/labels.csv", label_file(labelled, some_sets(labelled, 1)))
    data = s3.get_object(Bucket=bucket, Key=f"people/{PART_CSV}")["Body"].read()
    records = put(s3, labelled, f"start/input/{PART_CSV}", data)

    proxy.add(Fault("slowdown", method="HEAD", times=2), Fault("drop", method="GET", times=1))
    run_id = glue.start_import_labels_task_run(TransformId=tid, InputS3Path=path)["TaskRunId"]
    assert wait_run(glue, tid, run_id)["Status"] == "SUCCEEDED"
    assert proxy.applied() == 3

    cases = [
        (Fault("slowdown", method="HEAD"), "503"),  # no body in an answer to HEAD: only the status
        (Fault("internal"), "500"),
        (Fault("drop"), "Connection was closed"),
    ]
    for fault, said in cases:
        proxy.clear()
        proxy.add(fault)
        with pytest.raises(ClientError) as raised:
            glue.start_import_labels_task_run(TransformId=tid, InputS3Path=path)
        error = raised.value.response["Error"]
        assert error["Code"] == "InvalidInputException", error
        assert path in error["Message"] and said in error["Message"], error
        with pytest.raises(ClientError) as raised:
            glue.start_find_matches_task_run(
                TransformId=tid, InputS3Path=records, OutputS3Path=f"s3://{bucket}/o/"
            )
        error = raised.value.response["Error"]
        assert error["Code"] == "InvalidInputException", error
        assert records in error["Message"] and said in error["Message"], error
    proxy.clear()
    assert glue.get_ml_transform(TransformId=tid)["Status"] == "READY"  # the API answers on


def test_a_failed_multipart_upload_is_aborted(s3_env: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    """An output over boto3's multipart threshold (8 MiB) goes up in parts: a part that fails once is retried,
    one that keeps failing fails the upload, which s3transfer aborts: no object, no pending upload."""
    big = tmp_path / "matches.csv"
    big.write_bytes(os.urandom(9 * 1024 * 1024))
    s3 = s3_env.client()
    with FaultProxy(s3_env.endpoint_url) as proxy:
        storage = Storage(proxy.url)
        proxy.add(Fault("slowdown", method="PUT", query=r"partNumber=2", times=2))
        storage.upload_file(big, f"s3://{s3_bucket}/ok/matches.csv")
        assert proxy.applied() == 2
        body = s3.get_object(Bucket=s3_bucket, Key="ok/matches.csv")["Body"].read()
        assert body == big.read_bytes()

        proxy.clear()
        proxy.add(Fault("internal", method="PUT", query=r"partNumber=2"))
        with pytest.raises(AccessError) as raised:
            storage.upload_file(big, f"s3://{s3_bucket}/out/matches.csv")
        assert "s3://" + s3_bucket + "/out/matches.csv: InternalError" in str(raised.value)
        assert str(tmp_path) not in str(raised.value)  # boto3's message names the local file; ours does not
        assert any(seen.method == "DELETE" for seen in proxy.requests), "the upload was not aborted"
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
    assert "Contents" not in s3.list_objects_v2(Bucket=s3_bucket, Prefix="out/")


# -- a full disk under the data dir -------------------------------------------------------------------

#: The data dir's file system: a tmpfs this size (the store, logs and run work dirs of a few small runs).
DISK_MB = 40


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A tmpfs of DISK_MB MiB: full means ENOSPC for every write, as a real disk (mount(8) needs root)."""
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a small file system: mounting a tmpfs needs root")
    mount_point = tmp_path_factory.mktemp("small-disk") / "data"
    mount_point.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0755", "tmpfs", str(mount_point)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"cannot mount a tmpfs for a full disk: {e}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for a full disk: {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)


class Filler:
    """Fills a file system to the last byte, and frees it again."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "filler"

    def fill(self) -> None:
        with open(self.path, "ab", buffering=0) as f:
            for size in (1 << 20, 4096, 1):
                try:
                    while True:
                        f.write(b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
        assert os.statvfs(self.path.parent).f_bavail == 0

    def free(self) -> None:
        self.path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def full_disk_server(small_disk: Path, s3_server: S3Server) -> Iterator[tuple[ServerProcess, Path]]:
    """A server whose data dir is the small disk; its runs wait 0.5 s in RUNNING, time to fill the disk. Its
    ``files`` root (local tables, labels and outputs) is on another file system, as the server's log is."""
    files = small_disk.parent / "files"
    files.mkdir()
    srv = ServerProcess(
        small_disk,
        ["--allow-path", str(files)],
        env={**s3_server.env(), "FINDMATCHES_TASK_START_DELAY_S": "0.5"},
    )
    srv.start()
    yield srv, files
    Filler(small_disk).free()
    srv.stop()


def _local_transform(glue: Any, files: Path, rows: list[dict[str, str]]) -> SampleTransform:
    """A transform whose table is a CSV file under ``files`` (read where it is: no copy in the work dir)."""
    name = f"fd{os.urandom(5).hex()}"
    table = files / name / "people"
    table.mkdir(parents=True)
    (table / PART_CSV).write_text(sample.to_csv(rows, SAMPLE_COLUMNS))
    glue.create_database(DatabaseInput={"Name": name})
    glue.create_table(
        DatabaseName=name,
        TableInput={
            "Name": "people",
            "StorageDescriptor": {
                "Location": str(table),
                "Columns": [{"Name": c, "Type": "string"} for c in SAMPLE_COLUMNS],
            },
            "Parameters": {"classification": "csv"},
        },
    )
    transform_id = glue.create_ml_transform(
        Name=name,
        Role="arn:aws:iam::000000000000:role/findmatches",
        InputRecordTables=[{"DatabaseName": name, "TableName": "people"}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
    )["TransformId"]
    return SampleTransform(transform_id, name, rows)


def _local_import(glue: Any, files: Path, people: SampleTransform, sets: dict[str, list[str]]) -> str:
    path = files / people.bucket / f"labels-{next(_numbers)}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(label_file(people, sets))
    run_id = glue.start_import_labels_task_run(TransformId=people.transform_id, InputS3Path=str(path))
    return str(run_id["TaskRunId"])


def _store_labels(data_dir: Path, transform_id: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{data_dir / DB_FILE}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return sorted(conn.execute("SELECT * FROM labels WHERE transform_id=?", (transform_id,)).fetchall())


@pytest.fixture(scope="module")
def full_disk_transforms(
    full_disk_server: tuple[ServerProcess, Path], s3_server: S3Server
) -> tuple[SampleTransform, SampleTransform]:
    """Two labelled transforms over a small sample: one whose table is local (read in place: a run writes
    nothing of it to the data dir), one whose table is on S3 (fetched into the run's work dir)."""
    srv, files = full_disk_server
    glue, s3 = client(srv.url), s3_server.client()
    rows = sample.generate(entities=100)
    local = _local_transform(glue, files, rows)
    remote = create_sample_transform(glue, s3, f"fr{os.urandom(5).hex()}", rows)
    for people in (local, remote):
        run_id = _local_import(glue, files, people, some_sets(people, 8))
        assert wait_run(glue, people.transform_id, run_id)["Status"] == "SUCCEEDED"
    return local, remote


def _wait_for_the_failure(srv: ServerProcess, glue: Any, tid: str, run_id: str, timeout: float = 60) -> None:
    """Until the run's work has failed on the full disk: the runner logs that it cannot record the run's end
    (the store's write fails too), or the run is FAILED already (SQLite wrote that small update into room its
    WAL file still had)."""
    deadline = time.monotonic() + timeout
    while f"task run {run_id}:" not in srv.log():
        if glue.get_ml_task_run(TransformId=tid, TaskRunId=run_id)["Status"] == "FAILED":
            return
        assert time.monotonic() < deadline, f"the run {run_id} neither failed nor logged that it could not"
        time.sleep(0.05)


#: What each run writes on the data dir's disk when it is full: the import's labels (the store: SQLite's
#: "database or disk is full"), the labeling set's fetch of an S3 table (the work dir), the find-matches run's
#: engine (DuckDB's spill and output in the work dir, in a worker process).
FULL_DISK_KINDS = ("import", "labeling_set", "find_matches")


@pytest.mark.parametrize("kind", FULL_DISK_KINDS)
def test_a_full_disk_fails_the_run_cleanly_and_keeps_the_store(
    kind: str,
    full_disk_server: tuple[ServerProcess, Path],
    full_disk_transforms: tuple[SampleTransform, SampleTransform],
) -> None:
    srv, files = full_disk_server
    glue, filler = client(srv.url), Filler(srv.data_dir)
    local, remote = full_disk_transforms
    people = remote if kind == "labeling_set" else local
    tid = people.transform_id
    labels_before = _store_labels(srv.data_dir, tid)
    count = _label_count(glue, people)
    out = files / "out" / f"{kind}-{next(_numbers)}"
    if kind == "import":
        run_id = _local_import(glue, files, people, some_sets(people, 2, offset=20))
    elif kind == "labeling_set":
        run_id = glue.start_ml_labeling_set_generation_task_run(TransformId=tid, OutputS3Path=str(out))[
            "TaskRunId"
        ]
    else:
        run_id = glue.start_find_matches_task_run(TransformId=tid, OutputS3Path=str(out))["TaskRunId"]
    wait_status(glue, tid, run_id, ("RUNNING",))  # held there 0.5 s (FINDMATCHES_TASK_START_DELAY_S)
    filler.fill()
    try:
        _wait_for_the_failure(srv, glue, tid, run_id)
        # The API answers: reads as ever; a change that must be stored, a Glue error that says why.
        assert glue.get_ml_transform(TransformId=tid)["LabelCount"] == count
        assert glue.get_ml_task_runs(TransformId=tid)["TaskRuns"]
        with pytest.raises(ClientError) as raised:
            glue.start_export_labels_task_run(TransformId=tid, OutputS3Path=str(out / "export"))
        error = raised.value.response["Error"]
        assert error["Code"] == "InternalServiceException" and "disk is full" in error["Message"], error
        # The store is whole and holds the labels it had.
        assert _store_labels(srv.data_dir, tid) == labels_before
    finally:
        filler.free()
    assert not list(out.glob("*")), "a failed run left output"
    assert _store_labels(srv.data_dir, tid) == labels_before
    assert _label_count(glue, people) == count
    deadline = time.monotonic() + 2
    while (run := glue.get_ml_task_run(TransformId=tid, TaskRunId=run_id))["Status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise AssertionError("a run whose end could not be written stayed RUNNING after space was freed")
        time.sleep(0.1)
    assert run["Status"] == "FAILED", run
    assert "disk is full" in run["ErrorString"] and "Traceback" not in run["ErrorString"], run


def test_after_space_is_freed_runs_succeed_again(
    full_disk_server: tuple[ServerProcess, Path],
    full_disk_transforms: tuple[SampleTransform, SampleTransform],
) -> None:
    """Once the disk has room again, an import (the store) and a labeling set of an S3 table (the work dir
    and the engine) succeed, and the store is whole."""
    srv, files = full_disk_server
    glue = client(srv.url)
    local, remote = full_disk_transforms
    Filler(srv.data_dir).fill()
    Filler(srv.data_dir).free()
    count = _label_count(glue, local)
    run = wait_run(
        glue, local.transform_id, _local_import(glue, files, local, some_sets(local, 2, offset=24))
    )
    assert run["Status"] == "SUCCEEDED", run
    assert _label_count(glue, local) == count + 6
    out = files / "out" / f"again-{next(_numbers)}"
    run_id = glue.start_ml_labeling_set_generation_task_run(
        TransformId=remote.transform_id, OutputS3Path=str(out / "ls")
    )["TaskRunId"]
    assert wait_run(glue, remote.transform_id, run_id)["Status"] == "SUCCEEDED"
    assert len(list((out / "ls").glob("*.csv"))) == 1
    _store_labels(srv.data_dir, local.transform_id)  # integrity_check: ok
