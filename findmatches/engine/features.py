"""Pairwise comparison features, computed in batches with rapidfuzz's vectorised `cpdist` (no per-pair Python).

Missing values give NaN, which the gradient-boosting model handles natively. Every similarity feature grows
with the likelihood of a match, so the model can be constrained to be monotone in it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel, JaroWinkler, Levenshtein
from scipy import sparse

from findmatches.engine.backend import sample_share
from findmatches.engine.evidence import silent_columns
from findmatches.engine.incremental import distinct_sorted
from findmatches.engine.profile import WEIGHTED_MIN_WORDS, ColumnKind, ColumnProfile
from findmatches.engine.session import NORM, Session

BATCH_ROWS = 200_000
EMPTY = np.zeros(0, np.int64)
WORKERS = -1  # every core; but see `_workers`


def _workers() -> int:
    """The threads each string comparison may use: ``OMP_NUM_THREADS`` where set (Spark sets it in an
    executor's Python workers to the cores of one task, so that concurrent tasks do not each take the whole
    machine), else `WORKERS`."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return WORKERS


# Values are compared on their first MAX_CHARS characters (equality on the whole value), and the partial ratio
# looks for the first PARTIAL_CHARS of the shorter value in the longer: the scorers' cost grows with the
# product of the lengths, partial_ratio's most steeply: 0.16 s a pair at 1,800 characters each (300 records
# of long descriptions took hours to score), 37 µs with the shorter value cut to 64.
MAX_CHARS = 500
PARTIAL_CHARS = 64

Scorer = Callable[..., float]
# Word overlap weighted by rarity (inverse document frequency over the column): the share of the two values'
# word weight that they share ("wjac"), and of the lighter value's ("wcont"). Two companies' names that share
# only "gesellschaft mit beschränkter haftung" share little weight; "philips" and "n v philips
# gloeilampenfabrieken" share the rare word that counts. Also the cosine of the values' character 3-grams
# weighted the same way ("wgrams"), which sees through spellings, typos and abbreviations that share no whole
# word ("tübingen" and "tuebingen", "franisco"). Teach loops, seeds 0-2, pairwise F1 without it and with it:
# two shops' products 0.877 -> 0.91, products10k 0.958 -> 0.968, bibliographic 0.982 -> 0.988, the others level
# (docs/benchmarks.md). Two more were tried and left out, each helping one shape and costing others: the
# weight of the rarest word both hold on every such column (affiliations 0.58 -> 0.63; PatentsView's name
# blocks 0.978 -> 0.967, company names 0.945 -> 0.934), kept since for columns of parts only (`RAREST`), and
# the heaviest word one value lacks (company names up, affiliations and products down).
WEIGHTED = ("wjac", "wcont", "wgrams")
# ...for phrases: values of at least WEIGHTED_MIN_WORDS words on average (`profile`). With fewer words, the token
# set and sort ratios already see each of them, and the cost is not repaid (streets, about 3.0 words, are most
# of a 1M person apply's pairs).
# Part by part, where a column's values are made of parts (`ColumnProfile.compares_segments`): each part's best
# match among the other value's parts (weighted word overlap), averaged over both values' parts by their word
# weight (a weighted Monge-Elkan over parts). An affiliation that names another department of the same
# institution, or a disc's track list with a track missing, still matches part for part, while whole-value
# overlap counts the other department's words against it.
SEGMENTS = "segments"
# ...and beside it the weight of the rarest word both values hold: in free text of parts the institution's or
# place's own name is one part among a department, a street and a country, which the part-by-part average
# dilutes ("physics laboratory, university of bristol, 128 mill lane" and "dept psychology, university of
# bristol"). Engine teach loops, seeds 0-2, mean pairwise F1 without it and with it: affiliations 0.646 ->
# 0.684, music 0.790 -> 0.807, citations 0.994 -> 0.994, PatentsView level (docs/benchmarks.md). On every
# weighted column it cost company names and PatentsView's name blocks (above).
RAREST = "rarest"
# The codes of each value found in the other (`ColumnProfile.compares_codes`), as a share of its codes by their
# weight (log inverse document frequency among the column's codes), the larger of the two values' shares: a
# model code written "ET-3340" and "et3340" (one shop's title, another's) is the same code here, and a family
# member's "DSC-W800" another than "DSC-W830". A code is found where the other value holds it with its
# separators and spaces gone, so "ELPH 280 HS" holds "ELPH280HS"; and by weight, so a model code counts for more
# than the "1080p" and "60Hz" that a listing adds beside it. Offline on two shops' listings (seed 0's labels and
# candidates), the plain share of codes held by both took the candidates' average precision 0.829 -> 0.880
# (docs/benchmarks.md).
CODES = "codes"
# ...and beside it the weight of the rarest code found (0 for none): a code that names one product is the
# evidence, whatever else the two listings add.
RAREST_CODE = "rarest_code"
# The whole record's words weighted the same way ("wjac", "wcont" of its text, all columns joined), so that
# evidence in columns that do not line up still counts: a maker that one shop exports in a column of its own
# and the other only inside its titles, a value run into its neighbour. And the whole record's codes
# (`record_codes_sql`) found in the other's whole text (`CODES`, `RAREST_CODE`): a model code in one shop's
# title and only in the other's description. Engine teach loops, seeds 0-3, mean pairwise F1 without and with
# them: two shops whose second leaves a third of its titles without the code 0.867 -> 0.896, two shops
# 0.984 -> 0.989, citations with a parser's fields 0.990 -> 0.994, Fodors-Zagat 0.993 -> 0.992
# (docs/benchmarks.md).
RECORD_WEIGHTED = ("wjac", "wcont")
# Columns' word weights are counted on at most this many records (a sample beyond).
WEIGHT_SAMPLE = 100_000
# The table of each record's group while word weights are counted by group (`grouped_words`).
GROUPS = "fm_word_groups"


_SCORERS: dict[str, Scorer] = {
    "jw": JaroWinkler.normalized_similarity,
    "lev": Levenshtein.normalized_similarity,
    "indel": Indel.normalized_similarity,
    "tset": fuzz.token_set_ratio,
    "tsort": fuzz.token_sort_ratio,
    "ratio": fuzz.ratio,
    "partial": fuzz.partial_ratio,
}
_PERCENT = {"tset", "tsort", "partial", "ratio"}


def _comparisons(p: ColumnProfile, weighted: bool = True) -> list[str]:
    """The comparisons of the column; without ``weighted`` (no word weights), none of those that weigh words."""
    chosen = _chosen(p)
    return chosen if weighted else [c for c in chosen if c not in (*WEIGHTED, SEGMENTS)]


def _chosen(p: ColumnProfile) -> list[str]:
    kind = p.kind
    if kind == ColumnKind.NAME:
        out = ["exact", "jw", "lev"]
        if p.avg_tokens > 1.2:
            # Names of several words (businesses, organisations, products) gain and lose words: "arts deli"
            # and "arts delicatessen", "spago" and "spago (los angeles)". The partial ratio sees one inside
            # the other: Fodors-Zagat teach loops, seeds 0-27, mean F1 0.9854 without it, 0.9895 with it.
            out += ["tsort", "tset", "partial"]
    elif kind == ColumnKind.TEXT:
        out = ["exact", "indel", "tset", "tsort", "partial"]
    elif kind == ColumnKind.NUMBER:
        return ["exact", "lev", "reldiff"]
    elif kind == ColumnKind.CATEGORY:
        return ["exact", "jw"]
    else:
        return ["exact", "jw", "lev"]  # code, date, email, phone
    if p.avg_tokens >= WEIGHTED_MIN_WORDS:
        out += WEIGHTED
    if p.compares_segments:
        out += [SEGMENTS, RAREST]
    if p.compares_codes:
        out += [CODES, RAREST_CODE]
    if p.compares_numbers:
        # The share of the numbers in either value that both hold, by their rarity (`_number_match`): a
        # product family's members share their words and differ in the model number, and every printer's
        # listing holds "22 ppm". products10k teach loops (bench/synth_products.py, seeds 0, 1 and 4): F1
        # 0.905 without it, 0.952 with it, precision 1.000 either way (unweighted, session 32).
        out.append("numbers")
    return out


@dataclass(frozen=True)
class WordWeights:
    """A column's words and their weights (log inverse document frequency); ``unseen`` for other words; the
    same for its character 3-grams (sorted 24-bit codes)."""

    words: pa.Array
    weights: np.ndarray
    unseen: float
    grams: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    gram_weights: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class FeatureSpec:
    """The feature matrix's columns: name, source column, and monotone direction (+1, -1, 0); the word
    weights of the columns compared by weighted overlap (by column alias)."""

    profiles: tuple[ColumnProfile, ...]
    names: tuple[str, ...]
    columns: tuple[str, ...]
    monotone: tuple[int, ...]
    words: dict[str, WordWeights] = field(default_factory=dict, compare=False, hash=False)
    # Pairs of columns (aliases) whose values one record may hold the other way round (`swapped_columns`).
    swaps: tuple[tuple[str, str], ...] = ()


RECORD = "(whole record)"


def _weight_sample(session: Session) -> str:
    """The condition that keeps about `WEIGHT_SAMPLE` of the population's records (all, up to that many)."""
    if session.num_records <= WEIGHT_SAMPLE:
        return "TRUE"
    return sample_share(WEIGHT_SAMPLE / session.num_records)


def word_counts_sql(value: str, relation: str, where: str = "TRUE", groups: str | None = None) -> str:
    """SQL for the words of the expression ``value`` over the records (``_rid``) of ``relation`` that meet
    ``where``: each word (``word``), how many records hold it (``df``), and how many records have a value
    (``n``); with ``groups`` (a table of each record's ``_rid`` and ``grp``), how many groups, each once."""
    source = f"SELECT _rid, {value} AS v FROM {relation} WHERE {value} IS NOT NULL AND {where}"
    unit, total = "_rid", "count(*)"
    if groups is not None:
        source = f"SELECT g.grp, s.v FROM ({source}) s JOIN {groups} g ON g._rid = s._rid"
        unit, total = "grp", "count(DISTINCT grp)"
    return (
        # Materialised: read once for both uses.
        f"WITH v AS MATERIALIZED ({source}), w AS (SELECT DISTINCT {unit}, unnest(string_split(v, ' ')) AS word "
        f"FROM v) SELECT word, count(*) AS df, (SELECT {total} FROM v) AS n FROM w WHERE word <> '' GROUP BY word"
    )


def _idf_weights(session: Session, value: str, groups: str | None = None) -> WordWeights:
    """The words of the SQL expression ``value`` over the population's records (a sample of WEIGHT_SAMPLE
    beyond that many), each weighed ln(N / records holding it), N the records with a value; ln(N) unseen. With
    ``groups`` (`word_counts_sql`), groups in place of records."""
    table = session.backend.query(word_counts_sql(value, session.population, _weight_sample(session), groups))
    n = max(float(table.column("n")[0].as_py()) if table.num_rows else 1.0, 1.0)
    df = table.column("df").to_numpy().astype(np.float64)
    return WordWeights(table.column("word").combine_chunks(), np.log(n / df), float(np.log(n)))


def _record_text(session: Session, profiles: Sequence[ColumnProfile]) -> str:
    """SQL for the whole record's text in the population, over the `bag_profiles` of ``profiles``."""
    return f"nullif({record_sql(bag_profiles(profiles), session.population)}, '')"


def word_keys(spec: FeatureSpec) -> list[str]:
    """The keys in ``spec.words`` of the columns (and the whole record) whose words are weighed."""
    keys = [p.alias for p in spec.profiles if p.alias in spec.words]
    return keys + ([RECORD] if RECORD in spec.words else [])


def grouped_words(session: Session, spec: FeatureSpec, group: np.ndarray) -> FeatureSpec:
    """``spec`` with its columns' and the whole record's word weights counted over ``group`` (a group id per
    record id, each group once) instead of over records: ln(G / groups holding the word), G the groups with a
    value. A large entity makes its own name common among the records ("philips" in a quarter of a
    register's company names weighs less than the "n v" most of them hold); among the entities found, it is
    one entity's. Character 3-grams, codes and digit runs keep their weights."""
    keys = word_keys(spec)
    if not keys:
        return spec
    session.backend.register(GROUPS, pa.table({"_rid": np.arange(len(group), dtype=np.int64), "grp": group}))
    words = dict(spec.words)
    for key in keys:
        counted = _idf_weights(
            session, key if key != RECORD else _record_text(session, spec.profiles), GROUPS
        )
        words[key] = replace(words[key], words=counted.words, weights=counted.weights, unseen=counted.unseen)
    session.backend.execute(f"DROP TABLE IF EXISTS {GROUPS}")
    return replace(spec, words=words)


def bag_profiles(profiles: Sequence[ColumnProfile]) -> list[ColumnProfile]:
    """The columns whose words make the whole record's bag of words (`RECORD_WEIGHTED`), where a column of
    phrases (compared by weighted overlap) may hold what another column holds elsewhere: all but lists, which
    are compared part by part and whose many words would outweigh the short values the bag is for. None in
    tables of short fields (a person register), whose columns' own comparisons see every word, nor where
    fewer than two columns are left."""
    if not any(set(WEIGHTED) & set(_comparisons(p)) for p in profiles):
        return []
    kept = [p for p in profiles if not p.compares_segments]
    return kept if len(kept) >= 2 else []


def record_words(session: Session, profiles: list[ColumnProfile]) -> dict[str, WordWeights]:
    """The whole record's word weights (`RECORD_WEIGHTED`), keyed `RECORD`: ln(N / records holding the word in
    any of the `bag_profiles` of ``profiles``), and its codes' (`record_codes_sql`), keyed
    ``codes_key(RECORD)``; none where there is no bag."""
    if not bag_profiles(profiles):
        return {}
    found = {RECORD: _idf_weights(session, _record_text(session, profiles))}
    if (codes := record_codes_sql(profiles, session.population)) is not None:
        found[codes_key(RECORD)] = _idf_weights(session, codes)
    return found


def record_codes_sql(profiles: Sequence[ColumnProfile], table: str) -> str | None:
    """SQL for the whole record's codes in ``table``: those of every column that compares codes, NULL for
    none; None where no column does, or the record's words are not weighed (`bag_profiles`: a table of
    short fields). They are looked for in the other record's whole text (`CODES`), so that a model code in
    one listing's title counts where the other gives it only in its description ("Model: MG6620.")."""
    coded = [p for p in profiles if p.compares_codes]
    if not coded or not bag_profiles(profiles):
        return None
    return f"nullif(concat_ws(' ', {', '.join(f'{table}.k_{p.alias}' for p in coded)}), '')"


def word_weights(session: Session, profiles: list[ColumnProfile]) -> dict[str, WordWeights]:
    """Each weighted-overlap column's word weights, ln(N / records holding the word), counted over the
    normalised values (of a sample of WEIGHT_SAMPLE records beyond that many); each code-comparing column's
    code weights the same way (`codes_key`); and the whole record's (`record_words`)."""
    found: dict[str, WordWeights] = record_words(session, profiles)
    sample = _weight_sample(session)
    population = session.population
    for p in profiles:
        if p.compares_numbers:
            found[numbers_key(p.alias)] = _idf_weights(session, f"n_{p.alias}")
        if p.compares_codes:
            found[codes_key(p.alias)] = _idf_weights(session, f"k_{p.alias}")
        if not set(WEIGHTED) & set(_comparisons(p)):
            continue
        values = session.backend.query(
            f"SELECT {p.alias} AS v FROM {population} WHERE {p.alias} IS NOT NULL AND {sample}"
        ).column("v")
        parent, codes = _grams(pc.utf8_slice_codeunits(values.combine_chunks(), 0, MAX_CHARS))
        key = np.sort(parent * GRAM_SPAN + codes)
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
        grams = np.sort(key % GRAM_SPAN)
        starts = np.flatnonzero(np.concatenate([[True], grams[1:] != grams[:-1]]))
        gram_df = np.diff(np.append(starts, len(grams))).astype(np.float64)
        found[p.alias] = replace(
            _idf_weights(session, p.alias),
            grams=grams[starts],
            gram_weights=np.log(max(len(values), 1) / gram_df),
        )
    return found


# Columns may be swapped when at least this many distinct values, and this share of the fewer distinct values
# of the two, occur in both: given name and surname 0.23-0.26 (279 values), Febrl's two address lines 0.08,
# a CD's artist and title 0.14; a name and its street or town at most 0.007 (8 values).
SWAP_MIN_VALUES = 20
SWAP_MIN_SHARE = 0.02
SWAP_MAX_PAIRS = 3
SWAP_MAX_LENGTH = 40


def swapped_columns(session: Session, profiles: list[ColumnProfile]) -> tuple[tuple[str, str], ...]:
    """Pairs of short name or text columns whose values overlap (`SWAP_MIN_SHARE`), most overlapping first:
    a record may hold their values the other way round (given name as surname, artist as title)."""
    short = [
        p
        for p in profiles
        if p.kind in (ColumnKind.NAME, ColumnKind.TEXT) and p.avg_length <= SWAP_MAX_LENGTH
    ]
    if len(short) < 2:
        return ()
    # One scan of the sample, its distinct values compared here: as one statement of a distinct set and a
    # join per column pair, Spark scanned the sample once per subquery (2.4 s of a 200k-record run on
    # local[2], docs/spark.md).
    sample = session.backend.query(
        f"SELECT {', '.join(p.alias for p in short)} FROM {session.population} WHERE {_weight_sample(session)}"
    )
    distinct = {p.alias: pc.unique(pc.drop_null(sample.column(p.alias))) for p in short}
    found: list[tuple[float, str, str]] = []
    for i, p in enumerate(short):
        for q in short[i + 1 :]:
            shared = int(pc.sum(pc.is_in(distinct[p.alias], value_set=distinct[q.alias])).as_py() or 0)
            fewer = max(1, min(len(distinct[p.alias]), len(distinct[q.alias])))
            if shared >= SWAP_MIN_VALUES and shared / fewer >= SWAP_MIN_SHARE:
                found.append((shared / fewer, p.alias, q.alias))
    found.sort(key=lambda f: -f[0])
    return tuple((a, b) for _, a, b in found[:SWAP_MAX_PAIRS])


def _direction(p: ColumnProfile, comparison: str) -> int:
    """The monotone direction a comparison's feature is fitted with: a larger difference is evidence against
    a match, a larger similarity for one; a category's agreement either way, as the labels show it. Records
    of one source agree on the column that names it, and a source seldom holds an entity twice: on two shops'
    listings (bench/synth_products_two_shops.py, seed 0) the boosted trees forced to count the shop's
    agreement for a match ranked the candidates at average precision 0.67, and 0.82 free."""
    if comparison == "reldiff":
        return -1
    return 0 if p.kind == ColumnKind.CATEGORY else 1


def feature_spec(
    profiles: list[ColumnProfile],
    words: dict[str, WordWeights] | None = None,
    swaps: tuple[tuple[str, str], ...] = (),
) -> FeatureSpec:
    """Choose the comparisons for each profiled column, plus whole-record ones. ``words``: the columns' word
    weights (`word_weights`); a column without them has no weighted-overlap features. ``swaps``: the column
    pairs compared crosswise (`swapped_columns`)."""
    words = words or {}
    named = {p.alias: p.name for p in profiles}
    names: list[str] = []
    columns: list[str] = []
    monotone: list[int] = []
    for p in profiles:
        for comp in _comparisons(p, p.alias in words) + (["rarity"] if p.counts_values else []):
            names.append(f"{p.name}:{comp}")
            columns.append(p.name)
            monotone.append(_direction(p, comp))
    record = ["ratio", "tsort", "agree_share", "both_present", "one_sided"]
    record += list(RECORD_WEIGHTED) if RECORD in words else []
    record += [CODES, RAREST_CODE] if codes_key(RECORD) in words else []
    for comp in record:
        mono = 0 if comp in ("both_present", "one_sided") else 1
        names.append(f"{RECORD}:{comp}")
        columns.append(RECORD)
        monotone.append(mono)
    for a, b in swaps:
        names.append(f"{RECORD}:swapped:{named[a]}+{named[b]}")
        columns.append(RECORD)
        monotone.append(0)
    return FeatureSpec(
        tuple(profiles), tuple(names), tuple(columns), tuple(monotone), dict(words), tuple(swaps)
    )


def session_spec(session: Session) -> FeatureSpec:
    """The feature spec of a session's columns, with their word weights and swappable column pairs (those
    its snapshots were found with, where it has them). Columns whose features the labels show to carry no
    evidence (`evidence.silent_columns`) are left out, of this spec and of the session's matching."""
    profiles = session.matchable
    swaps = session.kept_swaps if session.kept_swaps is not None else swapped_columns(session, profiles)
    words = word_weights(session, profiles)
    spec = feature_spec(profiles, words, swaps)
    left, right, y = session.labelled
    if len(y) == 0 or len(profiles) < 2:
        return spec
    x = features_for(session, spec, left, right)
    silent = silent_columns(spec.columns, spec.monotone, x, y, skip=RECORD)
    if silent != list(session.silent) and len(silent) < len(profiles):
        session.silence(silent)
        if silent:
            session.log(f"No evidence of a match in the labels from {', '.join(silent)}: left out.")
    if not session.silent:
        session.label_features = (spec, x)
        return spec
    kept = [p for p in profiles if p.name not in session.silent]
    aliases = {p.alias for p in kept}
    whole = (RECORD, codes_key(RECORD))
    words = {alias: w for alias, w in words.items() if alias not in whole} | record_words(session, kept)
    return feature_spec(kept, words, tuple(s for s in swaps if set(s) <= aliases))


#: The Jaro-Winkler similarity at which `cheap_sql` counts two values close.
CHEAP_CLOSE = 0.9


def cheap_sql(spec: FeatureSpec) -> str:
    """SQL for a cheap pair similarity in [0, 1] over the records ``a`` and ``b``: the share of the columns both
    records have whose values are close (Jaro-Winkler ≥ 0.9); 0 when they share none. Used to drop obvious
    non-matches before the full features."""
    sims, present = [], []
    for p in spec.profiles:
        x, y = f"a.{p.alias}", f"b.{p.alias}"
        # Equal values first: DuckDB evaluates a CASE branch only for the rows that reach it, and most
        # candidate pairs agree on most columns (1M apply: the filter's join 2.2 s -> 1.8 s).
        sims.append(
            f"CASE WHEN {x} = {y} THEN 1 WHEN jaro_winkler_similarity({x}, {y}) >= {CHEAP_CLOSE} THEN 1 ELSE 0 END"
        )
        present.append(f"CAST({x} IS NOT NULL AND {y} IS NOT NULL AS INTEGER)")
    return f"(({' + '.join(sims)}) / greatest(1, {' + '.join(present)}))"


def jaro_winkler(left: pa.Array, right: pa.Array) -> np.ndarray:
    """The engine's ``jaro_winkler_similarity`` of each pair of values, in double precision (NaN where one is
    missing): DuckDB's, and what Spark's UDF of that name (`backends.spark`) and `cheap_similarity` compute."""
    both = _mask(pc.and_(pc.is_valid(left), pc.is_valid(right)))
    out = np.full(len(left), np.nan)
    if both.any():
        mask = pa.array(both)
        out[both] = process.cpdist(
            _strings(left.filter(mask)),
            _strings(right.filter(mask)),
            scorer=JaroWinkler.normalized_similarity,
            dtype=np.float64,
            workers=_workers(),
        )
    return out


def cheap_similarity(spec: FeatureSpec, batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """`cheap_sql`'s similarity for a batch of `pairs_sql`, computed here: where the engine's SQL functions are
    Python functions beside the query (`Backend.python_functions`), the rows would otherwise go out to one and
    back for the filter, and again to the function that scores them. The same numbers: a missing value is
    close to nothing, and the similarity is the engine's ``jaro_winkler_similarity`` (rapidfuzz's, in double
    precision, as Spark's UDF computes it)."""
    n = batch.num_rows
    close = np.zeros(n)
    present = np.zeros(n)
    for p in spec.profiles:
        left, right = batch.column(f"l_{p.alias}"), batch.column(f"r_{p.alias}")
        both = _mask(pc.and_(pc.is_valid(left), pc.is_valid(right)))
        near = _mask(pc.equal(left, right))
        rows = np.flatnonzero(both & ~near)
        if len(rows):
            index = pa.array(rows, pa.int64())
            near[rows] = jaro_winkler(_flat(left).take(index), _flat(right).take(index)) >= CHEAP_CLOSE
        close += near
        present += both
    return np.asarray(close / np.maximum(1.0, present), dtype=np.float64)


def record_sql(profiles: Sequence[ColumnProfile], table: str) -> str:
    """SQL for the whole record's text (its normalised values, most telling column first) in ``table``. It
    keeps the values the other record of a pair lacks; ``one_sided`` in `compute_features` counts those."""
    ranked = sorted(profiles, key=lambda p: -p.information)
    return "concat_ws(' ', " + ", ".join(f"{table}.{p.alias}" for p in ranked) + ")"


def pairs_sql(spec: FeatureSpec, pairs: str, min_cheap: float | None = None, with_cheap: bool = False) -> str:
    """SQL joining a pairs relation (l, r, …) with both records' normalised values; with ``min_cheap`` only
    the pairs whose `cheap_sql` similarity reaches it, with ``with_cheap`` that similarity as ``cheap``."""
    cols = []
    if with_cheap:
        cols.append(f"{cheap_sql(spec)} AS cheap")
    for p in spec.profiles:
        cols.append(f"a.{p.alias} AS l_{p.alias}, b.{p.alias} AS r_{p.alias}")
        if p.counts_values:
            cols.append(f"a.f_{p.alias} AS fl_{p.alias}, b.f_{p.alias} AS fr_{p.alias}")
        if p.compares_segments:
            cols.append(f"a.s_{p.alias} AS ls_{p.alias}, b.s_{p.alias} AS rs_{p.alias}")
        if p.compares_numbers:
            cols.append(f"a.n_{p.alias} AS ln_{p.alias}, b.n_{p.alias} AS rn_{p.alias}")
        if p.compares_codes:
            cols.append(f"a.k_{p.alias} AS lk_{p.alias}, b.k_{p.alias} AS rk_{p.alias}")
        if p.kind == ColumnKind.NUMBER:
            cols.append(
                f"abs(try_cast(a.{p.alias} AS DOUBLE) - try_cast(b.{p.alias} AS DOUBLE)) / "
                f"greatest(abs(try_cast(a.{p.alias} AS DOUBLE)), abs(try_cast(b.{p.alias} AS DOUBLE)), 1e-9) "
                f"AS d_{p.alias}"
            )
    if codes_key(RECORD) in spec.words:
        for side, table in (("l", "a"), ("r", "b")):
            cols.append(f"{record_codes_sql(spec.profiles, table)} AS {side}k_rec")
    where = f" WHERE {cheap_sql(spec)} >= {float(min_cheap)!r}" if min_cheap is not None else ""
    return (
        f"SELECT q.l, q.r, {', '.join(cols)}, {record_sql(spec.profiles, 'a')} AS l_rec, {record_sql(spec.profiles, 'b')} AS r_rec "
        f"FROM ({pairs}) q JOIN {NORM} a ON a._rid = q.l JOIN {NORM} b ON b._rid = q.r{where}"
    )


def _taken(column: pa.ChunkedArray | pa.Array, rows: np.ndarray) -> pa.Array:
    """The column's values at ``rows``, missing ones empty, cut to MAX_CHARS characters."""
    taken = pc.fill_null(column, "").take(pa.array(rows, pa.int64()))
    return pc.utf8_slice_codeunits(taken, 0, MAX_CHARS)


def _strings(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow string array as a NumPy object array of str."""
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)


def _numbers(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(column, 0).to_numpy(zero_copy_only=False), dtype=np.float64)


def _mask(array: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _score(name: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    scores = process.cpdist(left, right, scorer=_SCORERS[name], workers=_workers(), dtype=np.float32)
    out = np.asarray(scores, dtype=np.float32)
    return out / 100.0 if name in _PERCENT else out


def _similarities(
    names: list[str],
    lcol: pa.ChunkedArray | pa.Array,
    rcol: pa.ChunkedArray | pa.Array,
    equal: np.ndarray,
    words: WordWeights | None = None,
    grams: bool = True,
) -> dict[str, np.ndarray]:
    """Each string similarity in ``names`` (scorers, and the WEIGHTED ones with ``words``) for every row: 1
    where the values are equal (every scorer gives identical non-empty strings 1), computed only for the
    others. Most candidate pairs agree on most columns, so this skips most of the work and most of the
    conversions to Python strings."""
    out = {name: np.ones(len(equal), dtype=np.float32) for name in names}
    rows = np.flatnonzero(~equal)
    if not names or not len(rows):
        return out
    lcut, rcut = _taken(lcol, rows), _taken(rcol, rows)
    scored = [name for name in names if name in _SCORERS]
    if scored:
        left, right = _strings(lcut), _strings(rcut)
        for name in scored:
            if name == "partial":
                out[name][rows] = _score(name, *_needle_first(lcut, rcut))
            else:
                out[name][rows] = _score(name, left, right)
    if words is not None and set(WEIGHTED) & set(names):
        for name, values in _weighted_shares(lcut, rcut, words, grams and "wgrams" in names).items():
            if name in out:
                out[name][rows] = values
    return out


GRAM_SPAN = np.int64(1 << 24)


def _grams(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Every value's byte 3-grams (of the value padded by a space each side) as (value index, 24-bit code)."""
    padded = pc.binary_join_element_wise(" ", values, " ", "")
    arr = padded.combine_chunks() if isinstance(padded, pa.ChunkedArray) else padded
    offsets = np.frombuffer(arr.buffers()[1], np.int32)[arr.offset : arr.offset + len(arr) + 1].astype(
        np.int64
    )
    data = (
        np.frombuffer(arr.buffers()[2], np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    )
    counts = np.maximum(np.diff(offsets) - 2, 0)
    total = int(counts.sum())
    parent = np.repeat(np.arange(len(arr), dtype=np.int64), counts)
    first = np.cumsum(counts) - counts
    pos = np.repeat(offsets[:-1], counts) + (np.arange(total, dtype=np.int64) - np.repeat(first, counts))
    code = (data[pos].astype(np.int64) << 16) | (data[pos + 1].astype(np.int64) << 8) | data[pos + 2]
    return parent, code


def _gram_cosine(left: pa.Array, right: pa.Array, words: WordWeights) -> np.ndarray:
    """Cosine of the values' 3-gram sets weighted by rarity (log inverse document frequency). The vectors are
    built once per distinct value of the batch (a record is in many candidate pairs), then paired in SciPy."""
    encoded = pa.concat_arrays([_flat(left), _flat(right)]).dictionary_encode()
    values = encoded.dictionary
    codes = np.asarray(encoded.indices).astype(np.int64)
    parent, gram = _grams(values)
    key = np.sort(parent * GRAM_SPAN + gram)
    if len(key):
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
    rows, gram = key // GRAM_SPAN, key % GRAM_SPAN
    weight = _gram_weight(gram, words)
    norm = np.sqrt(np.bincount(rows, weights=weight**2, minlength=len(values)))
    vectors = sparse.csr_matrix(
        (weight / np.maximum(norm[rows], 1e-12), (rows, gram)), shape=(len(values), int(GRAM_SPAN))
    )
    split = len(left)
    dot = vectors[codes[:split]].multiply(vectors[codes[split:]]).sum(axis=1)
    return np.asarray(dot, dtype=np.float64).ravel()


def _gram_weight(codes: np.ndarray, words: WordWeights) -> np.ndarray:
    """The 3-grams' weights; grams the sample lacks weigh as a word seen once."""
    if not len(words.grams):
        return np.full(len(codes), words.unseen)
    pos = np.minimum(np.searchsorted(words.grams, codes), len(words.grams) - 1)
    return np.where(words.grams[pos] == codes, words.gram_weights[pos], words.unseen)


def _weighted_shares(
    left: pa.Array, right: pa.Array, words: WordWeights, grams: bool = True
) -> dict[str, np.ndarray]:
    """The WEIGHTED similarities of the pairs of values (neither null; without ``grams``, not "wgrams"),
    vectorised: both sides' words encoded in one dictionary, shared words found by key, weights summed per
    pair."""
    count = len(left)
    sides = []
    for column in (left, right):
        split = pc.split_pattern(column, " ")
        sides.append((pc.list_flatten(split), np.asarray(pc.list_parent_indices(split))))
    # One array, then one dictionary: encoding a chunked array and combining its chunks' dictionaries took
    # 0.95 s for 70k pairs of affiliations, this 0.02 s.
    encoded = pa.concat_arrays([_flat(sides[0][0]), _flat(sides[1][0])]).dictionary_encode()
    vocabulary = encoded.dictionary
    weight = _vocabulary_weights(vocabulary, words)
    codes = np.asarray(encoded.indices).astype(np.int64)
    split_at = len(sides[0][0])
    span = np.int64(len(vocabulary))
    totals, keys = [], []
    for parent, code in ((sides[0][1], codes[:split_at]), (sides[1][1], codes[split_at:])):
        # Each word once per value, by a sort (NumPy 2.4's plain np.unique is far slower: see design.md).
        key = np.sort(parent.astype(np.int64) * span + code)
        key = key[np.concatenate([[True], key[1:] != key[:-1]])]
        keys.append(key)
        totals.append(np.bincount(key // span, weights=weight[key % span], minlength=count))
    shared_keys = keys[0][np.isin(keys[0], keys[1], assume_unique=True)]
    shared = np.bincount(shared_keys // span, weights=weight[shared_keys % span], minlength=count)
    with np.errstate(invalid="ignore", divide="ignore"):
        union = totals[0] + totals[1] - shared
        lighter = np.minimum(totals[0], totals[1])
        out = {
            "wjac": np.where(union > 0, shared / union, 0.0),
            "wcont": np.where(lighter > 0, shared / lighter, 0.0),
        }
    return out | ({"wgrams": _gram_cosine(left, right, words)} if grams else {})


def _vocabulary_weights(vocabulary: pa.Array, words: WordWeights) -> np.ndarray:
    """The weight of each word of a batch's dictionary; the empty word weighs nothing."""
    known = pc.index_in(vocabulary, value_set=words.words)
    weight = np.where(
        np.asarray(pc.is_valid(known)),
        words.weights[np.asarray(pc.fill_null(known, 0))] if len(words.weights) else words.unseen,
        words.unseen,
    )
    weight[np.asarray(pc.equal(vocabulary, ""))] = 0.0
    return np.asarray(weight, dtype=np.float64)


# Every word alike (weight 1), where a spec has no weights for a column (`feature_spec` without them).
_UNWEIGHTED = WordWeights(pa.array([], pa.string()), np.zeros(0), 1.0)


def numbers_key(alias: str) -> str:
    """The key of a column's digit-run weights in `FeatureSpec.words`."""
    return f"n_{alias}"


def _number_match(
    left: pa.ChunkedArray | pa.Array, right: pa.ChunkedArray | pa.Array, words: WordWeights | None
) -> np.ndarray:
    """The "numbers" feature for pairs of values' digit runs (`profile.digit_runs_sql`: space-separated, NULL
    for none): the weighted Jaccard share of the distinct runs (``words``; all alike without), NaN where a side
    has none."""
    left, right = _flat(left), _flat(right)
    out = np.full(len(left), np.nan, dtype=np.float32)
    missing = _mask(pc.is_null(left)) | _mask(pc.is_null(right))
    equal = _mask(pc.equal(left, right)) & ~missing
    out[equal] = 1.0
    rows = np.flatnonzero(~missing & ~equal)
    if len(rows):
        index = pa.array(rows)
        shares = _weighted_shares(left.take(index), right.take(index), words or _UNWEIGHTED, grams=False)
        out[rows] = shares["wjac"]
    return out


def codes_key(alias: str) -> str:
    """The key of a column's code weights in `FeatureSpec.words`."""
    return f"k_{alias}"


def _code_match(
    left_codes: pa.ChunkedArray | pa.Array,
    right_codes: pa.ChunkedArray | pa.Array,
    left: pa.ChunkedArray | pa.Array,
    right: pa.ChunkedArray | pa.Array,
    words: WordWeights | None,
) -> tuple[np.ndarray, np.ndarray]:
    """`CODES` and `RAREST_CODE` for pairs of values with their codes (`profile.codes_sql`: space-separated,
    NULL for none): each value's codes found in the other value with everything but letters and digits gone,
    as a share of its codes' weight (``words``; all alike without), the larger of the two values' shares; and
    the weight of the rarest code found (0 for none). NaN where neither value holds a code, or one holds none
    and none of the other's. Vectorised: one substring search per (pair, code)."""
    n = len(left)
    compact = [
        pc.replace_substring_regex(pc.fill_null(column, ""), "[^a-z0-9]", "") for column in (left, right)
    ]
    shares = np.full((2, n), np.nan)
    rarest = np.zeros(n)
    for side, (codes, other) in enumerate(((left_codes, compact[1]), (right_codes, compact[0]))):
        split = pc.split_pattern(codes, " ")
        flat = _flat(pc.list_flatten(split))
        if len(flat) == 0:
            continue
        parent = np.asarray(pc.list_parent_indices(split)).astype(np.int64)
        weight = _vocabulary_weights(flat, words or _UNWEIGHTED)
        hay = np.asarray(_strings(_flat(other).take(pa.array(parent))), dtype=np.dtypes.StringDType())
        needle = np.asarray(_strings(flat), dtype=np.dtypes.StringDType())
        found = np.strings.find(hay, needle) >= 0
        total = np.bincount(parent, weights=weight, minlength=n)
        held = np.bincount(parent, weights=weight * found, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares[side] = np.where(total > 0, held / total, np.nan)
        np.maximum.at(rarest, parent[found], weight[found])
    share = np.fmax(shares[0], shares[1])
    # A value without codes that holds none of the other's tells nothing either way, as before codes were
    # looked for inside values (two codes that differ do).
    share[(np.isnan(shares[0]) | np.isnan(shares[1])) & (share == 0)] = np.nan
    rarest[np.isnan(share)] = np.nan
    return np.asarray(share, dtype=np.float32), np.asarray(rarest, dtype=np.float32)


def _segment_match(
    left: pa.ChunkedArray | pa.Array, right: pa.ChunkedArray | pa.Array, words: WordWeights
) -> tuple[np.ndarray, np.ndarray]:
    """`SEGMENTS` for pairs of values whose parts are separated by ``|`` (`profile.segments_sql`): each part's
    best weighted Jaccard with the other value's parts, averaged by part weight over each value, then over
    the two; NaN where a value is missing or weighs nothing. And `RAREST`: the weight of the heaviest word
    both values hold (0 for none, NaN where a value is missing). Vectorised: the parts that share a word are found
    by joining the two sides' (pair, word) keys, so parts that share nothing cost nothing."""
    n = len(left)
    pair_of_part, part_of_word, tokens = [], [], []
    for column in (left, right):
        parts = pc.split_pattern(pc.fill_null(_flat(column), ""), "|")
        pair_of_part.append(np.asarray(pc.list_parent_indices(parts)).astype(np.int64))
        split = pc.split_pattern(pc.utf8_trim_whitespace(pc.list_flatten(parts)), " ")
        part_of_word.append(np.asarray(pc.list_parent_indices(split)).astype(np.int64))
        tokens.append(_flat(pc.list_flatten(split)))
    encoded = pa.concat_arrays(tokens).dictionary_encode()
    weight = _vocabulary_weights(encoded.dictionary, words)
    codes = np.asarray(encoded.indices).astype(np.int64)
    span = np.int64(max(len(weight), 1))
    keys, owners, part_weight = [], [], []
    for side, code in enumerate((codes[: len(tokens[0])], codes[len(tokens[0]) :])):
        # Each word once per part; a part's weight is its words' weight.
        unique = distinct_sorted(part_of_word[side] * span + code)
        part, word = unique // span, unique % span
        part_weight.append(np.bincount(part, weights=weight[word], minlength=len(pair_of_part[side])))
        keys.append(pair_of_part[side][part] * span + word)
        owners.append(part)
    # Every (left part, right part) that share a word, with the word's weight: a join on (pair, word).
    order = np.argsort(keys[1], kind="stable")
    right_keys, right_parts = keys[1][order], owners[1][order]
    lo = np.searchsorted(right_keys, keys[0], "left")
    hits = np.searchsorted(right_keys, keys[0], "right") - lo
    from_left = np.repeat(np.arange(len(keys[0])), hits)
    step = np.arange(int(hits.sum())) - np.repeat(np.cumsum(hits) - hits, hits)
    part_l = owners[0][from_left]
    part_r = right_parts[np.repeat(lo, hits) + step]
    shared_weight = weight[keys[0][from_left] % span]
    rarest = np.zeros(n)
    np.maximum.at(rarest, pair_of_part[0][part_l], shared_weight)
    # Summed per pair of parts, then each part's best Jaccard.
    width = np.int64(max(len(part_weight[1]), 1))
    pair_key = part_l * width + part_r
    order = np.argsort(pair_key, kind="stable")
    pair_key, shared_weight = pair_key[order], shared_weight[order]
    first = (
        np.flatnonzero(np.concatenate([[True], pair_key[1:] != pair_key[:-1]])) if len(pair_key) else EMPTY
    )
    shared = np.add.reduceat(shared_weight, first) if len(first) else np.zeros(0)
    part_l, part_r = pair_key[first] // width, pair_key[first] % width
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = shared / (part_weight[0][part_l] + part_weight[1][part_r] - shared)
    sides = []
    for side, part in ((0, part_l), (1, part_r)):
        best = np.zeros(len(part_weight[side]))
        np.maximum.at(best, part, np.nan_to_num(jaccard))
        total = np.bincount(pair_of_part[side], weights=part_weight[side], minlength=n)
        found = np.bincount(pair_of_part[side], weights=part_weight[side] * best, minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            sides.append(np.where(total > 0, found / total, np.nan))
    out = 0.5 * (sides[0] + sides[1])
    missing = _mask(pc.is_null(left)) | _mask(pc.is_null(right))
    out[missing] = rarest[missing] = np.nan
    return np.asarray(out, dtype=np.float32), np.asarray(rarest, dtype=np.float32)


def _flat(array: pa.ChunkedArray | pa.Array) -> pa.Array:
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _needle_first(left: pa.Array, right: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Each pair as (its shorter value cut to PARTIAL_CHARS, its longer value), for the partial ratio."""
    # Neither side is null: `_taken` filled the missing values.
    mask = pc.less_equal(pc.utf8_length(left), pc.utf8_length(right))
    needle = pc.utf8_slice_codeunits(pc.if_else(mask, left, right), 0, PARTIAL_CHARS)
    return _strings(needle), _strings(pc.if_else(mask, right, left))


def compute_features(spec: FeatureSpec, batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """The feature matrix (float32, NaN for missing) for a batch produced by `pairs_sql`."""
    batch, swapped = _orient(spec, batch) if spec.swaps else (batch, [])
    n = batch.num_rows
    out = np.empty((n, len(spec.names)), dtype=np.float32)
    j = 0
    agree = np.zeros(n, dtype=np.float32)
    both = np.zeros(n, dtype=np.float32)
    one_sided = np.zeros(n, dtype=np.float32)
    for p in spec.profiles:
        lcol, rcol = batch.column(f"l_{p.alias}"), batch.column(f"r_{p.alias}")
        lmiss, rmiss = _mask(pc.is_null(lcol)), _mask(pc.is_null(rcol))
        miss = lmiss | rmiss
        one_sided += (lmiss ^ rmiss).astype(np.float32)
        exact = _mask(pc.equal(lcol, rcol))
        present = ~miss
        agree += (exact & present).astype(np.float32)
        both += present.astype(np.float32)
        comps = _comparisons(p, p.alias in spec.words)
        measured = [c for c in comps if c in _SCORERS or c in WEIGHTED]
        sims = _similarities(measured, lcol, rcol, exact | miss, spec.words.get(p.alias))
        for comp in comps:
            if comp == "exact":
                col = exact.astype(np.float32)
            elif comp == SEGMENTS:
                col, rarest = _segment_match(
                    batch.column(f"ls_{p.alias}"), batch.column(f"rs_{p.alias}"), spec.words[p.alias]
                )
            elif comp == RAREST:
                col = rarest  # computed with SEGMENTS, which comes first
            elif comp == CODES:
                col, rarest_code = _code_match(
                    batch.column(f"lk_{p.alias}"),
                    batch.column(f"rk_{p.alias}"),
                    lcol,
                    rcol,
                    spec.words.get(codes_key(p.alias)),
                )
            elif comp == RAREST_CODE:
                col = rarest_code  # computed with CODES, which comes first
            elif comp == "numbers":
                col = _number_match(
                    batch.column(f"ln_{p.alias}"),
                    batch.column(f"rn_{p.alias}"),
                    spec.words.get(numbers_key(p.alias)),
                )
            elif comp == "reldiff":
                col = np.asarray(
                    pc.fill_null(batch.column(f"d_{p.alias}"), np.nan).to_numpy(zero_copy_only=False),
                    dtype=np.float32,
                )
            else:
                col = sims[comp]
            col[miss] = np.nan
            out[:, j] = col
            j += 1
        if p.counts_values:
            # How rare the shared value is (log of inverse frequency); 0 when the values differ.
            freq = np.maximum(
                _numbers(batch.column(f"fl_{p.alias}")), _numbers(batch.column(f"fr_{p.alias}"))
            )
            rarity = np.where(exact, np.log(1e6 / np.clip(freq, 1, None)), 0.0)
            rarity[miss] = np.nan
            out[:, j] = rarity
            j += 1
    lrec, rrec = batch.column("l_rec"), batch.column("r_rec")
    # Two empty records score 0 (as rapidfuzz scores empty strings), not 1.
    same = _mask(pc.equal(lrec, rrec)) & _mask(pc.greater(pc.utf8_length(pc.fill_null(lrec, "")), 0))
    # Whole-record similarity in column order, and with tokens sorted (values moved between columns). The plain
    # ratio replaced the token-set ratio: mean teach-loop F1 0.976 → 0.978 on RLdata10000, 0.986 → 0.989 on
    # Fodors-Zagat, 0.9999 → 0.9990 on synth10k, and 0.2 s less CPU per 100k pairs.
    sims = _similarities(["ratio", "tsort"], lrec, rrec, same)
    out[:, j] = sims["ratio"]
    out[:, j + 1] = sims["tsort"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, j + 2] = np.where(both > 0, agree / np.maximum(both, 1), np.nan)
    out[:, j + 3] = both
    # How many columns only one record has, so the model learns whether a missing value tells (a second given
    # name in a census record) or not (a shop leaving out descriptions). On 30k synthetic catalogue records, a
    # tenth without a description, pairwise F1 0.906 -> 0.991. Whole-record similarities over the shared
    # columns only did better there (1.000) and on bench/synth_products.py (0.81 against 0.74), but worse on
    # persons: RLdata10000 0.973 against 0.978 (eight teach loops), 10M synthetic F1 0.9939 against 0.9965
    # (namesakes lacking the values that told them apart).
    out[:, j + 4] = one_sided
    j += 5
    if RECORD in spec.words:
        # Missing values join as empty words, which weigh nothing (pyarrow 26's null_handling="skip" drops
        # the rows whose values are all missing).
        bags = [
            pc.utf8_trim_whitespace(
                pc.binary_join_element_wise(
                    *(
                        pc.fill_null(batch.column(f"{side}_{p.alias}"), "")
                        for p in bag_profiles(spec.profiles)
                    ),
                    " ",
                )
            )
            for side in ("l", "r")
        ]
        empty = _mask(pc.equal(bags[0], "")) | _mask(pc.equal(bags[1], ""))
        equal = _mask(pc.equal(bags[0], bags[1])) & ~empty
        shares = _similarities(
            list(RECORD_WEIGHTED), bags[0], bags[1], equal, spec.words[RECORD], grams=False
        )
        for comp in RECORD_WEIGHTED:
            shares[comp][empty] = np.nan
            out[:, j] = shares[comp]
            j += 1
    if codes_key(RECORD) in spec.words:
        out[:, j], out[:, j + 1] = _code_match(
            batch.column("lk_rec"), batch.column("rk_rec"), lrec, rrec, spec.words[codes_key(RECORD)]
        )
        j += 2
    for k, flag in enumerate(swapped):
        out[:, j + k] = flag
    return out


# A pair's values are compared crosswise when that matches better by this margin (Indel similarity).
SWAP_MARGIN = 0.1


def _orient(spec: FeatureSpec, batch: pa.RecordBatch | pa.Table) -> tuple[pa.Table, list[np.ndarray]]:
    """The batch with the right record's values of each swappable column pair exchanged where they match the
    left record's crosswise better than straight (one record's artist in the other's title), and per pair a
    0/1 flag of the swapped rows (NaN where a value is missing). Splink compares such columns "reversed" in
    one comparison level; here every comparison of the two columns sees the values aligned."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    flags = []
    for a, b in spec.swaps:
        la, ra, lb, rb = (table.column(f"{side}_{c}") for c in (a, b) for side in ("l", "r"))
        missing = np.zeros(table.num_rows, dtype=bool)
        for column in (la, ra, lb, rb):
            missing |= _mask(pc.is_null(column))
        # Candidates for a swap: both columns differ, and each value starts as the other's crosswise value does
        # (a cheap test in Arrow that leaves most pairs of a person register out of the string work).
        differ = ~_mask(pc.equal(la, ra)) & ~_mask(pc.equal(lb, rb))
        initial = [pc.utf8_slice_codeunits(c, 0, 1) for c in (la, ra, lb, rb)]
        crosswise = _mask(pc.equal(initial[0], initial[3])) & _mask(pc.equal(initial[2], initial[1]))
        swap = np.zeros(table.num_rows, dtype=bool)
        rows = np.flatnonzero(differ & crosswise & ~missing)
        if len(rows):
            cut = {
                key: _strings(_taken(col, rows))
                for key, col in (("la", la), ("ra", ra), ("lb", lb), ("rb", rb))
            }
            cross = np.minimum(_score("ratio", cut["la"], cut["rb"]), _score("ratio", cut["lb"], cut["ra"]))
            straight_sim = np.minimum(
                _score("ratio", cut["la"], cut["ra"]), _score("ratio", cut["lb"], cut["rb"])
            )
            swap[rows] = cross > straight_sim + SWAP_MARGIN
        flag = swap.astype(np.float32)
        flag[missing] = np.nan
        flags.append(flag)
        if swap.any():
            mask = pa.array(swap)
            for prefix in ("r_", "fr_", "rk_", "rn_"):
                x, y = f"{prefix}{a}", f"{prefix}{b}"
                if x in table.column_names and y in table.column_names:
                    cx, cy = table.column(x), table.column(y)
                    if cx.type == cy.type:
                        table = table.set_column(table.column_names.index(x), x, pc.if_else(mask, cy, cx))
                        table = table.set_column(table.column_names.index(y), y, pc.if_else(mask, cx, cy))
    return table, flags


def agreement_patterns(spec: FeatureSpec, x: np.ndarray) -> np.ndarray:
    """One integer per row of the feature matrix ``x``: the bit set of the columns whose values agree exactly."""
    exact = [j for j, name in enumerate(spec.names) if name.endswith(":exact")]
    bits = np.nan_to_num(x[:, exact], nan=0.0) > 0.5
    return np.asarray(bits @ (1 << np.arange(len(exact), dtype=np.int64)), dtype=np.int64)


def iter_features(
    session: Session, spec: FeatureSpec, pairs: str, batch_rows: int = BATCH_ROWS
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (left rids, right rids, features) for the pairs relation, batch by batch."""
    for batch in session.backend.stream(pairs_sql(spec, pairs), batch_rows):
        session.check()
        if batch.num_rows == 0:
            continue
        left = batch.column("l").to_numpy().astype(np.int64)
        right = batch.column("r").to_numpy().astype(np.int64)
        yield left, right, compute_features(spec, batch)


def features_for(session: Session, spec: FeatureSpec, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Features for explicit pairs, returned in the given order."""
    if len(left) == 0:
        return np.zeros((0, len(spec.names)), dtype=np.float32)
    session.backend.register(
        "fm_pairs_tmp", pa.table({"l": left, "r": right, "i": np.arange(len(left), dtype=np.int64)})
    )
    out = np.zeros((len(left), len(spec.names)), dtype=np.float32)
    table = session.backend.query(
        pairs_sql(spec, "SELECT l, r, i FROM fm_pairs_tmp").replace("SELECT q.l", "SELECT q.i, q.l", 1)
    )
    idx = table.column("i").to_numpy()
    out[idx] = compute_features(spec, table)
    return out
