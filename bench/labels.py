"""Import and export of a 10 MB label file through the live API: seconds, labels/s, server peak memory.

usage: python bench/labels.py [--megabytes 10]
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Server, catalog_table, client, print_table, wait_run, write_json

COLUMNS = ["id", "first_name", "last_name", "city", "zip"]


def make_data(folder: Path, megabytes: float, seed: int = 1) -> tuple[Path, Path, int]:
    """A record table and a label file of about ``megabytes`` MB over it (sets of 10 records)."""
    rng = random.Random(seed)
    names = ["ann", "bob", "carla", "dmitri", "eve", "farouk", "gita", "hugo", "ines", "jon"]
    data_dir, label_path = folder / "table", folder / "labels.csv"
    data_dir.mkdir()
    target = int(megabytes * 1024 * 1024) - 4096
    rows = 0
    with open(data_dir / "people.csv", "w", newline="") as table, open(label_path, "w", newline="") as labels:
        t, lab = csv.writer(table, lineterminator="\n"), csv.writer(labels, lineterminator="\n")
        t.writerow(COLUMNS)
        lab.writerow(["labeling_set_id", "label", *COLUMNS])
        while labels.tell() < target:
            row = [
                f"{rows:09d}",
                rng.choice(names),
                rng.choice(names) + "son",
                "springfield",
                f"{rng.randint(0, 99999):05d}",
            ]
            t.writerow(row)
            lab.writerow([f"set{rows // 10}", f"L{rng.randint(0, 4)}", *row])
            rows += 1
    return data_dir, label_path, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=9.9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data_dir, label_path, count = make_data(root, args.megabytes)
        size_mb = label_path.stat().st_size / 1024 / 1024
        server = Server(root / "data", allow=[root])
        try:
            glue = client(server.url)
            catalog_table(glue, "people", str(data_dir), COLUMNS)
            tid = glue.create_ml_transform(
                Name="bench",
                Role="arn:aws:iam::000000000000:role/x",
                InputRecordTables=[{"DatabaseName": "bench", "TableName": "people"}],
                Parameters={
                    "TransformType": "FIND_MATCHES",
                    "FindMatchesParameters": {"PrimaryKeyColumnName": "id"},
                },
            )["TransformId"]
            baseline = server.rss_mib()
            results = []
            for name, replace in (("import (replace all)", True), ("import again (merge)", False)):
                started = time.perf_counter()
                run_id = glue.start_import_labels_task_run(
                    TransformId=tid, InputS3Path=str(label_path), ReplaceAllLabels=replace
                )["TaskRunId"]
                run = wait_run(glue, tid, run_id)
                seconds = time.perf_counter() - started
                assert run["Status"] == "SUCCEEDED", run
                results.append(
                    {
                        "step": name,
                        "labels": count,
                        "file_mb": round(size_mb, 2),
                        "seconds": seconds,
                        "labels_per_s": count / seconds,
                        "server_peak_mib": server.rss_mib("VmHWM"),
                    }
                )
            assert glue.get_ml_transform(TransformId=tid)["LabelCount"] == count
            started = time.perf_counter()
            run_id = glue.start_export_labels_task_run(TransformId=tid, OutputS3Path=str(root / "export"))[
                "TaskRunId"
            ]
            assert wait_run(glue, tid, run_id)["Status"] == "SUCCEEDED"
            seconds = time.perf_counter() - started
            (exported,) = (root / "export").glob("*.csv")
            results.append(
                {
                    "step": "export",
                    "labels": count,
                    "file_mb": round(exported.stat().st_size / 1024 / 1024, 2),
                    "seconds": seconds,
                    "labels_per_s": count / seconds,
                    "server_peak_mib": server.rss_mib("VmHWM"),
                }
            )
        finally:
            server.stop()
    print_table(
        f"Label import/export through the API (local files; server baseline RSS {baseline:.0f} MiB)", results
    )
    write_json("labels.json", {"benchmark": "labels", "baseline_rss_mib": baseline, "results": results})


if __name__ == "__main__":
    main()
