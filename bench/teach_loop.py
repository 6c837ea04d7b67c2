"""The teach loop exactly as a user drives it: boto3 against a live server, an oracle for the person.

For each data set: create the table and the transform, then rounds of generate labeling set → the oracle
labels it from the ground truth → import → evaluate → apply; after each round the `match_id` groups are
scored (pairwise and B-cubed precision, recall and F1).

The service seeds each labeling set from its task run's id, so every draw (a new transform taught from the
start) sees other labeling sets. ``--draws N`` teaches each data set N times and prints, beside the rounds, the
last round's mean and standard deviation over the draws.

usage: python bench/teach_loop.py [--datasets febrl1,febrl2,...|all] [--rounds 3] [--draws 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Server, catalog_table, client, print_table, wait_run, write_json
from bench.engine_quality import LOADERS, Dataset
from findmatches.engine.metrics import clustering_scores


def timed(glue: Any, transform_id: str, start: Any, **args: Any) -> float:
    started = time.perf_counter()
    run = wait_run(glue, transform_id, start(TransformId=transform_id, **args)["TaskRunId"])
    if run["Status"] != "SUCCEEDED":
        raise RuntimeError(f"{start.__name__}: {run['Status']} {run.get('ErrorString')}")
    return time.perf_counter() - started


def answer(labeling_file: Path, out: Path, truth: dict[str, str], primary_key: str) -> list[str]:
    """The oracle: each record's label is its true entity. Returns the labelled primary keys."""
    with open(labeling_file, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return []
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "label": truth[row[primary_key]]})
    return [r[primary_key] for r in rows]


def run_dataset(data: Dataset, rounds: int, root: Path, draw: int = 0) -> list[dict[str, Any]]:
    folder = root / f"{data.name}-{draw}"
    (folder / "table").mkdir(parents=True)
    pacsv.write_csv(data.table, folder / "table" / "records.csv")
    server = Server(root / f"data-{data.name}-{draw}", allow=[root])
    rows: list[dict[str, Any]] = []
    try:
        glue = client(server.url)
        catalog_table(glue, "records", str(folder / "table"), data.table.column_names)
        tid = glue.create_ml_transform(
            Name=data.name,
            Role="arn:aws:iam::000000000000:role/bench",
            InputRecordTables=[{"DatabaseName": "bench", "TableName": "records"}],
            Parameters={
                "TransformType": "FIND_MATCHES",
                "FindMatchesParameters": {"PrimaryKeyColumnName": data.primary_key},
            },
        )["TransformId"]
        labelled: set[str] = set()
        for r in range(1, rounds + 1):
            out = folder / f"labeling{r}"
            t_generate = timed(
                glue, tid, glue.start_ml_labeling_set_generation_task_run, OutputS3Path=str(out)
            )
            (labeling_file,) = out.glob("*.csv")
            keys = answer(labeling_file, folder / f"labels{r}.csv", data.truth, data.primary_key)
            repeated = len(labelled & set(keys))
            labelled |= set(keys)
            if not keys:
                print(f"{data.name}: round {r}: no candidates left")
                break
            t_import = timed(
                glue, tid, glue.start_import_labels_task_run, InputS3Path=str(folder / f"labels{r}.csv")
            )
            status = glue.get_ml_transform(TransformId=tid)["Status"]
            t_evaluate, t_apply, scores, estimate = float("nan"), float("nan"), {}, {}
            if status == "READY":
                t_evaluate = timed(glue, tid, glue.start_ml_evaluation_task_run)
                estimate = glue.get_ml_transform(TransformId=tid)["EvaluationMetrics"]["FindMatchesMetrics"]
                t_apply = timed(
                    glue, tid, glue.start_find_matches_task_run, OutputS3Path=str(folder / f"matches{r}")
                )
                (part,) = (folder / f"matches{r}").glob("*.csv")
                matched = pacsv.read_csv(
                    part,
                    convert_options=pacsv.ConvertOptions(
                        column_types={data.primary_key: "string", "match_id": "int64"}
                    ),
                )
                truth = np.asarray([data.truth[pk] for pk in matched.column(data.primary_key).to_pylist()])
                scores = clustering_scores(matched.column("match_id").to_numpy(), truth)
            rows.append(
                {
                    "dataset": data.name,
                    "draw": draw,
                    "records": data.table.num_rows,
                    "round": r,
                    "labelled": len(labelled),
                    "repeated": repeated,
                    "status": status,
                    "precision": scores.get("pairwise_precision"),
                    "recall": scores.get("pairwise_recall"),
                    "f1": scores.get("pairwise_f1"),
                    "bcubed_precision": scores.get("bcubed_precision"),
                    "bcubed_recall": scores.get("bcubed_recall"),
                    "bcubed_f1": scores.get("bcubed_f1"),
                    "est_f1": estimate.get("F1"),
                    "generate_s": t_generate,
                    "import_s": t_import,
                    "evaluate_s": t_evaluate,
                    "apply_s": t_apply,
                }
            )
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    finally:
        server.stop()
    return rows


SCORES = ("precision", "recall", "f1", "bcubed_precision", "bcubed_recall", "bcubed_f1")


def spread(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per data set, its draws' last round: each score's mean and standard deviation (over the draws that
    reached an apply), the lowest F1, and how many draws."""
    last: dict[str, dict[int, dict[str, Any]]] = {}
    for row in rows:
        last.setdefault(row["dataset"], {})[row["draw"]] = row  # rounds come in order
    out = []
    for name, draws in last.items():
        done = [r for r in draws.values() if r["f1"] is not None]
        summary: dict[str, Any] = {"dataset": name, "draws": len(done)}
        for key in SCORES:
            values = np.asarray([r[key] for r in done], dtype=float)
            summary[key] = float(values.mean()) if len(values) else None
            summary[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else None
        summary["min_f1"] = min((r["f1"] for r in done), default=None)
        out.append(summary)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--datasets",
        default="febrl1,febrl2,febrl3,rldata10000,fodors_zagat,synth,products",
        help="comma-separated names, or all",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--draws", type=int, default=1, help="transforms taught from the start per data set")
    parser.add_argument("--json", default="teach_loop.json", help="file name under bench/results")
    parser.add_argument(
        "--keep",
        type=Path,
        help="an empty or new folder to keep each draw's files in (its labeling sets, labels, matches and the "
        "server's run logs), so that a draw can be looked into or its labels replayed",
    )
    args = parser.parse_args()
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: the folder is not empty")
    names = list(LOADERS) if args.datasets == "all" else args.datasets.split(",")
    unknown = [n for n in names if n not in LOADERS]
    if unknown:
        parser.error(f"unknown data sets {unknown}; known: {', '.join(LOADERS)}")
    results: list[dict[str, Any]] = []
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    kept = contextlib.nullcontext(str(args.keep)) if args.keep is not None else None
    with kept or tempfile.TemporaryDirectory() as tmp:
        for name in names:
            data = LOADERS[name]()
            for draw in range(args.draws):
                results += run_dataset(data, args.rounds, Path(tmp), draw)
    print_table(
        "Teach loop through the live API (labels from an oracle; pairwise and B-cubed scores)", results
    )
    summary = spread(results)
    print_table(f"Last round over {args.draws} draw(s): mean and standard deviation", summary)
    write_json(
        args.json,
        {
            "benchmark": "teach_loop",
            "rounds": args.rounds,
            "draws": args.draws,
            "results": results,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
