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
