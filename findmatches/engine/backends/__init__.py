"""Execution backends behind `findmatches.engine.backend.Backend`."""

from findmatches.engine.backends.duckdb import DuckDBBackend

__all__ = ["DuckDBBackend"]
