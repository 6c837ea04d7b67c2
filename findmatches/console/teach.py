"""Teach: ask for a labeling set, show it set by set, and import the labels the person gives.

The labeling run writes under the console's folder in the data dir (a ``file://`` URI, so it must be an
allowed root: it is by default); the labels go to a file there too, imported with ReplaceAllLabels false,
so they merge with the transform's earlier labels.

Labels already given are reviewed the same way: an export run (StartExportLabelsTaskRun) writes every label
to a folder of its own, the labeling page shows them set by set with their groups filled in, and submitting
imports the whole edited set with ReplaceAllLabels true (a record whose group is cleared loses its label).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from findmatches.aws.errors import ApiError, EntityNotFoundException
from findmatches.console import transforms
from findmatches.console.labeling_files import (
    LabelingFile,
    LabelingFileError,
    console_folder,
    label_field,
    label_file,
    read_labeling_file,
)
from findmatches.console.sessions import Session
from findmatches.console.web import Request, Response
from findmatches.io.errors import StorageError

if TYPE_CHECKING:
    from findmatches.console.app import ConsoleApp

LABELING = "LABELING_SET_GENERATION"
EXPORT = "EXPORT_LABELS"
# Where each kind of run the labeling page shows keeps its output folder.
OUTPUT_PROPERTY = {
    LABELING: "LabelingSetGenerationTaskRunProperties",
    EXPORT: "ExportLabelsTaskRunProperties",
}
MAX_LABELING_FILE_BYTES = 20 * 1024 * 1024


def _folder_uri(app: ConsoleApp, session: Session, transform_id: str, part: str) -> str:
    folder = console_folder(app.data_dir, session.account_id, session.region, transform_id) / part
    return folder.as_uri() + "/"


async def start(app: ConsoleApp, request: Request, session: Session) -> Response:
    transform_id = request.params["transform_id"]
    params = {
        "TransformId": transform_id,
        "OutputS3Path": _folder_uri(app, session, transform_id, "labeling"),
    }
    try:
        started = await app.glue(session, "StartMLLabelingSetGenerationTaskRun", params)
    except EntityNotFoundException:
        raise  # not this account's transform: a 404, not the transform page
    except ApiError as e:
        return await transforms.transform_page(app, request, session, e.status, e.message)
    return Response.redirect(f"/console/transforms/{transform_id}/labeling/{started['TaskRunId']}")


async def review(app: ConsoleApp, request: Request, session: Session) -> Response:
    """Export the transform's labels (into a folder of this export's own) and show them for review."""
    transform_id = request.params["transform_id"]
    params = {
        "TransformId": transform_id,
        "OutputS3Path": _folder_uri(app, session, transform_id, f"exports/{uuid.uuid4().hex}"),
    }
    try:
        started = await app.glue(session, "StartExportLabelsTaskRun", params)
    except EntityNotFoundException:
        raise
    except ApiError as e:
        return await transforms.transform_page(app, request, session, e.status, e.message)
    return Response.redirect(f"/console/transforms/{transform_id}/labeling/{started['TaskRunId']}")


async def _labeling_run(
    app: ConsoleApp, session: Session, request: Request
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The transform and its labeling or label-export run named in the URL (EntityNotFoundException for any
    other run)."""
    transform_id, run_id = request.params["transform_id"], request.params["run_id"]
    transform = await app.glue(session, "GetMLTransform", {"TransformId": transform_id})
    run = await app.glue(session, "GetMLTaskRun", {"TransformId": transform_id, "TaskRunId": run_id})
    if run["Properties"]["TaskType"] not in OUTPUT_PROPERTY:
        raise EntityNotFoundException(
            f"Task run {run_id} is not a labeling-set generation or label export run."
        )
    return transform, run


async def _read_labeling(app: ConsoleApp, transform: dict[str, Any], run: dict[str, Any]) -> LabelingFile:
    """The file the run wrote: in its output folder, the one named after the run (a labeling run), or the one
    file of an export's own folder."""
    kind = run["Properties"]["TaskType"]
    out = run["Properties"][OUTPUT_PROPERTY[kind]]["OutputS3Path"]
    key = transform["Parameters"]["FindMatchesParameters"]["PrimaryKeyColumnName"]
    suffix = f"_{run['TaskRunId']}.csv" if kind == LABELING else ".csv"
    try:
        found = [o for o in await app.in_thread(app.storage.list_objects, out) if o.name.endswith(suffix)]
        if not found:
            raise LabelingFileError(f"no labeling file of this run in {out}")
        data = await app.in_thread(app.storage.read_bytes, found[0].uri, MAX_LABELING_FILE_BYTES)
    except StorageError as e:
        raise LabelingFileError(str(e)) from e
    return read_labeling_file(data, key)


async def labeling_page(
    app: ConsoleApp,
    request: Request,
    session: Session,
    status: int = 200,
    error: str | None = None,
    given: dict[str, str] | None = None,
) -> Response:
    transform, run = await _labeling_run(app, session, request)
    labeling: LabelingFile | None = None
    if run["Status"] == "SUCCEEDED":
        try:
            labeling = await _read_labeling(app, transform, run)
        except LabelingFileError as e:
            status, error = 502, f"Cannot show the labeling set: {e}"
    return app.page(
        session,
        "labeling.html",
        status,
        title=f"Label {transform['Name']}",
        error=error,
        transform=transform,
        run=run,
        labeling=labeling,
        given=given or {},
        label_field=label_field,
        reviewing=run["Properties"]["TaskType"] == EXPORT,
        active=transforms.ACTIVE_STATUSES,
    )


async def submit_labels(app: ConsoleApp, request: Request, session: Session) -> Response:
    transform, run = await _labeling_run(app, session, request)
    transform_id = transform["TransformId"]
    if run["Status"] != "SUCCEEDED":
        return await labeling_page(app, request, session, 409, "The labeling set is not ready yet.")
    labeling = await _read_labeling(app, transform, run)
    labels = {r.index: request.form.get(label_field(r), "") for _, r in labeling.records()}
    given = {label_field(r): labels[r.index] for _, r in labeling.records()}
    if not any(v.strip() for v in labels.values()):
        return await labeling_page(app, request, session, 400, "Give at least one record a label.", given)
    folder = console_folder(app.data_dir, session.account_id, session.region, transform_id) / "labels"
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    uri = (folder / f"{stamp}-{run['TaskRunId']}-{uuid.uuid4().hex[:8]}.csv").as_uri()
    try:
        await app.in_thread(app.storage.write_bytes, uri, label_file(labeling, labels))
        started = await app.glue(
            session,
            "StartImportLabelsTaskRun",
            {
                "TransformId": transform_id,
                "InputS3Path": uri,
                "ReplaceAllLabels": run["Properties"]["TaskType"] == EXPORT,
            },
        )
    except (ApiError, StorageError) as e:
        message = e.message if isinstance(e, ApiError) else str(e)
        status = e.status if isinstance(e, ApiError) else 500
        return await labeling_page(app, request, session, status, message, given)
    return Response.redirect(f"/console/transforms/{transform_id}/runs/{started['TaskRunId']}")
