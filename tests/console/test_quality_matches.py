"""Quality and matches through the console over HTTP: evaluate after teaching, find matches, browse them."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

from findmatches.console.labeling_files import console_folder
from tests.conftest import ServerProcess, client
from tests.console.conftest import another_accounts_transform, create_transform, people_table
from tests.console.support import Browser, Page

EVIL_STREET = "<script>alert(1)</script>"
EVIL_ID = 'x"><b>bold</b>'


def _teach_round(browser: Browser, transform_id: str, truth: dict[str, str]) -> None:
    """Ask for a labeling set, label every record with its true entity, import the labels."""
    csrf = browser.csrf(f"/console/transforms/{transform_id}")
    location = browser.post(f"/console/transforms/{transform_id}/teach", {"csrf_token": csrf}).headers[
        "location"
    ]
    assert browser.wait_run(transform_id, location.rsplit("/", 1)[1])["status"] == "SUCCEEDED"
    labeling = browser.get(location)
    fields = {"csrf_token": labeling.field("csrf_token")}
    for record, field in zip(labeling.testids("record"), labeling.testids("label-input"), strict=True):
        fields[field["name"]] = truth[record["data-record-id"]]
    submitted = browser.post(location, fields)
    assert submitted.status == 303, submitted.text
    state = browser.wait_run(transform_id, submitted.headers["location"].rsplit("/", 1)[1])
    assert state["status"] == "SUCCEEDED", state


def test_evaluate_and_find_matches(
    browser: Browser, region_glue: Any, s3: Any, server: ServerProcess, region: str
) -> None:
    from findmatches import sample

    rows = sample.generate()
    for row in rows:
        row["street"] = f"{EVIL_STREET} {row['street']}"
    rows[0]["id"] = EVIL_ID
    table = people_table(region_glue, s3, rows)
    transform_id = create_transform(browser, table)
    quality_path = f"/console/transforms/{transform_id}/quality"
    assert browser.get(quality_path).testids("not-evaluated")
    assert browser.get(f"/console/transforms/{transform_id}").testid("quality-link")["href"] == quality_path

    truth = table.truth()
    _teach_round(browser, transform_id, truth)
    _teach_round(browser, transform_id, truth)

    # -- quality ---------------------------------------------------------------------------------
    assert browser.post(quality_path, {}).status == 403  # no CSRF token: nothing starts
    assert (
        region_glue.get_ml_task_runs(TransformId=transform_id, Filter={"TaskRunType": "EVALUATION"})[
            "TaskRuns"
        ]
        == []
    )
    page = browser.get(quality_path)
    clicked = browser.post(quality_path, {"csrf_token": page.field("csrf_token")})
    assert clicked.status == 303 and clicked.headers["location"] == quality_path
    waiting = browser.get(quality_path)
    status = waiting.testid("run-status")
    run_id = region_glue.get_ml_task_runs(TransformId=transform_id, Filter={"TaskRunType": "EVALUATION"})[
        "TaskRuns"
    ][0]["TaskRunId"]
    if status.text in ("STARTING", "RUNNING"):  # the status updates live
        assert status["data-status-url"].endswith(f"/runs/{run_id}/status")
    assert browser.wait_run(transform_id, run_id)["status"] == "SUCCEEDED"
    quality = browser.get(quality_path)
    assert quality.status == 200
    f1 = float(quality.testid("f1").text)
    assert 0.0 <= f1 <= 1.0
    for name in ("precision", "recall", "auprc"):
        assert 0.0 <= float(quality.testid(name).text) <= 1.0
    metrics = region_glue.get_ml_transform(TransformId=transform_id)["EvaluationMetrics"][
        "FindMatchesMetrics"
    ]
    assert quality.testid("f1").text == f"{metrics['F1']:.3f}"
    matrix = metrics["ConfusionMatrix"]
    assert quality.testid("true-positives").text == str(matrix["NumTruePositives"])
    assert quality.testid("false-negatives").text == str(matrix["NumFalseNegatives"])
    bars = quality.testids("column-importance")
    assert [b["data-column"] for b in bars] == [c["ColumnName"] for c in metrics["ColumnImportances"]]
    meters = [e for e in quality.elements if e.tag == "meter"]
    assert len(meters) == len(bars) and all(0.0 <= float(m["value"]) <= 1.0 for m in meters)
    # the precision-recall curve of the cross-validated scores, with the tradeoff's threshold marked on it
    assert quality.testid("pr-curve").tag == "svg"
    path = quality.testid("pr-path")["d"]
    assert path.startswith("M") and path.count("L") >= 2
    marker = quality.testid("pr-threshold")
    x, y = float(marker["cx"]), float(marker["cy"])
    recall_x = 36.0 + metrics["Recall"] * (360.0 - 72.0)  # the marked point is the evaluation's own
    precision_y = 260.0 - 36.0 - metrics["Precision"] * (260.0 - 72.0)
    assert abs(x - recall_x) < 0.2 and abs(y - precision_y) < 0.2, (x, y, recall_x, precision_y)
    assert "(0.50) sets: precision" in quality.text
    # the transforms list shows the last evaluation's F1
    row = browser.get("/console/").testid("transform-row")
    assert f"{metrics['F1']:.3f}" in row.text

    # -- matches ---------------------------------------------------------------------------------
    matches_path = f"/console/transforms/{transform_id}/matches"
    assert browser.post(matches_path, {}).status == 403
    page = browser.get(matches_path)
    assert page.testids("matches-run") == []
    clicked = browser.post(matches_path, {"csrf_token": page.field("csrf_token")})
    assert clicked.status == 303, clicked.text
    location = clicked.headers["location"]
    run_id = location.rsplit("/", 1)[1]
    assert location == f"{matches_path}/{run_id}"
    assert browser.get(location).testid("run-status")
    assert browser.wait_run(transform_id, run_id)["status"] == "SUCCEEDED"
    assert [r["data-run-id"] for r in browser.get(matches_path).testids("matches-run")] == [run_id]

    shown = browser.get(location)
    assert shown.status == 200, shown.text
    groups = shown.testids("match-group")
    assert 0 < len(groups) <= 20
    sizes = [int(g["data-size"]) for g in groups]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] >= 2
    records = shown.testids("match-record")
    assert len(records) == sum(sizes)
    explained = _check_explanations(shown, {r["data-record-id"] for r in records})
    assert shown.testids("next-page")  # the sample has more than 20 groups
    second = browser.get(f"{location}?page=2").testids("match-group")
    assert second and int(second[0]["data-size"]) <= sizes[-1]
    # values are text: escaped, never markup
    assert EVIL_STREET not in shown.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text
    assert not [e for e in shown.elements if e.tag == "script" and "src" not in e.attrs]
    assert not [e for e in shown.elements if e.tag == "b"]

    # search by primary key: the record's own group
    for key in (EVIL_ID, records[0]["data-record-id"]):
        found = browser.get(f"{location}?key={quote(key)}")
        group = found.testid("match-group")
        assert key in [r["data-record-id"] for r in found.testids("match-record")]
        assert group["data-size"] == str(len(found.testids("match-record")))
        shown_why = {e["data-record-id"]: "open" in e.attrs for e in found.testids("explanation")}
        assert [k for k, opened in shown_why.items() if opened] == ([key] if key in shown_why else [])
    assert browser.get(f"{location}?key=no-such-key").testids("no-group")

    # the download is the run's output file
    download = browser.get(shown.testid("download")["href"])
    assert download.status == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    out = list(csv.DictReader(io.StringIO(download.text)))
    assert len(out) == len(rows)
    assert {"match_id", "match_confidence_score", "match_explanation", "id"} <= set(out[0])
    assert {r["id"] for r in out} == {r["id"] for r in rows}
    # a waterfall for exactly the shown records that the output explains (not those in no candidate pair)
    shown_keys = {r["data-record-id"] for r in records}
    assert explained == {r["id"] for r in out if r["match_explanation"] and r["id"] in shown_keys}
    assert len(explained) >= len(shown_keys) // 2

    # The Spark engine writes several part files of one run: the page and the download read them all, in order.
    folder = console_folder(server.data_dir, "000000000000", region, transform_id) / "matches"
    header, *written = list(csv.reader(io.StringIO((folder / f"part-00000-{run_id}.csv").read_text())))
    half = len(written) // 2
    for i, part in enumerate((written[:half], written[half:])):
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([header, *part])
        (folder / f"part-{i:05d}-{run_id}.csv").write_text(text.getvalue())
    again = browser.get(shown.testid("download")["href"])
    assert list(csv.DictReader(io.StringIO(again.text))) == out
    assert [g["data-size"] for g in browser.get(location).testids("match-group")] == [str(n) for n in sizes]

    # a run of another type is no find-matches run, neither page nor download
    other = region_glue.get_ml_task_runs(TransformId=transform_id, Filter={"TaskRunType": "EVALUATION"})
    other_id = other["TaskRuns"][0]["TaskRunId"]
    assert browser.get(f"{matches_path}/{other_id}").status == 404
    assert browser.get(f"{matches_path}/{other_id}/download").status == 404


def _check_explanations(page: Page, keys: set[str]) -> set[str]:
    """Each waterfall shown (one per explained record): the prior, one bar per column, the score, the weights
    adding up. Returns the records that have one."""
    explanations = page.testids("explanation")
    explained = [e["data-record-id"] for e in explanations]
    assert len(set(explained)) == len(explained) and set(explained) <= keys
    assert all(e.tag == "details" for e in explanations)
    bars = page.testids("explanation-column")
    per = len(bars) // len(explanations)
    assert per * len(explanations) == len(bars)
    for i in range(len(explanations)):
        rows = bars[i * per : (i + 1) * per]
        assert rows[0]["data-column"] == "prior" and rows[-1]["data-column"] == "score"
        assert [r["data-column"] for r in rows[1:-1]][-1] == "(whole record)"
        assert {r["data-level"] for r in rows[1:-1]} <= {"exact", "close", "different", "missing"}
        total = sum(float(r["data-weight"]) for r in rows[:-1])
        assert abs(total - float(rows[-1]["data-weight"])) < 1e-4
    rects = [e for e in page.elements if e.tag == "rect"]
    assert {r["class"] for r in rects} <= {"positive", "negative"} and "positive" in {
        r["class"] for r in rects
    }
    assert not [e for e in page.elements if "style" in e.attrs]  # the CSP allows no inline style
    return set(explained)


def test_not_ready_transform_cannot_be_evaluated_or_matched(
    browser: Browser, region_glue: Any, s3: Any
) -> None:
    transform_id = create_transform(browser, people_table(region_glue, s3))
    for path in ("quality", "matches"):
        page = browser.get(f"/console/transforms/{transform_id}/{path}")
        refused = browser.post(
            f"/console/transforms/{transform_id}/{path}", {"csrf_token": page.field("csrf_token")}
        )
        assert refused.status == 400 and "READY" in refused.testid("error").text
    assert region_glue.get_ml_task_runs(TransformId=transform_id)["TaskRuns"] == []


def test_another_accounts_transform_is_not_found_on_quality_and_matches(
    server: ServerProcess, region: str, browser: Browser
) -> None:
    transform_id = another_accounts_transform(server, region)
    theirs = client(server.url, access_key="AKIDOTHER", secret_key="other-secret", region=region)
    base = f"/console/transforms/{transform_id}"
    for path in ("/quality", "/matches", "/matches/0123abcd", "/matches/0123abcd/download"):
        page = browser.get(base + path)
        assert page.status == 404, path
        assert "theirs" not in page.text
    csrf = browser.csrf()
    for path in ("/quality", "/matches"):
        assert browser.post(base + path, {"csrf_token": csrf}).status == 404, path
    assert theirs.get_ml_task_runs(TransformId=transform_id)["TaskRuns"] == []
