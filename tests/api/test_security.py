"""Security on a live server: paths that try to leave the allowed roots, S3 bucket names that try to reach
other hosts, SigV4 edge cases, and secrets kept out of every log.

Already covered elsewhere (not repeated here): plain ``..`` and a symlinked input file out of a root at start
(test_labels.test_bad_paths_are_refused_at_start), local traversal and symlinks in Storage
(io/test_storage_local), wrong secret, unknown key, wrong service, unsigned and expired requests and a
tampered body on the wire (test_errors_wire), and the SigV4 checks one by one (unit/test_auth).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.api.support import error_of, make_table, make_transform
from tests.api.wire import CONTENT_TYPE
from tests.conftest import (
    S3Server,
    SampleTransform,
    ServerProcess,
    client,
    create_sample_transform,
    wait_run,
)

TARGET = "AWSGlue.GetMLTransforms"


# -- raw requests: a list of headers, so that one may be sent twice -----------------------------------


def sign(
    url: str,
    body: bytes,
    headers: list[tuple[str, str]],
    key: str = "test",
    secret: str = "test",
    region: str = "us-east-1",
    service: str = "glue",
    signer: type[SigV4Auth] = SigV4Auth,
) -> list[tuple[str, str]]:
    """The headers with botocore's SigV4 added; a header listed twice is signed twice."""
    request = AWSRequest(method="POST", url=url + "/", data=body)
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders: setting a name again adds a second header
    signer(Credentials(key, secret), service, region).add_auth(request)
    return list(request.headers.items())


def raw(url: str, headers: list[tuple[str, str]], body: bytes = b"{}") -> tuple[int, dict[str, Any]]:
    """Send one request, head and body in a single write, and read the answer.

    http.client writes the head and the body separately. uvicorn refuses a malformed head (two Host headers) as
    soon as it has parsed it and closes; a body that arrives after that close makes the kernel answer with a
    reset, which can discard the 400 before the client reads it. One write puts the whole request in the
    server's buffer before it answers.
    """
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    lines = ["POST / HTTP/1.1"]
    if not any(k.lower() == "host" for k, _ in headers):
        lines.append(f"Host: {parts.netloc}")
    lines += [f"{name}: {value}" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
    try:
        payload = json.loads(data) if data else {}
    except ValueError:
        payload = {"raw": data.decode("latin-1")}
    return response.status, payload


def base(target: str = TARGET) -> list[tuple[str, str]]:
    return [("Content-Type", CONTENT_TYPE), ("X-Amz-Target", target)]


@pytest.fixture
def url(server: ServerProcess) -> str:
    return server.url


def code_of(reply: tuple[int, dict[str, Any]]) -> tuple[int, str]:
    return reply[0], str(reply[1].get("__type", reply[1]))


# -- SigV4: duplicate headers -------------------------------------------------------------------------


def test_a_signed_request_is_accepted_by_the_raw_sender(url: str) -> None:
    assert raw(url, sign(url, b"{}", base()))[0] == 200


def test_duplicate_target_added_after_signing_is_refused(url: str) -> None:
    headers = [*sign(url, b"{}", base()), ("X-Amz-Target", "AWSGlue.DeleteMLTransform")]
    assert code_of(raw(url, headers)) == (403, "InvalidSignatureException")
    headers = [("X-Amz-Target", "AWSGlue.DeleteMLTransform"), *sign(url, b"{}", base())]
    assert code_of(raw(url, headers)) == (403, "InvalidSignatureException")


def test_duplicate_target_signed_twice_is_no_operation(url: str) -> None:
    """SigV4 signs repeated headers as one comma-joined value; the server reads them so too (as AWS)."""
    headers = sign(url, b"{}", [*base(), ("X-Amz-Target", "AWSGlue.GetMLTransforms")])
    status, body = raw(url, headers)
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "AWSGlue.GetMLTransforms,AWSGlue.GetMLTransforms" in body["Message"]


@pytest.mark.parametrize("name", ["Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"])
def test_duplicate_signing_headers_are_refused(url: str, name: str) -> None:
    headers = sign(url, b"{}", base())
    if name == "X-Amz-Content-SHA256":
        headers = sign(url, b"{}", [*base(), (name, botocore.auth.sha256(b"{}").hexdigest())])
    value = next(v for k, v in headers if k.lower() == name.lower())
    for twice in ([*headers, (name, value)], [(name, value), *headers]):
        status, body = raw(url, twice)
        assert (status, body["__type"]) == (403, "IncompleteSignatureException")
        assert f"more than one {name.lower()} header" in body["Message"]


def test_duplicate_host_is_refused(url: str) -> None:
    headers = sign(url, b"{}", base())
    host = urlsplit(url).netloc
    status, _ = raw(url, [("Host", host), ("Host", "evil.example"), *headers])
    assert status in (400, 403)


def test_unsigned_target_is_refused(url: str) -> None:
    """A signature that leaves X-Amz-Target out would let its request be replayed as any operation."""

    class NoTarget(SigV4Auth):
        def headers_to_sign(self, request: AWSRequest) -> Any:
            headers = super().headers_to_sign(request)
            del headers["x-amz-target"]
            return headers

    status, body = raw(url, sign(url, b"{}", base(), signer=NoTarget))
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert "'X-Amz-Target' must be a signed header" in body["Message"]


# -- SigV4: unsigned payload --------------------------------------------------------------------------


class UnsignedPayload(SigV4Auth):
    def payload(self, request: AWSRequest) -> str:
        return "UNSIGNED-PAYLOAD"


def test_unsigned_payload_is_refused(url: str) -> None:
    with_header = sign(
        url, b"{}", [*base(), ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")], signer=UnsignedPayload
    )
    status, body = raw(url, with_header)
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert "x-amz-content-sha256" in body["Message"]
    # Signed as UNSIGNED-PAYLOAD without saying so: the server hashes the body, and the signatures differ.
    status, body = raw(url, sign(url, b"{}", base(), signer=UnsignedPayload))
    assert (status, body["__type"]) == (403, "InvalidSignatureException")


# -- SigV4: region, service and date in the scope -----------------------------------------------------


@pytest.mark.parametrize("region", ["US-EAST-1", "us_east_1", "-us-east-1", "x" * 40, "<script>", "ü"])
def test_region_that_is_no_region_is_refused(url: str, region: str) -> None:
    status, body = raw(url, sign(url, b"{}", base(), region=region))
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert "Credential should be scoped to a valid region" in body["Message"]


def test_empty_region_in_the_scope_is_refused(url: str) -> None:
    headers = sign(url, b"{}", base())
    auth = next(v for k, v in headers if k == "Authorization").replace("/us-east-1/", "//")
    headers = [(k, auth if k == "Authorization" else v) for k, v in headers]
    assert code_of(raw(url, headers)) == (403, "InvalidSignatureException")


def test_region_or_service_changed_after_signing(url: str) -> None:
    headers = sign(url, b"{}", base())
    for old, new in (("/us-east-1/", "/eu-west-1/"), ("/glue/", "/s3/"), ("/glue/", "/execute-api/")):
        auth = next(v for k, v in headers if k == "Authorization").replace(old, new)
        changed = [(k, auth if k == "Authorization" else v) for k, v in headers]
        assert code_of(raw(url, changed)) == (403, "InvalidSignatureException")


def test_scope_date_must_be_the_request_date(url: str) -> None:
    headers = sign(url, b"{}", base())
    auth = next(v for k, v in headers if k == "Authorization")
    day = auth.split("Credential=")[1].split("/")[1]
    other = (dt.datetime.strptime(day, "%Y%m%d") - dt.timedelta(days=1)).strftime("%Y%m%d")
    changed = [(k, auth.replace(f"/{day}/", f"/{other}/") if k == "Authorization" else v) for k, v in headers]
    status, body = raw(url, changed)
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert "Date in Credential scope" in body["Message"]


# -- SigV4: clock skew, with requests botocore really signed at another time --------------------------


@pytest.fixture
def signed_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def shift(minutes: float) -> None:
        moment = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=minutes)
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: moment)

    yield shift


@pytest.mark.parametrize("minutes", [16, -16, 60 * 24 * 365])
def test_clock_skew_beyond_fifteen_minutes(url: str, signed_at: Any, minutes: int) -> None:
    signed_at(minutes)
    glue = client(url)
    with pytest.raises(ClientError) as raised:
        glue.get_ml_transforms()
    code, message = error_of(raised)
    assert code == "RequestExpired" and "Signature expired" in message
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("minutes", [13, -13])
def test_clock_skew_within_fifteen_minutes(url: str, signed_at: Any, minutes: int) -> None:
    signed_at(minutes)
    assert "TransformIds" in client(url).list_ml_transforms()


# -- paths out of the allowed roots -------------------------------------------------------------------


@pytest.fixture
def outside(files_root: Path) -> Path:
    """A folder beside the allowed roots (not in one), holding a file the server must never read."""
    folder = files_root.parent / f"outside-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "labels.csv").write_text("labeling_set_id,label,id\ns1,A,P00001\n")
    return folder


def start_error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return error_of(raised)


def test_encoded_traversal_out_of_a_root_is_refused(
    glue: Any, people: SampleTransform, files_root: Path, outside: Path
) -> None:
    name = outside.name
    for path in (
        f"file://{files_root}/%2e%2e/{name}/labels.csv",
        f"file://{files_root}/%2E%2E%2F{name}%2Flabels.csv",
        f"file://{files_root}/%2e%2E/{name}/labels.csv",
        f"file://{files_root}/..%2f{name}/labels.csv",
        f"file://{files_root}/sub/%2e%2e/%2e%2e/{name}/labels.csv",
        f"file://localhost{files_root}/../{name}/labels.csv",
        f"{files_root}/./../{name}/labels.csv",
    ):
        code, message = start_error(
            glue.start_import_labels_task_run, TransformId=people.transform_id, InputS3Path=path
        )
        assert code == "InvalidInputException" and "outside the allowed roots" in message, (path, message)
        code, message = start_error(
            glue.start_ml_labeling_set_generation_task_run,
            TransformId=people.transform_id,
            OutputS3Path=path.replace("labels.csv", "out/"),
        )
        assert code == "InvalidInputException" and "outside the allowed roots" in message, (path, message)
    # Encoded once more, or not a URI, "%2e%2e" is a name inside the root: not found, and nothing outside read.
    for path in (
        f"file://{files_root}/%252e%252e/{name}/labels.csv",
        f"{files_root}/%2e%2e/{name}/labels.csv",
    ):
        code, message = start_error(
            glue.start_import_labels_task_run, TransformId=people.transform_id, InputS3Path=path
        )
        assert code == "InvalidInputException" and "Cannot access the label file" in message
    assert glue.get_ml_task_runs(TransformId=people.transform_id).get("TaskRuns", []) == []


def test_symlinked_output_folder_out_of_a_root_is_refused(
    glue: Any, people: SampleTransform, files_root: Path, outside: Path
) -> None:
    link = files_root / f"link-{people.transform_id}"
    link.symlink_to(outside, target_is_directory=True)
    for path in (f"{link}/", f"{link}/deeper/", link.as_uri() + "/"):
        code, message = start_error(
            glue.start_ml_labeling_set_generation_task_run, TransformId=people.transform_id, OutputS3Path=path
        )
        assert code == "InvalidInputException" and "outside the allowed roots" in message
    code, _ = start_error(
        glue.start_import_labels_task_run, TransformId=people.transform_id, InputS3Path=f"{link}/labels.csv"
    )
    assert code == "InvalidInputException"
    assert sorted(p.name for p in outside.iterdir()) == ["labels.csv"]


def test_symlink_loop_is_a_bad_path_not_an_internal_error(
    glue: Any, people: SampleTransform, files_root: Path
) -> None:
    loop = files_root / f"loop-{people.transform_id}"
    loop.symlink_to(loop)
    for call, member in (
        (glue.start_import_labels_task_run, "InputS3Path"),
        (glue.start_ml_labeling_set_generation_task_run, "OutputS3Path"),
    ):
        code, message = start_error(call, TransformId=people.transform_id, **{member: f"{loop}/x.csv"})
        assert code == "InvalidInputException" and "cannot be resolved" in message


def test_table_located_out_of_the_roots_fails_the_run(glue: Any, files_root: Path, outside: Path) -> None:
    """A catalog table is data too: a run over one located outside the roots fails and reads nothing."""
    (outside / "people.csv").write_text("id,first_name,last_name,birth_date\n1,a,b,c\n")
    out = files_root / f"out-{uuid.uuid4().hex[:8]}"
    for location in (
        str(outside),
        f"file://{files_root}/%2e%2e/{outside.name}/",
        "http://169.254.169.254/latest/meta-data/",
        "s3://169.254.169.254/latest/",
    ):
        database, table = make_table(glue)
        table_input = glue.get_table(DatabaseName=database, Name=table)["Table"]
        glue.update_table(
            DatabaseName=database,
            TableInput={
                "Name": table,
                "StorageDescriptor": {**table_input["StorageDescriptor"], "Location": location},
                "Parameters": table_input["Parameters"],
            },
        )
        transform_id = make_transform(glue, database, table)
        run_id = glue.start_ml_labeling_set_generation_task_run(
            TransformId=transform_id, OutputS3Path=str(out) + "/"
        )["TaskRunId"]
        run = wait_run(glue, transform_id, run_id)
        assert run["Status"] == "FAILED", (location, run)
        assert any(
            words in run["ErrorString"]
            for words in ("outside the allowed roots", "Unsupported path", "invalid bucket name")
        ), (location, run["ErrorString"])
    assert not out.exists()


# -- S3 bucket names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "s3://user@evil.example/labels.csv",
        "s3://evil.example:8080/labels.csv",
        "s3://169.254.169.254/latest/meta-data/",
        "s3://[::1]/labels.csv",
        "s3://arn:aws:s3:us-east-1:123456789012:accesspoint/ap/labels.csv",
        "s3://bucket%2f@evil.example/labels.csv",
        "s3://bucket?x=/labels.csv",
        "s3://bucket\n/labels.csv",
        "https://evil.example/labels.csv",
        "s3:/evil.example/labels.csv",
    ],
)
def test_bucket_names_that_name_hosts_are_refused(glue: Any, people: SampleTransform, path: str) -> None:
    code, message = start_error(
        glue.start_import_labels_task_run, TransformId=people.transform_id, InputS3Path=path
    )
    assert code == "InvalidInputException"
    assert "Invalid label file path" in message
    code, _ = start_error(
        glue.start_ml_labeling_set_generation_task_run, TransformId=people.transform_id, OutputS3Path=path
    )
    assert code == "InvalidInputException"


def test_a_bucket_named_like_a_host_is_looked_up_on_the_s3_endpoint(
    glue: Any, people: SampleTransform
) -> None:
    """A dotted bucket name is a bucket on the configured S3 endpoint (loopback moto): no such bucket there,
    rather than a connection to the host it spells."""
    for bucket in ("evil.example.com", "localhost", "metadata.google.internal"):
        code, message = start_error(
            glue.start_import_labels_task_run,
            TransformId=people.transform_id,
            InputS3Path=f"s3://{bucket}/labels.csv",
        )
        assert code == "InvalidInputException" and "no such bucket" in message, message


# -- secrets never reach a log ------------------------------------------------------------------------


@pytest.fixture
def logged_server(tmp_path: Path, s3_server: S3Server) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """A server with a credentials file and S3 credentials of its own, every secret a unique string."""
    secrets = {
        "glue_secret": "GlueSecret" + uuid.uuid4().hex,
        "s3_secret": "S3Secret" + uuid.uuid4().hex,
        "session_token": "SessionToken" + uuid.uuid4().hex,
        "s3_session_token": "S3SessionToken" + uuid.uuid4().hex,
    }
    creds = tmp_path / "credentials.toml"
    creds.write_text(
        f'[AKIDLOGS]\nsecret_access_key = "{secrets["glue_secret"]}"\naccount_id = "222222222222"\n'
    )
    env = {
        **s3_server.env(),
        "AWS_SECRET_ACCESS_KEY": secrets["s3_secret"],
        "AWS_SESSION_TOKEN": secrets["s3_session_token"],
    }
    srv = ServerProcess(
        tmp_path / "data", ["--credentials-file", str(creds), "--allow-path", str(tmp_path / "data")], env=env
    )
    srv.start()
    yield srv, secrets
    if srv.proc is not None and srv.proc.poll() is None:
        srv.stop()


def test_secrets_never_appear_in_logs(
    logged_server: tuple[ServerProcess, dict[str, str]], s3_server: S3Server, s3: Any
) -> None:
    srv, secrets = logged_server
    signatures: list[str] = []

    def record(request: Any, **_: Any) -> None:
        auth = request.headers.get("Authorization")
        if auth:
            value = auth.decode() if isinstance(auth, bytes) else auth
            signatures.append(value.rsplit("Signature=", 1)[1])

    glue = client(srv.url, access_key="AKIDLOGS", secret_key=secrets["glue_secret"])
    glue.meta.events.register("before-send", record)
    people = create_sample_transform(glue, s3, "t" + uuid.uuid4().hex[:12])
    # A run that reads S3 with the server's credentials and fails: a label file naming unknown records.
    s3.put_object(Bucket=people.bucket, Key="bad.csv", Body=b"labeling_set_id,label,id\ns1,A,NOPE\n")
    run_id = glue.start_import_labels_task_run(
        TransformId=people.transform_id, InputS3Path=f"s3://{people.bucket}/bad.csv"
    )["TaskRunId"]
    failed = wait_run(glue, people.transform_id, run_id)
    assert failed["Status"] == "FAILED" and "NOPE" in failed["ErrorString"], failed
    # Refused requests: a wrong secret, a session token the server does not know, another region.
    for wrong in (
        client(srv.url, access_key="AKIDLOGS", secret_key=secrets["glue_secret"][:-1] + "x"),
        client(srv.url, access_key="AKIDNOBODY", secret_key=secrets["glue_secret"]),
    ):
        wrong.meta.events.register("before-send", record)
        with pytest.raises(ClientError):
            wrong.get_ml_transforms()
    with_token = boto3.session.Session().client(
        "glue",
        endpoint_url=srv.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDLOGS",
        aws_secret_access_key=secrets["glue_secret"],
        aws_session_token=secrets["session_token"],
        config=Config(retries={"max_attempts": 1}),
    )
    with_token.meta.events.register("before-send", record)
    with_token.get_ml_transforms()  # the token is signed over but not checked: there are no session keys
    twice = sign(srv.url, b"{}", base(), key="AKIDLOGS", secret=secrets["glue_secret"])
    assert raw(srv.url, [*twice, *[(k, v) for k, v in twice if k == "Authorization"]])[0] == 403
    srv.stop()

    assert len(signatures) >= 6
    texts = {"server log": srv.log()}
    for path in srv.data_dir.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("latin-1")
    assert any(name.endswith(f"{run_id}.log") for name in texts), sorted(texts)
    for where, text in texts.items():
        for what, secret in secrets.items():
            assert secret not in text, f"{what} in {where}"
        for signature in signatures:
            assert signature not in text, f"a request signature in {where}"
        assert "Signature=" not in text, where
