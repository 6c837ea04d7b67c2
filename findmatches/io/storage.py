"""One storage front for ``s3://`` (boto3), ``file://`` URIs and plain paths under allowed roots."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import RetriesExceededError, S3TransferFailedError, S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from findmatches.io.errors import (
    DISK_FULL_ERRNOS,
    AccessError,
    InvalidPathError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    StorageError,
)
from findmatches.io.uris import LocalUri, S3Uri, confine, join_uri, parse_uri, resolve_roots

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

DEFAULT_REGION = "us-east-1"
_NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
#: Attempts at reading one object's body when the connection breaks mid-body (s3transfer's downloads make 5).
BODY_ATTEMPTS = 5
_BODY_ERRORS = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError)
#: What boto3's transfers (upload_file, download_file) raise: their own types, around botocore's error.
_TRANSFER_ERRORS = (
    ClientError,
    BotoCoreError,
    S3UploadFailedError,
    S3TransferFailedError,
    RetriesExceededError,
)


@dataclass(frozen=True)
class ObjectInfo:
    """One object: its full URI, size in bytes and path relative to the listed location; ``version`` changes
    whenever its content may have (S3's ETag; a local file's modification time and size)."""

    uri: str
    size: int
    name: str
    version: str = ""


def _local_version(stat: os.stat_result) -> str:
    return f"{stat.st_mtime_ns}:{stat.st_size}"


def is_hidden(relative: str) -> bool:
    """Hadoop/Spark convention: a component starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc``) is hidden."""
    return any(part.startswith(("_", ".")) for part in PurePosixPath(relative).parts)


def _safe_relative(name: str) -> Path:
    """A relative path that cannot leave its destination folder (drops ``..``, ``.`` and empty parts)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    return Path(*parts) if parts else Path("object")


@contextlib.contextmanager
def _atomic_target(dest: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; on success rename it over ``dest`` atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Storage:
    """Read, list and write objects on S3 (boto3) and on local paths confined to ``allowed_roots``."""

    def __init__(self, s3_endpoint_url: str | None = None, allowed_roots: Sequence[Path | str] = ()) -> None:
        self.s3_endpoint_url = s3_endpoint_url or None
        self.allowed_roots = resolve_roots(allowed_roots)
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    # -- S3 client -------------------------------------------------------------------------------

    @property
    def s3(self) -> S3Client:
        """The boto3 S3 client: standard AWS configuration, ``s3_endpoint_url`` overriding the endpoint."""
        with self._lock:
            if self._client is None:
                session = boto3.session.Session()
                self._client = session.client(
                    "s3",
                    endpoint_url=self.s3_endpoint_url,
                    region_name=session.region_name or DEFAULT_REGION,
                    config=Config(connect_timeout=10, read_timeout=60),
                )
            return self._client

    # -- public API ------------------------------------------------------------------------------

    def check(self, uri: str) -> S3Uri | LocalUri:
        """Parse ``uri`` and, for a local path, check it lies under the allowed roots."""
        parsed = parse_uri(uri)
        if isinstance(parsed, LocalUri):
            return LocalUri(confine(parsed.path, self.allowed_roots, uri), parsed.file_scheme)
        return parsed

    def local_path(self, uri: str) -> Path | None:
        """The checked local path that ``uri`` names, or None for S3."""
        parsed = self.check(uri)
        return parsed.path if isinstance(parsed, LocalUri) else None

    def join(self, uri: str, name: str) -> str:
        """``uri`` + ``/`` + ``name`` in the same style."""
        return join_uri(uri, name)

    def list_objects(self, uri: str) -> list[ObjectInfo]:
        """The object at ``uri`` if it exists, else every visible object under it as a prefix/folder."""
        parsed = self.check(uri)
        if isinstance(parsed, S3Uri):
            return self._s3_list(parsed, uri)
        return self._local_list(parsed.path, uri)

    def read_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """The object's content; a prefix is accepted when it holds exactly one object."""
        info = self._single(uri)
        if max_bytes is not None and info.size > max_bytes:
            raise ObjectTooLargeError(
                f"{info.uri} is {info.size} bytes, over the limit of {max_bytes} bytes.",
                info.uri,
                info.size,
                max_bytes,
            )
        parsed = self.check(info.uri)
        limit = -1 if max_bytes is None else max_bytes + 1
        if isinstance(parsed, S3Uri):
            try:
                data = self._s3_get(parsed, limit)
            except (ClientError, BotoCoreError) as e:
                raise self._s3_error(e, info.uri, "read") from e
        else:
            try:
                with open(parsed.path, "rb") as f:
                    data = f.read(limit)
            except OSError as e:
                raise self._os_error(e, info.uri, "read") from e
        if max_bytes is not None and len(data) > max_bytes:
            raise ObjectTooLargeError(
                f"{info.uri} is over the limit of {max_bytes} bytes.", info.uri, len(data), max_bytes
            )
        return data

    def check_readable(self, uri: str) -> None:
        """Raise a StorageError unless the one object at ``uri`` can be read: reads at most its first byte.

        Listing an S3 prefix (or finding a local file) does not prove that its objects can be read.
        """
        parsed = self.check(uri)
        if isinstance(parsed, S3Uri):
            try:
                self._s3_get(parsed, -1, Range="bytes=0-0")
            except (ClientError, BotoCoreError) as e:
                raise self._s3_error(e, uri, "read") from e
            return
        try:
            with open(parsed.path, "rb") as f:
                f.read(1)
        except OSError as e:
            raise self._os_error(e, uri, "read") from e

    def write_bytes(self, uri: str, data: bytes) -> None:
        """Write one object; local writes are atomic (temporary file, then rename)."""
        parsed = self._writable(uri)
        if isinstance(parsed, S3Uri):
            try:
                self.s3.put_object(Bucket=parsed.bucket, Key=parsed.key, Body=data)
            except (ClientError, BotoCoreError) as e:
                raise self._s3_error(e, uri, "write") from e
            return
        try:
            with _atomic_target(parsed.path) as tmp:
                tmp.write_bytes(data)
        except OSError as e:
            raise self._os_error(e, uri, "write") from e

    def upload_file(self, local_path: Path | str, uri: str, move: bool = False) -> None:
        """Copy a local file (one this server made, not checked against the roots) to ``uri``; with ``move``,
        a local target takes the file itself where it can (a rename on the same file system, which a
        million-row output otherwise spends a fraction of a second copying)."""
        parsed = self._writable(uri)
        if isinstance(parsed, S3Uri):
            try:
                self.s3.upload_file(str(local_path), parsed.bucket, parsed.key)
            except _TRANSFER_ERRORS as e:  # a failed multipart upload is aborted by s3transfer
                raise self._s3_error(e, uri, "write") from e
            return
        try:
            with _atomic_target(parsed.path) as tmp:
                moved = False
                if move:
                    with contextlib.suppress(OSError):  # another file system: copy instead
                        os.replace(local_path, tmp)
                        moved = True
                if not moved:
                    shutil.copyfile(local_path, tmp)
        except OSError as e:
            raise self._os_error(e, uri, "write") from e

    def copy(self, source: str, uri: str) -> None:
        """Copy the S3 object ``source`` to the S3 ``uri`` inside S3 (a multipart copy where it is large): no
        byte passes through this process."""
        src, dst = self._writable(source), self._writable(uri)
        if not isinstance(src, S3Uri) or not isinstance(dst, S3Uri):
            raise ValueError("copy is between S3 objects")  # pragma: no cover - the callers' contract
        try:
            self.s3.copy({"Bucket": src.bucket, "Key": src.key}, dst.bucket, dst.key)
        except _TRANSFER_ERRORS as e:
            raise self._s3_error(e, uri, "write") from e

    def delete_under(self, uri: str) -> None:
        """Delete every object under the S3 prefix ``uri`` (a folder: ``/`` is added), hidden ones too."""
        loc = self._writable(uri)
        if not isinstance(loc, S3Uri):
            raise ValueError("delete_under is for S3 prefixes")  # pragma: no cover - the callers' contract
        prefix = loc.key.rstrip("/") + "/"
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix):
                keys: list[ObjectIdentifierTypeDef] = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:
                    self.s3.delete_objects(Bucket=loc.bucket, Delete={"Objects": keys, "Quiet": True})
        except (ClientError, BotoCoreError) as e:
            raise self._s3_error(e, uri, "write") from e

    def download(self, uri: str, dest_dir: Path | str) -> list[Path]:
        """Copy the object(s) at ``uri`` into ``dest_dir`` (keeping relative paths); return the files."""
        dest_root = Path(dest_dir)
        paths = []
        for info in self.list_objects(uri):
            dest = dest_root / _safe_relative(info.name)
            parsed = self.check(info.uri)
            try:
                with _atomic_target(dest) as tmp:
                    if isinstance(parsed, S3Uri):
                        self.s3.download_file(parsed.bucket, parsed.key, str(tmp))
                    else:
                        shutil.copyfile(parsed.path, tmp)
            except _TRANSFER_ERRORS as e:
                raise self._s3_error(e, info.uri, "read") from e
            except OSError as e:
                if e.errno in DISK_FULL_ERRNOS:  # the local copy, not the source, failed
                    raise self._os_error(e, str(dest_root), "write") from e
                raise self._os_error(e, info.uri, "read") from e
            paths.append(dest)
        return paths

    # -- helpers ---------------------------------------------------------------------------------

    def _s3_get(self, loc: S3Uri, limit: int, **extra: Any) -> bytes:
        """The object's body (its first ``limit`` bytes when ``limit`` >= 0). botocore's retries end when an
        answer's headers arrive; a connection that breaks while the body streams is retried here, as
        s3transfer's downloads retry it."""
        for attempt in range(1, BODY_ATTEMPTS + 1):
            try:
                body = self.s3.get_object(Bucket=loc.bucket, Key=loc.key, **extra)["Body"]
                try:
                    data: bytes = body.read() if limit < 0 else body.read(limit)
                    return data
                finally:
                    body.close()
            except _BODY_ERRORS:
                if attempt == BODY_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _single(self, uri: str) -> ObjectInfo:
        objects = self.list_objects(uri)
        if len(objects) > 1:
            raise InvalidPathError(f"{uri} is a prefix holding {len(objects)} objects; name one object.", uri)
        return objects[0]

    def _writable(self, uri: str) -> S3Uri | LocalUri:
        parsed = self.check(uri)
        if isinstance(parsed, S3Uri) and (not parsed.key or parsed.key.endswith("/")):
            raise InvalidPathError(f"{uri} names a prefix, not an object to write.", uri)
        if isinstance(parsed, LocalUri) and parsed.path.is_dir():
            raise InvalidPathError(f"{uri} is a directory, not a file to write.", uri)
        return parsed

    def _s3_list(self, loc: S3Uri, uri: str) -> list[ObjectInfo]:
        denied: StorageError | None = None
        if loc.key and not loc.key.endswith("/"):
            try:
                head = self.s3.head_object(Bucket=loc.bucket, Key=loc.key)
                name = loc.key.rsplit("/", 1)[-1]
                return [ObjectInfo(str(loc), int(head["ContentLength"]), name, str(head.get("ETag", "")))]
            except ClientError as e:
                err = self._s3_error(e, uri, "read")
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if status == 403:  # S3 answers 403 for a missing key without s3:ListBucket
                    denied = err
                elif not isinstance(err, ObjectNotFoundError):
                    raise err from e
            except BotoCoreError as e:
                raise self._s3_error(e, uri, "read") from e
        prefix = loc.key.rstrip("/") + "/" if loc.key.rstrip("/") else ""
        found: list[ObjectInfo] = []
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    relative = key[len(prefix) :]
                    if not relative or key.endswith(("/", "_$folder$")) or is_hidden(relative):
                        continue
                    found.append(
                        ObjectInfo(
                            f"s3://{loc.bucket}/{key}", int(obj["Size"]), relative, str(obj.get("ETag", ""))
                        )
                    )
        except (ClientError, BotoCoreError) as e:
            err = self._s3_error(e, uri, "list")
            raise (denied if denied is not None and isinstance(err, ObjectNotFoundError) else err) from e
        if not found:
            if denied is not None:
                raise denied
            raise ObjectNotFoundError(f"No object or prefix exists at {uri}.", uri, "not found")
        return found

    def _local_list(self, path: Path, uri: str) -> list[ObjectInfo]:
        try:
            if path.is_file():
                stat = path.stat()
                return [ObjectInfo(str(path), stat.st_size, path.name, _local_version(stat))]
            if not path.is_dir():
                raise ObjectNotFoundError(f"No file or folder exists at {uri}.", uri, "not found")
            found = []
            for dirpath, dirnames, filenames in os.walk(path, onerror=_raise):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
                for name in sorted(filenames):
                    full = Path(dirpath) / name
                    relative = full.relative_to(path).as_posix()
                    if is_hidden(relative):
                        continue
                    real = confine(full, self.allowed_roots, str(full))
                    if real.is_file():
                        stat = real.stat()
                        found.append(ObjectInfo(str(full), stat.st_size, relative, _local_version(stat)))
        except OSError as e:
            raise self._os_error(e, uri, "list") from e
        if not found:
            raise ObjectNotFoundError(f"The folder {uri} holds no files.", uri, "empty folder")
        return found

    @staticmethod
    def _s3_error(e: Exception, uri: str, action: str) -> StorageError:
        e = _botocore_error(e)
        if isinstance(e, ClientError):
            error: dict[str, Any] = dict(e.response.get("Error", {}))
            code = str(error.get("Code", ""))
            reason = str(error.get("Message") or "") or str(e)
            if code in _NOT_FOUND_CODES:
                what = "bucket" if code == "NoSuchBucket" else "object"
                return ObjectNotFoundError(f"Cannot {action} {uri}: no such {what}.", uri, reason)
            attempts = int(e.response.get("ResponseMetadata", {}).get("RetryAttempts") or 0) + 1
            tried = f" ({attempts} attempts)" if attempts > 1 else ""
            return AccessError(f"Cannot {action} {uri}: {code}: {reason}{tried}", uri, f"{code}: {reason}")
        if isinstance(e, (ResponseStreamingError, IncompleteReadError)):
            reason = f"the connection broke while the object was being read ({e})"
            return AccessError(f"Cannot {action} {uri}: {reason}", uri, reason)
        if isinstance(e, (ConnectionClosedError, ReadTimeoutError)):  # botocore's message repeats the key
            timeout = isinstance(e, ReadTimeoutError)
            what = (
                "No answer within the read timeout" if timeout else "Connection was closed before S3 answered"
            )
            endpoint = urlsplit(str(e.kwargs.get("endpoint_url", "")))
            reason = f"{what} (endpoint {endpoint.scheme}://{endpoint.netloc})"
            return AccessError(f"Cannot {action} {uri}: {reason}", uri, reason)
        return AccessError(f"Cannot {action} {uri}: {e}", uri, str(e))

    @staticmethod
    def _os_error(e: OSError, uri: str, action: str) -> StorageError:
        if isinstance(e, FileNotFoundError):
            return ObjectNotFoundError(f"Cannot {action} {uri}: no such file.", uri, e.strerror or str(e))
        if e.errno in DISK_FULL_ERRNOS:
            reason = f"the disk is full ({e.strerror or e})"
            return AccessError(f"Cannot {action} {uri}: {reason}.", uri, reason)
        return AccessError(f"Cannot {action} {uri}: {e.strerror or e}", uri, e.strerror or str(e))


def _raise(e: OSError) -> None:
    raise e


def _botocore_error(e: BaseException) -> Exception:
    """The botocore error inside boto3's and s3transfer's wrappers (``S3UploadFailedError`` names the local
    file and loses the error's code; ``RetriesExceededError`` says only "Max Retries Exceeded")."""
    seen: BaseException = e
    for _ in range(10):
        if isinstance(seen, (ClientError, BotoCoreError)):
            return seen
        inner = getattr(seen, "last_exception", None) or seen.__cause__ or seen.__context__
        if not isinstance(inner, BaseException):
            break
        seen = inner
    return e if isinstance(e, Exception) else Exception(str(e))
