"""A transform's task runs: the list, one run with its log, and its status as JSON for live updates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from findmatches.console.sessions import Session
from findmatches.console.transforms import ACTIVE_STATUSES
from findmatches.console.web import Request, Response

if TYPE_CHECKING:
    from findmatches.console.app import ConsoleApp

MAX_LOG_BYTES = 256 * 1024


async def list_page(app: ConsoleApp, request: Request, session: Session) -> Response:
    transform_id = request.params["transform_id"]
    transform = await app.glue(session, "GetMLTransform", {"TransformId": transform_id})
    task_runs = await app.glue_all(session, "GetMLTaskRuns", {"TransformId": transform_id}, "TaskRuns")
    return app.page(
        session,
        "runs.html",
        title=f"Runs of {transform['Name']}",
        transform=transform,
        runs=task_runs,
        active=ACTIVE_STATUSES,
    )


def read_log(data_dir: Path, run: dict[str, Any]) -> str | None:
    """The run's log (its last MAX_LOG_BYTES): ``LogGroupName`` is a file the runner writes in the data dir."""
    name = run.get("LogGroupName")
    if not name:
        return None
    path = Path(name).resolve()
    if not path.is_relative_to(data_dir.resolve()) or not path.is_file():
        return None
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - MAX_LOG_BYTES))
        return f.read().decode("utf-8", errors="replace")


async def run_page(app: ConsoleApp, request: Request, session: Session) -> Response:
    transform_id, run_id = request.params["transform_id"], request.params["run_id"]
    transform = await app.glue(session, "GetMLTransform", {"TransformId": transform_id})
    run = await app.glue(session, "GetMLTaskRun", {"TransformId": transform_id, "TaskRunId": run_id})
    log_text = await app.in_thread(read_log, app.data_dir, run)
    return app.page(
        session,
        "run.html",
        title=f"Run {run_id}",
        transform=transform,
        run=run,
        log=log_text,
        active=ACTIVE_STATUSES,
    )


async def status(app: ConsoleApp, request: Request, session: Session) -> Response:
    transform_id, run_id = request.params["transform_id"], request.params["run_id"]
    run = await app.glue(session, "GetMLTaskRun", {"TransformId": transform_id, "TaskRunId": run_id})
    transform = await app.glue(session, "GetMLTransform", {"TransformId": transform_id})
    return Response.json(
        {
            "status": run["Status"],
            "done": run["Status"] not in ACTIVE_STATUSES,
            "error": run.get("ErrorString"),
            "label_count": transform["LabelCount"],
            "transform_status": transform["Status"],
        }
    )
