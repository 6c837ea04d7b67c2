"""Incremental batches against matching everything at once, over many orders of the same records.

The case of ``tests/engine/test_incremental.py``: 600 synthetic person records (30 % duplicates), taught with
twelve neighbourhood-like labeling sets answered from the truth. For each seed the records are shuffled and
cut into ``batches + 1`` parts: a full run matches the first two parts, then each other part is matched
incrementally against everything matched so far (retired ids followed). The final partition is scored against
the truth beside a full run over all records and the first run alone, and the table gives, per case, how far
its pairwise precision and recall fall below the run over everything and below the worse of the two full runs
(what the test bounds by 0.02). Prints a table and the lowest differences, and writes JSON.

usage: python bench/incremental_batches.py [--seeds 0-39] [--batches 2 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_json
from bench.synth import generate_table
from findmatches.engine.metrics import clustering_scores
from tests.engine.test_incremental import _follow, _labels, _run

MEASURES = ("pairwise_precision", "pairwise_recall")


def _seeds(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-39", help="a seed or a range, e.g. 0-39")
    parser.add_argument("--batches", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--json", default="incremental_batches.json", help="file name under bench/results")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    table = generate_table(600, dup_rate=0.3, noise=0.2, seed=3)
    truth = dict(zip(table.column("id").to_pylist(), table.column("entity_id").to_pylist(), strict=True))
    table = table.drop_columns(["entity_id"])
    labels = _labels(table, truth)
    tmp = Path(tempfile.mkdtemp())

    def score(matched: pa.Table, merges: dict[int, int]) -> dict[str, float]:
        ids = _follow(matched.column("match_id").to_pylist(), merges)
        return clustering_scores(
            np.asarray(ids), np.asarray([truth[p] for p in matched.column("id").to_pylist()])
        )

    full = score(_run(table, tmp, "all", table, labels)[0], {})
    rows = []
    for seed in _seeds(args.seeds):
        for batches in args.batches:
            cuts = np.array_split(np.random.default_rng(seed).permutation(table.num_rows), batches + 1)
            existing, _ = _run(table, tmp, "first", table.take(np.concatenate(cuts[:2])), labels)
            first = score(existing, {})
            merges: dict[int, int] = {}
            for b, cut in enumerate(cuts[2:]):
                got, merged = _run(table, tmp, f"b{b}", table.take(cut), labels, existing, merges)
                assert merged is not None
                retired = merged.column("retired_match_id").to_pylist()
                merges.update(zip(retired, merged.column("match_id").to_pylist(), strict=True))
                existing = pa.concat_tables([existing, got.select(existing.column_names)])
            final = score(existing, merges)
            row: dict[str, float] = {"seed": seed, "batches": batches}
            for m in MEASURES:
                short = m.removeprefix("pairwise_")
                row[f"{short}_vs_full"] = round(final[m] - full[m], 4)
                row[f"{short}_vs_worse"] = round(final[m] - min(full[m], first[m]), 4)
            row["first_precision"] = round(first["pairwise_precision"], 4)
            rows.append(row)
            print(row, flush=True)
    print_table("incremental batches against one run over everything (differences in pairwise scores)", rows)
    lowest = {k: min(float(r[k]) for r in rows) for k in rows[0] if k.endswith(("_vs_full", "_vs_worse"))}
    print("\nlowest:", lowest)
    write_json(
        args.json,
        {
            "benchmark": "incremental_batches",
            "command": "python bench/incremental_batches.py " + " ".join(sys.argv[1:]),
            "full_run": {m: round(full[m], 4) for m in MEASURES},
            "lowest": lowest,
            "cases": rows,
        },
    )


if __name__ == "__main__":
    main()
