"""A small, deterministic sample of person records with duplicates, for the walkthrough and tests.

Generated here (not copied from anywhere): names and places are drawn from short built-in lists, and
duplicates get the kinds of noise real records carry (typos, nicknames, missing values, swapped fields).
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

FIRST = [
    "james",
    "mary",
    "robert",
    "patricia",
    "john",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "nancy",
    "daniel",
    "lisa",
    "matthew",
    "betty",
    "anthony",
    "margaret",
    "mark",
    "sandra",
]
NICK = {
    "james": "jim",
    "robert": "bob",
    "william": "bill",
    "elizabeth": "liz",
    "richard": "dick",
    "joseph": "joe",
    "thomas": "tom",
    "charles": "chuck",
    "christopher": "chris",
    "daniel": "dan",
    "matthew": "matt",
    "anthony": "tony",
    "margaret": "peggy",
    "jennifer": "jen",
    "michael": "mike",
}
LAST = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
]
STREETS = [
    "main st",
    "oak ave",
    "pine rd",
    "maple dr",
    "cedar ln",
    "elm st",
    "washington ave",
    "lake rd",
    "hill st",
    "park ave",
    "river rd",
    "church st",
]
CITIES = [
    ("springfield", "62701"),
    ("riverside", "92501"),
    ("fairview", "37062"),
    ("madison", "53703"),
    ("georgetown", "78626"),
    ("franklin", "37064"),
    ("clinton", "52732"),
    ("salem", "97301"),
]
COLUMNS = ["id", "first_name", "last_name", "birth_date", "street", "city", "zip", "email"]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.4:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind < 0.7:
        return text[:i] + text[i + 1 :]
    return text[:i] + rng.choice("aeiourstln") + text[i + 1 :]


def _entity(rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, zip_code = rng.choice(CITIES)
    return {
        "first_name": first,
        "last_name": last,
        "birth_date": f"{rng.randint(1940, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "street": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        "city": city,
        "zip": zip_code,
        "email": f"{first[0]}{last}{rng.randint(1, 99)}@example.com",
    }


def _noisy(rng: random.Random, row: dict[str, str]) -> dict[str, str]:
    out = dict(row)
    for _ in range(rng.randint(1, 3)):
        field = rng.choice(
            ["first_name", "last_name", "street", "email", "birth_date", "zip", "missing", "nick"]
        )
        if field == "missing":
            out[rng.choice(["email", "street", "zip"])] = ""
        elif field == "nick":
            out["first_name"] = NICK.get(out["first_name"], out["first_name"])
        elif field == "birth_date":
            y, m, d = out["birth_date"].split("-")
            out["birth_date"] = f"{y}-{d}-{m}" if int(d) <= 12 else out["birth_date"]
        elif out[field]:
            out[field] = _typo(rng, out[field])
    return out


def generate(entities: int = 400, duplicate_rate: float = 0.35, seed: int = 7) -> list[dict[str, str]]:
    """Records with an ``id`` and a hidden truth: records made from one entity share ``entity`` (not a column)."""
    rng = random.Random(seed)
    rows = []
    for e in range(entities):
        base = _entity(rng)
        copies = 1 + (rng.randint(1, 3) if rng.random() < duplicate_rate else 0)
        for c in range(copies):
            rows.append({**(base if c == 0 else _noisy(rng, base)), "entity": str(e)})
    rng.shuffle(rows)
    for i, row in enumerate(rows):
        row["id"] = f"P{i + 1:05d}"
    return rows


def to_csv(rows: list[dict[str, str]], columns: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_sample(folder: Path) -> None:
    """Write ``people.csv`` (the records) and ``people_truth.csv`` (id → entity) into ``folder``."""
    rows = generate()
    (folder / "people").mkdir(parents=True, exist_ok=True)
    (folder / "people" / "people.csv").write_text(to_csv(rows, COLUMNS), encoding="utf-8")
    (folder / "people_truth.csv").write_text(to_csv(rows, ["id", "entity"]), encoding="utf-8")


if __name__ == "__main__":
    write_sample(Path("examples"))
