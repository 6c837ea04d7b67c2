"""Find matches: start a FIND_MATCHES run, watch it, browse its groups of records, download its file.

The run writes ``part-00000-<run id>.csv`` (and more parts on the Spark engine), with
``match_confidence_score`` and ``match_explanation``, into the console's ``matches`` folder in the data dir,
so the console finds a run's output by its id and serves only those files. Each record's explanation (`findmatches.engine.explain`: the pair that tied it to its group,
per column a level and a weight in the log-odds score) is drawn as a waterfall of bars.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from findmatches.aws.errors import ApiError, EntityNotFoundException
from findmatches.console.labeling_files import console_folder
from findmatches.console.sessions import Session
from findmatches.console.transforms import ACTIVE_STATUSES
from findmatches.console.web import Request, Response
from findmatches.io.errors import StorageError

if TYPE_CHECKING:
    from findmatches.console.app import ConsoleApp

FIND_MATCHES = "FIND_MATCHES"
MATCH_ID, SCORE, EXPLANATION = "match_id", "match_confidence_score", "match_explanation"
# A waterfall bar's SVG: the weights of one explanation scaled to half this width either side of the centre.
BAR_WIDTH = 200
MAX_OUTPUT_BYTES = 64 * 1024 * 1024
GROUPS_PER_PAGE = 20
RECENT_RUNS = 10


class OutputError(Exception):
    """A run's output the console cannot find or read."""


@dataclass(frozen=True)
class Bar:
    """One line of a waterfall: a comparison (the prior, a column, the total), its level and its weight,
    and the bar's place in an SVG `BAR_WIDTH` wide (zero at the centre)."""

    label: str
    level: str
    weight: float
    x: float
    width: float

    @property
    def positive(self) -> bool:
        return self.weight >= 0


@dataclass(frozen=True)
class Explanation:
    """A record's ``match_explanation``: the pair (with ``partner``) that tied it to its group, or its best
    candidate when ``same_group`` is false, as bars: the prior, one per column, and the score."""

    partner: str
    same_group: bool
    prior: Bar
    columns: tuple[Bar, ...]
    score: Bar
    probability: float
    match_probability: float


def parse_explanation(text: str | None) -> Explanation | None:
    """The explanation in a ``match_explanation`` value (None for an empty or unreadable one)."""
    if not text:
        return None
    try:
        doc = json.loads(text)
        entries = [("prior", "", float(doc["prior"]))]
        entries += [
            (str(name), str(level), float(weight)) for name, (level, weight) in doc["columns"].items()
        ]
        entries.append(("score", "", float(doc["score"])))
        partner, same = str(doc["partner"]), bool(doc["same_group"])
        probability, calibrated = float(doc["probability"]), float(doc["match_probability"])
    except (ValueError, KeyError, TypeError):
        return None
    if not all(math.isfinite(w) for _, _, w in entries):
        return None
    scale = max(abs(w) for _, _, w in entries) or 1.0
    half = BAR_WIDTH / 2
    bars = []
    for label, level, weight in entries:
        width = round(abs(weight) / scale * half, 2)
        bars.append(Bar(label, level, weight, half if weight >= 0 else half - width, width))
    return Explanation(partner, same, bars[0], tuple(bars[1:-1]), bars[-1], probability, calibrated)


@dataclass(frozen=True)
class Group:
    match_id: str
    #: One row per record, its values in ``MatchOutput.columns`` order.
    rows: tuple[tuple[str, ...], ...]
    keys: tuple[str, ...]
    scores: tuple[str, ...]
    #: Per record, its explanation (None when the run computed none for it).
    explanations: tuple[Explanation | None, ...] = ()


@dataclass(frozen=True)
class MatchOutput:
    """A run's output read with Arrow (every column as text): the source ``columns`` (without match_id,
    the score and the explanation), the records, and the group ids largest first (then by id). Only the groups a page shows
    become Python rows."""

    columns: tuple[str, ...]
    table: pa.Table
    primary_key: str
    order: pa.Array  # match ids, largest group first
    records: int

    @property
    def group_count(self) -> int:
        return len(self.order)

    def page(self, number: int, size: int = GROUPS_PER_PAGE) -> tuple[Group, ...]:
        """The groups of page ``number`` (from 1)."""
        return self._groups(self.order[(number - 1) * size : number * size])

    def of_key(self, key: str) -> tuple[Group, ...]:
        """The group of the record whose primary key is ``key`` (none if no record has it)."""
        found = self.table.filter(pc.equal(self.table.column(self.primary_key), key))
        return self._groups(found.column(MATCH_ID).unique()) if found.num_rows else ()

    def _groups(self, ids: pa.Array | pa.ChunkedArray) -> tuple[Group, ...]:
        rows = self.table.filter(pc.is_in(self.table.column(MATCH_ID), value_set=pa.array(ids, pa.string())))
        by_id: dict[str, list[dict[str, str]]] = {}
        for row in rows.to_pylist():
            by_id.setdefault(row[MATCH_ID], []).append(row)
        return tuple(
            Group(
                match_id,
                tuple(tuple(r[c] or "" for c in self.columns) for r in by_id[match_id]),
                tuple(r[self.primary_key] or "" for r in by_id[match_id]),
                tuple(r.get(SCORE) or "" for r in by_id[match_id]),
                tuple(parse_explanation(r.get(EXPLANATION)) for r in by_id[match_id]),
            )
            for match_id in ids.to_pylist()
            if match_id in by_id
        )


def read_output(data: bytes, primary_key: str) -> MatchOutput:
    """Parse a run's CSV output (every column as text) and order its groups, largest first."""
    header = next(csv.reader(io.StringIO(data[:65536].decode("utf-8-sig", errors="replace"))), [])
    if MATCH_ID not in header or primary_key not in header:
        raise OutputError(
            f"the output needs {MATCH_ID} and {primary_key} columns; it has: {', '.join(header)}"
        )
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in header}),
        )
    except pa.ArrowInvalid as e:
        raise OutputError(str(e)) from e
    sizes = table.group_by(MATCH_ID).aggregate([(MATCH_ID, "count")])
    ordered = sizes.sort_by([(f"{MATCH_ID}_count", "descending"), (MATCH_ID, "ascending")])
    columns = tuple(name for name in header if name not in (MATCH_ID, SCORE, EXPLANATION))
    return MatchOutput(columns, table, primary_key, ordered.column(MATCH_ID).combine_chunks(), table.num_rows)


def _folder_uri(app: ConsoleApp, session: Session, transform_id: str) -> str:
    folder = console_folder(app.data_dir, session.account_id, session.region, transform_id) / "matches"
    return folder.as_uri() + "/"


async def _transform_and_runs(
    app: ConsoleApp, session: Session, transform_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    transform = await app.glue(session, "GetMLTransform", {"TransformId": transform_id})
    found = await app.glue(
        session,
        "GetMLTaskRuns",
        {"TransformId": transform_id, "MaxResults": RECENT_RUNS, "Filter": {"TaskRunType": FIND_MATCHES}},
    )
    return transform, found["TaskRuns"]


async def list_page(
    app: ConsoleApp, request: Request, session: Session, status: int = 200, error: str | None = None
) -> Response:
    transform, found = await _transform_and_runs(app, session, request.params["transform_id"])
    return app.page(
        session,
        "matches.html",
        status,
        title=f"Matches of {transform['Name']}",
        error=error,
        transform=transform,
        runs=found,
        active=ACTIVE_STATUSES,
    )


async def start(app: ConsoleApp, request: Request, session: Session) -> Response:
    transform_id = request.params["transform_id"]
    params = {
        "TransformId": transform_id,
        "OutputS3Path": _folder_uri(app, session, transform_id),
        "ComputeMatchConfidenceScores": True,
        "ComputeMatchExplanations": True,
    }
    try:
        started = await app.glue(session, "StartFindMatchesTaskRun", params)
    except EntityNotFoundException:
        raise  # not this account's transform: a 404
    except ApiError as e:
        return await list_page(app, request, session, e.status, e.message)
    return Response.redirect(f"/console/transforms/{transform_id}/matches/{started['TaskRunId']}")


async def _run(app: ConsoleApp, session: Session, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The transform and its FIND_MATCHES run named in the URL (EntityNotFoundException for any other)."""
    transform_id, run_id = request.params["transform_id"], request.params["run_id"]
    transform = await app.glue(session, "GetMLTransform", {"TransformId": transform_id})
    run = await app.glue(session, "GetMLTaskRun", {"TransformId": transform_id, "TaskRunId": run_id})
    if run["Properties"]["TaskType"] != FIND_MATCHES:
        raise EntityNotFoundException(f"Task run {run_id} is not a find-matches run.")
    return transform, run


async def _read_run_output(app: ConsoleApp, session: Session, run: dict[str, Any]) -> bytes:
    """The CSV the run wrote in the console's folder: its part files (``part-NNNNN-<run id>.csv``: one, or
    several from the Spark engine) in order, as one file with one header, and no other file."""
    folder = _folder_uri(app, session, run["TransformId"])
    part = re.compile(r"part-\d{5}-" + re.escape(run["TaskRunId"]) + r"\.csv")
    try:
        found = sorted(
            (o for o in await app.in_thread(app.storage.list_objects, folder) if part.fullmatch(o.name)),
            key=lambda o: o.name,
        )
        if not found:
            raise OutputError("this run's output is not in the console's folder (was it started elsewhere?)")
        chunks: list[bytes] = []
        left = MAX_OUTPUT_BYTES
        for i, obj in enumerate(found):
            data: bytes = await app.in_thread(app.storage.read_bytes, obj.uri, left)
            left -= len(data)
            if i:  # every part starts with the header row (no column's name holds a line break)
                data = data.partition(b"\n")[2]
            chunks.append(data)
    except StorageError as e:
        raise OutputError(str(e)) from e
    return b"".join(chunks)


async def run_page(app: ConsoleApp, request: Request, session: Session) -> Response:
    transform, run = await _run(app, session, request)
    primary_key = transform["Parameters"]["FindMatchesParameters"]["PrimaryKeyColumnName"]
    output: MatchOutput | None = None
    status, error = 200, None
    if run["Status"] == "SUCCEEDED":
        try:
            output = read_output(await _read_run_output(app, session, run), primary_key)
        except OutputError as e:
            status, error = 502, f"Cannot show the matches: {e}"
    key = request.query.get("key", "").strip()
    try:
        page_no = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page_no = 1
    groups: tuple[Group, ...] = ()
    pages = 1
    if output is not None:
        if key:
            groups = output.of_key(key)
        else:
            pages = max(1, -(-output.group_count // GROUPS_PER_PAGE))
            page_no = min(page_no, pages)
            groups = output.page(page_no)
    return app.page(
        session,
        "match_run.html",
        status,
        title=f"Matches of {transform['Name']}",
        error=error,
        transform=transform,
        run=run,
        output=output,
        groups=groups,
        key=key,
        page_no=page_no,
        pages=pages,
        primary_key=primary_key,
        active=ACTIVE_STATUSES,
        bar_width=BAR_WIDTH,
    )


async def download(app: ConsoleApp, request: Request, session: Session) -> Response:
    _, run = await _run(app, session, request)
    if run["Status"] != "SUCCEEDED":
        return app.error_page(session, 409, "The run has no output yet.")
    try:
        data = await _read_run_output(app, session, run)
    except OutputError as e:
        return app.error_page(session, 502, f"Cannot download the matches: {e}")
    name = f"matches-{run['TaskRunId']}.csv"
    return Response(
        200, data, "text/csv; charset=utf-8", [("content-disposition", f'attachment; filename="{name}"')]
    )
