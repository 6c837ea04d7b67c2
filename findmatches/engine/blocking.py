"""Blocking: the candidate pairs worth comparing, from several keys on the profiled columns.

Every key gives each record (at most) one value; within one key value the records are ordered by a sort value
and each is paired with the next ``window`` records (a sorted neighbourhood inside the block), so a skewed key
costs at most ``window`` pairs per record instead of exploding. Besides single columns there are combined keys
(two columns, or a coarse code of one such as a name's soundex or a date's year, with another column), which
keep blocks small where a single column's are large. The token key is the one multi-valued key: records share a
block per word, and blocks larger than its cap are dropped (frequent words tell little).

Nothing is materialised before choosing: each key's pair count is estimated from its block sizes in one
aggregate, and its coverage of the labelled matches from the labelled records' key values. Keys are chosen
greedily by new (then redundant) labelled-match coverage per estimated pair, then cheapest first while the pair
budget (scaled by AccuracyCostTradeoff) lasts. The chosen keys' pairs are then written once each: a key emits
only the pairs that no earlier chosen key emitted (checked from the records' block ids and ranks), so no
global DISTINCT over all candidates is needed and memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from findmatches.engine.profile import ColumnKind, ColumnProfile
from findmatches.engine.session import NORM, Session

CANDIDATES = "fm_candidates"
KEY_ROWS = "fm_key_rows"
BASE = "fm_block_base"
COMBINED_COLUMNS = 6


@dataclass(frozen=True)
class BlockingKey:
    """One way of grouping records: an SQL value per record (NULL: no block) and a sort value inside blocks.

    ``tokens`` marks the multi-valued word key, whose ``expr`` is a list expression."""

    name: str
    expr: str
    sort: str
    window: int
    max_block: int | None = None
    tokens: bool = False
    combined: bool = False


@dataclass(frozen=True)
class BlockingResult:
    """The chosen keys, the candidate count and the recall on labelled matches (None without labels)."""

    keys: list[str]
    num_candidates: int
    labelled_recall: float | None


def _soundex(expr: str) -> str:
    first = f"split_part({expr}, ' ', 1)"
    body = (
        f"translate(regexp_replace(substr({first}, 2), '[^a-z]|[aeiouyhw]', '', 'g'), "
        f"'bfpvcgjkqsxzdtlmnr', '111122222222334556')"
    )
    for digit in "123456":
        body = f"regexp_replace({body}, '{digit}+', '{digit}', 'g')"
    return f"left({first}, 1) || left({body}, 3)"


def _coarse(p: ColumnProfile) -> tuple[str, str] | None:
    """A coarser code of the column for combined keys (name → soundex, date → year), or None."""
    if p.kind == ColumnKind.NAME:
        return "soundex", f"sx_{p.alias}"
    if p.kind == ColumnKind.DATE:
        return "year", f"yr_{p.alias}"
    return None


def _atoms_sql(session: Session) -> str:
    """The blocking base table: the normalised records plus the coarse codes keys are built from. Soundex
    codes are computed once per distinct name (far fewer than records) and joined back."""
    extra, joins = [], []
    for p in session.feature_profiles:
        a = p.alias
        if p.kind == ColumnKind.NAME:
            extra.append(f"sx{p.index}.code AS sx_{a}")
            joins.append(
                f" LEFT JOIN (SELECT v, {_soundex('v')} AS code FROM (SELECT DISTINCT {a} AS v FROM {NORM} "
                f"WHERE {a} IS NOT NULL)) sx{p.index} ON sx{p.index}.v = n.{a}"
            )
        if p.kind == ColumnKind.DATE:
            extra.append(f"CASE WHEN length(n.{a}) = 8 THEN left(n.{a}, 4) END AS yr_{a}")
    values = "".join(f", n.{p.alias}" for p in session.feature_profiles)
    return (
        f"SELECT n._rid{values}, r._sig_rank{''.join(', ' + e for e in extra)} FROM {NORM} n "
        f"JOIN (SELECT _rid, CAST(row_number() OVER (ORDER BY _sig, _rid) AS INTEGER) AS _sig_rank FROM {NORM}) r "
        f"ON r._rid = n._rid{''.join(joins)}"
    )


def _both(x: str, y: str) -> str:
    """A combined key: NULL when either part is missing."""
    return f"CASE WHEN {x} IS NOT NULL AND {y} IS NOT NULL THEN hash({x}, {y}) END"


def blocking_keys(session: Session) -> list[BlockingKey]:
    """The keys worth considering for the profiled columns, most preferred first."""
    act = float(session.params.accuracy_cost_tradeoff)
    window = max(2, round(3 + 12 * act))
    token_cap = max(5, round(10 + 60 * act))
    profiles = sorted(session.feature_profiles, key=lambda p: -p.information)
    keys: list[BlockingKey] = []
    useful = [p for p in profiles if p.kind != ColumnKind.CATEGORY and p.information >= 0.05]
    for p in useful:
        keys.append(BlockingKey(f"exact:{p.name}", p.alias, "_sig_rank", window))
    strong = useful[:COMBINED_COLUMNS]
    for i, p in enumerate(strong):
        for q in strong[i + 1 :]:
            keys.append(
                BlockingKey(
                    f"exact:{p.name}+{q.name}", _both(p.alias, q.alias), "_sig_rank", window, combined=True
                )
            )
            for x, y in ((p, q), (q, p)):
                coarse = _coarse(x)
                if coarse is not None:
                    label, code = coarse
                    name = f"{label}:{x.name}+{y.name}"
                    keys.append(BlockingKey(name, _both(code, y.alias), "_sig_rank", window, combined=True))
    wordy = [p for p in profiles if p.kind in (ColumnKind.NAME, ColumnKind.TEXT)]
    if wordy:
        lists = ", ".join(f"string_split(coalesce({p.alias}, ''), ' ')" for p in wordy)
        expr = f"list_filter(list_distinct(flatten([{lists}])), lambda t: length(t) >= 2)"
        keys.append(BlockingKey("tokens", expr, "_sig_rank", token_cap, max_block=token_cap, tokens=True))
    for p in profiles[:4]:
        if p.kind == ColumnKind.CATEGORY:
            continue
        a = p.alias
        keys.append(BlockingKey(f"sorted:{p.name}", f"CASE WHEN {a} IS NOT NULL THEN '' END", a, window))
        keys.append(
            BlockingKey(
                f"sorted-reverse:{p.name}", f"CASE WHEN {a} IS NOT NULL THEN '' END", f"reverse({a})", window
            )
        )
    for p in profiles:
        a = p.alias
        if p.kind == ColumnKind.NAME:
            keys.append(BlockingKey(f"phonetic:{p.name}", f"sx_{a}", "_sig_rank", window))
        if p.kind in (ColumnKind.NAME, ColumnKind.TEXT, ColumnKind.CODE) and p.avg_length >= 6:
            keys.append(BlockingKey(f"prefix:{p.name}", f"left({a}, 4)", "_sig_rank", window))
    keys.append(BlockingKey("sorted:record", "''", "_sig_rank", window))
    return keys


def _block_pairs(n: str, window: int) -> str:
    """Pairs a sorted-neighbourhood block of ``n`` records yields with this window."""
    w = int(window)
    return f"CASE WHEN {n} <= {w + 1} THEN {n} * ({n} - 1) // 2 ELSE {w} * {n} - {w * (w + 1) // 2} END"


def _estimate_sql(key: BlockingKey) -> str:
    if key.tokens:
        cap = int(key.max_block or 0)
        return (
            f"SELECT coalesce(sum({_block_pairs('n', key.window)}), 0)::BIGINT AS pairs FROM (SELECT count(*) AS n "
            f"FROM (SELECT unnest({key.expr}) AS k FROM {BASE}) GROUP BY k) WHERE n > 1 AND n <= {cap}"
        )
    return (
        f"SELECT coalesce(sum({_block_pairs('n', key.window)}), 0)::BIGINT AS pairs FROM (SELECT count(*) AS n "
        f"FROM {BASE} WHERE ({key.expr}) IS NOT NULL GROUP BY ({key.expr})) WHERE n > 1"
    )


def pair_budget(session: Session) -> int:
    """How many candidate pairs the keys may produce in all (summed over keys)."""
    act = float(session.params.accuracy_cost_tradeoff)
    return int(max(300_000 * (0.5 + act), session.num_records * (4 + 24 * act)))


def _coverage(session: Session, keys: list[BlockingKey]) -> np.ndarray:
    """(keys × labelled matches) booleans: whether both records of the match share a block of the key.

    Sorted-neighbourhood keys (one block for all) count as covering nothing: equality would overstate them."""
    left, right = session.match_pairs
    cover = np.zeros((len(keys), len(left)), dtype=bool)
    if len(left) == 0:
        return cover
    exprs = ", ".join(f"({k.expr}) AS k{i}" for i, k in enumerate(keys))
    rows = session.backend.query(
        f"SELECT _rid, {exprs} FROM {BASE} WHERE _rid IN (SELECT l FROM fm_label_matches "
        f"UNION SELECT r FROM fm_label_matches)"
    )
    rids = rows.column("_rid").to_numpy()
    pos = {int(r): i for i, r in enumerate(rids.tolist())}
    li = np.asarray([pos[int(v)] for v in left.tolist()], dtype=np.int64)
    ri = np.asarray([pos[int(v)] for v in right.tolist()], dtype=np.int64)
    for i, key in enumerate(keys):
        values = rows.column(f"k{i}").to_pylist()
        if key.tokens:
            sets = [set(v or ()) for v in values]
            cover[i] = [bool(sets[a] & sets[b]) for a, b in zip(li.tolist(), ri.tolist(), strict=True)]
        elif not key.name.startswith("sorted"):
            arr = np.asarray(values, dtype=object)
            cover[i] = (arr[li] == arr[ri]) & np.asarray([v is not None for v in arr[li]], dtype=bool)
    return cover


def choose_keys(costs: np.ndarray, cover: np.ndarray, budget: int, combined: list[bool]) -> list[int]:
    """Greedy key choice: new labelled-match coverage per pair (may spend up to twice the budget), then
    redundant coverage per pair, then the cheapest keys while the budget lasts."""
    chosen: list[int] = []
    used = 0
    times = np.zeros(cover.shape[1], dtype=np.int64)
    # Phase 1: cover every coverable labelled match at least once.
    while cover.shape[1]:
        gains = np.asarray(
            [(cover[i] & (times == 0)).sum() if i not in chosen else 0 for i in range(len(costs))]
        )
        ratio = gains / np.maximum(costs, 1)
        best = int(np.argmax(ratio))
        if gains[best] == 0 or (chosen and used + costs[best] > 2 * budget):
            break
        chosen.append(best)
        used += int(costs[best])
        times += cover[best]
    # Phase 2: redundancy (a labelled match covered c times adds 2^-c), within the budget.
    while cover.shape[1]:
        weight = 0.5**times
        gains = np.asarray(
            [
                float(weight[cover[i]].sum()) if i not in chosen and used + costs[i] <= budget else 0.0
                for i in range(len(costs))
            ]
        )
        ratio = gains / np.maximum(costs, 1)
        best = int(np.argmax(ratio))
        if gains[best] < max(0.05, 0.02 * cover.shape[1]):
            break
        chosen.append(best)
        used += int(costs[best])
        times += cover[best]
    # Phase 3: whatever single-column key else fits, cheapest first. Combined keys (taken above only where
    # they cover labelled matches) refine single-column blocks, so their pairs mostly repeat those and do not
    # count against the budget here.
    used = int(sum(int(costs[i]) for i in chosen if not combined[i]))
    for i in sorted(range(len(costs)), key=lambda i: (int(costs[i]), i)):
        if i not in chosen and not combined[i] and (not chosen or used + costs[i] <= budget):
            chosen.append(i)
            used += int(costs[i])
    return chosen


def _key_rows_sql(keys: list[BlockingKey]) -> str:
    """Per record and single-valued key: block id (hash), rank inside the block and block size."""
    if not keys:
        return f"SELECT _rid FROM {BASE}"
    values = ", ".join(
        f"CASE WHEN ({key.expr}) IS NOT NULL THEN hash({key.expr}) END AS k{i}, {key.sort} AS s{i}"
        for i, key in enumerate(keys)
    )
    cols = ", ".join(
        f"k{i}, CAST(row_number() OVER (PARTITION BY k{i} ORDER BY s{i}, _rid) AS INTEGER) AS r{i}, "
        f"CAST(count(*) OVER (PARTITION BY k{i}) AS INTEGER) AS n{i}"
        for i in range(len(keys))
    )
    return f"SELECT _rid, {cols} FROM (SELECT _rid, {values} FROM {BASE})"


def _not_earlier(keys: list[BlockingKey], before: int, a: str, b: str) -> str:
    """SQL condition: no earlier single-valued key (index < ``before``) yields the pair of rows ``a``, ``b``."""
    conds = [
        f"coalesce({a}.k{j} = {b}.k{j} AND abs({a}.r{j} - {b}.r{j}) <= {int(keys[j].window)}, false)"
        for j in range(before)
        if not keys[j].tokens
    ]
    return "NOT (" + " OR ".join(conds) + ")" if conds else "TRUE"


def _single_pairs_sql(keys: list[BlockingKey], i: int) -> str:
    w = int(keys[i].window)
    return (
        f"SELECT least(o._rid, e._rid) AS l, greatest(o._rid, e._rid) AS r FROM "
        f"(SELECT *, r{i} + unnest(range(1, least({w}, n{i} - r{i}) + 1)) AS rn2 FROM {KEY_ROWS} "
        f"WHERE k{i} IS NOT NULL AND n{i} > 1) o "
        f"JOIN {KEY_ROWS} e ON e.k{i} = o.k{i} AND e.r{i} = o.rn2 WHERE {_not_earlier(keys, i, 'o', 'e')}"
    )


def _token_pairs_sql(keys: list[BlockingKey], i: int) -> str:
    key = keys[i]
    w, cap = int(key.window), int(key.max_block or 0)
    return (
        f"WITH k AS (SELECT unnest({key.expr}) AS key, _rid, {key.sort} AS sortv FROM {BASE}), "
        f"s AS (SELECT key, _rid, row_number() OVER (PARTITION BY key ORDER BY sortv, _rid) AS rn, "
        f"count(*) OVER (PARTITION BY key) AS cnt FROM k), "
        f"e AS (SELECT * FROM s WHERE cnt > 1 AND cnt <= {cap}), "
        f"o AS (SELECT key, _rid, rn + unnest(range(1, least({w}, cnt - rn) + 1)) AS rn2 FROM e), "
        f"p AS (SELECT DISTINCT least(o._rid, e._rid) AS l, greatest(o._rid, e._rid) AS r "
        f"FROM o JOIN e ON o.key = e.key AND o.rn2 = e.rn) "
        f"SELECT p.l, p.r FROM p JOIN {KEY_ROWS} x ON x._rid = p.l JOIN {KEY_ROWS} y ON y._rid = p.r "
        f"WHERE {_not_earlier(keys, i, 'x', 'y')}"
    )


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
    """Create the candidate-pair table ``fm_candidates(l, r)`` (l < r, each pair once) and log blocking recall."""
    be = session.backend
    left, right = session.match_pairs
    be.execute("CREATE OR REPLACE TABLE fm_label_matches (i BIGINT, l BIGINT, r BIGINT)")
    if len(left):
        be.register(
            "fm_label_matches",
            pa.table({"i": np.arange(len(left), dtype=np.int64), "l": left, "r": right}),
        )
    keys = blocking_keys(session)
    be.execute(f"CREATE OR REPLACE TABLE {BASE} AS {_atoms_sql(session)}")
    costs = np.zeros(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        session.check()
        costs[i] = int(be.query(_estimate_sql(key)).column("pairs")[0].as_py() or 0)
    cover = _coverage(session, keys)
    budget = pair_budget(session)
    order = choose_keys(costs, cover, budget, [k.combined for k in keys])
    # Single-valued keys first (in choice order), the token key last: it is the one that needs a DISTINCT.
    chosen = [keys[i] for i in order if not keys[i].tokens] + [keys[i] for i in order if keys[i].tokens]
    estimated = int(sum(int(costs[i]) for i in order))
    singles = [k for k in chosen if not k.tokens]
    be.execute(f"CREATE OR REPLACE TABLE {KEY_ROWS} AS {_key_rows_sql(singles)}")
    be.execute(f"CREATE OR REPLACE TABLE {CANDIDATES} (l BIGINT, r BIGINT)")
    for i, key in enumerate(chosen):
        session.check()
        sql = _token_pairs_sql(chosen, i) if key.tokens else _single_pairs_sql(chosen, i)
        be.execute(f"INSERT INTO {CANDIDATES} {sql}")
    be.execute(f"DROP TABLE IF EXISTS {KEY_ROWS}")
    be.execute(f"DROP TABLE IF EXISTS {BASE}")
    total = int(be.query(f"SELECT count(*) AS n FROM {CANDIDATES}").column("n")[0].as_py())
    recall: float | None = None
    if len(left):
        recall = float(_covered(CANDIDATES, session).mean())
    names = [k.name for k in chosen]
    session.log(
        f"Blocking: {total} candidate pairs (estimated {estimated}, budget {budget}) from {len(names)} of "
        f"{len(keys)} keys ({', '.join(names)})"
        + (f"; blocking recall on {len(left)} labelled matches: {recall:.3f}" if recall is not None else "")
    )
    return BlockingResult(names, total, recall)
