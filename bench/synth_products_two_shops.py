"""Synthetic product listings of two shops to be linked: each product at most once in each shop.

About 1,150 products of real brands' lines (cameras, TVs, headphones, printers, laptops, routers, speakers,
memory cards, mice, watches), most listed by both shops (shop_a, shop_b), some by one. Shop A writes a
product plainly: "Sony Cyber-shot DSC-W830 20.1 MP 8x Optical Zoom Digital Camera - Black", the brand in
``manufacturer``, a description of its spec sentences. Shop B rewords it:

- the title's words reordered, some specs or the line dropped, the noun said otherwise ("Digicam"),
  marketing words added ("NEW!", "Free shipping", "Best price"), a typo;
- the model code re-punctuated ("DSC-W830" / "DSCW830" / "DSC W830" / "W830" / "dscw830");
- the brand missing from the title, often from ``manufacturer`` too, then sometimes only in the description;
- the description another selection of sentences, cut short, or missing (often); the price up to 20% off
  or missing.

With ``hard``, shop B is closer to what real shops export: a third of its titles of products leave the model
code out (half of those give it in the description, "Model: DSCW830"), and shop A writes the code last, after
a dash, as a catalogue does ("Sony Cyber-shot 20.1 MP Digital Camera - DSCW830"), so that the titles share
words but no code.

The hard non-matches are family members that differ only in the model code ("DSC-W830" / "DSC-W800") or
the size ("UN55NU7100" / "UN65NU7100", 64GB / 128GB) with nearly the same specs and price, and accessories
for a product ("Case Logic Carrying Case for Sony Cyber-shot DSC-W830"). Deterministic for a given seed.

    .venv/bin/python -m bench.synth_products_two_shops --records 2200 --out products_two_shops.csv
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import generator_main, shuffled_records
from bench.synth_orgs import _pick
from bench.synth_products import _typo


@dataclass
class Spec:
    values: list[str]
    title: str  # the value's form in a title ("{v} MP"), or "" if titles leave it out
    sentence: str  # its sentence in a description


@dataclass
class Category:
    noun: str  # shop A's
    nouns: list[str]  # shop B's
    specs: list[Spec]
    price: tuple[float, float]
    colours: list[str]
    size: str = ""  # the size's form in a title, where the model code holds a size ({s})
    accessories: list[tuple[str, list[str]]] = field(default_factory=list)  # shop A's noun, shop B's nouns
    accessory_brands: list[str] = field(default_factory=list)


def _spec(values: str, title: str, sentence: str) -> Spec:
    return Spec(values.split("|"), title, sentence)


CATEGORIES = {
    "camera": Category(
        "Digital Camera",
        ["Camera", "Digital Camera", "Compact Camera", "Digicam", "Point & Shoot Camera"],
        [
            _spec(
                "16.1|18.2|20.1|20.2|24.2",
                "{v} MP",
                "Capture sharp, detailed images with the {v}-megapixel sensor.",
            ),
            _spec(
                "5|8|10|20|30|40",
                "{v}x Optical Zoom",
                "The {v}x optical zoom lens brings distant subjects close.",
            ),
            _spec("2.7-inch|3.0-inch", "{v} LCD", "Frame and review your shots on the {v} LCD screen."),
            _spec("720p HD|1080p Full HD|4K", "{v} Video", "Record {v} video at the touch of a button."),
        ],
        (80, 450),
        ["Black", "Silver", "Red", "Pink", "Blue"],
        accessories=[
            ("Carrying Case", ["Case", "Camera Case", "Protective Case"]),
            ("Rechargeable Battery", ["Battery", "Replacement Battery", "Li-ion Battery"]),
            ("Battery Charger", ["Charger", "USB Charger"]),
            ("Screen Protector", ["LCD Protector", "Screen Guard"]),
        ],
        accessory_brands=["Case Logic", "Lowepro", "Wasabi Power", "JJC", "AmazonBasics"],
    ),
    "tv": Category(
        "Smart LED TV",
        ["LED TV", "Smart TV", "Television", "UHD TV"],
        [
            _spec("4K Ultra HD|1080p Full HD", "{v}", "Enjoy {v} picture quality."),
            _spec("60Hz|120Hz", "{v}", "A {v} refresh rate keeps fast action smooth."),
            _spec(
                "HDR10|HDR10+|Dolby Vision", "{v}", "{v} support brings out detail in bright and dark scenes."
            ),
            _spec("2|3|4", "", "{v} HDMI ports connect your consoles and streaming devices."),
        ],
        (250, 1500),
        ["Black"],
        size='{s}" Class',
        accessories=[
            ("Wall Mount", ["TV Wall Mount", "Tilting Wall Mount"]),
            ("Replacement Remote Control", ["Remote", "Remote Control"]),
        ],
        accessory_brands=["Mounting Dream", "Sanus", "AmazonBasics", "Ivation"],
    ),
    "headphones": Category(
        "Wireless Over-Ear Headphones",
        ["Bluetooth Headphones", "Headphones", "Wireless Headset", "Over-Ear Headphones"],
        [
            _spec("20|24|30|38", "{v}h Battery", "Up to {v} hours of battery life on a single charge."),
            _spec("30|40|45|50", "", "Large {v} mm drivers deliver deep, accurate bass."),
            _spec(
                "Active Noise Cancelling|Noise Cancelling|Hybrid Noise Cancelling",
                "{v}",
                "{v} blocks out the world around you.",
            ),
            _spec("built-in microphone|dual microphones", "", "Take calls hands-free with the {v}."),
        ],
        (40, 380),
        ["Black", "White", "Silver", "Blue", "Midnight Blue"],
        accessories=[
            ("Replacement Ear Pads", ["Ear Cushions", "Earpads"]),
            ("Hard Carrying Case", ["Case", "Travel Case"]),
        ],
        accessory_brands=["Brainwavz", "Case Logic", "AmazonBasics"],
    ),
    "printer": Category(
        "All-in-One Printer",
        ["Printer", "Multifunction Printer", "AIO Printer", "Wireless Printer"],
        [
            _spec("20|22|30|40", "{v} ppm", "Prints up to {v} pages per minute."),
            _spec("4800 x 1200 dpi|1200 x 1200 dpi|600 x 600 dpi", "", "Crisp output at up to {v}."),
            _spec("Print, Copy, Scan|Print, Copy, Scan, Fax", "", "Functions: {v}."),
            _spec("Wi-Fi and Ethernet|Wi-Fi Direct|USB and Wi-Fi", "Wireless", "Connect via {v}."),
        ],
        (70, 450),
        ["White", "Black"],
        accessories=[("Ink Cartridge", ["Ink", "Ink Cartridges"]), ("Paper Tray", ["Tray", "Input Tray"])],
        accessory_brands=["LD Products", "Valuetoner", "AmazonBasics"],
    ),
    "laptop": Category(
        "Laptop",
        ["Notebook", "Laptop Computer", "Laptop PC"],
        [
            _spec(
                "Intel Core i3-8130U|Intel Core i5-8250U|Intel Core i7-8550U|AMD Ryzen 5 2500U",
                "{v}",
                "Powered by an {v} processor.",
            ),
            _spec("4GB|8GB|16GB", "{v} RAM", "{v} of memory for smooth multitasking."),
            _spec("256GB SSD|512GB SSD|1TB HDD", "{v}", "Store your files on the {v}."),
            _spec('14"|15.6"', "{v} Full HD", "The {v} Full HD display shows every detail."),
        ],
        (350, 1400),
        ["Black", "Silver", "Grey"],
        accessories=[
            ("Laptop Sleeve", ["Sleeve", "Laptop Case"]),
            ("AC Power Adapter", ["Charger", "Power Supply", "AC Adapter"]),
            ("Replacement Battery", ["Battery", "Laptop Battery"]),
        ],
        accessory_brands=["Case Logic", "AmazonBasics", "Anker", "Powerextra", "Belkin"],
    ),
    "router": Category(
        "Wi-Fi Router",
        ["Wireless Router", "WiFi Router", "Router"],
        [
            _spec("AC1200|AC1750|AC1900|AX3000", "{v}", "{v} Wi-Fi speeds for streaming and gaming."),
            _spec("Dual-Band|Tri-Band", "{v}", "{v} operation reduces congestion."),
            _spec("4|5", "", "{v} Gigabit Ethernet ports for wired devices."),
            _spec("1500|2500|3000", "", "Covers up to {v} sq. ft."),
        ],
        (50, 350),
        ["Black"],
    ),
    "speaker": Category(
        "Portable Bluetooth Speaker",
        ["Bluetooth Speaker", "Wireless Speaker", "Portable Speaker"],
        [
            _spec("10|12|15|20", "", "Plays for up to {v} hours."),
            _spec("IPX5|IPX7|IP67", "{v} Waterproof", "{v} rated: it survives rain and splashes."),
            _spec("10|20|30|40", "{v}W", "{v} W of output fills the room."),
            _spec("PartyBoost|Stereo Pairing", "", "Link two speakers with {v}."),
        ],
        (30, 300),
        ["Black", "Blue", "Red", "Teal", "Grey"],
        accessories=[("Travel Case", ["Carrying Case", "Case"])],
        accessory_brands=["Case Logic", "co2CREA", "AmazonBasics"],
    ),
    "memory": Category(
        "microSDXC Memory Card",
        ["Micro SD Card", "microSD Card", "Memory Card", "MicroSDXC Card"],
        [
            _spec("90|100|160|170", "{v}MB/s", "Read speeds up to {v} MB/s."),
            _spec("UHS-I U3 A2 V30|UHS-I U1 A1|UHS-I U3 V30", "{v}", "{v} rated for 4K video recording."),
            _spec("with SD adapter|with adapter", "{v}", "Comes {v}."),
        ],
        (8, 120),
        [""],
        size="{s}GB",
    ),
    "mouse": Category(
        "Wireless Mouse",
        ["Mouse", "Cordless Mouse", "Wireless Optical Mouse"],
        [
            _spec("1000|4000|16000", "{v} DPI", "Precise tracking up to {v} DPI."),
            _spec("3|5|7", "{v}-Button", "{v} programmable buttons."),
            _spec("12|18|24", "", "Up to {v} months of battery life."),
        ],
        (15, 100),
        ["Black", "Grey", "Blue", "Red"],
    ),
    "watch": Category(
        "GPS Smartwatch",
        ["Smart Watch", "Fitness Watch", "Running Watch", "Smartwatch"],
        [
            _spec("1.2-inch|1.3-inch|1.4-inch", "", "Bright {v} always-on display."),
            _spec("7|10|14", "", "Up to {v} days of battery life in smartwatch mode."),
            _spec("GPS|GPS + GLONASS", "{v}", "Built-in {v} tracks your runs without a phone."),
            _spec("5 ATM|10 ATM", "", "Water rated to {v}."),
        ],
        (120, 600),
        ["Black", "Slate", "White", "Rose Gold"],
        accessories=[
            ("Replacement Band", ["Band", "Strap", "Watch Band"]),
            ("Charging Cable", ["Charger", "Charging Clip", "USB Charger"]),
        ],
        accessory_brands=["Kimwood", "iGadgitz", "AmazonBasics", "Anker"],
    ),
}
# (category, brand, line, model code with {n} and/or {s}, range and step of n, sizes)
LINES: list[tuple[str, str, str, str, tuple[int, int, int], list[int]]] = [
    ("camera", "Sony", "Cyber-shot", "DSC-W{n}", (700, 990, 10), []),
    ("camera", "Sony", "Cyber-shot", "DSC-HX{n}", (50, 99, 10), []),
    ("camera", "Canon", "PowerShot", "SX{n} HS", (600, 740, 10), []),
    ("camera", "Canon", "PowerShot", "ELPH {n} HS", (150, 360, 10), []),
    ("camera", "Nikon", "Coolpix", "A{n}", (10, 900, 10), []),
    ("camera", "Nikon", "Coolpix", "B{n}", (500, 700, 100), []),
    ("camera", "Panasonic", "Lumix", "DMC-ZS{n}", (40, 100, 10), []),
    ("camera", "Panasonic", "Lumix", "DC-FZ{n}", (80, 300, 20), []),
    ("camera", "Fujifilm", "FinePix", "XP{n}", (80, 140, 10), []),
    ("camera", "Olympus", "Tough", "TG-{n}", (3, 6, 1), []),
    ("tv", "Samsung", "", "UN{s}NU{n}", (6900, 8000, 100), [43, 50, 55, 65, 75]),
    ("tv", "Samsung", "", "QN{s}Q{n}FN", (6, 9, 1), [55, 65, 75, 82]),
    ("tv", "LG", "", "{s}UK{n}PUA", (6090, 6500, 10), [43, 49, 55, 65]),
    ("tv", "Sony", "Bravia", "XBR-{s}X{n}F", (800, 950, 50), [49, 55, 65, 75]),
    ("tv", "TCL", "", "{s}S{n}", (405, 525, 20), [43, 49, 55, 65]),
    ("tv", "Vizio", "", "E{s}-F{n}", (1, 2, 1), [43, 50, 55, 65, 70]),
    ("headphones", "Sony", "", "WH-1000XM{n}", (2, 4, 1), []),
    ("headphones", "Sony", "", "MDR-ZX{n}BT", (220, 330, 110), []),
    ("headphones", "Bose", "QuietComfort", "QC{n}", (25, 45, 10), []),
    ("headphones", "Sennheiser", "", "HD {n}BT", (350, 450, 100), []),
    ("headphones", "JBL", "Tune", "{n}BT", (500, 760, 10), []),
    ("headphones", "Audio-Technica", "", "ATH-M{n}xBT", (20, 50, 10), []),
    ("printer", "HP", "OfficeJet Pro", "{n}", (6960, 9020, 10), []),
    ("printer", "HP", "LaserJet Pro", "M{n}dw", (102, 479, 2), []),
    ("printer", "Epson", "WorkForce", "WF-{n}", (2750, 7720, 10), []),
    ("printer", "Epson", "EcoTank", "ET-{n}", (2700, 4760, 10), []),
    ("printer", "Canon", "PIXMA", "MG{n}", (3020, 7720, 100), []),
    ("printer", "Brother", "", "HL-L{n}DW", (2300, 2395, 5), []),
    ("printer", "Brother", "", "MFC-J{n}DW", (480, 985, 5), []),
    ("laptop", "Lenovo", "IdeaPad", "{n}-15IKB", (320, 530, 10), []),
    ("laptop", "Lenovo", "ThinkPad", "T{n}", (450, 490, 10), []),
    ("laptop", "Asus", "VivoBook", "F{n}UA", (510, 570, 10), []),
    ("laptop", "Asus", "ZenBook", "UX{n}UA", (330, 490, 10), []),
    ("laptop", "Acer", "Aspire", "E5-{n}", (553, 576, 1), []),
    ("laptop", "HP", "Pavilion", "15-cc{n}nr", (100, 190, 10), []),
    ("router", "Netgear", "Nighthawk", "R{n}", (6400, 8000, 100), []),
    ("router", "Netgear", "Orbi", "RBK{n}", (20, 50, 10), []),
    ("router", "TP-Link", "Archer", "C{n}", (1200, 5400, 100), []),
    ("router", "Linksys", "", "EA{n}", (6350, 9500, 50), []),
    ("router", "Asus", "", "RT-AC{n}U", (66, 88, 2), []),
    ("speaker", "JBL", "", "Flip {n}", (3, 5, 1), []),
    ("speaker", "JBL", "", "Charge {n}", (3, 4, 1), []),
    ("speaker", "Sony", "", "SRS-XB{n}", (10, 40, 10), []),
    ("speaker", "Ultimate Ears", "", "BOOM {n}", (2, 3, 1), []),
    ("memory", "SanDisk", "Extreme", "SDSQXA1-{s:03d}G-GN6MA", (0, 0, 1), [32, 64, 128, 256, 512]),
    ("memory", "SanDisk", "Ultra", "SDSQUAR-{s:03d}G-GN6MA", (0, 0, 1), [32, 64, 128, 256]),
    ("memory", "Samsung", "EVO Plus", "MB-MC{s}GA", (0, 0, 1), [32, 64, 128, 256]),
    ("memory", "Kingston", "Canvas Select", "SDCS/{s}GB", (0, 0, 1), [32, 64, 128]),
    ("mouse", "Logitech", "", "M{n}", (310, 720, 10), []),
    ("mouse", "Logitech", "", "MX Anywhere {n}", (2, 3, 1), []),
    ("mouse", "HP", "", "Z{n}", (3700, 5000, 100), []),
    ("watch", "Garmin", "", "Forerunner {n}", (35, 945, 10), []),
    ("watch", "Garmin", "", "vivoactive {n}", (3, 4, 1), []),
    ("watch", "Fitbit", "", "Versa {n}", (2, 3, 1), []),
    ("watch", "Casio", "G-Shock", "GBD-{n}", (100, 800, 100), []),
]
MANUFACTURERS = {
    "Sony": ["Sony Corporation", "SONY", "Sony Electronics"],
    "Canon": ["Canon Inc.", "CANON", "Canon USA"],
    "Nikon": ["Nikon Corporation", "NIKON"],
    "Panasonic": ["Panasonic Corporation", "PANASONIC"],
    "Samsung": ["Samsung Electronics", "SAMSUNG"],
    "LG": ["LG Electronics"],
    "HP": ["Hewlett-Packard", "HP Inc."],
    "Epson": ["Seiko Epson", "EPSON"],
    "Brother": ["Brother Industries", "BROTHER"],
    "Lenovo": ["Lenovo Group", "LENOVO"],
    "Asus": ["ASUS", "ASUSTeK Computer"],
    "Logitech": ["Logitech International", "LOGITECH"],
    "Garmin": ["Garmin Ltd.", "GARMIN"],
}
GENERIC = [
    "Enjoy easy setup right out of the box.",
    "Backed by a one-year limited warranty.",
    "Compact and lightweight, it goes wherever you go.",
    "A sleek design that fits any space.",
    "Energy efficient and built to last.",
    "Includes everything you need to get started.",
    "Designed for everyday use at home or in the office.",
    "Award-winning design and reliability.",
    "Simple controls make it easy to use.",
    "Ships in frustration-free packaging.",
]
ACCESSORY_SENTENCES = [
    "Made from durable, high-quality materials.",
    "Precise cutouts give full access to all ports and buttons.",
    "Works just like the original.",
    "Not compatible with other models.",
    "Lightweight and easy to install.",
    "Backed by a lifetime warranty.",
]
PREFIXES = ["NEW", "NEW!", "Brand New", "HOT DEAL:", "Sale -", "[NEW]"]
SUFFIXES = [
    "Free shipping",
    "| Free Shipping",
    "- Best price",
    "Best Price!",
    "w/ Warranty",
    "+ Free Delivery",
]
SUFFIXES += ["- Fast Delivery", "(In Stock)", "Top Seller"]


@dataclass
class Product:
    brand: str
    line: str
    code: str
    category: str
    size: int  # a TV's or memory card's size, 0 if none
    specs: list[str]  # one value per spec of the category
    colour: str
    price: float
    accessory: str = ""  # shop A's noun for an accessory of ``of``
    accessory_nouns: list[str] = field(default_factory=list)  # shop B's
    of: Product | None = None


def _code_variant(code: str, rng: np.random.Generator) -> str:
    """The model code re-punctuated: DSC-W830, DSCW830, DSC W830, W830, dscw830."""
    parts = [p for p in re.split(r"[-\s/]", code) if p]
    r = rng.random()
    if r < 0.3:
        return code
    if r < 0.55:
        return "".join(parts)
    if r < 0.7:
        return " ".join(parts)
    if r < 0.85 and len(parts) > 1 and re.search(r"\d", "".join(parts[1:])):
        return "-".join(parts[1:])  # the series prefix dropped
    return ("".join(parts) if rng.random() < 0.5 else code).lower()


def _families(count: int, rng: np.random.Generator) -> list[Product]:
    """Products in families of one line (model codes a step apart, or sizes), some with accessories."""
    products: list[Product] = []
    used: set[str] = set()
    while len(products) < count:
        category, brand, line, fmt, (lo, hi, step), sizes = LINES[int(rng.integers(len(LINES)))]
        cat = CATEGORIES[category]
        base_n = lo + step * int(rng.integers((hi - lo) // step + 1))
        base_s = _pick(rng, sizes) if sizes else 0
        by_size = bool(sizes) and ("{n}" not in fmt or rng.random() < 0.6)
        specs = [_pick(rng, s.values) for s in cat.specs]
        base_price = float(rng.uniform(*cat.price))
        for k in range(int(rng.integers(1, 5))):
            n = base_n if by_size else base_n + k * step * int(rng.integers(1, 3))
            if n > hi:
                break
            s = int(sizes[(sizes.index(base_s) + k) % len(sizes)]) if by_size else base_s
            code = fmt.format(n=n, s=s)
            if code in used:
                continue
            used.add(code)
            member = list(specs)
            if k and rng.random() < 0.5:
                i = int(rng.integers(len(cat.specs)))
                member[i] = _pick(rng, cat.specs[i].values)
            price = base_price * float(rng.uniform(0.85, 1.2)) * (s / 55 if category == "tv" else 1)
            if category == "memory":
                price = base_price * s / 128
            product = Product(brand, line, code, category, s, member, _pick(rng, cat.colours), price)
            products.append(product)
            for noun, nouns in cat.accessories:
                if rng.random() < 0.07:
                    maker, price = _pick(rng, cat.accessory_brands), float(rng.uniform(6, 45))
                    products.append(Product(maker, "", "", category, 0, [], "", price, noun, nouns, product))
    return products[:count]


def _size_text(product: Product, shop: str, rng: np.random.Generator) -> str:
    cat = CATEGORIES[product.category]
    if not cat.size:
        return ""
    if shop == "a":
        return cat.size.format(s=product.size)
    if product.category == "tv":
        return _pick(
            rng, [f'{product.size}"', f"{product.size} inch", f"{product.size}-Inch", f"{product.size}in"]
        )
    return _pick(rng, [f"{product.size}GB", f"{product.size} GB", f"{product.size}gb"])


def _spec_titles(product: Product) -> list[str]:
    specs = CATEGORIES[product.category].specs
    return [s.title.format(v=v) for s, v in zip(specs, product.specs, strict=True) if s.title]


def _title_a(product: Product, rng: np.random.Generator, hard: bool = False) -> str:
    if product.of is not None:
        main = product.of
        words = [product.brand, product.accessory, "for", main.brand, main.line, main.code]
        return " ".join(w for w in words if w)
    specs = _spec_titles(product)[: int(rng.integers(1, 3))]
    noun = CATEGORIES[product.category].noun
    code = "" if hard else product.code  # hard: last, after the colour
    words = [product.brand, product.line, code, _size_text(product, "a", rng), *specs, noun]
    title = " ".join(w for w in words if w)
    coloured = bool(product.colour) and rng.random() < 0.6
    if hard:
        return f"{title}{' ' + product.colour if coloured else ''} - {product.code.replace('-', '').upper()}"
    return f"{title} - {product.colour}" if coloured else title


def _title_b(product: Product, rng: np.random.Generator, drop_code: bool = False) -> tuple[str, bool]:
    """Shop B's title (without the model code where ``drop_code``), and whether it names the brand."""
    code = _code_variant(product.code if product.of is None else product.of.code, rng)
    if product.of is not None:
        main = product.of
        noun = _pick(rng, product.accessory_nouns)
        r = rng.random()
        named = rng.random() < 0.5
        if r < 0.4:
            title = f"{noun} compatible with {main.brand + ' ' if rng.random() < 0.6 else ''}{code}"
        elif r < 0.7:
            title = f"{code} {noun}"
        else:
            title = f"{product.brand} {noun} for {main.line + ' ' if main.line else ''}{code}"
            named = True
        if named and not title.startswith(product.brand):
            title = f"{product.brand} {title}"
    else:
        named = rng.random() < 0.6
        specs = [s for s in _spec_titles(product) if rng.random() < 0.5]
        if rng.random() < 0.5:
            specs = [re.sub(r"(\d) (MP|ppm|DPI)\b", r"\1\2", s) for s in specs]
        noun = _pick(rng, CATEGORIES[product.category].nouns)
        colour = product.colour if rng.random() < 0.5 else ""
        if colour and rng.random() < 0.5:
            colour = f"({colour})"
        line = product.line if rng.random() < 0.6 else ""
        shown = "" if drop_code else code
        middle = [w for w in [line, shown, _size_text(product, "b", rng), *specs, noun, colour] if w]
        if rng.random() < 0.6:
            middle = [middle[int(i)] for i in rng.permutation(len(middle))]
        brand = product.brand.upper() if rng.random() < 0.2 else product.brand
        title = " ".join([brand, *middle] if named else middle)
    if rng.random() < 0.08:
        words = title.split(" ")
        long = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if long:
            k = _pick(rng, long)
            words[k] = _typo(words[k], rng)
            title = " ".join(words)
    if rng.random() < 0.3:
        title = f"{_pick(rng, PREFIXES)} {title}"
    if rng.random() < 0.35:
        title = f"{title} {_pick(rng, SUFFIXES)}"
    return title, named


def _sentences(product: Product) -> list[str]:
    if product.of is not None:
        main = product.of
        fit = f"Custom fit for the {main.brand} {main.line + ' ' if main.line else ''}{main.code}."
        return [fit, *ACCESSORY_SENTENCES]
    specs = CATEGORIES[product.category].specs
    return [s.sentence.format(v=v) for s, v in zip(specs, product.specs, strict=True)] + GENERIC


def _description(product: Product, shop: str, brand_here: bool, rng: np.random.Generator) -> str | None:
    if rng.random() < (0.1 if shop == "a" else 0.45):
        return None
    pool = _sentences(product)
    first = 1 if product.of is not None else len(CATEGORIES[product.category].specs)
    if shop == "a":
        extra = [int(i) for i in rng.choice(range(first, len(pool)), int(rng.integers(1, 3)), replace=False)]
        chosen = [pool[i] for i in range(first) if rng.random() < 0.9] + [pool[i] for i in extra]
    else:
        chosen = [p for p in pool[:first] if rng.random() < 0.6]
        chosen += [
            pool[int(i)] for i in rng.choice(range(first, len(pool)), int(rng.integers(0, 3)), replace=False)
        ]
        chosen = [chosen[int(i)] for i in rng.permutation(len(chosen))] or pool[:1]
    text = " ".join(chosen)
    if brand_here:
        kind = (
            product.accessory.lower() if product.of is not None else CATEGORIES[product.category].noun.lower()
        )
        text = f"The {product.brand} {product.line + ' ' if product.line else ''}{kind}. {text}"
    if shop == "b" and rng.random() < 0.2:
        text = text[: int(len(text) * rng.uniform(0.4, 0.8))].rstrip() + "..."
    return text


def _manufacturer(product: Product, shop: str, rng: np.random.Generator) -> str | None:
    if rng.random() < (0.08 if shop == "a" else 0.5):
        return None
    variants = MANUFACTURERS.get(product.brand, [product.brand.upper()])
    return _pick(rng, variants) if rng.random() < (0.1 if shop == "a" else 0.35) else product.brand


def _price(product: Product, shop: str, rng: np.random.Generator) -> str | None:
    if shop == "a":
        return None if rng.random() < 0.04 else f"{product.price:.2f}"
    if rng.random() < 0.12:
        return None
    price = product.price * float(rng.uniform(0.8, 1.2))
    return _pick(rng, [f"${price:.2f}", f"{price:.2f}", f"USD {price:.2f}", f"${price:.0f}"])


def generate_table(
    records: int = 2200, seed: int = 0, products: int | None = None, hard: bool = False
) -> pa.Table:
    """``records`` listings of about ``records / 1.9`` products (or ``products``), each in both shops or in
    one (``hard``: see the module's docstring). Columns: id, shop, title, description, manufacturer, price,
    and the truth in entity_id."""
    rng = np.random.default_rng(seed)
    count = min(records, products or max(1, round(records / 1.9)))
    catalogue = _families(count, rng)
    both = set(rng.choice(count, min(count, records - count), replace=False).tolist())
    rows: dict[str, list[str | None]] = {
        k: [] for k in ("shop", "title", "description", "manufacturer", "price", "entity_id")
    }
    for e, product in enumerate(catalogue):
        for shop in ["a", "b"] if e in both else [_pick(rng, ["a", "b"])]:
            # Randomness drawn only when hard, so that the default table stays as it was.
            drop = hard and shop == "b" and product.of is None and rng.random() < 0.33
            if shop == "a":
                title, named = _title_a(product, rng, hard), True
            else:
                title, named = _title_b(product, rng, drop)
            manufacturer = _manufacturer(product, shop, rng)
            brand_here = not named and manufacturer is None and rng.random() < 0.6
            description = _description(product, shop, brand_here, rng)
            if drop and rng.random() < 0.5:
                model = f"Model: {_code_variant(product.code, rng)}."
                description = f"{description} {model}" if description else model
            rows["shop"].append(f"shop_{shop}")
            rows["title"].append(title)
            rows["description"].append(description)
            rows["manufacturer"].append(manufacturer)
            rows["price"].append(_price(product, shop, rng))
            rows["entity_id"].append(f"p{e}")
    return shuffled_records(rows, rng)


def main() -> None:
    generator_main(__doc__ or "", generate_table, 2200)


if __name__ == "__main__":
    main()
