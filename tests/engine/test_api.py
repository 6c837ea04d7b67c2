from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from findmatches.engine.api import evaluate, find_matches, generate_labeling_set
from findmatches.engine.metrics import clustering_scores
from findmatches.engine.types import Cancelled, EngineError, MatchParams, RecordSource, find_column
from tests.engine.conftest import no_labels, oracle_labels

PARAMS = MatchParams(primary_key="id")


def _read(path: Path) -> pa.Table:
    return duckdb.read_csv(str(path), all_varchar=True, header=True).to_arrow_table()


@pytest.fixture(scope="module")
def taught(people: tuple[pa.Table, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    """Labels from two rounds of the teach loop."""
    table, truth = people
    source = RecordSource(table=table)
    labels = no_labels()
    seen: set[str] = set()
    tmp = tmp_path_factory.mktemp("teach")
    for round_no in (1, 2):
        out = tmp / f"round{round_no}.csv"
        written = generate_labeling_set(
            source, PARAMS, labels, out_path=out, target_records=60, seed=round_no
        )
        rows = _read(out)
        assert rows.num_rows == written > 0
        assert rows.column_names == ["labeling_set_id", "label", *table.column_names]
        assert all(v is None or v == "" for v in rows.column("label").to_pylist())
        sizes = {}
        for set_id in rows.column("labeling_set_id").to_pylist():
            sizes[set_id] = sizes.get(set_id, 0) + 1
        assert all(2 <= s <= 30 for s in sizes.values())
        pks = set(rows.column("id").to_pylist())
        assert len(pks) == rows.num_rows and not pks & seen, "a record was shown twice"
        seen |= pks
        labels = pa.concat_tables([labels, oracle_labels(rows, truth)])
    return labels


def test_bootstrap_sets_hold_real_decisions(
    people: tuple[pa.Table, dict[str, str]], taught: pa.Table
) -> None:
    truth = people[1]
    pks = taught.column("primary_key").to_pylist()
    sets = taught.column("labeling_set_id").to_pylist()
    pairs_match = sum(
        1
        for i in range(len(pks))
        for j in range(i + 1, len(pks))
        if sets[i] == sets[j] and truth[pks[i]] == truth[pks[j]]
    )
    assert pairs_match >= 5, "neighbourhood sets should contain matches to learn from"


def test_find_matches_quality_and_invariants(
    people: tuple[pa.Table, dict[str, str]], taught: pa.Table, tmp_path: Path
) -> None:
    table, truth = people
    out = tmp_path / "out.parquet"
    logs: list[str] = []
    n = find_matches(
        RecordSource(table=table),
        PARAMS,
        taught,
        out_path=out,
        out_format="parquet",
        compute_confidence=True,
        log=logs.append,
    )
    result = (
        pa.parquet.read_table(out)
        if hasattr(pa, "parquet")
        else duckdb.read_parquet(str(out)).to_arrow_table()
    )
    assert n == table.num_rows == result.num_rows
    assert sorted(result.column("id").to_pylist()) == sorted(table.column("id").to_pylist())
    assert result.schema.field("match_id").type == pa.int64()
    conf = result.column("match_confidence_score").to_numpy()
    assert np.all((conf >= 0) & (conf <= 1))
    scores = clustering_scores(
        result.column("match_id").to_numpy(), np.array([truth[p] for p in result.column("id").to_pylist()])
    )
    assert scores["pairwise_f1"] > 0.9
    assert any("blocking recall" in line for line in logs)


def test_enforce_provided_labels(
    people: tuple[pa.Table, dict[str, str]], taught: pa.Table, tmp_path: Path
) -> None:
    table, _ = people
    # Flip some answers so that the model alone would disagree with them.
    labels = taught.to_pylist()
    for row in labels[:12]:
        row["label"] = "flipped-" + row["primary_key"]
    labels_table = pa.Table.from_pylist(labels, schema=taught.schema)
    params = MatchParams(primary_key="id", enforce_provided_labels=True)
    out = tmp_path / "out.csv"
    find_matches(
        RecordSource(table=table),
        params,
        labels_table,
        out_path=out,
        out_format="csv",
        compute_confidence=False,
    )
    result = _read(out)
    match_id = dict(zip(result.column("id").to_pylist(), result.column("match_id").to_pylist(), strict=True))
    by_set: dict[str, list[tuple[str, str]]] = {}
    for row in labels:
        by_set.setdefault(row["labeling_set_id"], []).append((row["primary_key"], row["label"]))
    for members in by_set.values():
        for i, (a, la) in enumerate(members):
            for b, lb in members[i + 1 :]:
                assert (match_id[a] == match_id[b]) == (la == lb)


def test_evaluate(people: tuple[pa.Table, dict[str, str]], taught: pa.Table) -> None:
    result = evaluate(RecordSource(table=people[0]), PARAMS, taught)
    assert 0.8 <= result.area_under_pr_curve <= 1.0
    assert 0.0 <= result.precision <= 1.0 and 0.0 <= result.recall <= 1.0
    total = result.true_positives + result.false_positives + result.true_negatives + result.false_negatives
    assert total > 0
    imps = [c.importance for c in result.column_importances]
    assert imps == sorted(imps, reverse=True) and all(0 <= v <= 1 for v in imps) and max(imps) == 1.0


def test_evaluate_needs_both_kinds_of_label(people: tuple[pa.Table, dict[str, str]]) -> None:
    table = people[0]
    ids = table.column("id").to_pylist()[:4]
    labels = pa.table({"labeling_set_id": ["s"] * 4, "label": ["a", "b", "c", "d"], "primary_key": ids})
    with pytest.raises(EngineError, match="matching pair"):
        evaluate(RecordSource(table=table), PARAMS, labels)


def test_never_crashes_when_candidates_run_out(tmp_path: Path) -> None:
    table = pa.table({"id": ["1", "2", "3", "4"], "name": ["ann lee", "anne lee", "bob ray", "rob ray"]})
    labels = no_labels()
    total = 0
    for round_no in range(4):
        out = tmp_path / f"r{round_no}.csv"
        written = generate_labeling_set(
            RecordSource(table=table), PARAMS, labels, out_path=out, seed=round_no
        )
        rows = _read(out) if written else pa.table({})
        total += written
        if written:
            labels = pa.concat_tables([labels, oracle_labels(rows, {"1": "a", "2": "a", "3": "b", "4": "b"})])
        else:
            assert out.read_text().startswith("labeling_set_id,label,id,name")
    assert total <= 4


def test_cancel(people: tuple[pa.Table, dict[str, str]], tmp_path: Path) -> None:
    with pytest.raises(Cancelled):
        generate_labeling_set(
            RecordSource(table=people[0]),
            PARAMS,
            no_labels(),
            out_path=tmp_path / "x.csv",
            should_stop=lambda: True,
        )


def test_reads_csv_files_and_rejects_missing_key(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("id,name,city\n1,Ann,Oslo\n2,Anne,Oslo\n3,Bob,Rome\n")
    labels = pa.table(
        {"labeling_set_id": ["s", "s", "s"], "label": ["a", "a", "b"], "primary_key": ["1", "2", "3"]}
    )
    out = tmp_path / "out.csv"
    n = find_matches(
        RecordSource(paths=(path,), format="csv"),
        PARAMS,
        labels,
        out_path=out,
        out_format="csv",
        compute_confidence=True,
    )
    assert n == 3 and _read(out).num_rows == 3
    with pytest.raises(EngineError, match="primary key"):
        evaluate(RecordSource(paths=(path,)), MatchParams(primary_key="nope"), labels)


@pytest.mark.parametrize(
    ("header", "key_column"),
    [
        ("ID,Name,City", "ID"),
        # Two columns that differ only by case (DuckDB renames the second "ID_1"): the exact name is the key.
        ("id,ID,City", "id"),
    ],
)
def test_the_primary_key_is_found_regardless_of_case_where_one_column_fits(
    tmp_path: Path, header: str, key_column: str
) -> None:
    """The Data Catalog names columns in lower case while the files' headers keep theirs: a transform keyed by
    ``id`` reads a file whose header says ``ID``; the output keeps the file's names."""
    path = tmp_path / "in.csv"
    path.write_text(f"{header}\n1,Ann,Oslo\n2,Anne,Oslo\n3,Bob,Rome\n")
    labels = pa.table(
        {"labeling_set_id": ["s", "s", "s"], "label": ["a", "a", "b"], "primary_key": ["1", "2", "3"]}
    )
    out = tmp_path / "out.csv"
    # The labels enforced: the output's groups show which records they named.
    enforced = MatchParams(primary_key="id", enforce_provided_labels=True)
    n = find_matches(
        RecordSource(paths=(path,)),
        enforced,
        labels,
        out_path=out,
        out_format="csv",
        compute_confidence=False,
    )
    got = _read(out)
    assert n == 3 and got.column_names[0] == key_column and got.column_names[-1] == "match_id"
    ids = dict(zip(got.column(key_column).to_pylist(), got.column("match_id").to_pylist(), strict=True))
    assert ids["1"] == ids["2"] != ids["3"]  # the labels named the records by the key column found


def test_find_column() -> None:
    assert find_column(["ID", "name"], "id") == "ID"
    assert find_column(["id", "ID"], "ID") == "ID"
    assert find_column(["id", "ID"], "Id") is None
    assert find_column(["Straße"], "STRASSE") == "Straße"  # casefold, not lower
    assert find_column(["name"], "id") is None


def test_scorer_for_clustering_returns_scores_in_the_given_order(
    people: tuple[pa.Table, dict[str, str]], taught: pa.Table
) -> None:
    from findmatches.engine.api import _scorer, _train
    from findmatches.engine.features import feature_spec, features_for
    from findmatches.engine.session import open_session

    table, _ = people
    with open_session(RecordSource(table=table), PARAMS, taught, None, None) as session:
        spec = feature_spec(session.feature_profiles)
        model, _, _ = _train(session, spec)
        rng = np.random.default_rng(0)
        a, b = rng.integers(0, session.num_records, (2, 500))
        a, b = a[a != b], b[a != b]
        left, right = np.minimum(a, b), np.maximum(a, b)
        keys = np.unique(left * session.num_records + right)
        left, right = keys // session.num_records, keys % session.num_records
        shuffle = rng.permutation(len(left))
        left, right = left[shuffle], right[shuffle]
        got = _scorer(session, spec, model)(left, right)
        want = model.predict(features_for(session, spec, left, right))
        np.testing.assert_allclose(got, want)
        assert got.std() > 0


def test_a_batch_scored_in_slices_keeps_each_pair_with_its_score(
    people: tuple[pa.Table, dict[str, str]], taught: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    import findmatches.engine.api as api
    import findmatches.engine.backends.duckdb as on_duckdb
    from findmatches.engine.backend import slices
    from findmatches.engine.features import feature_spec, features_for
    from findmatches.engine.session import open_session

    table, _ = people
    monkeypatch.setattr(on_duckdb, "SLICE_MIN_ROWS", 50)  # one batch of hundreds of pairs, in slices
    with open_session(RecordSource(table=table), PARAMS, taught, None, None) as session:
        spec = feature_spec(session.feature_profiles)
        model, _, _ = api._train(session, spec)
        rng = np.random.default_rng(1)
        a, b = rng.integers(0, session.num_records, (2, 700))
        keys = np.unique(np.minimum(a, b)[a != b] * session.num_records + np.maximum(a, b)[a != b])
        left, right = keys // session.num_records, keys % session.num_records
        session.backend.register("fm_test_pairs", pa.table({"l": left, "r": right}))
        batch = pa.record_batch({"l": left, "r": right})
        assert len(slices(batch, on_duckdb.MAP_THREADS, 50)) == on_duckdb.MAP_THREADS
        got_l, got_r, got_p, _, _ = api._score_candidates(
            session, spec, model, "SELECT l, r FROM fm_test_pairs", quiet=True
        )
        order = np.lexsort((got_r, got_l))  # the join may reorder pairs; each must keep its own score
        np.testing.assert_array_equal(got_l[order], left)
        np.testing.assert_array_equal(got_r[order], right)
        np.testing.assert_allclose(got_p[order], model.predict(features_for(session, spec, left, right)))
        assert got_p.std() > 0


def test_prefilter_cutoff_ignores_a_few_poorly_supported_links() -> None:
    from findmatches.engine.api import PREFILTER_MARGIN, prefilter_cutoff

    rng = np.random.default_rng(0)
    cheap = np.concatenate([rng.uniform(0.45, 1.0, 2000), [0.1, 0.125], rng.uniform(0.0, 0.5, 8000)])
    link = np.zeros(len(cheap), dtype=bool)
    link[:2002] = True
    cutoff = prefilter_cutoff(cheap, link)
    assert cutoff is not None and 0.35 < cutoff < 0.45
    assert (cheap[link] >= cutoff).mean() >= 0.998
    assert prefilter_cutoff(cheap, link, loss=0.0) == pytest.approx(0.1 - PREFILTER_MARGIN)
    assert prefilter_cutoff(cheap[:10], link[:10]) is None  # too few links to tell


def test_match_ids_differ_where_duckdbs_string_hash_collides(tmp_path: Path) -> None:
    colliding = ["judith.gorsaler51@example.com", "judith.norsaler81@example.com"]
    assert duckdb.sql(f"SELECT count(DISTINCT hash(v)) FROM unnest({colliding}) t(v)").fetchall() == [(1,)]
    names = ["ada", "bob", "cyd", "dee", "eve", "fay"]
    table = pa.table(
        {
            "id": colliding + [f"x{i}" for i in range(4)],
            "name": names,
            "city": ["oslo", "rome", "lima", "kyiv", "baku", "doha"],
        }
    )
    out = tmp_path / "out.csv"
    find_matches(
        RecordSource(table=table),
        PARAMS,
        no_labels(),
        out_path=out,
        out_format="csv",
        compute_confidence=False,
    )
    ids = dict(zip(*_read(out).select(["id", "match_id"]).to_pydict().values(), strict=True))
    assert len(set(ids.values())) == len(names), "six unrelated records are six entities with six match_ids"


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id": [], "name": []}, "has no records"),
        ({"id": ["1", "2"]}, "no column besides the primary key"),
        ({"id": ["1", "2"], "name": [None, ""]}, "Every column besides the primary key is empty"),
    ],
)
def test_inputs_with_nothing_to_match_say_why(
    columns: dict[str, list[str | None]], message: str, tmp_path: Path
) -> None:
    table = pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()})
    with pytest.raises(EngineError, match=message):
        generate_labeling_set(RecordSource(table=table), PARAMS, no_labels(), out_path=tmp_path / "l.csv")


def test_long_descriptions_are_matched(tmp_path: Path) -> None:
    """Values thousands of characters long (product descriptions, abstracts) are scored on bounded prefixes:
    scoring them whole took hours for 200 records. The pairs still match by their text."""
    rng = np.random.default_rng(0)
    vocab = np.array(["".join(rng.choice(list("abcdefghij"), 6)) for _ in range(400)])
    texts = [" ".join(rng.choice(vocab, 300)) for _ in range(100)]
    ids = [str(i) for i in range(200)]
    table = pa.table(
        {
            "id": ids,
            "title": [f"item {i // 2}" for i in range(200)],
            "text": [t for t in texts for _ in (0, 1)],
        }
    )
    truth = {pk: str(int(pk) // 2) for pk in ids}
    labels = no_labels()
    for round_no in range(2):
        out = tmp_path / f"l{round_no}.csv"
        if generate_labeling_set(RecordSource(table=table), PARAMS, labels, out_path=out, seed=round_no):
            labels = pa.concat_tables([labels, oracle_labels(_read(out), truth)])
    out = tmp_path / "m.parquet"
    find_matches(
        RecordSource(table=table),
        PARAMS,
        labels,
        out_path=out,
        out_format="parquet",
        compute_confidence=False,
    )
    got = duckdb.read_parquet(str(out)).to_arrow_table()
    scores = clustering_scores(
        got.column("match_id").to_numpy(), np.asarray([truth[p] for p in got.column("id").to_pylist()])
    )
    assert scores["pairwise_f1"] >= 0.9
