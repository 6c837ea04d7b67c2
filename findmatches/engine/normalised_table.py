"""The normalised table's SQL: every record's normalised values, their coarse codes, digit runs, parts, codes
and value counts (`normalised_table_sql`)."""

from __future__ import annotations

from findmatches.engine.backend import Backend, broadcast_hint, quote_ident
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


def normalised_table_sql(
    be: Backend, profiles: list[ColumnProfile], keep: list[tuple[str, str]], num: int, table: str
) -> str:
    """SELECT of ``keep``, every profile's normalised value (as its alias), its coarse code for blocking
    (`coarse_code`), for value-counting columns how many records share the value (``f_<alias>``), and for
    columns whose numbers are compared, the value's digit runs (``n_<alias>``, `digit_runs_sql`), and for
    columns compared part by part, the parts (``s_<alias>``, `segments_sql`), and for columns whose codes are
    compared, the codes (``k_<alias>``, `codes_sql`), from the records ``table``.

    Columns whose values repeat (fewer distinct values than ``BY_VALUE_RATIO`` of the records, by a
    HyperLogLog count over all of them), and names (for their soundex), are normalised once per distinct
    value, with its count, and joined back; the others row by row, their counts from one aggregate of the
    values that occur more than once (a small table to join, where most values are unique). The joined
    tables known to be small (`BROADCAST_ROWS`) are named in a broadcast hint (`broadcast_hint`)."""
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
    raw = [(quote_ident(p.name), f"_raw_{p.alias}") for p in by_value]
    counted = [p for p in per_row if p.counts_values]
    # The per-row values feed the final select and the counts: materialised once, not computed twice.
    ctes = [f"b AS {'MATERIALIZED ' if counted else ''}({normalized_select(per_row, records, keep + raw)})"]
    cols = [f"b.{name}" for _, name in keep]
    joins = []
    for p in per_row:
        cols.append(f"b.{p.alias}")
        cols += [f"{sql} AS {name}" for sql, name in _value_columns(p, f"b.{p.alias}")]
        cols += [f"b.{name}" for name in from_cleaned(p)]
        if p.counts_values:
            g = f"g_{p.alias}"
            ctes.append(
                f"{g} AS (SELECT {p.alias} AS v, count(*) AS n FROM b WHERE {p.alias} IS NOT NULL "
                f"GROUP BY {p.alias} HAVING count(*) > 1)"
            )
            cols.append(
                f"CAST(CASE WHEN b.{p.alias} IS NOT NULL THEN coalesce({g}.n, 1) END AS INTEGER) AS f_{p.alias}"
            )
            joins.append(f" LEFT JOIN {g} ON {g}.v = b.{p.alias}")
    for p in by_value:
        m = f"m_{p.alias}"
        values = (
            f"(SELECT {quote_ident(p.name)}, count(*) AS _n FROM {records} GROUP BY {quote_ident(p.name)})"
        )
        ctes.append(f"{m} AS {_per_value(p, values)}")
        cols.append(f"{m}.{p.alias}")
        cols += [f"{m}.{name}" for name in _value_names(p)]
        cols += [f"{m}.{name}" for name in from_cleaned(p)]
        if p.counts_values:
            cols.append(f"CAST(CASE WHEN {m}.{p.alias} IS NOT NULL THEN {m}.f END AS INTEGER) AS f_{p.alias}")
        joins.append(f" LEFT JOIN {m} ON {m}._raw = b._raw_{p.alias}")
    return f"WITH {', '.join(ctes)} SELECT {broadcast_hint(small)}{', '.join(cols)} FROM b{''.join(joins)}"


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
