"""The API teach loop's summary over draws: each data set's last round, mean and spread."""

from __future__ import annotations

from typing import Any

import pytest

from bench.teach_loop import SCORES, spread


def row(dataset: str, draw: int, rnd: int, f1: float | None) -> dict[str, Any]:
    scores = {key: None if f1 is None else f1 + 0.01 * i for i, key in enumerate(SCORES)}
    return {"dataset": dataset, "draw": draw, "round": rnd, **scores, "f1": f1}


def test_the_last_round_of_each_draw_is_summarised() -> None:
    rows = [
        row("music", 0, 1, 0.1),
        row("music", 0, 2, 0.8),
        row("music", 1, 1, 0.2),
        row("music", 1, 2, 0.6),
        row("orgs", 0, 1, 0.9),
    ]
    music, orgs = spread(rows)
    assert music["dataset"] == "music" and music["draws"] == 2
    assert music["f1"] == pytest.approx(0.7)
    assert music["f1_sd"] == pytest.approx(0.1414, abs=1e-4)
    assert music["min_f1"] == pytest.approx(0.6)
    assert music["precision"] == pytest.approx(0.7)  # precision is the first score: offset 0
    assert music["recall"] == pytest.approx(0.71)
    assert orgs["draws"] == 1 and orgs["f1"] == pytest.approx(0.9) and orgs["f1_sd"] is None


def test_a_draw_that_never_applied_is_not_averaged_in() -> None:
    rows = [row("x", 0, 1, 0.5), row("x", 1, 1, None)]
    (x,) = spread(rows)
    assert x["draws"] == 1 and x["f1"] == pytest.approx(0.5) and x["min_f1"] == pytest.approx(0.5)
