"""Blocking: the candidate pairs worth comparing, from several keys on the profiled columns.

Every key yields rows (key, _rid, sort value); within one key value the rows are ordered by the sort value
and each row is paired with the next ``window`` rows (a sorted neighbourhood inside the block), so a skewed
key costs at most ``window`` pairs per row instead of exploding. Token keys drop blocks larger than their
cap (frequent tokens tell little). Keys are chosen to cover the labelled matches first, then in order of
preference while the pair budget (scaled by AccuracyCostTradeoff) lasts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from findmatches.engine.profile import ColumnKind
from findmatches.engine.session import NORM, Session

CANDIDATES = "fm_candidates"


@dataclass(frozen=True)
class BlockingKey:
    """One way of grouping records: SQL yielding (key, _rid, sortv) over the normalised table."""

    name: str
    rows_sql: str
    window: int
    max_block: int | None = None


@dataclass(frozen=True)
class BlockingResult:
    """The chosen keys, the candidate count and the recall on labelled matches (None without labels)."""

    keys: list[str]
    num_candidates: int
    labelled_recall: float | None


def _soundex(expr: str) -> str:
    first = f"split_part({expr}, ' ', 1)"
    body = f"translate(regexp_replace(substr({first}, 2), '[^a-z]|[aeiouyhw]', '', 'g'), 'bfpvcgjkqsxzdtlmnr', '111122222222334556')"
    for digit in "123456":
        body = f"regexp_replace({body}, '{digit}+', '{digit}', 'g')"
    return f"left({first}, 1) || left({body}, 3)"


def blocking_keys(session: Session) -> list[BlockingKey]:
    """The default keys for the profiled columns, most useful first."""
    act = float(session.params.accuracy_cost_tradeoff)
    window = max(2, round(3 + 12 * act))
    token_cap = max(5, round(10 + 60 * act))
    profiles = sorted(session.feature_profiles, key=lambda p: -p.information)
    keys: list[BlockingKey] = []

    def rows(key: str, sort: str = "_sig", where: str | None = None) -> str:
        cond = where or f"{key} IS NOT NULL"
        return f"SELECT {key} AS key, _rid, {sort} AS sortv FROM {NORM} WHERE {cond}"

    for p in profiles:
        a = p.alias
        if p.kind == ColumnKind.CATEGORY or p.information < 0.05:
            continue
        keys.append(BlockingKey(f"exact:{p.name}", rows(a), window))
    wordy = [p for p in profiles if p.kind in (ColumnKind.NAME, ColumnKind.TEXT)]
    if wordy:
        lists = ", ".join(f"string_split(coalesce({p.alias}, ''), ' ')" for p in wordy)
        tokens = (
            f"SELECT key, _rid, sortv FROM (SELECT unnest(list_distinct(flatten([{lists}]))) AS key, _rid, "
            f"_sig AS sortv FROM {NORM}) WHERE length(key) >= 2"
        )
        keys.append(BlockingKey("tokens", tokens, token_cap, max_block=token_cap))
    for p in profiles[:4]:
        a = p.alias
        if p.kind == ColumnKind.CATEGORY:
            continue
        keys.append(BlockingKey(f"sorted:{p.name}", rows("0", a, f"{a} IS NOT NULL"), window))
        keys.append(
            BlockingKey(f"sorted-reverse:{p.name}", rows("0", f"reverse({a})", f"{a} IS NOT NULL"), window)
        )
    for p in profiles:
        a = p.alias
        if p.kind == ColumnKind.NAME:
            keys.append(
                BlockingKey(f"phonetic:{p.name}", rows(_soundex(a), "_sig", f"{a} IS NOT NULL"), window)
            )
        if p.kind in (ColumnKind.NAME, ColumnKind.TEXT, ColumnKind.CODE) and p.avg_length >= 6:
            keys.append(BlockingKey(f"prefix:{p.name}", rows(f"left({a}, 4)", "_sig"), window))
    keys.append(BlockingKey("sorted:record", rows("0", "_sig", "TRUE"), window))
    return keys


def _pairs_sql(key: BlockingKey) -> str:
    cap = f"AND cnt <= {int(key.max_block)}" if key.max_block else ""
    return (
        f"WITH k AS ({key.rows_sql}), "
        f"s AS (SELECT key, _rid, row_number() OVER (PARTITION BY key ORDER BY sortv, _rid) AS rn, "
        f"count(*) OVER (PARTITION BY key) AS cnt FROM k), "
        f"e AS (SELECT * FROM s WHERE cnt > 1 {cap}), "
        f"o AS (SELECT key, _rid, rn + unnest(range(1, least({int(key.window)}, cnt - rn) + 1)) AS rn2 FROM e) "
        f"SELECT DISTINCT least(o._rid, e._rid) AS l, greatest(o._rid, e._rid) AS r "
        f"FROM o JOIN e ON o.key = e.key AND o.rn2 = e.rn"
    )


def pair_budget(session: Session) -> int:
    """How many candidate pairs the keys may produce in all (summed over keys)."""
    act = float(session.params.accuracy_cost_tradeoff)
    return int(max(300_000 * (0.5 + act), session.num_records * (4 + 24 * act)))


def _covered(table: str, session: Session) -> np.ndarray:
    """Boolean mask over the labelled match pairs: which ones ``table`` contains."""
    left, _ = session.match_pairs
    if len(left) == 0:
        return np.zeros(0, dtype=bool)
    got = session.backend.query(
        f"SELECT m.i FROM fm_label_matches m SEMI JOIN {table} t ON t.l = m.l AND t.r = m.r"
    ).column("i")
    mask = np.zeros(len(left), dtype=bool)
    mask[got.to_numpy()] = True
    return mask


def build_candidates(session: Session) -> BlockingResult:
    """Create the candidate-pair table ``fm_candidates(l, r)`` with l < r and log blocking recall."""
    be = session.backend
    left, right = session.match_pairs
    be.execute("CREATE OR REPLACE TABLE fm_label_matches (i BIGINT, l BIGINT, r BIGINT)")
    if len(left):
        be.register(
            "fm_label_matches",
            pa.table({"i": np.arange(len(left), dtype=np.int64), "l": left, "r": right}),
        )
    keys = blocking_keys(session)
    counts: dict[int, int] = {}
    covers: dict[int, np.ndarray] = {}
    for i, key in enumerate(keys):
        session.check()
        be.execute(f"CREATE OR REPLACE TABLE fm_key_{i} AS {_pairs_sql(key)}")
        counts[i] = int(be.query(f"SELECT count(*) AS n FROM fm_key_{i}").column("n")[0].as_py())
        covers[i] = _covered(f"fm_key_{i}", session)
    budget = pair_budget(session)
    chosen: list[int] = []
    used = 0
    covered = np.zeros(len(left), dtype=bool)
    # First cover the labelled matches (greedy by new matches per pair), then add keys by preference.
    while len(left):
        gains = {i: int((covers[i] & ~covered).sum()) for i in counts if i not in chosen}
        best = max(gains, key=lambda i: (gains[i] / max(1, counts[i]), -i), default=None)
        if best is None or gains[best] == 0 or (chosen and used + counts[best] > 2 * budget):
            break
        chosen.append(best)
        used += counts[best]
        covered |= covers[best]
    for i in range(len(keys)):
        if i not in chosen and (not chosen or used + counts[i] <= budget):
            chosen.append(i)
            used += counts[i]
    chosen.sort()
    union = " UNION ALL ".join(f"SELECT l, r FROM fm_key_{i}" for i in chosen)
    be.execute(f"CREATE OR REPLACE TABLE {CANDIDATES} AS SELECT DISTINCT l, r FROM ({union})")
    for i in range(len(keys)):
        be.execute(f"DROP TABLE IF EXISTS fm_key_{i}")
    total = int(be.query(f"SELECT count(*) AS n FROM {CANDIDATES}").column("n")[0].as_py())
    recall: float | None = None
    if len(left):
        recall = float(_covered(CANDIDATES, session).mean())
    names = [keys[i].name for i in chosen]
    session.log(
        f"Blocking: {total} candidate pairs from {len(names)} keys ({', '.join(names)})"
        + (f"; blocking recall on {len(left)} labelled matches: {recall:.3f}" if recall is not None else "")
    )
    return BlockingResult(names, total, recall)
