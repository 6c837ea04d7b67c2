"""Signing in with an access key id and its secret, and signing out."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from findmatches.console.sessions import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_LIFETIME_S,
    Session,
    same_token,
)
from findmatches.console.web import Request, Response

if TYPE_CHECKING:
    from findmatches.console.app import ConsoleApp

DEFAULT_REGION = "us-east-1"
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def _form(app: ConsoleApp, request: Request, status: int = 200, error: str | None = None) -> Response:
    """The sign-in form, with a token that must come back with it (there is no session to hold one yet)."""
    token = request.cookies.get(SIGN_IN_COOKIE, "")
    if not _TOKEN.match(token):
        token = secrets.token_urlsafe(32)
    response = app.page(
        None,
        "sign_in.html",
        status,
        title="Sign in",
        error=error,
        sign_in_token=token,
        access_key=request.form.get("access_key", ""),
        region=request.form.get("region", DEFAULT_REGION),
    )
    return response.set_cookie(SIGN_IN_COOKIE, token, SIGN_IN_LIFETIME_S)


async def page(app: ConsoleApp, request: Request) -> Response:
    if app.sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
        return Response.redirect("/console/")
    return _form(app, request)


async def submit(app: ConsoleApp, request: Request) -> Response:
    if not same_token(request.form.get(CSRF_FIELD), request.cookies.get(SIGN_IN_COOKIE, "")):
        return app.error_page(
            None, 403, "The sign-in form's security token is missing or stale; reload the page."
        )
    region = request.form.get("region", "").strip() or DEFAULT_REGION
    if not _REGION.match(region):
        return _form(app, request, 400, "A region is lowercase letters, digits and dashes, as us-east-1.")
    session = app.sessions.sign_in(
        request.form.get("access_key", "").strip(), request.form.get("secret_key", ""), region
    )
    if session is None:
        return _form(app, request, 401, "That access key id and secret do not match a key of this server.")
    response = Response.redirect("/console/").set_cookie(
        SESSION_COOKIE, session.token, int(app.sessions.lifetime_s)
    )
    return response.set_cookie(SIGN_IN_COOKIE, "", 0)


async def sign_out(app: ConsoleApp, request: Request, session: Session) -> Response:
    app.sessions.sign_out(session.token)
    return Response.redirect("/console/sign-in").set_cookie(SESSION_COOKIE, "", 0)
