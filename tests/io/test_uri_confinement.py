"""Properties of the URI parser and the root confinement: no spelling of a path leaves the allowed roots, and
no S3 URI names anything but a bucket on the configured endpoint."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findmatches.io import InvalidPathError, LocalUri, S3Uri, parse_uri
from findmatches.io.errors import PathNotAllowedError
from findmatches.io.uris import confine, resolve_roots

SEGMENTS = st.sampled_from(["..", ".", "", "a", "b", "root", "root-evil", "%2e%2e", "%2E%2e", "..%2f", "x y"])


def _encode(segment: str, how: int) -> str:
    if how == 1:
        return quote(segment, safe="")
    if how == 2:
        return quote(quote(segment, safe=""), safe="")  # double-encoded: decoded once, it stays a name
    return segment


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(SEGMENTS, st.integers(0, 2)), max_size=8), st.booleans())
def test_no_spelling_leaves_the_root(tmp_path: Path, parts: list[tuple[str, int]], as_file_uri: bool) -> None:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (tmp_path / "root-evil").mkdir(exist_ok=True)
    roots = resolve_roots([root])
    tail = "/".join(_encode(s, how if as_file_uri else 0) for s, how in parts)
    uri = f"file://{root}/{tail}" if as_file_uri else f"{root}/{tail}"
    parsed = parse_uri(uri)
    assert isinstance(parsed, LocalUri)
    real = Path(os.path.realpath(parsed.path))
    inside = real == roots[0] or real.is_relative_to(roots[0])
    if inside:
        assert confine(parsed.path, roots, uri) == real
    else:
        with pytest.raises(PathNotAllowedError, match="outside the allowed roots"):
            confine(parsed.path, roots, uri)


@pytest.mark.parametrize(
    "tail",
    [
        "%2e%2e/secret.csv",
        "%2E%2E%2Fsecret.csv",
        "..%2fsecret.csv",
        "sub/%2e%2e/%2e%2e/secret.csv",
        "../secret.csv",
    ],
)
def test_encoded_dot_dot_in_file_uris_is_decoded_then_confined(tmp_path: Path, tail: str) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "secret.csv").write_text("s")
    parsed = parse_uri(f"file://{root}/{tail}")
    assert isinstance(parsed, LocalUri) and parsed.path == tmp_path / "secret.csv"
    with pytest.raises(PathNotAllowedError):
        confine(parsed.path, resolve_roots([root]))


def test_encoded_dot_dot_in_plain_paths_is_a_name(tmp_path: Path) -> None:
    """Plain paths are not URL-decoded: ``%2e%2e`` there is a folder of that name inside the root."""
    root = tmp_path / "root"
    root.mkdir()
    parsed = parse_uri(f"{root}/%2e%2e/secret.csv")
    assert isinstance(parsed, LocalUri)
    assert confine(parsed.path, resolve_roots([root])) == root.resolve() / "%2e%2e" / "secret.csv"


def test_a_sibling_sharing_the_root_prefix_is_outside(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root-evil").mkdir()
    with pytest.raises(PathNotAllowedError):
        confine(tmp_path / "root-evil" / "x.csv", resolve_roots([tmp_path / "root"]))


def test_symlinked_root_resolves_and_links_out_of_it_do_not(tmp_path: Path) -> None:
    real_root = tmp_path / "real"
    (real_root / "d").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "alias").symlink_to(real_root)
    (real_root / "d" / "out").symlink_to(tmp_path / "outside")
    roots = resolve_roots([tmp_path / "alias"])
    assert confine(tmp_path / "alias" / "d" / "x.csv", roots) == real_root.resolve() / "d" / "x.csv"
    with pytest.raises(PathNotAllowedError):
        confine(tmp_path / "alias" / "d" / "out" / "x.csv", roots)
    (real_root / "loop").symlink_to(real_root / "loop")  # a link to itself: a bad path, not a crash
    with pytest.raises(InvalidPathError, match="cannot be resolved"):
        confine(real_root / "loop" / "x.csv", roots)


# -- S3 bucket names -----------------------------------------------------------------------------------

HOSTILE_BUCKETS = [
    "user@evil.example",  # userinfo: another host if read as a URL authority
    "evil.example:8080",  # a port
    "bucket@169.254.169.254",
    "169.254.169.254",  # formatted as an IP address: S3 refuses such names
    "127.0.0.1",
    "[::1]",
    "arn:aws:s3:us-east-1:123456789012:accesspoint/ap",  # botocore would route an ARN to another endpoint
    "arn:aws:s3-object-lambda:us-east-1:123456789012:accesspoint/ol",
    "bucket%2f@evil",
    "evil.example\\@bucket",
    "bucket?x=1",
    "bucket#frag",
    "bucket\n",
    "bucket\r\nHost: evil",
    " bucket",
    "b",
    "x" * 256,
]


@pytest.mark.parametrize("bucket", HOSTILE_BUCKETS)
def test_bucket_names_that_name_hosts_are_refused(bucket: str) -> None:
    with pytest.raises(InvalidPathError, match="Malformed S3 path"):
        parse_uri(f"s3://{bucket}/key.csv")


@pytest.mark.parametrize("bucket", ["my-bucket", "evil.example.com", "Legacy_Bucket", "a1", "1.2.3"])
def test_dotted_and_legacy_bucket_names_stay_buckets(bucket: str) -> None:
    assert parse_uri(f"s3://{bucket}/k/../x") == S3Uri(bucket, "k/../x")


@given(st.text(min_size=1, max_size=70))
def test_accepted_buckets_hold_only_bucket_characters(bucket: str) -> None:
    try:
        parsed = parse_uri(f"s3://{bucket}/key")
    except InvalidPathError:
        return
    assert isinstance(parsed, S3Uri)
    assert parsed.bucket == bucket.partition("/")[0]
    assert set(parsed.bucket) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    assert not all(part.isdigit() for part in parsed.bucket.split(".")) or parsed.bucket.count(".") != 3
