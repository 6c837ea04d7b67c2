"""Shared fixtures: a real findmatches server in a subprocess on a free loopback port, and boto3 clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from findmatches.aws.spec import EXTRAS_DATA_PATH

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
        cmd = [sys.executable, "-m", "findmatches.cli", "serve", "--port", str(self.port),
               "--data-dir", str(self.data_dir), *self.extra_args]
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


def client(url: str, service: str = "glue", access_key: str = "test", secret_key: str = "test",
           region: str = REGION) -> Any:
    """A boto3 client for ``url`` that knows our StartFindMatchesTaskRun extension and never retries."""
    os.environ.setdefault("AWS_DATA_PATH", str(EXTRAS_DATA_PATH))
    return boto3.session.Session().client(
        service, endpoint_url=url, aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        region_name=region, config=Config(retries={"max_attempts": 1}, read_timeout=60),
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the session, with the data dir and a shared 'files' root allowed for local paths."""
    root = tmp_path_factory.mktemp("server")
    files = root / "files"
    files.mkdir()
    creds = root / "credentials.toml"
    creds.write_text(
        '[test]\nsecret_access_key = "test"\naccount_id = "000000000000"\n'
        '[AKIDOTHER]\nsecret_access_key = "other-secret"\naccount_id = "111111111111"\n'
    )
    srv = ServerProcess(root / "data", ["--credentials-file", str(creds), "--allow-path", str(files),
                                        "--allow-path", str(root / "data")])
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
