"""Apply a taught transform to 100 thousand … 10 million synthetic person records, with Splink as the reference.

findmatches is driven exactly as a user drives it: boto3 against a live ``findmatches serve``. The transform is
taught once on a 10k-record sample (3 rounds of generate labeling set → an oracle answers from ``entity_id`` →
import), then applied with ``StartFindMatchesTaskRun(InputS3Path=<big Parquet file>)`` by a fresh server per
size, so the server's peak RSS (VmHWM) belongs to that size. Time runs from the Start call to SUCCEEDED.

Splink (DuckDB backend) runs on the same files in the same run, in a subprocess whose peak RSS is its own. Its
model is the usual person-record one from Splink's tutorials (name, date-of-birth, e-mail comparisons with term
frequencies, exact city/postcode, Levenshtein street/phone), trained unsupervised: λ from deterministic rules,
u by random sampling, m by EM on two blocking rules. The timed part is ``predict()`` plus
``cluster_pairwise_predictions_at_threshold`` (training and loading are reported apart).

With ``--repeat N`` the timed runs interleave (findmatches, Splink, findmatches, Splink, …; Splink trains once
first), so that both systems meet the same state of a shared machine, and each reports the median wall time
and, beside it, the CPU seconds of that run (user + system over all threads: the server process for
findmatches, the worker for Splink), which a busy neighbour on the cores does not inflate.

Both systems' groups are scored with pairwise precision/recall/F1 against ``entity_id`` (which neither sees).

``--sample-in-input`` appends the 10k teaching records to each file given to findmatches (scores count the big
records only). The committed runs do without it: StartFindMatchesTaskRun matches the labelled records an input
lacks together with it (and leaves them out of the output), so the labels count either way.

``--engine spark`` runs both on Spark instead (issue 18): the server with ``--engine spark --spark-master``,
Splink with its SparkAPI (its similarity jar on the session), both on ``--spark-master`` (``local[2]``), or on a
standalone cluster on loopback that ``--standalone-workers N`` starts (a master and N one-core workers of
``--worker-memory``, from the scripts inside the PySpark package); the cluster's processes (master, workers,
executors) then count to each system's CPU seconds and peak memory, measured from this process. On such a
cluster the systems run one after the other (findmatches' runs, then Splink's training and runs, or the other
way round with ``--splink-first``): an application keeps every core while its session lives. The teaching
server stays on DuckDB (the labels are the same either way). With ``--connect``, findmatches' server runs on a
Spark Connect server on that master (a driver kept between runs, as a service keeps one), which one untimed
apply warms first, as Splink's timed runs come after its training on the same JVMs; its driver's CPU and memory
count to findmatches' runs. With ``--warm`` instead, each timed run follows an untimed one on the same server,
whose kept worker holds the Spark application the timed run takes (``serve --spark-keep-s``).

usage: python bench/scale.py [--sizes 100000,1000000,10000000] [--skip-splink] [--repeat 5] [--labels DIR]
       [--engine spark [--spark-master URL | --standalone-workers 2 [--splink-first]] [--connect | --warm]]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    RESULTS,
    Server,
    catalog_table,
    client,
    create_transform,
    print_table,
    tree_cpu_seconds,
    tree_rss_mib,
    wait_run,
    write_json,
)
from bench.spark_cluster import ConnectServer, StandaloneCluster
from bench.synth import generate_chunks
from bench.teach_loop import answer
from findmatches.engine.metrics import clustering_scores

CACHE = Path(
    os.environ.get("FINDMATCHES_BENCH_CACHE", Path.home() / ".cache" / "findmatches-bench" / "scale")
)
DATA_SEED = 0  # the big files
TEACH_SEED = 7  # the teaching sample: same generator, another seed (ids prefixed "t")
TEACH_RECORDS = 10_000
COLUMNS = ["id", "given_name", "surname", "dob", "street", "city", "postcode", "phone", "email"]


# -- data --------------------------------------------------------------------------------------------


def data_files(
    records: int, dup_rate: float, noise: float, seed: int, id_prefix: str = "r"
) -> tuple[Path, Path]:
    """(records without ``entity_id``, truth ``id → entity_id``) as Parquet, generated once and cached."""
    stem = f"{records}-d{dup_rate}-n{noise}-s{seed}"
    data, truth = CACHE / f"records-{stem}.parquet", CACHE / f"truth-{stem}.parquet"
    if data.exists() and truth.exists():
        return data, truth
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data_schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    truth_schema = pa.schema([("id", pa.string()), ("entity_id", pa.string())])
    tmp_data, tmp_truth = data.with_suffix(".tmp"), truth.with_suffix(".tmp")
    with pq.ParquetWriter(tmp_data, data_schema) as dw, pq.ParquetWriter(tmp_truth, truth_schema) as tw:
        for chunk in generate_chunks(records, dup_rate, noise, seed):
            if id_prefix != "r":
                ids = pc.replace_substring_regex(chunk.column("id"), "^r", id_prefix)
                chunk = chunk.set_column(0, "id", ids)
            dw.write_table(chunk.select(COLUMNS))
            tw.write_table(chunk.select(["id", "entity_id"]))
    tmp_data.rename(data)
    tmp_truth.rename(truth)
    print(f"generated {records:,} records in {time.perf_counter() - started:.0f} s → {data}", flush=True)
    return data, truth


def with_sample(data: Path, sample: Path) -> Path:
    """``data`` plus the teaching sample's records (ids ``t…``), cached: for an engine that uses only labels
    whose records are in the input it applies to."""
    out = data.with_name(data.stem + "-plus-sample.parquet")
    if not out.exists():
        tmp = out.with_suffix(".tmp")
        duckdb.execute(
            f"COPY (SELECT * FROM read_parquet(?) UNION ALL SELECT * FROM read_parquet(?)) TO '{tmp}' "
            "(FORMAT parquet)",
            [str(data), str(sample)],
        )
        tmp.rename(out)
    return out


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    """The single value a query returns."""
    row = con.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0]


def score(output: Path, truth: Path, id_column: str, cluster_column: str) -> dict[str, float]:
    """Pairwise scores of ``cluster_column`` groups in ``output`` against the truth file, joined on id."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    joined = con.execute(
        f"""SELECT hash(o."{cluster_column}"::VARCHAR) AS predicted, substr(t.entity_id, 2)::BIGINT AS entity
            FROM read_parquet(?) o JOIN read_parquet(?) t ON o."{id_column}" = t.id""",
        [str(output), str(truth)],
    ).fetchnumpy()
    n_truth = _one(con, "SELECT count(*) FROM read_parquet(?)", [str(truth)])
    dupes = _one(con, f'SELECT count(*) - count(DISTINCT "{id_column}") FROM read_parquet(?)', [str(output)])
    if len(joined["predicted"]) != n_truth or dupes:
        raise RuntimeError(f"{output}: {len(joined['predicted'])} of {n_truth} records, {dupes} repeated")
    return clustering_scores(np.asarray(joined["predicted"]), np.asarray(joined["entity"]))


# -- findmatches through the API ----------------------------------------------------------------------


def teach(
    root: Path, sample: Path, sample_truth: Path, rounds: int, reuse: Path | None = None
) -> tuple[str, dict[str, Any]]:
    """Create the table and transform on the sample and teach it ``rounds`` labeling files; return its id.
    With ``reuse`` (a folder of ``labels<round>.csv`` kept by an earlier run), import those files instead:
    the API seeds each labeling set from its task-run id, so fresh teach loops differ from run to run."""
    known = pq.read_table(sample_truth)
    truth = dict(zip(known.column("id").to_pylist(), known.column("entity_id").to_pylist(), strict=True))
    table_dir = root / "teach-table"
    table_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample, table_dir / "records.parquet")
    started = time.perf_counter()
    server = Server(root / "data", allow=[root, CACHE])
    try:
        glue = client(server.url)
        catalog_table(glue, "people", str(table_dir), COLUMNS, "parquet")
        tid = create_transform(glue, "scale")
        labelled: set[str] = set()
        for r in range(1, rounds + 1):
            if reuse is not None:
                kept = reuse / f"labels{r}.csv"
                if not kept.exists():
                    break
                shutil.copy(kept, root / f"labels{r}.csv")
                labelled |= set(label_file_keys(kept))
                run = wait_run(
                    glue,
                    tid,
                    glue.start_import_labels_task_run(
                        TransformId=tid, InputS3Path=str(root / f"labels{r}.csv")
                    )["TaskRunId"],
                )
                _check(run, "import labels")
                continue
            out = root / f"labeling{r}"
            run = wait_run(
                glue,
                tid,
                glue.start_ml_labeling_set_generation_task_run(TransformId=tid, OutputS3Path=str(out))[
                    "TaskRunId"
                ],
            )
            _check(run, "labeling set generation")
            (labeling_file,) = out.glob("*.csv")
            keys = answer(labeling_file, root / f"labels{r}.csv", truth, "id")
            if not keys:
                break
            labelled |= set(keys)
            run = wait_run(
                glue,
                tid,
                glue.start_import_labels_task_run(TransformId=tid, InputS3Path=str(root / f"labels{r}.csv"))[
                    "TaskRunId"
                ],
            )
            _check(run, "import labels")
        status = glue.get_ml_transform(TransformId=tid)["Status"]
        if status != "READY":
            raise RuntimeError(f"transform is {status} after {rounds} rounds")
    finally:
        _stop(server)
    return tid, {
        "rounds": rounds,
        "labelled_records": len(labelled),
        "seconds": time.perf_counter() - started,
    }


def label_file_keys(path: Path) -> list[str]:
    """The primary keys of a label file."""
    with open(path, newline="", encoding="utf-8") as f:
        return [row["id"] for row in csv.DictReader(f)]


def keep_labels(root: Path, rounds: int, folder: Path) -> None:
    """Copy the label files a teach loop imported to ``folder``, for ``--labels`` to reuse."""
    folder.mkdir(parents=True, exist_ok=True)
    for r in range(1, rounds + 1):
        if (root / f"labels{r}.csv").exists():
            shutil.copy(root / f"labels{r}.csv", folder / f"labels{r}.csv")


def _stop(server: Server) -> None:
    try:
        server.stop()
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


def _check(run: dict[str, Any], what: str) -> None:
    if run["Status"] != "SUCCEEDED":
        raise RuntimeError(f"{what}: {run['Status']} {run.get('ErrorString')}")


@dataclass
class Engine:
    """Where both systems run: embedded DuckDB, or Spark at ``master`` (``local[N]``, or a standalone
    ``cluster`` on loopback whose processes' CPU and memory are counted)."""

    name: str = "duckdb"
    master: str | None = None
    cluster: StandaloneCluster | None = None
    #: findmatches' runs go through this Spark Connect server on ``master`` while it is set (``--connect``).
    connect: ConnectServer | None = None
    #: Each timed run follows an untimed one on the same server, whose kept worker and Spark application it
    #: takes (``--warm``; `findmatches.tasks.workers`).
    warm: bool = False

    def server_args(self) -> list[str]:
        master = self.connect.url if self.connect is not None else self.master
        return ["--engine", "spark", "--spark-master", str(master)] if self.name == "spark" else []

    def env(self) -> dict[str, str]:
        return {"PYSPARK_PYTHON": sys.executable} if self.name == "spark" else {}

    def capacity(self) -> dict[str, Any]:
        """The transform's capacity for a standalone cluster: an executor of one core (G.1X) for each of its
        cores, and the worker Glue counts for the driver, so that a run asks for the cores it gets
        (`findmatches.tasks.capacity`; the run sizes its shuffles by them). None asked elsewhere."""
        if self.cluster is None:
            return {}
        return {"WorkerType": "G.1X", "NumberOfWorkers": self.cluster.workers * self.cluster.cores + 1}

    def cpu_seconds(self) -> float:
        own = self.connect.cpu_seconds() if self.connect is not None else 0.0
        return own + (self.cluster.cpu_seconds() if self.cluster is not None else 0.0)

    def rss_mib(self) -> float:
        own = self.connect.tree_rss_mib() if self.connect is not None else 0.0
        return own + (self.cluster.tree_rss_mib() if self.cluster is not None else 0.0)


def _remove_output(path: Path) -> None:
    """Remove a run's output: a file, or the Spark engine's folder of part files (docs/spark.md)."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def apply(
    root: Path,
    tid: str,
    data: Path,
    truth: Path,
    records: int,
    progress: dict[str, Any],
    engine: Engine | None = None,
) -> dict[str, Any]:
    """StartFindMatchesTaskRun on ``data`` with a fresh server (on ``engine``: DuckDB when None); time, peak
    RSS, scores. ``progress`` holds the elapsed time, peak RSS and log tail so far, for a run that is killed or
    fails. On a standalone cluster, its processes' CPU and memory (master, workers, executors) count too."""
    out = root / f"matches-{records}.parquet"
    engine = engine or Engine()
    server = Server(root / "data", allow=[root, CACHE], args=engine.server_args(), env=engine.env())
    try:
        glue = client(server.url)
        if engine.capacity():
            glue.update_ml_transform(TransformId=tid, **engine.capacity())
        if engine.warm:
            warm_out = root / f"warm-{records}.parquet"
            run_id = glue.start_find_matches_task_run(
                TransformId=tid, InputS3Path=str(data), OutputS3Path=str(warm_out)
            )["TaskRunId"]
            _check(wait_run(glue, tid, run_id), f"the untimed run on {records:,} records")
            _remove_output(warm_out)
        baseline = server.tree_rss_mib() + engine.rss_mib()
        progress["baseline_mib"] = baseline
        cpu_before = server.cpu_seconds() + engine.cpu_seconds()
        started = time.perf_counter()
        run_id = glue.start_find_matches_task_run(
            TransformId=tid, InputS3Path=str(data), OutputS3Path=str(out)
        )["TaskRunId"]
        while True:
            run = glue.get_ml_task_run(TransformId=tid, TaskRunId=run_id)
            progress["seconds"] = time.perf_counter() - started
            # The run's work is in a worker process (docs/reliability.md): the peak of the whole process tree,
            # sampled at each poll (the server's own VmHWM misses the worker).
            now = server.tree_rss_mib() + engine.rss_mib()
            progress["peak_mib"] = max(float(progress.get("peak_mib") or 0.0), now)
            log_path = Path(run.get("LogGroupName") or "")
            if log_path.is_file():
                progress["log"] = log_path.read_text().splitlines()[-40:]
            if run["Status"] in ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT"):
                break
            # A poll costs the server CPU that the run needs on a small machine: 4 a second at most.
            time.sleep(0.25 if progress["seconds"] < 60 else 1.0)
        seconds, peak = progress["seconds"], progress["peak_mib"]
        cpu = server.cpu_seconds() + engine.cpu_seconds() - cpu_before
        _check(run, f"find matches on {records:,} records")
    finally:
        _stop(server)
    scores = score(out, truth, "id", "match_id")
    _remove_output(out)
    return {
        "system": "findmatches",
        "engine": engine.name,
        "records": records,
        "seconds": seconds,
        "cpu_s": cpu,
        "records_per_s": records / seconds,
        "peak_mib": peak,
        "baseline_mib": baseline,
        **_scores(scores),
        "log": progress.get("log", []),
    }


def _scores(s: dict[str, float]) -> dict[str, float]:
    return {
        "precision": s["pairwise_precision"],
        "recall": s["pairwise_recall"],
        "f1": s["pairwise_f1"],
        "bcubed_f1": s["bcubed_f1"],
        "true_pairs": s["true_pairs"],
        "predicted_pairs": s["predicted_pairs"],
    }


# -- Splink ------------------------------------------------------------------------------------------


class SplinkRun:
    """Splink in a subprocess (its peak RSS is its own): it loads and trains once, then predicts and clusters
    each time `once` asks, so that its timed runs interleave with findmatches' applies and both see the same
    state of this shared machine (run back to back, a slow minute fell on one system only)."""

    def __init__(
        self, root: Path, data: Path, records: int, args: argparse.Namespace, engine: Engine | None = None
    ) -> None:
        self.records = records
        self.engine = engine or Engine()
        self.work = root / f"splink-{records}"
        self.work.mkdir()
        self.clusters = self.work / "clusters.parquet"
        command = [
            sys.executable,
            __file__,
            "--splink-worker",
            str(data),
            str(self.clusters),
            "--splink-threshold",
            str(args.splink_threshold),
            "--repeat",
            str(args.repeat),
        ]
        if args.splink_memory_limit:
            command += ["--splink-memory-limit", args.splink_memory_limit]
        if self.engine.name == "spark":
            command += ["--engine", "spark", "--spark-master", str(self.engine.master)]
        self.errors = (self.work / "stderr.txt").open("w")
        self.proc = subprocess.Popen(
            command,
            cwd=self.work,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        self.runs: list[dict[str, float]] = []
        self._expect("trained")

    def _expect(self, what: str) -> dict[str, Any]:
        """The facts of the worker's next ``what`` line (other output, a library's, is skipped)."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        while line and not line.startswith(what):
            line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.errors.flush()
            tail = (self.work / "stderr.txt").read_text()[-4000:]
            raise RuntimeError(f"splink worker exit {self.proc.returncode}:\n{tail}")
        facts: dict[str, Any] = json.loads(line[len(what) :].strip() or "{}")
        return facts

    def once(self) -> None:
        """One timed predict + clustering. On Spark the work is in the JVMs (the driver's, under the worker,
        and a cluster's executors): their CPU and peak memory are measured from here."""
        assert self.proc.stdin is not None
        if self.engine.name != "spark":
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            self.runs.append(self._expect("ran"))
            return
        cpu = tree_cpu_seconds(self.proc.pid) + self.engine.cpu_seconds()
        peak = [0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.25):
                peak[0] = max(peak[0], tree_rss_mib(self.proc.pid) + self.engine.rss_mib())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        try:
            run = self._expect("ran")
        finally:
            done.set()
            sampler.join()
        run["cpu_s"] = tree_cpu_seconds(self.proc.pid) + self.engine.cpu_seconds() - cpu
        run["peak_mib"] = peak[0]
        self.runs.append(run)

    def finish(self, truth: Path) -> dict[str, Any]:
        """Wait for the worker's summary and score its clusters."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        facts = self._expect("done")
        self.proc.wait()
        self.errors.close()
        scores = score(self.clusters, truth, "id", "cluster_id")
        shutil.rmtree(self.work)
        runs = [r["predict_s"] + r["cluster_s"] for r in self.runs]
        median = sorted(range(len(runs)), key=lambda i: runs[i])[len(runs) // 2]
        peaks = [r["peak_mib"] for r in self.runs if "peak_mib" in r]
        return {
            "system": f"splink {facts['version']}",
            "engine": self.engine.name,
            "records": self.records,
            "seconds": runs[median],
            "cpu_s": self.runs[median]["cpu_s"],
            "records_per_s": self.records / runs[median],
            "peak_mib": max(peaks) if peaks else facts["peak_mib"],
            "baseline_mib": None,
            **_scores(scores),
            "load_s": facts["load_s"],
            "train_s": facts["train_s"],
            "predict_s": self.runs[median]["predict_s"],
            "cluster_s": self.runs[median]["cluster_s"],
            "runs_s": runs,
            "runs_cpu_s": [r["cpu_s"] for r in self.runs],
            "pairs_scored": facts["pairs"],
        }

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.errors.close()


def splink_alone(
    root: Path, data: Path, truth: Path, records: int, args: argparse.Namespace, engine: Engine
) -> dict[str, Any]:
    """Splink's training and ``--repeat`` timed runs on ``data``, not interleaved with findmatches' (on a
    standalone cluster, whose cores its application holds while its session lives): its row."""
    reference: SplinkRun | None = None
    try:
        reference = SplinkRun(root, data, records, args, engine)
        for _ in range(max(1, args.repeat)):
            reference.once()
        return reference.finish(truth)
    except RuntimeError as e:
        return _splink_failed(records, e)
    finally:
        if reference is not None:
            reference.kill()


def _splink_failed(records: int, error: RuntimeError) -> dict[str, Any]:
    return {"system": "splink", "records": records, "error": str(error)}


def splink_settings(date_format: str = "%Y-%m-%d") -> Any:
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="id",
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "dob", input_is_string=True, datetime_format=date_format, invalid_dates_as_null=False
            ),
            cl.LevenshteinAtThresholds("street", [1, 2]),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode"),
            cl.LevenshteinAtThresholds("phone", [1]),
            cl.EmailComparison("email"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("surname", "dob"),
            block_on("given_name", "dob"),
            block_on("given_name", "postcode"),
            block_on("surname", "postcode"),
            block_on("email"),
            block_on("phone"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def splink_worker(
    data: Path,
    clusters: Path,
    threshold: float,
    memory_limit: str | None,
    repeat: int = 1,
    spark_master: str | None = None,
) -> None:
    """Load and train with Splink's DuckDB backend (or its Spark backend at ``spark_master``), then predict and
    cluster once per "go" line on stdin; write the last clusters, and report on stdout ("trained", "ran
    {timings}", "done {summary}")."""
    import logging

    import splink
    from splink import DuckDBAPI, Linker, SparkAPI, block_on

    t0 = time.perf_counter()
    # Splink's advice: clean before linking. Phones differ only in format ("(312) 900-9480"), so keep digits.
    columns = "id, given_name, surname, dob, street, city, postcode, email"
    spark = None
    if spark_master is not None:
        from pyspark.sql import SparkSession
        from splink.internals.spark.jar_location import similarity_jar_location

        spark = (
            SparkSession.builder.master(spark_master)
            .appName("splink")
            .config("spark.jars", similarity_jar_location())
            .config("spark.driver.memory", "8g")
            # A cluster's executors get what findmatches' default capacity asks for each.
            .config("spark.executor.memory", "4g")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
        spark.sparkContext.setCheckpointDir(str(Path.cwd() / "checkpoints"))
        people = spark.read.parquet(str(data)).selectExpr(
            *columns.split(", "), "nullif(regexp_replace(phone, '[^0-9]', ''), '') AS phone"
        )
        db_api: Any = SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call, unused-ignore]
        # Spark parses dates with Java's patterns.
        linker = Linker(db_api.register(people), splink_settings("yyyy-MM-dd"), log_level=logging.WARNING)
    else:
        con = duckdb.connect(str(Path.cwd() / "splink.duckdb"))
        con.execute(f"SET temp_directory = '{Path.cwd() / 'spill'}'")
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        path = str(data).replace("'", "''")
        con.execute(
            f"""CREATE TABLE people AS
                SELECT {columns}, nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '') AS phone
                FROM read_parquet('{path}')"""
        )
        db_api = DuckDBAPI(con)
        linker = Linker(db_api.register("people"), splink_settings(), log_level=logging.WARNING)
    t1 = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("surname", "dob"), block_on("email")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("surname", "dob"), max_pairs=5e6
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "postcode"), max_pairs=5e6
    )
    t2 = time.perf_counter()
    print("trained", flush=True)
    # Each timed run waits for the driver's "go", so that it interleaves with findmatches' runs.
    for _ in range(max(1, repeat)):
        if not sys.stdin.readline():
            break
        started, cpu = time.perf_counter(), time.process_time()
        predictions = linker.inference.predict(threshold_match_probability=0.5 * threshold)
        t3 = time.perf_counter()
        clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        )
        t4 = time.perf_counter()
        run = {"predict_s": t3 - started, "cluster_s": t4 - t3, "cpu_s": time.process_time() - cpu}
        print("ran " + json.dumps(run), flush=True)
    if spark is not None:
        pairs = predictions.as_spark_dataframe().count()
        clustered.as_spark_dataframe().select("id", "cluster_id").toPandas().to_parquet(clusters)
    else:
        pairs = _one(con, f"SELECT count(*) FROM {predictions.physical_name}")
        out = str(clusters).replace("'", "''")
        con.execute(
            f"COPY (SELECT id, cluster_id FROM {clustered.physical_name}) TO '{out}' (FORMAT parquet)"
        )
    summary = {
        "version": splink.__version__,
        "load_s": t1 - t0,
        "train_s": t2 - t1,
        "pairs": pairs,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print("done " + json.dumps(summary), flush=True)


# -- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--dup-rate", type=float, default=0.3)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--splink-threshold", type=float, default=0.9, help="cluster at this match probability"
    )
    parser.add_argument(
        "--splink-memory-limit", default=None, help="DuckDB memory_limit for Splink, e.g. 12GB"
    )
    parser.add_argument(
        "--sample-in-input",
        action="store_true",
        help="append the 10k teaching records to each input given to findmatches (scored on the big records "
        "only), for an engine that ignores labels whose records are not in the input",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="apply and run Splink's predict + clustering (after one training) this many times per size, in turn, "
        "and report the medians: this machine's shared cores make single timings vary by a third",
    )
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="run both systems on this engine: findmatches serve --engine, Splink's DuckDBAPI or SparkAPI",
    )
    parser.add_argument(
        "--spark-master", default="local[2]", help="with --engine spark: the master both systems use"
    )
    parser.add_argument(
        "--standalone-workers",
        type=int,
        default=0,
        help="with --engine spark: start a standalone cluster on loopback with this many workers of one core "
        "(and --worker-memory) and use it as the master; its CPU and memory count to each system's run",
    )
    parser.add_argument("--worker-memory", default="8g")
    parser.add_argument(
        "--splink-first",
        action="store_true",
        help="on a standalone cluster, run Splink (training and runs) before findmatches, not after",
    )
    parser.add_argument(
        "--connect",
        action="store_true",
        help="with --engine spark: findmatches' runs go through a Spark Connect server on the master (a driver "
        "kept between runs, as a service keeps one; 4g, its executors 4g and one core each, as Splink's), "
        "started for each size and warmed by one untimed apply, as Splink's timed runs follow its training",
    )
    parser.add_argument(
        "--warm",
        action="store_true",
        help="with --engine spark: each timed findmatches run follows an untimed one on the same server, whose "
        "kept worker (and Spark application: serve --spark-keep-s) it takes, as Splink's timed runs follow its "
        "training",
    )
    parser.add_argument("--splink-worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", default="scale.json", help="file name under bench/results")
    parser.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="import the label files a run kept (bench/results/<json name>-labels/) instead of a fresh teach "
        "loop, so that runs compare on the same labels",
    )
    args = parser.parse_args()
    if args.splink_worker:
        data, clusters = args.splink_worker
        master = args.spark_master if args.engine == "spark" else None
        splink_worker(data, clusters, args.splink_threshold, args.splink_memory_limit, args.repeat, master)
        return

    # a timeout's SIGTERM unwinds through the finally blocks, which stop the server and the Splink worker
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = [int(s) for s in args.sizes.split(",")]
    sample, sample_truth = data_files(TEACH_RECORDS, args.dup_rate, args.noise, TEACH_SEED, id_prefix="t")
    files = {n: data_files(n, args.dup_rate, args.noise, DATA_SEED) for n in sizes}
    results: list[dict[str, Any]] = []
    taught: dict[str, Any] = {}
    engine_facts: dict[str, Any] = {}

    def save() -> None:
        write_json(
            args.json,
            {
                "benchmark": "scale",
                "command": " ".join(["python", "bench/scale.py", *sys.argv[1:]]),
                "data": {
                    "generator": "bench/synth.py",
                    "dup_rate": args.dup_rate,
                    "noise": args.noise,
                    "seed": DATA_SEED,
                    "sizes": sizes,
                    "teaching_sample": {"records": TEACH_RECORDS, "seed": TEACH_SEED, **taught},
                },
                "splink": {
                    "threshold_match_probability": args.splink_threshold,
                    "predict_threshold": 0.5 * args.splink_threshold,
                    "memory_limit": args.splink_memory_limit,
                    "timed": "predict + cluster_pairwise_predictions_at_threshold",
                },
                "findmatches": {
                    "timed": "StartFindMatchesTaskRun → SUCCEEDED, Parquet in and out",
                    "sample_in_input": args.sample_in_input,
                },
                "engine": engine_facts,
                "complete": len(results) == len(sizes) * (1 if args.skip_splink else 2),
                "results": results,
            },
        )

    with tempfile.TemporaryDirectory(prefix="fm-scale-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        engine = Engine()
        if args.engine == "spark":
            engine = Engine("spark", args.spark_master)
            if args.standalone_workers:
                cluster = StandaloneCluster(
                    root / "spark-cluster", args.standalone_workers, 1, args.worker_memory
                )
                engine = Engine("spark", cluster.url, stack.enter_context(cluster))
        engine.warm = args.warm and engine.name == "spark"
        engine_facts.update(
            name=engine.name,
            master=engine.master,
            standalone_workers=args.standalone_workers,
            spark_connect=args.connect,
            warm=engine.warm,
        )
        tid, facts = teach(root, sample, sample_truth, args.rounds, args.labels)
        kept = RESULTS / f"{Path(args.json).stem}-labels"
        # Labels imported from a folder are kept there already, and the JSON names it: no copy beside it.
        if args.labels is None:
            keep_labels(root, args.rounds, kept)
        taught.update(facts, labels=str(args.labels or kept.relative_to(RESULTS.parent.parent)))
        print(f"taught {tid}: {taught}", flush=True)
        for n in sizes:
            data, truth = files[n]
            progress: dict[str, Any] = {}
            reference: SplinkRun | None = None
            reference_row: dict[str, Any] | None = None
            rows: list[dict[str, Any]] = []
            # A standalone cluster's application keeps its executors (every core) while its session lives, and
            # Splink's session lives from training to its last run: there the systems run one after the other.
            interleave = engine.cluster is None
            if not args.skip_splink and not interleave and args.splink_first:
                reference_row = splink_alone(root, data, truth, n, args, engine)
            connect = contextlib.ExitStack()
            try:
                if args.connect:
                    engine.connect = connect.enter_context(
                        ConnectServer(root / f"spark-connect-{n}", str(engine.master))
                    )
                    warm = apply(root, tid, data, truth, n, {}, engine)
                    engine_facts.setdefault("connect_warmup_s", {})[str(n)] = warm["seconds"]
                    print(f"warm-up run on the Connect server: {warm['seconds']:.1f} s", flush=True)
                if not args.skip_splink and interleave:
                    try:
                        reference = SplinkRun(root, data, n, args, engine)
                    except RuntimeError as e:
                        reference_row = _splink_failed(n, e)
                for _ in range(max(1, args.repeat)):
                    rows.append(
                        apply(
                            root,
                            tid,
                            with_sample(data, sample) if args.sample_in_input else data,
                            truth,
                            n,
                            progress,
                            engine,
                        )
                    )
                    if reference is not None:
                        try:
                            reference.once()
                        except RuntimeError as e:
                            reference_row = _splink_failed(n, e)
                            reference.kill()
                            reference = None
                runs = [r["seconds"] for r in rows]
                row = {
                    **sorted(rows, key=lambda r: r["seconds"])[len(rows) // 2],
                    "runs_s": runs,
                    "runs_cpu_s": [r["cpu_s"] for r in rows],
                }
            except RuntimeError as e:  # record it and go on to the reference
                row = {"system": "findmatches", "records": n, **progress, "error": str(e)}
            except SystemExit:  # the timeout: keep what is known
                if reference is not None:
                    reference.kill()
                results.append(
                    {"system": "findmatches", "records": n, **progress, "error": "killed (timeout)"}
                )
                if reference_row is not None:  # Splink ran first (--splink-first)
                    results.append(reference_row)
                save()
                raise
            finally:  # the Connect server's application holds the cluster's cores: gone before Splink's
                connect.close()
                engine.connect = None
            results.append(row)
            print({k: v for k, v in row.items() if k != "log"}, flush=True)
            if not args.skip_splink and not interleave and not args.splink_first:
                reference_row = splink_alone(root, data, truth, n, args, engine)
            if reference is not None:
                try:
                    if not reference.runs:  # findmatches failed before the first interleaved run
                        reference.once()
                    reference_row = reference.finish(truth)
                except RuntimeError as e:
                    reference_row = _splink_failed(n, e)
                finally:
                    reference.kill()
            if reference_row is not None:
                results.append(reference_row)
                print(reference_row, flush=True)
            save()
    columns = [
        "system",
        "records",
        "seconds",
        "cpu_s",
        "records_per_s",
        "peak_mib",
        "precision",
        "recall",
        "f1",
    ]
    print_table(
        "Apply on synthetic person records (findmatches: Start→SUCCEEDED through the API; "
        "Splink: predict + clustering)",
        [{c: r.get(c) for c in columns} for r in results],
    )


if __name__ == "__main__":
    main()
