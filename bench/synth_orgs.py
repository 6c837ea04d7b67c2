"""Synthetic organisation (company / patent assignee) records with heavy-tailed entity sizes.

Entity sizes follow a rank-size (Zipf) law: with 2,400 records about 100 organisations, the largest ~600
records, many with 1-5. A record is the organisation's name as some filing wrote it:

- the legal form spelt another way (Inc./Incorporated, AG/Aktiengesellschaft, N.V./NV), put in front
  ("N.V. Acme"), that of a foreign branch (GmbH for the German branch), or missing;
- words abbreviated (International→Intl, Manufacturing→Mfg, and→&), an old or native name (Gloeilampenfabrieken
  for Electrical Industries, Denki for Electric), a royal qualifier, a subsidiary ("Acme Medical Systems");
- ALL CAPS, a typo, punctuation added or dropped.

Organisations share words (Electronics, Systems, Holdings) and families share a first word (General Electric,
General Motors, General Mills), so precision is tested too. Big organisations file from several branches:
street, city and country vary by branch and are sometimes missing; ``category`` is a CPC subclass drawn from the
organisation's own few. Deterministic for a given seed.

    .venv/bin/python bench/synth_orgs.py --records 2400 --out orgs.csv
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import generator_main, shuffled_records

T = TypeVar("T")

PREFIXES = ["General", "United", "National", "American", "International", "Global", "Advanced", "Applied"]
PREFIXES += ["Standard", "Universal", "Pacific", "Northern", "Western", "Eastern", "Texas", "Allied"]
SECONDS = ["Electric", "Motors", "Mills", "Dynamics", "Instruments", "Foods", "Signal", "Atomics"]
SECONDS += ["Chemical", "Semiconductor", "Biosystems", "Materials", "Optical", "Steel", "Telephone", "Paper"]
SECONDS += ["Digital", "Aircraft", "Rubber", "Pharmaceutical", "Machinery", "Oil", "Glass", "Cable"]
SECONDS += ["Rectifier"]
HEADS = ["Philips", "Siemens", "Bosch", "Hoffmann", "Fischer", "Verlinden", "Mitsuda", "Yamashita"]
HEADS += ["Kovalen", "Norvex", "Kalora", "Tesmar", "Brightwater", "Halvorsen", "Castellan", "Dumont"]
HEADS += ["Lindqvist", "Okada", "Harland", "Wexford", "Sorensen", "Matsumura", "Delacroix", "Brennan"]
HEADS += ["Zeller", "Auberon", "Kestrel", "Valdor", "Ostrava", "Pemberton", "Ridgeway", "Takeda", "Nakamura"]
HEADS += ["Gallagher", "Rossi", "Strand"]
SECTORS = ["Electronics", "Systems", "Technologies", "Industries", "Holdings", "Manufacturing"]
SECTORS += ["International", "Electric", "Chemical", "Communications", "Laboratories", "Instruments"]
SECTORS += ["Semiconductor", "Devices", "Pharmaceuticals", "Engineering", "Products", "Research"]
SECTORS += ["Materials", "Optical", "Machinery"]
ABBREVIATIONS = {
    "International": ["Intl", "Intl.", "Int'l", "Int."],
    "Electronics": ["Elec.", "Electronic", "Elect.", "Electrs."],
    "Electric": ["Elec.", "Electrical"],
    "Manufacturing": ["Mfg", "Mfg.", "Manuf."],
    "Company": ["Co", "Co."],
    "Corporation": ["Corp", "Corp."],
    "Technologies": ["Tech", "Technology", "Techs."],
    "Systems": ["Sys.", "System"],
    "Industries": ["Ind.", "Industry", "Inds."],
    "Communications": ["Comm.", "Communication", "Commun."],
    "Laboratories": ["Labs", "Lab.", "Laboratory"],
    "Instruments": ["Instr.", "Instrument"],
    "Semiconductor": ["Semi", "Semiconductors", "Semicond."],
    "Pharmaceuticals": ["Pharma", "Pharm.", "Pharmaceutical"],
    "Pharmaceutical": ["Pharma", "Pharm."],
    "Chemical": ["Chem.", "Chemicals"],
    "Holdings": ["Hldgs", "Holding"],
    "Research": ["Res."],
    "Engineering": ["Eng.", "Engrg."],
    "Products": ["Prods", "Prod."],
    "Materials": ["Mat.", "Material"],
    "Machinery": ["Mach."],
    "Devices": ["Dev."],
    "Laboratory": ["Lab."],
    "and": ["&"],
}
# Native or old words for an English word, by country.
NATIVE = {
    "Electric": {"DE": "Elektro", "NL": "Elektrische", "JP": "Denki", "FR": "Électrique", "SE": "Elektriska"},
    "Chemical": {"DE": "Chemie", "NL": "Chemische", "JP": "Kagaku", "FR": "Chimique"},
    "Industries": {"DE": "Industrie", "NL": "Industrie", "JP": "Kogyo", "FR": "Industrielle"},
    "Manufacturing": {"DE": "Werke", "JP": "Seisakusho", "NL": "Fabrieken"},
    "Electronics": {"DE": "Elektronik", "NL": "Elektronica", "JP": "Denshi", "FR": "Électronique"},
    "Optical": {"DE": "Optische Werke", "JP": "Kogaku"},
    "Machinery": {"DE": "Maschinenbau", "JP": "Kikai"},
    "Pharmaceuticals": {"DE": "Arzneimittel", "JP": "Seiyaku"},
    "Steel": {"DE": "Stahl", "JP": "Seiko"},
    "Instruments": {"DE": "Messtechnik", "JP": "Keiki"},
}
# Old names standing for two English words.
OLD_NAMES = {
    ("Electrical", "Industries"): "Gloeilampenfabrieken",
    ("Electric", "Works"): "Elektrizitätswerke",
}
ROYAL = {"NL": ("Koninklijke", "Royal"), "GB": ("Royal", "Royal"), "SE": ("Kungliga", "Royal")}
SUBSIDIARIES = [
    ["Medical", "Systems"],
    ["Research"],
    ["Semiconductors"],
    ["Consumer", "Electronics"],
    ["Lighting"],
    ["Research", "Laboratories"],
    ["Healthcare"],
    ["Automotive"],
    ["Energy"],
    ["Digital", "Solutions"],
    ["Components"],
    ["Technology", "Center"],
]
LEGAL = {
    "inc": ["Inc.", "Inc", "Incorporated", "INC."],
    "corp": ["Corporation", "Corp.", "Corp"],
    "co": ["Company", "Co.", "Co"],
    "llc": ["LLC", "L.L.C."],
    "ltd": ["Ltd.", "Limited", "Ltd"],
    "plc": ["plc", "PLC", "P.L.C.", "Public Limited Company"],
    "coltd": ["Co., Ltd.", "Co. Ltd.", "Company Limited", "Co Ltd"],
    "kk": ["Kabushiki Kaisha", "K.K.", "KK", "Co., Ltd.", "Corporation"],
    "gmbh": ["GmbH", "G.m.b.H.", "Gesellschaft mit beschränkter Haftung"],
    "ag": ["AG", "Aktiengesellschaft", "A.G."],
    "nv": ["N.V.", "NV", "N. V.", "Naamloze Vennootschap"],
    "bv": ["B.V.", "BV", "B. V."],
    "sa": ["S.A.", "SA", "Société Anonyme"],
    "sas": ["SAS", "S.A.S."],
    "ab": ["AB", "Aktiebolaget", "Aktiebolag"],
}
PREFIXABLE = {"nv", "sa", "ab", "kk"}
SUBSIDIARY_LEGAL = {"nv": "bv", "ag": "gmbh", "plc": "ltd", "corp": "inc", "sa": "sas", "kk": "coltd"}
COUNTRIES = {
    "US": (["US", "USA", "United States", "U.S.A."], ["inc", "corp", "co", "llc"]),
    "DE": (["DE", "Germany", "Deutschland", "Federal Republic of Germany"], ["ag", "gmbh"]),
    "NL": (["NL", "Netherlands", "The Netherlands", "Holland"], ["nv", "bv"]),
    "FR": (["FR", "France"], ["sa", "sas"]),
    "GB": (["GB", "UK", "United Kingdom", "Great Britain"], ["plc", "ltd"]),
    "JP": (["JP", "Japan"], ["kk", "coltd"]),
    "CH": (["CH", "Switzerland", "Schweiz"], ["ag", "sa"]),
    "SE": (["SE", "Sweden"], ["ab"]),
    "KR": (["KR", "Korea", "Republic of Korea", "South Korea"], ["coltd"]),
}
CITIES = {
    "US": [["New York"], ["San Jose"], ["Austin"], ["Boston"], ["Chicago"], ["Houston"], ["Palo Alto"]],
    "DE": [["Munich", "München", "Muenchen"], ["Berlin"], ["Stuttgart"], ["Erlangen"], ["Cologne", "Köln"]],
    "NL": [["Eindhoven"], ["Amsterdam"], ["The Hague", "Den Haag", "'s-Gravenhage"], ["Delft"]],
    "FR": [["Paris"], ["Lyon"], ["Grenoble"], ["Toulouse"]],
    "GB": [["London"], ["Cambridge"], ["Manchester"], ["Bristol"]],
    "JP": [["Tokyo", "Tokyo-to"], ["Osaka", "Osaka-shi"], ["Kyoto"], ["Kawasaki"], ["Yokohama"]],
    "CH": [["Zurich", "Zürich"], ["Basel"], ["Geneva", "Genève"]],
    "SE": [["Stockholm"], ["Gothenburg", "Göteborg"], ["Lund"]],
    "KR": [["Seoul"], ["Suwon", "Suwon-si"], ["Daejeon"]],
}
STREET_NAMES = ["Main", "Oak", "Park", "Industrial", "Commerce", "Technology", "River", "Lake", "Station"]
STREET_NAMES += ["Hill", "Market", "Harbor", "Mill", "Bridge", "Church", "King", "Elm", "Research"]
STREET_TYPES = {"Street": ["St.", "St"], "Avenue": ["Ave.", "Av."], "Road": ["Rd.", "Rd"], "Drive": ["Dr."]}
STREET_TYPES |= {"Boulevard": ["Blvd.", "Blvd"], "Way": ["Wy"], "Parkway": ["Pkwy"], "Lane": ["Ln."]}
CPC = ["H01L", "G06F", "H04N", "H04L", "A61K", "A61B", "C07D", "B60R", "F02D", "G01N", "H01M", "C08L"]
CPC += ["B29C", "G02B", "H05B", "F16H", "A23L", "C12N", "G11B", "H03K", "B65D", "E21B", "C22C", "B01J"]
CPC += ["G03G", "H02J", "F25B", "A47L", "D06F", "G01S", "H04W", "G06T", "C09D", "B32B", "A61M", "H01J"]


@dataclass
class Org:
    words: list[str]  # canonical name without legal form, e.g. ["General", "Electric"]
    head: int  # how many leading words name the organisation itself (kept by subsidiaries)
    legal: str
    country: str
    alternatives: list[list[str]] = field(default_factory=list)  # old, native or royal names
    subsidiaries: list[list[str]] = field(default_factory=list)
    # (country, the city's spellings, street) of the head office and other branches
    branches: list[tuple[str, list[str], str]] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


def _pick(rng: np.random.Generator, items: Sequence[T]) -> T:
    return items[int(rng.integers(len(items)))]


def entity_sizes(records: int, entities: int, largest_share: float, rng: np.random.Generator) -> list[int]:
    """Rank-size (Zipf) entity sizes summing to ``records``; the largest holds about ``largest_share``."""
    entities = max(1, min(entities, records))
    extra = records - entities
    ranks = np.arange(1, entities + 1, dtype=float)
    lo, hi = 0.0, 6.0
    for _ in range(60):
        mid = (lo + hi) / 2
        weights = ranks**-mid
        if 1 + extra * weights[0] / weights.sum() < largest_share * records:
            lo = mid
        else:
            hi = mid
    weights = ranks**-lo
    weights[1:] *= np.exp(rng.normal(-0.125, 0.5, entities - 1))  # mean 1
    sizes = 1 + rng.multinomial(extra, weights / weights.sum())
    return [int(s) for s in rng.permutation(sizes)]


def _typo(value: str, rng: np.random.Generator) -> str:
    if len(value) < 4:
        return value
    i = int(rng.integers(1, len(value) - 1))
    op = int(rng.integers(4))
    letter = chr(ord("a") + int(rng.integers(26)))
    if op == 0:
        return value[:i] + value[i + 1 :]
    if op == 1:
        return value[:i] + letter + value[i:]
    if op == 2:
        return value[:i] + letter + value[i + 1 :]
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


def _street(country: str, rng: np.random.Generator) -> str:
    name, kind, number = _pick(rng, STREET_NAMES), _pick(rng, list(STREET_TYPES)), int(rng.integers(1, 2000))
    suffix = {"DE": "strasse", "CH": "strasse", "NL": "laan", "SE": "gatan"}.get(country)
    if suffix:
        return f"{name}{suffix} {number}"
    return f"{number} {name} {kind}"


def _make_orgs(count: int, sizes: list[int], rng: np.random.Generator) -> list[Org]:
    orgs: list[Org] = []
    seen: set[str] = set()
    while len(orgs) < count:
        size = sizes[len(orgs)]
        country = _pick(rng, list(COUNTRIES))
        if rng.random() < 0.45:
            words, head = [_pick(rng, PREFIXES), _pick(rng, SECONDS)], 2
            if rng.random() < 0.25:
                words.append(_pick(rng, SECTORS))
        else:
            words, head = [_pick(rng, HEADS)], 1
            for _ in range(int(rng.integers(0, 3))):
                sector = _pick(rng, SECTORS)
                if sector not in words:
                    words.append(sector)
            if rng.random() < 0.1:
                words[1:] = ["Electrical", "Industries"]
            elif rng.random() < 0.1:
                words.insert(1, "and")
                words.insert(2, _pick(rng, HEADS))
                head = 3
        if len(set(words)) < len(words) or " ".join(words) in seen:
            continue
        seen.add(" ".join(words))
        org = Org(words, head, _pick(rng, COUNTRIES[country][1]), country)
        for (a, b), old in OLD_NAMES.items():
            if words[-2:] == [a, b]:
                org.alternatives.append([*words[:-2], old])
        native = [NATIVE[w][country] if w in NATIVE and country in NATIVE[w] else w for w in words]
        if native != words:
            org.alternatives.append(native)
        if country in ROYAL and rng.random() < 0.5:
            org.alternatives += [[ROYAL[country][0], *words], [ROYAL[country][1], *words]]
        if size >= 20:
            picks = rng.choice(len(SUBSIDIARIES), min(1 + size // 80, 4), replace=False)
            org.subsidiaries = [SUBSIDIARIES[int(i)] for i in picks]
        for branch in range(1 + min(size // 40, 6)):
            where = country if branch == 0 else _pick(rng, list(COUNTRIES))
            org.branches.append((where, _pick(rng, CITIES[where]), _street(where, rng)))
        org.categories = [str(c) for c in rng.choice(CPC, int(rng.integers(2, 5)), replace=False)]
        orgs.append(org)
    return orgs


def _name(org: Org, branch_country: str, rng: np.random.Generator) -> str:
    """One filing's spelling of the organisation's name."""
    legal = org.legal
    if branch_country != org.country and rng.random() < 0.5:
        legal = _pick(rng, COUNTRIES[branch_country][1])
    words = list(org.words)
    if org.alternatives and rng.random() < 0.2:
        words = list(_pick(rng, org.alternatives))
    elif org.subsidiaries and rng.random() < 0.25:
        words = [*org.words[: org.head], *_pick(rng, org.subsidiaries)]
        legal = SUBSIDIARY_LEGAL.get(legal, legal)
    forms = LEGAL[legal]
    if words == org.words and legal == org.legal and rng.random() < 0.4:
        return f"{' '.join(words)} {forms[0]}"  # the common spelling, repeated verbatim
    words = [_pick(rng, ABBREVIATIONS[w]) if w in ABBREVIATIONS and rng.random() < 0.35 else w for w in words]
    if rng.random() < 0.12:
        k = int(rng.integers(len(words)))
        words[k] = _typo(words[k], rng)
    name = " ".join(words)
    r = rng.random()
    form = _pick(rng, forms) if rng.random() < 0.6 else forms[0]
    if r < 0.15:
        pass  # legal form missing
    elif r < 0.25 and legal in PREFIXABLE:
        name = f"{form} {name}"
    elif r < 0.28 and org.alternatives:
        name = f"{name}, {form}"
    else:
        name = f"{name}{',' if rng.random() < 0.25 else ''} {form}"
    if name.startswith(("Koninklijke ", "Royal ", "Kungliga ")) and rng.random() < 0.2:
        first, rest = name.split(" ", 1)
        name = f"{rest}, {first}"  # catalogue order
    if org.country == "US" and rng.random() < 0.04:
        name = f"The {name}"
    r = rng.random()
    if r < 0.2:
        name = name.upper()
    elif r < 0.23:
        name = name.lower()
    r = rng.random()
    if r < 0.1:
        name = name.replace(".", "")
    elif r < 0.15:
        name = name.replace(" ", "  ", 1)
    elif r < 0.2:
        name += _pick(rng, [".", ",", ";", " -"])
    elif r < 0.22:
        name = f'"{name}"'
    return name


def _address(org: Org, rng: np.random.Generator) -> tuple[str, str | None, str | None, str | None]:
    weights = np.asarray([3.0] + [1.0] * (len(org.branches) - 1))
    country, cities, street = org.branches[int(rng.choice(len(org.branches), p=weights / weights.sum()))]
    city: str | None = cities[0] if rng.random() < 0.7 else _pick(rng, cities)
    if city and rng.random() < 0.1:
        city = city.upper()
    if city and rng.random() < 0.05:
        city = _typo(city, rng)
    for long, short in STREET_TYPES.items():
        if street.endswith(long) and rng.random() < 0.5:
            street = street[: -len(long)] + _pick(rng, short)
    if "strasse" in street:
        street = street.replace("strasse", _pick(rng, ["strasse", "straße", "str."]))
    street_out = None if rng.random() < 0.35 else street
    country_out = None if rng.random() < 0.15 else _pick(rng, COUNTRIES[country][0])
    return country, street_out, None if rng.random() < 0.1 else city, country_out


def generate_table(records: int = 2400, seed: int = 0, entities: int | None = None) -> pa.Table:
    """About ``records`` rows of about ``records // 24`` organisations (or ``entities``), the largest holding a
    quarter. Columns: id, name, street, city, country, category, and the truth in entity_id."""
    rng = np.random.default_rng(seed)
    sizes = entity_sizes(records, entities or max(1, records // 24), 0.25, rng)
    orgs = _make_orgs(len(sizes), sizes, rng)
    rows: dict[str, list[str | None]] = {
        k: [] for k in ("name", "street", "city", "country", "category", "entity_id")
    }
    for e, (org, size) in enumerate(zip(orgs, sizes, strict=True)):
        popularity = np.asarray([1.0 / (i + 1) for i in range(len(org.categories))])
        for _ in range(size):
            branch_country, street, city, country = _address(org, rng)
            rows["name"].append(_name(org, branch_country, rng))
            rows["street"].append(street)
            rows["city"].append(city)
            rows["country"].append(country)
            category: str | None = org.categories[
                int(rng.choice(len(popularity), p=popularity / popularity.sum()))
            ]
            if rng.random() < 0.2:
                category = f"{category} {int(rng.integers(1, 99))}/{int(rng.integers(0, 999)):02d}"
            rows["category"].append(None if rng.random() < 0.1 else category)
            rows["entity_id"].append(f"o{e}")
    return shuffled_records(rows, rng)


def main() -> None:
    generator_main(__doc__ or "", generate_table, 2400)


if __name__ == "__main__":
    main()
