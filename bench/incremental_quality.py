"""Incremental matching's quality on data of every shape: new records against a previous run, beside one run.

For each data set of `bench/engine_quality.py` and seed: the engine's teach loop (three labeling sets answered
from the truth) over the whole table and its full run; then a fifth of the unlabelled records, drawn at random,
become the new ones: a previous run matches the others, and an incremental run matches the new records against
its output (``existing=``, the merges it records followed). Reports pairwise and B-cubed precision, recall and
F1 of the final partition (the existing records' ids after the merges, and the new records' ids) beside the
full run's, per seed and as means. Prints a table and writes JSON.

usage: python bench/incremental_quality.py [--datasets affiliations orgs ...] [--seeds 0 1] [--share 0.2]
    [--json incremental_quality.json]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import print_table, write_json
from bench.engine_quality import LOADERS, Dataset, oracle, run
from findmatches.engine.api import find_matches
from findmatches.engine.incremental import follow_merges
from findmatches.engine.metrics import clustering_scores
from findmatches.engine.types import ExistingMatches, MatchParams, RecordSource

ROUNDS, PER_ROUND = 3, 100
KEYS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_f1")


def incremental(data: Dataset, seed: int, share: float, folder: Path) -> dict[str, object]:
    """The teach loop's full run, then the previous and the incremental run on the same labels."""
    full = run(data, ROUNDS, PER_ROUND, folder, seed)
    labels = pa.concat_tables(
        [
            oracle(folder / f"{data.name}-round{r}.csv", data.truth, data.primary_key)
            for r in range(1, ROUNDS + 1)
        ]
    )
    labelled = set(labels.column("primary_key").to_pylist())
    keys = data.table.column(data.primary_key).to_pylist()
    draw = random.Random(seed)
    new = np.array([key not in labelled and draw.random() < share for key in keys])
    params = MatchParams(primary_key=data.primary_key)
    previous, increment, merges = (
        folder / "previous.parquet",
        folder / "increment.parquet",
        folder / "merges.csv",
    )
    find_matches(
        RecordSource(table=data.table.filter(pa.array(~new))),
        params,
        labels,
        out_path=previous,
        out_format="parquet",
        compute_confidence=False,
    )
    find_matches(
        RecordSource(table=data.table.filter(pa.array(new))),
        params,
        labels,
        out_path=increment,
        out_format="parquet",
        compute_confidence=False,
        existing=ExistingMatches(RecordSource(paths=(previous,), format="parquet")),
        merges_path=merges,
    )
    before, after = pq.read_table(previous), pq.read_table(increment)
    ids = np.concatenate(
        [
            follow_merges(before.column("match_id").to_numpy(), pa_csv.read_csv(merges)),
            after.column("match_id").to_numpy(),
        ]
    )
    pks = before.column(data.primary_key).to_pylist() + after.column(data.primary_key).to_pylist()
    scores = clustering_scores(ids, np.asarray([data.truth[pk] for pk in pks]))
    return {
        "dataset": data.name,
        "seed": seed,
        "records": data.table.num_rows,
        "new": int(new.sum()),
        **{f"full_{k}": full[k] for k in KEYS},
        **{k: round(float(scores[k]), 4) for k in KEYS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--datasets", nargs="*", default=["affiliations", "orgs", "citations", "products_two_shops"]
    )
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument(
        "--share", type=float, default=0.2, help="the share of unlabelled records that are new"
    )
    parser.add_argument("--json", default="incremental_quality.json", help="file name under bench/results")
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        data = LOADERS[name]()
        for seed in args.seeds:
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(incremental(data, seed, args.share, Path(tmp)))
            print(rows[-1], flush=True)
    means = []
    for name in dict.fromkeys(str(r["dataset"]) for r in rows):
        mine = [r for r in rows if r["dataset"] == name]
        mean = {
            k: float(np.mean([float(str(r[k])) for r in mine])) for k in (*KEYS, *(f"full_{k}" for k in KEYS))
        }
        spread = [float(str(r["pairwise_f1"])) for r in mine]
        means.append(
            {"dataset": name, "seeds": len(mine), **mean, "min_f1": min(spread), "max_f1": max(spread)}
        )
    print_table("incremental (existing + new) beside the full run, means over seeds", means)
    write_json(
        args.json, {"benchmark": "incremental_quality", "args": vars(args), "results": rows, "means": means}
    )


if __name__ == "__main__":
    main()
