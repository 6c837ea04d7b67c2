"""Console labeling by keyboard: keystrokes and clicks per record, driving the console in a real browser.

Starts ``findmatches serve`` on a free loopback port with a temporary data dir, catalogs a generated set of
people (``findmatches.sample``: records with a hidden true entity), signs in to the console in headless
Chromium (Playwright), creates a transform with the form, and teaches it as a person who knows the truth
would with the keyboard only: one click on the first record's group field, then per set ``=`` when its
records are all one entity, ``-`` when all are different, else a letter per record (each moves to the next
record), and Enter for the next set; Enter on Submit at the end of a round. Rounds go on until at least
``--records`` records are labelled (a round that reaches it mid-way is submitted with one click). Every key
and click is counted by the driver and, as a cross-check, by listeners in the page (trusted events only);
the imports' label counts must match the records labelled. Goal: under 1.5 inputs per record on average.

    .venv/bin/python bench/console_labeling.py [--records 100] [--json bench/results/console_labeling.json]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import RESULTS, Server, catalog_table, client, print_table, write_json
from findmatches import sample

GOAL = 1.5
CHROMIUM = os.environ.get("FINDMATCHES_CHROMIUM", "/usr/bin/chromium")
COLUMNS = ["id", "first_name", "last_name", "birth_date", "street", "city", "zip", "email"]
RUN_TIMEOUT_MS = 300_000
#: Counts trusted key presses and clicks in the page, whatever the driver believes it sent.
COUNTERS = """
window.__inputs = { keys: 0, clicks: 0 };
document.addEventListener("keydown", (e) => { if (e.isTrusted) window.__inputs.keys++; }, true);
document.addEventListener("mousedown", (e) => { if (e.isTrusted) window.__inputs.clicks++; }, true);
"""

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the bench says what to install
    sys.exit("this bench needs Playwright: .venv/bin/pip install -e '.[browser]'")


@dataclass
class SetResult:
    round: int
    set: int
    records: int
    entities: int
    kind: str
    keys: int
    seconds: float

    def row(self) -> dict[str, Any]:
        return {**self.__dict__, "keys_per_record": round(self.keys / self.records, 3)}


def keys_for(entities: list[str]) -> tuple[str, list[str]]:
    """The kind of set and the keys a person types for it (before the Enter that moves on)."""
    distinct = list(dict.fromkeys(entities))
    if len(distinct) == 1:
        return "same", ["="]
    if len(distinct) == len(entities):
        return "different", ["-"]
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "mixed", [letters[distinct.index(e)] for e in entities]


def launch(playwright: Any) -> Browser:
    args = ["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--disable-extensions"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    browser: Browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    return browser


def create_transform(page: Page, database: str, table: str) -> str:
    page.goto("/console/transforms/new")
    with page.expect_navigation():
        page.get_by_test_id("database").select_option(database)
    with page.expect_navigation():
        page.get_by_test_id("table").select_option(table)
    page.get_by_test_id("name").fill("people-bench")
    page.get_by_test_id("primary-key").select_option("id")
    page.get_by_test_id("create").click()
    page.wait_for_url(re.compile(r"/console/transforms/(?!new)[^/?]+$"))
    return page.url.rsplit("/", 1)[1]


def wait_import(page: Page) -> int:
    """On the import run's page: wait for the run to end (the page reloads); return the label count."""
    page.wait_for_url(re.compile(r"/runs/[^/?]+$"))
    page.locator('[data-testid="run-status"]:not([data-status-url])').wait_for(timeout=RUN_TIMEOUT_MS)
    status = page.get_by_test_id("run-status").inner_text()
    if status != "SUCCEEDED":
        raise RuntimeError(f"import run {status}: {page.url}")
    return int(page.get_by_test_id("label-count").inner_text())


def label_round(page: Page, number: int, truth: dict[str, str], wanted: int) -> tuple[list[SetResult], int]:
    """One labeling page: sets by keyboard until ``wanted`` records are labelled or the sets run out, then
    submit. Returns the sets' results and the inputs spent outside them (the first click and the submit)."""
    sections = page.get_by_test_id("labeling-set").all()
    first = page.get_by_test_id("label-input").first
    # The page focuses the first record without a group; a click only where it did not.
    clicks = 0 if first.evaluate("input => input === document.activeElement") else 1
    if clicks:
        first.click()
    overhead, labelled = clicks, 0
    results: list[SetResult] = []
    for index, section in enumerate(sections):
        ids = [r.get_attribute("data-record-id") or "" for r in section.get_by_test_id("record").all()]
        entities = [truth[i] for i in ids]
        kind, keys = keys_for(entities)
        began = time.perf_counter()
        for key in [*keys, "Enter"]:
            page.keyboard.press(key)
        groups = section.get_by_test_id("label-input").evaluate_all("inputs => inputs.map((i) => i.value)")
        pairs = set(zip(groups, entities, strict=True))
        if not all(groups) or not len(pairs) == len(set(groups)) == len(set(entities)):
            raise RuntimeError(f"set {index + 1} labelled wrongly: {groups} for {entities}")
        results.append(
            SetResult(
                number,
                index + 1,
                len(ids),
                len(set(entities)),
                kind,
                len(keys) + 1,
                time.perf_counter() - began,
            )
        )
        labelled += len(ids)
        if labelled >= wanted:
            break
    counted = page.evaluate("() => window.__inputs")
    sent_keys = sum(r.keys for r in results)
    if counted != {"keys": sent_keys, "clicks": clicks}:
        raise RuntimeError(f"the page saw {counted}; the driver sent {sent_keys} keys and {clicks} clicks")
    submit = page.get_by_test_id("submit-labels")
    if submit.evaluate("button => button === document.activeElement"):
        page.keyboard.press("Enter")  # the last set's Enter put the focus here
    else:
        submit.click()  # stopped mid-round: the remaining sets stay unlabelled
    return results, overhead + 1


def take_screenshots(page: Page, transform_id: str, truth: dict[str, str], folder: Path) -> None:
    """The README's pictures at 1280x800: a labeling page with its first set grouped, and the quality page
    after an evaluation."""
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_test_id("teach").click()
    page.get_by_test_id("record").first.wait_for(timeout=RUN_TIMEOUT_MS)
    page.locator("html[data-js-ready]").wait_for(state="attached")
    section = page.get_by_test_id("labeling-set").first
    ids = [r.get_attribute("data-record-id") or "" for r in section.get_by_test_id("record").all()]
    _, keys = keys_for([truth[i] for i in ids])
    for key in keys[:-1]:  # all but the last record: the page mid-set
        page.keyboard.press(key)
    page.screenshot(path=str(folder / "console-labeling.png"), full_page=True)
    page.goto(f"/console/transforms/{transform_id}/quality")
    page.get_by_test_id("evaluate").click()
    page.get_by_test_id("f1").wait_for(timeout=RUN_TIMEOUT_MS)
    page.screenshot(path=str(folder / "console-quality.png"), full_page=True)


def run(records: int, entities: int, screenshots: Path | None = None) -> dict[str, Any]:
    rows = sample.generate(entities=entities)
    truth = {r["id"]: r["entity"] for r in rows}
    with tempfile.TemporaryDirectory(prefix="findmatches-bench-") as tmp:
        root = Path(tmp)
        (root / "people").mkdir()
        (root / "people" / "people.csv").write_text(sample.to_csv(rows, COLUMNS))
        server = Server(root / "data", allow=[root])
        try:
            glue = client(server.url)
            catalog_table(glue, "people", str(root / "people") + "/", COLUMNS)
            with sync_playwright() as playwright:
                browser = launch(playwright)
                context = browser.new_context(base_url=server.url)
                context.add_init_script(COUNTERS)
                context.set_default_timeout(30_000)
                page = context.new_page()
                page.goto("/console/sign-in")
                page.get_by_test_id("access-key").fill("test")
                page.get_by_test_id("secret-key").fill("test")
                page.get_by_test_id("region").fill("us-east-1")
                page.get_by_test_id("sign-in").click()
                page.get_by_test_id("sign-out").wait_for()
                transform_id = create_transform(page, "bench", "people")

                sets: list[SetResult] = []
                rounds: list[dict[str, Any]] = []
                overhead = 0
                while sum(s.records for s in sets) < records:
                    number = len(rounds) + 1
                    began = time.perf_counter()
                    page.get_by_test_id("teach").click()
                    page.get_by_test_id("record").first.wait_for(timeout=RUN_TIMEOUT_MS)
                    page.locator("html[data-js-ready]").wait_for(state="attached")  # console.js's handlers
                    generated = time.perf_counter()
                    wanted = records - sum(s.records for s in sets)
                    done, extra = label_round(page, number, truth, wanted)
                    labelled = time.perf_counter()
                    count = wait_import(page)
                    sets += done
                    overhead += extra
                    if count != sum(s.records for s in sets):
                        raise RuntimeError(f"label count {count}; {sum(s.records for s in sets)} labelled")
                    rounds.append(
                        {
                            "round": number,
                            "sets": len(done),
                            "records": sum(s.records for s in done),
                            "labeling_run_s": round(generated - began, 2),
                            "labeling_s": round(labelled - generated, 2),
                            "import_run_s": round(time.perf_counter() - labelled, 2),
                            "label_count": count,
                        }
                    )
                    page.goto(f"/console/transforms/{transform_id}")
                if screenshots is not None:
                    take_screenshots(page, transform_id, truth, screenshots)
                browser.close()
        finally:
            server.stop()
    labelled = sum(s.records for s in sets)
    keys = sum(s.keys for s in sets)
    inputs = keys + overhead
    return {
        "sets": sets,
        "rounds": rounds,
        "summary": {
            "records": labelled,
            "sets": len(sets),
            "rounds": len(rounds),
            "set_keys": keys,
            "round_inputs": overhead,
            "inputs": inputs,
            "inputs_per_record": round(inputs / labelled, 3),
            "goal": GOAL,
            "met": inputs / labelled < GOAL,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100, help="records to label (default %(default)s)")
    parser.add_argument("--entities", type=int, default=400, help="entities generated (default %(default)s)")
    parser.add_argument("--json", type=Path, default=RESULTS / "console_labeling.json")
    parser.add_argument("--screenshots", type=Path, help="also save the README's screenshots in this folder")
    args = parser.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"this bench needs Chromium at {CHROMIUM} (apt-get install chromium)")
    result = run(args.records, args.entities, args.screenshots)
    summary = result["summary"]
    print_table("Sets, labelled by keyboard", [s.row() for s in result["sets"]])
    print_table("Rounds", result["rounds"])
    print(
        f"\n{summary['records']} records in {summary['sets']} sets over {summary['rounds']} rounds: "
        f"{summary['set_keys']} keys in the sets + {summary['round_inputs']} to start and submit the rounds = "
        f"{summary['inputs_per_record']:.3f} inputs per record (goal < {GOAL}: "
        f"{'met' if summary['met'] else 'NOT met'})"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    write_json(
        str(
            args.json.resolve()
        ),  # a path under RESULTS, or anywhere: RESULTS / an absolute path is that path
        {
            "benchmark": "console_labeling",
            "chromium": CHROMIUM,
            "setup": {
                "data": f"findmatches.sample.generate(entities={args.entities})",
                "target_records": args.records,
                "strategy": "one click on the first group field; per set '=' all same, '-' all different, "
                "else a letter per record; Enter per set; Enter (or a click mid-round) to submit",
            },
            "goal": f"inputs (keys + clicks) per record < {GOAL}",
            "summary": summary,
            "rounds": result["rounds"],
            "sets": [s.row() for s in result["sets"]],
        },
    )


if __name__ == "__main__":
    main()
