"""The walkthrough's sample data set is the project's own: exactly what ``findmatches.sample`` generates."""

from __future__ import annotations

from pathlib import Path

from findmatches import sample

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_shipped_sample_is_generated_by_the_project() -> None:
    rows = sample.generate()
    assert (EXAMPLES / "people" / "people.csv").read_text(encoding="utf-8") == sample.to_csv(
        rows, sample.COLUMNS
    )
    assert (EXAMPLES / "people_truth.csv").read_text(encoding="utf-8") == sample.to_csv(
        rows, ["id", "entity"]
    )
