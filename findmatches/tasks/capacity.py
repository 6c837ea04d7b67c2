"""What a transform's capacity (``WorkerType`` and ``NumberOfWorkers``, or ``MaxCapacity``) asks of Spark.

Glue gives a job one worker for its driver and the rest for executors; a worker of type G.nX is n DPUs, and a
DPU is 4 vCPUs and 16 GB there. Here a worker is one executor with one core and 4 GB per DPU (G.025X: one core,
1 GB), so that a laptop's or a small cluster's cores stand for DPUs: ``G.1X × 10`` asks for 9 executors of 1 core
and 4 GB. ``MaxCapacity`` alone (Standard workers, 1 DPU each) asks for ``MaxCapacity − 1`` executors of one
core and 4 GB. The request caps the cores a run takes (``spark.cores.max``) on a standalone cluster, and sets
``spark.executor.instances`` on YARN and Kubernetes; a cluster with fewer cores runs it on what it has. A
``local[N]`` master has no executors: the request is then ignored.
"""

from __future__ import annotations

import math
from typing import Any

#: DPUs per worker, by worker type; MaxCapacity is derived from them when workers are given.
DPU_PER_WORKER = {
    "Standard": 1.0,
    "G.025X": 0.25,
    "G.1X": 1.0,
    "G.2X": 2.0,
    "G.4X": 4.0,
    "G.8X": 8.0,
    "G.12X": 12.0,
    "G.16X": 16.0,
    "Z.2X": 2.0,
    "R.1X": 1.0,
    "R.2X": 2.0,
    "R.4X": 4.0,
    "R.8X": 8.0,
}
#: Memory per DPU of an executor, in MiB.
MIB_PER_DPU = 4096


def spark_conf(transform: dict[str, Any]) -> dict[str, str]:
    """The Spark settings a run of ``transform`` asks for (`spark.executor.*`, `spark.cores.max`)."""
    worker_type, workers = transform.get("WorkerType"), transform.get("NumberOfWorkers")
    if worker_type and workers:
        dpu = DPU_PER_WORKER.get(str(worker_type), 1.0)
        executors = max(1, int(workers) - 1)
    else:
        dpu = 1.0
        executors = max(1, math.floor(float(transform.get("MaxCapacity") or 10.0)) - 1)
    cores = max(1, math.floor(dpu))
    memory = max(1024, round(MIB_PER_DPU * dpu))
    return {
        "spark.executor.instances": str(executors),
        "spark.executor.cores": str(cores),
        "spark.executor.memory": f"{memory}m",
        "spark.cores.max": str(executors * cores),
    }
