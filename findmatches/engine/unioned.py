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
# Two columns of two schemas hold one attribute, or one holds part of the other's (a surname of a full name),
# where their words' character 3-grams overlap by at least this much (`gram_overlap`). Whole words do not,
# where the two schemas' records are other people's: a surname against full names 0.22 by words, 0.56 by
# 3-grams. Measured: the same attribute 0.71 (two shops' titles) and 0.85 (their makers); part of the other
# 0.49-0.61 (given names, surnames, RLdata's first and last names against full names); another attribute
# 0.13-0.36 (a title and a brand 0.24, a maker and a title 0.19, a description and a title 0.31 or a name
# 0.36, a city and a full name 0.13).
MIN_PAIR_OVERLAP = 0.4
_WORD = re.compile(r"\w+")
# At most this many columns are joined into one: beyond, the text is a record's whole, compared already.
MAX_GROUP = 6


def exclusive_groups(present: Mapping[str, np.ndarray], family: Mapping[str, str]) -> list[tuple[str, ...]]:
    """The groups of columns (in the order of ``present``) linked by exclusion: two columns of one ``family``
    each present (``present``: one boolean per sampled record) in at least ``MIN_PRESENT`` of the records and
    together in at most ``MAX_OVERLAP`` of the rarer's. Columns present together stay in one group when both
    exclude a third (``first_name`` and ``last_name`` against ``full_name``). Groups of other families than
    text hold two columns (one value on each side)."""
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
            if not _together(present[a], present[b]):
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for n in eligible:
        groups.setdefault(root(n), []).append(n)
    out = []
    for group in groups.values():
        if len(group) == 2 or (len(group) > 2 and family[group[0]] == TEXT_FAMILY):
            out.append(tuple(group))
    return out


def gram_overlap(a: Sequence[str | None], b: Sequence[str | None]) -> float:
    """How alike two columns' values are: the weighted Jaccard of the shares of their character 3-grams (of
    the lower-cased words, each padded with a space), 1 for the same 3-grams in the same proportions, 0 for
    none in common."""
    counts = []
    for values in (a, b):
        grams: Counter[str] = Counter()
        for v in values:
            if v is not None:
                for word in _WORD.findall(v.lower()):
                    padded = f" {word} "
                    grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
        counts.append(grams)
    ga, gb = counts
    na, nb = sum(ga.values()), sum(gb.values())
    if na == 0 or nb == 0:
        return 0.0
    return sum(min(ga[g] / na, gb[g] / nb) for g in ga.keys() & gb.keys())


def paired(
    group: tuple[str, ...], present: Mapping[str, np.ndarray], values: Mapping[str, Sequence[str | None]]
) -> list[tuple[str, ...]]:
    """``group`` (`exclusive_groups`) as the columns to join, by how alike the two schemas' columns are
    (`gram_overlap` at least ``MIN_PAIR_OVERLAP``). Where a schema holds several of the group's columns, one
    like none of the other schema's is an attribute only its schema holds (a colour, a shipping note) and
    stays a column of its own. The rest pair one column of each schema, the most alike first, where the two
    schemas hold as many and every pair is alike (the shops' titles with titles, their makers with makers);
    otherwise they join whole (a ``full_name`` against ``first_name`` and ``last_name``). A group of one column
    per schema, or of more than two schemas, joins whole. Nothing joins more than ``MAX_GROUP`` columns."""
    return [g for g in _paired(group, present, values) if len(g) <= MAX_GROUP]


def _paired(
    group: tuple[str, ...], present: Mapping[str, np.ndarray], values: Mapping[str, Sequence[str | None]]
) -> list[tuple[str, ...]]:
    sides: list[list[str]] = []
    for c in group:
        side = next((s for s in sides if _together(present[c], present[s[0]])), None)
        if side is None:
            sides.append([c])
        else:
            side.append(c)
    if len(sides) != 2 or max(len(s) for s in sides) < 2:
        return [group]
    overlaps = {(a, b): gram_overlap(values[a], values[b]) for a in sides[0] for b in sides[1]}
    alike = [(a, b) for (a, b), o in sorted(overlaps.items(), key=lambda i: -i[1]) if o >= MIN_PAIR_OVERLAP]
    related = {c for pair in alike for c in pair}
    kept = tuple(c for c in group if c in related)
    if not kept:
        return []
    if len([c for c in sides[0] if c in related]) != len([c for c in sides[1] if c in related]):
        return [kept]
    pairs: list[tuple[str, ...]] = []
    taken: set[str] = set()
    for a, b in alike:
        if a not in taken and b not in taken:
            taken |= {a, b}
            pairs.append(tuple(sorted((a, b), key=group.index)))
    if len(taken) != len(kept):  # a column alike only to ones already paired: the pairs are not one to one
        return [kept]
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
