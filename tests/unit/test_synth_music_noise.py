"""`bench/synth_music.py`'s ``noise``: how much duplicate submissions of one disc differ."""

from __future__ import annotations

import collections

import pyarrow as pa

from bench.synth_music import generate_table


def _differing_entities(table: pa.Table) -> tuple[int, int]:
    """Entities of two or more records whose records are not all the same, and entities of two or more."""
    columns = [c for c in table.column_names if c not in ("id", "entity_id")]
    records: dict[str, list[tuple[object, ...]]] = collections.defaultdict(list)
    for row in table.to_pylist():
        records[row["entity_id"]].append(tuple(row[c] for c in columns))
    repeated = [r for r in records.values() if len(r) > 1]
    return sum(1 for r in repeated if len(set(r)) > 1), len(repeated)


def test_no_noise_makes_every_submission_of_a_disc_the_same() -> None:
    differing, repeated = _differing_entities(generate_table(3000, seed=2, noise=0.0))
    assert repeated > 20 and differing == 0


def test_less_noise_makes_fewer_submissions_differ_and_full_noise_is_the_default() -> None:
    full = generate_table(3000, seed=2)
    assert generate_table(3000, seed=2, noise=1.0).equals(full)
    quiet, repeated = _differing_entities(generate_table(3000, seed=2, noise=0.3))
    loud, repeated_full = _differing_entities(full)
    assert repeated == repeated_full  # the same discs are submitted as often
    assert 0 < quiet < loud
