"""Wire the pieces together: store, provider, protocol app (with the web console under it), HTTP server."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal

import uvicorn

from findmatches.aws.app import GlueApp
from findmatches.aws.auth import KeyStore
from findmatches.aws.throttle import AccountThrottle
from findmatches.config import Settings, is_loopback, spark_unavailable
from findmatches.console import CONSOLE_PREFIX, ConsoleApp
from findmatches.service.provider import GlueProvider
from findmatches.store.database import Database
from findmatches.tasks.s3a import TEMP_DIR_ENV, spark_scan_bytes


class ConfigError(Exception):
    """Settings that the server refuses to start with."""


def build_app(settings: Settings) -> GlueApp:
    """The ASGI app for ``settings`` (also used by tests and benchmarks)."""
    keys = KeyStore.from_file(settings.credentials_file) if settings.credentials_file else KeyStore.default()
    if keys.is_default and not is_loopback(settings.host):
        raise ConfigError(
            f"refusing to listen on {settings.host} with the default 'test' credentials; "
            "pass --credentials-file with keys of your own"
        )
    provider = GlueProvider(Database(settings.data_dir), settings)
    return GlueApp(
        provider,
        keys,
        body_timeout_s=settings.body_timeout_s,
        throttle=AccountThrottle(settings.account_rate),
        mounts={CONSOLE_PREFIX: ConsoleApp(provider, keys, settings.data_dir)},
    )


#: glibc's mallopt parameter for the size from which allocations are mmapped (and unmapped when freed).
_M_MMAP_THRESHOLD = -3
#: Request bodies of up to 8 MiB, their text and their error messages: over this size, give memory back.
MMAP_THRESHOLD_BYTES = 128 * 1024


def return_large_buffers() -> bool:
    """Have glibc map (and on free, unmap) every allocation over `MMAP_THRESHOLD_BYTES`. By default glibc
    raises that threshold after the first large free, up to 32 MiB, and then keeps freed multi-MiB request
    buffers in its heap: the server's memory rose by steps under large bodies (bench/fuzz_api.py: 120 →
    364 MiB over 60,000 requests; with this, flat). False where the allocator is not glibc's."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


def check_engine(settings: Settings) -> None:
    """Refuse to start with an engine that cannot run here; tell the task runs' workers which engine to use
    (they read it from the environment, which the fork server inherits)."""
    if settings.engine == "spark":
        reason = spark_unavailable(settings.spark_master)
        if reason is not None:
            raise ConfigError("--engine spark: " + reason)
        if settings.spark_master:
            os.environ["FINDMATCHES_SPARK_MASTER"] = settings.spark_master
        if settings.spark_temp_dir:
            if not settings.spark_temp_dir.startswith("s3://") or len(settings.spark_temp_dir) <= len(
                "s3://"
            ):
                raise ConfigError(
                    f"--spark-temp-dir must be an s3:// prefix, not {settings.spark_temp_dir!r}"
                )
            os.environ[TEMP_DIR_ENV] = settings.spark_temp_dir
    elif settings.engine != "duckdb":
        raise ConfigError(f"unknown engine {settings.engine!r}: use duckdb or spark")
    try:
        spark_scan_bytes()  # read by any run that asks for Spark, on a server of either engine
    except ValueError as e:
        raise ConfigError(str(e)) from e
    os.environ["FINDMATCHES_ENGINE"] = settings.engine


def serve(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM; uvicorn finishes in-flight requests, then the provider stops its work."""
    return_large_buffers()
    check_engine(settings)
    app = build_app(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; the handlers it then restores are
    # these no-ops, so a clean shutdown on SIGINT or SIGTERM ends the process with status 0.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.Server(config).run()
