"""Malformed HTTP on raw sockets (issue 17): each case gets a clean 4xx or a closed connection, never a 5xx
and never a hang, and the server keeps answering a normal signed boto3 request afterwards.

Every socket has a timeout; the server runs with a short body-read timeout (FINDMATCHES_BODY_TIMEOUT_S) so
that a Content-Length that lies is cut off in a second or two rather than the default.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from findmatches.aws.app import MAX_BODY_BYTES
from tests.conftest import ServerProcess, client

BODY_TIMEOUT_S = 1.5
# Longest a case may take to be answered or closed: well under the pytest budget, well over the body timeout.
WAIT_S = 8.0
CONTENT_TYPE = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own: slowloris and idle-connection cases must not disturb the session server."""
    server = ServerProcess(
        tmp_path_factory.mktemp("malformed") / "data", env={"FINDMATCHES_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S)}
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def glue(srv: ServerProcess) -> Any:
    return client(srv.url)


@pytest.fixture(autouse=True)
def still_serving(glue: Any, srv: ServerProcess) -> Iterator[None]:
    """After every case the server answers a signed boto3 request, promptly, and has logged no 5xx."""
    yield
    started = time.monotonic()
    assert "TransformIds" in glue.list_ml_transforms()
    assert time.monotonic() - started < 5
    log = srv.log()
    assert "Traceback" not in log, log[-3000:]
    assert "status=5" not in log, log[-3000:]


@dataclass
class Answer:
    """What came back: a parsed response (``status`` and ``body``), or ``status`` None for a closed socket."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    elapsed: float

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, timeout: float = WAIT_S) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def read_answer(sock: socket.socket, started: float) -> Answer:
    """Read one response (headers, then Content-Length bytes) or up to EOF; a socket timeout is a hang."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        if b"\r\n\r\n" not in data:
            assert data == b"", f"half a response: {data[:200]!r}"
            return Answer(None, {}, b"", time.monotonic() - started)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    except ConnectionResetError:
        return Answer(None, {}, b"", time.monotonic() - started)
    except TimeoutError:
        raise AssertionError(f"no answer and no close within {WAIT_S}s: the server hangs") from None
    return Answer(status, headers, body, time.monotonic() - started)


def exchange(port: int, *parts: bytes) -> Answer:
    """Send ``parts`` on a fresh connection and read the answer."""
    started = time.monotonic()
    with connect(port) as sock:
        try:
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse and close before reading all of it
        return read_answer(sock, started)


def assert_4xx_or_closed(answer: Answer) -> None:
    assert answer.status is None or 400 <= answer.status < 500, (answer.status, answer.body[:500])


def request(
    method: bytes = b"POST", headers: list[bytes] | None = None, body: bytes = b"{}", length: bool = True
) -> bytes:
    lines = [method + b" / HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: " + CONTENT_TYPE.encode()]
    lines += [b"X-Amz-Target: AWSGlue.ListMLTransforms"]
    if length:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines += headers or []
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# -- request lines and methods --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"POST\r\n\r\n",
        b"POST / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"POST / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"POST /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /\xff HTTP/1.1\r\nHost: x\r\n\r\n",
        b" / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\r\n\r\n\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32) + b"\r\n\r\n",  # a TLS ClientHello
    ],
    ids=["garbage", "no-target", "extra-token", "http-9.9", "nul-in-path", "byte-ff-in-path", "no-method",
         "blank-lines", "tls-hello"],
)  # fmt: skip
def test_bad_request_line(srv: ServerProcess, raw: bytes) -> None:
    assert_4xx_or_closed(exchange(srv.port, raw))


@pytest.mark.parametrize("method", [b"FOO", b"BREW", b"DELETE", b"PUT", b"OPTIONS", b"TRACE", b"CONNECT"])
def test_unknown_or_unsupported_method(srv: ServerProcess, method: bytes) -> None:
    answer = exchange(srv.port, request(method))
    assert_4xx_or_closed(answer)
    if answer.status is not None and answer.headers.get("content-type") == CONTENT_TYPE:
        assert answer.json()["__type"]  # Glue's error shape when the app answers


def test_http_0_9(srv: ServerProcess) -> None:
    """An HTTP/0.9 request line is an unfinished HTTP/1.1 head to the server: it waits for the rest (uvicorn
    has no header-read timeout, as for slowloris below) and refuses or closes once the client stops sending.
    """
    started = time.monotonic()
    with connect(srv.port) as sock:
        sock.sendall(b"GET /\r\n")
        sock.shutdown(socket.SHUT_WR)
        assert_4xx_or_closed(read_answer(sock, started))
    assert_4xx_or_closed(exchange(srv.port, b"GET /\r\n\r\n"))


def test_http2_preface_on_http1_port(srv: ServerProcess) -> None:
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    settings_frame = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    assert_4xx_or_closed(exchange(srv.port, preface + settings_frame))


# -- header lines ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b"NoColonHere",
        b"X-Bad Name: v",
        b": empty-name",
        b"X-Nul: a\x00b",
        b"X-Nul\x00: v",
        b"X-Latin: caf\xe9",
        b"X-Utf8: \xe2\x98\x83",
        b"X-Ctl: a\x01b",
        b"X-Cr: a\rb",
        b" X-Folded: leading space",
        b"Host: second-host",
    ],
)
def test_bad_header_line(srv: ServerProcess, header: bytes) -> None:
    answer = exchange(srv.port, request(headers=[header]))
    assert_4xx_or_closed(answer)


def test_100kb_header(srv: ServerProcess) -> None:
    answer = exchange(srv.port, request(headers=[b"X-Big: " + b"a" * 100_000]))
    assert_4xx_or_closed(answer)


def test_1000_headers(srv: ServerProcess) -> None:
    headers = [b"X-H-%d: %d" % (i, i) for i in range(1000)]
    assert_4xx_or_closed(exchange(srv.port, request(headers=headers)))


def test_headers_never_ending(srv: ServerProcess) -> None:
    """Header lines sent without the blank line that ends them, past any sane size: refused, not buffered."""
    started = time.monotonic()
    with connect(srv.port) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        try:
            for i in range(2000):
                sock.sendall(b"X-More-%d: %s\r\n" % (i, b"b" * 100))
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert_4xx_or_closed(read_answer(sock, started))


# -- Content-Length -------------------------------------------------------------------------------------


def assert_timed_out(answer: Answer) -> None:
    """Glue's error shape for a body that stopped arriving, after the server's body timeout, then a close."""
    assert answer.status == 408, (answer.status, answer.body[:300])
    assert answer.json()["__type"] == "RequestTimeoutException"
    assert answer.headers["connection"] == "close"
    assert BODY_TIMEOUT_S - 0.5 < answer.elapsed < BODY_TIMEOUT_S + 3


def test_content_length_longer_than_body(srv: ServerProcess) -> None:
    """The server must not wait forever for bytes that never come: it answers or closes after its timeout."""
    raw = request(body=b"{}", length=False, headers=[b"Content-Length: 100"])
    answer = exchange(srv.port, raw)
    assert_timed_out(answer)


def test_content_length_shorter_than_body(srv: ServerProcess) -> None:
    raw = request(body=b'{"MaxResults": 1}', length=False, headers=[b"Content-Length: 2"])
    answer = exchange(srv.port, raw)
    assert_4xx_or_closed(answer)  # unsigned, so 403; the rest is a bad next request on the connection


@pytest.mark.parametrize(
    "values",
    [[b"2", b"3"], [b"2", b"2"], [b"2, 3"], [b"-1"], [b"abc"], [b"+2"], [b"0x2"], [b"99999999999999999999"]],
)
def test_bad_or_repeated_content_length(srv: ServerProcess, values: list[bytes]) -> None:
    headers = [b"Content-Length: " + v for v in values]
    assert_4xx_or_closed(exchange(srv.port, request(body=b"{}", length=False, headers=headers)))


# -- chunked --------------------------------------------------------------------------------------------


def chunked(*extra: bytes) -> bytes:
    return request(length=False, body=b"", headers=[b"Transfer-Encoding: chunked", *extra])


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\n{}\r\n0\r\n\r\n",
        b"-2\r\n{}\r\n0\r\n\r\n",
        b"2\r\n{}XX0\r\n\r\n",
        b"\r\n\r\n",
        b"2 2\r\n{}\r\n0\r\n\r\n",
        b"2\r\n{}\r\n0\r\nNo-Colon-Trailer\r\n\r\n",
    ],
    ids=["non-hex", "negative", "no-crlf-after-data", "empty-size", "space-in-size", "bad-trailer"],
)
def test_invalid_chunks(srv: ServerProcess, body: bytes) -> None:
    assert_4xx_or_closed(exchange(srv.port, chunked(), body))


def test_chunk_extensions(srv: ServerProcess) -> None:
    answer = exchange(srv.port, chunked(), b"2;name=value;x\r\n{}\r\n0;last\r\n\r\n")
    assert_4xx_or_closed(answer)  # unsigned but well framed: a 403 from the app in Glue's shape
    assert answer.status == 403 and answer.json()["__type"]


def test_huge_chunk_size_announced(srv: ServerProcess) -> None:
    """A chunk of 2**64-1 bytes announced and 2 sent: cut off by the size limit or the body timeout."""
    answer = exchange(srv.port, chunked(), b"FFFFFFFFFFFFFFFF\r\n{}")
    assert_timed_out(answer)


def test_transfer_encoding_with_content_length(srv: ServerProcess) -> None:
    raw = chunked(b"Content-Length: 100")
    assert_4xx_or_closed(exchange(srv.port, raw, b"2\r\n{}\r\n0\r\n\r\n"))


@pytest.mark.parametrize("te", [b"gzip, chunked", b"chunked, gzip", b"identity", b"xchunked", b"chunked\x00"])
def test_other_transfer_encodings(srv: ServerProcess, te: bytes) -> None:
    raw = request(length=False, body=b"", headers=[b"Transfer-Encoding: " + te])
    assert_4xx_or_closed(exchange(srv.port, raw, b"2\r\n{}\r\n0\r\n\r\n"))


# -- bodies over MAX_BODY_BYTES -------------------------------------------------------------------------


def assert_too_large(answer: Answer) -> None:
    assert answer.status == 413, (answer.status, answer.body[:300])
    assert answer.headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert answer.json()["__type"] == "RequestEntityTooLargeException"


def test_declared_body_over_limit(srv: ServerProcess) -> None:
    raw = request(length=False, body=b"", headers=[b"Content-Length: %d" % (MAX_BODY_BYTES + 1)])
    assert_too_large(exchange(srv.port, raw))


def test_chunked_body_over_limit(srv: ServerProcess) -> None:
    """Chunks past the limit: 413 in Glue's shape, read while the chunks are still being written."""
    piece = b"x" * 65536
    started = time.monotonic()
    with connect(srv.port) as sock:
        sock.sendall(chunked())

        def write() -> None:
            try:
                for _ in range(MAX_BODY_BYTES // len(piece) + 16):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:
                pass  # refused and closed part way: expected

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        answer = read_answer(sock, started)
        sock.shutdown(socket.SHUT_RDWR)
        writer.join(WAIT_S)
    if answer.status is not None:  # the reset of a refused upload may beat the 413 to us
        assert_too_large(answer)


# -- slow and idle clients ------------------------------------------------------------------------------


def test_slowloris_does_not_block_others(srv: ServerProcess, glue: Any) -> None:
    """Headers dribbled a byte per 100 ms on a few connections while a normal request is served promptly."""
    stop = threading.Event()
    raw = request(headers=[b"X-Slow: " + b"s" * 200])

    def dribble() -> None:
        with connect(srv.port) as sock:
            for byte in raw:
                if stop.wait(0.1):
                    return
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    return

    threads = [threading.Thread(target=dribble, daemon=True) for _ in range(5)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)  # the dribblers are mid-header now
        for _ in range(3):
            started = time.monotonic()
            assert "TransformIds" in glue.list_ml_transforms()
            assert time.monotonic() - started < 2
    finally:
        stop.set()
        for t in threads:
            t.join(WAIT_S)


def test_idle_keep_alive_connections_do_not_starve(srv: ServerProcess, glue: Any) -> None:
    """200 idle connections (half after one request, half that never sent a byte) and a normal request."""
    socks: list[socket.socket] = []
    try:
        for i in range(200):
            sock = connect(srv.port)
            socks.append(sock)
            if i % 2:
                sock.sendall(b"GET /_findmatches/health HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in socks[1::2]:
            assert read_answer(sock, time.monotonic()).status == 200
        started = time.monotonic()
        assert "TransformIds" in glue.list_ml_transforms()
        assert time.monotonic() - started < 2
    finally:
        for sock in socks:
            sock.close()


def test_nothing_then_close(srv: ServerProcess) -> None:
    """Connect and close without a byte, a hundred times: no error logged (checked after every test)."""
    for _ in range(100):
        connect(srv.port).close()
    for _ in range(20):
        with connect(srv.port) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
