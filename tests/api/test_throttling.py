"""Per-account throttling on a live server: over its rate an account gets Glue's ThrottlingException (which
boto3 retries), other accounts go on, and the allowance comes back with time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ServerProcess, client

RATE = 2  # requests a second, bursts of 4


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root: Path = tmp_path_factory.mktemp("throttled")
    credentials = root / "credentials.toml"
    credentials.write_text(
        '[test]\nsecret_access_key = "test"\naccount_id = "000000000000"\n'
        '[AKIDOTHER]\nsecret_access_key = "other-secret"\naccount_id = "111111111111"\n'
    )
    server = ServerProcess(
        root / "data", extra_args=["--account-rate", str(RATE), "--credentials-file", str(credentials)]
    )
    server.start()
    yield server
    server.stop()


def test_an_account_over_its_rate_is_throttled_and_others_are_not(slow: ServerProcess) -> None:
    mine = client(slow.url)  # never retries
    codes = []
    for _ in range(40):  # far faster than RATE a second, whatever the machine
        try:
            mine.get_ml_transforms()
            codes.append("ok")
        except ClientError as e:
            codes.append(e.response["Error"]["Code"])
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert e.response["Error"]["Message"] == "Rate exceeded"
            break
    assert codes[: 2 * RATE] == ["ok"] * (2 * RATE) and "ThrottlingException" in codes
    theirs = client(slow.url, access_key="AKIDOTHER", secret_key="other-secret")
    assert theirs.get_ml_transforms()["Transforms"] == []  # another account's allowance is its own
    time.sleep(1.0)
    assert mine.get_ml_transforms()["Transforms"] == []  # the allowance comes back with time


def test_boto3_retries_through_throttling(slow: ServerProcess) -> None:
    """boto3's standard retry mode backs off on ThrottlingException and gets through."""
    retrying = boto3.session.Session().client(
        "glue",
        endpoint_url=slow.url,
        aws_access_key_id="AKIDOTHER",
        aws_secret_access_key="other-secret",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 10, "mode": "standard"}),
    )
    for _ in range(2 * RATE + 2):  # past the burst: some are throttled and retried
        assert retrying.get_ml_transforms()["Transforms"] == []
