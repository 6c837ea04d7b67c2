"""Incremental matching: new records against existing matches, beside matching everything again.

The synthetic person records of ``bench/scale.py`` (``--records`` in all, cached), of which ``--new`` chosen at
random are the new ones and the rest were matched before. Taught with the labels a `bench/scale.py` run kept
(``--labels``, as `bench/apply_profile.py` uses them), the engine runs in-process:

1. the previous run: ``find_matches`` over the existing records (their ``match_id``s);
2. the first incremental run: the new records against those files (``existing=``), keeping a snapshot of the
   existing records as it prepared them (`findmatches.engine.snapshot`, as the server keeps one), timed;
3. the incremental run again, reading the existing records from that snapshot, timed;
4. a full re-match of every record, timed.

``--engine spark`` runs every step on the Spark backend in this process (``--master``, ``local[2]`` by
default; `findmatches.engine.backends.spark`), one backend for all the runs, as a server keeps its session.

Reports the times and the ratio of the incremental run on the snapshot to the full re-match, pairwise and B-cubed scores of the final partition (the existing ids with
the merges followed, and the new records' ids) and of the full re-match against the truth, how many existing
records changed id (only those of merged groups may), and peak memory. Steps 2 and 3 are repeated
``--repeat`` times (medians); step 2 once. Prints a table and writes JSON.

usage: python bench/incremental.py [--records 1010000] [--new 10000] [--repeat 3]
    [--labels bench/results/scale-1m-labels] [--engine spark [--master local[2]]]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apply_profile import PARAMS, kept_labels, teach
from bench.common import print_table, write_json
from bench.scale import TEACH_RECORDS, TEACH_SEED, data_files
from findmatches.engine.api import find_matches
from findmatches.engine.backend import Backend
from findmatches.engine.incremental import follow_merges
from findmatches.engine.metrics import clustering_scores
from findmatches.engine.types import ExistingMatches, KeepSnapshots, RecordSource

SCORES = (
    "pairwise_precision",
    "pairwise_recall",
    "pairwise_f1",
    "bcubed_precision",
    "bcubed_recall",
    "bcubed_f1",
)


def split_new(data: Path, new: int, folder: Path) -> tuple[Path, Path]:
    """The records as two Parquet files: ``new`` of them chosen at random (by a hash of the id), the rest."""
    con = duckdb.connect()
    total = int(con.sql(f"SELECT count(*) FROM read_parquet('{data}')").fetchall()[0][0])
    con.execute(
        f"CREATE TABLE r AS SELECT *, row_number() OVER (ORDER BY hash(id || '#new')) <= {new} AS is_new "
        f"FROM read_parquet('{data}')"
    )
    old_path, new_path = folder / "existing-records.parquet", folder / "new-records.parquet"
    con.execute(f"COPY (SELECT * EXCLUDE (is_new) FROM r WHERE NOT is_new) TO '{old_path}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT * EXCLUDE (is_new) FROM r WHERE is_new) TO '{new_path}' (FORMAT parquet)")
    print(f"{total - new:,} existing and {new:,} new records", flush=True)
    return old_path, new_path


def _labelled(labels: pa.Table, sample: Path, folder: Path) -> Path:
    """The labelled records of the teaching sample (as the API adds those an input lacks)."""
    path = folder / "labelled.parquet"
    con = duckdb.connect()
    con.register("keys", pa.table({"id": sorted(set(labels.column("primary_key").to_pylist()))}))
    con.execute(
        f"COPY (SELECT s.* FROM read_parquet('{sample}') s SEMI JOIN keys k ON k.id = s.id) TO '{path}' "
        "(FORMAT parquet)"
    )
    return path


def _scores(ids: np.ndarray, pks: list[str], truth: dict[str, str]) -> dict[str, float]:
    got = clustering_scores(ids, np.asarray([truth[p] for p in pks]))
    return {k: round(float(got[k]), 4) for k in SCORES}


def arguments(doc: str, json_name: str) -> argparse.ArgumentParser:
    """The options the incremental benches share (records, new records, repeats, labels, JSON name)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_010_000, help="existing and new records in all")
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--labels", type=Path, help="a folder of labels<round>.csv kept by bench/scale.py")
    parser.add_argument("--json", default=json_name, help="file name under bench/results")
    return parser


def main() -> None:
    parser = arguments(__doc__, "incremental.json")
    parser.add_argument(
        "--verbose", action="store_true", help="print the engine's log with the seconds per line"
    )
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--master", default="local[2]", help="Spark's master, with --engine spark")
    args = parser.parse_args()

    data, truth_path = data_files(args.records, 0.3, 0.2, 0)
    sample, sample_truth = data_files(TEACH_RECORDS, 0.3, 0.2, TEACH_SEED, id_prefix="t")
    labels = kept_labels(args.labels) if args.labels else teach(sample, sample_truth, 3)
    truth = dict(zip(*pq.read_table(truth_path).to_pydict().values(), strict=True))
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        old_path, new_path = split_new(data, args.new, folder)
        backend: Backend | None = None
        if args.engine == "spark":
            from findmatches.engine.backends.spark import SparkBackend, spark_session

            backend = SparkBackend(spark_session(args.master), temp_dir=folder)
        extra = RecordSource(paths=(_labelled(labels, sample, folder),), format="parquet")

        def run(
            source: Path,
            out: Path,
            existing: ExistingMatches | None = None,
            keep: KeepSnapshots | None = None,
        ) -> float:
            started = time.perf_counter()
            last = [started]

            def log(message: str) -> None:
                now = time.perf_counter()
                if args.verbose:
                    print(f"  {now - last[0]:6.2f}s  {message[:140]}", flush=True)
                last[0] = now

            find_matches(
                RecordSource(paths=(source,), format="parquet"),
                PARAMS,
                labels,
                out_path=out,
                out_format="parquet",
                compute_confidence=False,
                extra=extra,
                existing=existing,
                merges_path=out.with_suffix(".merges.csv") if existing else None,
                keep=keep,
                log=log,
                backend=backend,
            )
            return time.perf_counter() - started

        previous = folder / "previous.parquet"
        first_s = run(old_path, previous)
        print(f"previous run over the existing records: {first_s:.1f} s", flush=True)
        snapshot = folder / "snapshot"
        cold_s = run(
            new_path,
            folder / "increment.parquet",
            ExistingMatches(RecordSource(paths=(previous,), format="parquet")),
            KeepSnapshots(existing=snapshot),
        )
        cold = pq.read_table(folder / "increment.parquet", columns=["id", "match_id"])
        print(f"first incremental run, from the files (keeps the snapshot): {cold_s:.2f} s", flush=True)
        for i in range(args.repeat):
            inc_s = run(new_path, folder / "increment.parquet", ExistingMatches(snapshots=(snapshot,)))
            full_s = run(data, folder / "full.parquet")
            runs.append({"incremental_s": inc_s, "full_s": full_s})
            print(f"repeat {i}: incremental {inc_s:.2f} s, full re-match {full_s:.2f} s", flush=True)
        before = pq.read_table(previous, columns=["id", "match_id"])
        after = pq.read_table(folder / "increment.parquet", columns=["id", "match_id"])
        same = after.column("match_id").equals(cold.column("match_id"))
        print(f"the run on the snapshot gave {'the same' if same else 'other'} ids as the one on the files")
        merges = pa_csv.read_csv(folder / "increment.merges.csv")
        kept = follow_merges(before.column("match_id").to_numpy(), merges)
        changed = int((kept != before.column("match_id").to_numpy()).sum())
        final_ids = np.concatenate([kept, after.column("match_id").to_numpy()])
        final_pks = before.column("id").to_pylist() + after.column("id").to_pylist()
        full = pq.read_table(folder / "full.parquet", columns=["id", "match_id"])
        joined = int(np.isin(after.column("match_id").to_numpy(), before.column("match_id").to_numpy()).sum())
        row = {
            "engine": args.engine,
            "existing": args.records - args.new,
            "new": args.new,
            "first_incremental_s": round(cold_s, 2),
            "incremental_s": round(statistics.median(r["incremental_s"] for r in runs), 2),
            "full_s": round(statistics.median(r["full_s"] for r in runs), 2),
            "new_joined_existing": joined,
            "merged_groups": merges.num_rows,
            "existing_ids_changed": changed,
            "same_ids_as_first": same,
            "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }
        row["ratio"] = round(row["incremental_s"] / row["full_s"], 3)
        quality = [
            {"partition": "incremental (existing + new)", **_scores(final_ids, final_pks, truth)},
            {
                "partition": "full re-match",
                **_scores(full.column("match_id").to_numpy(), full.column("id").to_pylist(), truth),
            },
        ]
        if backend is not None:
            backend.close()
    print_table("incremental matching against a full re-match (medians)", [row])
    print_table("final partition against the truth", quality)
    write_json(
        args.json,
        {
            "benchmark": "incremental",
            "command": "python bench/incremental.py " + " ".join(sys.argv[1:]),
            "previous_run_s": round(first_s, 2),
            "results": [row],
            "runs": runs,
            "quality": quality,
        },
    )


if __name__ == "__main__":
    main()
