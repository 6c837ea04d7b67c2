"""bench/peers.py: dedupe set up by one rule for every set, its questions answered from the truth."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bench.engine_quality import Dataset
from bench.peers import KEY, ask, cluster_ids, dedupe_fields, records, source_column


def test_each_column_gets_the_variable_its_values_call_for() -> None:
    table = pa.table(
        {
            "id": [str(i) for i in range(30)],
            "name": [f"name {i}" for i in range(30)],
            "about": [
                f"a long description of thing number {i}, with many words in it, and more" for i in range(30)
            ],
            "colour": ["red", "blue", "green"] * 10,
            "empty": pa.array([None] * 30, pa.string()),
        }
    )
    assert dedupe_fields(table, "id") == [("name", "String"), ("about", "Text"), ("colour", "Exact")]


def test_amounts_are_prices_and_coordinates_one_point() -> None:
    table = pa.table(
        {
            "id": [str(i) for i in range(30)],
            "price": [f"${i},{i:03d}.50" if i % 3 else f"USD {i + 1}.5" for i in range(30)],
            "lat": [str(50.0 + i / 10) if i % 5 else "0.0" for i in range(30)],
            "lng": [str(-3.0 - i / 10) if i % 5 else "0.0" for i in range(30)],
            "postcode": [str(2000 + 7 * i) for i in range(30)],
        }
    )
    fields = dedupe_fields(table, "id")
    # A postcode is a number but no amount of money.
    assert fields == [("lat+lng", "LatLong"), ("price", "Price"), ("postcode", "String")]
    got = records(table, "id", fields)
    assert got["1"]["price"] == 1001.5 and got["0"]["price"] == 1.5
    assert got["1"]["lat+lng"] == (50.1, -3.1)
    assert got["0"]["lat+lng"] is None  # 0, 0: not found


def test_records_carry_their_key_and_blank_values_are_missing() -> None:
    table = pa.table({"id": ["a", "b"], "name": [" Ann ", "  "], "city": [None, "Oslo"]})
    got = records(table, "id")
    assert got == {
        "a": {"id": "a", "name": "Ann", "city": None, KEY: "a"},
        "b": {"id": "b", "name": None, "city": "Oslo", KEY: "b"},
    }


def test_questions_are_answered_from_the_truth() -> None:
    a, b, c = ({KEY: k} for k in "abc")
    answers = ask([(a, b), (a, c)], {"a": "x", "b": "x", "c": "y"})
    assert answers == {"match": [(a, b)], "distinct": [(a, c)]}


def test_records_in_no_cluster_are_singletons() -> None:
    ids = cluster_ids([(("b", "c"), None)], ["a", "b", "c", "d"])
    assert ids[1] == ids[2]
    assert len({int(ids[0]), int(ids[1]), int(ids[3])}) == 3


GIVEN = ["anna", "bernd", "carla", "dieter", "emma", "felix", "greta", "hans", "ida", "jonas"]
FAMILY = ["meyer", "schulz", "wagner", "becker", "hoffmann", "koch", "richter", "klein", "wolf", "neumann"]


def _person(number: int) -> str:
    """One of 100 distinct names."""
    return f"{GIVEN[number % 10]} {FAMILY[(number * 3 + number // 10) % 10]}"


def test_dedupe_taught_from_the_truth_finds_plain_duplicates() -> None:
    pytest.importorskip("dedupe")
    from bench.peers import run_dedupe

    rng = np.random.default_rng(0)
    cities = ["berlin", "hamburg", "munich", "cologne", "frankfurt"]
    rows: dict[str, list[str]] = {"id": [], "name": [], "city": []}
    truth = {}
    for person in range(40):
        name = _person(person)
        city = cities[person % 5]
        for copy in range(int(rng.integers(1, 3))):
            key = f"{person}-{copy}"
            spelt = name if copy == 0 else name[:-1] + "x"
            rows["id"].append(key)
            rows["name"].append(spelt)
            rows["city"].append(city)
            truth[key] = str(person)
    data = Dataset("people", pa.table(rows), "id", truth)
    got = run_dedupe(data, questions=20, seed=0)
    assert got["questions"] >= 20
    assert got["records"] == len(truth)
    assert got["pairwise_f1"] >= 0.8


def test_a_column_of_two_values_marks_two_sources() -> None:
    table = pa.table(
        {"id": ["1", "2", "3"], "shop": ["a", "b", "a"], "kind": ["x", "x", "x"], "name": ["p", "q", "r"]}
    )
    assert source_column(table, "id") == "shop"
    # None missing: a column with a gap is not a source.
    gap = table.set_column(1, "shop", pa.array(["a", None, "b"]))
    assert source_column(gap, "id") is None


def test_two_sources_are_linked_one_to_one() -> None:
    pytest.importorskip("dedupe")
    from bench.peers import run_dedupe

    rows: dict[str, list[str]] = {"id": [], "register": [], "name": [], "city": []}
    truth = {}
    for person in range(40):
        name = _person(person)
        for register, spelt in (("a", name), ("b", name[:-1] + "x")):
            key = f"{register}{person}"
            rows["id"].append(key)
            rows["register"].append(register)
            rows["name"].append(spelt)
            rows["city"].append(["berlin", "hamburg", "munich", "cologne"][person % 4])
            truth[key] = str(person)
    got = run_dedupe(Dataset("registers", pa.table(rows), "id", truth), questions=20, seed=0)
    assert got["mode"] == "RecordLink by register"
    assert "register:Exact" not in got["fields"]
    assert got["pairwise_f1"] >= 0.8


def _people_with_addresses(two_sources: bool) -> Dataset:
    """300 persons of distinct names with a street and a city; each twice (in two registers, or duplicated
    within one), half of them with a typo in one copy's name and, now and then, its street."""
    rng = np.random.default_rng(1)
    syllables = ["ka", "lo", "mi", "ren", "to", "vas", "bel", "dor", "fin", "gus"]
    streets = ["high street", "station road", "church lane", "mill road", "park avenue", "kings way"]
    cities = ["berlin", "hamburg", "munich", "cologne", "frankfurt", "leipzig", "bremen", "dresden"]
    rows: dict[str, list[str]] = {"id": [], "register": [], "name": [], "street": [], "city": []}
    truth = {}
    for person in range(300):
        family = "".join(syllables[person // 10**i % 10] for i in range(3))
        name = f"{_person(person).split()[0]} {family}"
        street = f"{rng.integers(1, 200)} {streets[person % 6]}"
        for copy in ("a", "b"):
            typo = copy == "b" and person % 2 == 0
            rows["id"].append(f"{copy}{person}")
            rows["register"].append(copy if two_sources else "one")
            rows["name"].append(name[:-1] + "x" if typo else name)
            rows["street"].append(street.replace("road", "rd") if typo and person % 3 == 0 else street)
            rows["city"].append(cities[person % 8])
            truth[f"{copy}{person}"] = str(person)
    table = pa.table(rows)
    return Dataset("people", table if two_sources else table.drop_columns(["register"]), "id", truth)


@pytest.mark.parametrize("two_sources", [False, True], ids=["dedupe_only", "link_only"])
def test_splink_unsupervised_finds_plain_duplicates(two_sources: bool) -> None:
    pytest.importorskip("splink")
    from bench.peers import run_splink

    got = run_splink(_people_with_addresses(two_sources), seed=0)
    assert got["mode"] == ("link_only by register" if two_sources else "dedupe_only")
    assert got["records"] == 600 and "city:Exact" in got["fields"]
    assert len(got["em_on"]) == 2 and got["blocking"]
    assert got["pairwise_f1"] >= 0.8, got


def test_splink_records_keep_each_text_fields_rare_words() -> None:
    """Two long-text fields each get their words less the column's commonest (in more than 1 % of records),
    and the prepared table holds only the key, the fields and their words."""
    import duckdb

    from bench.peers import _splink_prepared

    table = pa.table(
        {
            "id": [str(i) for i in range(200)],
            "a": [f"Alpha beta w{i} x{i % 7}" for i in range(200)],
            "b": [f"gamma delta v{i} y{i % 5}" for i in range(200)],
        }
    )
    con = duckdb.connect()
    name = _splink_prepared(con, table, [("a", "Text"), ("b", "Text")], "id")
    assert [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()] == [
        "id",
        "a",
        "a_words",
        "b",
        "b_words",
    ]
    assert con.execute(f"SELECT a, a_words, b_words FROM {name} WHERE id = '3'").fetchall() == [
        ("alpha beta w3 x3", ["w3"], ["v3"])
    ]
