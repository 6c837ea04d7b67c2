"""Crash campaign (issue 17): kill -9 the server at random moments while task runs are in flight, restart it on
the same data dir, and check that nothing was lost, stuck, corrupted, half-written or orphaned.

Each round starts label imports (merge and replace), exports, labeling-set generations, evaluations and
find-matches runs on two transforms over a small teachable table (the sample people, ``findmatches.sample``),
with the label files and outputs on local paths and on a loopback S3 (moto); after a random delay it sends
SIGKILL to the server process (only that process: the server runs in a session of its own, so that whatever
it started is found afterwards), restarts it on the same data dir, and checks:

1. labels: the labels the API exports (an EXPORT_LABELS run after the restart) equal those of exactly the
   imports that ended SUCCEEDED, applied in order with the store's merge and replace semantics (a merge
   replaces the rows of the labeling sets it holds and keeps the rest); the labels read from the SQLite file
   while the server was down must agree as well (for the transform without retries, where no run changes
   them after the restart);
2. stuck: every run ends in a terminal state and none stays STARTING, RUNNING or STOPPING; and retries: a run
   of the transform with ``MaxRetries=1`` that was in flight at the kill is retried and succeeds (its work is
   valid; only the crash stopped it);
3. integrity: ``PRAGMA integrity_check`` and ``foreign_key_check`` on the store, read from a copy of its files
   taken while the server was down;
4. outputs: every output a SUCCEEDED run reported is there, alone and whole (the labeling set CSV, the
   exported labels equal to a state the labels went through, the matches file with every record, the
   evaluation's curve JSON);
5. orphans: no process of the killed server's session is still alive 10 s after the kill (reported with its
   command line, then killed).

The server runs from a copy of ``findmatches/`` taken at the start (``--live-code`` runs the checkout as it
is), so that edits made meanwhile do not change the code under test halfway through.

usage: python bench/chaos.py [--kills 200] [--seed 0] [--quick] [--no-s3] [--live-code | --code DIR]
                             [--keep DIR] [--json NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import free_port, print_table, stop_process, write_json
from findmatches import sample

KINDS = ("import-merge", "import-replace", "export", "labeling-set", "evaluation", "find-matches")
WORK_KINDS = ("export", "labeling-set", "evaluation", "find-matches")
CHECKS = ("labels", "stuck", "retries", "integrity", "outputs", "orphans")
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT")
DB_FILE = "findmatches.sqlite3"  # findmatches.store.database.DB_FILE
REPO = Path(__file__).resolve().parent.parent
TASK_TYPES = {
    "import-merge": "IMPORT_LABELS",
    "import-replace": "IMPORT_LABELS",
    "export": "EXPORT_LABELS",
    "labeling-set": "LABELING_SET_GENERATION",
    "evaluation": "EVALUATION",
    "find-matches": "FIND_MATCHES",
}
Label = tuple[str, str, str]  # (labeling_set_id, label, primary_key)


# -- the server, in a session of its own -------------------------------------------------------------


class ServerProcess:
    """``findmatches serve`` in its own session (``start_new_session``), restartable on the same data dir."""

    def __init__(self, data_dir: Path, allow: list[Path], env: dict[str, str], log_path: Path) -> None:
        self.data_dir, self.allow, self.env, self.log_path = data_dir, allow, env, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 60) -> float:
        """Start and wait until the API answers; return the seconds it took."""
        started = time.monotonic()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        args = [sys.executable, "-m", "findmatches.cli", "serve", "--port", str(port)]
        args += ["--data-dir", str(self.data_dir), "--account-rate", "0"]
        for root in self.allow:
            args += ["--allow-path", str(root)]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.data_dir.parent,  # not the checkout: ``-m`` puts the working directory first
                start_new_session=True,
            )
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/_findmatches/health", timeout=1):
                    return time.monotonic() - started
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start in {timeout} s; see {self.log_path}")

    def kill(self) -> int:
        """SIGKILL the server process (not its group); return its pid, which is also its session id."""
        assert self.proc is not None
        pid = self.proc.pid
        os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        return pid

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)


def session_members(session: int) -> list[dict[str, Any]]:
    """Live (non-zombie) processes whose session or process group is ``session``, with their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            state, pgrp, sid = fields[0], int(fields[2]), int(fields[3])
            if state == "Z" or session not in (pgrp, sid):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError, ValueError):
            continue
        found.append({"pid": int(entry.name), "state": state, "cmdline": cmdline})
    return found


def glue_client(url: str) -> Any:
    """A boto3 Glue client for ``url`` that knows StartFindMatchesTaskRun, never retries and gives up fast."""
    import boto3
    from botocore.config import Config

    from findmatches.aws.spec import EXTRAS_DATA_PATH

    os.environ.setdefault("AWS_DATA_PATH", str(EXTRAS_DATA_PATH))
    config = Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=30)
    return boto3.session.Session().client(
        "glue",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


# -- what was started, and the labels model ------------------------------------------------------------


@dataclass
class Run:
    """One task run the campaign started (or tried to start)."""

    seq: int
    round: int
    kind: str
    transform: str
    path: str  # InputS3Path of an import, OutputS3Path otherwise
    labels: list[Label] = field(default_factory=list)  # an import's rows
    run_id: str | None = None
    seen: str = "STARTING?"  # the last status the client saw (STARTING? = start sent, no answer yet)
    final: str | None = None  # the status after the restart (NEVER_STARTED: the start did not take)
    error: str | None = None

    @property
    def replace(self) -> bool:
        return self.kind == "import-replace"


def apply_import(rows: list[Label], run: Run) -> list[Label]:
    """``findmatches.store.labels.write_labels``: replace all, or replace the sets the import holds."""
    if run.replace:
        return list(run.labels)
    sets = {s for s, _, _ in run.labels}
    return [r for r in rows if r[0] not in sets] + list(run.labels)


def diff(expected: list[Label], actual: list[Label]) -> str:
    missing = Counter(expected) - Counter(actual)
    extra = Counter(actual) - Counter(expected)
    return f"{sum(missing.values())} label(s) missing, {sum(extra.values())} extra; e.g. missing {list(missing)[:3]}, extra {list(extra)[:3]}"


# -- the campaign ---------------------------------------------------------------------------------------


class Campaign:
    def __init__(self, args: argparse.Namespace, root: Path, s3_url: str | None) -> None:
        self.args = args
        self.root = root
        self.rng = random.Random(args.seed)
        self.files = root / "files"
        self.data_dir = root / "data"
        self.files.mkdir()
        self.s3_url = s3_url
        self.s3: Any = None
        self.lock = threading.Lock()
        self.runs: list[Run] = []
        self.seq = 0
        self.violations: list[dict[str, Any]] = []
        self.observations: list[dict[str, Any]] = []
        self.kills: list[dict[str, Any]] = []
        self.timers: list[threading.Timer] = []
        self.restart_s: list[float] = []
        # The table: the sample people; labeling sets: a duplicate pair and, mostly, one other record.
        self.people = sample.generate(entities=args.entities, seed=args.seed + 7)
        self.ids = {r["id"] for r in self.people}
        self.by_id = {r["id"]: r for r in self.people}
        groups: dict[str, list[str]] = {}
        for row in self.people:
            groups.setdefault(row["entity"], []).append(row["id"])
        dupes = [ids for ids in groups.values() if len(ids) > 1]
        singles = [ids[0] for ids in groups.values() if len(ids) == 1]
        n = min(len(dupes), len(singles), 40)
        self.sets = {f"set{i:02d}": [*dupes[i][:2], singles[i]] for i in range(n)}
        self.transforms: dict[str, str] = {}  # name → transform id
        self.base: dict[str, list[Label]] = {}  # labels checked at the end of the last round
        self.base_at_round_start: dict[str, list[Label]] = {}
        self.check_runs: set[str] = set()  # the exports that read the labels back
        self.env = dict(os.environ)

    # -- set-up ---------------------------------------------------------------------------------------

    def setup(self) -> ServerProcess:
        table = self.files / "table"
        table.mkdir()
        (table / "people.csv").write_text(sample.to_csv(self.people, sample.COLUMNS), encoding="utf-8")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        if self.s3_url:
            import boto3

            env.update(
                AWS_DEFAULT_REGION="us-east-1",
                AWS_ENDPOINT_URL_S3=self.s3_url,
                AWS_CONFIG_FILE="/nonexistent/aws-config",
                AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
            )
            self.s3 = boto3.session.Session().client(
                "s3",
                endpoint_url=self.s3_url,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            self.s3.create_bucket(Bucket="chaos")
        if not self.args.live_code:  # the code under test stays the same for the whole campaign
            code = self.root / "code"
            source = (self.args.code or REPO) / "findmatches"
            shutil.copytree(source, code / "findmatches", ignore=shutil.ignore_patterns("__pycache__"))
            env["PYTHONPATH"] = str(code)
        self.env = env
        server = ServerProcess(self.data_dir, [self.files], env, self.root / "server.log")
        self.restart_s.append(server.start())
        glue = glue_client(server.url)
        glue.create_database(DatabaseInput={"Name": "chaos"})
        glue.create_table(
            DatabaseName="chaos",
            TableInput={
                "Name": "people",
                "Parameters": {"classification": "csv"},
                "StorageDescriptor": {
                    "Location": str(table),
                    "Columns": [{"Name": c, "Type": "string"} for c in sample.COLUMNS],
                },
            },
        )
        for name, retries in (("plain", 0), ("retry", 1)):
            self.transforms[name] = glue.create_ml_transform(
                Name=name,
                Role="arn:aws:iam::000000000000:role/chaos",
                InputRecordTables=[{"DatabaseName": "chaos", "TableName": "people"}],
                Parameters={
                    "TransformType": "FIND_MATCHES",
                    "FindMatchesParameters": {"PrimaryKeyColumnName": "id"},
                },
                MaxRetries=retries,
            )["TransformId"]
            self.base[name] = []
            # A first import makes the transform READY (every set holds a match and a non-match).
            run = self.new_run(0, "import-replace", name, random.Random(self.rng.random()))
            run.run_id = self.start(glue, run)
            run.final = run.seen = self.wait(glue, run, threading.Event(), timeout=120)
            if run.final != "SUCCEEDED":
                raise RuntimeError(f"the first import ended {run.final}")
            self.base[name] = apply_import([], run)
        return server

    def code_version(self) -> dict[str, Any]:
        """Which code the server ran: the commit, files changed since, and where the package was imported from."""

        def git(*a: str) -> str:
            out = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True, check=False)
            return out.stdout.strip()

        where = subprocess.run(
            [sys.executable, "-c", "import findmatches; print(findmatches.__file__)"],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        return {
            "source": str(self.args.code or REPO),  # the commit and changes below are the checkout's
            "commit": git("rev-parse", "HEAD"),
            "changed_files": git("status", "--porcelain", "--", "findmatches").splitlines(),
            "imported_from": where,
        }

    # -- files and paths --------------------------------------------------------------------------------

    def location(self, rng: random.Random, name: str) -> str:
        """A fresh path for ``name``: local (plain path) or, half the time with S3, ``s3://chaos/…``."""
        if self.s3 is not None and rng.random() < 0.5:
            return f"s3://chaos/{name}"
        return str(self.files / name)

    def new_run(self, round_no: int, kind: str, transform: str, rng: random.Random) -> Run:
        with self.lock:
            self.seq += 1
            seq = self.seq
        path = self.location(rng, f"r{round_no:03d}/{seq:05d}-{kind}")
        run = Run(seq, round_no, kind, transform, path)
        if kind.startswith("import"):
            chosen = rng.sample(sorted(self.sets), rng.randint(1, 6))
            for n, set_id in enumerate(chosen):  # the first set whole: a match and a non-match (READY)
                members = self.sets[set_id] if n == 0 or rng.random() < 0.7 else self.sets[set_id][:2]
                entities = {self.by_id[pk]["entity"] for pk in members}
                names = {e: f"{e}-v{seq}-{i}" for i, e in enumerate(sorted(entities))}
                run.labels += [(set_id, names[self.by_id[pk]["entity"]], pk) for pk in members]
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["labeling_set_id", "label", "id", "first_name", "last_name"])
            for set_id, label, pk in run.labels:
                writer.writerow(
                    [set_id, label, pk, self.by_id[pk]["first_name"], self.by_id[pk]["last_name"]]
                )
            run.path += ".csv"
            self.write(run.path, out.getvalue().encode())
        with self.lock:
            self.runs.append(run)
        return run

    def write(self, path: str, data: bytes) -> None:
        if path.startswith("s3://"):
            bucket, key = path[5:].split("/", 1)
            self.s3.put_object(Bucket=bucket, Key=key, Body=data)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(data)

    def listing(self, folder: str) -> dict[str, bytes]:
        """Every object under ``folder`` (relative name → content), hidden ones included."""
        if folder.startswith("s3://"):
            bucket, prefix = folder[5:].split("/", 1)
            found = {}
            for obj in self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", []):
                body = self.s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                found[obj["Key"][len(prefix) + 1 :]] = body
            return found
        root = Path(folder)
        if not root.is_dir():
            return {}
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    # -- driving runs -----------------------------------------------------------------------------------

    def start(self, glue: Any, run: Run) -> str:
        tid = self.transforms[run.transform]
        if run.kind.startswith("import"):
            answer = glue.start_import_labels_task_run(
                TransformId=tid, InputS3Path=run.path, ReplaceAllLabels=run.replace
            )
        elif run.kind == "export":
            answer = glue.start_export_labels_task_run(TransformId=tid, OutputS3Path=run.path)
        elif run.kind == "labeling-set":
            answer = glue.start_ml_labeling_set_generation_task_run(TransformId=tid, OutputS3Path=run.path)
        elif run.kind == "evaluation":
            answer = glue.start_ml_evaluation_task_run(TransformId=tid)
        else:
            answer = glue.start_find_matches_task_run(TransformId=tid, OutputS3Path=run.path)
        if "TaskRunId" not in answer:  # a body cut by the kill parses as {}
            raise ConnectionError("the start's answer was cut")
        return str(answer["TaskRunId"])

    def wait(self, glue: Any, run: Run, stop: threading.Event, timeout: float = 600) -> str:
        assert run.run_id is not None
        deadline = time.monotonic() + timeout
        while not stop.is_set() and time.monotonic() < deadline:
            got = glue.get_ml_task_run(TransformId=self.transforms[run.transform], TaskRunId=run.run_id)
            if "Status" not in got:  # a body cut by the kill parses as {}
                self.observe(run.round, "answer without Status", f"{run.kind} {run.run_id}: {got}")
                if stop.is_set():
                    break
                continue
            run.seen = str(got["Status"])
            if run.seen in TERMINAL:
                return run.seen
            time.sleep(0.05)
        return run.seen

    def loop(
        self,
        glue: Any,
        round_no: int,
        transform: str,
        kinds: tuple[str, ...],
        stop: threading.Event,
        seed: float,
    ) -> None:
        """One client: start a run of one of ``kinds``, wait for its end, repeat until the kill."""
        from botocore.exceptions import BotoCoreError, ClientError

        rng = random.Random(seed)
        while not stop.is_set():
            run = self.new_run(round_no, rng.choice(kinds), transform, rng)
            try:
                run.run_id = self.start(glue, run)
                run.seen = "STARTING"
                self.wait(glue, run, stop)
            except ClientError as e:  # an API error answer (not the kill)
                run.error = str(e)
                if run.run_id is None:
                    run.final = "NEVER_STARTED"
                self.observe(round_no, "API error", f"{run.kind} {run.run_id}: {e}")
                time.sleep(0.2)
            except (BotoCoreError, ConnectionError) as e:  # the connection died: the kill
                run.error = type(e).__name__
                return

    # -- one round: work, kill, down-time checks, restart, checks --------------------------------------

    def round(self, round_no: int, server: ServerProcess) -> None:
        stop = threading.Event()
        threads = []
        for name in self.transforms:
            for kinds in (("import-merge", "import-replace"), WORK_KINDS):
                glue = glue_client(server.url)  # made before the clock starts: it takes a while
                thread = threading.Thread(
                    target=self.loop, args=(glue, round_no, name, kinds, stop, self.rng.random()), daemon=True
                )
                thread.start()
                threads.append(thread)
        time.sleep(self.rng.uniform(self.args.min_delay, self.args.max_delay))
        with self.lock:
            in_flight = [
                r for r in self.runs if r.round == round_no and r.seen not in TERMINAL and r.final is None
            ]
        members = session_members(server.proc.pid if server.proc else -1)
        stop.set()
        killed = server.kill()
        killed_at = time.monotonic()
        kill: dict[str, Any] = {
            "round": round_no,
            "in_flight": [
                {"kind": r.kind, "transform": r.transform, "seen": r.seen, "run_id": r.run_id}
                for r in in_flight
            ],
            "session_before_kill": [m["cmdline"][:120] for m in members],
        }
        self.kills.append(kill)
        timer = threading.Timer(10.0, self.check_orphans, args=(round_no, killed, killed_at))
        timer.start()
        self.timers.append(timer)
        for thread in threads:
            thread.join(timeout=60)
        at_kill = self.check_store(round_no)
        self.restart_s.append(server.start())
        glue = glue_client(server.url)
        self.reconcile(round_no, glue)
        for entry, run in zip(kill["in_flight"], in_flight, strict=True):
            entry.update(run_id=run.run_id, final=run.final, error=run.error)
            if run.transform == "retry" and run.run_id and run.final != "SUCCEEDED":
                self.violate(
                    round_no,
                    "retries",
                    f"{run.kind} {run.run_id} (MaxRetries=1) in flight at the kill ended {run.final}: {run.error}",
                )
        self.check_labels(round_no, glue, at_kill)
        self.check_outputs(round_no)

    def violate(self, round_no: int, check: str, what: str, **details: Any) -> None:
        with self.lock:
            self.violations.append({"round": round_no, "check": check, "what": what, **details})
        print(f"  round {round_no}: VIOLATION {check}: {what}", flush=True)

    def observe(self, round_no: int, kind: str, what: str) -> None:
        with self.lock:
            self.observations.append({"round": round_no, "kind": kind, "what": what})

    def check_orphans(self, round_no: int, session: int, killed_at: float) -> None:
        left = session_members(session)
        if left:
            after = round(time.monotonic() - killed_at, 1)
            self.violate(
                round_no,
                "orphans",
                f"{len(left)} process(es) of the killed server's session alive {after} s after the kill",
                processes=left,
            )
            for proc in left:  # started by this campaign (through the server): end them
                with contextlib.suppress(OSError):
                    os.kill(proc["pid"], signal.SIGKILL)

    def check_store(self, round_no: int) -> dict[str, list[Label]]:
        """While the server is down: integrity of a copy of the store, and the labels it holds."""
        with tempfile.TemporaryDirectory() as tmp:
            for suffix in ("", "-wal"):
                source = self.data_dir / (DB_FILE + suffix)
                if source.exists():
                    shutil.copyfile(source, Path(tmp) / (DB_FILE + suffix))
            conn = sqlite3.connect(Path(tmp) / DB_FILE)
            try:
                result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
                if result != ["ok"]:
                    self.violate(round_no, "integrity", "PRAGMA integrity_check: " + "; ".join(result[:5]))
                bad_keys = conn.execute("PRAGMA foreign_key_check").fetchall()
                if bad_keys:
                    self.violate(round_no, "integrity", f"PRAGMA foreign_key_check: {len(bad_keys)} row(s)")
                labels: dict[str, list[Label]] = {}
                for name, tid in self.transforms.items():
                    rows = conn.execute(
                        "SELECT labeling_set_id, label, primary_key FROM labels WHERE transform_id=? ORDER BY ordinal",
                        (tid,),
                    ).fetchall()
                    labels[name] = [(str(a), str(b), str(c)) for a, b, c in rows]
                return labels
            finally:
                conn.close()

    def api_runs(self, glue: Any) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for name, tid in self.transforms.items():
            token = None
            while True:
                page = glue.get_ml_task_runs(TransformId=tid, **({"NextToken": token} if token else {}))
                for run in page.get("TaskRuns", []):
                    task_type = run.get("Properties", {}).get("TaskType")
                    found[run["TaskRunId"]] = {**run, "transform": name, "TaskType": task_type}
                token = page.get("NextToken")
                if not token:
                    break
        return found

    def reconcile(self, round_no: int, glue: Any) -> None:
        """Wait until every run has ended; give each run of the round its final status (check 2)."""
        deadline = time.monotonic() + self.args.stuck_timeout
        while True:
            runs = self.api_runs(glue)
            active = [r for r in runs.values() if r["Status"] not in TERMINAL]
            if not active or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for r in active:
            self.violate(
                round_no,
                "stuck",
                f"{r['TaskType']} run {r['TaskRunId']} still {r['Status']} {self.args.stuck_timeout:g} s after the restart",
            )
        mine = [r for r in self.runs if r.round == round_no]
        known = {r.run_id for r in self.runs if r.run_id} | self.check_runs
        unknown = [r for r in runs.values() if r["TaskRunId"] not in known]
        for run in mine:
            if run.run_id is None and run.final is None:  # the start's answer was lost: find it by its path
                for r in unknown:
                    props = json.dumps(r.get("Properties", {}))
                    by_path = f'"{run.path}"' in props or run.kind in ("evaluation", "find-matches")
                    if r["transform"] == run.transform and r["TaskType"] == TASK_TYPES[run.kind] and by_path:
                        run.run_id = r["TaskRunId"]
                        unknown.remove(r)
                        self.observe(
                            round_no, "start answer lost", f"{run.kind} {run.run_id} started, its answer lost"
                        )
                        break
                else:
                    run.final = "NEVER_STARTED"
            if run.run_id is not None and run.final is None:
                got = runs.get(run.run_id)
                run.final = got["Status"] if got else "MISSING"
                if got and got.get("ErrorString"):
                    run.error = got["ErrorString"]
                if got is None:
                    self.violate(round_no, "stuck", f"{run.kind} run {run.run_id} is gone after the restart")
        for r in unknown:
            self.observe(round_no, "unknown run", f"{r['TaskType']} {r['TaskRunId']} {r['Status']}")

    def export_labels(self, glue: Any, round_no: int, name: str) -> list[Label] | None:
        out = self.files / "checks" / f"r{round_no:03d}-{name}"
        run_id = glue.start_export_labels_task_run(TransformId=self.transforms[name], OutputS3Path=str(out))[
            "TaskRunId"
        ]
        self.check_runs.add(run_id)
        deadline = time.monotonic() + 120
        got: dict[str, Any] = {"Status": "RUNNING"}
        while time.monotonic() < deadline and got["Status"] not in TERMINAL:
            time.sleep(0.05)
            got = glue.get_ml_task_run(TransformId=self.transforms[name], TaskRunId=run_id)
        files = list(self.listing(str(out)).values())
        if got["Status"] != "SUCCEEDED" or len(files) != 1:
            what = f"{got['Status']} ({got.get('ErrorString')}), {len(files)} file(s)"
            self.violate(round_no, "labels", f"the checking export of {name} after the restart: {what}")
            return None
        return parse_labels(files[0])

    def check_labels(self, round_no: int, glue: Any, at_kill: dict[str, list[Label]]) -> None:
        """Check 1: the labels equal those of exactly the SUCCEEDED imports, in order."""
        for name in self.transforms:
            imports = [
                r
                for r in self.runs
                if r.round == round_no and r.transform == name and r.kind.startswith("import")
            ]
            expected = self.base[name]
            for run in imports:
                if run.final == "SUCCEEDED":
                    expected = apply_import(expected, run)
            actual = self.export_labels(glue, round_no, name)
            if actual is None:
                continue
            if sorted(actual) != sorted(expected):
                culprits = self.explain(name, round_no, actual)
                self.violate(
                    round_no,
                    "labels",
                    f"{name}: exported labels differ from the SUCCEEDED imports: {diff(expected, actual)}",
                    explained_by=culprits,
                )
            elif name == "plain" and sorted(at_kill[name]) != sorted(expected):
                self.violate(
                    round_no,
                    "labels",
                    f"{name}: labels in the store at the kill differ from the SUCCEEDED imports: {diff(expected, at_kill[name])}",
                )
            self.base[name] = actual  # later rounds start from what is there

    def explain(self, name: str, round_no: int, actual: list[Label]) -> list[str]:
        """Which imports that did not succeed would account for ``actual`` if they had been applied."""
        imports = [
            r
            for r in self.runs
            if r.round == round_no and r.transform == name and r.kind.startswith("import")
        ]
        for extra in imports:
            if extra.final == "SUCCEEDED":
                continue
            rows = self.base[name]
            for run in imports:
                if run.final == "SUCCEEDED" or run is extra:
                    rows = apply_import(rows, run)
            if sorted(rows) == sorted(actual):
                return [
                    f"{extra.kind} {extra.run_id} ended {extra.final} ({extra.error}) but its labels were kept"
                ]
        return []

    def states(self, name: str, round_no: int) -> list[list[Label]]:
        """The labels a transform went through in a round (from its last checked state)."""
        rows = self.base_at_round_start[name]
        seen = [sorted(rows)]
        for run in self.runs:
            if (
                run.round == round_no
                and run.transform == name
                and run.kind.startswith("import")
                and run.final == "SUCCEEDED"
            ):
                rows = apply_import(rows, run)
                seen.append(sorted(rows))
        return seen

    def check_outputs(self, round_no: int) -> None:
        """Check 4: every output a SUCCEEDED run reported is there, alone and whole."""
        for run in self.runs:
            if run.round != round_no or run.kind.startswith("import"):
                continue
            if run.kind == "evaluation":
                if run.final == "SUCCEEDED" and run.run_id:
                    curve = self.data_dir / "logs" / f"{run.run_id}.curve.json"
                    try:
                        json.loads(curve.read_text())
                    except (OSError, ValueError) as e:
                        self.violate(round_no, "outputs", f"evaluation {run.run_id}: curve {curve.name}: {e}")
                continue
            objects = self.listing(run.path)
            hidden = [k for k in objects if k.startswith(".") or "/." in k or k.startswith("_")]
            visible = {k: v for k, v in objects.items() if k not in hidden}
            if hidden:
                self.observe(round_no, "temp files left", f"{run.kind} {run.final}: {hidden}")
            if run.final != "SUCCEEDED":
                if visible:
                    self.observe(
                        round_no,
                        "output of an unsuccessful run",
                        f"{run.kind} {run.run_id} {run.final}: {sorted(visible)}",
                    )
                continue
            if len(visible) != 1:
                self.violate(
                    round_no,
                    "outputs",
                    f"{run.kind} {run.run_id}: {len(visible)} files under {run.path}: {sorted(visible)}",
                )
            for key, data in visible.items():
                problem = self.output_problem(run, key, data)
                if problem:
                    self.violate(round_no, "outputs", f"{run.kind} {run.run_id}: {run.path}/{key}: {problem}")

    def output_problem(self, run: Run, key: str, data: bytes) -> str | None:
        try:
            text = data.decode("utf-8")
            rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        except (UnicodeDecodeError, csv.Error) as e:
            return f"not a whole CSV file: {e}"
        if not text.endswith("\n"):
            return "the last line is cut (no line end)"
        header, body = rows[0] if rows else [], rows[1:]
        if any(len(r) != len(header) for r in body):
            return "a row has another number of fields than the header"
        if run.kind == "find-matches":
            if "match_id" not in header or "id" not in header:
                return f"header {header}"
            ids = [r[header.index("id")] for r in body]
            if len(ids) != len(self.ids) or set(ids) != self.ids:
                return f"{len(ids)} rows, expected {len(self.ids)} (each record once)"
            if run.run_id and run.run_id not in key:
                return "the file is named for another run"
        elif run.kind == "labeling-set":
            if header[:1] != ["labeling_set_id"] or "id" not in header:
                return f"header {header}"
            if not body or any(r[header.index("id")] not in self.ids for r in body):
                return "no rows, or unknown records"
        elif run.kind == "export":
            labels = parse_labels(data)
            if sorted(labels) not in self.states(run.transform, run.round):
                return f"{len(labels)} labels, equal to no state the labels went through"
        return None


def parse_labels(data: bytes) -> list[Label]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    return [(r["labeling_set_id"], r["label"], r["id"]) for r in reader]


@contextlib.contextmanager
def s3_server(enabled: bool) -> Iterator[str | None]:
    """moto's S3 on a loopback port in this process (it survives the server's kills), or None."""
    if not enabled:
        yield None
        return
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        print("moto is not installed: local paths only")
        yield None
        return
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def summarize(campaign: Campaign) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per kind of in-flight work: kills, and kills with a violation of each check; outcomes of those runs."""
    by_round: dict[int, set[str]] = {}
    for v in campaign.violations:
        by_round.setdefault(v["round"], set()).add(v["check"])
    rows = []
    for kind in (*KINDS, "(nothing)", "all kills"):
        kills = [
            k
            for k in campaign.kills
            if kind == "all kills"
            or (kind == "(nothing)" and not k["in_flight"])
            or any(r["kind"] == kind for r in k["in_flight"])
        ]
        row: dict[str, Any] = {"in flight": kind, "kills": len(kills)}
        row["runs"] = sum(1 for k in kills for r in k["in_flight"] if kind in ("all kills", r["kind"]))
        for check in CHECKS:
            row[check] = sum(1 for k in kills if check in by_round.get(k["round"], set()))
        rows.append(row)
    outcomes = []
    in_flight_ids = {(k["round"], r["run_id"], r["kind"]) for k in campaign.kills for r in k["in_flight"]}
    for kind in KINDS:
        for transform in campaign.transforms:
            runs = [
                r
                for r in campaign.runs
                if r.kind == kind
                and r.transform == transform
                and (r.round, r.run_id, r.kind) in in_flight_ids
            ]
            counts = Counter(r.final for r in runs)
            outcomes.append(
                {
                    "in flight": kind,
                    "transform": transform,
                    "runs": len(runs),
                    **{s: counts.get(s, 0) for s in (*TERMINAL, "NEVER_STARTED")},
                }
            )
    return rows, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=None, help="kills (default 200; 10 with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a smaller table and 10 kills, for development")
    parser.add_argument("--no-s3", action="store_true", help="local paths only (no loopback S3)")
    parser.add_argument(
        "--live-code", action="store_true", help="run the checkout, not a copy taken at start"
    )
    parser.add_argument("--code", type=Path, help="run a copy of DIR/findmatches instead (a patched version)")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    parser.add_argument("--json", help="name of the JSON file under bench/results/ (default chaos.json)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server on the way out
    args.kills = args.kills if args.kills is not None else (10 if args.quick else 200)
    args.entities = 150 if args.quick else 400
    args.min_delay, args.max_delay = 0.1, 4.0
    args.stuck_timeout = 120.0
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True)
            root = args.keep
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chaos-")))
        s3_url = stack.enter_context(s3_server(not args.no_s3))
        campaign = Campaign(args, root, s3_url)
        server = campaign.setup()
        version = campaign.code_version()
        print(
            f"code: {version['imported_from']} ({version['commit'][:10]}, {len(version['changed_files'])} changed files)"
        )
        try:
            for k in range(1, args.kills + 1):
                campaign.base_at_round_start = {n: list(v) for n, v in campaign.base.items()}
                campaign.round(k, server)
                last = campaign.kills[-1]
                kinds = ",".join(sorted({r["kind"] for r in last["in_flight"]})) or "-"
                print(
                    f"kill {k}/{args.kills}: in flight {kinds}; violations so far {len(campaign.violations)}",
                    flush=True,
                )
        finally:
            server.stop()
            for timer in campaign.timers:
                timer.join()
        final = campaign.check_store(args.kills + 1)
        work_left = (
            sorted(p.name for p in (campaign.data_dir / "work").iterdir())
            if (campaign.data_dir / "work").is_dir()
            else []
        )
        log_text = (root / "server.log").read_text(errors="replace")
    rows, outcomes = summarize(campaign)
    seconds = time.monotonic() - started
    print_table(
        f"Crash campaign: {args.kills} kill -9 of the server (seed {args.seed}, {len(campaign.people)} records, "
        f"S3 {'on' if s3_url else 'off'}); per kind of in-flight work, kills with a violation of each check",
        rows,
    )
    print_table("What the runs in flight at a kill ended as after the restart", outcomes)
    observed = Counter(o["kind"] for o in campaign.observations)
    print(
        f"\nobservations (not violations): {dict(observed)}; work dirs left in the data dir: {len(work_left)}"
    )
    print(
        f"restart: median {sorted(campaign.restart_s)[len(campaign.restart_s) // 2]:.2f} s; campaign {seconds / 60:.1f} min"
    )
    name = args.json or ("chaos-quick.json" if args.quick else "chaos.json")
    write_json(
        name,
        {
            "benchmark": "chaos",
            "seed": args.seed,
            "kills": args.kills,
            "records": len(campaign.people),
            "s3": bool(s3_url),
            "code": version,
            "minutes": round(seconds / 60, 1),
            "kill_delay_s": [args.min_delay, args.max_delay],
            "restart_s_median": sorted(campaign.restart_s)[len(campaign.restart_s) // 2],
            "table": rows,
            "outcomes": outcomes,
            "violations": campaign.violations,
            "observations": campaign.observations,
            "work_dirs_left": len(work_left),
            "final_labels": {n: len(v) for n, v in final.items()},
            "tracebacks_in_server_log": log_text.count("Traceback"),
            "runs_started": len(campaign.runs),
            "kill_log": campaign.kills,
        },
    )


if __name__ == "__main__":
    main()
