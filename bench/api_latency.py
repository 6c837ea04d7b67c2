"""API latency: p50/p99 and requests/s for GetMLTransform and ListMLTransforms at 1, 8 and 32 clients.

Starts ``findmatches serve`` in a subprocess on a free loopback port with a temporary data dir, creates a
database, a table and a transform, then runs each client in a thread of its own with its own keep-alive
connection, sending SigV4-signed requests (botocore's signer) for a fixed number of requests each.

    .venv/bin/python bench/api_latency.py [--requests 200] [--clients 1,8,32] [--json bench/results/api_latency.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import signed_headers  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(data_dir.parent / "server.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        # No per-account rate limit: this measures the API, and its clients send one account's requests at
        # close to 2,000 a second, over the default --account-rate.
        [
            sys.executable,
            "-m",
            "findmatches.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--account-rate",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log.name}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


def setup(url: str) -> str:
    glue = boto3.session.Session().client(
        "glue",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )
    glue.create_database(DatabaseInput={"Name": "bench"})
    columns: list[dict[str, str]] = [
        {"Name": n, "Type": "string"} for n in ("id", "first_name", "last_name", "city", "email")
    ]
    table: Any = {  # the stubs cannot tell which of two TypedDicts this literal is
        "Name": "people",
        "StorageDescriptor": {"Columns": columns, "Location": "s3://bench/people/"},
    }
    glue.create_table(DatabaseName="bench", TableInput=table)
    transform_id: str = glue.create_ml_transform(
        Name="bench",
        InputRecordTables=[{"DatabaseName": "bench", "TableName": "people"}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
        Role="arn:aws:iam::000000000000:role/bench",
        Tags={"team": "bench"},
    )["TransformId"]
    for i in range(9):  # a list of ten to page through
        glue.create_ml_transform(
            Name=f"bench-{i}",
            InputRecordTables=[{"DatabaseName": "bench", "TableName": "people"}],
            Parameters={
                "TransformType": "FIND_MATCHES",
                "FindMatchesParameters": {"PrimaryKeyColumnName": "id"},
            },
            Role="arn:aws:iam::000000000000:role/bench",
        )
    return transform_id


def client_thread(
    port: int,
    target: str,
    body: bytes,
    count: int,
    start: threading.Barrier,
    latencies: list[float],
    failures: list[str],
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start.wait()
    for _ in range(count):
        headers = signed_headers(port, target, body)  # signing is the client's work, outside the timed part
        began = time.perf_counter()
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        latencies.append(time.perf_counter() - began)
        if response.status != 200:
            failures.append(f"{response.status} {payload[:200]!r}")
    conn.close()


def run(port: int, target: str, body: bytes, clients: int, count: int) -> dict[str, Any]:
    latencies: list[float] = []
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)
    threads = [
        threading.Thread(target=client_thread, args=(port, target, body, count, barrier, latencies, failures))
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    ms = [x * 1000 for x in ordered]
    return {
        "operation": target,
        "clients": clients,
        "requests": len(ms),
        "errors": len(failures),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
        "max_ms": round(ms[-1], 2),
        "requests_per_s": round(len(ms) / elapsed, 1),
        "first_error": failures[0] if failures else None,
    }


def machine() -> dict[str, Any]:
    memory = None
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
            memory = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "load_average_before": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per client (default %(default)s)")
    parser.add_argument("--clients", default="1,8,32", help="client counts (default %(default)s)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "api_latency.json")
    args = parser.parse_args()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="findmatches-bench-") as tmp:
        port = free_port()
        proc = start_server(Path(tmp) / "data", port)
        try:
            transform_id = setup(f"http://127.0.0.1:{port}")
            bodies = {
                "GetMLTransform": json.dumps({"TransformId": transform_id}).encode(),
                "ListMLTransforms": b"{}",
            }
            for target, body in bodies.items():  # warm up
                run(port, target, body, 2, 50)
            results = [
                run(port, target, body, clients, args.requests)
                for target, body in bodies.items()
                for clients in map(int, args.clients.split(","))
            ]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"findmatches API latency — {info['cpus']} CPUs, {info['memory_gib']} GiB, Python {info['python']}, "
        f"{info['platform']}; {args.requests} requests per client, keep-alive, SigV4-signed"
    )
    print(
        f"{'operation':<18}{'clients':>8}{'requests':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'req/s':>9}"
        f"{'errors':>8}"
    )
    for r in results:
        print(
            f"{r['operation']:<18}{r['clients']:>8}{r['requests']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}"
            f"{r['max_ms']:>9}{r['requests_per_s']:>9}{r['errors']:>8}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "benchmark": "api_latency",
                "machine": info,
                "setup": {
                    "transforms": 10,
                    "requests_per_client": args.requests,
                    "server": "findmatches serve (uvicorn)",
                    "client": "http.client keep-alive threads, botocore SigV4Auth",
                },
                "goal": "p99 < 10 ms at 8 clients",
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
