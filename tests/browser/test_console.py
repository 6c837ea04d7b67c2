"""The console in a real browser (headless Chromium through Playwright): sign in, create a transform with
the form, teach it by mouse and by keyboard, keep a draft across a reload, show hostile records as text, and
evaluate, find matches and open a group's explanation.

Each test signs in to a region of its own on the session's server, so the lists hold only its things.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.support import (
    RUN_TIMEOUT_MS,
    create_transform,
    label_by_keyboard,
    labeling_sets,
    require_browser,
    sign_in,
    teach,
    wait_import,
)
from tests.console.conftest import PeopleTable, people_table

require_browser()

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Seen

pytestmark = pytest.mark.timeout(120)


def _signed_in_transform(page: Page, region: str, table: PeopleTable) -> str:
    sign_in(page, region)
    return create_transform(page, table.database, table.table, f"people-{uuid.uuid4().hex[:6]}")


def _back_to_transform(page: Page, transform_id: str) -> None:
    page.get_by_test_id("back-to-transform").click()
    page.wait_for_url(f"**/console/transforms/{transform_id}")


def test_sign_in_and_create_transform(page: Page, region: str, region_glue: Any, s3: Any) -> None:
    table = people_table(region_glue, s3)
    page.goto("/console/")
    page.wait_for_url("**/console/sign-in*")  # no session: the console asks to sign in
    sign_in(page, region)
    assert "No transforms" in page.locator("main").inner_text()

    name = "people-dedup"
    transform_id = create_transform(page, table.database, table.table, name)
    assert page.get_by_role("heading", level=1).inner_text() == name
    assert page.get_by_test_id("label-count").inner_text() == "0"
    transform = region_glue.get_ml_transform(TransformId=transform_id)
    assert transform["Name"] == name
    assert transform["InputRecordTables"] == [{"DatabaseName": table.database, "TableName": "people"}]
    assert transform["Parameters"]["FindMatchesParameters"]["PrimaryKeyColumnName"] == "id"

    page.goto("/console/")
    rows = page.get_by_test_id("transform-row")
    assert rows.count() == 1 and rows.first.get_attribute("data-transform-id") == transform_id


def test_teach_two_rounds_by_mouse_then_keyboard(
    page: Page, region: str, region_glue: Any, s3: Any, seen: Seen
) -> None:
    table = people_table(region_glue, s3)
    truth = table.truth()
    transform_id = _signed_in_transform(page, region, table)

    # Round 1, by mouse: click each record's group field and type its entity; "Next set" between sets.
    teach(page)
    sets = labeling_sets(page)
    assert len(sets) >= 2
    for labeling_set in sets:
        for field, record_id in zip(labeling_set.inputs.all(), labeling_set.record_ids, strict=True):
            field.click()
            field.fill(truth[record_id])
        labeling_set.section.get_by_test_id("next-set").click()
    first_round = sum(len(s.record_ids) for s in sets)
    page.get_by_test_id("submit-labels").click()
    assert wait_import(page) == first_round

    # Round 2, by keyboard only: focus the first record, then keys; the last Enter lands on Submit.
    _back_to_transform(page, transform_id)
    assert page.get_by_test_id("label-count").inner_text() == str(first_round)
    teach(page)
    sets = labeling_sets(page)
    page.get_by_test_id("label-input").first.focus()
    label_by_keyboard(page, sets, truth)
    submit = page.get_by_test_id("submit-labels")
    assert submit.evaluate("button => button === document.activeElement")
    # every record got a group, and records share one exactly when they are the same entity
    for labeling_set in sets:
        groups = labeling_set.inputs.evaluate_all("inputs => inputs.map((input) => input.value)")
        entities = [truth[r] for r in labeling_set.record_ids]
        assert all(groups)
        assert len(set(groups)) == len(set(entities)) == len(set(zip(groups, entities, strict=True)))
    page.keyboard.press("Enter")
    second_round = sum(len(s.record_ids) for s in sets)
    assert wait_import(page) == first_round + second_round

    _back_to_transform(page, transform_id)
    assert page.get_by_test_id("label-count").inner_text() == str(first_round + second_round)
    assert page.get_by_test_id("transform-status").inner_text() == "READY"
    assert not seen.page_errors and not seen.dialogs


def test_labeling_draft_survives_reload(page: Page, region: str, region_glue: Any, s3: Any) -> None:
    table = people_table(region_glue, s3)
    truth = table.truth()
    _signed_in_transform(page, region, table)
    run_id = teach(page)
    sets = labeling_sets(page)
    assert len(sets) >= 2

    # the first set by keyboard, then one record of the second
    page.get_by_test_id("label-input").first.focus()
    label_by_keyboard(page, sets[:1], truth)
    page.keyboard.press("z")
    before = [s.inputs.evaluate_all("inputs => inputs.map((input) => input.value)") for s in sets]
    assert all(before[0]) and before[1][0] == "z"
    draft_key = page.locator("form[data-labeling]").get_attribute("data-draft-key")
    assert draft_key and run_id in draft_key
    stored = json.loads(page.evaluate("key => localStorage.getItem(key)", draft_key))
    assert len(stored) == len(sets[0].record_ids) + 1

    page.reload()
    page.get_by_test_id("record").first.wait_for(state="attached")
    after = [
        s.inputs.evaluate_all("inputs => inputs.map((input) => input.value)") for s in labeling_sets(page)
    ]
    assert after == before
    # the page opens at the first set still to do, not at the start
    assert sets[0].section.is_hidden() and sets[1].section.is_visible()

    # submitting clears the draft
    page.get_by_test_id("submit-labels").click()
    assert wait_import(page) == len(stored)
    assert page.evaluate("key => localStorage.getItem(key)", draft_key) is None


def test_script_in_a_record_shows_as_text(
    page: Page, region: str, region_glue: Any, s3: Any, seen: Seen
) -> None:
    from findmatches import sample

    rows = sample.generate(entities=150)
    for row in rows:
        row["street"] = "<script>alert(1)</script> " + row["street"]
        row["city"] = f'<img src=x onerror="alert(2)">{row["city"]}'
    table = people_table(region_glue, s3, rows)
    _signed_in_transform(page, region, table)
    teach(page)

    first = page.get_by_test_id("labeling-set").first
    cells = first.locator("td").all_inner_texts()
    assert any(c.startswith("<script>alert(1)</script> ") for c in cells), cells
    assert any(c.startswith('<img src=x onerror="alert(2)">') for c in cells), cells
    assert page.locator("main script, main img").count() == 0
    # the page still works with them: label a record by keyboard
    page.get_by_test_id("label-input").first.focus()
    page.keyboard.press("a")
    assert page.get_by_test_id("label-input").first.input_value() == "a"
    assert seen.dialogs == []
    assert seen.page_errors == []
    assert not [e for e in seen.console_errors if "Content Security Policy" in e], seen.console_errors


def test_group_by_click(page: Page, region: str, region_glue: Any, s3: Any) -> None:
    """With the mouse only: a click on a record, then on another, puts the second in the first's group (a
    record without a group gets the set's next free one); the groups are submitted as labels."""
    table = people_table(region_glue, s3)
    _signed_in_transform(page, region, table)
    teach(page)
    first = labeling_sets(page)[0]
    rows = first.section.get_by_test_id("record")
    assert rows.count() >= 3
    cell = "td:nth-child(2)"  # a value cell, not the group field
    rows.nth(0).locator(cell).click()
    rows.nth(2).locator(cell).click()
    rows.nth(1).locator(cell).click()
    values = first.inputs.evaluate_all("inputs => inputs.map((input) => input.value)")
    assert values[0] and values[2] == values[0]
    assert values[1] and values[1] != values[0]  # picked alone: a group of its own
    assert "picked" in (rows.nth(1).get_attribute("class") or "")
    rows.nth(1).locator(cell).click()  # a second click unpicks it
    assert "picked" not in (rows.nth(1).get_attribute("class") or "")


def test_evaluate_find_matches_and_open_a_group(
    page: Page, region: str, region_glue: Any, s3: Any, seen: Seen
) -> None:
    table = people_table(region_glue, s3)
    truth = table.truth()
    transform_id = _signed_in_transform(page, region, table)
    teach(page)
    page.get_by_test_id("label-input").first.focus()
    label_by_keyboard(page, labeling_sets(page), truth)
    page.keyboard.press("Enter")
    wait_import(page)
    _back_to_transform(page, transform_id)

    # Quality: evaluate, and the page shows the figures and the curve once the run ends.
    page.get_by_test_id("quality-link").click()
    page.get_by_test_id("evaluate").click()
    page.get_by_test_id("f1").wait_for(timeout=RUN_TIMEOUT_MS)
    assert 0.0 <= float(page.get_by_test_id("f1").inner_text()) <= 1.0
    assert page.get_by_test_id("pr-curve").is_visible()
    _back_to_transform(page, transform_id)

    # Matches: find them, then open the largest group's first explanation: its bars show.
    page.get_by_test_id("matches-link").click()
    page.get_by_test_id("find-matches").click()
    page.wait_for_url(re.compile(r"/matches/[^/?]+$"))
    group = page.get_by_test_id("match-group").first
    group.wait_for(timeout=RUN_TIMEOUT_MS)
    records = group.get_by_test_id("match-record")
    assert int(group.get_attribute("data-size") or 0) == records.count() >= 2
    assert {truth[r.get_attribute("data-record-id") or ""] for r in records.all()}  # keys of the sample
    explanation = group.get_by_test_id("explanation").first
    bars = explanation.get_by_test_id("explanation-column")
    assert not bars.first.is_visible()  # closed until asked
    explanation.locator("summary").click()
    assert bars.first.is_visible()
    assert bars.first.get_attribute("data-column") == "prior"
    assert not seen.page_errors and not seen.dialogs
