"""Synthetic catalogue records of two libraries to be linked: each book at most once in each library.

About 2,700 works, most catalogued by both libraries (library_a and library_b), some by one. Each library
writes a book in its own conventions:

- library A: authors "Surname, Given M." joined by "; ", sometimes initials only, a birth year or
  "[et al.]"; titles in title case with the subtitle after " : "; "2nd ed." in the title; the publisher as
  catalogued ("Springer-Verlag", sometimes "Berlin : Springer-Verlag"); years as "2005", "c2005" or
  "[2005]"; pages as "xii, 345 p."; ISBN-13 or ISBN-10, with or without dashes, sometimes "(pbk.)";
- library B: authors "Given Surname" joined by ", " and "and", often the first author only or accents lost;
  titles in lower case, the subtitle often dropped, "(second edition)"; publishers abbreviated or shortened
  ("Springer", "Cambridge Univ. Press", "CUP"); pages as "345", "345 pages" or front matter included; the
  ISBN missing half the time, or that of the paperback.

Both make typos. The hard non-matches are another edition of a book (the same title and authors, another
year, ISBN and page count), another volume of a set ("Vol. 1" / "Vol. 2"), and another book of the same
title by other authors. Deterministic for a given seed.

    .venv/bin/python -m bench.synth_bibliographic --records 4900 --out bibliographic.csv
"""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import generator_main, shuffled_records
from bench.synth_orgs import _pick, _typo

GIVEN = ["John", "Mary", "David", "Sarah", "Michael", "Elizabeth", "Thomas", "Anna", "Peter", "Catherine"]
GIVEN += ["Richard", "Margaret", "James", "Helen", "Robert", "Susan", "Paul", "Jane", "Mark", "Laura"]
GIVEN += ["Hans", "Jürgen", "François", "Hélène", "José", "María", "Giovanni", "Francesca", "Søren"]
GIVEN += ["Ingrid", "Hiroshi", "Yuki", "Wei", "Mei", "Rajesh", "Priya", "Ahmed", "Olga", "Dmitri", "Zoltán"]
SURNAMES = ["Smith", "Johnson", "Brown", "Taylor", "Miller", "Wilson", "Moore", "Anderson", "Clark"]
SURNAMES += ["Wright", "Hughes", "Bennett", "Fischer", "Müller", "Schäfer", "Köhler", "Dubois", "Lefèvre"]
SURNAMES += ["Moreau", "García", "Martínez", "Núñez", "Rossi", "Bianchi", "Ferrari", "Jensen", "Sørensen"]
SURNAMES += ["Lindqvist", "Nakamura", "Tanaka", "Wang", "Zhang", "Chen", "Kumar", "Sharma", "Novak"]
SURNAMES += ["Kowalski", "Ivanov", "O'Brien", "McDonald", "Gallagher", "Weber", "Hoffmann", "Petersen"]
SUBJECTS = ["Linear Algebra", "Organic Chemistry", "Quantum Mechanics", "Microeconomics", "Macroeconomics"]
SUBJECTS += ["Statistical Learning", "Data Structures", "Operating Systems", "Cell Biology", "Ecology"]
SUBJECTS += ["Social Psychology", "Political Philosophy", "Numerical Analysis", "Thermodynamics"]
SUBJECTS += ["Fluid Mechanics", "Molecular Genetics", "Cognitive Neuroscience", "Urban Sociology"]
SUBJECTS += ["International Relations", "Public Finance", "Corporate Finance", "Game Theory"]
SUBJECTS += ["Probability Theory", "Real Analysis", "Abstract Algebra", "Differential Equations"]
SUBJECTS += ["Signal Processing", "Control Systems", "Computer Networks", "Database Systems"]
SUBJECTS += ["Compiler Design", "Machine Learning", "Artificial Intelligence", "Information Theory"]
SUBJECTS += ["Cryptography", "Graph Theory", "Topology", "Number Theory", "Astrophysics"]
SUBJECTS += ["Solid State Physics", "Econometrics", "Marketing Management", "Organizational Behavior"]
SUBJECTS += ["Art History", "Music Theory", "Linguistics", "Phonology", "Semantics", "Anthropology"]
SUBJECTS += ["Archaeology", "Constitutional Law", "Contract Law", "Public Health", "Epidemiology"]
SUBJECTS += ["Pharmacology", "Immunology", "Biochemistry", "Environmental Economics", "Labor Economics"]
SUBJECTS += ["Calculus", "Statistics", "Genetics", "Microbiology", "Physiology", "Geology", "Oceanography"]
SUBJECTS += ["Meteorology", "Optics", "Electromagnetism", "Nuclear Physics", "Particle Physics", "Robotics"]
SUBJECTS += ["Inorganic Chemistry", "Physical Chemistry", "Analytical Chemistry", "Polymer Science"]
SUBJECTS += ["Materials Science", "Structural Engineering", "Computer Vision", "Software Engineering"]
SUBJECTS += ["Natural Language Processing", "Distributed Systems", "Parallel Computing", "Accounting"]
SUBJECTS += ["Computer Architecture", "Human-Computer Interaction", "Business Ethics", "Logic"]
SUBJECTS += ["Development Economics", "Behavioral Economics", "Monetary Policy", "Comparative Politics"]
SUBJECTS += ["Public Administration", "Sociology of Religion", "Moral Philosophy", "Epistemology"]
SUBJECTS += ["Philosophy of Mind", "Ancient Philosophy"]
PLACES = ["Europe", "the Ottoman Empire", "Modern China", "Latin America", "the Roman Republic"]
PLACES += ["Medieval England", "the American South", "Japan", "West Africa", "the Mediterranean", "Russia"]
PLACES += ["India", "the Byzantine Empire", "Early Modern France", "the Atlantic World", "Scandinavia"]
PLACES += ["the Habsburg Monarchy", "Ireland", "Mexico", "the Low Countries"]
ADJECTIVES = ["Silent", "Hidden", "Last", "Glass", "Broken", "Golden", "Distant", "Forgotten", "Northern"]
ADJECTIVES += ["Burning", "Quiet", "Secret", "Winter", "Salt", "Paper", "Iron", "Painted", "Lost"]
NOUNS = ["River", "Garden", "Harbour", "Kingdom", "Orchard", "Lighthouse", "Station", "Letter", "Summer"]
NOUNS += ["Mirror", "Island", "Horizon", "Archive", "Voyage", "Bridge", "Country", "House", "Season"]
CITIES = ["Lisbon", "Vienna", "Trieste", "Kyoto", "Odessa", "Dublin", "Marrakesh", "Prague", "Havana"]
CENTURIES = ["Sixteenth", "Seventeenth", "Eighteenth", "Nineteenth", "Twentieth"]
TEXTBOOK = ["Introduction to {s}", "An Introduction to {s}", "Principles of {s}", "Foundations of {s}"]
TEXTBOOK += ["Essentials of {s}", "{s}", "Elements of {s}", "Topics in {s}", "Handbook of {s}"]
TEXTBOOK += ["Understanding {s}", "Lectures on {s}", "A First Course in {s}", "Advanced {s}"]
TEXTBOOK += ["Modern {s}", "Applied {s}", "Concepts of {s}", "Fundamentals of {s}"]
TEXTBOOK_SUBTITLES = [
    "A Modern Approach",
    "Theory and Practice",
    "An Introduction",
    "Concepts and Applications",
]
TEXTBOOK_SUBTITLES += [
    "Methods and Models",
    "A Practical Guide",
    "Problems and Solutions",
    "With Applications",
]
TEXTBOOK_SUBTITLES += ["From Theory to Practice", "A Comprehensive Introduction", "A Unified Approach"]
TEXTBOOK_SUBTITLES += ["Fundamentals and Applications", "Selected Topics"]
HISTORY = ["A History of {p}", "{p} in the {c} Century", "The Making of {p}", "The Rise and Fall of {p}"]
HISTORY += ["Empire and Society in {p}", "Power and Faith in {p}", "Trade and Culture in {p}"]
HISTORY_SUBTITLES = ["A Short History", "A New History", "Society, Politics and Culture", "A Social History"]
HISTORY_SUBTITLES += ["{y1}-{y2}", "From {y1} to {y2}", "An Economic History", "Myth and Reality"]
FICTION = ["The {a} {n}", "A {n} in {city}", "The {n} at {city}", "The {a} {n} of {city}", "{a} {n}"]
ESSAYS = ["Essays on {s}", "Reflections on {s}", "{s} and {s2}", "Readings in {s}"]
ESSAY_SUBTITLES = ["Selected Essays", "Collected Papers", "A Reader", "New Perspectives", "Critical Essays"]
VOLUME_SUBTITLES = ["Foundations", "Advanced Topics", "Applications", "The Early Period", "The Middle Ages"]
VOLUME_SUBTITLES += ["The Modern Era", "Theory", "Methods", "Sources and Documents", "Case Studies"]
# (library A's name, library B's names, place, ISBN group-publisher prefix)
PUBLISHERS = [
    (
        "Springer-Verlag",
        ["Springer", "Springer Verlag", "Springer-Verlag Berlin Heidelberg"],
        "Berlin",
        "3-540",
    ),
    ("Springer-Verlag", ["Springer", "Springer New York", "Springer Verlag"], "New York", "0-387"),
    ("Cambridge University Press", ["Cambridge Univ. Press", "CUP", "Cambridge U.P."], "Cambridge", "0-521"),
    ("Oxford University Press", ["Oxford Univ. Press", "OUP", "Oxford U.P."], "Oxford", "0-19"),
    ("John Wiley & Sons", ["Wiley", "J. Wiley", "John Wiley and Sons", "Wiley & Sons"], "New York", "0-471"),
    ("Addison-Wesley", ["Addison Wesley", "Addison-Wesley Pub. Co."], "Reading, Mass.", "0-201"),
    (
        "Prentice Hall",
        ["Prentice-Hall", "Prentice Hall PTR", "Pearson Prentice Hall"],
        "Englewood Cliffs, N.J.",
        "0-13",
    ),
    ("McGraw-Hill", ["McGraw Hill", "McGraw-Hill Education", "McGraw-Hill Book Co."], "New York", "0-07"),
    ("MIT Press", ["The MIT Press", "M.I.T. Press"], "Cambridge, Mass.", "0-262"),
    ("Princeton University Press", ["Princeton Univ. Press", "Princeton U.P."], "Princeton, N.J.", "0-691"),
    ("Elsevier", ["Elsevier Science", "Elsevier B.V."], "Amsterdam", "0-444"),
    ("Academic Press", ["Acad. Press", "Academic Press Inc."], "San Diego", "0-12"),
    ("W. W. Norton & Company", ["Norton", "W.W. Norton", "W. W. Norton & Co."], "New York", "0-393"),
    ("Penguin Books", ["Penguin", "Penguin Books Ltd"], "London", "0-14"),
    ("Random House", ["Random House Inc.", "Random House, Inc."], "New York", "0-394"),
    ("HarperCollins", ["Harper Collins", "HarperCollins Publishers", "Harper"], "New York", "0-06"),
    ("Routledge", ["Routledge, Taylor & Francis Group", "Routledge Chapman & Hall"], "London", "0-415"),
    ("CRC Press", ["CRC", "Chapman and Hall/CRC"], "Boca Raton", "0-8493"),
    ("Harvard University Press", ["Harvard Univ. Press", "Belknap Press"], "Cambridge, Mass.", "0-674"),
    ("Yale University Press", ["Yale Univ. Press", "Yale U.P."], "New Haven", "0-300"),
    (
        "University of Chicago Press",
        ["Univ. of Chicago Press", "The University of Chicago Press"],
        "Chicago",
        "0-226",
    ),
    ("Palgrave Macmillan", ["Palgrave", "Macmillan"], "Basingstoke", "1-4039"),
    ("Birkhäuser", ["Birkhauser", "Birkhäuser Verlag", "Birkhauser Boston"], "Basel", "3-7643"),
    ("Walter de Gruyter", ["De Gruyter", "de Gruyter"], "Berlin", "3-11"),
    ("Suhrkamp Verlag", ["Suhrkamp"], "Frankfurt am Main", "3-518"),
    ("Éditions Gallimard", ["Gallimard", "Editions Gallimard"], "Paris", "2-07"),
    ("Dover Publications", ["Dover", "Dover Pubns", "Dover Publications, Inc."], "Mineola, N.Y.", "0-486"),
    (
        "SAGE Publications",
        ["Sage", "SAGE Publ.", "Sage Publications, Inc."],
        "Thousand Oaks, Calif.",
        "0-7619",
    ),
    ("Blackwell Publishing", ["Blackwell", "Wiley-Blackwell", "Blackwell Pub."], "Oxford", "1-4051"),
    ("Pearson Education", ["Pearson", "Pearson Education Ltd"], "Harlow", "0-582"),
    ("World Scientific", ["World Scientific Publishing", "World Sci."], "Singapore", "981-02"),
    ("Basic Books", ["Basic Books, Inc.", "Basic"], "New York", "0-465"),
    ("Vintage Books", ["Vintage", "Vintage Books USA"], "New York", "0-679"),
    ("Faber & Faber", ["Faber and Faber", "Faber"], "London", "0-571"),
]
TRADE = {"W. W. Norton & Company", "Penguin Books", "Random House", "HarperCollins", "Suhrkamp Verlag"}
TRADE |= {"Éditions Gallimard", "Basic Books", "Vintage Books", "Faber & Faber", "Palgrave Macmillan"}
ORDINALS = {2: ("2nd", "second"), 3: ("3rd", "third"), 4: ("4th", "fourth"), 5: ("5th", "fifth")}


@dataclass
class Work:
    authors: list[tuple[str, str, str]]  # given name, middle initial or "", surname
    title: str
    subtitle: str
    publisher: int
    year: int
    isbn: str  # the nine digits an ISBN-10 checks, with the group and publisher dashes
    paperback: str  # the same for the paperback
    pages: int
    front: int  # pages of front matter, numbered in roman
    edition: int = 1
    volume: int = 0
    editors: bool = False
    born: tuple[int, ...] = ()  # authors' birth years


def _ascii(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= value:
            out, n = out + letters, n - value
    return out


def _isbn_body(prefix: str, rng: np.random.Generator) -> str:
    item = "".join(str(int(d)) for d in rng.integers(0, 10, 9 - len(prefix.replace("-", ""))))
    return f"{prefix}-{item}"


def _isbn10(body: str, dashes: bool) -> str:
    digits = [int(c) for c in body.replace("-", "")]
    check = (11 - sum((10 - i) * d for i, d in enumerate(digits)) % 11) % 11
    text = f"{body}-{'X' if check == 10 else check}"
    return text if dashes else text.replace("-", "")


def _isbn13(body: str, dashes: bool) -> str:
    digits = [int(c) for c in "978" + body.replace("-", "")]
    check = (10 - sum(d * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits)) % 10) % 10
    text = f"978-{body}-{check}"
    return text if dashes else text.replace("-", "")


def _person(rng: np.random.Generator) -> tuple[str, str, str]:
    middle = _pick(rng, "ABCDEFGHJKLMNPRSTW") if rng.random() < 0.4 else ""
    return _pick(rng, GIVEN), middle, _pick(rng, SURNAMES)


def _title(rng: np.random.Generator) -> tuple[str, str, bool]:
    """A title, a subtitle or "", and whether a trade publisher (not an academic one) brings it out."""
    r = rng.random()
    s, s2 = (str(x) for x in rng.choice(SUBJECTS, 2, replace=False))
    if r < 0.5:
        title = _pick(rng, TEXTBOOK).format(s=s)
        return title, _pick(rng, TEXTBOOK_SUBTITLES) if rng.random() < 0.5 else "", False
    if r < 0.72:
        title = _pick(rng, HISTORY).format(p=_pick(rng, PLACES), c=_pick(rng, CENTURIES))
        y1 = int(rng.integers(1000, 1900))
        sub = _pick(rng, HISTORY_SUBTITLES).format(y1=y1, y2=y1 + int(rng.integers(30, 300)))
        return title[0].upper() + title[1:], sub if rng.random() < 0.6 else "", rng.random() < 0.4
    if r < 0.9:
        a, n, city = _pick(rng, ADJECTIVES), _pick(rng, NOUNS), _pick(rng, CITIES)
        return _pick(rng, FICTION).format(a=a, n=n, city=city), "A Novel" if rng.random() < 0.2 else "", True
    title = _pick(rng, ESSAYS).format(s=s, s2=s2)
    return title, _pick(rng, ESSAY_SUBTITLES) if rng.random() < 0.6 else "", rng.random() < 0.3


def _new_work(rng: np.random.Generator, authors: list[tuple[str, str, str]] | None = None) -> Work:
    title, subtitle, trade = _title(rng)
    if authors is None:
        authors = [_person(rng) for _ in range(int(rng.choice(4, p=[0.5, 0.3, 0.12, 0.08])) + 1)]
    publishers = [i for i, p in enumerate(PUBLISHERS) if (p[0] in TRADE) == trade]
    publisher = _pick(rng, publishers)
    prefix = PUBLISHERS[publisher][3]
    pages = int(rng.integers(90, 900))
    front = int(rng.choice([0, 8, 10, 12, 14, 16, 18, 20, 24, 32]))
    year = int(rng.integers(1970, 2021))
    born = tuple(year - int(rng.integers(28, 70)) for _ in authors)
    editors = "Handbook" in title or "Readings" in title or (len(authors) > 1 and rng.random() < 0.05)
    return Work(
        authors,
        title,
        subtitle,
        publisher,
        year,
        _isbn_body(prefix, rng),
        _isbn_body(prefix, rng),
        pages,
        front,
        editors=editors,
        born=born,
    )


def _works(count: int, rng: np.random.Generator) -> list[Work]:
    """Books: most unique, some further editions or volumes of one, some sharing another's title."""
    works: list[Work] = []
    titles: set[str] = set()
    while len(works) < count:
        r = rng.random()
        if works and r < 0.06:
            # The same title by other authors, at another publisher and time.
            other = _pick(rng, works)
            work = replace(
                _new_work(rng), title=other.title, subtitle=other.subtitle if rng.random() < 0.3 else ""
            )
            works.append(work)
            continue
        work = _new_work(rng)
        for _ in range(20):  # other books of one title only where meant
            if work.title not in titles:
                break
            work = _new_work(rng)
        titles.add(work.title)
        works.append(work)
        if r < 0.16:
            # Later editions: the same book revised, another year, ISBN and page count.
            for edition in range(2, 2 + int(rng.integers(1, 3))):
                prefix = PUBLISHERS[work.publisher][3]
                authors = work.authors + ([_person(rng)] if rng.random() < 0.25 else [])
                year = work.year + int(rng.integers(3, 10)) * (edition - 1)
                pages = int(work.pages * rng.uniform(1.03, 1.2) ** (edition - 1))
                born = work.born + tuple(year - int(rng.integers(28, 60)) for _ in authors[len(work.born) :])
                works.append(
                    replace(
                        work,
                        authors=authors,
                        year=year,
                        pages=pages,
                        edition=edition,
                        born=born,
                        isbn=_isbn_body(prefix, rng),
                        paperback=_isbn_body(prefix, rng),
                    )
                )
        elif r < 0.2 and not work.subtitle:
            # A set of volumes, each with its own subtitle, page count and ISBN.
            subtitles = [str(s) for s in rng.choice(VOLUME_SUBTITLES, 3, replace=False)]
            work.volume, work.subtitle = 1, subtitles[0]
            prefix = PUBLISHERS[work.publisher][3]
            for volume in range(2, 2 + int(rng.integers(1, 3))):
                works.append(
                    replace(
                        work,
                        volume=volume,
                        subtitle=subtitles[volume - 1],
                        year=work.year + int(rng.integers(0, 3)),
                        pages=int(rng.integers(150, 900)),
                        isbn=_isbn_body(prefix, rng),
                        paperback=_isbn_body(prefix, rng),
                    )
                )
    return works[:count]


def _authors_a(work: Work, rng: np.random.Generator) -> str | None:
    if rng.random() < 0.03:
        return None
    initials = rng.random() < 0.15
    names = []
    for (given, middle, surname), born in zip(work.authors, work.born, strict=True):
        first = f"{given[0]}." if initials else given
        name = f"{surname}, {first}{f' {middle}.' if middle else ''}"
        if not initials and rng.random() < 0.1:
            name += f", {born}-"
        names.append(name)
    if len(names) > 3 and rng.random() < 0.5:
        names = [names[0] + " [et al.]"]
    text = "; ".join(names)
    if work.editors:
        text += " (eds.)" if len(work.authors) > 1 else " (ed.)"
    return text


def _authors_b(work: Work, rng: np.random.Generator) -> str | None:
    if rng.random() < 0.05:
        return None
    people = work.authors[:1] if len(work.authors) > 2 and rng.random() < 0.3 else work.authors
    names = [
        " ".join(x for x in (g, f"{m}." if m and rng.random() < 0.5 else "", s) if x) for g, m, s in people
    ]
    if len(names) > 1 and rng.random() < 0.6:
        text = ", ".join(names[:-1]) + " and " + names[-1]
    else:
        text = ", ".join(names)
    if work.editors:
        text = (
            f"edited by {text}" if rng.random() < 0.5 else f"{text} (Editor{'s' if len(names) > 1 else ''})"
        )
    return _ascii(text) if rng.random() < 0.3 else text


def _typo_in(text: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 5]
    if long:
        k = _pick(rng, long)
        words[k] = _typo(words[k], rng)
    return " ".join(words)


def _title_a(work: Work, rng: np.random.Generator) -> str:
    title = work.title
    if work.volume:
        title += f", Vol. {work.volume}" if rng.random() < 0.7 else f". Vol. {work.volume}"
    if work.subtitle:
        title += f" : {work.subtitle}" if rng.random() < 0.6 else f": {work.subtitle}"
    if work.edition > 1 and rng.random() < 0.85:
        short = ORDINALS[work.edition][0]
        title += f" / {short} ed." if rng.random() < 0.5 else f", {short} ed."
    return _typo_in(title, rng) if rng.random() < 0.05 else title


def _title_b(work: Work, rng: np.random.Generator) -> str:
    title = work.title
    if work.volume and rng.random() < 0.9:
        title += _pick(rng, [f" volume {work.volume}", f". v. {work.volume}", f" vol {work.volume}"])
    if work.subtitle and rng.random() < 0.65:
        title += f": {work.subtitle}"
    if work.edition > 1 and rng.random() < 0.7:
        short, long = ORDINALS[work.edition]
        title += f" ({long} edition)" if rng.random() < 0.6 else f", {short} ed"
    title = title.lower()
    if rng.random() < 0.3:
        title = _ascii(title)
    return _typo_in(title, rng) if rng.random() < 0.07 else title


def _publisher(work: Work, library: str, rng: np.random.Generator) -> str | None:
    name, others, place, _ = PUBLISHERS[work.publisher]
    if library == "a":
        if rng.random() < 0.04:
            return None
        return f"{place} : {name}" if rng.random() < 0.3 else name
    if rng.random() < 0.1:
        return None
    return _pick(rng, others) if rng.random() < 0.75 else name


def _year(work: Work, library: str, rng: np.random.Generator) -> str | None:
    r = rng.random()
    if library == "a":
        return f"c{work.year}" if r < 0.15 else f"[{work.year}]" if r < 0.2 else str(work.year)
    if r < 0.05:
        return None
    return str(work.year + int(rng.choice([-1, 1]))) if r < 0.09 else str(work.year)


def _isbn(work: Work, library: str, rng: np.random.Generator) -> str | None:
    old = work.year < 2007  # catalogued before ISBN-13
    r = rng.random()
    if library == "a":
        if r < 0.12:
            return None
        if rng.random() < (0.6 if old else 0.1):
            text = _isbn10(work.isbn, rng.random() < 0.4)
            return f"{text} (pbk.)" if rng.random() < 0.15 else text
        return _isbn13(work.isbn, rng.random() < 0.55)
    if r < 0.5:
        return None
    body = work.paperback if rng.random() < 0.08 else work.isbn
    if rng.random() < (0.4 if old else 0.1):
        return _isbn10(body, rng.random() < 0.6)
    return _isbn13(body, rng.random() < 0.3)


def _pages(work: Work, library: str, rng: np.random.Generator) -> str | None:
    if library == "a":
        if rng.random() < 0.05:
            return None
        return f"{_roman(work.front)}, {work.pages} p." if work.front else f"{work.pages} p."
    r = rng.random()
    if r < 0.2:
        return None
    if r < 0.3:
        return str(work.pages + work.front)
    return f"{work.pages} pages" if r < 0.45 else str(work.pages)


def generate_table(records: int = 4900, seed: int = 0, works: int | None = None) -> pa.Table:
    """``records`` catalogue records of about ``records * 0.55`` books (or ``works``), each in both libraries
    or in one. Columns: id, source, title, authors, publisher, year, isbn, pages, and the truth in
    entity_id."""
    rng = np.random.default_rng(seed)
    count = min(records, works or max(1, round(records * 2700 / 4900)))
    books = _works(count, rng)
    both = set(rng.choice(count, min(count, records - count), replace=False).tolist())
    rows: dict[str, list[str | None]] = {
        k: [] for k in ("source", "title", "authors", "publisher", "year", "isbn", "pages", "entity_id")
    }
    for e, work in enumerate(books):
        libraries = ["a", "b"] if e in both else [_pick(rng, ["a", "b"])]
        for library in libraries:
            rows["source"].append(f"library_{library}")
            rows["title"].append(_title_a(work, rng) if library == "a" else _title_b(work, rng))
            rows["authors"].append(_authors_a(work, rng) if library == "a" else _authors_b(work, rng))
            rows["publisher"].append(_publisher(work, library, rng))
            rows["year"].append(_year(work, library, rng))
            rows["isbn"].append(_isbn(work, library, rng))
            rows["pages"].append(_pages(work, library, rng))
            rows["entity_id"].append(f"w{e}")
    return shuffled_records(rows, rng)


def main() -> None:
    generator_main(__doc__ or "", generate_table, 4900)


if __name__ == "__main__":
    main()
