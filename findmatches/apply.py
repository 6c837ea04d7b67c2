"""``findmatches apply``: start a FIND_MATCHES task run on a server and wait for it with a progress bar."""

from __future__ import annotations

import os
import time
from typing import Any

from tqdm import tqdm

from findmatches.aws.spec import EXTRAS_DATA_PATH

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED", "TIMEOUT")


def glue_client(endpoint_url: str, region: str | None = None, profile: str | None = None) -> Any:
    """A boto3 Glue client that knows StartFindMatchesTaskRun (our model extension on AWS_DATA_PATH)."""
    paths = [p for p in os.environ.get("AWS_DATA_PATH", "").split(os.pathsep) if p]
    if str(EXTRAS_DATA_PATH) not in paths:
        os.environ["AWS_DATA_PATH"] = os.pathsep.join([str(EXTRAS_DATA_PATH), *paths])
    import boto3

    session = boto3.session.Session(profile_name=profile, region_name=region)
    return session.client("glue", endpoint_url=endpoint_url)


def apply(
    client: Any,
    transform_id: str,
    output: str,
    input_path: str | None = None,
    confidence: bool = False,
    poll_s: float = 0.5,
    explanations: bool = False,
    progress: bool = True,
    existing: str | None = None,
    engine: str | None = None,
) -> dict[str, Any]:
    """Run the transform over its table (or ``input_path``) into ``output``; return the finished task run.
    With ``existing`` (earlier matches), ``input_path``'s records are matched against those incrementally;
    ``engine`` (duckdb, spark) runs it on that engine instead of the server's."""
    args: dict[str, Any] = {
        "TransformId": transform_id,
        "OutputS3Path": output,
        "ComputeMatchConfidenceScores": confidence,
    }
    if input_path:
        args["InputS3Path"] = input_path
    if explanations:
        args["ComputeMatchExplanations"] = True
    if existing:
        args["ExistingMatchesS3Path"] = existing
    if engine:
        args["Engine"] = engine
    run_id = client.start_find_matches_task_run(**args)["TaskRunId"]
    bar = tqdm(
        desc=f"find matches {run_id[:8]}",
        unit="s",
        disable=not progress,
        bar_format="{desc}: {postfix} [{elapsed}]",
    )
    try:
        while True:
            run: dict[str, Any] = client.get_ml_task_run(TransformId=transform_id, TaskRunId=run_id)
            bar.set_postfix_str(run["Status"])
            bar.update()
            if run["Status"] in TERMINAL:
                return run
            time.sleep(poll_s)
    finally:
        bar.close()
