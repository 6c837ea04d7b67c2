"""Browser fixtures: one headless Chromium per test worker, a fresh context and page per test against the
session's real server, and a screenshot under test-artifacts/ when a test fails.

Playwright is imported only inside the fixtures, so that without it (or without Chromium) the test modules
skip themselves with the reason (``require_browser``) instead of failing to import.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.support import launch
from tests.conftest import ServerProcess
from tests.console.conftest import region, region_glue

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, Playwright

__all__ = ["region", "region_glue"]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: Playwright's wait for any one element or navigation, in ms: generous, the pages answer in milliseconds.
DEFAULT_TIMEOUT_MS = 30_000


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test, for the page fixture to see whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = launch(playwright)
    yield browser
    browser.close()


@dataclass
class Seen:
    """What the page did besides rendering: dialogs it opened, script errors, console errors."""

    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, chromium: Browser, server: ServerProcess, seen: Seen
) -> Iterator[Page]:
    """A page in a fresh context (its own cookies and localStorage) on the session server; on failure a
    full-page screenshot goes to test-artifacts/<test>.png."""
    context = chromium.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()

    def on_dialog(dialog: Dialog) -> None:
        seen.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            seen.console_errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: seen.page_errors.append(str(error)))
    page.on("console", on_console)
    yield page
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as e:  # a crashed page: the failure itself says more than the missing shot
            print(f"no screenshot of {request.node.nodeid}: {e}")
    context.close()
