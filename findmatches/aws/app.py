"""The ASGI application: authenticate, parse, validate, dispatch, serialize — driven by the Glue model."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Protocol

from botocore import xform_name
from botocore.model import OperationModel

from findmatches import __version__
from findmatches.aws import errors
from findmatches.aws.auth import KeyStore, authenticate
from findmatches.aws.protocol import CONTENT_TYPE, parse_request, serialize_error, serialize_result
from findmatches.aws.spec import glue_model, operation
from findmatches.aws.throttle import AccountThrottle
from findmatches.io.errors import disk_full
from findmatches.service.context import RequestContext

log = logging.getLogger("findmatches.access")
MAX_BODY_BYTES = 8 * 1024 * 1024
# uvicorn has no read timeout for a request body, so a Content-Length (or chunk size) longer than what is sent
# held the connection and its task forever. The app stops waiting after this many seconds without a byte of
# body and answers 408 with Connection: close (`Settings.body_timeout_s`).
BODY_TIMEOUT_S = 30.0
TARGET_PREFIX = "AWSGlue."
# Unauthenticated liveness and readiness (as LocalStack's /_localstack/health): no account data in it.
HEALTH_PATH = "/_findmatches/health"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Provider(Protocol):
    def __getattr__(self, name: str) -> Any: ...


ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


#: Bodies up to this size are parsed on the event loop; larger ones in a thread.
INLINE_PARSE_BYTES = 64 * 1024


async def call_operation(
    provider: object, op: OperationModel, ctx: RequestContext, body: bytes
) -> dict[str, Any]:
    """Parse and validate ``body`` for ``op`` and run the provider's method for it as ``ctx``.

    The one way into the provider: the JSON 1.1 endpoint and the web console both call it.
    """
    handler = getattr(provider, xform_name(op.name), None)
    if handler is None:
        raise errors.NotImplementedOperationException(
            f"The Glue operation {op.name} is not implemented by findmatches."
        )
    # A large body takes a tenth of a second or more to parse and validate: off the event loop, which meanwhile
    # answers other requests.
    kwargs = (
        parse_request(op, body)
        if len(body) <= INLINE_PARSE_BYTES
        else await asyncio.to_thread(parse_request, op, body)
    )
    if getattr(handler, "inline", False):  # a quick read of the store: a thread hop costs more
        result: dict[str, Any] = handler(ctx, **kwargs)
    else:
        result = await asyncio.to_thread(handler, ctx, **kwargs)
    return result


class GlueApp:
    """An ASGI app speaking AWS JSON 1.1 for the ``AWSGlue`` target prefix.

    ``mounts`` maps a path prefix ending in ``/`` (``/console/``) to an app that serves every path under it,
    and the prefix without its slash; those apps do their own authentication.
    """

    def __init__(
        self,
        provider: object,
        keys: KeyStore,
        max_body_bytes: int = MAX_BODY_BYTES,
        body_timeout_s: float = BODY_TIMEOUT_S,
        mounts: Mapping[str, ASGIApp] | None = None,
        throttle: AccountThrottle | None = None,
    ) -> None:
        self.provider = provider
        self.keys = keys
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.mounts = dict(mounts or {})
        self.throttle = throttle or AccountThrottle(0)
        glue_model()  # load the model once, before the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == HEALTH_PATH:
            await self._health(send)
            return
        for prefix, mounted in self.mounts.items():
            if scope["path"].startswith(prefix) or scope["path"] == prefix.rstrip("/"):
                await mounted(scope, receive, send)
                return
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        account, name = "-", "-"
        try:
            body = await self._read_body(scope, receive)
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            host = next((v for k, v in headers if k.lower() == "host"), "localhost")
            path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
            query = scope.get("query_string", b"").decode("latin-1")
            url = f"http://{host}{path}" + (f"?{query}" if query else "")
            # Security: a repeated X-Amz-Target is one comma-joined value, as SigV4 signs it (and so no
            # operation), not its first copy: which operation was signed must not depend on the copy read.
            target = ",".join(v for k, v in headers if k.lower() == "x-amz-target")
            name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else target or "-"
            principal = authenticate(self.keys, scope["method"], url, headers, body)
            account = principal.account_id
            if not self.throttle.take(account):
                raise errors.ThrottlingException("Rate exceeded")
            if scope["method"] != "POST" or scope["path"] != "/":
                raise errors.UnknownOperationException(
                    "Only POST / with an X-Amz-Target header is supported."
                )
            op = operation(name) if target.startswith(TARGET_PREFIX) else None
            if op is None:
                raise errors.UnknownOperationException(f"Unknown operation: X-Amz-Target '{target}'.")
            ctx = RequestContext(principal.account_id, principal.region, request_id)
            result = await call_operation(self.provider, op, ctx, body)
            status, payload = 200, serialize_result(op, result)
        except errors.ApiError as e:
            status, payload = e.status, serialize_error(e)
            error_type = e.code
        except _BodyTooLarge:
            e2 = errors.RequestEntityTooLargeException(
                f"Request body is larger than the limit of {self.max_body_bytes} bytes."
            )
            status, payload, error_type = e2.status, serialize_error(e2), e2.code
        except Exception as e:
            log.exception("internal error in %s", name)
            what = "Internal service error."
            if disk_full(e):  # SQLite's "database or disk is full": reads go on, changes wait for space
                what = "Internal service error: the service's disk is full, so it cannot store changes now."
            e3 = errors.InternalServiceException(f"{what} The request id is {request_id}")
            status, payload, error_type = e3.status, serialize_error(e3), e3.code
        else:
            error_type = ""
        response_headers = [
            (b"content-type", CONTENT_TYPE.encode()),
            (b"content-length", str(len(payload)).encode()),
            (b"x-amzn-requestid", request_id.encode()),
        ]
        if error_type:
            response_headers.append((b"x-amzn-errortype", error_type.encode()))
        if status == errors.RequestTimeoutException.status:
            response_headers.append((b"connection", b"close"))  # the rest of the body may yet arrive
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": payload})
        elapsed = (time.perf_counter() - started) * 1000
        log.info(
            "%s account=%s status=%d %.1fms%s",
            name,
            account,
            status,
            elapsed,
            f" error={error_type}" if error_type else "",
        )

    async def _health(self, send: Send) -> None:
        ready = getattr(self.provider, "engine_ready", None)
        state = "ready" if ready is None or ready.is_set() else "loading"
        payload = json.dumps({"status": "running", "engine": state, "version": __version__}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = next((v for k, v in scope["headers"] if k.lower() == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _BodyTooLarge
        chunks, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout_s)
            except TimeoutError:
                raise errors.RequestTimeoutException(
                    f"No request body received for {self.body_timeout_s:g} seconds."
                ) from None
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                close = getattr(self.provider, "close", None)
                if close is not None:
                    await asyncio.to_thread(close)
                await send({"type": "lifespan.shutdown.complete"})
                return


class _BodyTooLarge(Exception):
    pass
