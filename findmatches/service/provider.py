"""The Glue provider: one method per operation, named as botocore's ``xform_name`` names it."""

from __future__ import annotations

import threading

from findmatches.config import Settings
from findmatches.io.storage import Storage
from findmatches.service.catalog import CatalogOperations
from findmatches.service.task_runs import TaskRunOperations
from findmatches.service.transforms import TransformOperations
from findmatches.store.database import Database
from findmatches.tasks.jobs import Jobs
from findmatches.tasks.runner import TaskRunner
from findmatches.tasks.snapshots import SnapshotStore
from findmatches.tasks.workers import Workers


class GlueProvider(TaskRunOperations, CatalogOperations, TransformOperations):
    """Every implemented Glue operation; the protocol layer finds them by snake_case name."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.storage = Storage(settings.s3_endpoint_url, settings.allowed_roots)
        runner_ref: list[TaskRunner] = []
        workers = Workers(
            settings.run_memory_mb << 20 if settings.run_memory_mb else None,
            hold_s=settings.worker_hold_s,
            keep_s=settings.spark_keep_s,
        )
        self.workers = workers
        self.snapshots = SnapshotStore(settings.data_dir / "snapshots")
        jobs = Jobs(db, self.storage, runner_ref, workers, self.snapshots)
        self.runner = TaskRunner(
            db,
            settings.data_dir,
            jobs.table(),
            workers=settings.workers,
            start_delay_s=settings.task_start_delay_s,
        )
        runner_ref.append(self.runner)
        self.runner.recover()
        # The engine (scikit-learn, SciPy) takes seconds to import: the workers' fork server loads it now,
        # beside serving, so that the first task run does not wait for it.
        # ``engine_ready`` is set once it is loaded (the health endpoint reports it).
        self.engine_ready = threading.Event()

        def load() -> None:
            jobs.load_engine()
            self.engine_ready.set()

        threading.Thread(target=load, name="load-engine", daemon=True).start()

    def close(self) -> None:
        """Stop background task runs (they end STOPPED or are recovered at the next start), then the kept
        workers (their Spark applications)."""
        self.runner.close()
        self.workers.close()
