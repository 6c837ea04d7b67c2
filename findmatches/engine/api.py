"""The engine's three entry points: labeling-set generation, evaluation, and matching."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from findmatches.engine.active import seed_order, select_sets, set_sizes
from findmatches.engine.backend import Backend, quote_ident, sample_hash, typed_records
from findmatches.engine.blocking import CANDIDATES, build_candidates
from findmatches.engine.clustering import Around, Clusters, PairScorer, choose_link_cut, cluster
from findmatches.engine.explain import explain_matches
from findmatches.engine.features import (
    FeatureSpec,
    agreement_patterns,
    cheap_similarity,
    compute_features,
    features_for,
    grouped_words,
    pairs_sql,
    session_spec,
    word_keys,
)
from findmatches.engine.incremental import (
    ID_EXPRESSIONS,
    ExistingGroups,
    assign_ids,
    distinct_sorted,
    fresh_ids,
    group_links,
    in_sorted,
    keep_snapshot,
    load_existing,
    write_merges,
)
from findmatches.engine.metrics import column_importances, cross_validate
from findmatches.engine.model import MatchModel
from findmatches.engine.neighbourhood import MAX_PATHS, Agreement, Neighbourhoods
from findmatches.engine.reach import reachable
from findmatches.engine.session import (
    LABELS,
    NORM,
    RECORDS,
    Session,
    join_snapshots,
    open_session,
    release_population,
    threshold,
)
from findmatches.engine.snapshot import kept_held_out, kept_keys, key_fingerprint, read_snapshot
from findmatches.engine.sources import (
    Sources,
    assignment_threshold,
    detect_pairs,
    detect_schemas,
    detect_sources,
    held_slots,
    one_to_one,
)
from findmatches.engine.types import (
    ColumnImportance,
    EngineError,
    EvaluationResult,
    ExistingMatches,
    KeepSnapshots,
    LogFn,
    MatchParams,
    RecordSource,
    StopFn,
)

ACTIVE_MAX_PAIRS = 3_000_000
BATCH_ROWS = 100_000
PREFILTER_MIN_PAIRS = 200_000
PREFILTER_SAMPLE = 20_000
PREFILTER_MIN_POSITIVES = 50
PREFILTER_MARGIN = 0.05
PREFILTER_MAX_CUTOFF = 0.5
# The share of the links (least supported first) the pre-filter may drop.
PREFILTER_LINK_LOSS = 0.002


def _label_features(session: Session, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """The labelled pairs' features and 0/1 labels."""
    left, right, y = session.labelled
    kept = session.label_features
    x = kept[1] if kept is not None and kept[0] is spec else features_for(session, spec, left, right)
    session.check()
    return x, y


def _labelled_keys(session: Session) -> list[tuple[str, str]]:
    """The labelled pairs' primary keys, the smaller first (as snapshots keep held-out probabilities)."""
    left, right, _ = session.labelled
    if len(left) == 0:
        return []
    got = session.backend.query(f"SELECT _rid, _pk FROM {NORM} WHERE _rid IN (SELECT _rid FROM {LABELS})")
    pk = dict(zip(got.column("_rid").to_pylist(), got.column("_pk").to_pylist(), strict=True))
    pairs = [(str(pk[int(a)]), str(pk[int(b)])) for a, b in zip(left, right, strict=True)]
    return [(a, b) if a <= b else (b, a) for a, b in pairs]


def _log_trained(session: Session, model: MatchModel, y: np.ndarray) -> None:
    session.log(
        f"Trained on {len(y)} labelled pairs ({int(y.sum())} matches)"
        if model.supervised
        else "Labels lack a match or a non-match: scoring by unsupervised similarity."
    )


def _train(
    session: Session, spec: FeatureSpec, seed: int = 0, committee: bool = True
) -> tuple[MatchModel, np.ndarray, np.ndarray]:
    x, y = _label_features(session, spec)
    model = MatchModel(spec, seed).fit(x, y, committee=committee)
    _log_trained(session, model, y)
    return model, x, y


def _scorer(session: Session, spec: FeatureSpec, model: MatchModel) -> PairScorer:
    """Scores for explicit pairs (l < r), in their order: one streamed query on the scoring thread pool,
    as the candidates are scored (at 10M records a join of each small batch to every record took minutes)."""

    def score(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        if len(left) == 0:
            return np.zeros(0)
        session.backend.register("fm_score_pairs", pa.table({"l": left, "r": right}))
        got_l, got_r, got_p, _, _ = _score_candidates(
            session, spec, model, "SELECT l, r FROM fm_score_pairs", quiet=True
        )
        n = np.int64(session.num_records)
        want = left.astype(np.int64) * n + right.astype(np.int64)
        got = got_l * n + got_r
        order = np.argsort(got)
        pos = order[np.searchsorted(got[order], want)]
        return np.asarray(got_p[pos], dtype=np.float64)

    return score


# Left rids, right rids, probabilities, committee spreads, agreement patterns.
_Scored = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
_SCORES = pa.schema([("l", pa.int64()), ("r", pa.int64()), ("p", pa.float64())])
_VOTES = _SCORES.append(pa.field("spread", pa.float64())).append(pa.field("pattern", pa.int64()))


class _PairScores:
    """A batch of pairs with both records' values (`pairs_sql`) to their ids and match probabilities, and
    with ``committee``, the committee's spread and the `agreement_patterns`: the function the backend maps
    where the data is (`Backend.map_batches`), a module-level class so that Spark's executors unpickle it
    by importing this module."""

    def __init__(
        self, spec: FeatureSpec, model: MatchModel, committee: bool, min_cheap: float | None = None
    ) -> None:
        self.spec = spec
        self.model = model
        self.committee = committee
        self.schema = _VOTES if committee else _SCORES
        #: Pairs under this `cheap_similarity` are left out here (where the query could not leave them out).
        self.min_cheap = min_cheap

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.min_cheap is not None:
            batch = batch.filter(pa.array(cheap_similarity(self.spec, batch) >= self.min_cheap))
        x = compute_features(self.spec, batch)
        columns = [
            batch.column("l").cast(pa.int64()),
            batch.column("r").cast(pa.int64()),
            self.model.predict(x),
        ]
        if self.committee:
            votes = self.model.committee(x)
            columns.append(votes.std(axis=0) if len(votes) else np.zeros(len(x)))
            columns.append(agreement_patterns(self.spec, x))
        return pa.record_batch(columns, schema=self.schema)


def _score_candidates(
    session: Session,
    spec: FeatureSpec,
    model: MatchModel,
    pairs: str,
    committee: bool = False,
    min_cheap: float | None = None,
    quiet: bool = False,
) -> _Scored:
    """Score the pairs relation where the data is, batch by batch (`_PairScores`, `Backend.map_batches`).
    With ``committee``, also the committee's spread and the `agreement_patterns` of the pairs (else empty).
    Pairs under ``min_cheap`` are left out by the query, or where the backend's SQL functions are Python
    functions (`Backend.python_functions`), by the mapped function."""
    parts: list[pa.RecordBatch] = []
    done = logged = 0
    mapped = session.backend.python_functions
    scores = _PairScores(spec, model, committee, min_cheap if mapped else None)
    for batch in session.backend.map_batches(
        pairs_sql(spec, pairs, min_cheap=None if mapped else min_cheap), scores, scores.schema, BATCH_ROWS
    ):
        session.check()
        parts.append(batch)
        done += batch.num_rows
        if not quiet and done - logged >= BATCH_ROWS:
            session.log(f"Scored {done} candidate pairs.")
            logged = done
    if not quiet and done > logged:
        session.log(f"Scored {done} candidate pairs.")
    got = pa.Table.from_batches(parts, schema=scores.schema)

    def column(name: str, dtype: type[np.generic]) -> np.ndarray:
        return np.asarray(got.column(name).to_numpy(), dtype=dtype)

    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0)
    return (
        column("l", np.int64),
        column("r", np.int64),
        column("p", np.float64),
        column("spread", np.float64) if committee else empty_f,
        column("pattern", np.int64) if committee else empty_i,
    )


def prefilter_cutoff(cheap: np.ndarray, link: np.ndarray, loss: float = PREFILTER_LINK_LOSS) -> float | None:
    """The cheap-similarity cutoff for a sample of candidates: the ``loss`` quantile of the links' cheap
    similarities (``link``: the model scores the pair at least the threshold), less a margin. None when the
    sample holds too few links to tell."""
    if int(link.sum()) < PREFILTER_MIN_POSITIVES:
        return None
    return min(PREFILTER_MAX_CUTOFF, float(np.quantile(cheap[link], loss)) - PREFILTER_MARGIN)


# Candidates scored under this by the first scores keep them when words are weighed by entities (`_by_entities`):
# most candidates of a large table of phrases are far from a match under either weighing. Scoring every one
# again took music's run (9,800 records, 249k candidates) from 18.7 s to 31.4 s; those above the floor alone,
# 18.4 s, and the F1 of every set measured (music seed 0; affiliations, orgs, orgs_geo, PatentsView's name
# blocks at seeds 0-1) is the same to four decimals.
RESCORE_FLOOR = 0.01
RESCORED = "fm_rescored"


def _by_entities(
    session: Session,
    spec: FeatureSpec,
    first: MatchModel,
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
    t: float,
    cutoff: float | None,
    existing: ExistingGroups | None = None,
) -> tuple[FeatureSpec, MatchModel, np.ndarray | None, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The spec with words weighed by the entities that the candidates' first scores cluster into
    (`grouped_words`), and the ``existing`` groups' records by those groups, the model fitted again on the
    labels under it with their held-out probabilities, and the candidates scored again (those the first
    scores put under `RESCORE_FLOOR` keep them)."""
    left, right, prob = scored
    found = cluster(session.num_records, left, right, prob, t, score_pairs=_scorer(session, spec, first))
    group = found.representative
    if existing is not None and len(existing.rids):
        _, dense = np.unique(existing.ids, return_inverse=True)
        group[existing.rids] = session.num_records + dense
    grouped = grouped_words(session, spec, group)
    x, y = _label_features(session, grouped)
    model = MatchModel(grouped, 0).fit(x, y, committee=False)
    oof = _out_of_fold(session, grouped, x, y)
    again = prob >= RESCORE_FLOOR
    session.backend.register(RESCORED, pa.table({"l": left[again], "r": right[again]}))
    sl, sr, sp, _, _ = _score_candidates(session, grouped, model, f"SELECT l, r FROM {RESCORED}", quiet=True)
    session.backend.execute(f"DROP TABLE IF EXISTS {RESCORED}")
    n = np.int64(session.num_records)
    order = np.argsort(sl * n + sr)
    prob = prob.copy()
    prob[again] = sp[order][np.searchsorted((sl * n + sr)[order], left[again] * n + right[again])]
    session.log(
        f"Words weighed by the {len(np.unique(group))} entities found: "
        f"{int((prob >= t).sum())} candidate pairs score at least the threshold {t:.2f}."
    )
    return grouped, model, oof, (left, right, prob)


def _prefilter_cutoff(
    session: Session, spec: FeatureSpec, model: MatchModel, keep_min: float, total: int
) -> float | None:
    """The cheap-similarity cutoff below which no candidate pair is worth the full features, calibrated on a
    sample of the candidates against the model itself (`prefilter_cutoff`). A link (a pair the model scores
    at least ``keep_min``, the threshold) that few columns support is the least reliable, and the links of a
    few such would otherwise keep nearly every candidate (97% at 10M records with the minimum). Pairs
    scoring below the threshold matter only as weak links. None (no filter) for few candidates or no
    trained model."""
    if total < PREFILTER_MIN_PAIRS or not model.supervised:
        return None
    modulus = max(1, total // PREFILTER_SAMPLE)
    sample = f"SELECT l, r FROM {CANDIDATES} WHERE {sample_hash('l', 'r')} % {modulus} = 0"
    mapped = session.backend.python_functions  # the similarity is computed here, not by a Python UDF
    table = session.backend.query(pairs_sql(spec, sample, with_cheap=not mapped))
    if table.num_rows == 0:
        return None
    p = model.predict(compute_features(spec, table))
    cheap = (
        cheap_similarity(spec, table)
        if mapped
        else np.nan_to_num(table.column("cheap").to_numpy(zero_copy_only=False).astype(np.float64), nan=0.0)
    )
    link = p >= keep_min
    cutoff = prefilter_cutoff(cheap, link)
    if cutoff is None:
        session.log(f"Pre-filter off: {int(link.sum())} likely matches in a sample of {len(p)} candidates.")
        return None
    kept = float((cheap >= cutoff).mean())
    session.log(
        f"Pre-filter: cheap similarity >= {cutoff:.3f} keeps {kept:.1%} of a sample of {len(p)} candidates "
        f"and {float((cheap[link] >= cutoff).mean()):.2%} of its {int(link.sum())} pairs scoring at least "
        f"{keep_min:.2f}."
    )
    return cutoff


def _out_of_fold(session: Session, spec: FeatureSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """The labelled pairs' out-of-fold probabilities (folds by labeling set); None without both classes."""
    if y.sum() == 0 or y.sum() == len(y):
        return None
    sets = session.label_pairs.column("set_id").to_pylist()
    _, groups = np.unique(np.asarray(sets, dtype=str), return_inverse=True)
    _, oof = cross_validate(spec, x, y, groups, 0.5)
    return oof


def _detect_pairs(
    session: Session,
    scored: tuple[np.ndarray, np.ndarray, np.ndarray],
    t: float,
    groups: ExistingGroups | None,
) -> Sources | None:
    """`detect_pairs` on the pairs scoring at least ``t`` and, in an incremental run, the existing groups'
    links among the records those reach: the pairs between existing records are not candidates again, so
    without them the existing groups of three or more looked like pairs, and the new records were linked one
    to one to records of those groups (600 persons in three increments: pairwise precision 0.959 where the
    runs over everything gave 1.000). Not pairs where those groups are too large to list."""
    left, right, prob = scored
    links = prob >= t
    if groups is not None:
        known = groups.links_within(np.concatenate([left[links], right[links]]).astype(np.int64), MAX_PATHS)
        if known is None:
            return None
        left, right = np.concatenate([left, known[0]]), np.concatenate([right, known[1]])
        links = np.concatenate([links, np.ones(len(known[0]), dtype=bool)])
    return detect_pairs(session, left, right, links)


def _agreement(
    session: Session,
    y: np.ndarray,
    oof: np.ndarray | None,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    t: float,
    groups: ExistingGroups | None,
) -> Agreement | None:
    """The recalibration by neighbourhood overlap (`findmatches.engine.neighbourhood`), fitted on the labelled
    pairs' out-of-fold probabilities ``oof``; None where it does not apply. In an incremental run the pairs
    between existing records are not candidates, so the existing groups that the candidates and the labels
    reach count as confident links: without them an existing record's neighbourhood is only its new partners,
    and overlaps (and the fit on them) are not those a full run sees."""
    if oof is None:
        return None
    ll, lr, _ = session.labelled
    known = None
    if groups is not None:
        known = groups.links_within(np.concatenate([left, right, ll, lr]).astype(np.int64), MAX_PATHS)
        if known is None:
            return None
    neighbourhoods = Neighbourhoods.of(session.num_records, left, right, prob, t, known)
    if neighbourhoods is None:
        return None
    return Agreement.fit(neighbourhoods, ll, lr, oof, y, t)


def _link_cut(
    session: Session,
    y: np.ndarray,
    oof: np.ndarray | None,
    agreement: Agreement | None,
    t: float,
    around: Around | None,
) -> float | None:
    """The average-linkage cut that best rebuilds the labelled groups from their held-out probabilities
    (recalibrated as the candidates are), in their neighbourhoods of ``around`` where given, by
    `choose_link_cut`; None (the threshold) without them."""
    if oof is None:
        return None
    ll, lr, _ = session.labelled
    held = agreement.predict(ll, lr, oof) if agreement is not None else oof
    cut, tried = choose_link_cut(ll, lr, y, held, t, around)
    if cut < t:
        session.log(
            f"Groups merge inside components when their average link is at least {cut:.2f}: that rebuilds the "
            f"labelled groups best (pairwise F1 {tried[cut]:.3f}, against {tried[t]:.3f} at {t:.2f})."
        )
    return cut


def _agreeing(scorer: PairScorer, agreement: Agreement) -> PairScorer:
    """``scorer`` recalibrated by ``agreement``."""

    def score(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return agreement.predict(left, right, scorer(left, right))

    return score


def generate_labeling_set(
    source: RecordSource,
    params: MatchParams,
    labels: pa.Table,
    *,
    out_path: Path,
    target_records: int = 100,
    seed: int = 0,
    log: LogFn | None = None,
    should_stop: StopFn | None = None,
    temp_dir: Path | None = None,
) -> int:
    """Write a labeling file (labeling_set_id, empty label, then the source columns) of ~``target_records``
    unlabelled records in ~10 neighbourhood sets chosen by active learning; return the records written.
    ``temp_dir``, here and in the other entry points: where the backend spills (else
    ``FINDMATCHES_ENGINE_TMP`` or the system's temp dir)."""
    started = time.monotonic()
    with open_session(source, params, labels, log, should_stop, temp_dir=temp_dir) as session:
        spec = session_spec(session)
        model, _, _ = _train(session, spec, seed)
        build_candidates(session)
        pairs = f"SELECT l, r FROM {CANDIDATES}"
        total = int(session.backend.query(f"SELECT count(*) AS n FROM {CANDIDATES}").column("n")[0].as_py())
        if total > ACTIVE_MAX_PAIRS:
            modulus = max(2, -(-total // ACTIVE_MAX_PAIRS))
            pairs += f" WHERE {sample_hash('l', seed=seed)} % {modulus} = 0"
            session.log(f"Considering the candidate pairs of one record in {modulus}.")
        left, right, prob, spread, pattern = _score_candidates(session, spec, model, pairs, committee=True)
        session.check()
        # Candidates arrive in whatever order the backend's threads produce them; put them in pair order so
        # that the same labels and seed always give the same labeling set.
        canonical = np.lexsort((right, left))
        left, right, prob = left[canonical], right[canonical], prob[canonical]
        spread, pattern = spread[canonical], pattern[canonical]
        rng = np.random.default_rng(seed)
        t = threshold(params) if model.supervised else 0.5
        order = seed_order(prob, spread, model.supervised, t, rng, pattern)
        sizes = set_sizes(target_records)
        sets = select_sets(session.num_records, left, right, prob, order, sizes, session.labelled_rids)
        written = _write_labeling_file(session, sets, out_path, seed)
        session.log(
            f"Wrote {written} records in {len(sets)} labeling sets to {out_path} "
            f"in {time.monotonic() - started:.1f}s."
        )
        return written


def _write_labeling_file(session: Session, sets: list[list[int]], out_path: Path, seed: int) -> int:
    rids: list[int] = []
    set_index: list[int] = []
    for i, members in enumerate(sets):
        rids.extend(members)
        set_index.extend([i] * len(members))
    be = session.backend
    be.register(
        "fm_selected",
        pa.table(
            {
                "_rid": np.asarray(rids, dtype=np.int64),
                "set_index": np.asarray(set_index, dtype=np.int64),
                "pos": np.arange(len(rids), dtype=np.int64),
            }
        ),
    )
    pks = be.query(f"SELECT s.set_index, n._pk FROM fm_selected s JOIN {NORM} n USING (_rid) ORDER BY s.pos")
    by_set: dict[int, list[str]] = {}
    for index, pk in zip(pks.column("set_index").to_pylist(), pks.column("_pk").to_pylist(), strict=True):
        by_set.setdefault(int(index), []).append(str(pk))
    ids = {
        i: f"ls-{hashlib.sha1(('|'.join(sorted(v)) + f'#{seed}').encode()).hexdigest()[:12]}"
        for i, v in by_set.items()
    }
    be.register(
        "fm_set_ids",
        pa.table({"set_index": np.asarray(list(ids), dtype=np.int64), "labeling_set_id": list(ids.values())}),
    )
    cols = ", ".join(f"r.{quote_ident(c)}" for c in session.columns)
    be.write(
        f"SELECT i.labeling_set_id, CAST(NULL AS VARCHAR) AS label, {cols} FROM fm_selected s "
        f"JOIN fm_set_ids i USING (set_index) JOIN {RECORDS} r ON r._rid = s._rid ORDER BY s.pos",
        out_path,
        "csv",
    )
    return len(rids)


def evaluate(
    source: RecordSource,
    params: MatchParams,
    labels: pa.Table,
    *,
    log: LogFn | None = None,
    should_stop: StopFn | None = None,
    temp_dir: Path | None = None,
) -> EvaluationResult:
    """Cross-validated quality of a model trained on the labels, with per-column importances."""
    with open_session(source, params, labels, log, should_stop, temp_dir=temp_dir) as session:
        y = session.labelled[2]
        if y.sum() == 0 or y.sum() == len(y):
            raise EngineError(
                "The labels need at least one matching pair and one non-matching pair "
                "(two records with the same label and two with different labels in one labeling set)."
            )
        spec = session_spec(session)
        model, x, y = _train(session, spec, committee=False)
        groups = np.asarray(session.label_pairs.column("set_id").to_pylist(), dtype=object)
        _, group_ids = np.unique(groups.astype(str), return_inverse=True)
        result, _ = cross_validate(spec, x, y, group_ids, threshold(params))
        session.check()
        build_candidates(session)
        # A column left out for want of evidence matters not at all to the model (`evidence.silent_columns`).
        profiles = {p.name: p for p in session.profiles}
        importances = column_importances(spec, model, x, y) + [
            ColumnImportance(column=c, importance=0.0)
            for name in session.silent
            for c in profiles[name].source_columns
        ]
        session.log(
            f"Evaluation: AUPRC {result.area_under_pr_curve:.4f}, precision {result.precision:.4f}, "
            f"recall {result.recall:.4f}, F1 {result.f1:.4f}"
        )
        return EvaluationResult(
            area_under_pr_curve=result.area_under_pr_curve,
            precision=result.precision,
            recall=result.recall,
            f1=result.f1,
            true_positives=result.true_positives,
            false_positives=result.false_positives,
            true_negatives=result.true_negatives,
            false_negatives=result.false_negatives,
            column_importances=importances,
            curve=result.curve,
            threshold=result.threshold,
        )


def _match_ids(session: Session, representative: np.ndarray) -> np.ndarray:
    """Each record's match_id: a hash of its cluster representative's primary key (stable while the
    representative stays), looked up in NumPy. DuckDB's fast string hash lets a few similar strings collide,
    so should two representatives share one, every id comes from MD5 instead."""
    # (NumPy 2.4's plain np.unique takes a second on a million ids: counting and sorting take 30 ms.)
    reps = np.flatnonzero(np.bincount(representative))
    for expr in ID_EXPRESSIONS[:2]:
        ids = session.backend.query(f"SELECT {expr} AS h FROM {NORM} ORDER BY _rid").column("h").to_numpy()
        taken = np.sort(ids[reps])
        if not (taken[1:] == taken[:-1]).any():
            break
    return np.asarray(ids[representative], dtype=np.int64)


_Links = tuple[np.ndarray, np.ndarray]


def _cluster_records(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    t: float,
    must: _Links,
    cannot: _Links,
    scorer: PairScorer,
    include: np.ndarray | None = None,
    evidence: np.ndarray | None = None,
    link_cut: float | None = None,
) -> Clusters:
    """`cluster` over the ``n`` records; with ``include``, over only the records the pairs and constraints
    reach and those, every other record its own cluster (the same result, at a cost that follows the pairs:
    a million untouched existing records took half a second). Representatives stay the smallest record id.
    ``evidence``, ``link_cut``: as `cluster` takes them."""
    if include is None:
        return cluster(
            n,
            left,
            right,
            prob,
            t,
            must=must,
            cannot=cannot,
            score_pairs=scorer,
            evidence=evidence,
            link_cut=link_cut,
        )
    nodes = distinct_sorted(np.concatenate([left, right, *must, *cannot, include]).astype(np.int64))

    def at(x: np.ndarray) -> np.ndarray:
        return np.searchsorted(nodes, np.asarray(x, np.int64))

    part = cluster(
        len(nodes),
        at(left),
        at(right),
        prob,
        t,
        must=(at(must[0]), at(must[1])),
        cannot=(at(cannot[0]), at(cannot[1])),
        score_pairs=lambda a, b: scorer(nodes[a], nodes[b]),
        evidence=evidence,
        link_cut=link_cut,
    )
    representative = np.arange(n, dtype=np.int64)
    representative[nodes] = nodes[part.representative]
    confidence = np.ones(n)
    confidence[nodes] = part.confidence
    return Clusters(representative, confidence, part.dropped_cannot_links)


def find_matches(
    source: RecordSource,
    params: MatchParams,
    labels: pa.Table,
    *,
    out_path: Path | str,
    out_format: Literal["csv", "parquet"],
    compute_confidence: bool,
    compute_explanations: bool = False,
    log: LogFn | None = None,
    should_stop: StopFn | None = None,
    extra: RecordSource | None = None,
    temp_dir: Path | None = None,
    existing: ExistingMatches | None = None,
    merges_path: Path | None = None,
    backend: Backend | None = None,
    keep: KeepSnapshots | None = None,
) -> int:
    """Write every input row once, its columns with their own types (CSV: the text as read), with ``match_id``
    (BIGINT) and, when asked, ``match_confidence_score`` (DOUBLE) and ``match_explanation`` (JSON text,
    `findmatches.engine.explain`) at ``out_path`` (a local path; on Spark, also an object URI, ``s3a://``,
    that its executors write); return the row count.
    The ``extra`` records (the labelled records an input lacks) are matched with the input, so that the labels
    hold, but not written.

    Incremental matching: with ``existing`` (records with the ``match_id`` a previous run gave them), the input
    holds new records only, matched against those (`findmatches.engine.incremental`); existing groups keep
    their ids, and the retired ids of groups that new records joined together are written to ``merges_path``
    (CSV: retired_match_id, match_id). Existing records given as snapshots are not normalised again;
    ``keep`` names where to keep snapshots of this run's output and of the existing records it read from
    files (`findmatches.engine.snapshot`; `SnapshotMismatch` when the given ones do not fit the input).
    ``backend``: run on this backend (left open) instead of a new one."""
    started = time.monotonic()
    extras = [e for e in (existing.records if existing else None, extra) if e is not None]
    snapshots = [read_snapshot(folder) for folder in existing.snapshots] if existing else []
    with open_session(
        source,
        params,
        labels,
        log,
        should_stop,
        backend=backend,
        extras=extras,
        temp_dir=temp_dir,
        snapshots=snapshots,
    ) as session:
        # What snapshots are read or kept with: only worked out for a run that reads or keeps them.
        snapshotting = bool(snapshots) or (keep is not None and (keep.output, keep.existing) != (None, None))
        if snapshotting:
            session.key_fingerprint = key_fingerprint(labels, params)
        if snapshots:
            session.kept_keys = kept_keys(snapshots, session.key_fingerprint, session.num_records)
        # The existing groups (of the records this run can reach, where it reads only those).
        groups: ExistingGroups | None = None
        if existing is not None:
            reached = reachable(session, existing, labels) if snapshots else None
            groups = reached.groups if reached is not None else load_existing(session, existing)
            if snapshots:
                join_snapshots(session, labels, snapshots, reached.rows if reached is not None else None)
            session.log(
                f"Matching {session.num_output} new records against "
                f"{int(session.pair_below or 0) - session.num_output} existing ones in "
                f"{len(groups.groups)} groups."
            )
        spec = session_spec(session)
        x, y = _label_features(session, spec)
        pair_keys = _labelled_keys(session) if snapshotting else []
        # Where words are weighed, the model is fitted again under the entities' weights (`_by_entities`), and
        # the labels' held-out probabilities are worked out there.
        reweigh = bool(word_keys(spec))
        kept_oof = (
            kept_held_out(snapshots, session.key_fingerprint, session.num_records, pair_keys)
            if snapshots and not reweigh
            else None
        )
        # The model (single-threaded scikit-learn) is fitted while blocking runs its queries in the backend,
        # and beside it the labels' out-of-fold probabilities (for `_agreement`), while the candidates are
        # scored too.
        pool = ThreadPoolExecutor(max_workers=2)
        try:
            fitting = pool.submit(MatchModel(spec, 0).fit, x, y, committee=False)
            held_out: Future[np.ndarray | None] = Future()
            if reweigh:
                held_out.set_result(None)
            elif kept_oof is None:
                held_out = pool.submit(_out_of_fold, session, spec, x, y)
            else:
                held_out.set_result(kept_oof)
                session.log("Held-out probabilities of the labelled pairs kept from the snapshots.")
            blocked = build_candidates(session)
            model = fitting.result()
            _log_trained(session, model, y)
            t = threshold(params) if model.supervised else 0.64
            cutoff = _prefilter_cutoff(session, spec, model, t, blocked.num_candidates)
            # Every scored pair is kept, the low ones too: inside a large component they are the evidence that
            # two of its parts differ (clustering reads no other pairs there).
            left, right, prob, _, _ = _score_candidates(
                session, spec, model, f"SELECT l, r FROM {CANDIDATES}", min_cheap=cutoff
            )
            session.log(f"{int((prob >= t).sum())} candidate pairs score at least the threshold {t:.2f}.")
            oof = held_out.result()
        finally:  # a stop does not wait for work not yet started
            pool.shutdown(cancel_futures=True)
        # Words weighed by entities, not records (`grouped_words`), where words are weighed: the candidates are
        # clustered on their first scores, and scored again. Engine teach loops, seeds 0-3, mean pairwise F1
        # before and after: affiliations 0.679 -> 0.705, company names with geocodes 0.923 -> 0.927 and without
        # 0.954 -> 0.946, seeds 0-1: PatentsView's name blocks 0.977 -> 0.980, the other sets level
        # (docs/benchmarks.md). An incremental run counts the existing groups as entities, as the run that made
        # them weighed its words, and the new records by the groups their first scores put them in.
        if model.supervised and reweigh:
            spec, model, oof, (left, right, prob) = _by_entities(
                session, spec, model, (left, right, prob), t, cutoff, groups
            )
        sources = (
            (
                detect_sources(session)
                or detect_schemas(session)
                or _detect_pairs(session, (left, right, prob), t, groups)
            )
            if model.supervised
            else None
        )
        agreement, evidence, link_cut, wants_cut = None, None, None, False
        if sources is not None and oof is not None:
            assign_at = assignment_threshold(session, sources, y, oof, (left, right, prob), t)
            held = None
            if groups is not None:  # the partners that existing records hold, where a pair could link
                may = prob >= assign_at
                held = held_slots(sources.codes, *groups.touched(left[may], right[may]))
            prob = one_to_one(sources, left, right, prob, t, assign_at, held)
            shape = (
                "records in pairs (no labelled entity holds more than two)"
                if not sources.column
                else f"the two schemas of column {sources.column!r} one to one"
                if sources.schema
                else f"the sources in column {sources.column!r} one to one"
            )
            session.log(
                f"The labels link {shape}: each record links to at most one partner (of each other source), "
                f"mutual best partners first, scoring at least {assign_at:.2f}; {int((prob >= t).sum())} links."
            )
        elif model.supervised:
            agreement = _agreement(session, y, oof, left, right, prob, t, groups)
            if agreement is not None:
                evidence, prob = prob, agreement.predict(left, right, prob)
                session.log(
                    f"Recalibrated by neighbourhood overlap: {int((prob >= t).sum())} pairs score at least {t:.2f}."
                )
            wants_cut = True
        # The candidates are scored: free their memory (and disk, at 10M records) for the stages left.
        session.backend.execute(f"DROP TABLE IF EXISTS {CANDIDATES}")
        session.check()
        must = cannot = (np.zeros(0, np.int64), np.zeros(0, np.int64))
        if params.enforce_provided_labels and session.label_pairs.num_rows:
            ll, lr, ly = session.labelled
            must, cannot = (ll[ly == 1], lr[ly == 1]), (ll[ly == 0], lr[ly == 0])
        members = ids = np.zeros(0, np.int64)
        if groups is not None:
            # The existing groups that a new record links to enter whole, held together (a group that only
            # weak pairs reach stays apart from every new record whatever clustering does, as weak pairs
            # join no component).
            linked = prob >= t
            members, ids = groups.touched(left[linked], right[linked])
            tie_l, tie_r = group_links(members, ids)
            must = (np.concatenate([must[0], tie_l]), np.concatenate([must[1], tie_r]))
            session.log(
                f"New records link to {len(np.unique(ids))} existing groups ({len(members)} records)."
            )
        scorer = _scorer(session, spec, model)
        if agreement is not None:
            scorer = _agreeing(scorer, agreement)
        if wants_cut:
            # An incremental run's candidates all hold a new record: the labelled records' neighbourhoods
            # are the labels' own there, as the full run that made the existing groups also judged them.
            around = Around(session.num_records, left, right, prob, scorer) if groups is None else None
            link_cut = _link_cut(session, y, oof, agreement, t, around)
        # An incremental run clusters only the records its pairs and constraints reach (and the new ones).
        only = None if groups is None else np.arange(session.num_output, dtype=np.int64)
        clusters = _cluster_records(
            session.num_records, left, right, prob, t, must, cannot, scorer, only, evidence, link_cut
        )
        found = int(np.count_nonzero(np.bincount(clusters.representative)))
        session.log(f"Clustered {session.num_records} records into {found} match groups.")
        if clusters.dropped_cannot_links:
            session.log(
                f"{clusters.dropped_cannot_links} labelled non-matches contradict labelled matches; kept the matches."
            )
        session.check()
        out = session.num_output
        if groups is not None:
            fresh = fresh_ids(session, clusters.representative[:out], groups.groups)
            assigned = assign_ids(clusters.representative, members, ids, out, fresh)
            match_ids = assigned.new_ids
            write_merges(assigned, merges_path)
            joined = int(in_sorted(match_ids, groups.groups).sum())
            session.log(
                f"{joined} new records joined existing groups, {out - joined} are in new groups; "
                f"{len(assigned.retired)} existing groups were merged into others."
            )
        else:
            match_ids = _match_ids(session, clusters.representative[:out])
        kept = []
        if snapshotting and oof is not None:
            kept = [(a, b, float(p)) for (a, b), p in zip(pair_keys, oof, strict=True)]
        if keep is not None and keep.output is not None:
            keep_snapshot(session, keep.output, 0, match_ids, blocked.keys, spec.swaps, kept)
        if keep is not None and keep.existing is not None and groups is not None and not snapshots:
            # Every existing record follows the new ones, in the existing matches' order (`load_existing`).
            keep_snapshot(session, keep.existing, out, groups.ids, blocked.keys, spec.swaps, kept)
        assign: dict[str, np.ndarray | pa.Array] = {
            "_rid": np.arange(out, dtype=np.int64),
            "match_id": match_ids,
        }
        if compute_confidence:
            assign["conf"] = np.round(clusters.confidence[:out], 6)
        if compute_explanations:
            explain_started = time.monotonic()
            assign["explanation"] = explain_matches(
                session, spec, model, left, right, prob, clusters.representative
            )
            session.log(f"Explained the matches in {time.monotonic() - explain_started:.1f}s.")
        session.backend.register("fm_assign", pa.table(assign))
        session.backend.execute(f"DROP TABLE IF EXISTS {NORM}")
        release_population(session)
        written = [
            c for c in session.columns if c not in ("match_id", "match_confidence_score", "match_explanation")
        ]
        cols = ", ".join(f"r.{quote_ident(c)}" for c in written)
        score = ", a.conf AS match_confidence_score" if compute_confidence else ""
        if compute_explanations:
            score += ", a.explanation AS match_explanation"
        session.backend.write_records(
            # From the assignments to the records: a left join, so that DuckDB's Parquet writer marks the input's
            # columns optional (as Spark and Glue write them), not required wherever a column has no null.
            f"SELECT {cols}, a.match_id{score} FROM fm_assign a LEFT JOIN {typed_records(RECORDS)} r "
            "ON r._rid = a._rid ORDER BY a._rid",
            out_path,
            out_format,
        )
        session.log(f"Wrote {session.num_output} rows to {out_path} in {time.monotonic() - started:.1f}s.")
        return session.num_output
