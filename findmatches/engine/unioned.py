"""Tables unioned from sources of different schemas: columns whose presence excludes each other.

Two registers, one with a ``full_name`` and one with ``first_name`` and ``last_name``, or two shops, one with a
``title`` and ``manufacturer`` and one with a ``name`` and ``brand``, unioned into one table: no column is
present on both sides of a pair across the sources, so no column's comparison sees across them. Columns of one
family (text, or one other kind) that are each present in a good share of the records and almost never
together are one attribute under two schemas (`exclusive_groups`), paired column to column where their words
show which is which (`paired`); the engine compares each group's or pair's joined text as a column of its own
(`findmatches.engine.profile.ColumnProfile.joins`), in their place.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

# The family of the text-like kinds (names, text, codes): one attribute may be profiled as any of them.
TEXT_FAMILY = "text"
# Each column of a group is present in at least this share of the records: a rarely filled column (a second
# given name) is absent beside most others by chance, not by schema.
MIN_PRESENT = 0.1
# Two columns exclude each other where both are present in at most this share of the records that hold the
# rarer of the two (a few records of one source filled in both ways).
MAX_OVERLAP = 0.02
# Two columns of two schemas are one attribute renamed (``title`` and ``name``, ``manufacturer`` and ``brand``)
# where their words overlap by at least this much (`word_overlap`). On the bench's two shops unioned: title and
# name 0.61, manufacturer and brand 0.87, a title and a brand 0.12; a first name and a full name 0.51.
MIN_PAIR_OVERLAP = 0.3
# At most this many columns are joined into one: beyond, the text is a record's whole, compared already.
MAX_GROUP = 6


def exclusive_groups(present: Mapping[str, np.ndarray], family: Mapping[str, str]) -> list[tuple[str, ...]]:
    """The groups of columns (in the order of ``present``) linked by exclusion: two columns of one ``family``
    each present (``present``: one boolean per sampled record) in at least ``MIN_PRESENT`` of the records and
    together in at most ``MAX_OVERLAP`` of the rarer's. Columns present together stay in one group when both
    exclude a third (``first_name`` and ``last_name`` against ``full_name``). Groups of other families than
    text hold two columns (one value on each side), and none holds more than ``MAX_GROUP``."""
    names = list(present)
    if not names:
        return []
    rows = len(next(iter(present.values())))
    if rows == 0:
        return []
    counts = {n: int(np.count_nonzero(present[n])) for n in names}
    eligible = [n for n in names if counts[n] >= MIN_PRESENT * rows]
    parent = {n: n for n in eligible}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for i, a in enumerate(eligible):
        for b in eligible[i + 1 :]:
            if family[a] != family[b]:
                continue
            both = int(np.count_nonzero(present[a] & present[b]))
            if both <= MAX_OVERLAP * min(counts[a], counts[b]):
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for n in eligible:
        groups.setdefault(root(n), []).append(n)
    out = []
    for group in groups.values():
        limit = MAX_GROUP if family[group[0]] == TEXT_FAMILY else 2
        if 2 <= len(group) <= limit:
            out.append(tuple(group))
    return out


def word_overlap(a: Sequence[str | None], b: Sequence[str | None]) -> float:
    """How alike two columns' words are: the weighted Jaccard of their words' shares of all their words (1 for
    the same words in the same proportions, 0 for none in common)."""
    counts = []
    for values in (a, b):
        words: Counter[str] = Counter()
        for v in values:
            if v is not None:
                words.update(re.findall(r"\w+", v.lower()))
        counts.append(words)
    wa, wb = counts
    na, nb = sum(wa.values()), sum(wb.values())
    if na == 0 or nb == 0:
        return 0.0
    return sum(min(wa[w] / na, wb[w] / nb) for w in wa.keys() & wb.keys())


def paired(
    group: tuple[str, ...], present: Mapping[str, np.ndarray], values: Mapping[str, Sequence[str | None]]
) -> list[tuple[str, ...]]:
    """``group`` (`exclusive_groups`) as pairs of one column of each schema, where it holds two schemas of as
    many columns and each column's words overlap one other's (`word_overlap`, pairs taken greedily, the most
    alike first) by at least ``MIN_PAIR_OVERLAP``: the shops' titles with titles, their makers with makers.
    Otherwise (a ``full_name`` against ``first_name`` and ``last_name``) the group whole."""
    sides: list[list[str]] = []
    for c in group:
        side = next((s for s in sides if _together(present[c], present[s[0]])), None)
        if side is None:
            sides.append([c])
        else:
            side.append(c)
    if len(sides) != 2 or len(sides[0]) != len(sides[1]) or len(sides[0]) < 2:
        return [group]
    overlaps = sorted(
        ((word_overlap(values[a], values[b]), a, b) for a in sides[0] for b in sides[1]), reverse=True
    )
    pairs: list[tuple[str, ...]] = []
    taken: set[str] = set()
    for overlap, a, b in overlaps:
        if a in taken or b in taken:
            continue
        if overlap < MIN_PAIR_OVERLAP:
            return [group]
        taken |= {a, b}
        pairs.append(tuple(sorted((a, b), key=group.index)))
    return sorted(pairs, key=lambda pair: group.index(pair[0]))


def _together(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two columns are present together beyond what exclusion allows (one schema's columns)."""
    both = int(np.count_nonzero(a & b))
    return both > MAX_OVERLAP * min(int(np.count_nonzero(a)), int(np.count_nonzero(b)))


def joined_name(group: tuple[str, ...], taken: set[str]) -> str:
    """The joined column's name: its columns' names joined by ``+``, primed until no column has it."""
    name = "+".join(group)
    while name in taken:
        name += "'"
    return name


def joined_values(columns: list[list[str | None]]) -> list[str | None]:
    """Each record's values of ``columns`` (None where missing), joined by a space; None where all miss."""
    out: list[str | None] = []
    for row in zip(*columns, strict=True):
        parts = [v for v in row if v is not None]
        out.append(" ".join(parts) if parts else None)
    return out
