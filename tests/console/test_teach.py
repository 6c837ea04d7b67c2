"""Teaching through the console over HTTP: ask for a labeling set, label it, import the labels."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tests.console.conftest import create_transform, people_table
from tests.console.support import Browser, Page


def _teach(browser: Browser, transform_id: str) -> tuple[str, Page]:
    """Click teach, wait for the labeling run, and open the labeling page."""
    page = browser.get(f"/console/transforms/{transform_id}")
    clicked = browser.post(
        f"/console/transforms/{transform_id}/teach", {"csrf_token": page.field("csrf_token")}
    )
    assert clicked.status == 303, clicked.text
    location = clicked.headers["location"]
    assert location.startswith(f"/console/transforms/{transform_id}/labeling/")
    run_id = location.rsplit("/", 1)[1]
    waiting = browser.get(location)
    if waiting.testids("record") == []:  # still working: the status updates live
        assert waiting.testid("run-status").attrs.get("data-status-url", "").endswith("/status")
    state = browser.wait_run(transform_id, run_id)
    assert state["status"] == "SUCCEEDED", state
    return run_id, browser.get(location)


def test_teach_flow_end_to_end(browser: Browser, region_glue: Any, s3: Any) -> None:
    table = people_table(region_glue, s3)
    transform_id = create_transform(browser, table)
    run_id, labeling = _teach(browser, transform_id)
    assert labeling.status == 200

    records = labeling.testids("record")
    assert 20 <= len(records) <= 130
    inputs = labeling.testids("label-input")
    assert len(inputs) == len(records)
    by_set: dict[str, list[str]] = defaultdict(list)
    for record in records:
        by_set[record["data-set-id"]].append(record["data-record-id"])
    assert 5 <= len(by_set) <= 20
    rows = {r["id"]: r for r in table.rows}
    assert all(record["data-record-id"] in rows for record in records)
    # the columns are aligned: every record row holds the group cell and one cell per column
    assert labeling.text.count('class="differs"') > 0

    truth = table.truth()
    fields = {"csrf_token": labeling.field("csrf_token")}
    for record, field in zip(records, inputs, strict=True):
        fields[field["name"]] = truth[record["data-record-id"]]
    submitted = browser.post(f"/console/transforms/{transform_id}/labeling/{run_id}", fields)
    assert submitted.status == 303, submitted.text
    import_run = submitted.headers["location"].rsplit("/", 1)[1]
    run_page = browser.get(submitted.headers["location"])
    assert run_page.status == 200 and "IMPORT_LABELS" in run_page.text
    state = browser.wait_run(transform_id, import_run)
    assert state["status"] == "SUCCEEDED", state
    assert state["label_count"] == len(records)

    page = browser.get(f"/console/transforms/{transform_id}")
    assert page.testid("label-count").text == str(len(records))
    assert page.testid("transform-status").text == "READY"
    # the import went through the API's provider: boto3 sees the same run and count
    run = region_glue.get_ml_task_run(TransformId=transform_id, TaskRunId=import_run)
    assert run["Properties"]["ImportLabelsTaskRunProperties"]["Replace"] is False
    assert region_glue.get_ml_transform(TransformId=transform_id)["LabelCount"] == len(records)

    runs = browser.get(f"/console/transforms/{transform_id}/runs")
    types = sorted(r.text.split()[0] for r in runs.testids("run-row"))
    assert types == ["IMPORT_LABELS", "LABELING_SET_GENERATION"]
    assert (
        "imported"
        in browser.get(f"/console/transforms/{transform_id}/runs/{import_run}").testid("run-log").text
    )

    # a second round merges with the first: the count grows
    run_id, labeling = _teach(browser, transform_id)
    records = labeling.testids("record")
    fields = {"csrf_token": labeling.field("csrf_token")}
    first_set = records[0]["data-set-id"]
    for record, field in zip(records, labeling.testids("label-input"), strict=True):
        if record["data-set-id"] == first_set:  # only one set labelled: the rest are left out
            fields[field["name"]] = truth[record["data-record-id"]]
    submitted = browser.post(f"/console/transforms/{transform_id}/labeling/{run_id}", fields)
    state = browser.wait_run(transform_id, submitted.headers["location"].rsplit("/", 1)[1])
    assert state["status"] == "SUCCEEDED", state
    grown = int(browser.get(f"/console/transforms/{transform_id}").testid("label-count").text)
    assert grown == int(page.testid("label-count").text) + sum(r["data-set-id"] == first_set for r in records)


def test_submit_without_labels_or_token_changes_nothing(browser: Browser, region_glue: Any, s3: Any) -> None:
    table = people_table(region_glue, s3)
    transform_id = create_transform(browser, table)
    run_id, labeling = _teach(browser, transform_id)
    path = f"/console/transforms/{transform_id}/labeling/{run_id}"
    empty = browser.post(path, {"csrf_token": labeling.field("csrf_token")})
    assert empty.status == 400 and "at least one" in empty.testid("error").text
    name = labeling.testids("label-input")[0]["name"]
    assert browser.post(path, {name: "A"}).status == 403
    assert len(region_glue.get_ml_task_runs(TransformId=transform_id)["TaskRuns"]) == 1
    # a run of another type is no labeling set
    assert browser.get(f"/console/transforms/{transform_id}/labeling/0123456789abcdef").status == 404


def test_labeling_page_escapes_record_values(browser: Browser, region_glue: Any, s3: Any) -> None:
    from findmatches import sample

    rows = sample.generate(entities=150)
    for row in rows:
        row["street"] = "<script>alert(1)</script> " + row["street"]
    rows[0]["id"] = 'x"><b>bold</b>'
    table = people_table(region_glue, s3, rows)
    transform_id = create_transform(browser, table)
    _, labeling = _teach(browser, transform_id)
    assert labeling.testids("record")
    assert "<script>alert(1)</script>" not in labeling.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in labeling.text
    assert "<b>bold</b>" not in labeling.text
    # parsed as text: the cell holds the markup as characters
    cells = [e.text for e in labeling.elements if e.tag == "td" and "alert" in e.text]
    assert cells and all(c.startswith("<script>alert(1)</script>") for c in cells)
    assert not [e for e in labeling.elements if e.tag == "script" and "src" not in e.attrs]


def test_labels_given_can_be_reviewed_and_changed(browser: Browser, region_glue: Any, s3: Any) -> None:
    """Review exports every label, shows it set by set with its group filled in, and submitting replaces the
    transform's labels with the page's: a changed group is kept, a cleared one drops that record's label."""
    table = people_table(region_glue, s3)
    transform_id = create_transform(browser, table)
    run_id, labeling = _teach(browser, transform_id)
    truth = table.truth()
    fields = {"csrf_token": labeling.field("csrf_token")}
    for record, field in zip(labeling.testids("record"), labeling.testids("label-input"), strict=True):
        fields[field["name"]] = truth[record["data-record-id"]]
    submitted = browser.post(f"/console/transforms/{transform_id}/labeling/{run_id}", fields)
    assert (
        browser.wait_run(transform_id, submitted.headers["location"].rsplit("/", 1)[1])["status"]
        == "SUCCEEDED"
    )
    page = browser.get(f"/console/transforms/{transform_id}")
    given = int(page.testid("label-count").text)

    clicked = browser.post(
        f"/console/transforms/{transform_id}/review", {"csrf_token": page.field("csrf_token")}
    )
    assert clicked.status == 303, clicked.text
    export_run = clicked.headers["location"].rsplit("/", 1)[1]
    assert browser.wait_run(transform_id, export_run)["status"] == "SUCCEEDED"
    review = browser.get(clicked.headers["location"])
    assert review.testid("reviewing")
    records, inputs = review.testids("record"), review.testids("label-input")
    assert len(records) == given
    # every record shows the label it was given (the same group for the same entity within a set)
    by_set: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record, field in zip(records, inputs, strict=True):
        assert field["value"], record["data-record-id"]
        by_set[record["data-set-id"]][field["value"]].add(truth[record["data-record-id"]])
    assert all(len(entities) == 1 for groups in by_set.values() for entities in groups.values())

    changed = {"csrf_token": review.field("csrf_token")}
    for field in inputs:
        changed[field["name"]] = field["value"]
    cleared, moved = inputs[0]["name"], inputs[1]["name"]
    changed[cleared] = ""
    changed[moved] = "a-new-group"
    done = browser.post(clicked.headers["location"], changed)
    assert done.status == 303, done.text
    import_run = done.headers["location"].rsplit("/", 1)[1]
    assert browser.wait_run(transform_id, import_run)["status"] == "SUCCEEDED"
    run = region_glue.get_ml_task_run(TransformId=transform_id, TaskRunId=import_run)
    assert run["Properties"]["ImportLabelsTaskRunProperties"]["Replace"] is True
    assert region_glue.get_ml_transform(TransformId=transform_id)["LabelCount"] == given - 1
    # a second review shows the change
    again = browser.post(
        f"/console/transforms/{transform_id}/review",
        {"csrf_token": browser.get(f"/console/transforms/{transform_id}").field("csrf_token")},
    )
    assert (
        browser.wait_run(transform_id, again.headers["location"].rsplit("/", 1)[1])["status"] == "SUCCEEDED"
    )
    shown = browser.get(again.headers["location"])
    values = {
        r["data-record-id"]: f["value"]
        for r, f in zip(shown.testids("record"), shown.testids("label-input"), strict=True)
    }
    assert records[0]["data-record-id"] not in values
    assert values[records[1]["data-record-id"]] == "a-new-group"
