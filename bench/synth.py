"""Synthetic person records with known duplicates and tunable noise, 10 thousand to 10 million rows.

Each chunk of rows holds whole entities (an original plus its noisy duplicates), so memory stays bounded by
the chunk size; the output is deterministic for a given seed. Noise: typos, missing values, swapped
given/family names, nicknames, re-formatted phones and dates.

    .venv/bin/python bench/synth.py --records 100000 --dup-rate 0.3 --noise 0.2 --out file.parquet
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK = 200_000
GIVEN = [
    "james",
    "john",
    "robert",
    "michael",
    "william",
    "david",
    "richard",
    "joseph",
    "thomas",
    "charles",
    "christopher",
    "daniel",
    "matthew",
    "anthony",
    "mark",
    "donald",
    "steven",
    "paul",
    "andrew",
    "joshua",
    "kenneth",
    "kevin",
    "brian",
    "george",
    "timothy",
    "ronald",
    "edward",
    "jason",
    "jeffrey",
    "ryan",
    "jacob",
    "gary",
    "nicholas",
    "eric",
    "jonathan",
    "stephen",
    "larry",
    "justin",
    "scott",
    "brandon",
    "benjamin",
    "samuel",
    "gregory",
    "alexander",
    "patrick",
    "frank",
    "raymond",
    "jack",
    "dennis",
    "jerry",
    "tyler",
    "aaron",
    "jose",
    "adam",
    "nathan",
    "henry",
    "zachary",
    "douglas",
    "peter",
    "kyle",
    "noah",
    "ethan",
    "jeremy",
    "mary",
    "patricia",
    "jennifer",
    "linda",
    "elizabeth",
    "barbara",
    "susan",
    "jessica",
    "sarah",
    "karen",
    "lisa",
    "nancy",
    "betty",
    "margaret",
    "sandra",
    "ashley",
    "kimberly",
    "emily",
    "donna",
    "michelle",
    "carol",
    "amanda",
    "dorothy",
    "melissa",
    "deborah",
    "stephanie",
    "rebecca",
    "sharon",
    "laura",
    "cynthia",
    "kathleen",
    "amy",
    "angela",
    "shirley",
    "anna",
    "brenda",
    "pamela",
    "emma",
    "nicole",
    "helen",
    "samantha",
    "katherine",
    "christine",
    "debra",
    "rachel",
    "carolyn",
    "janet",
    "catherine",
    "maria",
    "heather",
    "diane",
    "ruth",
    "julie",
    "olivia",
    "joyce",
    "virginia",
    "victoria",
    "kelly",
    "lauren",
    "christina",
    "joan",
    "evelyn",
    "judith",
    "megan",
    "andrea",
    "cheryl",
    "hannah",
    "jacqueline",
    "martha",
    "gloria",
    "teresa",
    "ann",
    "sara",
    "madison",
    "frances",
    "kathryn",
    "janice",
    "jean",
    "abigail",
    "alice",
    "judy",
    "sophia",
    "grace",
    "denise",
    "amber",
    "doris",
    "marilyn",
    "danielle",
    "beverly",
    "isabella",
    "theresa",
    "diana",
    "natalie",
    "brittany",
    "charlotte",
    "marie",
    "kayla",
    "alexis",
    "lori",
]
NICKNAMES = {
    "james": "jim",
    "john": "jack",
    "robert": "bob",
    "michael": "mike",
    "william": "bill",
    "david": "dave",
    "richard": "rick",
    "joseph": "joe",
    "thomas": "tom",
    "charles": "chuck",
    "christopher": "chris",
    "daniel": "dan",
    "matthew": "matt",
    "anthony": "tony",
    "donald": "don",
    "steven": "steve",
    "andrew": "andy",
    "kenneth": "ken",
    "timothy": "tim",
    "ronald": "ron",
    "edward": "ed",
    "jeffrey": "jeff",
    "nicholas": "nick",
    "jonathan": "jon",
    "benjamin": "ben",
    "samuel": "sam",
    "gregory": "greg",
    "alexander": "alex",
    "patrick": "pat",
    "elizabeth": "liz",
    "margaret": "maggie",
    "jennifer": "jen",
    "patricia": "pat",
    "susan": "sue",
    "jessica": "jess",
    "kimberly": "kim",
    "deborah": "debbie",
    "stephanie": "steph",
    "rebecca": "becky",
    "katherine": "kate",
    "christine": "chris",
    "catherine": "cathy",
    "victoria": "vicky",
    "abigail": "abby",
    "samantha": "sam",
    "alexis": "lexi",
    "isabella": "bella",
    "theresa": "tess",
}
SURNAME_HEADS = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "miller",
    "davis",
    "wilson",
    "anderson",
    "taylor",
    "thomas",
    "moore",
    "martin",
    "jackson",
    "thompson",
    "white",
    "harris",
    "clark",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "hill",
    "campbell",
    "mitchell",
    "roberts",
    "carter",
    "phillips",
    "evans",
    "turner",
    "parker",
    "collins",
    "edwards",
    "stewart",
    "morris",
    "murphy",
    "cook",
    "rogers",
    "morgan",
    "cooper",
    "peterson",
    "bailey",
    "reed",
    "kelly",
    "howard",
    "cox",
    "ward",
    "richardson",
    "watson",
    "brooks",
    "wood",
    "james",
    "bennett",
    "gray",
    "hughes",
    "price",
    "sanders",
    "myers",
    "long",
    "ross",
    "foster",
]
SYLLABLES = [
    "an",
    "ber",
    "car",
    "del",
    "el",
    "fen",
    "gor",
    "han",
    "is",
    "jor",
    "kal",
    "len",
    "mar",
    "nor",
    "ol",
    "per",
    "quin",
    "ros",
    "sal",
    "tor",
    "ul",
    "van",
    "wel",
    "yor",
    "zan",
]
STREETS = [
    "main",
    "oak",
    "pine",
    "maple",
    "cedar",
    "elm",
    "washington",
    "lake",
    "hill",
    "park",
    "view",
    "sunset",
    "river",
    "church",
    "mill",
    "spring",
    "north",
    "south",
]
STREET_TYPES = ["street", "road", "avenue", "lane", "drive", "court", "place", "way"]
CITIES = [
    "springfield",
    "riverton",
    "fairview",
    "madison",
    "georgetown",
    "salem",
    "franklin",
    "clinton",
    "greenville",
    "bristol",
    "dover",
    "oxford",
    "ashland",
    "burlington",
    "clayton",
    "dayton",
    "milton",
    "newport",
    "arlington",
    "auburn",
]
COLUMNS = ["id", "given_name", "surname", "dob", "street", "city", "postcode", "phone", "email", "entity_id"]


def _surnames(rng: np.random.Generator, count: int) -> np.ndarray:
    heads = np.asarray(SURNAME_HEADS)[rng.integers(0, len(SURNAME_HEADS), count)]
    syl = np.asarray(SYLLABLES)
    a, b = syl[rng.integers(0, len(syl), count)], syl[rng.integers(0, len(syl), count)]
    coined = np.char.add(
        np.char.add(a, b),
        np.asarray(["son", "ley", "ton", "berg", "ford", "ski", "er", "s"])[rng.integers(0, 8, count)],
    )
    return np.where(rng.random(count) < 0.35, heads, coined)


def _typo(value: str, rng: np.random.Generator) -> str:
    if len(value) < 2:
        return value
    i = int(rng.integers(0, len(value)))
    op = int(rng.integers(0, 4))
    letter = chr(ord("a") + int(rng.integers(0, 26)))
    if op == 0:
        return value[:i] + value[i + 1 :]
    if op == 1:
        return value[:i] + letter + value[i:]
    if op == 2:
        return value[:i] + letter + value[i + 1 :]
    j = min(i + 1, len(value) - 1)
    chars = list(value)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def _corrupt(row: dict[str, str | None], noise: float, rng: np.random.Generator) -> dict[str, str | None]:
    out = dict(row)
    if rng.random() < noise * 0.3:
        out["given_name"], out["surname"] = out["surname"], out["given_name"]
    given = out["given_name"]
    if given in NICKNAMES and rng.random() < noise:
        out["given_name"] = NICKNAMES[given]
    for col in ("given_name", "surname", "street", "city", "email"):
        value = out[col]
        if value and rng.random() < noise:
            out[col] = _typo(value, rng)
    for col in ("dob", "postcode", "phone"):
        value = out[col]
        if value and rng.random() < noise * 0.4:
            digits = [i for i, c in enumerate(value) if c.isdigit()]
            k = digits[int(rng.integers(0, len(digits)))]
            out[col] = value[:k] + str(int(rng.integers(0, 10))) + value[k + 1 :]
    phone = out["phone"]
    if phone and rng.random() < noise:
        out["phone"] = f"({phone[:3]}) {phone[4:7]}-{phone[8:]}" if len(phone) == 12 else phone
    for col in ("dob", "street", "city", "postcode", "phone", "email"):
        if rng.random() < noise * 0.4:
            out[col] = None
    return out


def generate_chunks(
    records: int, dup_rate: float = 0.3, noise: float = 0.2, seed: int = 0, chunk: int = CHUNK
) -> Iterator[pa.Table]:
    """Yield tables of at most ``chunk`` rows; together exactly ``records`` rows."""
    start = 0
    index = 0
    while start < records:
        size = min(chunk, records - start)
        yield _chunk(size, dup_rate, noise, np.random.default_rng([seed, index]), start)
        start += size
        index += 1


def _chunk(size: int, dup_rate: float, noise: float, rng: np.random.Generator, offset: int) -> pa.Table:
    entities = max(1, round(size * (1.0 - dup_rate)))
    given = np.asarray(GIVEN)[rng.integers(0, len(GIVEN), entities)]
    surname = _surnames(rng, entities)
    year = rng.integers(1930, 2010, entities)
    month = rng.integers(1, 13, entities)
    day = rng.integers(1, 29, entities)
    number = rng.integers(1, 999, entities)
    street = np.char.add(
        np.char.add(
            np.char.add(number.astype(str), " "), np.asarray(STREETS)[rng.integers(0, len(STREETS), entities)]
        ),
        np.char.add(" ", np.asarray(STREET_TYPES)[rng.integers(0, len(STREET_TYPES), entities)]),
    )
    city_idx = rng.integers(0, len(CITIES), entities)
    city = np.asarray(CITIES)[city_idx]
    postcode = (10000 + city_idx * 400 + rng.integers(0, 400, entities)).astype(str)
    phone = [
        f"{a:03d}-{b:03d}-{c:04d}"
        for a, b, c in zip(
            rng.integers(200, 999, entities).tolist(),
            rng.integers(200, 999, entities).tolist(),
            rng.integers(0, 9999, entities).tolist(),
            strict=True,
        )
    ]
    base = [
        {
            "given_name": str(given[i]),
            "surname": str(surname[i]),
            "dob": f"{year[i]:04d}-{month[i]:02d}-{day[i]:02d}",
            "street": str(street[i]),
            "city": str(city[i]),
            "postcode": str(postcode[i]),
            "phone": phone[i],
            "email": f"{given[i]}.{surname[i]}{int(year[i]) % 100}@example.com",
        }
        for i in range(entities)
    ]
    owner = np.concatenate([np.arange(entities), rng.integers(0, entities, size - entities)])
    rows: list[dict[str, str | None]] = []
    for k, e in enumerate(owner.tolist()):
        row: dict[str, str | None] = dict(base[e]) if k < entities else _corrupt(base[e], noise, rng)
        if k < entities:
            for col in ("street", "phone", "email"):
                if rng.random() < noise * 0.25:
                    row[col] = None
        row["entity_id"] = f"e{offset + e}"
        rows.append(row)
    order = rng.permutation(size)
    columns: dict[str, list[str | None]] = {c: [] for c in COLUMNS}
    for pos, k in enumerate(order.tolist()):
        columns["id"].append(f"r{offset + pos}")
        for c in COLUMNS[1:]:
            columns[c].append(rows[k][c])
    return pa.table({c: pa.array(v, pa.string()) for c, v in columns.items()})


def generate_table(records: int, dup_rate: float = 0.3, noise: float = 0.2, seed: int = 0) -> pa.Table:
    """All rows in one Arrow table (for small sizes)."""
    return pa.concat_tables(list(generate_chunks(records, dup_rate, noise, seed)))


def write(records: int, dup_rate: float, noise: float, seed: int, out: Path) -> None:
    """Stream the rows to ``out`` (Parquet or CSV by extension), one chunk at a time."""
    out.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    if out.suffix == ".parquet":
        with pq.ParquetWriter(out, schema) as writer:
            for table in generate_chunks(records, dup_rate, noise, seed):
                writer.write_table(table)
    else:
        with pacsv.CSVWriter(out, schema) as writer:
            for table in generate_chunks(records, dup_rate, noise, seed):
                writer.write_table(table)


def main() -> None:
    parser = argparse.ArgumentParser(description="Synthetic person records with known duplicates.")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument(
        "--dup-rate", type=float, default=0.3, help="share of rows that duplicate another entity"
    )
    parser.add_argument("--noise", type=float, default=0.2, help="0..1: how corrupted duplicates are")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help=".parquet or .csv")
    args = parser.parse_args()
    write(args.records, args.dup_rate, args.noise, args.seed, args.out)


if __name__ == "__main__":
    main()
