"""``findmatches explain``: why a record is in its group, as a text waterfall of its ``match_explanation``.

The explanation comes from a find-matches output that has the ``match_explanation`` column: either one the
user names (``--matches``: a .csv or .parquet file, or a folder of ``part-*`` files, local or s3://), or a new
FIND_MATCHES run with ``ComputeMatchExplanations`` that this command starts into ``--output`` and waits for
(`findmatches.apply.apply`). The transform (``GetMLTransform``) names the primary key to look the record up by.
Output files are read here, on the client: local paths and ``file://`` URIs directly, ``s3://`` through boto3
with the standard AWS configuration (``AWS_ENDPOINT_URL_S3`` for a self-hosted S3).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow.compute as pc
import pyarrow.parquet as pq

EXPLANATION = "match_explanation"
BAR_WIDTH = 24


class ExplainError(Exception):
    """No explanation to show (no such record, no explanation column, an unreadable output)."""


def _objects(location: str, run_id: str | None) -> list[tuple[str, bytes]]:
    """The (name, content) of the output files at ``location``: the file itself, or the folder's ``part-*``
    files (only the run's own, ``part-*-<run id>.csv``, when ``run_id`` is given)."""

    def wanted(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        if run_id is not None and not base.endswith(f"-{run_id}.csv"):
            return False
        return base.startswith("part-") and base.endswith((".csv", ".parquet"))

    parsed = urlparse(location)
    if parsed.scheme == "s3":
        import boto3

        s3 = boto3.client("s3")
        key = parsed.path.lstrip("/")
        if key.endswith((".csv", ".parquet")):
            return [(key, s3.get_object(Bucket=parsed.netloc, Key=key)["Body"].read())]
        listed = s3.list_objects_v2(Bucket=parsed.netloc, Prefix=key.rstrip("/") + "/" if key else "")
        keys = [o["Key"] for o in listed.get("Contents", []) if wanted(o["Key"])]
        return [(k, s3.get_object(Bucket=parsed.netloc, Key=k)["Body"].read()) for k in sorted(keys)]
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(location)
    if path.is_file():
        return [(path.name, path.read_bytes())]
    if path.is_dir():
        return [(p.name, p.read_bytes()) for p in sorted(path.iterdir()) if p.is_file() and wanted(p.name)]
    raise ExplainError(f"no output at {location}")


def find_explanation(
    location: str, primary_key: str, record_id: str, run_id: str | None = None
) -> dict[str, Any] | None:
    """The record's row of the output at ``location`` (every value as text), or None when no record has that
    primary key. Raises `ExplainError` when the output has no ``match_explanation`` column."""
    found_files = _objects(location, run_id)
    if not found_files:
        raise ExplainError(f"no output files at {location}")
    for name, data in found_files:
        if name.endswith(".parquet"):
            table = pq.read_table(io.BytesIO(data))
            if EXPLANATION not in table.column_names:
                raise ExplainError(f"{name} has no {EXPLANATION} column (run with ComputeMatchExplanations)")
            keys = pc.cast(table.column(primary_key), "string")
            rows = table.filter(pc.equal(keys, record_id)).to_pylist()
            if rows:
                return {k: None if v is None else str(v) for k, v in rows[0].items()}
            continue
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
        if EXPLANATION not in (reader.fieldnames or []):
            raise ExplainError(f"{name} has no {EXPLANATION} column (run with ComputeMatchExplanations)")
        for row in reader:
            if row.get(primary_key) == record_id:
                return dict(row)
    return None


def _bar(weight: float, scale: float) -> str:
    """A bar of ``weight`` around a centre line: left of it for a negative weight, right for a positive."""
    n = round(abs(weight) / scale * BAR_WIDTH) if scale > 0 else 0
    left = ("█" * n).rjust(BAR_WIDTH) if weight < 0 else " " * BAR_WIDTH
    right = ("█" * n).ljust(BAR_WIDTH) if weight > 0 else " " * BAR_WIDTH
    return f"{left}│{right}"


def waterfall(record_id: str, row: dict[str, Any]) -> str:
    """The text waterfall of the record's explanation: the prior, each column's level and weight with a bar,
    then the total score and its probability."""
    text = row.get(EXPLANATION)
    if not text:
        return f"Record {record_id}: no explanation (it was in no candidate pair, or the transform has no model).\n"
    doc = json.loads(text)
    columns = [(name, level, weight) for name, (level, weight) in doc["columns"].items()]
    scale = max([abs(doc["prior"]), abs(doc["score"]), *(abs(w) for _, _, w in columns), 1e-9])
    name_width = max([len("prior"), len("score"), *(len(name) for name, _, _ in columns)])
    relation = "in its group" if doc["same_group"] else "its best candidate, in another group"
    lines = [
        f"Record {record_id}, match_id {row.get('match_id', '?')}: compared with {doc['partner']} ({relation})",
        "",
        f"{'prior':<{name_width}}  {'':<9}  {doc['prior']:+8.3f}  {_bar(doc['prior'], scale)}",
    ]
    for name, level, weight in columns:
        lines.append(f"{name:<{name_width}}  {level:<9}  {weight:+8.3f}  {_bar(weight, scale)}")
    lines.append(f"{'score':<{name_width}}  {'':<9}  {doc['score']:+8.3f}  {_bar(doc['score'], scale)}")
    probability = 1.0 / (1.0 + math.exp(-max(-700.0, min(700.0, doc["score"]))))
    lines += [
        "",
        f"score {doc['score']:+.3f} (log-odds: prior + column weights) = probability {probability:.4f}; "
        f"calibrated match probability of the pair {doc['match_probability']:.4f}",
    ]
    return "\n".join(lines) + "\n"
