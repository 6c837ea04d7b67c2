"""Shared benchmark plumbing: a live server subprocess, machine facts, tables and JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024**2, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``findmatches serve`` in a subprocess on a free loopback port, with ``args`` (more flags) and ``env``."""

    def __init__(
        self,
        data_dir: Path,
        allow: Sequence[Path] = (),
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "findmatches.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(data_dir),
            *args,
        ]
        for root in allow:
            command += ["--allow-path", str(root)]
        self.log_path = log_path or data_dir.parent / f"server-{self.port}.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        # Ready once the health check says the engine is loaded (a long-running server's state: a run on a
        # server started a moment ago would otherwise wait for the engine's import).
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/_findmatches/health", timeout=1) as resp:
                    if json.loads(resp.read()).get("engine") == "ready":
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def rss_mib(self, field: str = "VmRSS") -> float:
        """The server's resident memory now (VmRSS) or at its peak so far (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system, all threads) the server and its processes have used so far: the
        server's own, and each live descendant's with the children it has reaped (the fork server reaps the
        runs' workers). Unlike wall time, a busy neighbour on the shared cores does not inflate it."""
        return tree_cpu_seconds(self.proc.pid)

    def tree_rss_mib(self) -> float:
        """The resident memory now of the server and every process under it (the runs' workers), in MiB."""
        return tree_rss_mib(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def _stat(pid: int) -> list[int]:
    """The numeric fields of /proc/<pid>/stat after the command name (zeros for a process gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return [0] * 20
    return [int(f) if f.lstrip("-").isdigit() else 0 for f in fields]


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` (its own) and of each live process under it (with the children it reaped)."""
    total = sum(_stat(pid)[11:13])
    for child in descendants(pid):
        total += sum(_stat(child)[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def tree_rss_mib(pid: int) -> float:
    """The resident memory now of ``pid`` and every process under it, in MiB."""
    total = 0.0
    for one in (pid, *descendants(pid)):
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:  # gone meanwhile
            continue
    return total


def descendants(pid: int) -> list[int]:
    """Every live process under ``pid`` (children, their children …), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 30) -> None:
    """SIGTERM, then SIGKILL after ``grace_s`` seconds; wait for the process either way."""
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def signed_headers(
    port: int, target: str, body: bytes, key: str = "test", secret: str = "test"
) -> dict[str, str]:
    """Headers of a SigV4-signed JSON 1.1 request for ``AWSGlue.<target>`` (botocore's signer)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=f"http://127.0.0.1:{port}/",
        data=body,
        headers={"X-Amz-Target": f"AWSGlue.{target}", "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(key, secret), "glue", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def create_transform(glue: Any, name: str, table: str = "people", **extra: Any) -> str:
    """A FIND_MATCHES transform over ``bench.<table>`` (primary key ``id``); its id."""
    transform_id: str = glue.create_ml_transform(
        Name=name,
        Role="arn:aws:iam::000000000000:role/bench",
        InputRecordTables=[{"DatabaseName": "bench", "TableName": table}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
        **extra,
    )["TransformId"]
    return transform_id


def client(url: str) -> Any:
    from findmatches.apply import glue_client

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    return glue_client(url, region="us-east-1")


def catalog_table(
    glue: Any, table: str, location: str, columns: Sequence[str], classification: str = "csv"
) -> None:
    """Database ``bench`` and in it ``table``: text columns over the files at ``location``."""
    glue.create_database(DatabaseInput={"Name": "bench"})
    glue.create_table(
        DatabaseName="bench",
        TableInput={
            "Name": table,
            "Parameters": {"classification": classification},
            "StorageDescriptor": {
                "Location": location,
                "Columns": [{"Name": c, "Type": "string"} for c in columns],
            },
        },
    )


def wait_run(glue: Any, transform_id: str, run_id: str, timeout: float = 3600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = glue.get_ml_task_run(TransformId=transform_id, TaskRunId=run_id)
        if run["Status"] in ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"):
            return run
        time.sleep(0.05)
    raise TimeoutError(run_id)


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    """A plain fixed-width table on stdout."""
    if not rows:
        return
    columns = list(rows[0])
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2) + "\n")
    print(f"\nwrote {path}")
    return path


def shuffled_records(rows: Mapping[str, list[str | None]], rng: np.random.Generator) -> pa.Table:
    """A generator's columns as a text table in random order, with an ``id`` column (r0, r1, …) first."""
    n = len(next(iter(rows.values())))
    shuffled = pa.table({k: pa.array(v, pa.string()) for k, v in rows.items()}).take(rng.permutation(n))
    return shuffled.add_column(0, "id", pa.array([f"r{i}" for i in range(n)]))


def generator_main(doc: str, generate: Callable[[int, int], pa.Table], records: int) -> None:
    """The command line of a data generator: ``--records``, ``--seed``, ``--out`` (CSV)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--records", type=int, default=records)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    pacsv.write_csv(generate(args.records, args.seed), args.out)
