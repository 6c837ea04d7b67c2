"""Plain HTTP for the console: a parsed request, a response, cookies and the headers every page carries."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from findmatches.aws.app import Receive, Scope, Send

MAX_FORM_BYTES = 1024 * 1024
#: Every asset comes from the app itself: no inline script or style, no frames, forms post only here.
SECURITY_HEADERS = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
]


class FormTooLarge(Exception):
    """A request body over MAX_FORM_BYTES."""


@dataclass
class Request:
    """One console request: its form fields (first value of each) and cookies already parsed."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    #: What the route's pattern captured (``transform_id``, ``run_id`` …).
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode("utf-8"))

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(value).encode(), "application/json")

    @classmethod
    def redirect(cls, location: str) -> Response:
        """303 See Other: after a POST, the browser GETs ``location``."""
        return cls(303, headers=[("location", location)])

    def set_cookie(self, name: str, value: str, max_age: int) -> Response:
        """A console cookie: never readable from script, never sent from another site, only under /console."""
        self.headers.append(
            ("set-cookie", f"{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict")
        )
        return self


async def read_request(scope: Scope, receive: Receive) -> Request:
    """Parse ``scope`` and, for a form POST, its body (FormTooLarge over MAX_FORM_BYTES)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    cookies: dict[str, str] = {}
    if "cookie" in headers:
        jar: SimpleCookie = SimpleCookie()
        with contextlib.suppress(CookieError):  # a malformed cookie header counts as none
            jar.load(headers["cookie"])
        cookies = {name: morsel.value for name, morsel in jar.items()}
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    request = Request(scope["method"], scope["path"], query, headers, cookies)
    if scope["method"] == "POST":
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                raise FormTooLarge
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            pairs = parse_qsl(b"".join(chunks).decode("utf-8", errors="replace"), keep_blank_values=True)
            for name, value in pairs:
                request.form.setdefault(name, value)
    return request


async def send_response(send: Send, response: Response, cache: str = "no-store") -> None:
    headers = [
        ("content-type", response.content_type),
        ("content-length", str(len(response.body))),
        ("cache-control", cache),
        *SECURITY_HEADERS,
        *response.headers,
    ]
    encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": response.status, "headers": encoded})
    await send({"type": "http.response.body", "body": response.body})
