"""SigV4 verification against requests signed by botocore, the credentials file, and the loopback rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from findmatches.aws.auth import AccessKey, KeyStore, Principal, authenticate
from findmatches.aws.errors import (
    ApiError,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    RequestExpired,
    UnrecognizedClientException,
)
from findmatches.cli import main
from findmatches.config import Settings
from findmatches.server import ConfigError, build_app

URL = "http://127.0.0.1:8080/"
BODY = b'{"TransformId": "tfm-1"}'
KEYS = KeyStore({"test": AccessKey("test", "000000000000"), "AKIDOTHER": AccessKey("other", "111111111111")})


def signed(
    key: str = "test",
    secret: str = "test",
    region: str = "us-east-1",
    service: str = "glue",
    body: bytes = BODY,
) -> list[tuple[str, str]]:
    request = AWSRequest(
        method="POST",
        url=URL,
        data=body,
        headers={"X-Amz-Target": "AWSGlue.GetMLTransform", "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return [("Host", "127.0.0.1:8080"), *request.headers.items()]


def check(headers: list[tuple[str, str]], body: bytes = BODY, now: dt.datetime | None = None) -> Principal:
    return authenticate(KEYS, "POST", URL, headers, body, now=now)


def _replace(headers: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(k, value if k.lower() == name.lower() else v) for k, v in headers]


def _signed_at(headers: list[tuple[str, str]]) -> dt.datetime:
    stamp = next(v for k, v in headers if k.lower() == "x-amz-date")
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def test_valid_signature_names_the_caller() -> None:
    assert check(signed()) == Principal("test", "000000000000", "us-east-1")
    assert check(signed("AKIDOTHER", "other", region="eu-west-1")) == Principal(
        "AKIDOTHER", "111111111111", "eu-west-1"
    )


def test_header_names_are_case_insensitive() -> None:
    assert check([(k.lower(), v) for k, v in signed()]).account_id == "000000000000"


def test_empty_body_is_signed_too() -> None:
    assert check(signed(body=b""), body=b"").access_key == "test"


def test_wrong_secret() -> None:
    with pytest.raises(InvalidSignatureException, match="signature we calculated does not match"):
        check(signed(secret="wrong"))


def test_unknown_key() -> None:
    with pytest.raises(
        UnrecognizedClientException, match="security token included in the request is invalid"
    ):
        check(signed(key="AKIDNOBODY"))


def test_no_authorization_header() -> None:
    headers = [(k, v) for k, v in signed() if k.lower() != "authorization"]
    with pytest.raises(MissingAuthenticationTokenException, match="Missing Authentication Token"):
        check(headers)


@pytest.mark.parametrize("minutes", [16, -16, 60 * 24])
def test_clock_skew_over_fifteen_minutes_is_refused(minutes: int) -> None:
    headers = signed()
    with pytest.raises(RequestExpired, match="Signature expired"):
        check(headers, now=_signed_at(headers) + dt.timedelta(minutes=minutes))


@pytest.mark.parametrize("minutes", [14, -14])
def test_clock_skew_within_fifteen_minutes_is_fine(minutes: int) -> None:
    headers = signed()
    assert (
        check(headers, now=_signed_at(headers) + dt.timedelta(minutes=minutes)).account_id == "000000000000"
    )


def test_tampered_body() -> None:
    with pytest.raises(InvalidSignatureException):
        check(signed(), body=b'{"TransformId": "tfm-2"}')


def test_tampered_signed_header() -> None:
    with pytest.raises(InvalidSignatureException):
        check(_replace(signed(), "X-Amz-Target", "AWSGlue.DeleteMLTransform"))


def test_tampered_region_in_scope() -> None:
    headers = signed()
    auth = next(v for k, v in headers if k == "Authorization").replace("/us-east-1/", "/eu-west-1/")
    with pytest.raises(InvalidSignatureException):
        check(_replace(headers, "Authorization", auth))


def test_wrong_service_scope() -> None:
    with pytest.raises(InvalidSignatureException, match="scoped to correct service: 'glue'"):
        check(signed(service="s3"))


def test_content_hash_header_must_match_the_body() -> None:
    headers = [*signed(), ("X-Amz-Content-SHA256", "0" * 64)]
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        check(headers)


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic dGVzdDp0ZXN0",
        "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/glue/aws4_request",
        "AWS4-HMAC-SHA256 Credential=test/us-east-1/glue, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256",
        "",
    ],
)
def test_malformed_authorization(authorization: str) -> None:
    with pytest.raises((IncompleteSignatureException, MissingAuthenticationTokenException)):
        check(_replace(signed(), "Authorization", authorization))


def test_missing_or_malformed_date() -> None:
    headers = signed()
    with pytest.raises(IncompleteSignatureException):
        check([(k, v) for k, v in headers if k.lower() != "x-amz-date"])
    with pytest.raises(IncompleteSignatureException):
        check(_replace(headers, "X-Amz-Date", "yesterday"))


def test_host_must_be_signed() -> None:
    headers = signed()
    auth = next(v for k, v in headers if k == "Authorization")
    signed_headers = auth.split("SignedHeaders=")[1].split(",")[0]
    without_host = ";".join(h for h in signed_headers.split(";") if h != "host")
    with pytest.raises(InvalidSignatureException):
        check(_replace(headers, "Authorization", auth.replace(signed_headers, without_host)))


def test_auth_errors_are_403() -> None:
    for error in (
        MissingAuthenticationTokenException,
        UnrecognizedClientException,
        InvalidSignatureException,
        IncompleteSignatureException,
        RequestExpired,
    ):
        assert issubclass(error, ApiError) and error.status == 403


# -- the credentials file ---------------------------------------------------------------------------


def test_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "creds.toml"
    path.write_text(
        '[AKIDONE]\nsecret_access_key = "s1"\naccount_id = "111111111111"\n'
        '[AKIDTWO]\nsecret_access_key = "s2"\naccount_id = "222222222222"\n'
    )
    keys = KeyStore.from_file(path)
    assert keys.keys == {
        "AKIDONE": AccessKey("s1", "111111111111"),
        "AKIDTWO": AccessKey("s2", "222222222222"),
    }
    assert not keys.is_default
    assert KeyStore.default().is_default


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not toml = = =", "cannot read credentials file"),
        ("", "no access keys defined"),
        ('AKID = "flat"', "must be a table"),
        ('[AKID]\naccount_id = "111111111111"', "needs a secret_access_key"),
        ('[AKID]\nsecret_access_key = ""\naccount_id = "111111111111"', "needs a secret_access_key"),
        ('[AKID]\nsecret_access_key = "s"', "needs a 12-digit account_id"),
        ('[AKID]\nsecret_access_key = "s"\naccount_id = "1234"', "needs a 12-digit account_id"),
        ('[AKID]\nsecret_access_key = "s"\naccount_id = 111111111111', ""),
    ],
)
def test_credentials_file_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "creds.toml"
    path.write_text(text)
    if not problem:  # an integer account id is read as its digits
        assert KeyStore.from_file(path).keys["AKID"].account_id == "111111111111"
        return
    with pytest.raises(ValueError, match=problem):
        KeyStore.from_file(path)


def test_missing_credentials_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read credentials file"):
        KeyStore.from_file(tmp_path / "absent.toml")


# -- the loopback rule -------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_default_key_refused_off_loopback(tmp_path: Path, host: str) -> None:
    with pytest.raises(ConfigError, match="default 'test' credentials"):
        build_app(Settings(host=host, data_dir=tmp_path / "data"))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_default_key_allowed_on_loopback(tmp_path: Path, host: str) -> None:
    app = build_app(Settings(host=host, data_dir=tmp_path / "data"))
    app.provider.close()  # type: ignore[attr-defined]


def test_own_keys_allowed_off_loopback(tmp_path: Path) -> None:
    path = tmp_path / "creds.toml"
    path.write_text('[AKIDONE]\nsecret_access_key = "s1"\naccount_id = "111111111111"\n')
    app = build_app(Settings(host="0.0.0.0", data_dir=tmp_path / "data", credentials_file=path))
    app.provider.close()  # type: ignore[attr-defined]


def test_cli_refuses_default_key_off_loopback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "data")]) == 2
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err
