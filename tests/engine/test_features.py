from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findmatches.engine.features import (
    MAX_CHARS,
    PARTIAL_CHARS,
    FeatureSpec,
    WordWeights,
    _code_match,
    _score,
    _segment_match,
    compute_features,
    feature_spec,
    features_for,
    grouped_words,
    session_spec,
    word_keys,
    word_weights,
)
from findmatches.engine.profile import ColumnKind, ColumnProfile
from findmatches.engine.session import LABEL_COLUMNS, open_session
from findmatches.engine.types import MatchParams, RecordSource


def test_features_identical_different_and_missing() -> None:
    profiles = [
        ColumnProfile("name", 0, ColumnKind.NAME, 0.0, 0.9, 1.0, 6.0),
        ColumnProfile("amount", 1, ColumnKind.NUMBER, 0.0, 0.9, 1.0, 3.0),
    ]
    spec = feature_spec(profiles)
    batch = pa.table(
        {
            "l_c0": ["smith", "smith", None],
            "r_c0": ["smith", "jones", "smith"],
            "fl_c0": [2, 2, None],
            "fr_c0": [2, 1, 2],
            "l_c1": ["10", "10", "10"],
            "r_c1": ["10", "20", None],
            "d_c1": [0.0, 0.5, None],
            "l_rec": ["smith 10", "smith 10", "10"],
            "r_rec": ["smith 10", "jones 20", "smith"],
        }
    )
    x = compute_features(spec, batch)
    assert x.shape == (3, len(spec.names))
    col = {name: i for i, name in enumerate(spec.names)}
    assert x[0, col["name:exact"]] == 1.0 and x[0, col["name:jw"]] == 1.0
    assert x[1, col["name:exact"]] == 0.0 and x[1, col["name:jw"]] < 0.7
    assert np.isnan(x[2, col["name:jw"]]) and np.isnan(x[2, col["amount:reldiff"]])
    assert x[1, col["amount:reldiff"]] == 0.5
    assert x[0, col["name:rarity"]] > 0 and x[1, col["name:rarity"]] == 0
    assert len(spec.monotone) == len(spec.names) == len(spec.columns)


WORDS = st.one_of(
    st.none(),
    st.sampled_from(["ann", "anne smith", "smith", "b", "x y z"]),
    st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != ""),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(WORDS, WORDS), min_size=1, max_size=12))
def test_features_skip_only_what_equal_values_make_certain(
    pairs: list[tuple[str | None, str | None]],
) -> None:
    """Similarities are computed only for unequal values: the same matrix as scoring every row."""
    profiles = [ColumnProfile("name", 0, ColumnKind.NAME, 0.0, 0.9, 2.0, 6.0)]
    spec = feature_spec(profiles)
    left = [a for a, _ in pairs]
    right = [b for _, b in pairs]
    rec_l, rec_r = [a or "" for a in left], [b or "" for b in right]
    batch = pa.table(
        {
            "l_c0": pa.array(left, pa.string()),
            "r_c0": pa.array(right, pa.string()),
            "fl_c0": [1] * len(pairs),
            "fr_c0": [1] * len(pairs),
            "l_rec": rec_l,
            "r_rec": rec_r,
        }
    )
    x = compute_features(spec, batch)
    col = {name: i for i, name in enumerate(spec.names)}
    lo, ro = (
        np.asarray([a or "" for a in left], dtype=object),
        np.asarray([b or "" for b in right], dtype=object),
    )
    missing = np.asarray([a is None or b is None for a, b in pairs])
    for comp in ("jw", "lev", "tsort", "tset", "partial"):
        want = _score(comp, lo, ro)
        want[missing] = np.nan
        np.testing.assert_array_equal(x[:, col[f"name:{comp}"]], want)
    ra, rb = np.asarray(rec_l, dtype=object), np.asarray(rec_r, dtype=object)
    np.testing.assert_array_equal(x[:, col["(whole record):ratio"]], _score("ratio", ra, rb))
    np.testing.assert_array_equal(x[:, col["(whole record):tsort"]], _score("tsort", ra, rb))


LONG_TEXT = st.text(alphabet="ab c", min_size=0, max_size=700)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(LONG_TEXT, LONG_TEXT), min_size=1, max_size=8))
def test_text_similarities_read_bounded_prefixes(pairs: list[tuple[str, str]]) -> None:
    """Scorers see each value's first MAX_CHARS characters; the partial ratio looks for the shorter value's
    first PARTIAL_CHARS in the longer one (its cost grows with the product of the lengths). Short values
    score exactly as before the cut."""
    profiles = [ColumnProfile("text", 0, ColumnKind.TEXT, 0.0, 0.9, 20.0, 200.0)]
    spec = feature_spec(profiles)
    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    batch = pa.table(
        {
            "l_c0": left,
            "r_c0": right,
            "fl_c0": [1] * len(pairs),
            "fr_c0": [1] * len(pairs),
            "l_rec": left,
            "r_rec": right,
        }
    )
    x = compute_features(spec, batch)
    col = {name: i for i, name in enumerate(spec.names)}
    cut_l = np.asarray([a[:MAX_CHARS] for a in left], dtype=object)
    cut_r = np.asarray([b[:MAX_CHARS] for b in right], dtype=object)
    equal = np.asarray([a == b for a, b in pairs])
    for comp in ("indel", "tset", "tsort"):
        want = np.where(equal, 1.0, _score(comp, cut_l, cut_r))
        np.testing.assert_array_equal(x[:, col[f"text:{comp}"]], want.astype(np.float32))
    for i, (a, b) in enumerate(pairs):
        short, long = (a, b) if len(a[:MAX_CHARS]) <= len(b[:MAX_CHARS]) else (b, a)
        cut = _score(
            "partial", np.asarray([short[:PARTIAL_CHARS]], object), np.asarray([long[:MAX_CHARS]], object)
        )
        assert x[i, col["text:partial"]] == (1.0 if equal[i] else cut[0])
        if len(a) <= PARTIAL_CHARS and len(b) <= PARTIAL_CHARS and not equal[i]:
            whole = _score("partial", np.asarray([a], object), np.asarray([b], object))
            assert x[i, col["text:partial"]] == whole[0]


def test_one_sided_counts_the_columns_only_one_record_has() -> None:
    """A record without its description against its duplicate: one column is one-sided, and the whole-record
    text still holds the description (shared-column texts linked namesakes at 10M)."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    table = pa.table(
        {
            "id": [str(i) for i in range(8)],
            "title": [f"{w} widget {i}" for i, w in enumerate(words)],
            "description": [" ".join(words[i:] + words[:i]) * 3 for i in range(7)] + [None],
        }
    )
    # The last record is the first one's title without a description; the others differ in both.
    table = table.set_column(1, "title", pa.array([*table.column("title").to_pylist()[:7], "alpha widget 0"]))
    params = MatchParams(primary_key="id")
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    with open_session(RecordSource(table=table), params, labels, None, None) as session:
        spec = feature_spec(session.feature_profiles)
        x = features_for(session, spec, np.array([0, 0]), np.array([7, 1]))
    col = {name: i for i, name in enumerate(spec.names)}
    assert x[0, col["(whole record):ratio"]] < 0.5
    assert x[0, col["(whole record):one_sided"]] == 1.0 and x[1, col["(whole record):one_sided"]] == 0.0


def test_numbers_compare_the_digit_runs_inside_free_text() -> None:
    """A product family's members share every word of their titles and differ in the model number; the same
    product written with other separators ("CJR-12683", "cjr12683") shares it."""
    titles = [
        "aurora fitness gps watch CJR-12683",
        "aurora fitness watch CJR12683",
        "aurora fitness gps watch CJR-12690",
        "aurora fitness gps watch",
        "aurora 2 pack watch straps 12683 12690",
        "straps 12690 for 12683 and 12690",
    ]
    table = pa.table({"id": [str(i) for i in range(6)], "title": titles, "brand": ["aurora"] * 6})
    params = MatchParams(primary_key="id")
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    with open_session(RecordSource(table=table), params, labels, None, None) as session:
        (title,) = [p for p in session.feature_profiles if p.name == "title"]
        assert title.compares_numbers
        spec = feature_spec(session.feature_profiles)
        x = features_for(session, spec, np.array([0, 0, 0, 0, 4, 3]), np.array([1, 2, 3, 4, 5, 3]))
    numbers = x[:, spec.names.index("title:numbers")]
    assert numbers[0] == 1.0 and numbers[1] == 0.0
    assert np.isnan(numbers[2]) and np.isnan(numbers[5])  # no number in a title: nothing to compare
    assert abs(numbers[3] - 1 / 3) < 1e-6  # 12683 of {2, 12683, 12690}
    assert abs(numbers[4] - 2 / 3) < 1e-6  # {12683, 12690} of {2, 12683, 12690}: order and repeats aside


def test_numbers_count_by_their_rarity() -> None:
    """A printer's model number counts for more than the "22 ppm" that every printer's listing holds."""
    others = [f"Brand{chr(97 + i)} Laser Printer {100 + i} 22 ppm" for i in range(20)]
    titles = [
        "HP OfficeJet Pro 8710 22 ppm Printer",
        "OfficeJet Pro 8710",
        "HP OfficeJet Pro 8720 22 ppm",
        *others,
    ]
    spec, x, _ = _weighted_features(pa.table({"title": titles}), [0, 0], [1, 2])
    numbers = x[:, spec.names.index("title:numbers")]
    # The plain Jaccard share of the runs: 1/2 and 1/3.
    assert numbers[0] > 0.85 and numbers[1] < 0.05


def test_numbers_are_compared_only_where_values_hold_them() -> None:
    plain = ColumnProfile("title", 0, ColumnKind.TEXT, 0.0, 1.0, 5.0, 30.0, digit_share=0.1)
    coded = ColumnProfile("title", 0, ColumnKind.TEXT, 0.0, 1.0, 5.0, 30.0, digit_share=0.9)
    code = ColumnProfile("sku", 1, ColumnKind.CODE, 0.0, 1.0, 1.0, 8.0, digit_share=1.0)
    assert "title:numbers" not in feature_spec([plain]).names
    assert "title:numbers" in feature_spec([coded]).names
    assert "sku:numbers" not in feature_spec([code]).names


def test_codes_compare_model_codes_whatever_their_separators() -> None:
    """One shop writes "ET-3340", another "et3340": no word of either title is the other's, the code is; a
    family member's code ("ET-3350") is another, and a title without a code has nothing to compare."""
    titles = [
        "Epson EcoTank ET-3340 20 ppm All-in-One Printer",
        "HOT DEAL: Epson Wireless et3340 Printer",
        "Epson EcoTank ET-3350 20 ppm All-in-One Printer",
        "Epson EcoTank printer",
        "Asus RT-AC72U AC1200 Router",
        "NEW! rtac72u router by Asus",
    ]
    table = pa.table({"id": [str(i) for i in range(6)], "title": titles})
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        (title,) = session.feature_profiles
        assert title.compares_codes
        spec = feature_spec(session.feature_profiles)
        x = features_for(session, spec, np.array([0, 0, 0, 4]), np.array([1, 2, 3, 5]))
    codes = x[:, spec.names.index("title:codes")]
    assert codes[0] == 1.0 and codes[1] == 0.0 and np.isnan(codes[2])
    assert codes[3] == 1.0  # rtac72u of {ac1200, rtac72u} against {rtac72u}: the fewer codes all shared


def test_codes_are_found_inside_the_other_value_and_weighed_by_rarity() -> None:
    """A listing's model code counts for more than the "1080p" and "60Hz" that every television's listing
    holds, and a code written in pieces ("ELPH 280 HS") is found in one written whole ("ELPH280HS")."""
    others = [f"Brand{chr(97 + i)} Model TV {i} 43in 1080p 60Hz" for i in range(20)]
    titles = [
        "Samsung UN43NU7900 43in 1080p 60Hz Smart TV",
        "NEW UN43NU7900 43-inch Television",
        "Samsung UN43NU7100 43in 1080p 60Hz Smart TV",
        "Canon PowerShot ELPH 280 HS Camera",
        "Canon ELPH280HS 20MP camera",
        "Canon PowerShot camera",
        *others,
    ]
    spec, x, _ = _weighted_features(pa.table({"title": titles}), [0, 0, 3, 3], [1, 2, 4, 5])
    codes = x[:, spec.names.index("title:codes")]
    rarest = x[:, spec.names.index("title:rarest_code")]
    # The plain share of the fewer codes that both hold would be 1/2 for the first pair and for the second.
    assert codes[0] > 0.6 and codes[1] < 0.35
    assert rarest[0] == pytest.approx(np.log(24 / 2), abs=1e-4)  # un43nu7900: 2 of the 24 titles with codes
    assert rarest[1] < 0.5 * rarest[0]  # only the common codes found
    assert 0 < codes[2] < 1 and rarest[2] == pytest.approx(np.log(24 / 1), abs=1e-4)
    assert np.isnan(codes[3]) and np.isnan(rarest[3])  # no code in one title, none of the other's in it


def test_codes_are_compared_only_where_values_hold_them() -> None:
    """Street addresses ("12b main st") hold no code; a patent's classes ("G06F H04L") are codes that thousands
    share, which tell no record apart; product titles hold model codes."""
    streets = [f"{i}b main street" for i in range(40)]
    titles = [f"Sony DSC-W{800 + i} camera" for i in range(40)]
    pool = ("G06F", "H04L", "H01L", "A61K", "B01D", "C07D")
    classes = [f"{pool[i % 6]} {pool[(i // 6) % 6]}" for i in range(40)]
    table = pa.table(
        {"id": [str(i) for i in range(40)], "street": streets, "title": titles, "classes": classes}
    )
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        profiles = {p.name: p for p in session.feature_profiles}
    assert not profiles["street"].compares_codes and profiles["title"].compares_codes
    assert not profiles["classes"].compares_codes and profiles["classes"].compares_numbers
    assert "street:codes" not in feature_spec(list(profiles.values())).names


def _phrase_features(
    column: str, values: list[str], left: list[int], right: list[int]
) -> tuple[FeatureSpec, np.ndarray, tuple[str, ...]]:
    """One text column's feature spec with word weights, the features of the pairs (left, right), and the
    spec's names without word weights."""
    return _weighted_features(pa.table({column: values}), left, right)


def _weighted_features(
    table: pa.Table, left: list[int], right: list[int]
) -> tuple[FeatureSpec, np.ndarray, tuple[str, ...]]:
    """The feature spec of ``table``'s columns (an ``id`` added) with word weights, the features of the pairs
    (left, right), and the spec's names without word weights."""
    table = table.add_column(0, "id", pa.array([str(i) for i in range(table.num_rows)]))
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        profiles = session.feature_profiles
        spec = feature_spec(profiles, word_weights(session, profiles))
        x = features_for(session, spec, np.array(left), np.array(right))
        return spec, x, feature_spec(profiles).names


def test_weighted_overlap_counts_rare_words_not_common_ones() -> None:
    """Company names: two firms sharing only a common legal form share little weight; one firm's short and
    long names share the rare word that identifies it."""
    names = [
        "General Digital Gesellschaft mit beschränkter Haftung",
        "American Dynamics Gesellschaft mit beschränkter Haftung",
        "Koninklijke Philips Electronics N.V.",
        "N.V. Philips' Gloeilampenfabrieken",
        "Philips",
        *[f"Firma{i} Gesellschaft mit beschränkter Haftung" for i in range(12)],
        *[f"Other{i} Holdings N.V." for i in range(6)],
    ]
    spec, x, plain_names = _phrase_features("name", names, [0, 2, 3, 4], [1, 3, 4, 4])
    assert plain_names == tuple(n for n in spec.names if ":w" not in n)
    jac, cont = x[:, spec.names.index("name:wjac")], x[:, spec.names.index("name:wcont")]
    plain = x[:, spec.names.index("name:tset")]
    assert jac[0] < 0.25 < plain[0]  # the shared legal form is most of the words, little of the weight
    assert cont[2] == 1.0 and jac[2] > 0.2  # "philips" is all of the short name's weight
    assert jac[1] > jac[0]  # two Philips names share more weight than two firms sharing "gesellschaft …"
    assert jac[3] == 1.0 and cont[3] == 1.0  # a value with itself


def test_words_weighed_by_entities_count_a_large_entitys_name_once() -> None:
    """A company of many records makes its own name common among the records, so that rarity weighs it below
    a word that several small companies share; counted by the entities found, its name is one entity's."""
    forms = ["n v", "b v", "holding n v", "electronics n v", "lighting b v"]
    names = [f"dumont {forms[i % 5]} eindhoven nl" for i in range(30)]
    names += [f"general {w} b v delft nl" for w in ("paper", "digital", "energy", "motors", "foods")]
    names += [
        f"firm{i} {w} n v utrecht nl" for i, w in enumerate(("paper", "digital", "motors", "foods") * 5)
    ]
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    table = pa.table({"id": [str(i) for i in range(len(names))], "name": names})
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        spec = session_spec(session)
        group = np.arange(len(names))
        group[:30] = 0  # the company's records, found as one entity
        grouped = grouped_words(session, spec, group)
        again = session.backend.query("SHOW TABLES").column(0).to_pylist()
    assert word_keys(spec) == [spec.profiles[0].alias]
    alias = spec.profiles[0].alias

    def weight(weights: WordWeights, word: str) -> float:
        return float(weights.weights[weights.words.to_pylist().index(word)])

    before, after = spec.words[alias], grouped.words[alias]
    assert weight(before, "dumont") < weight(before, "general")
    assert weight(after, "dumont") > weight(after, "general")
    assert weight(after, "dumont") == pytest.approx(np.log(26))  # one of the 26 entities
    assert after.unseen == pytest.approx(np.log(26))
    assert np.array_equal(after.grams, before.grams) and np.array_equal(
        after.gram_weights, before.gram_weights
    )
    assert spec.words[alias] is before  # the spec given is left as it was
    assert "fm_word_groups" not in again


def test_weighted_grams_see_through_spelling() -> None:
    """Affiliation strings: one institution spelt two ways ("Tübingen", "Tuebingen"; a typo) keeps a high
    3-gram similarity where the words differ."""
    strings = [
        "Department of Mathematics, University of Tuebingen, Germany",
        "Dept. Math., Univ. of Tübingen, Germany",
        "Department of Mathematics, University of Bonn, Germany",
        "Department of Physics, Universty of Tuebingen",
        *[f"Department of Physics, University of City{i}, Germany" for i in range(16)],
    ]
    spec, x, _ = _phrase_features("affiliation", strings, [0, 0, 0, 3, 2], [1, 2, 3, 3, 4])
    assert "affiliation:wgrams" in spec.names
    grams = x[:, spec.names.index("affiliation:wgrams")]
    wjac = x[:, spec.names.index("affiliation:wjac")]
    assert grams[0] > wjac[0]  # abbreviations and a spelling share 3-grams, few whole words
    assert grams[2] > grams[1]  # the same institution with a typo beats another institution
    assert grams[2] > grams[4]  # one institution's two departments beat two towns' same department
    assert grams.min() >= 0.0 and grams.max() <= 1.0 + 1e-6 and grams[3] == 1.0


def test_parts_match_part_by_part() -> None:
    """Affiliations made of parts: one institution's two departments match part for part, while whole-value
    overlap counts the departments' words against them; another institution of the same city does not."""
    strings = [
        "Laboratory of Physics, University of Bristol, Bristol BS8, UK",
        "Astronomy Department, University of Bristol, Bristol, UK",
        "Laboratory of Physics, University of the West of England, Bristol, UK",
        "University of Bristol",
        # Departments recur across institutions; an institution's name is its own.
        *[
            f"{d} {s}, University of City{i}, City{i}, Country{i % 3}"
            for i, (d, s) in enumerate(
                zip(
                    ["Laboratory of", "Department of"] * 9,
                    ["Physics", "Astronomy", "Chemistry"] * 6,
                    strict=True,
                )
            )
        ],
    ]
    spec, x, plain_names = _phrase_features("affiliation", strings, [0, 0, 1, 0, 3], [1, 2, 3, 0, 4])
    assert "affiliation:segments" in spec.names and "affiliation:segments" not in plain_names
    parts = x[:, spec.names.index("affiliation:segments")]
    whole = x[:, spec.names.index("affiliation:wjac")]
    assert parts[0] > parts[1]  # another department of one institution beats one department of two
    assert parts[0] - parts[1] > whole[0] - whole[1]  # ...by a wider margin than whole-value overlap
    assert parts[3] == 1.0 and parts.min() >= 0.0 and parts.max() <= 1.0 + 1e-6
    assert parts[2] > parts[0]  # a value found whole among the other's parts
    rarest = x[:, spec.names.index("affiliation:rarest")]
    # Two departments of one institution share its rare name; a department of another city's institution
    # shares only words that recur across the column. (Two institutions of one city share the city's name as
    # rare: there the part-by-part comparison above tells them apart.)
    assert rarest[0] > rarest[4] and rarest[0] == rarest[1]


_WORDS = st.sampled_from(["univ", "of", "bristol", "dept", "physics", "lab", "uk", "x1", ""])
_PARTS = st.lists(st.lists(_WORDS, min_size=1, max_size=4).map(" ".join), min_size=1, max_size=5)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_PARTS, _PARTS), min_size=1, max_size=8))
def test_part_by_part_is_symmetric_bounded_and_blind_to_part_order(
    pairs: list[tuple[list[str], list[str]]],
) -> None:
    words = WordWeights(
        words=pa.array(["univ", "of", "bristol", "dept", "physics", "lab", "uk"]),
        weights=np.array([0.5, 0.1, 3.0, 0.8, 1.5, 1.2, 0.3]),
        unseen=4.0,
    )
    left = pa.array(["|".join(a) for a, _ in pairs])
    right = pa.array(["|".join(b) for _, b in pairs])
    turned = pa.array(["|".join(reversed(b)) for _, b in pairs])
    got, rarest = _segment_match(left, right, words)
    back, rarest_back = _segment_match(right, left, words)
    assert np.allclose(got, back, equal_nan=True) and np.allclose(rarest, rarest_back, equal_nan=True)
    assert np.allclose(got, _segment_match(left, turned, words)[0], equal_nan=True)
    seen = got[~np.isnan(got)]
    assert ((seen >= 0.0) & (seen <= 1.0 + 1e-6)).all()
    # The rarest word both hold: the heaviest of the shared words, 0 where they share none.
    weight = dict(zip(["univ", "of", "bristol", "dept", "physics", "lab", "uk"], words.weights, strict=True))
    for (a, b), found in zip(pairs, rarest, strict=True):
        shared = {w for part in a for w in part.split()} & {w for part in b for w in part.split()}
        assert np.isclose(found, max((weight.get(w, words.unseen) for w in shared - {""}), default=0.0))
    itself, _ = _segment_match(left, left, words)
    assert np.allclose(itself[~np.isnan(itself)], 1.0)
    # Missing only where a value holds no word at all.
    empty = np.array([not any(w for part in a for w in part.split()) for a, _ in pairs])
    assert (np.isnan(itself) == empty).all()


_CODE_WORDS = st.sampled_from(["et-3340", "et3340", "rt ac72u", "rtac72u", "1080p", "printer", "60hz", "x9"])
_CODE_VALUES = st.lists(_CODE_WORDS, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_CODE_VALUES, _CODE_VALUES), min_size=1, max_size=8))
def test_codes_found_are_symmetric_bounded_and_whole_for_a_value_itself(pairs: list[tuple[str, str]]) -> None:
    from findmatches.engine.profile import _codes

    words = WordWeights(
        words=pa.array(["et3340", "rtac72u", "1080p", "60hz"]),
        weights=np.array([3.0, 2.5, 0.2, 0.1]),
        unseen=4.0,
    )

    def codes(values: list[str]) -> pa.Array:
        return pa.array([" ".join(sorted(set(_codes(v)))) or None for v in values], pa.string())

    left, right = [a for a, _ in pairs], [b for _, b in pairs]
    share, rarest = _code_match(codes(left), codes(right), pa.array(left), pa.array(right), words)
    back, rarest_back = _code_match(codes(right), codes(left), pa.array(right), pa.array(left), words)
    assert np.allclose(share, back, equal_nan=True) and np.allclose(rarest, rarest_back, equal_nan=True)
    seen = share[~np.isnan(share)]
    assert ((seen >= 0.0) & (seen <= 1.0 + 1e-6)).all()
    # Missing only where neither value holds a code, or one holds none and none of the other's.
    none = np.array([not _codes(a) and not _codes(b) for a, b in pairs])
    assert np.isnan(share[none]).all()
    itself, heaviest = _code_match(codes(left), codes(left), pa.array(left), pa.array(left), words)
    held = np.array([bool(_codes(a)) for a in left])
    assert np.allclose(itself[held], 1.0) and np.isnan(itself[~held]).all()
    weight = dict(zip(["et3340", "rtac72u", "1080p", "60hz"], words.weights, strict=True))
    for a, found in zip(left, heaviest, strict=True):
        if _codes(a):
            assert np.isclose(found, max(weight.get(c, words.unseen) for c in _codes(a)))


def test_parts_are_compared_only_where_values_are_made_of_them() -> None:
    """Names with a comma now and then (", Inc.") are not compared part by part; lists and affiliations are."""
    firms = [f"Firm{i} Holdings" + (", Inc." if i % 4 == 0 else " Group") for i in range(40)]
    tracks = [" | ".join(f"Song {i} {j} of the night" for j in range(5)) for i in range(40)]
    table = pa.table({"id": [str(i) for i in range(40)], "firm": firms, "tracks": tracks})
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        profiles = {p.name: p for p in session.feature_profiles}
        spec = feature_spec(session.feature_profiles, word_weights(session, session.feature_profiles))
    assert not profiles["firm"].compares_segments and profiles["tracks"].compares_segments
    assert "tracks:segments" in spec.names and "firm:segments" not in spec.names
    assert "tracks:rarest" in spec.names and "firm:rarest" not in spec.names


def test_swapped_columns_are_compared_aligned() -> None:
    """Given names and surnames share values (a surname "james", a given name "morgan"), so a record may hold
    them the other way round; the pair's name comparisons then see them aligned, and a flag says so. Names and
    towns share no values and are never swapped."""
    rng = np.random.default_rng(0)
    syllables = ["ka", "lo", "mi", "ren", "sa", "tor", "vel", "dan"]
    vocab = [a + b + "a" for a in syllables for b in syllables][:40]
    towns = ["perth", "albany", "bunbury", "geraldton", "broome"]
    given_names = [vocab[i % 40] for i in range(300)]
    surnames = [vocab[(7 * i + 3) % 40] for i in range(300)]
    cities = [towns[int(rng.integers(0, len(towns)))] for _ in range(300)]
    # Record 300 is record 0 with its names swapped; record 301 another person of record 0's town.
    given_names += [surnames[0], given_names[5]]
    surnames += [given_names[0], surnames[5]]
    cities += [cities[0], cities[0]]
    table = pa.table(
        {"id": [str(i) for i in range(302)], "given": given_names, "surname": surnames, "city": cities}
    )
    labels = pa.table({c: pa.array([], pa.string()) for c in LABEL_COLUMNS})
    with open_session(
        RecordSource(table=table), MatchParams(primary_key="id"), labels, None, None
    ) as session:
        spec = session_spec(session)
        names = {p.alias: p.name for p in session.feature_profiles}
        assert [(names[a], names[b]) for a, b in spec.swaps] == [("given", "surname")]
        x = features_for(session, spec, np.array([0, 0, 0]), np.array([300, 301, 0]))
    flag = x[:, spec.names.index("(whole record):swapped:given+surname")]
    given_jw = x[:, spec.names.index("given:jw")]
    assert list(flag) == [1.0, 0.0, 0.0]
    assert given_jw[0] == 1.0 and given_jw[1] < 1.0  # the swapped record's names, aligned, are equal


def test_string_comparisons_take_the_threads_omp_num_threads_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    # Spark sets OMP_NUM_THREADS to one task's cores in an executor's Python workers: each concurrent task
    # then compares on its own cores instead of every task taking the whole machine.
    from findmatches.engine.features import WORKERS, _workers

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert _workers() == WORKERS == -1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert _workers() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert _workers() == WORKERS


def test_the_whole_record_weighs_words_whatever_column_holds_them() -> None:
    """One shop exports the maker in a column of its own, the other only inside its titles: no column's
    comparison sees the maker of both, the whole record's weighted overlap does, and it weighs the rare maker
    and code above the words every television shares."""
    makers = ["Vizio", "Samsung", "Sony", "Hisense", "Philips", "Sharp", "Toshiba", "Panasonic"]
    titles, maker_column = [], []
    for i, maker in enumerate(makers):
        code = f"X{i}{i}-Q{i}"
        titles += [f"{maker} {code} 50in 4K LED TV", f"{code} 50 inch 4K Ultra HD LED TV"]
        maker_column += [None, maker]
    # A last listing with neither title nor maker: an empty bag.
    titles.append(None)
    maker_column.append(None)
    # The first listing against its own second listing, and against the next maker's second listing.
    spec, x, plain = _weighted_features(
        pa.table({"title": titles, "maker": maker_column}), [0, 0, 0], [1, 3, len(titles) - 1]
    )
    col = {name: i for i, name in enumerate(spec.names)}
    assert np.isnan(x[:, col["maker:exact"]]).all()  # no pair has the maker on both sides
    assert np.isnan(x[2, col["(whole record):wjac"]])  # nothing to weigh against the empty listing
    jac, cont = x[:2, col["(whole record):wjac"]], x[:2, col["(whole record):wcont"]]
    assert jac[0] > jac[1] and cont[0] > cont[1]
    assert jac[1] < 0.05  # "4k led tv", held by every record, weighs nothing: 3 of 14 words unweighted
    assert jac.min() >= 0.0 and cont.max() <= 1.0 and jac[0] <= cont[0]
    # Without the whole record's word weights the spec has no such features.
    assert "(whole record):wjac" not in plain


def test_the_whole_record_finds_a_code_whatever_column_holds_it() -> None:
    """One shop writes the model code in its title, the other only in its description ("Model: MG-5820."):
    the titles share only the common "20ppm", the whole records share the code. A family member whose
    description gives another code shares only "20ppm" either way."""
    makers = ["Acme", "Bolt", "Crest", "Delta", "Echo", "Falcon", "Gala", "Helix", "Iris", "Jade", "Kite"]
    titles = [f"{maker} Office 20 ppm Printer" for maker in makers]
    descriptions = ["Prints fast. Duplex."] * len(makers)
    titles += [
        "Canon PIXMA 20 ppm Printer - MG5820",
        "NEW! 20ppm Multifunction Printer",
        "NEW! 20ppm Printer",
    ]
    descriptions += ["Prints fast.", "Wireless. Model: MG-5820.", "Wireless. Model: MG-5810."]
    a = len(makers)
    spec, x, plain = _weighted_features(
        pa.table({"title": titles, "description": descriptions}), [a, a], [a + 1, a + 2]
    )
    col = {name: i for i, name in enumerate(spec.names)}
    # The titles: each listing's only code found in the other title (20ppm inside "20 ppm"), match or not.
    assert list(x[:, col["title:codes"]]) == [1.0, 1.0]
    assert x[0, col["title:rarest_code"]] == x[1, col["title:rarest_code"]]
    codes, rarest = x[:, col["(whole record):codes"]], x[:, col["(whole record):rarest_code"]]
    assert list(codes) == [1.0, 1.0]
    # Of the 3 titles with codes, mg5820 is in 1 and 20ppm in 2: the match finds the model code.
    assert rarest[0] == pytest.approx(np.log(3 / 1), abs=1e-4)
    assert rarest[1] == pytest.approx(np.log(3 / 2), abs=1e-4)
    # Without the whole record's weights the spec has no such features.
    assert "(whole record):codes" not in plain


def test_short_fields_and_one_column_have_no_whole_record_weighted_overlap() -> None:
    """A register of short fields has no column of phrases to hide another's value: its columns' own
    comparisons see every word. One column has no other to compare across."""
    spec, _, _ = _phrase_features("name", ["alpha beta gamma delta", "alpha beta gamma", "x y z w"], [0], [1])
    assert not any(name.startswith("(whole record):w") for name in spec.names)
    people = pa.table(
        {
            "given": ["ann", "bob", "cy", "di", "ed", "flo"],
            "surname": ["smith", "jones", "smith", "lee", "kim", "park"],
            "town": ["york", "leeds", "hull", "york", "bath", "ely"],
        }
    )
    names = _weighted_features(people, [0], [2])[0].names
    assert "(whole record):ratio" in names
    assert not any(name.startswith("(whole record):w") for name in names)
