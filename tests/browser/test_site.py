"""The rendered site in headless Chromium: every page of the book loads offline with its figures drawn.

The site is what ``bash scripts/build_site.sh`` built into ``site/_build/html`` (``scripts/test.sh``
builds it at the ci preset after the test suite, then runs this module with
``CORAL_LAB_REQUIRE_SITE=1``, so that in CI a missing build fails instead of skipping). Pages are served
from 127.0.0.1 and every request to another host is refused, as on a machine without network: the
site must not need the internet to show its figures. For each notebook page the test counts the
figures its executed notebook holds (PNG outputs, plotly figures) and checks that as many images are
loaded (``naturalWidth > 0``) and as many plotly charts are drawn (an SVG inside each chart).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "site" / "_build" / "html"
STAGE = ROOT / "site" / "_build" / "stage"   # the executed notebooks the site was built from

# The console errors and page errors a page may show, each with why; any other fails the test.
ALLOWED_ERRORS = {
    # requests to other hosts, refused as offline: MathJax comes from a CDN (formulas stay TeX source)
    "Failed to load resource": "offline: a CDN resource refused",
    # sphinx-book-theme 1.3.0 (jupyter-book 1.0.4) declares thebe's URL in two scripts of every page;
    # nothing on the pages uses thebe (no launch buttons are configured)
    "Identifier 'THEBE_JS_URL' has already been declared": "the theme's duplicate thebe declaration",
    # pydata-sphinx-theme 0.17.1 logs this when no light / dark mode is stored yet, then uses auto
    "Got invalid theme mode: . Resetting to auto.": "the theme's first-visit message",
}


def unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(known in e for known in ALLOWED_ERRORS)]


def _require_site() -> None:
    if (SITE / "index.html").is_file() and STAGE.is_dir():
        return
    message = "no built site in site/_build; build it with `CORAL_LAB_PRESET=ci bash scripts/build_site.sh`"
    if os.environ.get("CORAL_LAB_REQUIRE_SITE") == "1":
        pytest.fail(message + " (CORAL_LAB_REQUIRE_SITE=1: not skipping)", pytrace=False)
    pytest.skip(message)


def _pages() -> list[str]:
    """The notebook pages of the book, as paths under the site (from the staged notebooks)."""
    return sorted(f"notebooks/{p.stem}.html" for p in (STAGE / "notebooks").glob("*.ipynb")) if STAGE.is_dir() else []


def expected_figures(notebook: Path) -> tuple[int, int]:
    """(PNG images, plotly charts) among the cell outputs of an executed notebook (widget outputs excluded)."""
    nb = json.loads(notebook.read_text())
    images = charts = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            images += "image/png" in data
            html = data.get("text/html", "")
            charts += "plotly-graph-div" in ("".join(html) if isinstance(html, list) else html)
    return images, charts


@pytest.fixture(scope="module")
def site_url():
    _require_site()
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the base class names it format
        pass


def open_offline(chromium, url: str, base: str):
    """Open ``url`` with every request to another host refused; returns (page, context, errors, refused)."""
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    refused: list[str] = []

    def route(r):
        if r.request.url.startswith(base):
            r.continue_()
        else:
            refused.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text} ({m.location.get('url', '')})")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.goto(url, wait_until="load", timeout=120_000)
    return page, context, errors, refused


def test_index_page_links_every_notebook(chromium, site_url):
    page, context, errors, _ = open_offline(chromium, f"{site_url}/site/index.html", site_url)
    try:
        assert "coral_lab" in page.title()
        links = page.eval_on_selector_all("nav a.reference.internal", "els => els.map(e => e.getAttribute('href'))")
        for name in _pages():
            assert any(name in (h or "") for h in links), f"the navigation has no link to {name}: {links}"
        assert not unexpected(errors), errors
    finally:
        context.close()


@pytest.mark.parametrize("name", _pages() or ["(no built site)"])
def test_notebook_page_shows_its_figures(chromium, site_url, name):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    images, charts = expected_figures(STAGE / name.replace(".html", ".ipynb"))
    page, context, errors, refused = open_offline(chromium, f"{site_url}/{name}", site_url)
    try:
        assert page.locator("article h1").count() >= 1, f"{name}: no title"
        loaded = page.eval_on_selector_all(
            "article img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])")
        broken = [src for src, ok in loaded if not ok]
        assert not broken, f"{name}: images that did not load: {broken}"
        assert len(loaded) >= images, f"{name}: {len(loaded)} images on the page, the notebook has {images}"
        try:  # plotly draws after load; a chart that never draws is reported by the count below
            page.wait_for_function(f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {charts}",
                                   timeout=30_000)
        except PlaywrightTimeout:
            pass
        drawn = page.locator(".plotly-graph-div .main-svg").count()
        assert drawn >= charts, f"{name}: {drawn} plotly charts drawn, the notebook has {charts}"
        assert not unexpected(errors), f"{name}: errors in the page (refused offline: {refused}): {unexpected(errors)}"
    finally:
        context.close()
