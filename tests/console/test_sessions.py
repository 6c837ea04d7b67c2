"""Signing in and out, pages that need a session, cookies, and CSRF tokens on every POST."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.console.conftest import people_table
from tests.console.support import Browser

PAGES = [
    "/console/",
    "/console/transforms/new",
    "/console/transforms/tfm-0123",
    "/console/transforms/tfm-0123/runs",
    "/console/transforms/tfm-0123/runs/abc",
    "/console/transforms/tfm-0123/labeling/abc",
]


def test_sign_in_and_out(server: ServerProcess) -> None:
    b = Browser(server.url)
    form = b.get("/console/sign-in")
    assert form.status == 200
    for testid in ("access-key", "secret-key", "sign-in"):
        assert form.testid(testid)
    signed_in = b.sign_in()
    assert signed_in.status == 303 and signed_in.headers["location"] == "/console/"
    cookie = next(c for c in signed_in.headers.get_all("set-cookie") or [] if c.startswith("fm_session="))
    assert all(part in cookie for part in ("HttpOnly", "SameSite=Strict", "Path=/console", "Max-Age="))
    home = b.get("/console/")
    assert home.status == 200 and "test · 000000000000" in home.text
    token = b.cookies["fm_session"]

    out = b.post("/console/sign-out", {"csrf_token": home.field("csrf_token")})
    assert out.status == 303 and out.headers["location"] == "/console/sign-in"
    assert "fm_session" not in b.cookies
    b.cookies["fm_session"] = token  # the old cookie no longer opens anything
    assert b.get("/console/").status == 303


def test_wrong_secret_or_unknown_key_refused(server: ServerProcess) -> None:
    b = Browser(server.url)
    for key, secret in (("test", "wrong"), ("nobody", "test"), ("AKIDOTHER", "test")):
        page = b.sign_in(key, secret)
        assert page.status == 401
        assert "do not match" in page.testid("error").text
        assert "fm_session" not in b.cookies
    assert b.sign_in("AKIDOTHER", "other-secret").status == 303
    assert "111111111111" in b.get("/console/").text


def test_sign_in_needs_its_form_token(server: ServerProcess) -> None:
    b = Browser(server.url)
    b.get("/console/sign-in")
    page = b.post("/console/sign-in", {"access_key": "test", "secret_key": "test"})
    assert page.status == 403 and "fm_session" not in b.cookies


@pytest.mark.parametrize("path", PAGES)
def test_no_page_without_a_session(server: ServerProcess, path: str) -> None:
    page = Browser(server.url).get(path)
    assert page.status == 303 and page.headers["location"] == "/console/sign-in"


def test_no_fragment_or_post_without_a_session(server: ServerProcess) -> None:
    b = Browser(server.url)
    status = b.get("/console/transforms/tfm-0123/runs/abc/status", Accept="application/json")
    assert status.status == 401 and status.json() == {"error": "Sign in first."}
    assert b.post("/console/transforms/tfm-0123/teach", {"csrf_token": "x"}).status == 303
    b.cookies["fm_session"] = "forged"
    assert b.get("/console/").status == 303


def test_post_without_csrf_token_is_refused(browser: Browser, region_glue: Any, s3: Any) -> None:
    table = people_table(region_glue, s3)
    fields = {
        "database": table.database,
        "table": table.table,
        "name": "no-token",
        "role": "arn:aws:iam::000000000000:role/r",
        "primary_key": "id",
    }
    for token in (None, "", "not-the-token"):
        sent = fields if token is None else {**fields, "csrf_token": token}
        page = browser.post("/console/transforms", sent)
        assert page.status == 403
        assert "security token" in page.testid("message").text
    assert region_glue.get_ml_transforms()["Transforms"] == []

    transform_id = region_glue.create_ml_transform(
        Name="t",
        Role="r",
        InputRecordTables=[{"DatabaseName": table.database, "TableName": table.table}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
    )["TransformId"]
    assert browser.post(f"/console/transforms/{transform_id}/teach", {}).status == 403
    assert region_glue.get_ml_task_runs(TransformId=transform_id)["TaskRuns"] == []
    assert browser.post("/console/sign-out", {}).status == 403
    assert browser.get("/console/").status == 200  # still signed in


def test_csrf_token_is_per_session(server: ServerProcess, browser: Browser) -> None:
    other = Browser(server.url)
    other.sign_in()
    assert other.csrf() != browser.csrf()
    assert browser.post("/console/sign-out", {"csrf_token": other.csrf()}).status == 403


def test_security_headers_and_assets(browser: Browser) -> None:
    page = browser.get("/console/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    css = browser.get("/console/static/console.css")
    js = Browser(f"http://{browser.host}:{browser.port}").get(
        "/console/static/console.js"
    )  # no session needed
    assert css.status == 200 and css.headers["content-type"].startswith("text/css")
    assert js.status == 200 and "localStorage" in js.text
    assert browser.get("/console/static/../app.py").status == 404
    assert browser.get("/console/no-such-page").status == 404
