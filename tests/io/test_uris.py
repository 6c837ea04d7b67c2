"""URI parsing and joining."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from findmatches.io import InvalidPathError, LocalUri, S3Uri, parse_uri
from findmatches.io.uris import join_uri


@pytest.mark.parametrize(
    ("uri", "bucket", "key"),
    [
        ("s3://bucket/key.csv", "bucket", "key.csv"),
        ("s3://bucket/a/b/", "bucket", "a/b/"),
        ("s3://bucket", "bucket", ""),
        ("S3://bucket/x", "bucket", "x"),
    ],
)
def test_s3_uris(uri: str, bucket: str, key: str) -> None:
    assert parse_uri(uri) == S3Uri(bucket, key)


@pytest.mark.parametrize(
    "uri",
    ["", "   ", "s3://", "s3:///key", "s3:bucket/key", "http://host/x", "gs://b/k", "hdfs://nn/x", "a\x00b"],
)
def test_malformed_uris(uri: str) -> None:
    with pytest.raises(InvalidPathError):
        parse_uri(uri)


def test_file_uris_and_plain_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_uri("file:///data/my%20file.csv") == LocalUri(Path("/data/my file.csv"), True)
    assert parse_uri("file://localhost/data/x") == LocalUri(Path("/data/x"), True)
    assert parse_uri("/data/./a/../b.csv") == LocalUri(Path("/data/b.csv"), False)
    monkeypatch.chdir(tmp_path)
    assert parse_uri("rel/x.csv") == LocalUri(Path(os.getcwd()) / "rel/x.csv", False)
    assert parse_uri("odd:name.csv").path == Path(os.getcwd()) / "odd:name.csv"  # type: ignore[union-attr]
    with pytest.raises(InvalidPathError):
        parse_uri("file://otherhost/x")
    with pytest.raises(InvalidPathError):
        parse_uri("file:relative")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bkt/k", "s3://bkt/k/n.csv"),
        ("s3://bkt/k/", "s3://bkt/k/n.csv"),
        ("s3://bkt", "s3://bkt/n.csv"),
        ("file:///d/x", "file:///d/x/n.csv"),
        ("/d/x/", "/d/x/n.csv"),
    ],
)
def test_join(uri: str, expected: str) -> None:
    assert join_uri(uri, "n.csv") == expected
