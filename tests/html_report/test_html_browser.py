"""The reports opened in a real headless Chromium (Debian's /usr/bin/chromium) via Playwright.

Locally, without Chromium or Playwright, these tests skip and say why; with ``CI`` set
they fail instead, so a CI machine cannot pass them by missing the browser.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from html_report_helpers import SCRIPT, report

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("SANDBOX_CHROMIUM", "/usr/bin/chromium"))


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -c constraints.txt -e '.[dev]')"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)) and not shutil.which(
        str(CHROMIUM)
    ):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


# Module scope: sync Playwright runs an event loop in this thread until it stops, and
# later tests call asyncio.run(), which refuses to start inside a running loop.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and the browser test cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def open_page(browser: Any, index: Path) -> tuple[Any, list[str]]:
    """The page loaded from disk, and every console error or uncaught exception."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.goto(index.as_uri(), wait_until="load")
    return page, errors


FIGURES_JS = """() => [...document.querySelectorAll('figure.figure')].map(f => {
  const img = f.querySelector('img');
  return {id: f.id, complete: !!img && img.complete,
          w: img ? img.naturalWidth : 0, h: img ? img.naturalHeight : 0,
          shown: img ? img.getBoundingClientRect().height : 0};
})"""


def check_figures(page: Any, expected: set[str]) -> None:
    figs = page.evaluate(FIGURES_JS)
    assert {f["id"] for f in figs} == {f"fig-{n}" for n in expected}
    for f in figs:
        assert f["complete"] and f["w"] > 100 and f["h"] > 100 and f["shown"] > 50, f


def check_not_pwned(page: Any) -> None:
    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert page.evaluate("() => document.scripts.length") == 0
    assert page.evaluate("() => document.querySelectorAll('[onerror]').length") == 0


def test_run_report_in_browser(
    browser: Any, hostile_run: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("browser-run")
    code, output = report(hostile_run, out)
    assert code == 0, output
    page, errors = open_page(browser, out / "index.html")
    check_figures(page, {"leak-matrix", "drift", "timeline"})
    check_not_pwned(page)
    assert SCRIPT in page.inner_text("body")  # shown as text, not run
    # a finding link goes to its evidence chain
    link = page.locator("a.finding-link").first
    target = link.get_attribute("href")
    link.click()
    assert page.evaluate("() => location.hash") == target
    chain = page.locator(f"article{target}")
    assert chain.is_visible() and "first said" in chain.inner_text()
    shot = out / "run.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert errors == []


def test_suite_and_ablation_reports_in_browser(
    browser: Any,
    hostile_suite: Path,
    small_ablation: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for source, figures in ((hostile_suite, {"suite-metrics"}), (small_ablation, {"composition"})):
        out = tmp_path_factory.mktemp("browser-" + source.name)
        code, output = report(source, out, "--run-pages")
        assert code == 0, output
        page, errors = open_page(browser, out / "index.html")
        check_figures(page, figures)
        check_not_pwned(page)
        shot = out / "page.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        if source is hostile_suite:  # a gate's example finding opens its chain in the run page
            link = page.locator("a.run-link[href*='#finding-']").first
            target = (link.get_attribute("href") or "").split("#", 1)[1]
            link.click()
            page.wait_for_load_state("load")
            assert page.evaluate("() => location.hash") == f"#{target}"
            assert page.locator(f"article#{target}").is_visible()
            check_not_pwned(page)
        assert errors == []
