"""The transforms list, the create-transform form, and accounts as walls in URLs."""

from __future__ import annotations

from typing import Any

from tests.conftest import ServerProcess, client
from tests.console.conftest import another_accounts_transform, create_transform, people_table
from tests.console.support import Browser


def test_create_transform_from_a_catalog_table(browser: Browser, region_glue: Any, s3: Any) -> None:
    table = people_table(region_glue, s3)
    form = browser.get("/console/transforms/new")
    assert table.database in [e["value"] for e in form.elements if e.tag == "option"]
    form = browser.get(f"/console/transforms/new?database={table.database}")
    assert "people" in [e["value"] for e in form.elements if e.tag == "option"]
    form = browser.get(f"/console/transforms/new?database={table.database}&table=people")
    keys = [e["value"] for e in form.elements if e.tag == "option" and "(string)" in e.text]
    assert keys[:2] == ["id", "first_name"]
    ids = {e["id"] for e in form.elements if e.tag in ("input", "select") and e.attrs.get("type") != "hidden"}
    labelled = {e["for"] for e in form.elements if e.tag == "label"}
    assert ids <= labelled, ids - labelled  # a label for every control

    transform_id = create_transform(browser, table, "from-console")
    got = region_glue.get_ml_transform(TransformId=transform_id)
    assert got["Name"] == "from-console" and got["Status"] == "NOT_READY"
    fm = got["Parameters"]["FindMatchesParameters"]
    assert fm["PrimaryKeyColumnName"] == "id" and fm["PrecisionRecallTradeoff"] == 0.5

    listing = browser.get("/console/")
    rows = listing.testids("transform-row")
    assert len(rows) == 1 and "from-console" in rows[0].text and "NOT_READY" in rows[0].text
    page = browser.get(f"/console/transforms/{transform_id}")
    assert page.testid("label-count").text == "0"
    assert page.testid("teach").tag == "button"


def test_create_form_errors(browser: Browser, region_glue: Any, s3: Any) -> None:
    table = people_table(region_glue, s3)
    create_transform(browser, table, "taken")
    base = {
        "csrf_token": browser.csrf(),
        "database": table.database,
        "table": table.table,
        "role": "r",
        "primary_key": "id",
    }
    cases = [
        ({"name": "taken"}, 400, "already exists"),
        ({"name": "x", "primary_key": "nope"}, 400, "primary key"),
        ({"name": "x", "precision_recall": "2"}, 400, "from 0 to 1"),
        ({"name": "", "table": "missing"}, 400, ""),
    ]
    for extra, status, text in cases:
        page = browser.post("/console/transforms", {**base, **extra})
        assert page.status == status, (extra, page.text)
        assert text in page.testid("error").text
    assert len(region_glue.get_ml_transforms()["Transforms"]) == 1


def test_another_accounts_transform_is_not_found(
    server: ServerProcess, region: str, region_glue: Any
) -> None:
    transform_id = another_accounts_transform(server, region)
    theirs = client(server.url, access_key="AKIDOTHER", secret_key="other-secret", region=region)

    b = Browser(server.url)
    b.sign_in(region=region)
    for path in ("", "/runs", "/runs/0123abcd", "/labeling/0123abcd"):
        page = b.get(f"/console/transforms/{transform_id}{path}")
        assert page.status == 404, path
        assert "theirs" not in page.text
    status = b.get(f"/console/transforms/{transform_id}/runs/0123abcd/status", Accept="application/json")
    assert status.status == 404 and status.json()["code"] == "EntityNotFoundException"
    assert b.post(f"/console/transforms/{transform_id}/teach", {"csrf_token": b.csrf()}).status == 404
    assert theirs.get_ml_task_runs(TransformId=transform_id)["TaskRuns"] == []
    assert b.get("/console/").testids("transform-row") == []
    assert "private" not in b.get("/console/transforms/new").text
    # the owner sees it
    owner = Browser(server.url)
    owner.sign_in("AKIDOTHER", "other-secret", region)
    assert owner.get(f"/console/transforms/{transform_id}").status == 200
