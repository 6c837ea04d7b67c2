"""The transforms list, the create-transform form (from a catalog table) and a transform's page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from findmatches.aws.errors import ApiError
from findmatches.console.sessions import Session
from findmatches.console.web import Request, Response

if TYPE_CHECKING:
    from findmatches.console.app import ConsoleApp

ACTIVE_STATUSES = ("STARTING", "RUNNING", "STOPPING")
RECENT_RUNS = 5


@dataclass(frozen=True)
class TransformRow:
    transform: dict[str, Any]
    f1: float | None
    last_run: dict[str, Any] | None


def evaluation_f1(transform: dict[str, Any]) -> float | None:
    metrics = (transform.get("EvaluationMetrics") or {}).get("FindMatchesMetrics") or {}
    f1 = metrics.get("F1")
    return float(f1) if f1 is not None else None


async def list_page(app: ConsoleApp, request: Request, session: Session) -> Response:
    found = await app.glue_all(session, "GetMLTransforms", {}, "Transforms")
    rows = []
    for transform in found:
        latest = await app.glue(
            session, "GetMLTaskRuns", {"TransformId": transform["TransformId"], "MaxResults": 1}
        )
        last_run = latest["TaskRuns"][0] if latest["TaskRuns"] else None
        rows.append(TransformRow(transform, evaluation_f1(transform), last_run))
    return app.page(session, "transforms.html", title="Transforms", rows=rows)


async def _form_choices(app: ConsoleApp, session: Session, database: str, table: str) -> dict[str, Any]:
    """Databases, the chosen database's tables, and the chosen table's columns."""
    databases = [d["Name"] for d in await app.glue_all(session, "GetDatabases", {}, "DatabaseList")]
    tables: list[str] = []
    columns: list[dict[str, Any]] = []
    if database in databases:
        params = {"DatabaseName": database}
        tables = [t["Name"] for t in await app.glue_all(session, "GetTables", params, "TableList")]
    if table in tables:
        found = await app.glue(session, "GetTable", {"DatabaseName": database, "Name": table})
        columns = (found["Table"].get("StorageDescriptor") or {}).get("Columns") or []
    return {"databases": databases, "tables": tables, "columns": columns}


def _form_defaults(session: Session, fields: dict[str, str]) -> dict[str, str]:
    defaults = {
        "name": "",
        "description": "",
        "role": f"arn:aws:iam::{session.account_id}:role/findmatches",
        "primary_key": "",
        "precision_recall": "0.5",
        "accuracy_cost": "0.5",
        "enforce_labels": "",
    }
    return {**defaults, **{k: v for k, v in fields.items() if k in defaults}}


async def new_page(app: ConsoleApp, request: Request, session: Session) -> Response:
    database, table = request.query.get("database", ""), request.query.get("table", "")
    return await _new_form(app, session, database, table, request.query)


async def _new_form(
    app: ConsoleApp,
    session: Session,
    database: str,
    table: str,
    fields: dict[str, str],
    status: int = 200,
    error: str | None = None,
) -> Response:
    choices = await _form_choices(app, session, database, table)
    return app.page(
        session,
        "new_transform.html",
        status,
        title="New transform",
        error=error,
        database=database,
        table=table,
        form=_form_defaults(session, fields),
        **choices,
    )


def _tradeoff(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} must be a number from 0 to 1.") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{what} must be from 0 to 1.")
    return number


async def create(app: ConsoleApp, request: Request, session: Session) -> Response:
    form = request.form
    database, table = form.get("database", ""), form.get("table", "")
    try:
        find_matches: dict[str, Any] = {
            "PrimaryKeyColumnName": form.get("primary_key", ""),
            "PrecisionRecallTradeoff": _tradeoff(form.get("precision_recall", "0.5"), "Precision–recall"),
            "AccuracyCostTradeoff": _tradeoff(form.get("accuracy_cost", "0.5"), "Accuracy–cost"),
            "EnforceProvidedLabels": form.get("enforce_labels") == "on",
        }
    except ValueError as e:
        return await _new_form(app, session, database, table, form, 400, str(e))
    params: dict[str, Any] = {
        "Name": form.get("name", "").strip(),
        "Role": form.get("role", "").strip(),
        "InputRecordTables": [{"DatabaseName": database, "TableName": table}],
        "Parameters": {"TransformType": "FIND_MATCHES", "FindMatchesParameters": find_matches},
    }
    if form.get("description", "").strip():
        params["Description"] = form["description"].strip()
    try:
        created = await app.glue(session, "CreateMLTransform", params)
    except ApiError as e:
        return await _new_form(app, session, database, table, form, e.status, e.message)
    return Response.redirect(f"/console/transforms/{created['TransformId']}")


async def transform_page(
    app: ConsoleApp, request: Request, session: Session, status: int = 200, error: str | None = None
) -> Response:
    transform_id = request.params["transform_id"]
    transform = await app.glue(session, "GetMLTransform", {"TransformId": transform_id})
    teach_runs = await app.glue(
        session,
        "GetMLTaskRuns",
        {"TransformId": transform_id, "MaxResults": 1, "Filter": {"TaskRunType": "LABELING_SET_GENERATION"}},
    )
    recent = await app.glue(
        session, "GetMLTaskRuns", {"TransformId": transform_id, "MaxResults": RECENT_RUNS}
    )
    return app.page(
        session,
        "transform.html",
        status,
        title=transform["Name"],
        error=error,
        transform=transform,
        f1=evaluation_f1(transform),
        primary_key=transform["Parameters"]["FindMatchesParameters"]["PrimaryKeyColumnName"],
        teach_run=teach_runs["TaskRuns"][0] if teach_runs["TaskRuns"] else None,
        recent_runs=recent["TaskRuns"],
        active=ACTIVE_STATUSES,
    )
