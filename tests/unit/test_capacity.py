"""A transform's capacity as the Spark executors its runs ask for (docs/spark.md)."""

from __future__ import annotations

import pytest

from findmatches.tasks.capacity import spark_conf


@pytest.mark.parametrize(
    ("transform", "executors", "cores", "memory"),
    [
        ({"WorkerType": "G.1X", "NumberOfWorkers": 10, "MaxCapacity": 10.0}, 9, 1, "4096m"),
        ({"WorkerType": "G.2X", "NumberOfWorkers": 3, "MaxCapacity": 6.0}, 2, 2, "8192m"),
        ({"WorkerType": "G.025X", "NumberOfWorkers": 2, "MaxCapacity": 0.5}, 1, 1, "1024m"),
        ({"MaxCapacity": 10.0}, 9, 1, "4096m"),
        ({"MaxCapacity": 2.0}, 1, 1, "4096m"),
        ({}, 9, 1, "4096m"),  # Glue's default capacity, 10 DPUs
    ],
)
def test_workers_become_executors_one_kept_for_the_driver(
    transform: dict[str, object], executors: int, cores: int, memory: str
) -> None:
    conf = spark_conf(transform)
    assert conf == {
        "spark.executor.instances": str(executors),
        "spark.executor.cores": str(cores),
        "spark.executor.memory": memory,
        "spark.cores.max": str(executors * cores),
    }
