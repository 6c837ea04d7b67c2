"""The labeling file read set by set, and the label file the console writes, as the import parses it."""

from __future__ import annotations

from findmatches.console.labeling_files import label_field, label_file, read_labeling_file
from findmatches.io.labels import parse_label_file

LABELING = (
    b"labeling_set_id,label,id,name,city\n"
    b"s1,,1,Ann Lee,Oslo\n"
    b"s1,,2,Ann Lee,Bergen\n"
    b's2,,3,"Bo, Jr.",Oslo\n'
    b"s1,,4,Anne Lee,Oslo\n"
    b"s2,,5,<b>Bo</b>,Oslo\n"
)


def test_sets_in_order_with_differences() -> None:
    labeling = read_labeling_file(LABELING, "id")
    assert labeling.columns == ("id", "name", "city")
    assert [s.set_id for s in labeling.sets] == ["s1", "s2"]
    s1 = labeling.sets[0].records
    assert [r.key for r in s1] == ["1", "2", "4"]
    assert s1[0].differs == (False, False, False)
    assert s1[1].differs == (True, False, True)
    assert s1[2].differs == (True, True, False)
    assert labeling.sets[1].records[0].values == ("3", "Bo, Jr.", "Oslo")
    assert label_field(s1[2]) == "label-3"


def test_label_file_parses_as_an_import() -> None:
    labeling = read_labeling_file(LABELING, "id")
    data = label_file(labeling, {0: "A", 1: "B", 2: " ", 3: "A", 4: "Z"})
    parsed = parse_label_file(data, "id")
    rows = parsed.table.to_pylist()
    assert [(r["labeling_set_id"], r["label"], r["primary_key"]) for r in rows] == [
        ("s1", "A", "1"),
        ("s1", "B", "2"),
        ("s1", "A", "4"),
        ("s2", "Z", "5"),
    ]
    assert parsed.columns == ("id", "name", "city")
    assert data.decode().splitlines()[0] == "labeling_set_id,label,id,name,city"
