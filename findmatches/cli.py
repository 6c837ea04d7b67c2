"""The ``findmatches`` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from findmatches import __version__
from findmatches.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, Settings


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
        "--allow-path",
        type=Path,
        action="append",
        default=[],
        help="local root that file:// URIs and paths may use (repeatable; default: the data dir)",
    )
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
        )
        try:
            serve(settings)
        except (ConfigError, ValueError) as e:
            print(f"findmatches: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
