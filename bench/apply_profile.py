"""Where an apply's time goes: the engine's ``find_matches`` in-process on a synthetic file, stage by stage.

For engine work between runs of ``bench/scale.py`` (which drives the live API beside Splink). The transform is
taught as ``scale.py`` teaches it (3 rounds of labeling sets on a 10k sample answered by an oracle; the labels
are cached), then ``find_matches`` runs on the big file plus the labelled records of the sample (as the API adds them). Each engine log line is printed with
the wall seconds and the process CPU seconds since the previous one, so stages stand out even on a busy
machine. Prints a table of stages and writes JSON.

usage: python bench/apply_profile.py [--records 1000000] [--labels bench/results/scale-1m-labels]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_json
from bench.engine_quality import oracle
from bench.scale import CACHE, TEACH_RECORDS, TEACH_SEED, data_files
from findmatches.engine.api import find_matches, generate_labeling_set
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
    args = parser.parse_args()

    data, truth = data_files(args.records, 0.3, 0.2, 0)
    sample, sample_truth = data_files(TEACH_RECORDS, 0.3, 0.2, TEACH_SEED, id_prefix="t")
    labels = (
        kept_labels(args.labels) if args.labels else teach(sample, sample_truth, args.rounds, args.reteach)
    )

    stages: list[dict[str, object]] = []
    last = [time.perf_counter(), time.process_time()]
    started = last[0]

    def log(message: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        stages.append({"wall_s": round(wall - last[0], 2), "cpu_s": round(cpu - last[1], 2), "log": message})
        print(f"{wall - last[0]:7.2f}s wall {cpu - last[1]:7.2f}s cpu  {message[:150]}", flush=True)
        last[0], last[1] = wall, cpu

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "matches.parquet"
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
        find_matches(
            source, PARAMS, labels, out_path=out, out_format="parquet", compute_confidence=False, log=log
        )
        total = time.perf_counter() - started
        matched = (
            duckdb.connect()
            .sql(
                f"SELECT m.match_id, t.entity_id FROM read_parquet('{out}') m "
                f"JOIN read_parquet('{truth}') t USING (id)"
            )
            .to_arrow_table()
        )
    scores = clustering_scores(
        matched.column("match_id").to_numpy(), np.asarray(matched.column("entity_id").to_pylist())
    )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        {
            "records": args.records,
            "seconds": round(total, 1),
            "peak_mib": round(peak_mib),
            **{
                k: round(v, 4)
                for k, v in scores.items()
                if k in ("pairwise_precision", "pairwise_recall", "pairwise_f1")
            },
        }
    ]
    print_table(f"find_matches in-process on {args.records} synthetic records", rows)
    write_json(
        args.json,
        {
            "benchmark": "apply_profile",
            "command": f"python bench/apply_profile.py --records {args.records}"
            + (f" --labels {args.labels}" if args.labels else ""),
            "results": rows,
            "stages": stages,
        },
    )


if __name__ == "__main__":
    main()
