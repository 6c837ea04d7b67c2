"""A real S3-compatible server on loopback (moto's server mode) for tests; reuse from any conftest.

    from tests.fixtures_s3 import s3_bucket, s3_env, s3_server  # noqa: F401  (in a conftest.py)

``s3_server`` (session): an ``S3Server`` with ``endpoint_url``, ``env()`` (variables for a subprocess such as
``findmatches serve``) and ``client()``.  ``s3_env`` (function): the same variables set in ``os.environ``
(fake credentials, ``AWS_ENDPOINT_URL_S3``, no profile or config file), so plain ``boto3`` and ``Storage()``
reach moto.  ``s3_bucket`` (function): a fresh, empty bucket name, with ``s3_env`` active.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
_bucket_numbers = itertools.count(1)


@dataclass(frozen=True)
class S3Server:
    """Where the loopback S3 server listens, and how to talk to it."""

    endpoint_url: str
    region: str = REGION
    access_key: str = "testing"
    secret_key: str = "testing"

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and a server subprocess) at this S3 server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 (and every other moto service) on a free loopback port for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield S3Server(f"http://{host}:{port}")
    server.stop()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """Point the process's standard AWS configuration at the loopback server for one test."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def s3_bucket(s3_env: S3Server) -> str:
    """A new empty bucket on the loopback server."""
    name = f"test-bucket-{next(_bucket_numbers)}"
    s3_env.client().create_bucket(Bucket=name)
    return name
