"""Mark operations that may run on the server's event loop instead of a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def inline(method: F) -> F:
    """For reads that only query the metadata store: no I/O beyond SQLite, no write lock, no user regex.

    Reads never wait for writers (WAL), so they finish in well under a millisecond; running them on the
    event loop saves the hand-off to a thread, which under load is most of a request's latency.
    """
    method.inline = True  # type: ignore[attr-defined]
    return method
