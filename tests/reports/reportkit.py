"""Helpers shared by the report tests: launch Chromium, open a page in it, collect what went
wrong, read cards and figures back out of the DOM, and parse report HTML without a browser.

Also imported by tests/loadtests/test_run.py (which puts this folder on ``sys.path``) to open
the real load test's report: both folders get their browser from :func:`launch_browser`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

#: Debian's Chromium; override with CHIRPDESK_CHROMIUM.
CHROMIUM = os.environ.get("CHIRPDESK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: Under CHIRPDESK_CI=1 a missing browser fails the tests instead of skipping them.
IN_CI = os.environ.get("CHIRPDESK_CI") == "1"

#: The repository; screenshots go to ``ARTIFACTS`` (gitignored).
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "reports"


def unavailable(reason: str) -> None:
    """Skip the calling test with ``reason``, or fail it under ``CHIRPDESK_CI=1``."""
    import pytest

    if IN_CI:
        pytest.fail(f"{reason} (CHIRPDESK_CI=1: browser tests must run; see .ci/chromium.sh)")
    pytest.skip(reason)


_shared: dict[str, Any] = {}


@contextmanager
def launch_browser() -> Iterator[Any]:
    """A headless Chromium from ``CHROMIUM`` (never downloaded), skipping or failing (CI) when
    Playwright or Chromium is missing.

    Playwright's sync API allows one instance per process, so nested or overlapping uses (the
    report tests' session browser and the load-test module's) share one browser, closed when
    the last user leaves.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    if not Path(CHROMIUM).is_file():
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or bash .ci/chromium.sh)")
    if not _shared:
        pw = sync_playwright().start()
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except BaseException:
            pw.stop()
            raise
        _shared.update(playwright=pw, browser=browser, users=0)
    _shared["users"] += 1
    try:
        yield _shared["browser"]
    finally:
        _shared["users"] -= 1
        if _shared["users"] == 0:
            try:
                _shared["browser"].close()
            finally:
                _shared["playwright"].stop()
                _shared.clear()


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and requests that left the file (should be none)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)


@contextmanager
def open_report(browser: Any, html: Path, screenshot: Path) -> Iterator[tuple[Any, PageProblems]]:
    """Open ``html`` in a fresh page, yield ``(page, problems)``, then save a full-page PNG."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems = PageProblems()
    page.on("console", lambda m: problems.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.page_errors.append(str(e)))
    page.on("request", lambda r: problems.external_requests.append(r.url)
            if not r.url.startswith(("file:", "data:", "about:")) else None)
    try:
        page.goto(html.resolve().as_uri(), wait_until="load")
        yield page, problems
        page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()


def figures(page: Any) -> list[dict[str, Any]]:
    """Every ``figure[data-plot]``: name, data-points, whether it has an svg, and its drawn size."""
    return page.eval_on_selector_all("figure[data-plot]", """els => els.map(f => {
        const svg = f.querySelector('svg');
        const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
        return {name: f.dataset.plot, points: Number(f.dataset.points), svg: !!svg,
                width: box.width, height: box.height, paths: svg ? svg.querySelectorAll('path, rect, use, image').length : 0};
    })""")


def cards(page: Any) -> dict[str, dict[str, str]]:
    """Every card by ``data-metric``: its raw ``data-value``, shown value and state."""
    items = page.eval_on_selector_all(".card[data-metric]", """els => els.map(c => ({
        metric: c.dataset.metric, value: c.dataset.value, state: c.dataset.state,
        text: c.querySelector('.value').textContent.trim()}))""")
    return {c["metric"]: c for c in items}


def assert_healthy(page: Any, problems: PageProblems, expected_plots: set[str]) -> list[dict[str, Any]]:
    """No console errors or external requests; every figure has a drawn svg with data points;
    every expected plot is present. Returns the figures."""
    assert problems.console_errors == [], problems.console_errors
    assert problems.page_errors == [], problems.page_errors
    assert problems.external_requests == [], problems.external_requests
    figs = figures(page)
    assert figs, "no figure[data-plot] on the page"
    for f in figs:
        assert f["svg"], f"{f['name']}: no svg"
        assert f["points"] > 0, f"{f['name']}: data-points={f['points']}"
        assert f["width"] > 200 and f["height"] > 80, f"{f['name']}: drawn at {f['width']}x{f['height']}"
        assert f["paths"] > 5, f"{f['name']}: svg has almost nothing drawn"
    missing = expected_plots - {f["name"] for f in figs}
    assert not missing, f"missing plots: {sorted(missing)}"
    return figs


class _Collector(HTMLParser):
    """Collects attributes of tags carrying ``data-*`` attributes, and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if any(k.startswith("data-") for k in a):
            self.tags.append((tag, a))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: Path) -> _Collector:
    """Parse a report without a browser: ``.tags`` (tag, attrs) with data-* attributes, ``.text``."""
    c = _Collector()
    c.feed(html.read_text(encoding="utf-8"))
    return c
