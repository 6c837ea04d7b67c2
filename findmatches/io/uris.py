"""Parse storage URIs (``s3://``, ``file://``, plain paths) and confine local paths to allowed roots."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from findmatches.io.errors import InvalidPathError, PathNotAllowedError

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(//)?")
# S3 bucket names: 3-63 chars of lowercase letters, digits, dots and hyphens (legacy buckets allow more).
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$")
# Security: S3 refuses bucket names formatted as an IP address; here they could read as a host to reach.
_IP_BUCKET = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class S3Uri:
    """An ``s3://bucket/key`` location; ``key`` may be empty (the whole bucket) or a prefix."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class LocalUri:
    """A local path, absolute and normalised (not yet checked against the allowed roots)."""

    path: Path
    file_scheme: bool  # written as file:// (keeps that style in join())

    def __str__(self) -> str:
        return self.path.as_uri() if self.file_scheme else str(self.path)


def parse_uri(uri: str) -> S3Uri | LocalUri:
    """Parse ``uri``; raise InvalidPathError when it is empty, malformed or of an unknown scheme."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidPathError("The path is empty.", str(uri))
    if "\x00" in uri:
        raise InvalidPathError(f"The path {uri!r} contains a NUL character.", uri)
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match else ""
    if scheme == "s3":
        if not match or not match.group(2):
            raise InvalidPathError(f"Malformed S3 path {uri!r}: expected s3://bucket/key.", uri)
        bucket, _, key = uri[match.end() :].partition("/")
        if not bucket:
            raise InvalidPathError(f"Malformed S3 path {uri!r}: no bucket name.", uri)
        # Security: fullmatch, as `$` alone let a trailing newline into the bucket ("s3://bucket\n/key").
        if not _BUCKET.fullmatch(bucket) or _IP_BUCKET.fullmatch(bucket):
            raise InvalidPathError(f"Malformed S3 path {uri!r}: invalid bucket name {bucket!r}.", uri)
        return S3Uri(bucket, key)
    if scheme == "file":
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise InvalidPathError(f"Unsupported file URI {uri!r}: only local files (file:///path).", uri)
        path = unquote(parts.path)
        if not path.startswith("/"):
            raise InvalidPathError(f"Malformed file URI {uri!r}: expected file:///absolute/path.", uri)
        return LocalUri(Path(os.path.normpath(path)), file_scheme=True)
    if match and match.group(2):  # "http://", "gs://", "hdfs://"; "a:b.csv" stays a file name
        raise InvalidPathError(f"Unsupported path {uri!r}: use s3://bucket/key, file:///path or a path.", uri)
    return LocalUri(Path(os.path.abspath(uri)), file_scheme=False)


def resolve_roots(roots: Sequence[Path | str]) -> tuple[Path, ...]:
    """Absolute, symlink-free forms of the allowed roots."""
    return tuple(Path(os.path.abspath(r)).resolve() for r in roots)


def confine(path: Path, roots: Sequence[Path], uri: str = "") -> Path:
    """Resolve ``path`` (following symlinks) and return it if it lies under one of ``roots``."""
    try:
        resolved = path.resolve()
    except (RuntimeError, OSError) as e:
        # Security: a symlink loop (RuntimeError "Symlink loop") escaped as an internal error, a 500.
        shown = uri or str(path)
        raise InvalidPathError(f"The path {shown} cannot be resolved: {e}", shown) from e
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    shown = uri or str(path)
    if not roots:
        raise PathNotAllowedError(
            f"Local paths are not allowed ({shown}); no allowed roots configured.", shown
        )
    allowed = ", ".join(str(r) for r in roots)
    raise PathNotAllowedError(f"The path {shown} is outside the allowed roots ({allowed}).", shown)


def join_uri(uri: str, name: str) -> str:
    """``uri`` + ``/`` + ``name``, keeping the URI's style (s3://, file:// or a plain path)."""
    name = name.lstrip("/")
    parsed = parse_uri(uri)
    if isinstance(parsed, S3Uri):
        prefix = parsed.key.rstrip("/")
        return f"s3://{parsed.bucket}/{prefix + '/' if prefix else ''}{name}"
    if parsed.file_scheme:
        return (parsed.path / name).as_uri()
    return str(parsed.path / name)
