"""A fault-injecting HTTP proxy for S3 tests: forwards to an S3 server on loopback and, by a schedule the test
sets, answers errors, delays answers or drops connections instead.

    with FaultProxy(s3_server.endpoint_url) as proxy:
        proxy.add(Fault("slowdown", method="GET", path=r"/people/", times=2))  # the next 2 matching GETs
        proxy.add(Fault("drop", share=0.2))                               # a fifth of all requests
        ... point boto3 or ``findmatches serve --s3-endpoint-url`` at proxy.url ...
        proxy.clear()

Kinds of fault:

- ``internal``: 500 ``InternalError`` with S3's XML error body (what S3 answers when it fails inside);
- ``slowdown``: 503 ``SlowDown`` ("Please reduce your request rate.");
- ``unavailable``: 503 ``ServiceUnavailable``;
- ``delay``: forward the request, but answer ``delay_s`` seconds late;
- ``drop``: read the request, then close the connection without a byte of answer;
- ``truncate``: forward, send the status, the headers and half the body, then close the connection.

A fault matches a request by ``method`` (None: any), ``path`` (a regular expression searched in the path and
query, None: any), and ``query`` (a regular expression the query string must contain); it skips the first
``skip`` matching requests, then applies to the next ``times`` of them (None: all), each with probability
``share``. The first fault that matches a request decides. ``requests`` records every request and the fault
applied to it, for tests to assert on.
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal
from urllib.parse import urlsplit

FaultKind = Literal["internal", "slowdown", "unavailable", "delay", "drop", "truncate"]

_ERRORS: dict[str, tuple[int, str, str]] = {
    "internal": (500, "InternalError", "We encountered an internal error. Please try again."),
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "unavailable": (503, "ServiceUnavailable", "Service is unable to handle request."),
}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
)


@dataclass
class Fault:
    """One entry of the schedule; see the module's docstring."""

    kind: FaultKind
    method: str | None = None
    path: str | None = None
    query: str | None = None
    times: int | None = None
    skip: int = 0
    share: float = 1.0
    delay_s: float = 1.0
    applied: int = 0
    _seen: int = field(default=0, repr=False)

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and method.upper() != self.method.upper():
            return False
        if self.path is not None and not re.search(self.path, target):
            return False
        query = target.partition("?")[2]
        return self.query is None or re.search(self.query, query) is not None


@dataclass(frozen=True)
class Seen:
    """One request the proxy received, and the fault it applied (None: forwarded as it was)."""

    method: str
    target: str
    fault: FaultKind | None


class FaultProxy:
    """A threaded HTTP proxy on a free loopback port in front of ``upstream`` (``http://host:port``)."""

    def __init__(self, upstream: str, seed: int = 17) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream_host, self.upstream_port = parts.hostname, parts.port
        self.faults: list[Fault] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- the schedule ----------------------------------------------------------------------------

    def add(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        """No more faults, and a fresh request record."""
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    def applied(self, kind: FaultKind | None = None) -> int:
        """How many requests got a fault (of ``kind``)."""
        with self._lock:
            return sum(1 for r in self.requests if r.fault is not None and (kind is None or r.fault == kind))

    def choose(self, method: str, target: str) -> Fault | None:
        with self._lock:
            chosen = None
            for fault in self.faults:
                if not fault.matches(method, target):
                    continue
                fault._seen += 1
                if fault._seen <= fault.skip:
                    continue
                if fault.times is not None and fault.applied >= fault.times:
                    continue
                if fault.share < 1.0 and self._random.random() >= fault.share:
                    continue
                fault.applied += 1
                chosen = fault
                break
            self.requests.append(Seen(method, target, chosen.kind if chosen else None))
            return chosen


def error_body(code: str, message: str, resource: str) -> bytes:
    """S3's XML error document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><Resource>{resource}</Resource>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    ).encode()


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def _body(self) -> bytes:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                data = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return data
                    data += self.rfile.read(size)
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _handle(self) -> None:
            body = self._body()
            fault = proxy.choose(self.command, self.path)
            kind = fault.kind if fault else None
            if kind == "drop":
                self._hang_up()
                return
            if kind in _ERRORS:
                status, code, message = _ERRORS[str(kind)]
                payload = error_body(code, message, self.path.partition("?")[0])
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-amz-request-id", uuid.uuid4().hex[:16].upper())
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                return
            if fault is not None and kind == "delay":
                time.sleep(fault.delay_s)
            status, reason, headers, answer = self._forward(body)
            self.send_response(status, reason)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            declared = answer if self.command != "HEAD" else b""
            length = next((v for n, v in headers if n.lower() == "content-length"), str(len(declared)))
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command == "HEAD":
                return
            if kind == "truncate":
                self.wfile.write(answer[: len(answer) // 2])
                self.wfile.flush()
                self._hang_up()
                return
            self.wfile.write(answer)

        def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
            conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                answer = response.read()
                return response.status, response.reason, response.getheaders(), answer
            finally:
                conn.close()

        def _hang_up(self) -> None:
            """Close the connection at once (a reset, not an orderly end of the answer)."""
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    return Handler
