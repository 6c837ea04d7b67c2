"""A minimal browser for the console tests: cookies, forms and ``data-testid`` lookups over http.client."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urlsplit

# Elements that have no end tag: they never hold text.
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""

    def __getitem__(self, name: str) -> str:
        return self.attrs[name]


class _Collector(HTMLParser):
    """Every element with its attributes and the text inside it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data


@dataclass
class Page:
    status: int
    headers: http.client.HTTPMessage
    text: str
    elements: list[Element] = field(default_factory=list)

    @classmethod
    def parse(cls, status: int, headers: http.client.HTTPMessage, body: bytes) -> Page:
        text = body.decode("utf-8", errors="replace")
        collector = _Collector()
        if "html" in headers.get("content-type", ""):
            collector.feed(text)
        return cls(status, headers, text, collector.elements)

    def testids(self, name: str) -> list[Element]:
        return [e for e in self.elements if e.attrs.get("data-testid") == name]

    def testid(self, name: str) -> Element:
        found = self.testids(name)
        assert len(found) == 1, f"{len(found)} elements with data-testid={name}"
        return found[0]

    def field(self, name: str) -> str:
        """The value of the first input named ``name``."""
        return next(e.attrs.get("value", "") for e in self.elements if e.attrs.get("name") == name)

    def json(self) -> Any:
        return json.loads(self.text)


class Browser:
    """One user's cookies against one server; redirects are returned, not followed, unless asked."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookies: dict[str, str] = {}
        self.last: Page | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Page:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        page = Page.parse(response.status, response.headers, response.read())
        conn.close()
        for header in page.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in header.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        self.last = page
        return page

    def get(self, path: str, follow: bool = False, **headers: str) -> Page:
        page = self.request("GET", path, headers=headers)
        while follow and page.status in (301, 302, 303):
            page = self.request("GET", page.headers["location"])
        return page

    def post(self, path: str, fields: dict[str, str], follow: bool = False) -> Page:
        body = urlencode(fields).encode()
        page = self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        while follow and page.status in (301, 302, 303):
            page = self.request("GET", page.headers["location"])
        return page

    def csrf(self, path: str = "/console/") -> str:
        """The CSRF token of the signed-in session, from any page's forms."""
        return self.get(path).field("csrf_token")

    def sign_in(self, access_key: str = "test", secret_key: str = "test", region: str = "us-east-1") -> Page:
        form = self.get("/console/sign-in")
        return self.post(
            "/console/sign-in",
            {
                "csrf_token": form.field("csrf_token"),
                "access_key": access_key,
                "secret_key": secret_key,
                "region": region,
            },
        )

    def wait_run(self, transform_id: str, run_id: str, timeout: float = 180) -> dict[str, Any]:
        """Poll the console's status JSON until the run ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state: dict[str, Any] = self.get(
                f"/console/transforms/{transform_id}/runs/{run_id}/status", Accept="application/json"
            ).json()
            if state["done"]:
                return state
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} did not end")
