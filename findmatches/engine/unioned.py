"""Tables unioned from sources of different schemas: columns whose presence excludes each other.

Two registers, one with a ``full_name`` and one with ``first_name`` and ``last_name``, or two shops, one with a
``title`` and ``manufacturer`` and one with a ``name`` and ``brand``, unioned into one table: no column is
present on both sides of a pair across the sources, so no column's comparison sees across them. Columns of one
family (text, or one other kind) that are each present in a good share of the records and almost never
together are one attribute under two schemas; the engine compares their joined text as a column of its own
(`findmatches.engine.profile.ColumnProfile.joins`), in their place.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# The family of the text-like kinds (names, text, codes): one attribute may be profiled as any of them.
TEXT_FAMILY = "text"
# Each column of a group is present in at least this share of the records: a rarely filled column (a second
# given name) is absent beside most others by chance, not by schema.
MIN_PRESENT = 0.1
# Two columns exclude each other where both are present in at most this share of the records that hold the
# rarer of the two (a few records of one source filled in both ways).
MAX_OVERLAP = 0.02
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
