"""How high pairwise F1 can go on RLdata10000 with a given kind of evidence: an upper bound, from the truth.

Every pair of records that shares a first name, a last name or a whole birth date (a superset of what any of
our blocking keys pairs up; all 1,000 true pairs are in it) gets a discrete signature: per field, equal, close
(names: Jaro-Winkler ≥ 0.85; birth year, month, day: one digit apart), different, or missing; optionally with
how common the names are (log2 of the count of records with that first name, and with that last name). The
best any classifier can do that sees only the signature is to call each signature by its majority, using the
truth: its pairwise precision, recall and F1 are an upper bound for a model taught on that evidence (an
optimistic one, as it is fitted to all the data it is scored on). Prints a table and writes JSON.

usage: python bench/rldata_bound.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_json
from bench.engine_quality import _rldata

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


EVIDENCE = {
    "field levels": [_level(c, True) for c in NAMES] + [_level(c, False) for c in NUMBERS],
    "field levels + name frequency": [_level(c, True) for c in NAMES]
    + [_level(c, False) for c in NUMBERS]
    + [
        "CAST(log2(least(a.n_first, b.n_first)) AS INTEGER)",
        "CAST(log2(least(a.n_last, b.n_last)) AS INTEGER)",
    ],
}


def bound(con: duckdb.DuckDBPyConnection, signature: list[str]) -> dict[str, float]:
    cols = ", ".join(f"{expr} AS s{i}" for i, expr in enumerate(signature))
    keys = ", ".join(f"s{i}" for i in range(len(signature)))
    tp, fp, fn = con.execute(
        f"""WITH p AS (SELECT {cols}, CAST(a.e = b.e AS INTEGER) AS y FROM people a JOIN people b
              ON a.record_id < b.record_id AND (a.fname_c1 = b.fname_c1 OR a.lname_c1 = b.lname_c1
              OR (a.by = b.by AND a.bm = b.bm AND a.bd = b.bd))),
            g AS (SELECT sum(y) AS m, count(*) - sum(y) AS u FROM p GROUP BY {keys})
            SELECT sum(CASE WHEN m > u THEN m ELSE 0 END), sum(CASE WHEN m > u THEN u ELSE 0 END),
                   sum(CASE WHEN m > u THEN 0 ELSE m END) FROM g"""
    ).fetchall()[0]
    total = con.execute(
        "SELECT count(*) FROM people a JOIN people b ON a.e = b.e AND a.record_id < b.record_id"
    )
    true_pairs = int(total.fetchall()[0][0])
    return {
        "true_pairs": true_pairs,
        "missed_by_pairing": true_pairs - int(tp) - int(fn),
        "precision": tp / (tp + fp),
        "recall": tp / true_pairs,
        "f1": 2 * tp / (tp + fp + true_pairs),
    }


def main() -> None:
    data = _rldata()
    con = duckdb.connect()
    con.register("records", data.table)
    con.register("truth", pa.table({"record_id": list(data.truth), "e": list(data.truth.values())}))
    con.execute(
        "CREATE TABLE people AS SELECT r.*, t.e, count(*) OVER (PARTITION BY r.fname_c1) AS n_first, "
        "count(*) OVER (PARTITION BY r.lname_c1) AS n_last FROM records r JOIN truth t USING (record_id)"
    )
    rows = [{"evidence": name, **bound(con, signature)} for name, signature in EVIDENCE.items()]
    print_table("Best pairwise F1 on RLdata10000 from each kind of evidence (majority per signature)", rows)
    write_json(
        "rldata_bound.json",
        {"benchmark": "rldata_bound", "command": "python bench/rldata_bound.py", "results": rows},
    )


if __name__ == "__main__":
    main()
