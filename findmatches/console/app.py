"""The web console: an ASGI app under ``/console/`` of the same server, acting as a signed-in access key.

Every page reads and changes state through ``call_operation``, the JSON 1.1 endpoint's own way into the
provider (the same request dicts, validated against the Glue model, run as the session's account and
region), so the console sees exactly what that key sees through the API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from findmatches.aws import errors
from findmatches.aws.app import Receive, Scope, Send, call_operation
from findmatches.aws.auth import KeyStore
from findmatches.aws.spec import operation
from findmatches.console import matches, quality, runs, sign_in, teach, transforms
from findmatches.console.render import Templates
from findmatches.console.sessions import CSRF_FIELD, SESSION_COOKIE, Session, SessionStore, same_token
from findmatches.console.web import FormTooLarge, Request, Response, read_request, send_response
from findmatches.service.context import RequestContext
from findmatches.service.provider import GlueProvider

CONSOLE_PREFIX = "/console/"
SIGN_IN_PATH = "/console/sign-in"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
log = logging.getLogger("findmatches.access")

PageHandler = Callable[["ConsoleApp", Request, Session], Awaitable[Response]]
PublicHandler = Callable[["ConsoleApp", Request], Awaitable[Response]]
_ID = r"[A-Za-z0-9._-]{1,255}"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: PageHandler
    #: Answers JSON (errors too, and 401 instead of a redirect to the sign-in page).
    is_json: bool = False


def _route(method: str, path: str, handler: PageHandler, is_json: bool = False) -> Route:
    pattern = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>{_ID})", path)
    return Route(method, re.compile(f"^{pattern}$"), handler, is_json)


ROUTES = [
    _route("GET", "/console/", transforms.list_page),
    _route("POST", "/console/sign-out", sign_in.sign_out),
    _route("GET", "/console/transforms/new", transforms.new_page),
    _route("POST", "/console/transforms", transforms.create),
    _route("GET", "/console/transforms/{transform_id}", transforms.transform_page),
    _route("POST", "/console/transforms/{transform_id}/teach", teach.start),
    _route("POST", "/console/transforms/{transform_id}/review", teach.review),
    _route("GET", "/console/transforms/{transform_id}/labeling/{run_id}", teach.labeling_page),
    _route("POST", "/console/transforms/{transform_id}/labeling/{run_id}", teach.submit_labels),
    _route("GET", "/console/transforms/{transform_id}/quality", quality.page),
    _route("POST", "/console/transforms/{transform_id}/quality", quality.start),
    _route("GET", "/console/transforms/{transform_id}/matches", matches.list_page),
    _route("POST", "/console/transforms/{transform_id}/matches", matches.start),
    _route("GET", "/console/transforms/{transform_id}/matches/{run_id}", matches.run_page),
    _route("GET", "/console/transforms/{transform_id}/matches/{run_id}/download", matches.download),
    _route("GET", "/console/transforms/{transform_id}/runs", runs.list_page),
    _route("GET", "/console/transforms/{transform_id}/runs/{run_id}", runs.run_page),
    _route("GET", "/console/transforms/{transform_id}/runs/{run_id}/status", runs.status, is_json=True),
]
PUBLIC_ROUTES: dict[tuple[str, str], PublicHandler] = {
    ("GET", SIGN_IN_PATH): sign_in.page,
    ("POST", SIGN_IN_PATH): sign_in.submit,
}


class ConsoleApp:
    """Sessions, CSRF checks and routing; the pages themselves live in ``transforms``, ``teach``,
    ``quality``, ``matches``, ``runs``."""

    def __init__(self, provider: GlueProvider, keys: KeyStore, data_dir: Path) -> None:
        self.provider = provider
        self.storage = provider.storage
        self.data_dir = data_dir
        self.sessions = SessionStore(keys)
        self.templates = Templates()
        folder = resources.files("findmatches.console") / "static"
        self.static = {
            f.name: f.read_bytes() for f in folder.iterdir() if f.name.endswith(tuple(STATIC_TYPES))
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        session: Session | None = None
        try:
            request = await read_request(scope, receive)
            session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
            response, cache = await self._respond(request, session), "no-store"
            if request.path.startswith("/console/static/") and response.status == 200:
                cache = "no-cache"
        except FormTooLarge:
            response, cache = Response.html("Request body too large.", 413), "no-store"
        except Exception:
            log.exception("console: internal error on %s", scope.get("path"))
            response, cache = Response.html("Internal error.", 500), "no-store"
        await send_response(send, response, cache)
        log.info(
            "console %s %s account=%s status=%d %.1fms",
            scope.get("method"),
            scope.get("path"),
            session.account_id if session else "-",
            response.status,
            (time.perf_counter() - started) * 1000,
        )

    async def _respond(self, request: Request, session: Session | None) -> Response:
        path, method = request.path, request.method
        if path in ("/console", "/console/index.html"):
            return Response.redirect(CONSOLE_PREFIX)
        if path.startswith("/console/static/"):
            return self._static(path.removeprefix("/console/static/"))
        public = PUBLIC_ROUTES.get((method, path))
        if public is not None:
            return await public(self, request)
        matched = [(r, m) for r in ROUTES if (m := r.pattern.match(path))]
        if session is None:
            if matched and matched[0][0].is_json:
                return Response.json({"error": "Sign in first."}, 401)
            return Response.redirect(SIGN_IN_PATH)
        route = next(((r, m) for r, m in matched if r.method == method), None)
        if route is None:
            if matched:
                return self.error_page(session, 405, "This page does not take that method.")
            return self.error_page(session, 404, "No such page.")
        if method == "POST" and not same_token(request.form.get(CSRF_FIELD), session.csrf_token):
            return self.error_page(
                session, 403, "The form's security token is missing or stale; reload the page."
            )
        request.params = route[1].groupdict()
        try:
            return await route[0].handler(self, request, session)
        except errors.ApiError as e:
            status = 404 if isinstance(e, errors.EntityNotFoundException) else e.status
            if route[0].is_json:
                return Response.json({"error": e.message, "code": e.code}, status)
            return self.error_page(session, status, e.message)

    def _static(self, name: str) -> Response:
        data = self.static.get(name)
        if data is None:
            return Response.html("Not found.", 404)
        return Response(200, data, STATIC_TYPES[Path(name).suffix])

    # -- what the pages use ----------------------------------------------------------------------

    async def glue(self, session: Session, name: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run the Glue operation ``name`` with the request ``params`` (PascalCase, as on the wire) as the
        session's account; ApiErrors propagate as from the API."""
        op = operation(name)
        if op is None:
            raise errors.UnknownOperationException(f"Unknown operation {name}.")
        ctx = RequestContext(session.account_id, session.region, str(uuid.uuid4()))
        return await call_operation(self.provider, op, ctx, json.dumps(params).encode())

    async def glue_all(
        self, session: Session, name: str, params: dict[str, Any], member: str
    ) -> list[dict[str, Any]]:
        """Every item of a paged list operation (``member``: the list in each page)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = await self.glue(session, name, {**params, **({"NextToken": token} if token else {})})
            items.extend(page.get(member) or [])
            token = page.get("NextToken")
            if not token:
                return items

    def page(self, session: Session | None, template: str, status: int = 200, **context: Any) -> Response:
        context.setdefault("error", None)
        context.setdefault("title", "findmatches")
        context.update(
            session=session, csrf_token=session.csrf_token if session else "", csrf_field=CSRF_FIELD
        )
        return Response.html(self.templates.render(template, context), status)

    def error_page(self, session: Session | None, status: int, message: str) -> Response:
        titles = {403: "Refused", 404: "Not found", 405: "Not allowed"}
        title = titles.get(status, "Cannot do that")
        return self.page(session, "error.html", status, title=title, message=message)

    async def in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Storage calls (S3 or disk) off the event loop."""
        return await asyncio.to_thread(fn, *args)
