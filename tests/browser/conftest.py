"""Fixtures of the browser tests: one JupyterLab server and one headless Chromium per test session.

Every test in this folder is marked ``browser`` (select with ``-m browser``, leave out with
``-m "not browser"``). They need the Python package ``playwright`` and a Chromium binary; both are
installed by ``bash scripts/install.sh browser`` (Debian's ``chromium`` package; Playwright never
downloads a browser here). Where either is missing the tests skip and say how to install it, unless
``CORAL_LAB_REQUIRE_BROWSER=1`` (set by ``scripts/test.sh`` once the browser is installed), which
turns the skip into a failure.

Environment:
    CORAL_LAB_CHROMIUM   the Chromium (or Chrome) binary; default: /usr/bin/chromium, else `chromium` on PATH
    CORAL_LAB_ARTIFACTS  where screenshots and the server log go; default: a folder in pytest's tmp dir
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PLAYWRIGHT_PIN = "playwright==1.65.2"
# Chromium without network chatter or a GPU (headless, in a container, offline).
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
_INSTALL_HINT = ("install it with `bash scripts/install.sh browser` (Debian's chromium via apt-get when run as "
                 "root, and " + PLAYWRIGHT_PIN + ")")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def find_chromium() -> str | None:
    """The Chromium binary to drive: $CORAL_LAB_CHROMIUM, /usr/bin/chromium, or one on PATH."""
    explicit = os.environ.get("CORAL_LAB_CHROMIUM")
    if explicit:
        if not (Path(explicit).is_file() and os.access(explicit, os.X_OK)):
            pytest.fail(f"CORAL_LAB_CHROMIUM={explicit!r} is not an executable file; point it at a Chromium binary "
                        "or unset it", pytrace=False)
        return explicit
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _missing(what: str) -> None:
    message = f"browser tests: {what}; {_INSTALL_HINT}"
    if os.environ.get("CORAL_LAB_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (CORAL_LAB_REQUIRE_BROWSER=1: not skipping)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory) -> Path:
    """Screenshots and logs of the browser tests (CORAL_LAB_ARTIFACTS, else pytest's tmp dir)."""
    env = os.environ.get("CORAL_LAB_ARTIFACTS")
    path = Path(env).resolve() if env else tmp_path_factory.mktemp("browser-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    _ARTIFACTS.append(path)
    return path


_ARTIFACTS: list[Path] = []


def pytest_terminal_summary(terminalreporter):
    for path in _ARTIFACTS:
        terminalreporter.write_line(f"browser test artefacts (screenshots, server log): {path}")


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium driven by Playwright (the system's binary, never a downloaded one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing(f"the Python package playwright is not installed ({PLAYWRIGHT_PIN})")
    executable = find_chromium()
    if executable is None:
        _missing("no Chromium found (looked at $CORAL_LAB_CHROMIUM, /usr/bin/chromium, chromium on PATH)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def lab_server(chromium, tmp_path_factory, artifacts_dir):
    """JupyterLab 4 on 127.0.0.1 (random port, token) over copies of the notebooks, ci preset."""
    from jlab_server import JupyterLabServer

    server = JupyterLabServer(tmp_path_factory.mktemp("jupyterlab"), preset="ci")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if server.log_path.is_file():
            shutil.copy2(server.log_path, artifacts_dir / "jupyterlab-server.log")


@pytest.fixture
def lab(request, chromium, lab_server, artifacts_dir):
    """A fresh browser context and page on the server; afterwards every kernel session is deleted."""
    from jlab_page import LabPage

    lab_server.delete_sessions()
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    name = request.node.name.replace("[", "-").replace("]", "").replace(".ipynb", "")
    try:
        yield LabPage(context.new_page(), lab_server, artifacts_dir / name)
    finally:
        context.close()
        lab_server.delete_sessions()
        left = lab_server.running_kernels()
        assert not left, f"kernels still running after the test: {left}"
