"""Per-record match explanations: the comparisons that tied a record to its group, as additive weights.

Each output record is explained by one pair: its strongest scored link (candidate pair) to another record of
its own group; a record with no such link (alone in its group, or joined only by pairs that clustering scored
itself or by labels) by its best-scoring candidate pair overall, marked ``"same_group": false`` (why it did
*not* match); a record that was never in a candidate pair has no explanation (null). For the pair the model's
log-odds score (`MatchModel.log_odds`: the mean of its members' raw log-odds, before calibration) is split
into the prior (bias) and one weight per source column (the sum of the weights of that column's features;
whole-record features are one entry of their own, `features.RECORD`), with the column's comparison level:
``exact`` (equal after normalisation), ``close`` (an edit similarity at least `CLOSE`), ``different`` or
``missing`` (either value missing). ``prior + Σ weights == score`` and ``probability == logistic(score)``;
``match_probability`` is the calibrated probability of the pair that clustering uses (the harmonic mean of
the members' calibrated probabilities, which is not a logistic of the additive score). The weights are
computed in NumPy batches; only the JSON strings are built per record.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
from scipy.special import expit

from findmatches.engine.features import RECORD, FeatureSpec, features_for
from findmatches.engine.model import MatchModel
from findmatches.engine.session import NORM, Session

LEVELS = ("missing", "different", "close", "exact")
MISSING, DIFFERENT, CLOSE_LEVEL, EXACT = range(4)
# A column's values are "close" when one of these similarities reaches its bound (a number's relative
# difference at most RELDIFF_CLOSE); the whole record is "close" at a ratio of at least RECORD_CLOSE. The token
# sort ratio sees the same words in another order ("smith, john" and "john smith", as a full name joined from
# two schemas is written), which every edit similarity calls different.
CLOSE = {"lev": 0.8, "indel": 0.8, "ratio": 0.8, "jw": 0.9, "tsort": 0.9}
RELDIFF_CLOSE = 0.05
RECORD_CLOSE = 0.8
BATCH_PAIRS = 200_000
DIGITS = 6


def choose_partners(
    num_output: int, left: np.ndarray, right: np.ndarray, prob: np.ndarray, representative: np.ndarray
) -> np.ndarray:
    """Each output record's partner (record id, -1 for none): its highest-scoring candidate pair with a record
    of its own group, else its highest-scoring candidate pair."""
    rec = np.concatenate([left, right]).astype(np.int64)
    other = np.concatenate([right, left]).astype(np.int64)
    p = np.concatenate([prob, prob])
    keep = rec < num_output
    rec, other, p = rec[keep], other[keep], p[keep]
    partner = np.full(num_output, -1, dtype=np.int64)
    if len(rec) == 0:
        return partner
    same = representative[rec] == representative[other]
    order = np.lexsort((-p, ~same, rec))
    ranked = rec[order]
    first = order[np.r_[True, ranked[1:] != ranked[:-1]]]
    partner[rec[first]] = other[first]
    return partner


def column_groups(spec: FeatureSpec) -> tuple[list[str], np.ndarray]:
    """The explained columns (source columns in feature order, the whole record last) and the 0/1 matrix
    (features × columns) that sums feature weights into column weights."""
    names = list(dict.fromkeys(spec.columns))
    if RECORD in names:
        names.remove(RECORD)
        names.append(RECORD)
    index = {name: i for i, name in enumerate(names)}
    groups = np.zeros((len(spec.names), len(names)))
    for j, column in enumerate(spec.columns):
        groups[j, index[column]] = 1.0
    return names, groups


def levels(spec: FeatureSpec, x: np.ndarray, columns: list[str]) -> np.ndarray:
    """Each pair's comparison level per explained column (indices into `LEVELS`), shape (rows, columns)."""
    position = {name: j for j, name in enumerate(spec.names)}
    out = np.full((len(x), len(columns)), DIFFERENT, dtype=np.int8)
    for c, column in enumerate(columns):
        if column == RECORD:
            ratio = x[:, position[f"{RECORD}:ratio"]]
            out[ratio >= RECORD_CLOSE, c] = CLOSE_LEVEL
            out[ratio >= 1.0, c] = EXACT
            continue
        close = np.zeros(len(x), dtype=bool)
        for kind, bound in CLOSE.items():
            j = position.get(f"{column}:{kind}")
            if j is not None:
                close |= x[:, j] >= bound
        j = position.get(f"{column}:reldiff")
        if j is not None:
            close |= x[:, j] <= RELDIFF_CLOSE
        exact = x[:, position[f"{column}:exact"]]
        out[close, c] = CLOSE_LEVEL
        out[exact > 0.5, c] = EXACT
        out[np.isnan(exact), c] = MISSING
    return out


def _primary_keys(session: Session, rids: np.ndarray) -> dict[int, str]:
    session.backend.register("fm_explain_rids", pa.table({"_rid": np.unique(rids)}))
    found = session.backend.query(f"SELECT n._rid, n._pk FROM fm_explain_rids e JOIN {NORM} n USING (_rid)")
    return dict(
        zip(found.column("_rid").to_pylist(), (str(k) for k in found.column("_pk").to_pylist()), strict=True)
    )


def explain_matches(
    session: Session,
    spec: FeatureSpec,
    model: MatchModel,
    left: np.ndarray,
    right: np.ndarray,
    prob: np.ndarray,
    representative: np.ndarray,
) -> pa.Array:
    """The ``match_explanation`` of each output record (JSON text, null for none), in record id order."""
    out = session.num_output
    if not model.supervised:
        return pa.nulls(out, pa.string())
    partner = choose_partners(out, left, right, prob, representative)
    has = np.flatnonzero(partner >= 0)
    lo = np.minimum(has, partner[has])
    hi = np.maximum(has, partner[has])
    n = np.int64(session.num_records)
    codes, pair_of = np.unique(lo * n + hi, return_inverse=True)
    pairs_l, pairs_r = codes // n, codes % n
    columns, groups = column_groups(spec)
    weights = np.zeros((len(codes), len(columns)))
    level = np.zeros((len(codes), len(columns)), dtype=np.int8)
    score = np.zeros(len(codes))
    calibrated = np.zeros(len(codes))
    bias = 0.0
    for start in range(0, len(codes), BATCH_PAIRS):
        session.check()
        part = slice(start, start + BATCH_PAIRS)
        x = features_for(session, spec, pairs_l[part], pairs_r[part])
        explained = model.explain(x)
        assert explained is not None
        bias, terms = explained
        weights[part] = terms @ groups
        level[part] = levels(spec, x, columns)
        score[part] = bias + terms.sum(axis=1)
        calibrated[part] = model.predict(x)
    keys = _primary_keys(session, partner[has])
    same = representative[has] == representative[partner[has]]
    texts: list[str | None] = [None] * out
    prior = round(bias, DIGITS)
    rounded = np.round(weights, DIGITS).tolist()
    level_rows = level.tolist()
    for i, rid in enumerate(has.tolist()):
        k = int(pair_of[i])
        s = float(score[k])
        doc: dict[str, Any] = {
            "partner": keys[int(partner[rid])],
            "same_group": bool(same[i]),
            "prior": prior,
            "columns": {
                c: [LEVELS[lv], w] for c, lv, w in zip(columns, level_rows[k], rounded[k], strict=True)
            },
            "score": round(s, DIGITS),
            "probability": round(float(expit(s)), DIGITS),
            "match_probability": round(float(calibrated[k]), DIGITS),
        }
        texts[rid] = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return pa.array(texts, pa.string())
