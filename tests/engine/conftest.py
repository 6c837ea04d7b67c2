"""Small generated person data shared by the engine tests."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bench.synth import generate_table


def oracle_labels(rows: pa.Table, truth: dict[str, str], pk: str = "id") -> pa.Table:
    """Label a labeling file's rows with their true entity ids."""
    pks = [str(v) for v in rows.column(pk).to_pylist()]
    return pa.table(
        {
            "labeling_set_id": rows.column("labeling_set_id").cast(pa.string()),
            "label": pa.array([truth[p] for p in pks], pa.string()),
            "primary_key": pa.array(pks, pa.string()),
        }
    )


def no_labels() -> pa.Table:
    return pa.table({c: pa.array([], pa.string()) for c in ("labeling_set_id", "label", "primary_key")})


@pytest.fixture(scope="session")
def people() -> tuple[pa.Table, dict[str, str]]:
    """600 person records (about 30 % duplicates) and their true entity ids."""
    table = generate_table(600, dup_rate=0.3, noise=0.2, seed=3)
    truth = dict(zip(table.column("id").to_pylist(), table.column("entity_id").to_pylist(), strict=True))
    return table.drop_columns(["entity_id"]), truth
