"""Driving one JupyterLab page with Playwright: open a notebook, Run All, read cells, screenshots.

``LabPage`` wraps a Playwright page on a ``JupyterLabServer``. It records every console error and
uncaught page error, waits only on conditions (Playwright ``expect`` / ``wait_for_function`` with
generous timeouts, for a busy 2-core machine), and turns any failure inside ``step(...)`` into an
AssertionError that names the step, a screenshot of the page and the tail of the server log.

Selectors (JupyterLab 4.6, ipywidgets 8): cells ``.jp-Cell``; the kernel is ready when the status
bar item ``[title^='Change kernel']`` ends in ``| Idle``; Run All is the Run menu's
``[data-command='runmenu:run-all']``; a slider's handle is ``.widget-slider .noUi-handle``.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

# Timeouts in milliseconds, sized for a 2-core machine that is busy with other work.
OPEN_TIMEOUT = 120_000  # the notebook is shown and its kernel idle
# every cell of one ci-preset notebook has run: nbval needs < 2 min per notebook on an idle 2-core
# machine; notebook 10 took more than 7 min here with the machine's load at 10
RUN_ALL_TIMEOUT = 900_000
UPDATE_TIMEOUT = 120_000  # a widget callback has redrawn its output
TRIAL_TIMEOUT = 300_000  # one ci-preset trial of the interactive lab (seconds when idle)

# Front-end messages that are harmless and allowed (regular expressions on the console text).
# Keep this list short and say why each one is harmless.
ALLOWED_CONSOLE_ERRORS: dict[str, str] = {}

# What ipywidgets shows instead of a widget that did not render.
WIDGET_FAILURES = ("Loading widget...", "Error displaying widget")

# JavaScript: the state of a Run All: "done" (every code cell has an execution count and the kernel
# is idle), "stopped" (the kernel is idle, no cell is queued, and some cell never ran: a cell raised,
# and JupyterLab dropped the rest of the queue) or "" (still running). JupyterLab renders a raised
# error with the stderr mime type, so the state is read from the prompts, not from an error class.
# window.__coralRunSeen is reset before Run All and set once a cell is seen queued or running.
_RUN_STATE_JS = r"""() => {
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
    .map(e => e.textContent.trim());
  const queued = prompts.some(t => t === "[*]:");
  if (queued) window.__coralRunSeen = true;
  const status = document.querySelector("[title^='Change kernel']");
  const idle = status !== null && /\|\s*Idle$/.test(status.textContent.trim());
  if (!idle || queued) return "";
  if (prompts.length > 0 && prompts.every(t => /^\[\d+\]:$/.test(t))) return "done";
  return window.__coralRunSeen ? "stopped" : "";
}"""
# JavaScript, run before Run All is clicked: ``__coralRunSeen`` turns true at the first change of any
# cell's prompt (a MutationObserver sees every change, however short-lived; polling can miss one).
_WATCH_PROMPTS_JS = r"""() => {
  window.__coralRunSeen = false;
  if (window.__coralPromptWatch) window.__coralPromptWatch.disconnect();
  const notebook = document.querySelector('.jp-Notebook');
  if (notebook === null) return;
  window.__coralPromptWatch = new MutationObserver(records => {
    for (const r of records) {
      const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
      if (el && el.closest('.jp-InputArea-prompt')) { window.__coralRunSeen = true; return; }
    }
  });
  window.__coralPromptWatch.observe(notebook, {subtree: true, childList: true, characterData: true});
}"""
# JavaScript: the text of the outputs that hold a Python traceback (the last one first).
_TRACEBACKS_JS = r"""() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]
  .map(e => e.innerText).filter(t => /Traceback|Error\b/.test(t)).reverse()"""


class LabFailure(AssertionError):
    """A failed step, with a screenshot and the server log in its message."""


@dataclass
class LabPage:
    """One browser page on the test server, with its console errors and artefacts folder."""

    page: Page
    server: object  # JupyterLabServer
    artifacts: Path
    console_errors: list[str] = field(default_factory=list)
    _shots: int = 0

    def __post_init__(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda err: self.console_errors.append(f"page error: {err}"))

    def _on_console(self, msg) -> None:
        if msg.type == "error":
            self.console_errors.append(f"console.error: {msg.text}")

    # -- failures and artefacts --------------------------------------------------------------------

    def screenshot(self, name: str, target: Locator | None = None) -> Path:
        """Save a PNG of ``target`` (default: the whole page) as ``NN_<name>.png`` in the artefacts."""
        self._shots += 1
        path = self.artifacts / f"{self._shots:02d}_{name}.png"
        if target is None:
            self.page.screenshot(path=str(path))
        else:
            target.scroll_into_view_if_needed(timeout=UPDATE_TIMEOUT)
            target.screenshot(path=str(path), timeout=UPDATE_TIMEOUT)
        return path

    def screenshot_with_provenance(self, name: str, target: Locator | None, command: str) -> Path:
        """``screenshot`` plus a provenance sidecar (``coral_lab.config.provenance``) next to the PNG."""
        from importlib.metadata import version

        from coral_lab.config import get_preset
        from coral_lab.core.device import describe_device, resolve_device
        from coral_lab.config.provenance import provenance, write_sidecar

        path = self.screenshot(name, target)
        browser = self.page.context.browser
        seed = get_preset(self.server.preset).train.seed  # the notebooks' training seed
        info = provenance(preset=self.server.preset, seeds=[seed], device=describe_device(resolve_device("auto")),
                          command=command, extra={
                              "browser": f"{browser.browser_type.name} {browser.version} (headless)",
                              "playwright": version("playwright"), "jupyterlab": version("jupyterlab"),
                              "ipywidgets": version("ipywidgets"), "screenshot": path.name})
        write_sidecar(path.with_suffix(".json"), info)
        return path

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Run a step; on any failure raise ``LabFailure`` with a screenshot path and the server log."""
        try:
            yield
        except LabFailure:
            raise  # a nested step already added the screenshot and the log
        except (AssertionError, PlaywrightError, TimeoutError) as e:
            try:
                shot = str(self.screenshot(f"FAILED_{re.sub(r'[^a-z0-9]+', '_', name.lower())}"))
            except PlaywrightError as shot_error:
                shot = f"(no screenshot: {shot_error})"
            errors = "\n".join(self.console_errors[-10:]) or "(none)"
            raise LabFailure(
                f"step '{name}' failed: {e}\n\nscreenshot: {shot}\nfront-end errors so far:\n{errors}\n"
                f"server log ({self.server.log_path}, last lines):\n{self.server.log_tail()}"
            ) from e

    def unexpected_console_errors(self) -> list[str]:
        """Console and page errors that are not on ``ALLOWED_CONSOLE_ERRORS``."""
        return [m for m in self.console_errors if not any(re.search(p, m) for p in ALLOWED_CONSOLE_ERRORS)]

    # -- notebooks ---------------------------------------------------------------------------------

    def open_notebook(self, name: str, workspace: str) -> None:
        """Open ``notebooks/<name>`` in a fresh workspace and wait until its kernel is idle."""
        with self.step(f"open {name}"):
            self.page.goto(self.server.lab_url(name, workspace), timeout=OPEN_TIMEOUT)
            expect(self.page.locator(".jp-Notebook .jp-Cell").first).to_be_visible(timeout=OPEN_TIMEOUT)
            expect(self.page.locator("[title^='Change kernel']")).to_have_text(re.compile(r"\|\s*Idle$"),
                                                                              timeout=OPEN_TIMEOUT)

    def run_all(self, name: str) -> None:
        """Run > Run All Cells, wait until every cell has run and the kernel is idle; fail when a cell raised."""
        with self.step(f"run all cells of {name}"):
            self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            # a notebook that runs in a few milliseconds can go from "[*]" back to a number between two
            # polls of _RUN_STATE_JS: an observer notes any change of a prompt, so a run is never missed
            self.page.evaluate(_WATCH_PROMPTS_JS)
            self.page.locator("[data-command='runmenu:run-all']").click()
            state = self.page.wait_for_function(_RUN_STATE_JS, timeout=RUN_ALL_TIMEOUT).json_value()
            if state == "stopped":
                tracebacks = self.page.evaluate(_TRACEBACKS_JS)
                shown = tracebacks[0][-3000:] if tracebacks else "(no traceback shown on the page)"
                raise AssertionError(f"Run All stopped before the last cell (a cell raised):\n{shown}")

    def check_widgets_rendered(self, name: str) -> None:
        """No 'Loading widget...' or 'Error displaying widget' left in the notebook."""
        with self.step(f"widgets of {name} rendered"):
            for text in WIDGET_FAILURES:
                expect(self.page.locator(".jp-Notebook").get_by_text(text)).to_have_count(0, timeout=UPDATE_TIMEOUT)

    def check_no_frontend_errors(self, name: str) -> None:
        with self.step(f"no front-end errors in {name}"):
            unexpected = self.unexpected_console_errors()
            assert not unexpected, "front-end errors:\n" + "\n".join(unexpected)

    def open_and_run(self, name: str, workspace: str) -> None:
        """Open, Run All, then check widgets and the console; screenshot the page after the run."""
        self.open_notebook(name, workspace)
        self.run_all(name)
        self.check_widgets_rendered(name)
        self.screenshot(f"{Path(name).stem}_after_run_all")
        self.check_no_frontend_errors(name)

    def code_cell(self, contains: str) -> Locator:
        """The code cell whose source contains ``contains`` (exactly one must match)."""
        cell = self.page.locator(".jp-Notebook .jp-CodeCell").filter(
            has=self.page.locator(".jp-InputArea-editor", has_text=contains))
        expect(cell).to_have_count(1, timeout=UPDATE_TIMEOUT)
        return cell

    # -- widgets -----------------------------------------------------------------------------------

    def slider(self, scope: Locator, description: str) -> Locator:
        """The ipywidgets slider in ``scope`` whose description is exactly ``description``."""
        return scope.locator(".widget-slider").filter(
            has=self.page.locator(".widget-label", has_text=re.compile(rf"^{re.escape(description)}$")))

    def press_on_slider(self, slider: Locator, key: str, times: int = 1) -> None:
        """Focus the slider's handle and press ``key`` (ArrowRight, ArrowLeft, Home, End) ``times`` times."""
        handle = slider.locator(".noUi-handle")
        handle.focus()
        for _ in range(times):
            handle.press(key)
