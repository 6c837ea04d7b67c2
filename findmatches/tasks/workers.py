"""Task runs' heavy work (the engine: DuckDB, scikit-learn) in worker processes, outside the API server.

A process per run, forked from a fork server that has the engine imported, so that a run starts in
milliseconds rather than the seconds the import takes. The server keeps the store and the storage I/O; a
worker gets the run's inputs (local files, the labels as Arrow), writes its outputs into the run's work dir
and sends back a small result. The server watches each worker: a cancel or a timeout asks it to stop, then
kills it; a worker over the run memory limit is killed; a worker that dies (killed, out of memory, a crash
in native code) fails its run with an ErrorString that says so. The API answers throughout. A worker whose
server died exits at once (its pipe to the server closes), so no orphan goes on computing.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
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


class Workers:
    """Starts and watches one worker process per call."""

    def __init__(
        self,
        memory_limit: int | None = None,
        *,
        poll_s: float = 0.1,
        stop_grace_s: float = 5.0,
        hold_s: float = 0.0,
    ) -> None:
        self.memory_limit = int(memory_limit or default_memory_limit())
        self.poll_s = poll_s
        self.stop_grace_s = stop_grace_s
        #: Test-only: seconds a worker waits (stoppable) before its work, so that tests can kill it mid-run.
        self.hold_s = hold_s
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(list(PRELOAD))

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
    ) -> Any:
        """Run ``target`` (``"module:function"``; with ``engine_style``, it takes ``log`` and ``should_stop``
        besides ``kwargs``, as the engine's entry points do) in a worker and return its result. Raises `Cancelled` when ``should_stop`` turned true, `EngineError` as
        the engine raised it, `WorkerFailed` otherwise. ``env``: variables set in the worker's environment."""
        ours, theirs = self._ctx.Pipe()
        # DuckDB spills before the watchdog would kill the run: at most half of the run's limit.
        engine_limit = (
            os.environ.get(ENGINE_MEMORY_ENV) or f"{max(64, min(2048, self.memory_limit // 2 >> 20))}MB"
        )
        proc = self._ctx.Process(
            target=_work,
            args=(theirs, target, kwargs, str(log_path), engine_limit, self.hold_s, engine_style, env or {}),
            name="findmatches-run",
        )
        proc.start()
        pid = int(proc.pid or 0)
        theirs.close()
        append_log(log_path, f"worker process {pid} started")
        asked_at: float | None = None
        try:
            while True:
                if ours.poll(self.poll_s):
                    try:
                        message = ours.recv()
                    except (EOFError, OSError):
                        break
                    return _result(message)
                if not proc.is_alive():
                    if ours.poll(0):  # it sent its result and exited between the two checks
                        continue
                    break
                if should_stop():
                    if asked_at is None:
                        asked_at = time.monotonic()
                        _send(ours, "stop")
                    elif time.monotonic() - asked_at > self.stop_grace_s:
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
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            ours.close()
            proc.close()


def _send(conn: Connection, message: str) -> None:
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
    os.environ.update(env)
    os.environ[ENGINE_MEMORY_ENV] = engine_limit
    # Below the API in the scheduler's eyes: on a busy machine a request waits less for a core than a run does.
    os.nice(WORKER_NICENESS)
    stop = threading.Event()

    def listen() -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                os._exit(70)  # the server is gone: nobody will read the result
            if message == "stop":
                stop.set()

    threading.Thread(target=listen, name="server-pipe", daemon=True).start()
    path = Path(log_path)
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
    conn.send(reply)
