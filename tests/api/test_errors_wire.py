"""Protocol-level answers on the wire: error shapes, headers, unknown and unimplemented operations, limits."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from findmatches import __version__
from tests.api.wire import Reply, send
from tests.conftest import ServerProcess


def assert_error(reply: Reply, status: int, code: str) -> str:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"
    assert reply.headers["x-amzn-errortype"] == code
    assert reply.headers["x-amzn-requestid"]
    body = reply.json()
    assert body["__type"] == code
    assert isinstance(body["Message"], str) and body["Message"]
    assert None not in body.values()
    message: str = body["Message"]
    return message


@pytest.fixture
def url(server: ServerProcess) -> str:
    return server.url


def test_success_has_request_id_and_no_nulls(url: str) -> None:
    reply = send(url, "AWSGlue.GetMLTransforms", {})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/x-amz-json-1.1"
    assert len(reply.headers["x-amzn-requestid"]) >= 16
    assert "x-amzn-errortype" not in reply.headers
    assert "null" not in reply.body.decode()
    assert "NextToken" not in reply.json()


def test_empty_output_is_an_empty_object(url: str) -> None:
    reply = send(url, "AWSGlue.CreateDatabase", {"DatabaseInput": {"Name": "wire_empty_output"}})
    assert (reply.status, reply.body) == (200, b"{}")


def test_request_ids_differ(url: str) -> None:
    ids = {send(url, "AWSGlue.GetMLTransforms").headers["x-amzn-requestid"] for _ in range(3)}
    assert len(ids) == 3


def test_empty_body_means_no_members(url: str) -> None:
    assert send(url, "AWSGlue.GetMLTransforms", b"").status == 200


def test_unknown_target(url: str) -> None:
    for target in ("AWSGlue.NoSuchOperation", "AmazonS3.GetObject", "GetMLTransform", ""):
        reply = send(url, target)
        assert_error(reply, 400, "UnknownOperationException")


def test_missing_target(url: str) -> None:
    assert_error(send(url, None), 400, "UnknownOperationException")


def test_not_implemented_glue_operation_is_named(url: str) -> None:
    message = assert_error(send(url, "AWSGlue.GetJobs"), 400, "NotImplementedOperationException")
    assert "GetJobs" in message


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{", b"[]", b'"string"', b"42", b"\xff\xfe", b'{"a": NaN}', b'{"MaxResults": Infinity}'],
)
def test_body_not_a_json_object(url: str, body: bytes) -> None:
    assert_error(send(url, "AWSGlue.GetMLTransforms", body), 400, "SerializationException")


def test_validation_error_on_the_wire(url: str) -> None:
    message = assert_error(
        send(url, "AWSGlue.GetMLTransform", {"TransformId": ""}), 400, "ValidationException"
    )
    assert message == (
        "1 validation error detected: Value '' at 'transformId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_modelled_error_on_the_wire(url: str) -> None:
    reply = send(url, "AWSGlue.GetMLTransform", {"TransformId": "tfm-missing"})
    assert assert_error(reply, 400, "EntityNotFoundException").startswith(
        "Cannot find MLTransform in account"
    )


def test_body_over_the_limit_is_refused(url: str) -> None:
    big = b'{"Name": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    reply = send(url, "AWSGlue.GetMLTransforms", big, sign=False)
    assert_error(reply, 413, "RequestEntityTooLargeException")


def test_declared_length_over_the_limit_is_refused_before_reading(url: str) -> None:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.putrequest("POST", "/")
        conn.putheader("X-Amz-Target", "AWSGlue.GetMLTransforms")
        conn.putheader("Content-Length", str(100 * 1024 * 1024))
        conn.endheaders()
        conn.send(b"{}")
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["__type"] == "RequestEntityTooLargeException"
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("signing", "code"),
    [
        ({"secret": "wrong"}, "InvalidSignatureException"),
        ({"key": "AKIDNOBODY"}, "UnrecognizedClientException"),
        ({"service": "s3"}, "InvalidSignatureException"),
    ],
)
def test_auth_errors_on_the_wire(url: str, signing: dict[str, Any], code: str) -> None:
    assert_error(send(url, "AWSGlue.GetMLTransforms", **signing), 403, code)


def test_unsigned_request(url: str) -> None:
    assert_error(send(url, "AWSGlue.GetMLTransforms", sign=False), 403, "MissingAuthenticationTokenException")


def test_expired_request(url: str) -> None:
    headers = {"X-Amz-Date": "20200101T000000Z"}
    reply = send(
        url,
        "AWSGlue.GetMLTransforms",
        sign=False,
        headers={
            **headers,
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/glue/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
        },
    )
    assert_error(reply, 403, "RequestExpired")


def test_tampered_body_on_the_wire(url: str) -> None:
    from tests.api.wire import signed_headers

    headers = signed_headers(
        url,
        b'{"MaxResults": 1}',
        {"X-Amz-Target": "AWSGlue.GetMLTransforms", "Content-Type": "application/x-amz-json-1.1"},
    )
    reply = send(url, "AWSGlue.GetMLTransforms", b'{"MaxResults": 2}', sign=False, headers=headers)
    assert_error(reply, 403, "InvalidSignatureException")


def test_other_paths_and_methods(url: str) -> None:
    assert_error(send(url, "AWSGlue.GetMLTransforms", path="/other"), 403, "InvalidSignatureException")
    reply = send(url, "AWSGlue.GetMLTransforms", method="PUT", sign=False)
    assert reply.status in (400, 403, 405)
    assert reply.json()["__type"]


def test_unparseable_host_header_is_a_client_error(url: str) -> None:
    reply = send(url, "AWSGlue.GetMLTransforms", headers={"Host": "[bad"})
    assert 400 <= reply.status < 500
    assert reply.json()["__type"]


def test_lone_surrogate_in_a_value_is_answered_cleanly(url: str) -> None:
    for body in ('{"TransformId": "\\ud800"}', '{"Tags": {"\\udfff": "v"}}'):
        assert_error(send(url, "AWSGlue.ListMLTransforms", body), 400, "SerializationException")
    paired = send(url, "AWSGlue.GetMLTransform", '{"TransformId": "\\ud83d\\ude00"}')
    assert_error(paired, 400, "EntityNotFoundException")


def test_huge_timestamp_is_a_client_error(url: str) -> None:
    for value in ("1" + "0" * 400, "1e400", "-1e300", '"99999-01-01"', "1e20"):
        reply = send(url, "AWSGlue.GetMLTransforms", '{"Filter": {"CreatedBefore": ' + value + "}}")
        assert "not a valid timestamp" in assert_error(reply, 400, "ValidationException")
    assert (
        send(url, "AWSGlue.GetMLTransforms", '{"Filter": {"CreatedBefore": "2024-01-01T00:00:00Z"}}').status
        == 200
    )


def test_huge_long_is_a_client_error(url: str) -> None:
    table = {"Name": "t", "StorageDescriptor": {"SchemaReference": {"SchemaVersionNumber": 10**30}}}
    reply = send(url, "AWSGlue.CreateTable", {"DatabaseName": "wire_empty_output", "TableInput": table})
    assert "Member must fit in a 64-bit integer" in assert_error(reply, 400, "ValidationException")


def test_health_reports_the_server_and_engine_without_credentials(url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(url + "/_findmatches/health", timeout=5) as resp:
            assert resp.status == 200
            assert resp.headers["content-type"] == "application/json"
            body = json.loads(resp.read())
        assert body["status"] == "running"
        assert body["version"] == __version__
        assert body["engine"] in ("loading", "ready")
        if body["engine"] == "ready" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert body["engine"] == "ready"
    # Only GET on that exact path is the health check: anything else is still an AWS request.
    assert_error(
        send(url, "AWSGlue.GetMLTransforms", path="/_findmatches/health"), 403, "InvalidSignatureException"
    )
