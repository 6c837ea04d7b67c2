"""`bench/engine_quality.py --engine-at`: another revision's loop and engine, on this tree's data sets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

import findmatches
from bench.engine_quality import Dataset, run_at_revision

ROOT = Path(findmatches.__file__).resolve().parent.parent


def _worktrees() -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in listed.stdout.splitlines() if line.startswith("worktree ")]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_the_loop_runs_on_a_worktree_of_the_revision_and_leaves_none_behind() -> None:
    names = ["anna smith", "bert jones", "carl brown", "dora white", "emil green"]
    cities = ["york", "leeds", "bath", "hull", "ely"]
    rows = [(f"{i}", names[i % 5] + ("" if i % 2 else "e"), cities[i % 5], f"{i // 10}") for i in range(60)]
    table = pa.table(
        {
            "id": [r[0] for r in rows],
            "name": [f"{r[1]} {r[3]}" for r in rows],
            "city": [r[2] for r in rows],
        }
    )
    data = Dataset("toy", table, "id", {r[0]: f"{r[1].rstrip('e')}-{r[3]}" for r in rows})
    before = _worktrees()

    found = run_at_revision("HEAD", [data], rounds=1, per_round=20, seeds=[0, 1])

    assert [(row["dataset"], row["seed"]) for row in found] == [("toy", 0), ("toy", 1)]
    for row in found:
        assert 0.0 <= float(str(row["pairwise_f1"])) <= 1.0
        engine = Path(str(row["engine"]))
        assert engine.name == "findmatches" and engine.parent != ROOT  # the worktree's engine, not this one's
    assert _worktrees() == before
