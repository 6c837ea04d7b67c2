"""Where an apply's time goes: the engine's ``find_matches`` in-process on a synthetic file, stage by stage.

For engine work between runs of ``bench/scale.py`` (which drives the live API beside Splink). The transform is
taught as ``scale.py`` teaches it (3 rounds of labeling sets on a 10k sample answered by an oracle; the labels
are cached), then ``find_matches`` runs on the big file plus the labelled records of the sample (as the API adds
them). Each engine log line is printed with the wall seconds and the process CPU seconds since the previous one,
so stages stand out even on a busy machine. ``--calls`` also times each call the engine makes of its backend
(a statement, a query, a stream of batches, a write) and prints the slowest; a stream is then read to its end
before the engine sees its first batch, so its time shows in the call, not in the stages' log lines.
``--engine spark`` runs on the Spark backend in this process (``--master``, ``local[2]`` by default), one
backend for all ``--runs``, so that the runs after the first are warm, as a server's are. With ``--jobs`` it
also prints Spark's own account of each backend call from its event log (`bench/spark_jobs.py`): the call's
jobs, stages, task seconds and shuffle written, which show what runs side by side and what moves. Prints a
table of the runs and writes JSON.

usage: python bench/apply_profile.py [--records 1000000] [--labels bench/results/scale-1m-labels]
       [--engine spark [--master local[2]] [--jobs]] [--runs 1] [--calls]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import spark_jobs
from bench.common import print_table, write_json
from bench.engine_quality import oracle
from bench.scale import CACHE, TEACH_RECORDS, TEACH_SEED, data_files
from findmatches.engine.api import find_matches, generate_labeling_set
from findmatches.engine.backend import Backend
from findmatches.engine.backends.duckdb import DuckDBBackend
from findmatches.engine.metrics import clustering_scores
from findmatches.engine.types import MatchParams, RecordSource

PARAMS = MatchParams(primary_key="id")


def teach(sample: Path, truth: Path, rounds: int, again: bool = False) -> pa.Table:
    """Labels from ``rounds`` labeling sets on the sample, answered from the truth (cached unless ``again``:
    the sets depend on the engine's code)."""
    cached = CACHE / f"labels-{sample.stem}-r{rounds}.parquet"
    if cached.exists() and not again:
        return pq.read_table(cached)
    truth_map = dict(zip(*pq.read_table(truth).to_pydict().values(), strict=True))
    labels = pa.table({c: pa.array([], pa.string()) for c in ("labeling_set_id", "label", "primary_key")})
    source = RecordSource(paths=(sample,), format="parquet")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(1, rounds + 1):
            path = Path(tmp) / f"round{r}.csv"
            generate_labeling_set(source, PARAMS, labels, out_path=path, seed=r)
            labels = pa.concat_tables([labels, oracle(path, truth_map, "id")])
    pq.write_table(labels, cached)
    return labels


def kept_labels(folder: Path) -> pa.Table:
    """The labels of the ``labels<round>.csv`` files a `bench/scale.py` run kept (as its API run imported them)."""
    files = sorted(folder.glob("labels*.csv"))
    if not files:
        raise SystemExit(f"no labels*.csv in {folder}")
    con = duckdb.connect()
    return con.sql(
        "SELECT CAST(labeling_set_id AS VARCHAR) AS labeling_set_id, CAST(label AS VARCHAR) AS label, "
        f"CAST(id AS VARCHAR) AS primary_key FROM read_csv({[str(f) for f in files]!r}, all_varchar = true)"
    ).to_arrow_table()


#: The backend's methods that `timed_calls` times: each runs work in the engine's database.
TIMED_METHODS = ("load_records", "execute", "query", "stream", "map_batches", "register", "write_records")


def timed_calls(
    backend: Backend, calls: list[dict[str, object]], describe: Callable[[str], None] | None = None
) -> None:
    """Wrap ``backend``'s `TIMED_METHODS` so that each call appends its wall seconds and the start of its SQL
    to ``calls`` (a stream's time is that of reading it to the end). Only the outermost call counts: DuckDB's
    `map_batches` reads its rows through `stream`, which would otherwise count twice. ``describe`` is given
    each outermost call's name and SQL before it runs (Spark's job description)."""
    depth = [0]

    def wrap(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        streams = name in ("stream", "map_batches")

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            if describe is not None and depth[0] == 0:
                describe(f"{name}: {args[0] if args else ''}")
            depth[0] += 1
            try:
                result = method(*args, **kwargs)
                if streams:
                    result = iter(list(result))
            finally:
                depth[0] -= 1
            if depth[0] == 0:
                what = " ".join(str(args[0]).split())[:160] if args else ""
                calls.append({"call": name, "seconds": round(time.perf_counter() - started, 3), "sql": what})
            return result

        return timed

    for name in TIMED_METHODS:
        setattr(backend, name, wrap(name, getattr(backend, name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reteach", action="store_true", help="teach again instead of using cached labels")
    parser.add_argument("--json", default="apply_profile.json", help="file name under bench/results")
    parser.add_argument(
        "--labels",
        type=Path,
        help="a folder of labels<round>.csv kept by bench/scale.py: use those labels instead of teaching",
    )
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--master", default="local[2]", help="Spark's master, with --engine spark")
    parser.add_argument("--runs", type=int, default=1, help="applies in a row on one backend")
    parser.add_argument("--calls", action="store_true", help="time each backend call; print the slowest")
    parser.add_argument(
        "--jobs",
        action="store_true",
        help="with --engine spark (not Spark Connect): each call's Spark jobs, task time and shuffle",
    )
    args = parser.parse_args()
    if args.jobs and (args.engine != "spark" or args.master.startswith("sc://")):
        parser.error("--jobs reads the event log of a classic Spark session: --engine spark, not sc://")

    data, truth = data_files(args.records, 0.3, 0.2, 0)
    sample, sample_truth = data_files(TEACH_RECORDS, 0.3, 0.2, TEACH_SEED, id_prefix="t")
    labels = (
        kept_labels(args.labels) if args.labels else teach(sample, sample_truth, args.rounds, args.reteach)
    )

    stages: list[dict[str, object]] = []
    calls: list[dict[str, object]] = []
    last = [time.perf_counter(), time.process_time()]

    def log(message: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        stages.append({"wall_s": round(wall - last[0], 2), "cpu_s": round(cpu - last[1], 2), "log": message})
        print(f"{wall - last[0]:7.2f}s wall {cpu - last[1]:7.2f}s cpu  {message[:150]}", flush=True)
        last[0], last[1] = wall, cpu

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        # As a FIND_MATCHES run through the API does: the big file plus the labelled records it lacks.
        labelled = Path(tmp) / "labelled.parquet"
        con = duckdb.connect()
        con.register("keys", pa.table({"id": sorted(set(labels.column("primary_key").to_pylist()))}))
        con.execute(
            f"COPY (SELECT s.* FROM read_parquet('{sample}') s SEMI JOIN keys k ON k.id = s.id) "
            f"TO '{labelled}' (FORMAT parquet)"
        )
        con.close()
        source = RecordSource(paths=(data, labelled), format="parquet")
        events = Path(tmp) / "events"
        backend: Backend
        if args.engine == "spark":
            from findmatches.engine.backends.spark import SparkBackend, spark_session

            if args.jobs:
                events.mkdir()
                os.environ["PYSPARK_SUBMIT_ARGS"] = spark_jobs.submit_args(events)
            backend = SparkBackend(spark_session(args.master), temp_dir=Path(tmp))
        else:
            backend = DuckDBBackend(temp_dir=Path(tmp))
        if args.calls or args.jobs:
            spark = getattr(backend, "spark", None)
            timed_calls(backend, calls, partial(spark_jobs.describe, spark) if args.jobs else None)
        try:
            for run in range(1, max(1, args.runs) + 1):
                out = Path(tmp) / f"matches-{run}.parquet"
                calls.clear()
                run_ms = time.time() * 1000
                started = last[0] = time.perf_counter()
                find_matches(
                    source,
                    PARAMS,
                    labels,
                    out_path=out,
                    out_format="parquet",
                    compute_confidence=False,
                    log=log,
                    backend=backend,
                )
                total = time.perf_counter() - started
                rows.append({"run": run, **_scored(out, truth, total), "backend_calls": len(calls)})
                if args.calls:
                    print_table(
                        f"run {run}: the slowest of {len(calls)} backend calls "
                        f"({sum(float(str(c['seconds'])) for c in calls):.1f} s in all)",
                        sorted(calls, key=lambda c: -float(str(c["seconds"])))[:15],
                    )
                    rows[-1]["calls"] = list(calls)
                if args.jobs:
                    jobs = spark_jobs.calls_of(events, run_ms, time.time() * 1000)
                    print_table(
                        f"run {run}: Spark's jobs by backend call, the slowest of {len(jobs)} "
                        f"({sum(float(str(j['task_s'])) for j in jobs):.1f} task-s, "
                        f"{sum(float(str(j['shuffle_mb'])) for j in jobs):.0f} MB shuffled in all)",
                        sorted(jobs, key=lambda j: -float(str(j["seconds"])))[:15],
                    )
                    rows[-1]["jobs"] = jobs
        finally:
            backend.close()
            if args.jobs:  # its event log ends in the folder that goes with ``tmp``
                from findmatches.engine.backends.spark import stop_spark_session

                stop_spark_session()
    print_table(
        f"find_matches in-process on {args.records} synthetic records ({args.engine})",
        [{k: v for k, v in r.items() if k not in ("calls", "jobs")} for r in rows],
    )
    write_json(
        args.json,
        {
            "benchmark": "apply_profile",
            "command": "python " + " ".join(sys.argv),
            "engine": args.engine,
            "results": rows,
            "stages": stages,
        },
    )


def _scored(out: Path, truth: Path, seconds: float) -> dict[str, object]:
    """Seconds, the process's peak memory and the pairwise scores of one run's output."""
    matched = (
        duckdb.connect()
        .sql(
            f"SELECT m.match_id, t.entity_id FROM read_parquet('{out}') m JOIN read_parquet('{truth}') t USING (id)"
        )
        .to_arrow_table()
    )
    scores = clustering_scores(
        matched.column("match_id").to_numpy(), np.asarray(matched.column("entity_id").to_pylist())
    )
    return {
        "seconds": round(seconds, 1),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        **{
            k: round(v, 4)
            for k, v in scores.items()
            if k in ("pairwise_precision", "pairwise_recall", "pairwise_f1")
        },
    }


if __name__ == "__main__":
    main()
