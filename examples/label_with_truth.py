"""Play the person who labels: fill each labeling file's `label` column from a truth file (id,entity).

usage: python examples/label_with_truth.py LABELING_FILE [...] TRUTH_CSV > labels.csv
"""

from __future__ import annotations

import csv
import sys


def main(paths: list[str]) -> None:
    *labeling_files, truth_path = paths
    with open(truth_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        truth = {row[0]: row[1] for row in reader}
    writer = None
    for path in labeling_files:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if writer is None:
                    writer = csv.DictWriter(sys.stdout, fieldnames=list(row), lineterminator="\n")
                    writer.writeheader()
                row["label"] = truth[row["id"]]
                writer.writerow(row)


if __name__ == "__main__":
    main(sys.argv[1:])
