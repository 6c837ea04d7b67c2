"""Blocking: the candidate pairs worth comparing, from several keys on the profiled columns.

Every key gives each record (at most) one value; within one key value the records are ordered by a sort value
and each is paired with the next ``window`` records (a sorted neighbourhood inside the block), so a skewed key
costs at most ``window`` pairs per record instead of exploding. Besides single columns there are combined keys
(two columns, or a coarse code of one such as a name's soundex or a date's year, with another column), which
keep blocks small where a single column's are large. The token key is the one multi-valued key: records share a
block per word, and blocks larger than its cap are dropped (frequent words tell little).

Nothing is materialised before choosing: each key's pair count is estimated from its block sizes in one
aggregate (on a sample of the records for large inputs), and its coverage of the labelled matches from the
labelled records' key values. Keys are chosen greedily by new (then redundant) labelled-match coverage per
estimated pair, then cheapest first while the pair budget (scaled by AccuracyCostTradeoff) lasts: the cheap keys
are the precise ones, while a broad key (a date, a city) costs ``window`` pairs per record and finds few matches
the others miss. Between the two, a model of blocking recall sees further than the few hundred labelled
matches: it draws matches column by column from the labelled matches' agreement rates (exact, coarse only, or
neither), as Fellegi-Sunter assumes columns independent given a match, and adds the keys whose modelled recall
gain is worth their pairs. With labelled matches to go by, the last, blind phase keeps to a small fixed budget
(cheap insurance on small inputs), and a combined key whose exact part was chosen too is dropped. The chosen keys' pairs (each ranking only the
records of blocks of two or more) then meet in one aggregate, which DuckDB spills to disk, keeping every pair
once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from findmatches.engine.backend import sample_share
from findmatches.engine.profile import ColumnKind, coarse_code, digit_runs_sql
from findmatches.engine.session import NORM, Session

CANDIDATES = "fm_candidates"
TOKEN_COUNTS = "fm_token_counts"
# Key costs are estimated on all records up to this many, beyond on a sample of about this many (at least 2 %).
# At 1M records, 100k chose the same keys as 150k, in 0.4 s less.
ESTIMATE_RECORDS = 100_000
ESTIMATE_MIN_RATE = 0.02
# Keys are computed on the normalised table, which carries the coarse codes (`coarse_code`) too.
BASE = NORM
COARSE, EXACT = 1, 2
COMBINED_COLUMNS = 6
# Matches the blocking-recall model simulates, and the modelled recall a key must add per candidate pair per
# record (at AccuracyCostTradeoff 0; none at 1).
RECALL_SAMPLES = 20_000
MIN_RECALL_GAIN = 0.008


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
    # Names of keys whose blocks contain this key's blocks (a combined key refines each exact part).
    within: tuple[str, ...] = ()
    # What two records must share to meet in a block: (column alias, EXACT or COARSE) per part; empty for
    # keys the recall model does not describe (tokens, prefixes, sorted neighbourhoods).
    parts: tuple[tuple[str, int], ...] = ()
    # A column holding each record's block size, when the normalised table has it (a single column's value
    # counts): the key's pairs then need no aggregate, and blocks are the values themselves (DuckDB's string
    # hash, used for the other keys, lets a few similar strings collide: harmless extra pairs there, but
    # counts and hashed blocks would disagree).
    sizes: str | None = None
    # A sorted-neighbourhood key: one block of every record holding the value, windows inside it.
    neighbourhood: bool = False

    @property
    def by_value(self) -> bool:
        """Whether records meet only with records that share its value (not words, not neighbourhoods)."""
        return not self.tokens and not self.neighbourhood


@dataclass(frozen=True)
class BlockingResult:
    """The chosen keys, the candidate count and the recall on labelled matches (None without labels)."""

    keys: list[str]
    num_candidates: int
    labelled_recall: float | None


def _both(x: str, y: str) -> str:
    """A combined key: NULL when either part is missing."""
    return f"CASE WHEN {x} IS NOT NULL AND {y} IS NOT NULL THEN hash({x}, {y}) END"


def blocking_keys(session: Session) -> list[BlockingKey]:
    """The keys worth considering for the profiled columns, most preferred first."""
    act = float(session.params.accuracy_cost_tradeoff)
    window = max(2, round(3 + 12 * act))
    token_cap = max(5, round(10 + 60 * act))
    profiles = sorted(session.feature_profiles, key=lambda p: -p.information)
    sig = session.signature
    keys: list[BlockingKey] = []
    useful = [p for p in profiles if p.kind != ColumnKind.CATEGORY and p.information >= 0.05]
    for p in useful:
        sizes = f"f_{p.alias}" if p.counts_values else None
        keys.append(
            BlockingKey(f"exact:{p.name}", p.alias, sig, window, parts=((p.alias, EXACT),), sizes=sizes)
        )
    strong = useful[:COMBINED_COLUMNS]
    for i, p in enumerate(strong):
        for q in strong[i + 1 :]:
            parts = (f"exact:{p.name}", f"exact:{q.name}")
            keys.append(
                BlockingKey(
                    f"exact:{p.name}+{q.name}",
                    _both(p.alias, q.alias),
                    sig,
                    window,
                    within=parts,
                    parts=((p.alias, EXACT), (q.alias, EXACT)),
                )
            )
            for x, y in ((p, q), (q, p)):
                coarse = coarse_code(x)
                if coarse is not None:
                    label, code = coarse
                    name = f"{label}:{x.name}+{y.name}"
                    within = (f"exact:{y.name}", f"phonetic:{x.name}")
                    both = ((x.alias, COARSE), (y.alias, EXACT))
                    keys.append(
                        BlockingKey(name, _both(code, y.alias), sig, window, within=within, parts=both)
                    )
    wordy = [p for p in profiles if p.kind in (ColumnKind.NAME, ColumnKind.TEXT)]
    if wordy:
        # Words, and the digit runs inside them: a model code written "cjr 12683" and "cjr12683" (after
        # normalisation, "CJR-12683" is the first) shares no word, but shares "12683". The runs come from the
        # normalised table where it holds them, and are not looked for in columns whose sample had no digit.
        lists = ", ".join(f"string_split(coalesce({p.alias}, ''), ' ')" for p in wordy)
        for p in wordy:
            if p.compares_numbers:
                lists += f", string_split(coalesce(n_{p.alias}, ''), ' ')"
            elif p.digit_share > 0:
                lists += f", string_split(coalesce({digit_runs_sql(p.alias)}, ''), ' ')"
        expr = f"list_filter(list_distinct(flatten([{lists}])), lambda t: length(t) >= 2)"
        keys.append(BlockingKey("tokens", expr, sig, token_cap, max_block=token_cap, tokens=True))
    for p in profiles[:4]:
        if p.kind == ColumnKind.CATEGORY:
            continue
        a = p.alias
        present = f"CASE WHEN {a} IS NOT NULL THEN '' END"
        keys.append(BlockingKey(f"sorted:{p.name}", present, a, window, neighbourhood=True))
        keys.append(
            BlockingKey(f"sorted-reverse:{p.name}", present, f"reverse({a})", window, neighbourhood=True)
        )
    for p in profiles:
        a = p.alias
        if p.kind == ColumnKind.NAME:
            keys.append(BlockingKey(f"phonetic:{p.name}", f"sx_{a}", sig, window, parts=((a, COARSE),)))
        if p.kind in (ColumnKind.NAME, ColumnKind.TEXT, ColumnKind.CODE) and p.avg_length >= 6:
            keys.append(BlockingKey(f"prefix:{p.name}", f"left({a}, 4)", sig, window))
    keys.append(BlockingKey("sorted:record", "''", sig, window, neighbourhood=True))
    return keys


def _block_pairs(n: str, window: int) -> str:
    """Pairs a sorted-neighbourhood block of ``n`` records yields with this window."""
    w = int(window)
    return f"CASE WHEN {n} <= {w + 1} THEN {n} * ({n} - 1) // 2 ELSE {w} * {n} - {w * (w + 1) // 2} END"


def _estimated_block_pairs(window: int, rate: float) -> str:
    """SQL for the pairs a block of ``n`` records (of the estimate's sample at ``rate``) stands for."""
    if rate >= 1.0:
        return _block_pairs("n", window)
    r = float(rate)
    return f"least(n * (n - 1) / 2 / {r * r!r}, {int(window)} * n / {r!r})"


def _estimate_sql(key: BlockingKey, table: str = BASE, rate: float = 1.0) -> str:
    """SQL for the key's estimated pair count, from its block sizes in ``table``: all of the records, or a
    Bernoulli sample of them at ``rate``. From a sample, a block of ``m`` sampled records stands for
    ``m(m-1)/2 / rate²`` pairs (unbiased for blocks within the window) or ``window·m / rate`` (a large
    block's sorted neighbourhood), whichever is smaller. The token key's block sizes are those of
    `TOKEN_COUNTS`, made from the same table."""
    pairs = _estimated_block_pairs(int(key.window), rate)
    size = "n" if rate >= 1.0 else f"n / {float(rate)!r}"
    if key.tokens:
        source = f"(SELECT n FROM {TOKEN_COUNTS})"
        keep = f"n > 1 AND {size} <= {int(key.max_block or 0)}"
    else:
        source = f"(SELECT count(*) AS n FROM {table} WHERE ({key.expr}) IS NOT NULL GROUP BY ({key.expr}))"
        keep = "n > 1"
    # Rounded, not cast: a cast truncates on Spark and rounds on DuckDB.
    return f"SELECT CAST(round(coalesce(sum({pairs}), 0)) AS BIGINT) AS pairs FROM {source} WHERE {keep}"


def _counted_estimates(
    session: Session, keys: dict[int, BlockingKey], table: str, rate: float
) -> dict[int, int]:
    """`_estimate_sql` for several value keys of one window (not the token key), by key number, from one scan
    of their values (as text, so that every key's blocks are its values) counted in Arrow. Spark shuffled
    every (key, value) of the sample to count them in SQL: 13-17 s for 50 keys of 100k sampled records on
    local[2], where the scan and the count take 3-4 s. The same sums, rounded half away from zero as SQL's
    round."""
    w = int(next(iter(keys.values())).window)
    assert all(not k.tokens and k.window == w for k in keys.values())
    values = session.backend.query(
        "SELECT "
        + ", ".join(f"CAST(({k.expr}) AS VARCHAR) AS k{i}" for i, k in keys.items())
        + f" FROM {table}"
    )
    out = {}
    for i in keys:
        column = values.column(f"k{i}").drop_null()
        counts = pc.value_counts(column.combine_chunks()).field("counts").to_numpy(zero_copy_only=False)
        n = counts[counts > 1].astype(np.int64)
        if rate >= 1.0:  # as `_block_pairs`
            out[i] = int(np.where(n <= w + 1, n * (n - 1) // 2, w * n - w * (w + 1) // 2).sum())
            continue
        f = n.astype(np.float64)  # as `_estimated_block_pairs`
        total = float(np.minimum(f * (f - 1) / 2 / (rate * rate), w * f / rate).sum())
        out[i] = int(np.floor(total + 0.5))
    return out


def _key_costs(session: Session, keys: list[BlockingKey], table: str, rate: float) -> np.ndarray:
    """Every key's estimated pair count (`_estimate_sql`), in one query; where stages cost (Spark), the value
    keys' blocks are counted from one scan of their values (`_counted_estimates`) instead."""
    token = next((k for k in keys if k.tokens), None)
    if token is not None:
        session.backend.execute(
            f"CREATE OR REPLACE TABLE {TOKEN_COUNTS} AS SELECT k, count(*) AS n FROM "
            f"(SELECT unnest({token.expr}) AS k FROM {table}) GROUP BY k"
        )
    grouped = {
        i: k
        for i, k in enumerate(keys)
        if session.backend.costly_stages and not k.tokens and k.window == keys[0].window
    }
    costs = np.zeros(len(keys), dtype=np.int64)
    if grouped:
        for i, pairs in _counted_estimates(session, grouped, table, rate).items():
            costs[i] = pairs
    parts = [
        f"SELECT {i} AS i, ({_estimate_sql(k, table, rate)}) AS pairs"
        for i, k in enumerate(keys)
        if i not in grouped
    ]
    if parts:
        got = session.backend.query(" UNION ALL ".join(parts))
        costs[got.column("i").to_numpy()] = got.column("pairs").fill_null(0).to_numpy()
    return costs


def _key_columns(session: Session) -> list[str]:
    """The normalised table's columns that key values are computed from (values and coarse codes)."""
    out = ["_rid"]
    for p in session.feature_profiles:
        out.append(p.alias)
        if (code := coarse_code(p)) is not None:
            out.append(code[1])
        if p.compares_numbers:
            out.append(f"n_{p.alias}")
    return out


def _estimate_rate(num_records: int) -> float:
    """The share of the records that key estimates look at: all up to ``ESTIMATE_RECORDS``, then a sample."""
    return min(1.0, max(ESTIMATE_MIN_RATE, ESTIMATE_RECORDS / max(1, num_records)))


def pair_budget(session: Session) -> int:
    """How many candidate pairs the keys may produce in all (summed over keys)."""
    act = float(session.params.accuracy_cost_tradeoff)
    return int(max(blind_budget(session), session.num_records * (2 + 8 * act)))


def blind_budget(session: Session) -> int:
    """The pairs keys chosen on cost alone may bring the total to, when there are labelled matches: cheap
    insurance on a small input, nothing on a large one."""
    return int(300_000 * (0.5 + float(session.params.accuracy_cost_tradeoff)))


def _common_tokens(session: Session, key: BlockingKey, rate: float) -> set[str]:
    """The labelled matches' words whose blocks exceed the token key's cap (estimated from `TOKEN_COUNTS`)."""
    rows = session.backend.query(
        f"SELECT t.k FROM (SELECT DISTINCT unnest({key.expr}) AS k FROM {BASE} WHERE _rid IN "
        f"(SELECT l FROM fm_label_matches UNION SELECT r FROM fm_label_matches)) t "
        f"JOIN {TOKEN_COUNTS} s ON s.k = t.k WHERE s.n / {float(rate)!r} > {int(key.max_block or 0)}"
    )
    return {str(v) for v in rows.column("k").to_pylist()}


def _labelled_match_values(session: Session, exprs: str) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """``exprs`` (an SQL select list over the blocking base) for the records of the labelled matches, and each
    match's two rows in the result (left, right)."""
    left, right = session.match_pairs
    rows = session.backend.query(
        f"SELECT _rid, {exprs} FROM {BASE} WHERE _rid IN (SELECT l FROM fm_label_matches "
        f"UNION SELECT r FROM fm_label_matches)"
    )
    pos = {int(r): i for i, r in enumerate(rows.column("_rid").to_pylist())}
    li = np.asarray([pos[int(v)] for v in left.tolist()], dtype=np.int64)
    ri = np.asarray([pos[int(v)] for v in right.tolist()], dtype=np.int64)
    return rows, li, ri


def _agree(column: pa.ChunkedArray, li: np.ndarray, ri: np.ndarray) -> np.ndarray:
    """Whether both records of each match have the same, present, value."""
    values = np.asarray(column.to_pylist(), dtype=object)
    return np.asarray(
        (values[li] == values[ri]) & np.asarray([v is not None for v in values[li]]), dtype=bool
    )


def _coverage(session: Session, keys: list[BlockingKey], rate: float = 1.0) -> np.ndarray:
    """(keys × labelled matches) booleans: whether both records of the match share a block of the key.

    Sorted-neighbourhood keys (one block for all) count as covering nothing: equality would overstate them.
    For the token key, only words whose block is within its cap count (a shared common word pairs nothing)."""
    left, _ = session.match_pairs
    cover = np.zeros((len(keys), len(left)), dtype=bool)
    if len(left) == 0:
        return cover
    rows, li, ri = _labelled_match_values(
        session, ", ".join(f"({k.expr}) AS k{i}" for i, k in enumerate(keys))
    )
    for i, key in enumerate(keys):
        if key.tokens:
            common = _common_tokens(session, key, rate)
            sets = [set(v or ()) - common for v in rows.column(f"k{i}").to_pylist()]
            cover[i] = [bool(sets[a] & sets[b]) for a, b in zip(li.tolist(), ri.tolist(), strict=True)]
        elif not key.neighbourhood:
            cover[i] = _agree(rows.column(f"k{i}"), li, ri)
    return cover


def _agreement_states(session: Session, keys: list[BlockingKey]) -> dict[str, np.ndarray]:
    """Per column the key parts use: for each labelled match, EXACT if both records have the same value,
    COARSE if only the coarse code (soundex, year) agrees, 0 otherwise (or missing)."""
    left, _ = session.match_pairs
    aliases = sorted({alias for k in keys for alias, _ in k.parts})
    if len(left) == 0 or not aliases:
        return {}
    coarse = {p.alias: c[1] for p in session.feature_profiles if (c := coarse_code(p)) is not None}
    exprs = ", ".join(f"{a} AS e_{a}" + (f", {coarse[a]} AS c_{a}" if a in coarse else "") for a in aliases)
    rows, li, ri = _labelled_match_values(session, exprs)
    states = {}
    for a in aliases:
        state = np.zeros(len(li), dtype=np.int8)
        for level, name in ((COARSE, f"c_{a}"), (EXACT, f"e_{a}")):
            if name in rows.column_names:
                state[_agree(rows.column(name), li, ri)] = level
        states[a] = state
    return states


def simulated_cover(
    keys: list[BlockingKey], states: dict[str, np.ndarray], samples: int = RECALL_SAMPLES, seed: int = 0
) -> np.ndarray:
    """(keys × simulated matches) booleans: which keys would pair each of ``samples`` matches drawn column by
    column, independently, from the labelled matches' agreement rates (with half a count of each state
    added: a column that agreed in every labelled match is not assumed to agree always). A Fellegi-Sunter
    style model of blocking recall that sees further than a few hundred labelled matches: a match needs
    one key whose every part agrees, and keys on different columns fail independently. Keys without parts
    cover nothing here."""
    rng = np.random.default_rng(seed)
    drawn: dict[str, np.ndarray] = {}
    for alias, state in states.items():
        counts = np.bincount(state, minlength=3).astype(np.float64) + 0.5
        drawn[alias] = rng.choice(3, size=samples, p=counts / counts.sum())
    cover = np.zeros((len(keys), samples if states else 0), dtype=bool)
    for i, key in enumerate(keys):
        if key.parts and states and all(alias in drawn for alias, _ in key.parts):
            cover[i] = np.logical_and.reduce([drawn[alias] >= level for alias, level in key.parts])
    return cover


def choose_keys(
    costs: np.ndarray,
    cover: np.ndarray,
    budget: int,
    within: list[list[int]] | None = None,
    blind_budget: int | None = None,
    modelled: np.ndarray | None = None,
    min_gain: float = 0.0,
    records: int = 1,
) -> list[int]:
    """Greedy key choice: new labelled-match coverage per pair within the budget, then redundant coverage
    per pair, then (with ``modelled``, keys × simulated matches) modelled recall gain per pair per record
    while it is at least ``min_gain``, then the cheapest keys while the budget lasts. ``within[i]`` lists the
    keys whose blocks contain key ``i``'s: once one of them with at most twice key ``i``'s cost is chosen (its
    blocks are small enough to be paired whole), key ``i`` would only repeat its pairs and is skipped, or
    dropped if it was chosen first. With labelled matches, the last phase (keys chosen on cost alone) stops
    at ``blind_budget`` pairs in all: on a large input the labelled keys already cost more, and at 1M records
    the six keys it added found 0.05 % more true matches for 45 % more pairs."""
    parents = within or [[] for _ in range(len(costs))]

    def redundant(i: int) -> bool:
        return any(j in chosen and costs[j] <= 2 * costs[i] for j in parents[i])

    def available(i: int) -> bool:
        return i not in chosen and used + costs[i] <= budget and not redundant(i)

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
        if gains[best] == 0 or (chosen and used + costs[best] > budget):
            break
        chosen.append(best)
        used += int(costs[best])
        times += cover[best]
    # Phase 2: redundancy (a labelled match covered c times adds 2^-c), within the budget.
    while cover.shape[1]:
        weight = 0.5**times
        gains = np.asarray(
            [float(weight[cover[i]].sum()) if available(i) else 0.0 for i in range(len(costs))]
        )
        ratio = gains / np.maximum(costs, 1)
        best = int(np.argmax(ratio))
        if gains[best] < max(0.05, 0.02 * cover.shape[1]):
            break
        chosen.append(best)
        used += int(costs[best])
        times += cover[best]
    # Phase 3: keys the recall model says find matches the chosen ones miss, while a key's modelled recall
    # gain per candidate pair per record is at least ``min_gain``.
    if modelled is not None and modelled.shape[1]:
        covered = modelled[chosen].any(axis=0) if chosen else np.zeros(modelled.shape[1], dtype=bool)
        while True:
            gains = np.asarray(
                [float((modelled[i] & ~covered).mean()) if available(i) else 0.0 for i in range(len(costs))]
            )
            ratio = gains / np.maximum(costs / max(records, 1), 1e-9)
            best = int(np.argmax(ratio))
            if gains[best] <= 0 or ratio[best] < min_gain:
                break
            chosen.append(best)
            used += int(costs[best])
            covered |= modelled[best]
    # Phase 4: whatever key else fits, cheapest first: at scale the cheap keys are the precise ones (combined
    # keys with small blocks), while a broad single-column key (a date, a city) costs pairs per record in the
    # window's size and finds few matches the others miss.
    limit = budget if not cover.shape[1] or blind_budget is None else min(budget, blind_budget)
    for i in sorted(range(len(costs)), key=lambda i: (int(costs[i]), i)):
        if cover.shape[1] and not cover[i].any():
            continue  # with labelled matches to go by, a key that meets none of them is a blind bet
        if i not in chosen and (not chosen or used + costs[i] <= limit) and not redundant(i):
            chosen.append(i)
            used += int(costs[i])
    # A key chosen before a key whose blocks contain its own only repeats that key's pairs.
    return [i for i in chosen if not redundant(i)]


def _key_pairs_sql(key: BlockingKey, new_below: int | None = None, pair_below: int | None = None) -> str:
    """The pairs one key yields: inside each block of two or more records (at most ``max_block`` for the
    token key), records ranked by the key's sort value and each paired with the next ``window``. Singleton
    blocks (most records, for the precise keys) are dropped first, by one aggregate or, for a column whose
    value counts the normalised table holds, by those counts (a third of the cost); blocks within the window
    are paired whole by a self-join, and only larger ones are ranked, their sort values computed for just
    their records (a quarter faster than carrying them for all).

    Incremental matching (``new_below``): only blocks holding a new record (``_rid < new_below``, the lowest
    ids) are paired, and only their pairs with a new record are kept; records from ``pair_below`` on take no
    part. A new record meets the same neighbours as in a run over everything."""
    w = int(key.window)
    only = f" AND _rid < {int(pair_below)}" if pair_below is not None else ""
    if key.tokens:
        values = f"SELECT _rid, unnest({key.expr}) AS k FROM {BASE}" + (f" WHERE true{only}" if only else "")
    else:
        values = f"SELECT _rid, hash({key.expr}) AS k FROM {BASE} WHERE ({key.expr}) IS NOT NULL{only}"
    cap = f" AND count(*) <= {int(key.max_block)}" if key.max_block else ""
    if new_below is not None:
        # Only the blocks of the new records' values (few) are counted: a semi-join, not an aggregate of all.
        values = (
            f"SELECT * FROM ({values}) a WHERE a.k IN "
            f"(SELECT k FROM ({values}) z WHERE z._rid < {int(new_below)})"
        )
    if key.sizes is not None and not key.tokens:
        touched = (
            f" AND {key.expr} IN (SELECT {key.expr} FROM {BASE} WHERE _rid < {int(new_below)})"
            if new_below is not None
            else ""
        )
        blocks = (
            f"b AS (SELECT _rid, {key.expr} AS k, {key.sizes} AS n FROM {BASE} WHERE {key.sizes} > 1"
            + (f" AND {key.sizes} <= {int(key.max_block)}" if key.max_block else "")
            + touched
            + only
            + "), "
        )
    else:
        blocks = (
            # Incremental: the few values of blocks with a new record, computed once for both uses.
            f"v AS {'MATERIALIZED ' if new_below is not None else ''}({values}), "
            f"c AS (SELECT k, count(*) AS n FROM v GROUP BY k HAVING count(*) > 1{cap}), "
            f"b AS (SELECT v._rid, v.k, c.n FROM v JOIN c ON c.k = v.k), "
        )
    return _window_pairs_sql(blocks, ["k"], w, key.sort)


def _window_pairs_sql(blocks: str, block: list[str], window: int, sort: str) -> str:
    """The pairs of the blocks that ``blocks`` (CTEs ending in ``b``: ``_rid``, the ``block`` columns, the
    block's size ``n``) defines: blocks within the window paired whole by a self-join, larger ones ranked by
    ``sort`` (their records' sort values joined from the base) and each record paired with the next
    ``window``."""
    w = int(window)
    cols = ", ".join(block)
    same = " AND ".join(f"{{0}}.{c} = {{1}}.{c}" for c in block)
    return (
        f"WITH {blocks}"
        f"small AS (SELECT x._rid AS l, y._rid AS r FROM b x JOIN b y ON {same.format('x', 'y')} "
        f"AND x._rid < y._rid WHERE x.n <= {w + 1}), "
        f"big AS (SELECT b._rid, {', '.join(f'b.{c}' for c in block)}, b.n, row_number() OVER (PARTITION BY "
        f"{', '.join(f'b.{c}' for c in block)} ORDER BY {sort}, b._rid) AS rn FROM b JOIN {BASE} t "
        f"ON t._rid = b._rid WHERE b.n > {w + 1}), "
        f"o AS (SELECT _rid, {cols}, unnest(range(rn + 1, least(rn + {w}, n) + 1)) AS rn2 FROM big WHERE rn < n) "
        f"SELECT l, r FROM small UNION ALL "
        f"SELECT least(o._rid, e._rid) AS l, greatest(o._rid, e._rid) AS r FROM o JOIN big e "
        f"ON {same.format('e', 'o')} AND e.rn = o.rn2"
    )


def _framed_pairs_sql(
    keys: list[BlockingKey], pair_below: int | None = None, new_below: int | None = None
) -> str:
    """The pairs of several by-value keys of one sort and window, from one window over all their values: in
    each key's block (by the hash of the key's number and its value), each record ranked by (sort, ``_rid``)
    with the list of the next ``window`` records (a frame), so that a block within the window is paired whole
    and a larger one as `_key_pairs_sql` pairs it. One shuffle for all keys and no join: on Spark
    (`costly_stages`), where each aggregate, join and window is a shuffle and a stage, the blocks' aggregate,
    join and kept table, the self-join and the ranked blocks' joins took 11.2 s at 200k records on local[2],
    and this 7.7 s in a run a fifth slower throughout (docs/spark.md). DuckDB runs each key's own pipeline side by side: at 1M records
    its candidates took 2.3 s that way and 5.1 s this way.

    Incremental matching (``new_below``): only the blocks holding a new record are ranked, as in
    `_key_pairs_sql`."""
    w = int(keys[0].window)
    sort = keys[0].sort
    assert all(k.by_value and k.window == w and k.sort == sort for k in keys)
    only = f" WHERE _rid < {int(pair_below)}" if pair_below is not None else ""
    # One scan of the records, each record's value of every key unnested, the key's number hashed in so
    # that the keys' blocks stay apart: a scan per key (a union) read the whole checkpointed table once per
    # key, since Spark cannot prune a checkpoint's columns (1M records, nine keys: 3.3 GB read, 20.8 s of
    # tasks, docs/spark.md).
    hashed = ", ".join(
        f"CASE WHEN ({k.expr}) IS NOT NULL THEN hash({i}, {k.expr}) END" for i, k in enumerate(keys)
    )
    return (
        f"WITH u AS (SELECT _rid, {sort} AS s, unnest([{hashed}]) AS k FROM {BASE}{only}), "
        "v AS (SELECT _rid, s, k FROM u WHERE k IS NOT NULL"
        + (f" AND k IN (SELECT k FROM u WHERE _rid < {int(new_below)})" if new_below is not None else "")
        + "), "
        f"f AS (SELECT _rid, list(_rid) OVER (PARTITION BY k ORDER BY s, _rid "
        f"ROWS BETWEEN 1 FOLLOWING AND {w} FOLLOWING) AS nxt FROM v), "
        f"p AS (SELECT _rid, unnest(nxt) AS x FROM f) "
        f"SELECT least(_rid, x) AS l, greatest(_rid, x) AS r FROM p"
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
    index = {k.name: i for i, k in enumerate(keys)}
    budget = pair_budget(session)
    kept = session.kept_keys
    if kept is not None and all(name in index for name in kept):
        # A snapshot's run chose these for the same labels on a like population (an incremental run's
        # records are mostly that population): choosing again would cost as much as the blocking itself.
        chosen, estimated = [keys[index[name]] for name in kept], None
    else:
        chosen, estimated = _choose(session, keys, budget)
    # All keys' pairs in one statement, one aggregate keeping each pair once: DuckDB runs the keys' pipelines
    # side by side (one at a time, a key's query kept about 1.5 of 2 cores busy), and its aggregate spills to
    # disk, so memory stays bounded however many pairs the keys repeat.
    session.check()
    new, below = session.new_below, session.pair_below
    keep = f" WHERE l < {int(new)}" if new is not None else ""
    # Where stages cost (Spark), the by-value keys of one window and sort are paired by one window
    # (`_framed_pairs_sql`). A key's own pairs are a dozen joins once Spark inlines their CTEs: an incremental
    # run's 22 keys side by side planned 624 joins, whose broadcasts a driver of Spark's default 1 GiB could
    # not hold at once.
    framed: dict[tuple[int, str], list[BlockingKey]] = {}
    parts = []
    for key in chosen:
        if be.costly_stages and key.by_value:
            framed.setdefault((key.window, key.sort), []).append(key)
        else:
            parts.append(_key_pairs_sql(key, new, below))
    parts += [_framed_pairs_sql(group, below, new) for group in framed.values()]
    pairs = " UNION ALL ".join(f"SELECT l, r FROM ({sql}){keep}" for sql in parts)
    # The order makes DuckDB's later reads of the table deterministic (it keeps a table's insertion order).
    # Nothing reads the candidates in order, and on Spark, whose sort is a stage of its own and whose joins
    # give no order anyway, the statement took 10.1-11.3 s without it against 11.2-11.4 s (1M, local[2]).
    order = "" if be.costly_stages else " ORDER BY l, r"
    be.execute(
        f"CREATE OR REPLACE TABLE {CANDIDATES} AS SELECT l, r FROM ({pairs}) GROUP BY l, r{order}"
        if chosen
        else f"CREATE OR REPLACE TABLE {CANDIDATES} (l BIGINT, r BIGINT)"
    )
    total = int(be.query(f"SELECT count(*) AS n FROM {CANDIDATES}").column("n")[0].as_py())
    recall: float | None = None
    # Incremental matching pairs only new records: its recall is on the labelled matches that hold one.
    judged = left < new if new is not None else np.ones(len(left), dtype=bool)
    if judged.any():
        recall = float(_covered(CANDIDATES, session)[judged].mean())
    names = [k.name for k in chosen]
    session.log(
        f"Blocking: {total} candidate pairs "
        + (f"(estimated {estimated}, budget {budget}) " if estimated is not None else "")
        + f"from {len(names)} of {len(keys)} keys "
        + ("kept from the snapshots " if estimated is None else "")
        + f"({', '.join(names)})"
        + (
            f"; blocking recall on {int(judged.sum())} labelled matches: {recall:.3f}"
            if recall is not None
            else ""
        )
    )
    return BlockingResult(names, total, recall)


def _choose(session: Session, keys: list[BlockingKey], budget: int) -> tuple[list[BlockingKey], int]:
    """The keys worth their pairs (`choose_keys`) and their estimated pair count."""
    be = session.backend
    rate = _estimate_rate(session.num_records)
    sample = BASE
    if rate < 1.0:
        sample = f"{BASE}_sample"
        be.execute(
            f"CREATE OR REPLACE TABLE {sample} AS SELECT {', '.join(_key_columns(session))} FROM {BASE} "
            f"WHERE {sample_share(rate)}"
        )
    costs = _key_costs(session, keys, sample, rate)
    session.check()
    cover = _coverage(session, keys, rate)
    if sample != BASE:
        be.execute(f"DROP TABLE {sample}")
    be.execute(f"DROP TABLE IF EXISTS {TOKEN_COUNTS}")
    index = {k.name: i for i, k in enumerate(keys)}
    within = [[index[name] for name in k.within if name in index] for k in keys]
    act = float(session.params.accuracy_cost_tradeoff)
    modelled = simulated_cover(keys, _agreement_states(session, keys))
    order = choose_keys(
        costs,
        cover,
        budget,
        within,
        blind_budget(session),
        modelled=modelled,
        min_gain=MIN_RECALL_GAIN * (1.0 - act),
        records=session.num_records,
    )
    return [keys[i] for i in order], int(sum(int(costs[i]) for i in order))
