"""Tables unioned from two schemas (`findmatches.engine.unioned`): which columns are joined, and how."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.api import evaluate, find_matches, generate_labeling_set
from findmatches.engine.profile import ColumnKind, profile_columns, records_relation
from findmatches.engine.snapshot import META_FILE
from findmatches.engine.types import ExistingMatches, KeepSnapshots, MatchParams, RecordSource
from findmatches.engine.unioned import (
    MAX_OVERLAP,
    MIN_PAIR_OVERLAP,
    MIN_PRESENT,
    exclusive_groups,
    gram_overlap,
    joined_name,
    joined_values,
    paired,
)
from tests.engine.conftest import no_labels, oracle_labels


def _mask(n: int, rows: range | list[int]) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[list(rows)] = True
    return out


def test_columns_of_two_schemas_are_one_group_and_others_are_not() -> None:
    n = 1000
    rng = np.random.default_rng(0)
    present = {
        "first_name": _mask(n, range(500, 1000)),
        "last_name": _mask(n, range(500, 1000)),
        "dob": np.ones(n, dtype=bool),  # present beside both
        "full_name": _mask(n, range(0, 500)),
        "nickname": _mask(n, range(0, 40)),  # too rare to tell schema from chance
        "notes": rng.random(n) < 0.5,  # half filled, at random: overlaps both
    }
    family = {name: "text" for name in present}
    assert exclusive_groups(present, family) == [("first_name", "last_name", "full_name")]
    # A few records of one schema filled in both ways still exclude; many do not.
    present["full_name"] = _mask(n, [*range(0, 500), *range(500, 505)])
    assert exclusive_groups(present, family) == [("first_name", "last_name", "full_name")]
    present["full_name"] = _mask(n, [*range(0, 500), *range(500, 600)])
    assert exclusive_groups(present, family) == []


def test_only_columns_of_one_family_join_and_other_families_only_in_twos() -> None:
    n = 100
    a, b = _mask(n, range(50)), _mask(n, range(50, 100))
    present = {"title": a, "price": a, "year": a, "name": b, "cost": b}
    family = {"title": "text", "name": "text", "price": "number", "year": "number", "cost": "number"}
    # The texts join; the numbers, two on one side against one, would join a price to a year: left alone.
    assert exclusive_groups(present, family) == [("title", "name")]
    del present["year"]
    assert exclusive_groups(present, family) == [("title", "name"), ("price", "cost")]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.booleans(), min_size=40, max_size=40), min_size=1, max_size=7),
    st.lists(st.sampled_from(["text", "number"]), min_size=7, max_size=7),
)
def test_groups_are_disjoint_and_each_column_excludes_another_of_its_group(
    masks: list[list[bool]], families: list[str]
) -> None:
    present = {f"c{i}": np.array(m, dtype=bool) for i, m in enumerate(masks)}
    family = {f"c{i}": families[i] for i in range(len(masks))}
    groups = exclusive_groups(present, family)
    seen = [c for g in groups for c in g]
    assert len(seen) == len(set(seen))
    for group in groups:
        assert len({family[c] for c in group}) == 1
        assert list(group) == sorted(group, key=list(present).index)
        for c in group:
            count = present[c].sum()
            assert count >= MIN_PRESENT * 40
            assert any(
                (present[c] & present[d]).sum() <= MAX_OVERLAP * min(count, present[d].sum())
                for d in group
                if d != c
            )


def test_renamed_columns_of_two_schemas_pair_up_and_others_join_whole() -> None:
    """Two shops' exports: the titles pair with the titles and the makers with the makers, by their words. A
    full name against a first and a last name, or pairs whose words differ, join whole."""
    n = 8
    a, b = _mask(n, range(4)), _mask(n, range(4, 8))
    title = [
        "sony cyber-shot dsc-w830",
        "canon eos 80d body",
        "hp envy 5055 printer",
        "jbl flip 4",
        *[None] * 4,
    ]
    name = [*[None] * 4, "Sony DSC-W830 camera", "Canon EOS 80D", "HP ENVY 5055", "JBL Flip 4 speaker"]
    maker = ["Sony", "Canon", "HP", "JBL", *[None] * 4]
    brand = [*[None] * 4, "SONY", "canon", "Hewlett Packard (HP)", "JBL"]
    present = {"title": a, "maker": a, "name": b, "brand": b}
    values = {"title": title, "maker": maker, "name": name, "brand": brand}
    group = ("title", "maker", "name", "brand")
    assert paired(group, present, values) == [("title", "name"), ("maker", "brand")]
    assert gram_overlap(maker, brand) > MIN_PAIR_OVERLAP > gram_overlap(title, brand)
    # The second shop also lists a colour: like none of the first shop's columns, it stays a column of its own.
    colour = {**values, "colour": [*[None] * 4, "black", "silver", "white", "blue"]}
    with_colour = ("title", "maker", "name", "brand", "colour")
    assert paired(with_colour, {**present, "colour": b}, colour) == [("title", "name"), ("maker", "brand")]
    # A column like none of the other schema's stays a column of its own: here the second shop's brands
    # (and so the first shop's makers, now like nothing either).
    values["brand"] = [*[None] * 4, "acme", "globex", "initech", "umbrella"]
    assert paired(group, present, values) == [("title", "name")]
    values["title"] = ["zz", "qq", "xx", "ww", *[None] * 4]  # nothing alike at all: nothing joined
    assert paired(group, present, values) == []
    full = {"first": a, "last": a, "full": b}
    names = {"first": ["ann", "bo"] * 4, "last": ["lee", "ng"] * 4, "full": ["ann lee", "bo ng"] * 4}
    assert paired(("first", "last", "full"), full, names) == [("first", "last", "full")]
    assert paired(("first", "full"), full, names) == [("first", "full")]
    assert gram_overlap(["a b"], [None]) == 0.0 and gram_overlap(["A b"], ["b a"]) == 1.0


def test_joined_names_and_values() -> None:
    assert joined_name(("a", "b"), {"a", "b"}) == "a+b"
    assert joined_name(("a", "b"), {"a", "b", "a+b"}) == "a+b'"
    assert joined_values([["x", None, None], ["y", "z", None]]) == ["x y", "z", None]


def test_a_unioned_table_profiles_a_joined_column_that_normalises_as_profiled() -> None:
    """Half the records with first and last name, half with one full name (some missing, some written as
    a placeholder): the joined column is profiled on the joined sample values, and the SQL that makes it
    for the whole table gives the same values."""
    n = 200
    givens = ["Anna", "Bernd", "Carla", "Dieter", "Elke", "Frieda", "Gustav", "Hanna", "Ingrid", "Jonas"]
    givens += ["Karin", "Lukas", "Marta", "Nils", "Olga", "Paul", "Rita"]  # more than a category's values
    families = ["Lehmann", "Schulz", "Becker", "Hoffmann", "Koch", "Richter", "Wolf", "Braun", "Krause"]
    families += ["Vogel", "Jung", "Keller", "Berger", "Frank", "Roth"]
    given = [givens[(i // 2) % len(givens)] for i in range(n)]
    family = [families[(i // 3) % len(families)] for i in range(n)]
    first = [given[i] if i % 2 else None for i in range(n)]
    last = [(family[i] if i % 10 != 1 else "n/a") if i % 2 else None for i in range(n)]
    full = [None if i % 2 else (f" {family[i]} {given[i]} " if i % 7 else "") for i in range(n)]
    table = pa.table(
        {
            "_rid": pa.array(range(n), pa.int64()),
            "id": [str(i) for i in range(n)],
            "first_name": first,
            "last_name": last,
            "city": [f"city{i % 5}" for i in range(n)],
            "full_name": full,
        }
    )
    con = duckdb.connect()
    con.register("records", table)

    class Backend:
        def query(self, sql: str) -> pa.Table:
            return con.sql(sql).to_arrow_table()

    profiles = profile_columns(Backend(), "records", table.column_names[1:], exclude={"id"})  # type: ignore[arg-type]
    assert [p.name for p in profiles if not p.joins] == ["city"]  # the joined columns are compared as one
    joined = [p for p in profiles if p.joins]
    assert len(joined) == 1
    p = joined[0]
    assert (p.name, p.joins, p.index, p.kind) == (
        "first_name+last_name+full_name",
        ("first_name", "last_name", "full_name"),
        5,
        ColumnKind.NAME,
    )
    assert abs(p.null_rate - sum(1 for i in range(n) if i % 2 == 0 and i % 7 == 0) / n) < 1e-9
    got = con.sql(f'SELECT "{p.name}" FROM {records_relation(profiles, "records")} ORDER BY _rid').fetchall()
    want = joined_values(
        [
            [None if v is None or v.strip() in ("", "n/a") else v.strip() for v in column]
            for column in (first, last, full)
        ]
    )
    assert [g for (g,) in got] == want
    assert records_relation([q for q in profiles if not q.joins], "records") == "records"


def _unioned_people(table: pa.Table) -> pa.Table:
    """Every other person record with one ``full_name`` ("surname, given name") in place of the two, as a
    second register's export unioned with the first's; the name is the evidence, with the birth year and
    the city (many people share them)."""
    given, surname = table.column("given_name").to_pylist(), table.column("surname").to_pylist()
    second = [i % 2 == 1 for i in range(table.num_rows)]
    return pa.table(
        {
            "id": table.column("id"),
            "given_name": [None if s else g for g, s in zip(given, second, strict=True)],
            "surname": [None if s else f for f, s in zip(surname, second, strict=True)],
            "born": [d[:4] if d else None for d in table.column("dob").to_pylist()],
            "city": table.column("city"),
            "full_name": [f"{f}, {g}" if s else None for g, f, s in zip(given, surname, second, strict=True)],
        }
    )


def _taught(table: pa.Table, truth: dict[str, str], tmp_path: Path) -> pa.Table:
    """The labels of two labelling rounds of 60 records answered from the truth."""
    source, params, labels = RecordSource(table=table), MatchParams(primary_key="id"), no_labels()
    for round_no in (1, 2):
        out = tmp_path / f"round{round_no}.csv"
        generate_labeling_set(source, params, labels, out_path=out, target_records=60, seed=round_no)
        rows = duckdb.read_csv(str(out), all_varchar=True).to_arrow_table()
        labels = pa.concat_tables([labels, oracle_labels(rows, truth)])
    return labels


def _teach_and_match(table: pa.Table, truth: dict[str, str], tmp_path: Path) -> tuple[np.ndarray, list[str]]:
    """Two labelling rounds (`_taught`), then the matches' ``match_id``s in the order of ``table``, and the
    engine's log."""
    source, params = RecordSource(table=table), MatchParams(primary_key="id")
    labels = _taught(table, truth, tmp_path)
    logs: list[str] = []
    path = tmp_path / "out.parquet"
    find_matches(
        source, params, labels, out_path=path, out_format="parquet", compute_confidence=False, log=logs.append
    )
    out = duckdb.read_parquet(str(path)).to_arrow_table()
    ids = dict(zip(out.column("id").to_pylist(), out.column("match_id").to_pylist(), strict=True))
    return np.array([ids[pk] for pk in table.column("id").to_pylist()]), logs


def test_records_of_two_schemas_are_matched_across_them(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    table, truth = people
    unioned = _unioned_people(table)
    match_ids, logs = _teach_and_match(unioned, truth, tmp_path)
    loaded = next(line for line in logs if line.startswith("Loaded"))
    assert "given_name+surname+full_name=" in loaded and "given_name=" not in loaded
    pks = unioned.column("id").to_pylist()
    across = found = 0
    for i, j in itertools.combinations(range(len(pks)), 2):
        if truth[pks[i]] == truth[pks[j]] and i % 2 != j % 2:
            across += 1
            found += int(match_ids[i] == match_ids[j])
    assert across > 50
    # 0.991 of 111 such pairs found; 0.910 with the columns compared each on its own.
    assert found / across >= 0.95


def test_a_snapshot_keeps_the_joined_column_for_the_next_run(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    """Incremental matching on kept snapshots: the new records are joined as the snapshot's were, and the ids
    are those the files give."""
    from tests.engine.test_incremental import _labels
    from tests.engine.test_snapshot import _match

    table, truth = people
    unioned = _unioned_people(table)
    old, new = unioned.slice(0, 450), unioned.slice(450)
    labels = _labels(old, truth)
    _match(old, labels, tmp_path / "old.parquet")
    files = ExistingMatches(RecordSource(paths=(tmp_path / "old.parquet",), format="parquet"))
    snap = tmp_path / "snap"
    from_files = _match(new, labels, tmp_path / "a.parquet", files, KeepSnapshots(existing=snap))
    meta = json.loads((snap / META_FILE).read_text())
    assert [p["joins"] for p in meta["profiles"] if p["joins"]] == [["given_name", "surname", "full_name"]]
    from_snapshot = _match(new, labels, tmp_path / "b.parquet", ExistingMatches(snapshots=(snap,)))
    assert from_snapshot.equals(from_files)


def test_column_importances_name_the_columns_a_joined_column_joins(
    people: tuple[pa.Table, dict[str, str]], tmp_path: Path
) -> None:
    """Glue's ColumnImportances name the transform's own columns: a joined column's importance is each of
    its columns'."""
    table, truth = people
    unioned = _unioned_people(table)
    result = evaluate(
        RecordSource(table=unioned), MatchParams(primary_key="id"), _taught(unioned, truth, tmp_path)
    )
    importance = {c.column: c.importance for c in result.column_importances}
    assert set(importance) == {"given_name", "surname", "full_name", "born", "city"}
    assert importance["given_name"] == importance["surname"] == importance["full_name"] > 0


def test_wide_schemas_pair_column_by_column_and_never_join_more_than_max_group() -> None:
    n = 8
    a, b = _mask(n, range(4)), _mask(n, range(4, 8))
    words = [["red", "green", "blue", "amber"], ["horse", "tiger", "eagle", "otter"]]
    words += [["paris", "berlin", "madrid", "vienna"], ["violin", "cello", "flute", "oboe"]]
    present, values = {}, {}
    for i, vocabulary in enumerate(words):
        present[f"a{i}"], values[f"a{i}"] = a, [*vocabulary, *[None] * 4]
        present[f"b{i}"], values[f"b{i}"] = b, [*[None] * 4, *reversed(vocabulary)]
    group = tuple(present)
    assert len(exclusive_groups(present, dict.fromkeys(present, "text"))[0]) == 8
    assert paired(group, present, values) == [("a0", "b0"), ("a1", "b1"), ("a2", "b2"), ("a3", "b3")]
    # The second schema's last column holds cities too: two of its columns are like one of the first's, so
    # they do not pair one to one, and the seven alike columns are too many to join whole.
    values["b3"] = [*[None] * 4, "madrid", "paris", "vienna", "berlin"]
    assert paired(group, present, values) == []
