"""A peer on the engine bench's data sets: dedupe, taught by active learning whose questions the truth answers.

Issue 15 compares findmatches with peers on held-out real sets (dedupe with 100 or 300 answered pair
questions). This runs the same peer on `bench/engine_quality.py`'s sets, so that our generators can be read
from the peer's side too, and findmatches' figures set beside a peer's on data anyone can make. dedupe is set
up as its documentation advises a new user, with one rule for every set (`dedupe_fields`): a latitude and a
longitude column one ``LatLong``, amounts of money a ``Price``, a column of few distinct values (at most
`CATEGORIES`) an ``Exact``, one of long values (on average more than `TEXT_CHARS` characters) a ``Text``
whose corpus is the column, any other a ``String``, each with missing values allowed. A set whose records
one column splits into two sources (`source_column`) is linked one to one by ``RecordLink``, as dedupe's
documentation advises for two sources. ``prepare_training`` samples `SAMPLE` records (ten times dedupe's
default, for more pairs to ask from); each question is the pair dedupe is least sure of, answered from the
truth (`ask`), until ``--questions`` are answered; then ``train`` and ``partition`` (or ``join``) at 0.5.
Records dedupe leaves out of every cluster count as singletons. Pairwise and B-cubed precision, recall and F1,
per set and seed, with the mean and the lowest F1; JSON beside, saved after each run.

Needs dedupe (``pip install -e '.[peers]'``; not in ``make install``, whose test suite does not use it).

usage: python bench/peers.py [--datasets affiliations orgs ...] [--seeds 0 1] [--questions 300] [--out F]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import random
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import machine
from bench.engine_quality import LOADERS, Dataset
from findmatches.engine.metrics import clustering_scores

RESULTS = Path(__file__).resolve().parent / "results" / "peers.json"
# A column whose values average more characters than this is free text: dedupe's ``Text`` (cosine over its
# words, weighted by the column's corpus) rather than ``String`` (affine gap distance).
TEXT_CHARS = 60
# A column of at most this many distinct values is a category: dedupe's ``Exact``.
CATEGORIES = 20
# Records sampled for active learning, at most ten per record of the set.
SAMPLE = 15_000
# Currency signs and codes that an amount of money may be written with ("$610", "USD 19.33", "19.33 EUR").
SIGNS = "$€£¥"
CODE = re.compile(r"^[A-Z]{3}\s*|\s*[A-Z]{3}$")
# The key each record dict carries for the oracle; not a variable, so dedupe does not compare it.
KEY = "__key"


def amount(text: str | None) -> float | None:
    """A positive number written with or without a currency sign or code and thousands separators, else None."""
    if text is None:
        return None
    try:
        value = float(CODE.sub("", text.strip()).lstrip(SIGNS).replace(",", "").strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _amounts(values: list[Any]) -> bool:
    """Whether a column holds amounts of money: every value a number, and most written with cents or a
    currency sign (postcodes, years and ids are numbers too, written without)."""
    texts = [str(v).strip() for v in values if str(v).strip()]
    money = sum(1 for t in texts if "." in t or t[:1] in SIGNS or CODE.search(t))
    return bool(texts) and all(amount(t) is not None for t in texts) and 2 * money >= len(texts)


def _point(lat: Any, lon: Any) -> tuple[float, float] | None:
    """(latitude, longitude) as numbers; None where either is missing or both are 0 (a geocoder's "not found")."""
    try:
        point = (float(lat), float(lon))
    except (TypeError, ValueError):
        return None
    return None if point == (0.0, 0.0) else point


def _coordinates(table: pa.Table) -> tuple[str, str] | None:
    """The latitude and longitude columns, where a table has one of each (by name)."""
    lat = [n for n in table.column_names if n.lower().startswith("lat")]
    lon = [n for n in table.column_names if n.lower().startswith(("lon", "lng"))]
    return (lat[0], lon[0]) if len(lat) == 1 and len(lon) == 1 else None


def dedupe_fields(table: pa.Table, primary_key: str) -> list[tuple[str, str]]:
    """(field, dedupe variable type) for each column but the key, as dedupe's documentation advises: a
    latitude and a longitude column one ``LatLong`` field (named ``lat+lon``), a column of amounts of money
    (`_amounts`) a ``Price``, one of few distinct values (`CATEGORIES`) an ``Exact``, one of long values (`TEXT_CHARS`) a
    ``Text``, any other a ``String``."""
    coordinates = _coordinates(table)
    fields = [("+".join(coordinates), "LatLong")] if coordinates else []
    for name in table.column_names:
        if name == primary_key or (coordinates and name in coordinates):
            continue
        column = pc.drop_null(table.column(name))
        if len(column) == 0:
            continue
        if len(pc.unique(column)) <= CATEGORIES:
            kind = "Exact"
        elif _amounts(column.to_pylist()):
            kind = "Price"
        elif float(pc.mean(pc.utf8_length(column)).as_py()) > TEXT_CHARS:
            kind = "Text"
        else:
            kind = "String"
        fields.append((name, kind))
    return fields


def records(
    table: pa.Table, primary_key: str, fields: Sequence[tuple[str, str]] = ()
) -> dict[str, dict[str, Any]]:
    """dedupe's data: each record by its key, its values stripped (None for a missing or blank one), a
    ``Price`` field's as numbers and a ``LatLong`` field's as (latitude, longitude) (None for 0, 0: not
    found), the key itself under `KEY`."""
    columns = {name: table.column(name).to_pylist() for name in table.column_names}
    kinds = dict(fields)
    out: dict[str, dict[str, Any]] = {}
    for i, key in enumerate(columns[primary_key]):
        row: dict[str, Any] = {}
        for name, values in columns.items():
            value = values[i]
            text = None if value is None else str(value).strip()
            row[name] = (amount(text) if kinds.get(name) == "Price" else text) or None
        for name, kind in fields:
            if kind == "LatLong":
                row[name] = _point(*(columns[c][i] for c in name.split("+")))
        row[KEY] = str(key)
        out[str(key)] = row
    return out


def ask(
    pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]], truth: dict[str, str]
) -> dict[str, list[Any]]:
    """The answers to dedupe's questions, from the truth: each pair under ``match`` or ``distinct``."""
    answers: dict[str, list[Any]] = {"match": [], "distinct": []}
    for a, b in pairs:
        same = truth[a[KEY]] == truth[b[KEY]]
        answers["match" if same else "distinct"].append((a, b))
    return answers


def cluster_ids(clusters: Iterable[tuple[Sequence[str], Any]], keys: list[str]) -> np.ndarray:
    """Each key's cluster number, in ``keys`` order; a record in no cluster is one of its own."""
    found: dict[str, int] = {}
    next_id = 0
    for members, _ in clusters:
        for key in members:
            found[str(key)] = next_id
        next_id += 1
    out = np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        if key in found:
            out[i] = found[key]
        else:
            out[i] = next_id
            next_id += 1
    return out


def source_column(table: pa.Table, primary_key: str) -> str | None:
    """The one column that splits the records into two sources (two distinct values, none missing), where
    there is one: dedupe's documentation links two sources with ``RecordLink``, not ``Dedupe``."""
    found = [
        name
        for name in table.column_names
        if name != primary_key
        and table.column(name).null_count == 0
        and len(pc.unique(table.column(name))) == 2
    ]
    return found[0] if len(found) == 1 else None


def run_dedupe(data: Dataset, questions: int, seed: int, threshold: float = 0.5) -> dict[str, Any]:
    """Teach dedupe ``questions`` answered pairs on ``data`` and partition it (or link its two sources one to
    one, where `source_column` finds them); the scores and timings."""
    import dedupe
    from dedupe import variables as kinds

    random.seed(seed)
    np.random.seed(seed)
    start = time.perf_counter()
    source = source_column(data.table, data.primary_key)
    fields = [f for f in dedupe_fields(data.table, data.primary_key) if f[0] != source]
    rows = records(data.table, data.primary_key, fields)
    variables = [
        getattr(kinds, kind)(
            name,
            has_missing=True,
            **({"corpus": [text for r in rows.values() if (text := r[name])]} if kind == "Text" else {}),
        )
        for name, kind in fields
    ]
    sample = min(SAMPLE, 10 * len(rows))
    halves: tuple[dict[str, Any], dict[str, Any]] | None = None
    learner: Any
    if source is not None:
        first = data.table.column(source)[0].as_py()
        halves = (
            {k: r for k, r in rows.items() if r[source] == first},
            {k: r for k, r in rows.items() if r[source] != first},
        )
        learner = dedupe.RecordLink(variables, num_cores=1)
        learner.prepare_training(*halves, sample_size=sample)
    else:
        learner = dedupe.Dedupe(variables, num_cores=1)
        learner.prepare_training(rows, sample_size=sample)
    asked = matches = 0
    while asked < questions:
        pairs = learner.uncertain_pairs()
        if not pairs:
            break
        answers = ask(pairs, data.truth)
        learner.mark_pairs(answers)
        asked += len(pairs)
        matches += len(answers["match"])
    taught = time.perf_counter()
    learner.train()
    trained = time.perf_counter()
    if halves is not None:
        clusters = list(learner.join(*halves, threshold=threshold, constraint="one-to-one"))
    else:
        clusters = learner.partition(rows, threshold=threshold)
    done = time.perf_counter()
    keys = list(rows)
    scores = clustering_scores(cluster_ids(clusters, keys), np.array([data.truth[k] for k in keys]))
    return {
        "dataset": data.name,
        "peer": f"dedupe {importlib.metadata.version('dedupe')}",
        "mode": f"RecordLink by {source}" if source is not None else "Dedupe",
        "seed": seed,
        "records": len(rows),
        "questions": asked,
        "matches_answered": matches,
        "fields": [f"{name}:{kind}" for name, kind in fields],
        **{k: round(float(v), 4) for k, v in scores.items()},
        "label_s": round(taught - start, 1),
        "train_s": round(trained - taught, 1),
        "partition_s": round(done - trained, 1),
    }


def save(path: Path, questions: int, rows: list[dict[str, Any]]) -> None:
    """The rows so far (after each run: a set of many seeds takes an hour)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"machine": machine(), "questions": questions, "results": rows}, indent=2) + "\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="*", default=["affiliations", "orgs", "citations"])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument(
        "--questions", type=int, default=300, help="pair questions answered (issue 15: 100 or 300)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        data = LOADERS[name]()
        for seed in args.seeds:
            row = run_dedupe(data, args.questions, seed)
            rows.append(row)
            save(args.out, args.questions, rows)
            print(
                f"{name:<24} seed={seed:<3} questions={row['questions']:<4} matches={row['matches_answered']:<4} "
                f"P={row['pairwise_precision']:.4f} "
                f"R={row['pairwise_recall']:.4f} F1={row['pairwise_f1']:.4f} B3F1={row['bcubed_f1']:.4f} "
                f"time={row['label_s'] + row['train_s'] + row['partition_s']:.0f}s",
                flush=True,
            )
    print(
        f"\n{'dataset':<24}{'P':>8}{'R':>8}{'F1':>8}{'min F1':>8}{'B3-P':>8}{'B3-R':>8}{'B3-F1':>8}{'seeds':>6}"
    )
    for name in dict.fromkeys(str(r["dataset"]) for r in rows):
        mine = [r for r in rows if r["dataset"] == name]

        def mean(key: str, group: list[dict[str, Any]] = mine) -> float:
            return float(np.mean([float(r[key]) for r in group]))

        print(
            f"{name:<24}{mean('pairwise_precision'):>8.4f}{mean('pairwise_recall'):>8.4f}{mean('pairwise_f1'):>8.4f}"
            f"{min(float(r['pairwise_f1']) for r in mine):>8.4f}{mean('bcubed_precision'):>8.4f}"
            f"{mean('bcubed_recall'):>8.4f}{mean('bcubed_f1'):>8.4f}{len(mine):>6}"
        )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
