"""The normalised table's SQL: every record's normalised values, their coarse codes, digit runs, parts, codes
and value counts (`normalised_table_sql`)."""

from __future__ import annotations

from dataclasses import dataclass

from findmatches.engine.backend import Backend, broadcast_hint, partition_hint, quote_ident
from findmatches.engine.profile import (
    ColumnKind,
    ColumnProfile,
    coarse_code,
    coarse_sql,
    digit_runs_sql,
    from_cleaned,
    normalized_select,
    records_relation,
)

# Columns with fewer distinct values than this share of the records are normalised per value.
BY_VALUE_RATIO = 0.5
# The joined tables are sent whole to every worker, where a backend distributes joins (Spark), smallest first
# while their rows (by the HyperLogLog counts) come to at most this in all: some tens of MB. A table joined
# otherwise moves the whole records table once more (1M records, six by-value and two counted columns, all
# sent: 12.1-14.1 s against 18.0-21.9 s with one of them joined so, docs/spark.md).
BROADCAST_ROWS = 1_000_000


#: Where a backend's stages are costly: every by-value column's raw values and every counted column's
#: repeated values, with their counts, made by one scan of the records before the normalised table.
VALUE_COUNTS = "fm_value_counts"


@dataclass(frozen=True)
class Layout:
    """How the normalised table is made: the columns normalised per distinct value, those normalised row by
    row, and the joined tables named in the broadcast hint."""

    by_value: list[ColumnProfile]
    per_row: list[ColumnProfile]
    small: list[str]

    @property
    def counted(self) -> list[ColumnProfile]:
        """The per-row columns whose values are counted."""
        return [p for p in self.per_row if p.counts_values]


def create_normalised_table(
    be: Backend, profiles: list[ColumnProfile], keep: list[tuple[str, str]], num: int, table: str, name: str
) -> None:
    """Create ``name`` as `normalised_table_sql` selects it. On a backend whose stages are costly (Spark),
    the values' counts come from `VALUE_COUNTS`, made first by one scan of the records: a scan and an
    aggregate per column each read the whole records table again (a checkpoint's columns are not pruned)."""
    lay = layout(be, profiles, num, table)
    counts = VALUE_COUNTS if be.costly_stages and (lay.by_value or lay.counted) else None
    if counts is not None:
        be.execute(f"CREATE OR REPLACE TABLE {counts} AS {value_counts_sql(lay, table)}")
    try:
        be.execute(f"CREATE OR REPLACE TABLE {name} AS {normalised_table_sql(lay, keep, table, counts)}")
    finally:
        if counts is not None:
            be.execute(f"DROP TABLE IF EXISTS {counts}")


def layout(be: Backend, profiles: list[ColumnProfile], num: int, table: str) -> Layout:
    """The `Layout` of ``profiles``' normalised table over the ``num`` records of ``table``: columns whose
    values repeat (fewer distinct values than ``BY_VALUE_RATIO`` of the records, by a HyperLogLog count over
    all of them), and names (for their soundex), are normalised per value; the joined tables known to be
    small (`BROADCAST_ROWS`) are hinted."""
    records = records_relation(profiles, table)
    counts = be.query(
        "SELECT "
        + ", ".join(f"approx_count_distinct({quote_ident(p.name)}) AS d{i}" for i, p in enumerate(profiles))
        + f" FROM {records}"
    )
    distinct = {p.alias: int(counts.column(f"d{i}")[0].as_py() or 0) for i, p in enumerate(profiles)}
    by_value = [p for p in profiles if distinct[p.alias] < BY_VALUE_RATIO * num or p.kind == ColumnKind.NAME]
    per_row = [p for p in profiles if p not in by_value]
    # A by-value column's table holds a row per distinct value; a counted one's, a row per value that
    # repeats: at most as many as the records past the distinct values.
    rows = {f"m_{p.alias}": distinct[p.alias] for p in by_value}
    rows |= {f"g_{p.alias}": max(0, num - distinct[p.alias]) for p in per_row if p.counts_values}
    small, total = [], 0
    for name, n in sorted(rows.items(), key=lambda r: r[1]):
        total += n
        if total > BROADCAST_ROWS:
            break
        small.append(name)
    return Layout(by_value, per_row, small)


def value_counts_sql(lay: Layout, table: str) -> str:
    """`VALUE_COUNTS`' SELECT: (``i``, ``v``, ``n``) for the ``i``-th by-value column's raw values ``v``
    (null too) and, numbered on after them, each counted column's normalised values that ``n`` > 1 records
    hold, from one scan of the records ``table``."""
    records = records_relation(lay.by_value + lay.per_row, table)
    raw = [(quote_ident(p.name), f"_raw_{p.alias}") for p in lay.by_value]
    items = [f"{{'i': {i}, 'v': _raw_{p.alias}}}" for i, p in enumerate(lay.by_value)]
    items += [f"{{'i': {len(lay.by_value) + j}, 'v': {p.alias}}}" for j, p in enumerate(lay.counted)]
    return (
        f"SELECT u.i AS i, u.v AS v, count(*) AS n FROM (SELECT unnest([{', '.join(items)}]) AS u "
        f"FROM ({normalized_select(lay.counted, records, raw)})) GROUP BY u.i, u.v "
        f"HAVING u.i < {len(lay.by_value)} OR (u.v IS NOT NULL AND count(*) > 1)"
    )


def normalised_table_sql(
    lay: Layout, keep: list[tuple[str, str]], table: str, counts: str | None = None
) -> str:
    """SELECT of ``keep``, every profile's normalised value (as its alias), its coarse code for blocking
    (`coarse_code`), for value-counting columns how many records share the value (``f_<alias>``), and for
    columns whose numbers are compared, the value's digit runs (``n_<alias>``, `digit_runs_sql`), and for
    columns compared part by part, the parts (``s_<alias>``, `segments_sql`), and for columns whose codes are
    compared, the codes (``k_<alias>``, `codes_sql`), from the records ``table``, laid out as ``lay`` says.

    By-value columns are normalised once per distinct value, with its count, and joined back; the others
    row by row, their counts from one aggregate of the values that occur more than once (a small table to
    join, where most values are unique). The values and their counts come from the records, or from
    ``counts`` (`value_counts_sql`) where given."""
    by_value, per_row = lay.by_value, lay.per_row
    records = records_relation(by_value + per_row, table)
    raw = [(quote_ident(p.name), f"_raw_{p.alias}") for p in by_value]
    counted = lay.counted
    # The per-row values feed the final select and the counts: materialised once, not computed twice.
    once = "MATERIALIZED " if counted and counts is None else ""
    ctes = [f"b AS {once}({normalized_select(per_row, records, keep + raw)})"]
    cols = [f"b.{name}" for _, name in keep]
    joins = []
    for p in per_row:
        cols.append(f"b.{p.alias}")
        cols += [f"{sql} AS {name}" for sql, name in _value_columns(p, f"b.{p.alias}")]
        cols += [f"b.{name}" for name in from_cleaned(p)]
        if p.counts_values:
            g = f"g_{p.alias}"
            if counts is None:
                ctes.append(
                    f"{g} AS (SELECT {p.alias} AS v, count(*) AS n FROM b WHERE {p.alias} IS NOT NULL "
                    f"GROUP BY {p.alias} HAVING count(*) > 1)"
                )
            else:
                ctes.append(
                    f"{g} AS (SELECT v, n FROM {counts} WHERE i = {len(by_value) + counted.index(p)})"
                )
            cols.append(
                f"CAST(CASE WHEN b.{p.alias} IS NOT NULL THEN coalesce({g}.n, 1) END AS INTEGER) AS f_{p.alias}"
            )
            joins.append(f" LEFT JOIN {g} ON {g}.v = b.{p.alias}")
    for i, p in enumerate(by_value):
        m = f"m_{p.alias}"
        name = quote_ident(p.name)
        values = (
            f"(SELECT {name}, count(*) AS _n FROM {records} GROUP BY {name})"
            if counts is None
            else f"(SELECT v AS {name}, n AS _n FROM {counts} WHERE i = {i})"
        )
        ctes.append(f"{m} AS {_per_value(p, values)}")
        cols.append(f"{m}.{p.alias}")
        cols += [f"{m}.{name}" for name in _value_names(p)]
        cols += [f"{m}.{name}" for name in from_cleaned(p)]
        if p.counts_values:
            cols.append(f"CAST(CASE WHEN {m}.{p.alias} IS NOT NULL THEN {m}.f END AS INTEGER) AS f_{p.alias}")
        joins.append(f" LEFT JOIN {m} ON {m}._raw = b._raw_{p.alias}")
    # Kept partitioned as the records are, where their ``_rid`` is kept as it is (no shuffle: `partition_hint`).
    hints = broadcast_hint(lay.small) + (partition_hint("_rid") if ("_rid", "_rid") in keep else "")
    return f"WITH {', '.join(ctes)} SELECT {hints}{', '.join(cols)} FROM b{''.join(joins)}"


def _value_columns(p: ColumnProfile, v: str) -> list[tuple[str, str]]:
    """(SQL, name) of the columns derived from ``p``'s normalised value ``v``: its coarse code and digit runs."""
    out = []
    if (code := coarse_code(p)) is not None:
        out.append((coarse_sql(p, v), code[1]))
    if p.compares_numbers:
        out.append((digit_runs_sql(v), f"n_{p.alias}"))
    return out


def _value_names(p: ColumnProfile) -> list[str]:
    """The names of `_value_columns`."""
    return [name for _, name in _value_columns(p, p.alias)]


def _per_value(p: ColumnProfile, values: str) -> str:
    """``p``'s normalised value and what derives from it (`_value_columns`, `from_cleaned`), once per raw value
    of ``values`` (a relation of ``p``'s column and ``_n``, how many records hold it), with ``f``, how many
    records share the normalised value."""
    # Materialised: DuckDB turns the window into an aggregate joined back, and would otherwise normalise every
    # distinct value twice.
    normalised = normalized_select([p], values, [(quote_ident(p.name), "_raw"), ("_n", "_n")])
    return (
        f"(WITH i AS MATERIALIZED ({normalised}) SELECT _raw, {p.alias}"
        + "".join(f", {sql} AS {name}" for sql, name in _value_columns(p, p.alias))
        + "".join(f", {name}" for name in from_cleaned(p))
        + f", sum(_n) OVER (PARTITION BY {p.alias}) AS f FROM i)"
    )
