"""The browser-test harness itself: a failed step reports a screenshot and the server log; the
server answers only with its token."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from jlab_page import LabFailure
from playwright.sync_api import expect


def test_failed_step_carries_screenshot_and_server_log(lab):
    lab.page.goto(f"{lab.server.base_url}/lab?token={lab.server.token}")
    with pytest.raises(LabFailure) as failure:
        with lab.step("find an element that does not exist"):
            expect(lab.page.locator("#no-such-element-in-jupyterlab")).to_be_visible(timeout=2_000)
    message = str(failure.value)
    assert "step 'find an element that does not exist' failed" in message
    shot = Path(message.split("screenshot: ", 1)[1].splitlines()[0])
    assert shot.is_file() and shot.stat().st_size > 0 and shot.suffix == ".png"
    assert f"server log ({lab.server.log_path}" in message
    assert "Jupyter Server" in message or "ServerApp" in message  # the log's own lines


def test_server_refuses_requests_without_its_token(lab_server):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{lab_server.base_url}/api/sessions", timeout=30)
    assert refused.value.code == 403
    assert lab_server.api("GET", "/api/status")["kernels"] >= 0  # with the token it answers


def test_run_all_reports_a_raising_cell_at_once(lab, tmp_path):
    # JupyterLab renders a raised error with the stderr mime type and drops the rest of the queue:
    # Run All must fail with the traceback as soon as the kernel is idle, not wait for its timeout
    import time

    import nbformat

    name = "zz_raises_in_cell_2.ipynb"
    cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("raise ValueError('cell two raised')"),
             nbformat.v4.new_code_cell("y = 2")]
    path = lab.server.root / "notebooks" / name
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=kernel), path)
    try:
        lab.open_notebook(name, workspace="harness-raises")
        t0 = time.monotonic()
        with pytest.raises(LabFailure) as failure:
            lab.run_all(name)
        assert time.monotonic() - t0 < 120
        message = str(failure.value)
        assert "Run All stopped before the last cell" in message
        assert "cell two raised" in message
    finally:
        path.unlink()
