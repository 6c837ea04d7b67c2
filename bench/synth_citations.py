"""Synthetic citation records of papers, one table in several citation styles, heavy-tailed entity sizes.

Papers are cited a rank-size (Zipf) number of times: with 1,900 records about 190 papers, the largest ~200
citations, many 1-5. A citation writes the paper in its own style:

- authors as "J. Smith, A. Jones", "Smith, J. and Jones, A.", "John Smith; Alice Jones", "Smith J, Jones A",
  cut to "et al.", a surname misspelt;
- the title re-cased, reworded a little, with a typo, a word dropped or cut short;
- the venue in full, abbreviated ("Proc. ICML") or as an acronym with the year; pages "123-130" or
  "pp. 123--130"; venue, year and pages often missing.

Papers share prolific authors, venues and years, and title words; some are follow-ups of another paper with
the same authors and a nearly equal title (the hard non-matches). Deterministic for a given seed.

With ``wide``, the fields a citation parser splits a reference into, most of them empty in most records, as in
parsed reference lists: a quarter of a paper's citations cite its technical report (an institution and a report
number, no venue, no pages), and the others may give the proceedings' address, publisher and editors, a
journal's volume, the month and a note ("to appear"). The base columns are drawn as without it.

    .venv/bin/python -m bench.synth_citations --records 1900 --out citations.csv
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.common import generator_main, shuffled_records
from bench.synth_orgs import _pick, entity_sizes

T = TypeVar("T")

FIRST = ["John", "Alice", "Robert", "Maria", "David", "Wei", "Jing", "Michael", "Sarah", "Thomas", "Anna"]
FIRST += ["Hiroshi", "Yuki", "Peter", "Laura", "James", "Elena", "Carlos", "Min", "Jun", "Daniel", "Emily"]
FIRST += ["Ahmed", "Fatima", "Andrew", "Julia", "Stefan", "Ingrid", "Rajesh", "Priya", "Paul", "Jane", "Xin"]
FIRST += ["Li", "Oliver", "Sofia"]
LAST = ["Smith", "Jones", "Wang", "Li", "Zhang", "Chen", "Kim", "Lee", "Mueller", "Garcia", "Nguyen"]
LAST += ["Tanaka", "Brown", "Johnson", "Miller", "Davis", "Wilson", "Taylor", "Anderson", "Thomas", "Moore"]
LAST += ["Martin", "Ivanov", "Rossi", "Dubois", "Schmidt", "Kumar", "Patel", "Singh", "Sato", "Suzuki"]
LAST += ["Liu", "Yang", "Fernandez", "Novak", "Kowalski", "Andersson", "Haas", "Weber", "Cohen", "Levy"]
LAST += ["Park", "Choi"]
ADJECTIVES = ["efficient", "scalable", "robust", "probabilistic", "approximate", "adaptive", "incremental"]
ADJECTIVES += ["distributed", "online", "bayesian", "fast", "parallel", "interactive", "semi-supervised"]
ADJECTIVES += ["hierarchical", "unsupervised", "active", "private", "exact", "declarative"]
TASKS = ["learning", "inference", "clustering", "indexing", "optimization", "estimation", "matching"]
TASKS += ["retrieval", "classification", "sampling", "ranking", "query processing", "record linkage"]
TASKS += ["entity resolution", "data integration", "schema matching", "join processing", "deduplication"]
OBJECTS = ["large databases", "data streams", "graphs", "relational data", "text collections", "web search"]
OBJECTS += ["sensor networks", "xml documents", "time series", "high-dimensional data", "noisy labels"]
OBJECTS += ["uncertain data", "social networks", "knowledge bases", "spatial data", "bibliographic data"]
NOUNS = ["framework", "approach", "method", "algorithm", "model", "system", "analysis", "study"]
TECHNIQUES = ["kernels", "random projections", "neural networks", "decision trees", "graphical models"]
TECHNIQUES += ["hashing", "sketches", "active learning", "crowdsourcing", "linear programming"]
PROPERTIES = ["complexity", "convergence", "effectiveness", "scalability", "limits", "evaluation"]
TEMPLATES = [
    "{Adj} {task} for {obj}",
    "A {adj} {noun} for {task} in {obj}",
    "{Task} of {obj}: a {adj} {noun}",
    "On the {prop} of {adj} {task}",
    "Towards {adj} {task} over {obj}",
    "{Task} with {tech}",
    "{Adj} {task} of {obj} using {tech}",
    "{Task} in {obj}: {prop} and {tech}",
]
SYNONYMS = {
    "approach": "method",
    "method": "approach",
    "using": "with",
    "with": "using",
    "fast": "efficient",
    "algorithm": "method",
    "framework": "approach",
    "over": "for",
    "towards": "toward",
}
STOP = {"a", "the", "of", "for", "in", "on", "and"}
# (full name, abbreviation, acronym)
VENUES = [
    (
        "Proceedings of the International Conference on Machine Learning",
        "Proc. Int. Conf. Mach. Learn.",
        "ICML",
    ),
    (
        "Proceedings of the ACM SIGMOD International Conference on Management of Data",
        "Proc. ACM SIGMOD",
        "SIGMOD",
    ),
    ("Proceedings of the International Conference on Very Large Data Bases", "Proc. VLDB", "VLDB"),
    ("IEEE Transactions on Knowledge and Data Engineering", "IEEE Trans. Knowl. Data Eng.", "TKDE"),
    ("ACM Transactions on Database Systems", "ACM Trans. Database Syst.", "TODS"),
    (
        "Proceedings of the ACM SIGKDD International Conference on Knowledge Discovery and Data Mining",
        "Proc. KDD",
        "KDD",
    ),
    ("Advances in Neural Information Processing Systems", "Adv. Neural Inf. Process. Syst.", "NIPS"),
    ("Journal of Machine Learning Research", "J. Mach. Learn. Res.", "JMLR"),
    ("Proceedings of the IEEE International Conference on Data Engineering", "Proc. ICDE", "ICDE"),
    ("Proceedings of the International World Wide Web Conference", "Proc. WWW", "WWW"),
    ("Proceedings of the AAAI Conference on Artificial Intelligence", "Proc. AAAI", "AAAI"),
    ("Proceedings of the International Joint Conference on Artificial Intelligence", "Proc. IJCAI", "IJCAI"),
    ("Machine Learning", "Mach. Learn.", "MLJ"),
    ("Artificial Intelligence", "Artif. Intell.", "AIJ"),
    ("The VLDB Journal", "VLDB J.", "VLDBJ"),
    ("Data Mining and Knowledge Discovery", "Data Min. Knowl. Discov.", "DMKD"),
    ("Proceedings of the Conference on Uncertainty in Artificial Intelligence", "Proc. UAI", "UAI"),
    (
        "Proceedings of the ACM International Conference on Information and Knowledge Management",
        "Proc. CIKM",
        "CIKM",
    ),
    ("Communications of the ACM", "Commun. ACM", "CACM"),
    ("Information Systems", "Inf. Syst.", "IS"),
]


@dataclass
class Paper:
    authors: list[tuple[str, str, str]]  # first name, middle initial or "", surname
    title: str
    template: str
    slots: dict[str, str]
    venue: int
    year: int
    pages: tuple[int, int]


def _typo(value: str, rng: np.random.Generator) -> str:
    if len(value) < 4:
        return value
    i = int(rng.integers(1, len(value) - 1))
    op = int(rng.integers(3))
    if op == 0:
        return value[:i] + value[i + 1 :]
    if op == 1:
        return value[:i] + value[i] + value[i:]
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


def _slots(rng: np.random.Generator) -> dict[str, str]:
    return {
        "adj": _pick(rng, ADJECTIVES),
        "task": _pick(rng, TASKS),
        "obj": _pick(rng, OBJECTS),
        "noun": _pick(rng, NOUNS),
        "tech": _pick(rng, TECHNIQUES),
        "prop": _pick(rng, PROPERTIES),
    }


def _title(template: str, slots: dict[str, str]) -> str:
    title = template.format(**slots, **{k.capitalize(): v.capitalize() for k, v in slots.items()})
    return re.sub(r"\b([Aa]) ([aeiou])", r"\1n \2", title)


def _papers(count: int, rng: np.random.Generator) -> list[Paper]:
    people = [
        (_pick(rng, FIRST), _pick(rng, "ABCDEHJKLMNPRSTW") if rng.random() < 0.35 else "", _pick(rng, LAST))
        for _ in range(max(10, int(count * 1.2)))
    ]
    popularity = 1.0 / np.arange(1, len(people) + 1) ** 0.8  # prolific authors write many papers
    popularity /= popularity.sum()
    papers: list[Paper] = []
    seen: set[str] = set()
    while len(papers) < count:
        if papers and rng.random() < 0.15:
            # A follow-up: the same authors and title but for one phrase, the same venue, a later year.
            base = _pick(rng, papers)
            template = base.template
            used = [k for k in base.slots if "{" + k in template.lower()]
            slots = base.slots | {(k := _pick(rng, used)): _slots(rng)[k]}
            authors = base.authors[:] if rng.random() < 0.6 else base.authors[:-1] or base.authors
            venue, year = base.venue, base.year + int(rng.integers(0, 3))
        else:
            n_authors = int(rng.choice(6, p=[0.15, 0.3, 0.25, 0.15, 0.1, 0.05])) + 1
            picks = rng.choice(len(people), n_authors, replace=False, p=popularity)
            authors = [people[int(i)] for i in picks]
            template, slots = _pick(rng, TEMPLATES), _slots(rng)
            venue, year = int(rng.integers(len(VENUES))), int(rng.integers(1990, 2021))
        title = _title(template, slots)
        if title.lower() in seen:
            continue
        seen.add(title.lower())
        start = int(rng.integers(1, 900))
        pages = (start, start + int(rng.integers(5, 15)))
        papers.append(Paper(authors, title, template, slots, venue, year, pages))
    return papers


def _authors(paper: Paper, rng: np.random.Generator) -> str | None:
    if rng.random() < 0.05:
        return None
    people = [(f, m if rng.random() < 0.7 else "", s) for f, m, s in paper.authors]
    if rng.random() < 0.08:
        k = int(rng.integers(len(people)))
        f, m, s = people[k]
        people[k] = (f, m, _typo(s, rng))
    style = int(rng.integers(6))
    etal = len(people) >= 3 and rng.random() < 0.25
    if etal:
        people = people[: 3 if style == 3 else 1]
    if style == 0:
        names = [" ".join(x for x in (f"{f[0]}.", f"{m}." if m else "", s) if x) for f, m, s in people]
        text = ", ".join(names)
    elif style == 1:
        names = [f"{s}, {f[0]}.{f' {m}.' if m else ''}" for f, m, s in people]
        text = " and ".join(names)
    elif style == 2:
        text = "; ".join(" ".join(x for x in (f, f"{m}." if m else "", s) if x) for f, m, s in people)
    elif style == 3:
        text = ", ".join(f"{s} {f[0]}{m}" for f, m, s in people)
    elif style == 4:
        names = [" ".join(x for x in (f, m, s) if x) for f, m, s in people]
        text = " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + ", and " + names[-1]
    else:
        text = "; ".join(f"{s.upper()}, {f[0]}." for f, _, s in people)
    return f"{text}{',' if style == 3 else ''} et al." if etal else text


def _title_text(paper: Paper, rng: np.random.Generator) -> str | None:
    if rng.random() < 0.02:
        return None
    title = paper.title
    if rng.random() < 0.45:
        return title
    words = title.split()
    if rng.random() < 0.12:
        words = [SYNONYMS.get(w, w) for w in words]
    if rng.random() < 0.1:
        drop = [i for i, w in enumerate(words) if w.lower() in STOP]
        if drop:
            del words[_pick(rng, drop)]
    if rng.random() < 0.2:
        k = int(rng.integers(len(words)))
        words[k] = _typo(words[k], rng)
    if rng.random() < 0.08 and len(words) > 4:
        words = words[: int(rng.integers(3, len(words)))]
    title = " ".join(words)
    r = rng.random()
    if r < 0.3:
        title = title.lower()
    elif r < 0.34:
        title = title.upper()
    elif r < 0.5:
        title = " ".join(w if w.lower() in STOP else w[:1].upper() + w[1:] for w in words)
    if rng.random() < 0.15:
        title += "."
    elif rng.random() < 0.05:
        title = f'"{title}"'
    return title


def _venue(paper: Paper, rng: np.random.Generator) -> str | None:
    if rng.random() < 0.3:
        return None
    full, abbreviation, acronym = VENUES[paper.venue]
    style = int(rng.integers(7))
    if style == 0:
        return full
    if style == 1:
        return f"In {full}"
    if style == 2:
        return abbreviation
    if style == 3:
        return acronym
    if style == 4:
        return f"{acronym} {paper.year}" if rng.random() < 0.5 else f"{acronym} '{paper.year % 100:02d}"
    if style == 5:
        return f"Proc. {acronym}" if full.startswith("Proc") else abbreviation.lower()
    return full.lower()


def _pages(paper: Paper, rng: np.random.Generator) -> str | None:
    if rng.random() < 0.35:
        return None
    start, end = paper.pages
    style = int(rng.integers(5))
    if style == 0:
        return f"{start}-{end}"
    if style == 1:
        return f"pp. {start}--{end}"
    if style == 2:
        return f"{start}–{end}"
    if style == 3:
        return f"pp {start}-{str(end)[-2:] if end >= 100 else end}"
    return str(start)


def _year(paper: Paper, rng: np.random.Generator) -> str | None:
    r = rng.random()
    if r < 0.25:
        return None
    if r < 0.3:
        return str(paper.year + 1)  # the journal version's or the preprint's year
    return f"({paper.year})" if r < 0.35 else str(paper.year)


WIDE = ("institution", "tech", "address", "publisher", "editor", "volume", "month", "note")
INSTITUTIONS = ["Carnegie Mellon University", "Stanford University", "University of California, Berkeley"]
INSTITUTIONS += ["Massachusetts Institute of Technology", "University of Toronto", "University of Washington"]
INSTITUTIONS += [
    "University of Wisconsin-Madison",
    "Cornell University",
    "University of Edinburgh",
    "ETH Zurich",
]
DEPARTMENTS = ["Department of Computer Science", "School of Computer Science", "Computer Science Division"]
DEPARTMENTS += ["Dept. of Computer Sciences", "Laboratory for Computer Science", "CS Dept."]
CITIES = ["San Francisco, CA", "Seattle, WA", "Montreal, Canada", "Berlin, Germany", "Tokyo, Japan"]
CITIES += ["Madison, WI", "Boston, MA", "Sydney, Australia", "Edinburgh, UK", "Vancouver, BC", "Rome, Italy"]
PUBLISHERS = [
    "Morgan Kaufmann",
    "ACM Press",
    "IEEE Computer Society",
    "MIT Press",
    "Springer-Verlag",
    "AAAI Press",
]
PUBLISHER_TOWNS = {
    "Morgan Kaufmann": "San Mateo, CA",
    "ACM Press": "New York, NY",
    "MIT Press": "Cambridge, MA",
}
PUBLISHER_TOWNS |= {
    "IEEE Computer Society": "Los Alamitos, CA",
    "Springer-Verlag": "Berlin",
    "AAAI Press": "",
}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]
MONTHS += ["November", "December"]
NOTES = [
    "To appear",
    "in press",
    "Extended abstract",
    "Also available as a technical report",
    "Invited paper",
]


@dataclass
class Report:
    """What a paper's technical report and proceedings are, as the wide columns cite them."""

    institution: int
    department: int
    number: str
    city: int
    publisher: int
    editors: list[tuple[str, str]]
    volume: int
    month: int


def _report(paper: Paper, rng: np.random.Generator) -> Report:
    editors = [(_pick(rng, FIRST), _pick(rng, LAST)) for _ in range(int(rng.integers(1, 4)))]
    number = f"{_pick(rng, ['CMU-CS', 'TR', 'UW-CSE', 'CSD', 'STAN-CS'])}-{paper.year % 100:02d}-{rng.integers(100, 999)}"
    return Report(
        int(rng.integers(len(INSTITUTIONS))),
        int(rng.integers(len(DEPARTMENTS))),
        number,
        int(rng.integers(len(CITIES))),
        int(rng.integers(len(PUBLISHERS))),
        editors,
        int(rng.integers(1, 40)),
        int(rng.integers(12)),
    )


def _wide(paper: Paper, report: Report, rng: np.random.Generator) -> dict[str, str | None]:
    """One citation's wide fields; a technical report's replace its venue and pages (``_report`` key)."""
    out: dict[str, str | None] = dict.fromkeys(WIDE)
    full = VENUES[paper.venue][0]
    journal = not full.startswith(("Proceedings", "Advances"))
    if rng.random() < 0.25:
        institution = INSTITUTIONS[report.institution]
        if rng.random() < 0.5:
            institution = f"{DEPARTMENTS[report.department]}, {institution}"
        out["institution"] = institution
        out["tech"] = f"{_pick(rng, ['Technical Report', 'Tech. Rep.', 'TR', ''])} {report.number}".strip()
        out["_report"] = "1"
        return out
    if not journal:
        if rng.random() < 0.35:
            out["address"] = CITIES[report.city]
        publisher = PUBLISHERS[report.publisher]
        if rng.random() < 0.3:
            out["publisher"] = publisher
            if rng.random() < 0.3 and PUBLISHER_TOWNS[publisher] and out["address"] is None:
                out["address"] = PUBLISHER_TOWNS[publisher]
        if rng.random() < 0.12:
            out["editor"] = " and ".join(f"{f[0]}. {s}" for f, s in report.editors)
    elif rng.random() < 0.6:
        out["volume"] = _pick(rng, [f"{report.volume}", f"vol. {report.volume}", f"{report.volume}(3)"])
    if rng.random() < 0.15:
        month = MONTHS[report.month]
        out["month"] = month if rng.random() < 0.6 else month[:3] + "."
    if rng.random() < 0.04:
        out["note"] = _pick(rng, NOTES)
    return out


def generate_table(
    records: int = 1900, seed: int = 0, entities: int | None = None, wide: bool = False
) -> pa.Table:
    """About ``records`` citations of about ``records // 10`` papers (or ``entities``), the most cited holding
    a tenth. Columns: id, authors, title, venue, year, pages, with ``wide`` also `WIDE`'s, and the truth in
    entity_id."""
    rng = np.random.default_rng(seed)
    sizes = entity_sizes(records, entities or max(1, records // 10), 0.105, rng)
    papers = _papers(len(sizes), rng)
    # The wide fields draw from a generator of their own, so that the base columns are those of the narrow set.
    wide_rng = np.random.default_rng([seed, 1])
    reports = [_report(paper, wide_rng) for paper in papers] if wide else []
    columns = ("authors", "title", "venue", "year", "pages") + (WIDE if wide else ()) + ("entity_id",)
    rows: dict[str, list[str | None]] = {k: [] for k in columns}
    for e, (paper, size) in enumerate(zip(papers, sizes, strict=True)):
        for _ in range(size):
            rows["authors"].append(_authors(paper, rng))
            rows["title"].append(_title_text(paper, rng))
            venue, year, pages = _venue(paper, rng), _year(paper, rng), _pages(paper, rng)
            if wide:
                fields = _wide(paper, reports[e], wide_rng)
                if fields.pop("_report", None):
                    venue = pages = None
                for k in WIDE:
                    rows[k].append(fields[k])
            rows["venue"].append(venue)
            rows["year"].append(year)
            rows["pages"].append(pages)
            rows["entity_id"].append(f"c{e}")
    return shuffled_records(rows, rng)


def main() -> None:
    generator_main(__doc__ or "", generate_table, 1900)


if __name__ == "__main__":
    main()
