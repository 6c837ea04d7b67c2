"""Storage on S3, against moto's server on loopback (tests/fixtures_s3.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.stub import Stubber

from findmatches.io import AccessError, InvalidPathError, ObjectNotFoundError, ObjectTooLargeError, Storage
from tests.fixtures_s3 import S3Server


def test_standard_configuration_reaches_the_endpoint(s3_bucket: str) -> None:
    storage = Storage()  # AWS_ENDPOINT_URL_S3 and credentials come from the environment
    storage.write_bytes(f"s3://{s3_bucket}/labels.csv", b"a,b\n")
    assert storage.read_bytes(f"s3://{s3_bucket}/labels.csv") == b"a,b\n"
    assert storage.s3.meta.region_name == "us-east-1"


def test_explicit_endpoint_overrides_environment(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    storage = Storage(s3_server.endpoint_url)
    storage.write_bytes(f"s3://{s3_bucket}/x", b"1")
    assert storage.list_objects(f"s3://{s3_bucket}/x")[0].size == 1


def test_object_or_prefix_listing(s3_env: S3Server, s3_bucket: str) -> None:
    s3 = s3_env.client()
    for key, body in [
        ("t/part-0.csv", b"x\n1\n"),
        ("t/sub/part-1.csv", b"x\n2\n"),
        ("t/_SUCCESS", b""),
        ("t/.hidden", b"h"),
        ("t/_temporary/0/part", b"t"),
        ("t/folder/", b""),
        ("t_$folder$", b""),
        ("tt/other.csv", b"o"),
    ]:
        s3.put_object(Bucket=s3_bucket, Key=key, Body=body)
    storage = Storage()
    listed = storage.list_objects(f"s3://{s3_bucket}/t")
    assert [(o.name, o.size) for o in listed] == [("part-0.csv", 4), ("sub/part-1.csv", 4)]
    assert listed == storage.list_objects(f"s3://{s3_bucket}/t/")
    exact = storage.list_objects(f"s3://{s3_bucket}/t/sub/part-1.csv")
    assert [(o.uri, o.name) for o in exact] == [(f"s3://{s3_bucket}/t/sub/part-1.csv", "part-1.csv")]
    assert len(storage.list_objects(f"s3://{s3_bucket}")) == 3
    with pytest.raises(InvalidPathError, match="2 objects"):
        storage.read_bytes(f"s3://{s3_bucket}/t")
    assert storage.read_bytes(f"s3://{s3_bucket}/t/sub") == b"x\n2\n"  # a prefix holding one object


def test_missing_object_and_bucket(s3_env: S3Server, s3_bucket: str) -> None:
    storage = Storage()
    with pytest.raises(ObjectNotFoundError, match="No object or prefix"):
        storage.read_bytes(f"s3://{s3_bucket}/nope.csv")
    with pytest.raises(ObjectNotFoundError, match="no such bucket"):
        storage.list_objects("s3://no-such-bucket-here/x.csv")


def test_max_bytes(s3_env: S3Server, s3_bucket: str) -> None:
    storage = Storage()
    storage.write_bytes(f"s3://{s3_bucket}/big", b"0123456789")
    assert storage.read_bytes(f"s3://{s3_bucket}/big", max_bytes=10) == b"0123456789"
    with pytest.raises(ObjectTooLargeError) as e:
        storage.read_bytes(f"s3://{s3_bucket}/big", max_bytes=9)
    assert (e.value.size, e.value.limit) == (10, 9)


def test_upload_download_join(s3_env: S3Server, s3_bucket: str, tmp_path: Path) -> None:
    storage = Storage()
    src = tmp_path / "src.csv"
    src.write_bytes(b"payload" * 1000)
    out = storage.join(f"s3://{s3_bucket}/exports/", "labels.csv")
    assert out == f"s3://{s3_bucket}/exports/labels.csv"
    storage.upload_file(src, out)
    storage.write_bytes(storage.join(f"s3://{s3_bucket}/exports", "../evil.csv"), b"e")
    got = storage.download(f"s3://{s3_bucket}/exports", tmp_path / "dl")
    assert all(p.is_relative_to(tmp_path / "dl") for p in got)  # ".." in keys cannot escape
    assert (tmp_path / "dl" / "labels.csv").read_bytes() == src.read_bytes()
    with pytest.raises(InvalidPathError):
        storage.write_bytes(f"s3://{s3_bucket}/exports/", b"x")


def test_access_denied_keeps_the_message(s3_env: S3Server) -> None:
    storage = Storage()
    with Stubber(storage.s3) as stub:
        stub.add_client_error("head_object", "403", "Forbidden", 403)
        stub.add_client_error("list_objects_v2", "AccessDenied", "Access Denied", 403)
        with pytest.raises(AccessError, match="AccessDenied: Access Denied") as e:
            storage.read_bytes("s3://locked-bucket/labels.csv")
    assert e.value.uri == "s3://locked-bucket/labels.csv"


def test_unreachable_endpoint_is_an_access_error(s3_env: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    storage = Storage("http://127.0.0.1:9")
    with pytest.raises(AccessError, match="Could not connect"):
        storage.list_objects("s3://any-bucket/key.csv")


def test_check_readable(s3_env: S3Server, s3_bucket: str) -> None:
    storage = Storage()
    storage.write_bytes(f"s3://{s3_bucket}/labels.csv", b"a,b\n")
    storage.check_readable(f"s3://{s3_bucket}/labels.csv")
    with Stubber(storage.s3) as stub:
        stub.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
        with pytest.raises(AccessError, match="AccessDenied: Access Denied"):
            storage.check_readable(f"s3://{s3_bucket}/labels.csv")


def test_general_endpoint_and_profile_credentials(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_ENDPOINT_URL (for every service) and credentials from a named profile work as boto3 has them."""
    credentials = tmp_path / "credentials"
    credentials.write_text("[labeller]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret\n")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "labeller")
    storage = Storage()
    storage.write_bytes(f"s3://{s3_bucket}/p.csv", b"x\n")
    assert storage.read_bytes(f"s3://{s3_bucket}/p.csv") == b"x\n"
    credentials_used = storage.s3._request_signer._credentials
    assert credentials_used.access_key == "AKIDPROFILE"


def test_copy_inside_s3_and_delete_a_folder_hidden_objects_too(s3_env: S3Server, s3_bucket: str) -> None:
    """What a Spark run's staged output needs (`Jobs._run_find_matches`): an object larger than boto3's
    multipart threshold (8 MB) is copied part by part inside S3, and the staging folder goes whole."""
    storage = Storage()
    body = bytes(range(256)) * (12 * 4096)  # 12 MB
    staged = f"s3://{s3_bucket}/out/_findmatches-staging-1"
    storage.write_bytes(f"{staged}/part-00000-x.csv", body)
    storage.write_bytes(f"{staged}/_SUCCESS", b"")
    storage.write_bytes(f"s3://{s3_bucket}/out/keep.csv", b"k")
    storage.copy(f"{staged}/part-00000-x.csv", f"s3://{s3_bucket}/out/part-00000-run.csv")
    assert storage.read_bytes(f"s3://{s3_bucket}/out/part-00000-run.csv") == body
    storage.delete_under(staged)
    keys = {o["Key"] for o in s3_env.client().list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert keys == {"out/part-00000-run.csv", "out/keep.csv"}
