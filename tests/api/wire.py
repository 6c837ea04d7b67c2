"""Raw HTTP to the live server, signed with botocore's SigV4 signer where asked."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def signed_headers(
    url: str,
    body: bytes,
    headers: dict[str, str],
    key: str = "test",
    secret: str = "test",
    region: str = "us-east-1",
    service: str = "glue",
) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def send(
    url: str,
    target: str | None,
    body: bytes | str | Any = b"{}",
    *,
    sign: bool = True,
    headers: dict[str, str] | None = None,
    method: str = "POST",
    path: str = "/",
    timeout: float = 10,
    **signing: Any,
) -> Reply:
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    base = {"Content-Type": CONTENT_TYPE}
    if target is not None:
        base["X-Amz-Target"] = target
    base.update(headers or {})
    if sign:
        base = signed_headers(url, data, base, **signing)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=base)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()
