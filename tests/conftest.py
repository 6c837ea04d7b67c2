"""Shared fixtures: a real findmatches server in a subprocess on a free loopback port, and boto3 clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from findmatches.aws.spec import EXTRAS_DATA_PATH
from tests.fixtures_s3 import S3Server, s3_bucket, s3_env, s3_server

__all__ = ["S3Server", "s3_bucket", "s3_env", "s3_server"]

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server did not open port {port}")


@dataclass
class ServerProcess:
    """A ``findmatches serve`` subprocess; ``restart`` keeps the data dir."""

    data_dir: Path
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        env = {**os.environ, **self.env}
        cmd = [
            sys.executable,
            "-m",
            "findmatches.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for_port(self.port, self.proc)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


def apply_cli(url: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``findmatches apply --endpoint-url url *args`` in a subprocess, as the default test key."""
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    env["AWS_DEFAULT_REGION"] = REGION
    command = [sys.executable, "-m", "findmatches.cli", "apply", "--endpoint-url", url, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


def client(
    url: str, service: str = "glue", access_key: str = "test", secret_key: str = "test", region: str = REGION
) -> Any:
    """A boto3 client for ``url`` that knows our StartFindMatchesTaskRun extension and never retries."""
    os.environ.setdefault("AWS_DATA_PATH", str(EXTRAS_DATA_PATH))
    return boto3.session.Session().client(
        service,
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


@pytest.fixture
def s3(s3_server: S3Server) -> Any:
    """A boto3 S3 client on the loopback S3 server."""
    return s3_server.client()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[ServerProcess]:
    """One server for the session, with the data dir and a shared 'files' root allowed for local paths."""
    root = tmp_path_factory.mktemp("server")
    files = root / "files"
    files.mkdir()
    creds = root / "credentials.toml"
    creds.write_text(
        '[test]\nsecret_access_key = "test"\naccount_id = "000000000000"\n'
        '[AKIDOTHER]\nsecret_access_key = "other-secret"\naccount_id = "111111111111"\n'
    )
    srv = ServerProcess(
        root / "data",
        ["--credentials-file", str(creds), "--allow-path", str(files), "--allow-path", str(root / "data")],
        env=s3_server.env(),
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def files_root(server: ServerProcess) -> Path:
    """A local folder the session server may read and write (file:// URIs and plain paths)."""
    return server.data_dir.parent / "files"


@pytest.fixture
def glue(server: ServerProcess) -> Any:
    return client(server.url)


@pytest.fixture
def other_glue(server: ServerProcess) -> Any:
    """A client of another account (111111111111)."""
    return client(server.url, access_key="AKIDOTHER", secret_key="other-secret")


# -- a transform over the shipped sample, with its data on the loopback S3 ----------------------------

SAMPLE_COLUMNS = ["id", "first_name", "last_name", "birth_date", "street", "city", "zip", "email"]
# Object names as Spark and Glue write them: tables, inputs and outputs in tests use these, so that two
# locations holding an object of the same name (the usual case in real buckets) is what the tests see too.
PART_CSV = "part-00000-5a1e37c4-9a0b-4f6d-8f57-0c2b1d3e4a5b-c000.csv"
PART_PARQUET = "part-00000-5a1e37c4-9a0b-4f6d-8f57-0c2b1d3e4a5b-c000.snappy.parquet"


def wait_run(glue: Any, transform_id: str, run_id: str, timeout: float = 120) -> dict[str, Any]:
    """Poll GetMLTaskRun until the run ends; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = glue.get_ml_task_run(TransformId=transform_id, TaskRunId=run_id)
        if run["Status"] in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"):
            return run
        time.sleep(0.1)
    raise AssertionError(f"task run {run_id} did not finish: {run}")


def wait_status(
    glue: Any, transform_id: str, run_id: str, statuses: tuple[str, ...], timeout: float = 30
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: str = glue.get_ml_task_run(TransformId=transform_id, TaskRunId=run_id)["Status"]
        if status in statuses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {statuses}")


@dataclass
class SampleTransform:
    transform_id: str
    bucket: str
    rows: list[dict[str, str]]

    def truth(self) -> dict[str, str]:
        return {r["id"]: r["entity"] for r in self.rows}


def catalog_people(
    glue: Any,
    s3: Any,
    bucket: str,
    database: str,
    rows: list[dict[str, str]],
    columns: list[str] = SAMPLE_COLUMNS,
) -> None:
    """``rows`` as CSV with a header in a new bucket (``people/``), catalogued as ``<database>.people``."""
    from findmatches import sample

    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=f"people/{PART_CSV}", Body=sample.to_csv(rows, columns).encode())
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "people",
            "StorageDescriptor": {
                "Location": f"s3://{bucket}/people/",
                "Columns": [{"Name": c, "Type": "string"} for c in columns],
            },
            "Parameters": {"classification": "csv"},
        },
    )


def catalog_csv_transform(
    glue: Any,
    s3: Any,
    name: str,
    rows: list[dict[str, str]],
    body: bytes,
    serde: dict[str, Any],
    table_parameters: dict[str, str] | None = None,
) -> SampleTransform:
    """``body`` (the CSV of ``rows``, written some way) in a new bucket ``name`` (``people/``), catalogued as
    ``db_<name>.people`` with the SerdeInfo ``serde`` and the table ``table_parameters`` (classification
    csv), and a transform over it (primary key ``id``)."""
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key=f"people/{PART_CSV}", Body=body)
    glue.create_database(DatabaseInput={"Name": f"db_{name}"})
    glue.create_table(
        DatabaseName=f"db_{name}",
        TableInput={
            "Name": "people",
            "StorageDescriptor": {
                "Location": f"s3://{name}/people/",
                "Columns": [{"Name": c, "Type": "string"} for c in SAMPLE_COLUMNS],
                "SerdeInfo": serde,
            },
            "Parameters": {"classification": "csv", **(table_parameters or {})},
        },
    )
    transform_id = glue.create_ml_transform(
        Name=name,
        Role="arn:aws:iam::000000000000:role/findmatches",
        InputRecordTables=[{"DatabaseName": f"db_{name}", "TableName": "people"}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
    )["TransformId"]
    return SampleTransform(transform_id, name, rows)


def create_sample_transform(
    glue: Any, s3: Any, name: str, rows: list[dict[str, str]] | None = None, **transform_args: Any
) -> SampleTransform:
    """Upload sample people to a new bucket, catalog them, and create a transform (primary key ``id``)."""
    from findmatches import sample

    rows = rows if rows is not None else sample.generate()
    bucket = name.lower().replace("_", "-")[:50]
    database = f"db_{name}".lower()
    catalog_people(glue, s3, bucket, database, rows)
    transform_id = glue.create_ml_transform(
        Name=name,
        Role="arn:aws:iam::000000000000:role/findmatches",
        InputRecordTables=[{"DatabaseName": database, "TableName": "people"}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
        **transform_args,
    )["TransformId"]
    return SampleTransform(transform_id, bucket, rows)


@pytest.fixture
def people(request: pytest.FixtureRequest, glue: Any, s3: Any) -> SampleTransform:
    """A fresh transform over the sample people, data in its own bucket."""
    name = "t" + uuid.uuid4().hex[:12]
    return create_sample_transform(glue, s3, name)
