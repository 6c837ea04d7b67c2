"""Peers on the engine bench's data sets: dedupe, taught by active learning whose questions the truth answers,
and Splink, unsupervised.

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

``--peer splink`` runs Splink instead (DuckDB), unsupervised as issue 15's Splink figures were, with one recipe
for every set as its documentation advises a new user (`run_splink`): records lower-cased and trimmed, one
comparison per field typed as for dedupe (`splink_comparisons`), blocking rules chosen by counting their
comparisons (`splink_blocking`), the prior and m from the most precise rules, u by random sampling,
clustered at `SPLINK_THRESHOLD` as `bench/scale.py` clusters it.

Needs dedupe (``pip install -e '.[peers]'``; not in ``make install``, whose test suite does not use it), or
Splink (``make bench``'s extra).

usage: python bench/peers.py [--peer dedupe|splink] [--datasets affiliations orgs ...] [--seeds 0 1]
       [--questions 300] [--out F]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import random
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

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


def _result(
    data: Dataset, peer: str, mode: str, seed: int, fields: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """The first fields of a result row: the set, the peer (with its version), how it ran, on what."""
    return {
        "dataset": data.name,
        "peer": f"{peer} {importlib.metadata.version(peer)}",
        "mode": mode,
        "seed": seed,
        "records": data.table.num_rows,
        "fields": [f"{name}:{kind}" for name, kind in fields],
    }


def _scores(data: Dataset, keys: list[str], clusters: np.ndarray) -> dict[str, float]:
    """Pairwise and B-cubed scores of ``clusters`` (one number per key of ``keys``) against the truth."""
    scores = clustering_scores(clusters, np.array([data.truth[k] for k in keys]))
    return {k: round(float(v), 4) for k, v in scores.items()}


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
    return {
        **_result(data, "dedupe", f"RecordLink by {source}" if source else "Dedupe", seed, fields),
        "questions": asked,
        "matches_answered": matches,
        **_scores(data, keys, cluster_ids(clusters, keys)),
        "label_s": round(taught - start, 1),
        "train_s": round(trained - taught, 1),
        "partition_s": round(done - trained, 1),
    }


LinkType = Literal["dedupe_only", "link_only"]
# Splink: a blocking rule is kept where it makes at most this many comparisons (and this many per record).
SPLINK_MAX_PAIRS = 2_000_000
SPLINK_PAIRS_PER_RECORD = 20
# Splink's prior is estimated from deterministic rules, assumed to find this share of the true matches.
SPLINK_RECALL = 0.7
# Splink clusters the pairs at this match probability, as `bench/scale.py` and Splink's examples do.
SPLINK_THRESHOLD = 0.9


def _splink_prepared(con: Any, table: pa.Table, fields: Sequence[tuple[str, str]], key: str) -> str:
    """The records as Splink's documentation advises cleaning them, as a DuckDB table: text lower-cased and
    trimmed (blank as missing), a ``Text`` field also as its words (``<name>_words``), a ``Price`` as a
    number, a ``LatLong`` as two numbers (0, 0 as missing)."""
    con.register("_peer_raw", table)
    columns = [f'CAST("{key}" AS VARCHAR) AS "{key}"']
    for name, kind in fields:
        text = f"nullif(lower(trim(CAST(\"{name}\" AS VARCHAR))), '')"
        if kind == "LatLong":
            lat, lon = name.split("+")
            point = f'TRY_CAST("{lat}" AS DOUBLE) <> 0 OR TRY_CAST("{lon}" AS DOUBLE) <> 0'
            columns += [
                f'CASE WHEN {point} THEN TRY_CAST("{lat}" AS DOUBLE) END AS "{lat}"',
                f'CASE WHEN {point} THEN TRY_CAST("{lon}" AS DOUBLE) END AS "{lon}"',
            ]
        elif kind == "Price":
            number = f"TRY_CAST(regexp_replace({text}, '[^0-9.]', '', 'g') AS DOUBLE)"
            columns.append(f'CASE WHEN {number} > 0 THEN {number} END AS "{name}"')
        else:
            columns.append(f'{text} AS "{name}"')
            if kind == "Text":
                words = f"list_distinct(regexp_split_to_array({text}, '[^a-z0-9]+'))"
                columns.append(f'{words} AS "{name}_words"')
    con.execute(f"CREATE OR REPLACE TABLE peer_records AS SELECT {', '.join(columns)} FROM _peer_raw")
    con.unregister("_peer_raw")
    # A text's words without the column's commonest (in more than 1 % of its records): shared boilerplate
    # is no evidence, and word counts of a few shared rare words are what the comparison measures.
    for name, kind in fields:
        if kind == "Text":
            col = f'"{name}_words"'
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _common AS SELECT w FROM (SELECT unnest({col}) AS w FROM "
                f"peer_records) GROUP BY w HAVING count(*) > 0.01 * (SELECT count(*) FROM peer_records)"
            )
            kept = f"list_filter({col}, lambda w: len(w) > 1 AND NOT list_contains(common, w))"
            con.execute(
                f"CREATE OR REPLACE TABLE peer_records AS SELECT p.* REPLACE (CASE WHEN len({kept}) > 0 "
                f"THEN {kept} END AS {col}) FROM peer_records p, (SELECT list(w) AS common FROM _common)"
            )
    return "peer_records"


def splink_comparisons(fields: Sequence[tuple[str, str]], repeats: Mapping[str, bool]) -> list[Any]:
    """One comparison per field by the same typing as dedupe's (`dedupe_fields`), as Splink's comparison
    library offers them: ``Exact`` an exact match, ``String`` Jaro-Winkler at 0.9 and 0.7, ``Text`` the number
    of words shared (4, 2, 1), ``Price`` the percentage difference (5 %, 20 %), ``LatLong`` the distance (0.1,
    1, 10 km); exact levels adjusted by term frequency where values repeat (``repeats``)."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    out: list[Any] = []
    for name, kind in fields:
        if kind == "LatLong":
            lat, lon = name.split("+")
            out.append(cl.DistanceInKMAtThresholds(lat, lon, km_thresholds=[0.1, 1, 10]))
        elif kind == "Price":
            out.append(
                cl.CustomComparison(
                    [
                        cll.NullLevel(name),
                        cll.ExactMatchLevel(name),
                        cll.PercentageDifferenceLevel(name, 0.05),
                        cll.PercentageDifferenceLevel(name, 0.2),
                        cll.ElseLevel(),
                    ],
                    output_column_name=name,
                )
            )
        elif kind == "Text":
            out.append(cl.ArrayIntersectAtSizes(f"{name}_words", [4, 2, 1]))
        else:
            comparison = (
                cl.ExactMatch(name) if kind == "Exact" else cl.JaroWinklerAtThresholds(name, [0.9, 0.7])
            )
            out.append(comparison.configure(term_frequency_adjustments=repeats[name]))
    return out


def splink_blocking(
    inputs: Any, fields: Sequence[tuple[str, str]], link_type: LinkType, key: str, records: int
) -> list[tuple[str, Any, int]]:
    """Blocking rules for predictions, as Splink's documentation advises choosing them: candidates counted
    (`splink.blocking_analysis`), those kept that make some comparisons but few enough (`SPLINK_MAX_PAIRS`, and
    `SPLINK_PAIRS_PER_RECORD` per record). The candidates: each text field's exact value, its first word,
    and its first four characters. Each with the field it blocks on and its count."""
    from splink import block_on
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    cap = min(SPLINK_MAX_PAIRS, SPLINK_PAIRS_PER_RECORD * records)
    kept: list[tuple[str, Any, int]] = []
    for name, kind in fields:
        if kind not in ("String", "Text"):
            continue
        for expression in (name, f"split_part({name}, ' ', 1)", f"substr({name}, 1, 4)"):
            rule = block_on(expression)
            (counted,) = count_comparisons_from_blocking_rules(
                inputs,
                blocking_rules=rule,
                link_type=link_type,
                unique_id_column_name=key,
                record_sample_proportion=1.0,
            )
            pairs = int(counted["marginal_comparison_count"])
            if 0 < pairs <= cap:
                kept.append((name, rule, pairs))
    return kept


def _blocks_on(rule: Any) -> str:
    """A blocking rule's SQL condition, as DuckDB runs it."""
    return str(rule.get_blocking_rule("duckdb").blocking_rule_sql)


def run_splink(data: Dataset, seed: int, threshold: float = SPLINK_THRESHOLD) -> dict[str, Any]:
    """Splink (DuckDB), unsupervised as its documentation advises: cleaned records, a comparison per field
    (`splink_comparisons`), blocking rules chosen by their counts (`splink_blocking`); the prior from
    deterministic rules (each of two fields' rule that makes the fewest comparisons, `SPLINK_RECALL`), u by
    random sampling, m by expectation maximisation on the same two rules; then predict and cluster at
    ``threshold``. Two sources (`source_column`) are linked (``link_only``)."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator
    from splink.blocking_rule_library import And

    start = time.perf_counter()
    key = data.primary_key
    # Columns renamed out of SQL's reserved words (Splink names its tables after them: a column "by" broke it).
    table = data.table.rename_columns(
        [n if n == key else f"{re.sub(r'[^0-9a-zA-Z]', '_', n)}_" for n in data.table.column_names]
    )
    source = source_column(table, key)
    fields = [f for f in dedupe_fields(table, key) if f[0] != source]
    con = duckdb.connect()
    prepared = _splink_prepared(con, table, fields, key)
    distinct = {
        name: int(con.execute(f'SELECT count(DISTINCT "{name}") FROM {prepared}').fetchall()[0][0])
        for name, kind in fields
        if kind != "LatLong"
    }
    repeats = {name: distinct.get(name, 0) < 0.9 * table.num_rows for name, _ in fields}
    db_api = DuckDBAPI(con)
    link_type: LinkType = "dedupe_only"
    if source is not None:
        link_type = "link_only"
        first = table.column(source)[0].as_py()
        keys = pa.table(
            {key: table.column(key).cast(pa.string()), "_side": pc.equal(table.column(source), first)}
        )
        con.register("_peer_sides", keys)
        con.execute(
            f'CREATE TABLE peer_a AS SELECT p.* FROM {prepared} p JOIN _peer_sides s USING ("{key}") WHERE s._side'
        )
        con.execute(
            f'CREATE TABLE peer_b AS SELECT p.* FROM {prepared} p JOIN _peer_sides s USING ("{key}") WHERE NOT s._side'
        )
        inputs: Any = [db_api.register("peer_a"), db_api.register("peer_b")]
    else:
        inputs = db_api.register(prepared)
    rules = splink_blocking(inputs, fields, link_type, key, data.table.num_rows)
    if not rules:
        raise RuntimeError(f"{data.name}: no blocking rule makes few enough comparisons")
    settings = SettingsCreator(
        link_type=link_type,
        unique_id_column_name=key,
        comparisons=splink_comparisons(fields, repeats),
        blocking_rules_to_generate_predictions=[rule for _, rule, _ in rules],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(inputs, settings, log_level=logging.WARNING)
    # The most precise rules (fewest comparisons) of two fields: EM sessions. The prior's deterministic rules
    # are exact values (the two rarest), or where no field's exact value is shared, both EM rules at once.
    by_precision = sorted(rules, key=lambda r: (r[2], -distinct.get(r[0], 0)))
    trained_on = list(dict.fromkeys(name for name, _, _ in by_precision))[:2]
    sessions = [next(rule for name, rule, _ in by_precision if name == f) for f in trained_on]
    exact = [rule for name, rule, _ in by_precision if _blocks_on(rule) == f'l."{name}" = r."{name}"'][:2]
    deterministic = exact or [And(*sessions) if len(sessions) > 1 else sessions[0]]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=SPLINK_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=seed)
    kinds, em_on = dict(fields), []
    for name, rule in zip(trained_on, sessions, strict=True):
        # A session estimates the comparisons of the fields it does not block on: none where a set's one
        # comparison reads the blocked column (a ``Text`` field is compared by its words, another column).
        if len(fields) > 1 or kinds[name] == "Text":
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
            em_on.append(name)
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=threshold / 2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    found = (
        clusters.as_duckdbpyrelation()
        .select(f'CAST("{key}" AS VARCHAR) AS k, CAST(cluster_id AS VARCHAR) AS c')
        .fetchall()
    )
    done = time.perf_counter()
    cluster_of = dict(found)
    keys = [str(k) for k in data.table.column(key).to_pylist()]
    numbered = {c: i for i, c in enumerate(dict.fromkeys(cluster_of.get(k, f"_single_{k}") for k in keys))}
    labels = np.array([numbered[cluster_of.get(k, f"_single_{k}")] for k in keys])
    original = dict(zip(table.column_names, data.table.column_names, strict=True))
    named = [("+".join(original[part] for part in name.split("+")), kind) for name, kind in fields]
    return {
        **_result(
            data, "splink", f"link_only by {original[source]}" if source else "dedupe_only", seed, named
        ),
        **_scores(data, keys, labels),
        "blocking": [f"{_blocks_on(rule)} ({n})" for _, rule, n in rules],
        "prior_from": [_blocks_on(rule) for rule in deterministic],
        "em_on": em_on,
        "train_s": round(trained - start, 1),
        "predict_s": round(done - trained, 1),
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
    parser.add_argument(
        "--peer",
        choices=["dedupe", "splink"],
        default="dedupe",
        help="dedupe (taught) or Splink (unsupervised)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        data = LOADERS[name]()
        for seed in args.seeds:
            row = run_dedupe(data, args.questions, seed) if args.peer == "dedupe" else run_splink(data, seed)
            rows.append(row)
            save(args.out, args.questions, rows)
            asked = (
                f"questions={row['questions']:<4} matches={row['matches_answered']:<4} "
                if "questions" in row
                else ""
            )
            print(
                f"{name:<24} seed={seed:<3} {asked}"
                f"P={row['pairwise_precision']:.4f} "
                f"R={row['pairwise_recall']:.4f} F1={row['pairwise_f1']:.4f} B3F1={row['bcubed_f1']:.4f} "
                f"time={sum(float(row[k]) for k in ('label_s', 'train_s', 'partition_s', 'predict_s') if k in row):.0f}s",
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
