"""Exception types of the I/O layer; the service layer maps them to Glue error codes."""

from __future__ import annotations

import errno

#: A local file system that is full (or over its quota).
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DISK_FULL_WORDS = ("no space left on device", "database or disk is full", "disk quota exceeded")


class StorageError(Exception):
    """A storage operation failed; ``uri`` is the path involved and ``reason`` the underlying cause."""

    def __init__(self, message: str, uri: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.uri = uri
        self.reason = reason or message


class InvalidPathError(StorageError):
    """The URI is malformed: empty, an unknown scheme, or ``s3://`` without a bucket."""


class PathNotAllowedError(StorageError):
    """A local path lies outside the allowed roots (directly, through ``..`` or through a symlink)."""


class ObjectNotFoundError(StorageError):
    """No object (and no non-empty prefix) exists at the URI."""


class AccessError(StorageError):
    """The object exists or may exist but cannot be read or written (permissions, network, credentials)."""


class ObjectTooLargeError(StorageError):
    """The object is larger than the caller's ``max_bytes``."""

    def __init__(self, message: str, uri: str, size: int, limit: int) -> None:
        super().__init__(message, uri)
        self.size = size
        self.limit = limit


class TableFormatError(Exception):
    """A table's data cannot be read: unsupported format or unreadable files."""


class LabelFileError(Exception):
    """A label file is invalid; ``line`` is the 1-based physical line (header = 1), ``column`` 1-based."""

    def __init__(
        self,
        message: str,
        line: int,
        column: int | None = None,
        column_name: str | None = None,
        source: str | None = None,
    ) -> None:
        where = f"line {line}" + (f", column {column}" if column is not None else "")
        if column_name is not None:
            where += f' ("{column_name}")'
        super().__init__(f"{source}: {where}: {message}" if source else f"{where}: {message}")
        self.line = line
        self.column = column
        self.column_name = column_name
        self.source = source
        self.detail = message


def disk_full(e: BaseException) -> bool:
    """Whether ``e``, or an error it was raised from, says that a local disk is full: ENOSPC or EDQUOT,
    SQLite's SQLITE_FULL ("database or disk is full"), or a message with "No space left on device" (DuckDB's
    and pyarrow's I/O errors carry the OS's words, not its errno)."""
    seen: BaseException | None = e
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in DISK_FULL_ERRNOS:
            return True
        if any(words in str(seen).lower() for words in _DISK_FULL_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def disk_full_message(e: BaseException, where: str) -> str:
    """An ErrorString for a task run that failed because the server's disk (``where``: the data dir) is full."""
    detail = getattr(e, "message", None) or str(e) or type(e).__name__
    return (
        f"The server's disk is full ({where}): {detail}. Nothing of this run was kept; free space there "
        "and start the task run again."
    )
