"""The real aws CLI against the live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from findmatches.aws.spec import EXTRAS_DATA_PATH
from tests.api.support import COLUMNS, unique
from tests.conftest import ServerProcess

AWS = Path(sys.executable).with_name("aws")


@pytest.fixture
def aws(server: ServerProcess, tmp_path: Path) -> Any:
    region = f"cli-{unique('r')}"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_DATA_PATH": str(EXTRAS_DATA_PATH),
        "AWS_MAX_ATTEMPTS": "1",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AWS), "glue", "--endpoint-url", server.url, "--output", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def test_cli_flow(aws: Any, tmp_path: Path) -> None:
    assert aws("create-database", "--database-input", '{"Name": "clidb"}').returncode == 0
    table = {"Name": "people", "StorageDescriptor": {"Columns": COLUMNS, "Location": "s3://bucket/people/"}}
    done = aws("create-table", "--database-name", "clidb", "--table-input", json.dumps(table))
    assert done.returncode == 0, done.stderr

    parameters = tmp_path / "parameters.json"
    parameters.write_text(
        json.dumps({"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}})
    )
    done = aws(
        "create-ml-transform",
        "--name",
        "cli-transform",
        "--input-record-tables",
        "DatabaseName=clidb,TableName=people",
        "--parameters",
        f"file://{parameters}",
        "--role",
        "arn:aws:iam::000000000000:role/r",
        "--tags",
        "team=data",
    )
    assert done.returncode == 0, done.stderr
    transform_id = json.loads(done.stdout)["TransformId"]
    assert transform_id.startswith("tfm-")

    done = aws("get-ml-transform", "--transform-id", transform_id)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert (got["Name"], got["Status"], got["LabelCount"]) == ("cli-transform", "NOT_READY", 0)
    assert got["Schema"][0] == {"Name": "id", "DataType": "string"}
    assert isinstance(got["CreatedOn"], int | float)  # CLI v1 prints the raw epoch number

    done = aws("list-ml-transforms", "--tags", "team=data")
    assert json.loads(done.stdout)["TransformIds"] == [transform_id]

    # errors: a non-zero exit status and Glue's code and message on stderr
    done = aws("get-ml-transform", "--transform-id", "tfm-" + "0" * 40)
    assert done.returncode in (254, 255)  # v2 and v1 exit codes for a service error
    assert "EntityNotFoundException" in done.stderr
    assert "Cannot find MLTransform in account 000000000000" in done.stderr
    done = aws("get-ml-transforms", "--sort", "Column=BOGUS,SortDirection=ASCENDING")
    assert done.returncode in (254, 255)  # v2 and v1 exit codes for a service error
    assert "ValidationException" in done.stderr
