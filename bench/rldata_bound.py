"""How high pairwise F1 can go on RLdata10000 with a given kind of evidence: an upper bound, from the truth.

Every pair of records that shares a first name, a last name or a whole birth date (a superset of what any of
our blocking keys pairs up; all 1,000 true pairs are in it) gets a discrete signature: per field, equal, close
(names: Jaro-Winkler ≥ 0.85; birth year, month, day: one digit apart), different, or missing; optionally with
how common the names are (log2 of the count of records with that first name, and with that last name; of the
pair's sum of those; of how many records share the whole name). The best any classifier can do that sees only
the signature is to call each signature by its majority, using the truth: its pairwise precision, recall and
F1 bound a model taught on that evidence. Fitted to all the pairs it scores ("fitted"), the bound flatters the
richer signatures, whose rare cells it memorises; "cross-fitted" calls each half of the pairs (split by a hash
of the pair) by the majorities of the other half, as a model that had every true label of half the data would
(a signature the other half lacks: the majority of its field levels alone there, else non-match).

A second table asks the same of the engine's own evidence: its candidate pairs (blocking with no labels) and
its feature matrix, learned by a random forest (interactions allowed, unlike the engine's additive members)
from every true label of one half of the records and scored on the other half (pairs split by the left
record), at the threshold that suits the truth best. That is the engine's features with about 500 labelled
matches and 86,000 labelled non-matches instead of a teach loop's 70 and 1,300. Prints both tables and writes
JSON.

usage: python bench/rldata_bound.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import precision_recall_curve

from bench.common import print_table, write_json
from bench.engine_quality import Dataset, _rldata
from findmatches.engine.blocking import CANDIDATES, build_candidates
from findmatches.engine.features import feature_spec, iter_features
from findmatches.engine.session import LABEL_COLUMNS, open_session
from findmatches.engine.types import MatchParams, RecordSource

NAMES = ("fname_c1", "lname_c1", "fname_c2", "lname_c2")
NUMBERS = ("by", "bm", "bd")


def _level(column: str, name: bool) -> str:
    a, b = f"a.{column}", f"b.{column}"
    close = (
        f"jaro_winkler_similarity({a}, {b}) >= 0.85"
        if name
        else f"levenshtein(lpad({a}, 4, '0'), lpad({b}, 4, '0')) = 1"
    )
    return (
        f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN 'missing' WHEN {a} = {b} THEN 'equal' "
        f"WHEN {close} THEN 'close' ELSE 'different' END"
    )


LEVELS = [_level(c, True) for c in NAMES] + [_level(c, False) for c in NUMBERS]
FIRST = "CAST(log2(least(a.n_first, b.n_first)) AS INTEGER)"
LAST = "CAST(log2(least(a.n_last, b.n_last)) AS INTEGER)"
BOTH = "CAST(log2(least(a.n_first, b.n_first)) + log2(least(a.n_last, b.n_last)) AS INTEGER)"
WHOLE = "least(a.n_whole, b.n_whole)"
EVIDENCE = {
    "field levels": LEVELS,
    "field levels + name frequency": [*LEVELS, FIRST, LAST],
    "field levels + summed name frequency + whole-name count": [*LEVELS, BOTH, WHOLE],
}


def bound(
    con: duckdb.DuckDBPyConnection, signature: list[str], cross: bool, true_pairs: int
) -> dict[str, float]:
    cols = ", ".join(f"{expr} AS s{i}" for i, expr in enumerate(signature))
    keys = ", ".join(f"s{i}" for i in range(len(signature)))
    # The fold is a hash of the pair; cross-fitted, each fold's pairs take the other fold's majorities.
    fold = "hash(a.record_id, b.record_id) % 2" if cross else "0"
    other = "1 - p.fold" if cross else "p.fold"
    base = len(LEVELS)  # unseen signatures back off to the field levels alone
    match_all = " AND ".join(f"g.s{i} IS NOT DISTINCT FROM p.s{i}" for i in range(len(signature)))
    match_base = " AND ".join(f"h.s{i} IS NOT DISTINCT FROM p.s{i}" for i in range(base))
    base_keys = ", ".join(f"s{i}" for i in range(base))
    tp, fp, fn = con.execute(
        f"""WITH p AS (SELECT {cols}, CAST(a.e = b.e AS INTEGER) AS y, {fold} AS fold FROM people a
              JOIN people b ON a.record_id < b.record_id AND (a.fname_c1 = b.fname_c1
              OR a.lname_c1 = b.lname_c1 OR (a.by = b.by AND a.bm = b.bm AND a.bd = b.bd))),
            g AS (SELECT {keys}, fold, sum(y) AS m, count(*) - sum(y) AS u FROM p GROUP BY ALL),
            h AS (SELECT {base_keys}, fold, sum(y) AS m, count(*) - sum(y) AS u FROM p GROUP BY ALL),
            called AS (SELECT p.y, coalesce(g.m > g.u, h.m > h.u, false) AS link FROM p
              LEFT JOIN g ON g.fold = {other} AND {match_all}
              LEFT JOIN h ON h.fold = {other} AND {match_base})
            SELECT count(*) FILTER (WHERE link AND y = 1), count(*) FILTER (WHERE link AND y = 0),
                   count(*) FILTER (WHERE NOT link AND y = 1) FROM called"""
    ).fetchall()[0]
    return {
        "true_pairs": true_pairs,
        "missed_by_pairing": true_pairs - int(tp) - int(fn),
        "precision": tp / (tp + fp),
        "recall": tp / true_pairs,
        "f1": 2 * tp / (tp + fp + true_pairs),
    }


def learned_bound(data: Dataset, true_pairs: int) -> dict[str, float | str]:
    """Best pairwise precision, recall and F1 of a forest taught the truth of half the engine's candidates."""
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    with open_session(
        RecordSource(table=data.table), MatchParams(primary_key="record_id"), labels, None, None
    ) as s:
        spec = feature_spec(s.feature_profiles)
        build_candidates(s)
        parts = list(iter_features(s, spec, f"SELECT l, r FROM {CANDIDATES}"))
    left = np.concatenate([p[0] for p in parts])
    right = np.concatenate([p[1] for p in parts])
    x = np.nan_to_num(np.concatenate([p[2] for p in parts]), nan=-1.0)
    entity = np.asarray([data.truth[pk] for pk in data.table.column("record_id").to_pylist()])
    y = (entity[left] == entity[right]).astype(np.int64)
    fold = left % 2
    prob = np.zeros(len(y))
    for k in (0, 1):
        forest = RandomForestClassifier(300, min_samples_leaf=3, n_jobs=-1, random_state=0)
        forest.fit(x[fold == k], y[fold == k])
        prob[fold != k] = forest.predict_proba(x[fold != k])[:, 1]
    precision, recall, _ = precision_recall_curve(y, prob)
    # precision_recall_curve's recall is over the candidates' true pairs; the bound's is over all of them.
    recall = recall * int(y.sum()) / true_pairs
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1))
    return {
        "evidence": "the engine's features, forest taught half the truth",
        "fit": "cross-fitted",
        "true_pairs": true_pairs,
        "missed_by_pairing": true_pairs - int(y.sum()),
        "precision": float(precision[best]),
        "recall": float(recall[best]),
        "f1": float(f1[best]),
    }


def main() -> None:
    data = _rldata()
    con = duckdb.connect()
    con.register("records", data.table)
    con.register("truth", pa.table({"record_id": list(data.truth), "e": list(data.truth.values())}))
    con.execute(
        "CREATE TABLE people AS SELECT r.*, t.e, count(*) OVER (PARTITION BY r.fname_c1) AS n_first, "
        "count(*) OVER (PARTITION BY r.lname_c1) AS n_last, "
        "count(*) OVER (PARTITION BY r.fname_c1, r.lname_c1) AS n_whole FROM records r JOIN truth t USING (record_id)"
    )
    total = con.execute(
        "SELECT count(*) FROM people a JOIN people b ON a.e = b.e AND a.record_id < b.record_id"
    )
    true_pairs = int(total.fetchall()[0][0])
    rows: list[dict[str, float | str]] = [
        {
            "evidence": name,
            "fit": "cross-fitted" if cross else "fitted",
            **bound(con, signature, cross, true_pairs),
        }
        for name, signature in EVIDENCE.items()
        for cross in (False, True)
    ]
    print_table("Best pairwise F1 on RLdata10000 from each kind of evidence (majority per signature)", rows)
    learned = learned_bound(data, true_pairs)
    print_table("Best pairwise F1 from the engine's features with half the truth as labels", [learned])
    rows.append(learned)
    write_json(
        "rldata_bound.json",
        {"benchmark": "rldata_bound", "command": "python bench/rldata_bound.py", "results": rows},
    )


if __name__ == "__main__":
    main()
