"""A transform's quality: start an evaluation run, watch it, and show what it measured.

The numbers are GetMLTransform's ``EvaluationMetrics`` (precision, recall, F1, AUPRC, the confusion matrix
and the column importances), exactly as Glue returns them. The precision–recall curve of the cross-validated
scores is not part of Glue's API: the evaluation run keeps it beside its log (`tasks.runner.curve_path`), and
the page draws it as an inline SVG with the threshold that the transform's tradeoff sets marked on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findmatches.aws.errors import ApiError, EntityNotFoundException
from findmatches.console.sessions import Session
from findmatches.console.transforms import ACTIVE_STATUSES
from findmatches.console.web import Request, Response
from findmatches.tasks.runner import curve_path

if TYPE_CHECKING:
    from findmatches.console.app import ConsoleApp

EVALUATION = "EVALUATION"
# The plot's size and margins, in SVG user units.
WIDTH, HEIGHT, MARGIN = 360.0, 260.0, 36.0


@dataclass(frozen=True)
class Curve:
    """A precision-recall curve laid out for the SVG: its path, and the marked threshold's point."""

    path: str
    marker_x: float
    marker_y: float
    threshold: float
    precision: float
    recall: float


def _x(recall: float) -> float:
    return round(MARGIN + recall * (WIDTH - 2 * MARGIN), 1)


def _y(precision: float) -> float:
    return round(HEIGHT - MARGIN - precision * (HEIGHT - 2 * MARGIN), 1)


def layout(points: list[list[float]], threshold: float) -> Curve | None:
    """The curve of ``points`` ([threshold, precision, recall], highest threshold first), with the operating
    point of ``threshold`` marked: the lowest curve threshold at or above it (a pair is a match when its score
    reaches the threshold); None without points."""
    if not points:
        return None
    path = " ".join(f"{'M' if i == 0 else 'L'}{_x(r)},{_y(p)}" for i, (_, p, r) in enumerate(points))
    reached = [q for q in points if q[0] >= threshold]
    _, p, r = min(reached, key=lambda q: q[0]) if reached else points[0]
    return Curve(path, _x(r), _y(p), threshold, p, r)


def read_curve(data_dir: Path, run: dict[str, Any] | None) -> Curve | None:
    """The curve a succeeded evaluation run kept beside its log (confined to the data dir), laid out."""
    if not run or run.get("Status") != "SUCCEEDED" or not run.get("LogGroupName"):
        return None
    path = curve_path(Path(run["LogGroupName"])).resolve()
    if not path.is_relative_to(data_dir.resolve()) or not path.is_file():
        return None
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        return layout([[float(v) for v in q] for q in kept["points"]], float(kept["threshold"]))
    except (ValueError, KeyError, TypeError):
        return None


async def page(
    app: ConsoleApp, request: Request, session: Session, status: int = 200, error: str | None = None
) -> Response:
    transform_id = request.params["transform_id"]
    transform = await app.glue(session, "GetMLTransform", {"TransformId": transform_id})
    latest = await app.glue(
        session,
        "GetMLTaskRuns",
        {"TransformId": transform_id, "MaxResults": 1, "Filter": {"TaskRunType": EVALUATION}},
    )
    metrics: dict[str, Any] = (transform.get("EvaluationMetrics") or {}).get("FindMatchesMetrics") or {}
    run = latest["TaskRuns"][0] if latest["TaskRuns"] else None
    find_matches = transform["Parameters"]["FindMatchesParameters"]
    return app.page(
        session,
        "quality.html",
        status,
        title=f"Quality of {transform['Name']}",
        error=error,
        transform=transform,
        metrics=metrics,
        matrix=metrics.get("ConfusionMatrix") or {},
        importances=metrics.get("ColumnImportances") or [],
        tradeoff=float(find_matches.get("PrecisionRecallTradeoff", 0.5)),
        run=run,
        curve=await app.in_thread(read_curve, app.data_dir, run),
        plot={"width": WIDTH, "height": HEIGHT, "margin": MARGIN},
        active=ACTIVE_STATUSES,
    )


async def start(app: ConsoleApp, request: Request, session: Session) -> Response:
    transform_id = request.params["transform_id"]
    try:
        await app.glue(session, "StartMLEvaluationTaskRun", {"TransformId": transform_id})
    except EntityNotFoundException:
        raise  # not this account's transform: a 404
    except ApiError as e:
        return await page(app, request, session, e.status, e.message)
    return Response.redirect(f"/console/transforms/{transform_id}/quality")
