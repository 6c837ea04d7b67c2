"""API under load while find-matches runs work: latency, errors and the server's memory over time.

Starts ``findmatches serve`` (its default per-account rate limit in force) on a free loopback port, catalogs the
10k-record teaching sample of `bench/scale.py` and creates 20 transforms over it, each taught the same kept
labels. Then 32 client threads send a realistic mix at a fixed total rate (open loop: each thread's requests
follow a Poisson schedule, so a slow answer does not slow the offered load), each on a keep-alive connection
with SigV4-signed requests:

- reads: GetMLTransform, GetMLTransforms, ListMLTransforms, GetTable, GetDatabase, GetMLTaskRuns;
- polls: GetMLTaskRun of a run started earlier;
- starts (busy phase only): exports and merge-imports of labels, and evaluations, each on a transform with no
  run of the bench's in flight.

Two phases: ``quiet`` (reads and polls, no task run anywhere), then ``busy`` (the same plus the starts, while
find-matches runs on 100k records follow one another without pause). For each phase: requests, the rate
achieved, errors (any answer but 200), latency percentiles as the clients saw them and as the server logged
them, and the server's resident memory (first, last, and its least-squares slope per minute).

    .venv/bin/python bench/load.py [--rate 200] [--clients 32] [--quiet-s 120] [--busy-s 600]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Server,
    catalog_table,
    client,
    create_transform,
    machine,
    print_table,
    signed_headers,
    wait_run,
    write_json,
)
from bench.scale import CACHE, COLUMNS, DATA_SEED, TEACH_RECORDS, TEACH_SEED, data_files

LABELS = Path(__file__).resolve().parent / "results" / "scale-1m-labels"
TRANSFORMS = 20
BIG_RECORDS = 100_000
#: The mix: operation → weight (per 1,000 requests); a start, where no transform is free of a bench run, polls.
MIX = {
    "GetMLTransform": 250,
    "GetMLTransforms": 80,
    "ListMLTransforms": 80,
    "GetTable": 80,
    "GetDatabase": 40,
    "GetMLTaskRuns": 120,
    "GetMLTaskRun": 340,
    "start": 10,
}
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT")
LOG_LINE = re.compile(r" (\w+) account=\S+ status=(\d+) ([\d.]+)ms")


@dataclass
class Shared:
    """What the client threads share: the transforms, runs to poll, and the results."""

    root: Path
    transforms: list[str]
    runs: list[tuple[str, str]] = field(default_factory=list)
    outstanding: dict[str, str] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    starts: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _request(shared: Shared, rng: random.Random) -> tuple[str, dict[str, Any], str | None]:
    """The next request of the mix: (operation, body, transform whose run it starts or None)."""
    op = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    tid = rng.choice(shared.transforms)
    with shared.lock:
        runs = shared.runs[-200:]
        free = [t for t in shared.transforms if t not in shared.outstanding]
    if op == "start" and shared.starts and free:
        tid = rng.choice(free)
        kind = rng.choices(["export", "import", "evaluation"], weights=[6, 3, 1])[0]
        if kind == "export":
            out = str(shared.root / "exports" / tid)
            return "StartExportLabelsTaskRun", {"TransformId": tid, "OutputS3Path": out}, tid
        if kind == "import":
            path = str(shared.root / "labels1.csv")
            return "StartImportLabelsTaskRun", {"TransformId": tid, "InputS3Path": path}, tid
        return "StartMLEvaluationTaskRun", {"TransformId": tid}, tid
    if op in ("start", "GetMLTaskRun") and runs:
        rtid, run_id = rng.choice(runs)
        return "GetMLTaskRun", {"TransformId": rtid, "TaskRunId": run_id}, None
    if op == "GetMLTransforms":
        return op, {"MaxResults": 10}, None
    if op == "ListMLTransforms":
        return op, {"MaxResults": 10}, None
    if op == "GetTable":
        return op, {"DatabaseName": "bench", "Name": "people"}, None
    if op == "GetDatabase":
        return op, {"Name": "bench"}, None
    if op == "GetMLTaskRuns":
        return op, {"TransformId": tid, "MaxResults": 10}, None
    return "GetMLTransform", {"TransformId": tid}, None


def _client(port: int, shared: Shared, rate: float, until: float, seed: int) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    due = time.monotonic() + rng.expovariate(rate)
    while due < until:
        op, args, starts = _request(shared, rng)
        body = json.dumps(args).encode()
        headers = signed_headers(port, op, body)
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        began = time.perf_counter()
        try:
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            payload, status = repr(e).encode(), 0
        elapsed = time.perf_counter() - began
        with shared.lock:
            shared.latencies.append(elapsed)
            shared.counts[op] = shared.counts.get(op, 0) + 1
            if status != 200:
                shared.errors.append(f"{op} {status} {payload[:200]!r}")
            elif starts is not None:
                run_id = json.loads(payload)["TaskRunId"]
                shared.outstanding[starts] = run_id
                shared.runs.append((starts, run_id))
            elif op == "GetMLTaskRun":
                answer = json.loads(payload)
                if answer.get("Status") in TERMINAL and shared.outstanding.get(
                    args["TransformId"]
                ) == answer.get("TaskRunId"):
                    del shared.outstanding[args["TransformId"]]
        due += rng.expovariate(rate)
    conn.close()


def _settle(glue: Any, shared: Shared) -> None:
    """Forget outstanding runs that ended without a poll seeing it (a poll picks any recent run)."""
    with shared.lock:
        pending = dict(shared.outstanding)
    for tid, run_id in pending.items():
        if glue.get_ml_task_run(TransformId=tid, TaskRunId=run_id)["Status"] in TERMINAL:
            with shared.lock:
                if shared.outstanding.get(tid) == run_id:
                    del shared.outstanding[tid]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def _server_latencies(log: Path, start: int, end: int) -> list[float]:
    """Milliseconds the server logged for the API requests between two offsets of its log."""
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read(end - start).decode(errors="replace")
    return [float(m.group(3)) for m in LOG_LINE.finditer(text)]


def _phase(
    name: str,
    server: Server,
    glue: Any,
    shared: Shared,
    args: argparse.Namespace,
    seconds: float,
    big: dict[str, Any] | None,
) -> dict[str, Any]:
    """Run the mix for ``seconds``; with ``big``, find-matches runs follow one another meanwhile."""
    shared.latencies.clear()
    shared.errors.clear()
    shared.counts.clear()
    shared.starts = big is not None
    log_path = Path(server.log.name)
    log_start = log_path.stat().st_size
    began = time.monotonic()
    until = began + seconds
    threads = [
        threading.Thread(
            target=_client, args=(server.port, shared, args.rate / args.clients, until, args.seed + i)
        )
        for i in range(args.clients)
    ]
    for t in threads:
        t.start()
    samples: list[tuple[float, float]] = []
    applies: list[float] = []
    run: tuple[str, float] | None = None
    while time.monotonic() < until:
        samples.append((time.monotonic() - began, server.rss_mib()))
        if big is not None:
            if run is not None:
                state = glue.get_ml_task_run(TransformId=big["transform_id"], TaskRunId=run[0])
                if state["Status"] in TERMINAL:
                    if state["Status"] != "SUCCEEDED":
                        shared.errors.append(f"find matches {state['Status']}: {state.get('ErrorString')}")
                    applies.append(time.monotonic() - run[1])
                    run = None
            if run is None:
                out = str(shared.root / "matches" / f"{len(applies)}.parquet")
                run_id = glue.start_find_matches_task_run(
                    TransformId=big["transform_id"], InputS3Path=big["input"], OutputS3Path=out
                )["TaskRunId"]
                run = (run_id, time.monotonic())
            _settle(glue, shared)
        time.sleep(1.0)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    if big is not None and run is not None:  # the phase is over: its last run is not measured
        glue.cancel_ml_task_run(TransformId=big["transform_id"], TaskRunId=run[0])
        wait_run(glue, big["transform_id"], run[0])
    time.sleep(0.5)  # the server's last log lines
    server_ms = _server_latencies(log_path, log_start, log_path.stat().st_size)
    client_ms = [x * 1000 for x in shared.latencies]
    minutes = np.array([s[0] for s in samples]) / 60
    rss = np.array([s[1] for s in samples])
    slope = float(np.polyfit(minutes, rss, 1)[0]) if len(samples) > 2 else float("nan")
    return {
        "phase": name,
        "seconds": round(elapsed),
        "requests": len(client_ms),
        "per_s": round(len(client_ms) / elapsed, 1),
        "errors": len(shared.errors),
        "client_p50_ms": round(statistics.median(client_ms), 2),
        "client_p99_ms": round(_percentile(client_ms, 0.99), 2),
        "client_max_ms": round(max(client_ms), 1),
        "server_p50_ms": round(statistics.median(server_ms), 2) if server_ms else None,
        "server_p99_ms": round(_percentile(server_ms, 0.99), 2) if server_ms else None,
        "find_matches_runs": len(applies),
        "starts": sum(n for op, n in shared.counts.items() if op.startswith("Start")),
        "rss_first_mib": round(float(rss[0]), 1),
        "rss_last_mib": round(float(rss[-1]), 1),
        "rss_max_mib": round(float(rss.max()), 1),
        "rss_slope_mib_per_min": round(slope, 2),
        "by_operation": dict(shared.counts),
        "first_errors": shared.errors[:20],
        "find_matches_seconds": [round(a, 1) for a in applies],
    }


def _teach(glue: Any, transform_id: str, label_files: list[Path]) -> None:
    """Import the kept label files into the transform, one after another."""
    for labels in label_files:
        run_id = glue.start_import_labels_task_run(TransformId=transform_id, InputS3Path=str(labels))[
            "TaskRunId"
        ]
        run = wait_run(glue, transform_id, run_id)
        if run["Status"] != "SUCCEEDED":
            raise SystemExit(f"import of {labels} failed: {run.get('ErrorString')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate", type=float, default=200, help="requests a second, all clients (%(default)s)"
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--quiet-s", type=float, default=120, help="seconds without task runs (%(default)s)")
    parser.add_argument("--busy-s", type=float, default=600, help="seconds with runs working (%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default="load.json", help="file name under bench/results")
    args = parser.parse_args()

    sample, _ = data_files(TEACH_RECORDS, 0.3, 0.2, TEACH_SEED, id_prefix="t")
    big_input, _ = data_files(BIG_RECORDS, 0.3, 0.2, DATA_SEED)
    root = Path(tempfile.mkdtemp(prefix="findmatches-load-"))
    for folder in ("table", "exports", "matches"):
        (root / folder).mkdir()
    shutil.copy(sample, root / "table" / "records.parquet")
    for labels in LABELS.glob("labels*.csv"):
        shutil.copy(labels, root / labels.name)
    server = Server(root / "data", allow=[root, CACHE])
    try:
        glue = client(server.url)
        catalog_table(glue, "people", str(root / "table"), COLUMNS, "parquet")
        transforms = [create_transform(glue, f"load-{i}") for i in range(TRANSFORMS)]
        big_tid = create_transform(glue, "load-big")
        for tid in [*transforms, big_tid]:
            _teach(glue, tid, sorted(root.glob("labels*.csv")))
        shared = Shared(root, transforms)
        # Runs to poll in the quiet phase: one ended export per transform.
        for tid in transforms:
            run_id = glue.start_export_labels_task_run(
                TransformId=tid, OutputS3Path=str(root / "exports" / tid)
            )["TaskRunId"]
            wait_run(glue, tid, run_id)
            shared.runs.append((tid, run_id))
        rows = [_phase("quiet", server, glue, shared, args, args.quiet_s, None)]
        print_table("quiet", [{k: v for k, v in rows[0].items() if not isinstance(v, (list, dict))}])
        big = {"transform_id": big_tid, "input": str(big_input)}
        rows.append(_phase("busy", server, glue, shared, args, args.busy_s, big))
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    table = [{k: v for k, v in r.items() if not isinstance(v, (list, dict))} for r in rows]
    print_table(f"API under load: {args.rate:g} requests/s from {args.clients} clients", table)
    path = write_json(
        args.json,
        {
            "machine": machine(),
            "rate": args.rate,
            "clients": args.clients,
            "mix": MIX,
            "transforms": TRANSFORMS,
            "find_matches_records": BIG_RECORDS,
            "phases": rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
