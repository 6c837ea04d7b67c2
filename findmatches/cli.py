"""The ``findmatches`` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from findmatches import __version__
from findmatches.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SPARK_KEEP_S, Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="findmatches", description="Self-hosted AWS Glue FindMatches.")
    parser.add_argument("--version", action="version", version=f"findmatches {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the Glue-compatible HTTP service")
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port (default %(default)s; 0 = any free)"
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where the metadata store and task files live (default %(default)s)",
    )
    serve.add_argument(
        "--credentials-file",
        type=Path,
        help="TOML file of access keys; without it the only key is 'test'/'test' in account "
        "000000000000, allowed on loopback only",
    )
    serve.add_argument(
        "--s3-endpoint-url", help="S3 endpoint (default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL)"
    )
    serve.add_argument(
        "--account-rate",
        type=float,
        default=1000.0,
        help="API requests a second per account before ThrottlingException (0: no limit; default %(default)s)",
    )
    serve.add_argument(
        "--run-memory-mb",
        type=int,
        default=int(os.environ["FINDMATCHES_RUN_MEMORY_MB"])
        if os.environ.get("FINDMATCHES_RUN_MEMORY_MB")
        else None,
        help="the most memory (MiB) one task run may use before it is stopped and fails "
        "(default: FINDMATCHES_RUN_MEMORY_MB, else 80%% of the machine's memory)",
    )
    serve.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default=os.environ.get("FINDMATCHES_ENGINE") or "duckdb",
        help="where task runs match records: embedded DuckDB, or Apache Spark (pip install "
        "'findmatches[spark]', Java 17) (default: FINDMATCHES_ENGINE, else %(default)s)",
    )
    serve.add_argument(
        "--spark-master",
        default=os.environ.get("FINDMATCHES_SPARK_MASTER"),
        help="the Spark master for --engine spark: spark://host:7077 or local[N] "
        "(default: FINDMATCHES_SPARK_MASTER, else local[2])",
    )
    serve.add_argument(
        "--spark-temp-dir",
        default=os.environ.get("FINDMATCHES_SPARK_TEMP_DIR"),
        help="an s3:// prefix where --engine spark runs' executors write the results the server reads back "
        "(default: FINDMATCHES_SPARK_TEMP_DIR, else beside each run's output where the executors may be on "
        "other machines, else the run's work dir)",
    )
    serve.add_argument(
        "--spark-keep-s",
        type=float,
        default=float(os.environ.get("FINDMATCHES_SPARK_KEEP_S") or DEFAULT_SPARK_KEEP_S),
        help="seconds a --engine spark run's driver (its Spark application) stays up after the run for the "
        "next run with the same executors, which then starts warm; 0: an application per run "
        "(default: FINDMATCHES_SPARK_KEEP_S, else %(default)s)",
    )
    serve.add_argument(
        "--allow-path",
        type=Path,
        action="append",
        default=[],
        help="local root that file:// URIs and paths may use (repeatable; default: the data dir)",
    )
    apply = commands.add_parser("apply", help="apply a READY transform to records and wait for the result")
    apply.add_argument(
        "--endpoint-url", required=True, help="the findmatches server, e.g. http://127.0.0.1:8080"
    )
    apply.add_argument("--transform-id", required=True)
    apply.add_argument(
        "--output",
        required=True,
        help="folder for the matched .csv (or a .parquet path), s3:// or a local path",
    )
    apply.add_argument("--input", help="records to match (default: the transform's input table)")
    apply.add_argument(
        "--existing",
        help="incremental matching: records matched before, with their match_id (earlier outputs); --input "
        "then holds the new records, written with the existing ids, and merges.csv under --output",
    )
    apply.add_argument("--confidence", action="store_true", help="add match_confidence_score")
    apply.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        help="run this apply on the embedded DuckDB or on the server's Spark master (default: the server's engine)",
    )
    apply.add_argument("--region", help="AWS region of the credentials (default: the AWS configuration)")
    apply.add_argument("--profile", help="AWS profile for the credentials")
    apply.add_argument("--quiet", action="store_true", help="no progress bar")
    apply.add_argument(
        "--explain", action="store_true", help="add match_explanation (why each record is in its group)"
    )
    explain = commands.add_parser(
        "explain", help="show why a record is in its group: its match explanation as a waterfall"
    )
    explain.add_argument(
        "--endpoint-url", required=True, help="the findmatches server, e.g. http://127.0.0.1:8080"
    )
    explain.add_argument("--transform-id", required=True)
    explain.add_argument("--record-id", required=True, help="the record's primary key value")
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--output",
        help="run FIND_MATCHES with explanations into this folder (or .parquet path), s3:// or a local path, "
        "then explain the record from it",
    )
    source.add_argument(
        "--matches",
        help="explain from an existing output with match_explanation (.csv, .parquet, or a folder of part-* "
        "files), s3:// or a local path; starts no run",
    )
    explain.add_argument("--region", help="AWS region of the credentials (default: the AWS configuration)")
    explain.add_argument("--profile", help="AWS profile for the credentials")
    explain.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from findmatches.server import ConfigError, serve

        settings = Settings(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            credentials_file=args.credentials_file,
            s3_endpoint_url=args.s3_endpoint_url,
            allowed_paths=tuple(args.allow_path),
            task_start_delay_s=float(os.environ.get("FINDMATCHES_TASK_START_DELAY_S", "0")),
            body_timeout_s=float(os.environ.get("FINDMATCHES_BODY_TIMEOUT_S", "30")),
            account_rate=args.account_rate,
            run_memory_mb=args.run_memory_mb,
            engine=args.engine,
            spark_master=args.spark_master,
            spark_temp_dir=args.spark_temp_dir,
            spark_keep_s=args.spark_keep_s,
            worker_hold_s=float(os.environ.get("FINDMATCHES_TEST_WORKER_HOLD_S", "0")),
        )
        try:
            serve(settings)
        except (ConfigError, ValueError) as e:
            print(f"findmatches: {e}", file=sys.stderr)
            return 2
    elif args.command == "apply":
        return _apply(args)
    elif args.command == "explain":
        return _explain(args)
    return 0


def _apply(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from findmatches.apply import apply, glue_client

    try:
        client = glue_client(args.endpoint_url, args.region, args.profile)
        run = apply(
            client,
            args.transform_id,
            args.output,
            args.input,
            args.confidence,
            progress=not args.quiet,
            explanations=args.explain,
            existing=args.existing,
            engine=args.engine,
        )
    except (ClientError, BotoCoreError) as e:
        print(f"findmatches apply: {e}", file=sys.stderr)
        return 1
    if run["Status"] != "SUCCEEDED":
        print(
            f"findmatches apply: task run {run['TaskRunId']} ended {run['Status']}: "
            f"{run.get('ErrorString', '')}",
            file=sys.stderr,
        )
        return 1
    print(
        f"{run['TaskRunId']} SUCCEEDED in {run.get('ExecutionTime', 0)} s: matches written to {args.output}"
    )
    return 0


def _explain(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from findmatches.apply import apply, glue_client
    from findmatches.explain import ExplainError, find_explanation, waterfall

    try:
        client = glue_client(args.endpoint_url, args.region, args.profile)
        transform = client.get_ml_transform(TransformId=args.transform_id)
        primary_key = transform["Parameters"]["FindMatchesParameters"]["PrimaryKeyColumnName"]
        location, run_id = args.matches, None
        if args.output:
            run = apply(
                client,
                args.transform_id,
                args.output,
                confidence=True,
                progress=not args.quiet,
                explanations=True,
            )
            if run["Status"] != "SUCCEEDED":
                print(
                    f"findmatches explain: task run {run['TaskRunId']} ended {run['Status']}: "
                    f"{run.get('ErrorString', '')}",
                    file=sys.stderr,
                )
                return 1
            location = args.output
            run_id = None if args.output.rstrip("/").endswith(".parquet") else run["TaskRunId"]
        row = find_explanation(location, primary_key, args.record_id, run_id)
    except (ClientError, BotoCoreError, ExplainError, OSError) as e:
        print(f"findmatches explain: {e}", file=sys.stderr)
        return 1
    if row is None:
        print(f"findmatches explain: no record has {primary_key} {args.record_id}", file=sys.stderr)
        return 1
    print(waterfall(args.record_id, row), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
