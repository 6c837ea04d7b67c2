"""Incremental matching through the API: StartFindMatchesTaskRun with ExistingMatchesS3Path, beside a full run.

The synthetic person records of ``bench/scale.py`` (``--records`` in all, cached), ``--new`` of them new (as
``bench/incremental.py`` splits them), a transform taught on the teaching sample (``--labels``: the label files
a ``bench/scale.py`` run kept), and one ``findmatches serve`` reading local files:

1. a full run over the existing records, into ``m/day1.parquet``;
2. the first incremental run: the new records against ``m/``, which reads the file and keeps snapshots;
3. the incremental run again, which reads the kept snapshot (``--repeat`` times);
4. a full run over every record (``--repeat`` times, interleaved with 3).

Each time is from the start request to SUCCEEDED as GetMLTaskRun reports it, polled every 0.1 s (each poll
costs the server CPU that the run needs on a small machine). Reports the
medians and the ratio of the incremental run on the snapshot to the full one, and whether every run on the
snapshot gave the ids of the first incremental run. Prints a table and writes JSON.

usage: python bench/incremental_api.py [--records 1010000] [--new 10000] [--repeat 3]
    [--labels bench/results/scale-1m-labels]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Server, client, print_table, write_json
from bench.incremental import arguments, split_new
from bench.scale import CACHE, TEACH_RECORDS, TEACH_SEED, data_files, teach

POLL_S = 0.1


def main() -> None:
    parser = arguments(__doc__, "incremental_api.json")
    parser.add_argument("--verbose", action="store_true", help="print the last incremental run's log")
    args = parser.parse_args()

    data, _ = data_files(args.records, 0.3, 0.2, 0)
    sample, sample_truth = data_files(TEACH_RECORDS, 0.3, 0.2, TEACH_SEED, id_prefix="t")
    runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        root = Path(tmp)
        old_path, new_path = split_new(data, args.new, root)
        tid, _ = teach(root, sample, sample_truth, 3, reuse=args.labels)
        server = Server(root / "data", allow=[root, CACHE])
        try:
            glue = client(server.url)

            log: list[str] = []

            def run(**arguments: Any) -> float:
                started = time.perf_counter()
                run_id = glue.start_find_matches_task_run(TransformId=tid, **arguments)["TaskRunId"]
                while True:
                    got = glue.get_ml_task_run(TransformId=tid, TaskRunId=run_id)
                    if got["Status"] in ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"):
                        break
                    time.sleep(POLL_S)
                seconds = time.perf_counter() - started
                if got["Status"] != "SUCCEEDED":
                    raise RuntimeError(f"{arguments}: {got['Status']} {got.get('ErrorString')}")
                log[:] = Path(got["LogGroupName"]).read_text(encoding="utf-8").splitlines()
                return seconds

            (root / "m").mkdir()
            first_s = run(InputS3Path=str(old_path), OutputS3Path=str(root / "m" / "day1.parquet"))
            print(f"full run over the existing records: {first_s:.1f} s", flush=True)

            def increment(name: str) -> float:
                return run(
                    InputS3Path=str(new_path),
                    ExistingMatchesS3Path=str(root / "m"),
                    OutputS3Path=str(root / "out" / f"{name}.parquet"),
                )

            cold_s = increment("cold")
            print(f"first incremental run (reads the files, keeps snapshots): {cold_s:.2f} s", flush=True)
            cold = pq.read_table(root / "out" / "cold.parquet", columns=["id", "match_id"])
            same = True
            for i in range(args.repeat):
                inc_s = increment(f"warm{i}")
                if args.verbose and i == args.repeat - 1:
                    print("\n".join(log), flush=True)
                warm = pq.read_table(root / "out" / f"warm{i}.parquet", columns=["id", "match_id"])
                same = same and warm.equals(cold)
                full_s = run(InputS3Path=str(data), OutputS3Path=str(root / "out" / f"full{i}.parquet"))
                runs.append({"incremental_s": inc_s, "full_s": full_s})
                print(f"repeat {i}: incremental {inc_s:.2f} s, full {full_s:.2f} s", flush=True)
        finally:
            server.stop()
    row = {
        "existing": args.records - args.new,
        "new": args.new,
        "first_incremental_s": round(cold_s, 2),
        "incremental_s": round(statistics.median(r["incremental_s"] for r in runs), 2),
        "full_s": round(statistics.median(r["full_s"] for r in runs), 2),
        "same_ids_as_first": same,
    }
    row["ratio"] = round(row["incremental_s"] / row["full_s"], 3)
    print_table("incremental runs through the API against a full run (medians)", [row])
    write_json(
        args.json,
        {
            "benchmark": "incremental_api",
            "command": "python bench/incremental_api.py " + " ".join(sys.argv[1:]),
            "previous_run_s": round(first_s, 2),
            "results": [row],
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
