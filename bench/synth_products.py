"""Synthetic product-catalogue records with known duplicates: a second kind of data beside the persons.

Two shops list the same products in their own words. Each product belongs to a family (a brand's line in one
category) whose members differ only in their model code and sometimes a colour, the hard non-matches of
product matching. A duplicate is the product as the other shop lists it:

- the title reworded: the brand dropped, words reordered or dropped, a typo, the model code re-punctuated;
- the description another selection of the product's sentences, cut short, or missing;
- the brand missing, the price a few percent off and written with a currency sign.

The output is deterministic for a given seed.

    .venv/bin/python bench/synth_products.py --records 10000 --out products.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

BRANDS = [
    "acmetech",
    "aurora",
    "brightline",
    "cobalt",
    "corvex",
    "deltron",
    "ecolux",
    "ferrox",
    "glimmer",
    "halcyon",
    "ionix",
    "jetstream",
    "kinetix",
    "lumina",
    "magnus",
    "nordica",
    "omnia",
    "pinnacle",
    "quantix",
    "radiant",
    "solaris",
    "titanix",
    "ultrix",
    "vantage",
    "wavecrest",
    "xenon",
    "yotta",
    "zenith",
    "arcadia",
    "bluepeak",
    "crestline",
    "dynamo",
    "everest",
    "fusion",
    "granite",
    "horizon",
]
CATEGORIES = {
    "headphones": ["wireless", "noise cancelling", "over-ear", "bluetooth", "foldable", "studio"],
    "blender": ["high speed", "stainless steel", "countertop", "glass jar", "12-speed", "compact"],
    "laptop": ["ultrabook", "14-inch", "touchscreen", "gaming", "convertible", "backlit keyboard"],
    "camera": ["mirrorless", "4k video", "digital", "waterproof", "compact zoom", "wi-fi"],
    "vacuum": ["cordless", "robotic", "bagless", "upright", "pet hair", "hepa filter"],
    "monitor": ["27-inch", "curved", "ultrawide", "ips panel", "144hz", "height adjustable"],
    "speaker": ["portable", "smart", "waterproof", "bookshelf", "bluetooth", "party"],
    "printer": ["laser", "all-in-one", "inkjet", "duplex", "wireless", "monochrome"],
    "watch": ["smart", "fitness", "gps", "analog", "solar", "water resistant"],
    "router": ["mesh", "dual band", "tri-band", "wi-fi 6", "gigabit", "long range"],
}
COLOURS = ["black", "white", "silver", "blue", "red", "graphite", "rose gold", "green"]
SENTENCE_WORDS = [
    "designed",
    "built",
    "delivers",
    "offers",
    "features",
    "includes",
    "provides",
    "perfect",
    "ideal",
    "home",
    "office",
    "travel",
    "daily",
    "use",
    "powerful",
    "quiet",
    "efficient",
    "durable",
    "lightweight",
    "premium",
    "quality",
    "performance",
    "battery",
    "life",
    "fast",
    "charging",
    "easy",
    "setup",
    "intuitive",
    "controls",
    "sleek",
    "modern",
    "design",
    "energy",
    "saving",
    "warranty",
    "included",
    "compatible",
    "with",
    "most",
    "devices",
    "advanced",
    "technology",
    "crisp",
    "clear",
    "sound",
    "vivid",
    "colour",
    "sharp",
    "detail",
    "smooth",
    "reliable",
    "connection",
    "long",
    "lasting",
    "comfortable",
    "fit",
    "adjustable",
    "settings",
    "multiple",
    "modes",
    "simple",
    "cleaning",
    "safe",
    "secure",
    "storage",
    "accessories",
    "everything",
    "you",
    "need",
    "for",
    "work",
    "play",
    "family",
    "kitchen",
    "outdoor",
    "adventures",
    "professional",
    "results",
    "every",
    "time",
]


def _sentences(rng: np.random.Generator, count: int) -> list[str]:
    return [" ".join(rng.choice(SENTENCE_WORDS, rng.integers(6, 14))) + "." for _ in range(count)]


def _model_code(rng: np.random.Generator) -> tuple[str, str, str]:
    """A model code's parts: letters, digits and a suffix (e.g. WH, 1000, XM)."""
    letters = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTVWXZ"), rng.integers(1, 4)))
    digits = str(rng.integers(10, 9999))
    suffix = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTVWXZ0123456789"), rng.integers(0, 3)))
    return letters, digits, suffix


def _code_text(parts: tuple[str, str, str], style: int) -> str:
    letters, digits, suffix = parts
    if style == 0:
        return f"{letters}-{digits}{suffix}"
    if style == 1:
        return f"{letters}{digits}{suffix}"
    return f"{letters} {digits} {suffix}".strip().lower()


def _typo(word: str, rng: np.random.Generator) -> str:
    if len(word) < 4:
        return word
    i = int(rng.integers(1, len(word) - 1))
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def generate_table(records: int = 10_000, dup_rate: float = 0.4, seed: int = 0) -> pa.Table:
    """About ``records`` rows: products listed once, or again (with probability ``dup_rate``) by the
    other shop. Columns: id, title, description, brand, price, and the truth in entity_id."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[str | None]] = {
        k: [] for k in ("title", "description", "brand", "price", "entity_id")
    }
    products = 0
    while len(rows["title"]) < records:
        brand = str(rng.choice(BRANDS))
        category = str(rng.choice(list(CATEGORIES)))
        features = list(rng.choice(CATEGORIES[category], 2, replace=False))
        base_code = _model_code(rng)
        family_price = float(rng.uniform(20, 1500))
        step = int(rng.integers(1, 10))
        for member in range(int(rng.integers(1, 5))):
            # Family members: the same line with another model number, sometimes another colour.
            letters, digits, suffix = base_code
            code = (letters, str(int(digits) + member * step), suffix)
            colour = str(rng.choice(COLOURS)) if rng.random() < 0.5 else ""
            sentences = _sentences(rng, int(rng.integers(2, 6)))
            price = family_price * float(rng.uniform(0.8, 1.25))
            entity = f"p{products}"
            products += 1
            title = " ".join(w for w in [brand, *features, category, colour, _code_text(code, 0)] if w)
            rows["title"].append(title)
            rows["description"].append(" ".join(sentences))
            rows["brand"].append(brand)
            rows["price"].append(f"{price:.2f}")
            rows["entity_id"].append(entity)
            if rng.random() >= dup_rate:
                continue
            words = [*features, category, colour]
            words = [w for w in words if w and rng.random() > 0.15]
            if rng.random() < 0.4:
                rng.shuffle(words)
            if words and rng.random() < 0.3:
                k = int(rng.integers(len(words)))
                words[k] = _typo(words[k], rng)
            lead = [brand] if rng.random() < 0.7 else []
            rows["title"].append(" ".join([*lead, *words, _code_text(code, int(rng.integers(3)))]))
            kept = [s for s in sentences if rng.random() < 0.7] or sentences[:1]
            text = " ".join(kept)
            if rng.random() < 0.3:
                text = text[: int(len(text) * rng.uniform(0.3, 0.8))]
            rows["description"].append(None if rng.random() < 0.15 else text)
            rows["brand"].append(None if rng.random() < 0.2 else brand.title())
            shifted = price * float(rng.uniform(0.92, 1.08))
            rows["price"].append(f"${shifted:.2f}" if rng.random() < 0.5 else f"{shifted:.2f}")
            rows["entity_id"].append(entity)
    n = len(rows["title"])
    shuffled = pa.table({k: pa.array(v, pa.string()) for k, v in rows.items()}).take(rng.permutation(n))
    return shuffled.add_column(0, "id", pa.array([f"r{i}" for i in range(n)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--dup-rate", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    pacsv.write_csv(generate_table(args.records, args.dup_rate, args.seed), args.out)


if __name__ == "__main__":
    main()
