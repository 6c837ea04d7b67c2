"""What the browser tests share: where Chromium is, a module-level skip when it or Playwright is missing,
and the console's pages driven through a real browser (sign in, create a transform, teach, label)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Playwright

#: Debian's Chromium (``apt-get install chromium``; .ci/run installs it); no browser download is needed.
CHROMIUM = os.environ.get("FINDMATCHES_CHROMIUM", "/usr/bin/chromium")
#: How long a labeling or import run may take to end, in ms (they take a few seconds on the sample).
RUN_TIMEOUT_MS = 120_000


def require_browser() -> None:
    """Skip the calling test module, with the reason, unless Playwright and Chromium are both here."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(
            "browser tests need Playwright: pip install -e '.[browser]' (make install does)",
            allow_module_level=True,
        )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)",
            allow_module_level=True,
        )


def launch(playwright: Playwright) -> Browser:
    """Headless Chromium as this closed-network machine allows: no sandbox as root, no /dev/shm."""
    args = ["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--disable-extensions"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def sign_in(page: Page, region: str, access_key: str = "test", secret_key: str = "test") -> None:
    page.goto("/console/sign-in")
    page.get_by_test_id("access-key").fill(access_key)
    page.get_by_test_id("secret-key").fill(secret_key)
    page.get_by_test_id("region").fill(region)
    page.get_by_test_id("sign-in").click()
    page.get_by_test_id("sign-out").wait_for()


def create_transform(page: Page, database: str, table: str, name: str) -> str:
    """Through the form: choose the database and table (each choice reloads the form), name it, create it;
    return the new transform's id (the page it lands on)."""
    page.get_by_test_id("new-transform").click()
    # console.js (deferred) makes the selects submit on change: act only once it has run
    page.wait_for_url("**/console/transforms/new")
    js_ready(page)
    with page.expect_navigation():
        page.get_by_test_id("database").select_option(database)
    with page.expect_navigation():
        page.get_by_test_id("table").select_option(table)
    page.get_by_test_id("name").fill(name)
    page.get_by_test_id("primary-key").select_option("id")
    page.get_by_test_id("create").click()
    page.wait_for_url(re.compile(r"/console/transforms/(?!new)[^/?]+$"))
    page.get_by_test_id("transform-status").wait_for()
    return page.url.rsplit("/", 1)[1]


def teach(page: Page) -> str:
    """Ask for a labeling set on the transform's page and wait on the labeling page until its records show
    (the page polls the run and reloads when it ends); return the labeling run's id."""
    page.get_by_test_id("teach").click()
    page.wait_for_url(re.compile(r"/labeling/[^/?]+$"))
    page.get_by_test_id("record").first.wait_for(timeout=RUN_TIMEOUT_MS)
    js_ready(page)  # the keyboard handlers and the draft are console.js's, deferred
    return page.url.rsplit("/", 1)[1]


def js_ready(page: Page) -> None:
    """Wait until console.js has attached its handlers (it marks the page when done)."""
    page.locator("html[data-js-ready]").wait_for(state="attached")


@dataclass(frozen=True)
class LabelingSet:
    """One set as the page shows it: its section and its records' ids in order."""

    section: Locator
    record_ids: list[str]

    @property
    def inputs(self) -> Locator:
        return self.section.get_by_test_id("label-input")


def labeling_sets(page: Page) -> list[LabelingSet]:
    sections = page.get_by_test_id("labeling-set")
    found = []
    for i in range(sections.count()):
        section = sections.nth(i)
        ids = [r.get_attribute("data-record-id") or "" for r in section.get_by_test_id("record").all()]
        found.append(LabelingSet(section, ids))
    return found


def group_keys(record_ids: Sequence[str], truth: Mapping[str, str]) -> list[str]:
    """The keys a person types for one set: a letter per entity, in order of first appearance; ``=`` when
    the records are all the same entity, ``-`` when all are different ones."""
    entities = [truth[r] for r in record_ids]
    distinct = list(dict.fromkeys(entities))
    if len(distinct) == 1:
        return ["="]
    if len(distinct) == len(entities) and len(entities) > 1:
        return ["-"]
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    return [letters[distinct.index(e)] for e in entities]


def label_by_keyboard(page: Page, sets: Sequence[LabelingSet], truth: Mapping[str, str]) -> int:
    """Label every set with keys only, from the first record's field, ending with Enter on the set (the
    last Enter moves focus to the submit button); return the keys pressed."""
    presses = 0
    for labeling_set in sets:
        for key in group_keys(labeling_set.record_ids, truth):
            page.keyboard.press(key)
            presses += 1
        page.keyboard.press("Enter")
        presses += 1
    return presses


def wait_import(page: Page) -> int:
    """On the import run's page (after submitting labels): wait for the run to end; return the label count."""
    page.wait_for_url(re.compile(r"/runs/[^/?]+$"))
    status = page.get_by_test_id("run-status")
    # The page polls the run and reloads when it ends: the reloaded status carries no polling URL.
    page.locator('[data-testid="run-status"]:not([data-status-url])').wait_for(timeout=RUN_TIMEOUT_MS)
    assert status.inner_text() == "SUCCEEDED", page.content()
    return int(page.get_by_test_id("label-count").inner_text())
