"""Task runs' heavy work (the engine: DuckDB, scikit-learn) in worker processes, outside the API server.

A process per run, forked from a fork server that has the engine imported, so that a run starts in
milliseconds rather than the seconds the import takes. The server keeps the store and the storage I/O; a
worker gets the run's inputs (local files, the labels as Arrow), writes its outputs into the run's work dir
and sends back a small result. The server watches each worker: a cancel or a timeout asks it to stop, then
kills it; a worker over the run memory limit is killed; a worker that dies (killed, out of memory, a crash
in native code) fails its run with an ErrorString that says so. The API answers throughout. A worker whose
server died exits at once (its pipe to the server closes), so no orphan goes on computing.

A call may ask to keep its worker (``keep``, a key: the Spark engine's runs, whose worker holds a Spark
application): the process then serves later calls with the same key, one at a time, until it has been idle
for ``keep_s`` seconds, so that a run finds its driver and executors started and warm instead of starting an
application of its own. A kept worker that dies, is killed or was cancelled is not used again.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from findmatches.engine.snapshot import SnapshotMismatch
from findmatches.engine.types import Cancelled, EngineError

#: Imported once by the fork server, so that every worker starts with them loaded.
PRELOAD = ("findmatches.engine.api",)
#: How much lower than the server's a worker's CPU priority is (nice(2) increment).
WORKER_NICENESS = 10
#: The most memory the embedded DuckDB of a run may hold before it spills (its own default elsewhere).
ENGINE_MEMORY_ENV = "FINDMATCHES_ENGINE_MEMORY_LIMIT"


def default_memory_limit() -> int:
    """Bytes a run may use by default: 80 % of the machine's physical memory."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # pragma: no cover - every Linux has both
        total = 8 << 30
    return int(total * 0.8)


def append_log(path: Path, message: str) -> None:
    """Append a timestamped line to a run's log (the server and its worker write the same file)."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")


class WorkerFailed(Exception):
    """The worker ended without a result (killed, out of memory, crashed) or raised an unexpected error; the
    message is the run's ErrorString."""


class _Kept:
    """A kept worker process: its pipe, its key, and since when it has been idle (None: busy)."""

    def __init__(self, proc: Any, conn: Connection, key: str) -> None:
        self.proc = proc
        self.conn = conn
        self.key = key
        self.idle_since: float | None = None


class Workers:
    """Starts and watches a worker process per call, or keeps one between calls of the same ``keep`` key."""

    def __init__(
        self,
        memory_limit: int | None = None,
        *,
        poll_s: float = 0.1,
        stop_grace_s: float = 5.0,
        hold_s: float = 0.0,
        keep_s: float = 0.0,
    ) -> None:
        self.memory_limit = int(memory_limit or default_memory_limit())
        self.poll_s = poll_s
        self.stop_grace_s = stop_grace_s
        #: Test-only: seconds a worker waits (stoppable) before its work, so that tests can kill it mid-run.
        self.hold_s = hold_s
        #: Seconds a kept worker waits idle for its next call; 0: no worker is kept.
        self.keep_s = keep_s
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(list(PRELOAD))
        self._kept: list[_Kept] = []
        self._kept_lock = threading.Lock()
        self._reaper: threading.Thread | None = None
        self._closed = threading.Event()

    def warm(self) -> None:
        """Start the fork server (it imports the engine) and return once a worker can be forked."""
        proc = self._ctx.Process(target=_noop, name="findmatches-warm")
        proc.start()
        proc.join()

    def call(
        self,
        target: str,
        kwargs: dict[str, Any],
        *,
        log_path: Path,
        should_stop: Callable[[], bool],
        engine_style: bool = True,
        env: dict[str, str] | None = None,
        keep: str | None = None,
    ) -> Any:
        """Run ``target`` (``"module:function"``; with ``engine_style``, it takes ``log`` and ``should_stop``
        besides ``kwargs``, as the engine's entry points do) in a worker and return its result. Raises
        `Cancelled` when ``should_stop`` turned true, `EngineError` as the engine raised it, `WorkerFailed`
        otherwise. ``env``: variables set in the worker's environment for the call. ``keep``: a key under which
        the worker is kept for later calls (where ``keep_s`` allows); calls with one key share its settings."""
        # DuckDB spills before the watchdog would kill the run: at most half of the run's limit.
        engine_limit = (
            os.environ.get(ENGINE_MEMORY_ENV) or f"{max(64, min(2048, self.memory_limit // 2 >> 20))}MB"
        )
        job = (target, kwargs, str(log_path), engine_limit, self.hold_s, engine_style, env or {})
        if keep is not None and self.keep_s > 0 and not self._closed.is_set():
            return self._call_kept(keep, job, log_path, should_stop)
        ours, theirs = self._ctx.Pipe()
        proc = self._ctx.Process(target=_work, args=(theirs, *job), name="findmatches-run")
        proc.start()
        theirs.close()
        append_log(log_path, f"worker process {proc.pid} started")
        try:
            return _result(self._watch(proc, ours, should_stop))
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            ours.close()
            proc.close()

    def _call_kept(
        self, key: str, job: tuple[Any, ...], log_path: Path, should_stop: Callable[[], bool]
    ) -> Any:
        """`call` in a kept worker of ``key``: an idle one, else a new one (`_new_kept`), given back once it
        answers. An idle one that died before it took the call (killed while it waited), or whose Spark
        application was lost meanwhile (its driver died, the cluster ended it), is replaced."""
        kept = self._take(key)
        taken = self._offer(kept, job, log_path, should_stop) if kept is not None else None
        if kept is None or taken is None:
            kept = self._new_kept(key, log_path)
            _send(kept.conn, ("run", *job))
        healthy = False
        try:
            if taken is None:
                taken = self._watch(kept.proc, kept.conn, should_stop)
            message = taken if taken[0] != "taken" else self._watch(kept.proc, kept.conn, should_stop)
            # Kept only after an answer or a refusal of the run's data: a run that was stopped may have left
            # work behind, and one that failed unexpectedly may have left its driver broken.
            healthy = message[0] in ("ok", "engine_error", "snapshot_mismatch")
            return _result(message)
        finally:
            if healthy and not self._closed.is_set():
                kept.idle_since = time.monotonic()
                with self._kept_lock:
                    self._kept.append(kept)
            else:
                _end(kept, 0)

    def _offer(
        self, kept: _Kept, job: tuple[Any, ...], log_path: Path, should_stop: Callable[[], bool]
    ) -> tuple[str, Any] | None:
        """Give the call to the idle worker ``kept``: its first answer, or None where it cannot take the call
        (it died while it waited, or its Spark application was lost meanwhile), once it has ended."""
        _send(kept.conn, ("run", *job))
        try:
            taken = self._watch(kept.proc, kept.conn, should_stop)
        except WorkerFailed:
            _end(kept, 0)
            return None
        except BaseException:
            _end(kept, 0)
            raise
        pid = kept.proc.pid
        if taken[0] == "lost":
            append_log(
                log_path, f"worker process {pid} (kept from an earlier run) cannot take the run: {taken[1]}"
            )
            _end(kept, self.stop_grace_s)
            return None
        append_log(log_path, f"worker process {pid} (kept from an earlier run) took the run")
        return taken

    def _new_kept(self, key: str, log_path: Path) -> _Kept:
        """A new kept worker of ``key``, once every idle one has ended: idle applications of other settings
        hold executors that a new application may have to wait for (a cluster's cores)."""
        with self._kept_lock:
            idle, self._kept = self._kept, []
        for other in idle:
            _end(other, self.stop_grace_s)
        ours, theirs = self._ctx.Pipe()
        proc = self._ctx.Process(target=_serve, args=(theirs,), name="findmatches-kept")
        proc.start()
        theirs.close()
        append_log(log_path, f"worker process {proc.pid} started (kept for later runs like this one)")
        self._start_reaper()
        return _Kept(proc, ours, key)

    def _take(self, key: str) -> _Kept | None:
        """An idle kept worker of ``key`` that is alive (taken out of the pool), or None."""
        with self._kept_lock:
            for kept in list(self._kept):
                if kept.key == key and kept.proc.is_alive():
                    self._kept.remove(kept)
                    kept.idle_since = None
                    return kept
        return None

    def _start_reaper(self) -> None:
        with self._kept_lock:
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap, name="kept-workers", daemon=True)
                self._reaper.start()

    def _reap(self) -> None:
        """End kept workers idle for ``keep_s`` seconds, and those that died, until `close`."""
        while not self._closed.wait(min(1.0, self.keep_s / 4)):
            now = time.monotonic()
            with self._kept_lock:
                ended = [
                    k
                    for k in self._kept
                    if not k.proc.is_alive() or now - (k.idle_since or now) >= self.keep_s
                ]
                for kept in ended:
                    self._kept.remove(kept)
            for kept in ended:
                _end(kept, self.stop_grace_s)

    def kept_pids(self) -> list[int]:
        """The process ids of the idle kept workers."""
        with self._kept_lock:
            return [int(k.proc.pid or 0) for k in self._kept]

    def close(self) -> None:
        """End every idle kept worker (each stops its Spark application) and keep no more."""
        self._closed.set()
        with self._kept_lock:
            kept, self._kept = self._kept, []
        for k in kept:
            _end(k, self.stop_grace_s)

    def _watch(self, proc: Any, ours: Connection, should_stop: Callable[[], bool]) -> tuple[str, Any]:
        """The worker's answer to its call; stops it when ``should_stop`` turns true (`Cancelled` past the
        grace period) and kills it over the memory limit (`WorkerFailed`)."""
        pid = int(proc.pid or 0)
        asked_at: float | None = None
        while True:
            if ours.poll(self.poll_s):
                try:
                    message: tuple[str, Any] = ours.recv()
                except (EOFError, OSError):
                    break
                return message
            if not proc.is_alive():
                if ours.poll(0):  # it sent its result and exited between the two checks
                    continue
                break
            if should_stop():
                if asked_at is None:
                    asked_at = time.monotonic()
                    _send(ours, "stop")
                elif time.monotonic() - asked_at > self.stop_grace_s:
                    proc.kill()
                    raise Cancelled("stopped")
            rss = _resident_bytes(pid)
            if rss > self.memory_limit:
                proc.kill()
                raise WorkerFailed(
                    f"The task run used more than {self.memory_limit >> 20} MiB of memory (the run memory "
                    f"limit, --run-memory-mb) and was stopped: {rss >> 20} MiB."
                )
        proc.join(5)
        if asked_at is not None or should_stop():
            raise Cancelled("stopped")
        raise WorkerFailed(_death(proc.exitcode))


def _end(kept: _Kept, grace_s: float) -> None:
    """Ask a kept worker to end (it stops its Spark application first), then kill it past ``grace_s``."""
    if grace_s > 0 and kept.proc.is_alive():
        _send(kept.conn, "exit")
        kept.proc.join(grace_s)
    if kept.proc.is_alive():
        kept.proc.kill()
    kept.proc.join()
    kept.conn.close()


def _send(conn: Connection, message: object) -> None:
    with contextlib.suppress(OSError):  # the worker is gone; the loop finds out
        conn.send(message)


def _result(message: tuple[str, Any]) -> Any:
    kind, value = message
    if kind == "ok":
        return value
    if kind == "cancelled":
        raise Cancelled("stopped")
    if kind == "snapshot_mismatch":
        raise SnapshotMismatch(str(value))
    if kind == "engine_error":
        raise EngineError(str(value))
    raise WorkerFailed(str(value))


def _death(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        cause = " (the system may have run out of memory)" if exitcode == -signal.SIGKILL else ""
        return f"The task run's worker process was killed by {name}{cause}; nothing it was doing was kept."
    return f"The task run's worker process exited unexpectedly (status {exitcode}); nothing it was doing was kept."


def _resident_bytes(pid: int) -> int:
    """The process's resident memory, from /proc (0 where it cannot be read)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _noop() -> None:
    pass


def _work(
    conn: Connection,
    target: str,
    kwargs: dict[str, Any],
    log_path: str,
    engine_limit: str,
    hold_s: float,
    engine_style: bool,
    env: dict[str, str],
) -> None:
    """The worker's side: run ``target`` and send back ("ok", result) or what went wrong."""
    # Below the API in the scheduler's eyes: on a busy machine a request waits less for a core than a run does.
    os.nice(WORKER_NICENESS)
    stop = threading.Event()

    def on_message(message: Any) -> None:
        if message == "stop":
            stop.set()

    _listen(conn, on_message)
    os.environ.update(env)
    os.environ[ENGINE_MEMORY_ENV] = engine_limit
    conn.send(_run(target, kwargs, Path(log_path), hold_s, engine_style, stop))


def _serve(conn: Connection) -> None:
    """A kept worker's side: run each ("run", …) call as `_work` runs one, in the environment the process
    started with plus the call's, until "exit" (then stop the Spark application, where one was started). A
    call that finds the application lost while the worker waited (`_lost`) is refused with ("lost", why), and
    the worker ends: the server gives the call to a new one."""
    os.nice(WORKER_NICENESS)
    calls: queue.SimpleQueue[tuple[tuple[Any, ...], threading.Event] | None] = queue.SimpleQueue()
    current = [threading.Event()]

    def on_message(message: Any) -> None:
        if message == "stop":
            current[0].set()
        elif message == "exit":
            calls.put(None)
        else:  # a call, with the stop event its "stop" messages set from now on
            current[0] = threading.Event()
            calls.put((tuple(message[1:]), current[0]))

    _listen(conn, on_message)
    base = dict(os.environ)
    while (call := calls.get()) is not None:
        (target, kwargs, log_path, engine_limit, hold_s, engine_style, env), stop = call
        if (why := _lost()) is not None:
            conn.send(("lost", why))
            break
        conn.send(("taken", os.getpid()))
        os.environ.clear()
        os.environ.update({**base, **env, ENGINE_MEMORY_ENV: engine_limit})
        conn.send(_run(target, kwargs, Path(log_path), hold_s, engine_style, stop))
    spark = sys.modules.get("findmatches.engine.backends.spark")
    if spark is not None:
        with contextlib.suppress(Exception):  # a lost application's driver may not answer the stop
            spark.stop_spark_session()


def _lost() -> str | None:
    """Why the Spark application this worker started can run no more work (`spark_session_lost`), else None."""
    spark = sys.modules.get("findmatches.engine.backends.spark")
    return None if spark is None else spark.spark_session_lost()


def _listen(conn: Connection, on_message: Callable[[Any], None]) -> None:
    """Hand each message from the server to ``on_message``, on a thread of its own; exit the process at once
    when the server is gone (its pipe closed): nobody would read the result."""

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                os._exit(70)
            on_message(message)

    threading.Thread(target=listen, name="server-pipe", daemon=True).start()


def _run(
    target: str,
    kwargs: dict[str, Any],
    path: Path,
    hold_s: float,
    engine_style: bool,
    stop: threading.Event,
) -> tuple[str, Any]:
    """``target``'s answer to send back: ("ok", result), or what went wrong."""
    try:
        if hold_s and stop.wait(hold_s):
            raise Cancelled("stopped")
        module, _, name = target.partition(":")
        fn = getattr(importlib.import_module(module), name)
        if engine_style:
            kwargs = {**kwargs, "log": lambda m: append_log(path, m), "should_stop": stop.is_set}
        result = fn(**kwargs)
        reply: tuple[str, Any] = ("ok", result)
    except Cancelled:
        append_log(path, "The work stopped when asked.")
        reply = ("cancelled", "")
    except SnapshotMismatch as e:
        reply = ("snapshot_mismatch", str(e))
    except EngineError as e:
        reply = ("engine_error", str(e))
    except Exception as e:  # reported to the server as the run's failure
        append_log(path, traceback.format_exc())
        message = getattr(e, "message", None) or str(e) or type(e).__name__
        reply = ("error", f"{type(e).__name__}: {message}")
    return reply
