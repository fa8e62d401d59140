"""A throw-away JupyterLab 4 server for the browser tests.

``JupyterLabServer`` copies the notebooks into a temporary checkout-like folder, starts
``jupyter lab`` on 127.0.0.1 with a random free port and a random token, points every per-user
Jupyter folder (config, runtime, workspaces, settings, IPython) into the temporary folder, waits
until ``/api/status`` answers, and stops the server by its PID. Kernel sessions are deleted
through ``/api/sessions``. Nothing here knows about the browser.

Layout of the temporary folder (``root``)::

    root/
      pyproject.toml, coral_lab -> <checkout>/coral_lab   (so units.repo_root() finds root)
      notebooks/*.ipynb                                    (copies: outputs land here, not in the checkout)
      jupyter/{config,runtime,workspaces,settings,ipython} (the server's per-user folders)
      server.log                                           (the server's stdout and stderr)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# User settings for the test server (JUPYTERLAB_SETTINGS_DIR): no news or update check (they reach
# the network), and no notebook windowing, so that every cell, and every widget in it, is in the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
    },
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the server is started with port_retries=0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    """The server did not start or did not answer; the message carries the tail of its log."""


class JupyterLabServer:
    """``jupyter lab`` in ``root`` with the notebooks of this checkout and ``CORAL_LAB_PRESET=preset``.

    Args:
        root: an empty temporary folder.
        preset: the coral_lab preset the kernels see (``CORAL_LAB_PRESET``).
        notebooks: notebook file names to copy from ``notebooks/`` (default: all).
        start_timeout: seconds to wait for ``/api/status`` (a busy 2-core machine needs tens of seconds).
    """

    def __init__(self, root: Path, preset: str = "ci", notebooks: list[str] | None = None,
                 start_timeout: float = 180.0) -> None:
        self.root = Path(root)
        self.preset = preset
        self.notebooks = notebooks
        self.start_timeout = start_timeout
        self.token = secrets.token_hex(24)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = self.root / "server.log"

    # -- setup -------------------------------------------------------------------------------------

    def _prepare_folder(self) -> dict[str, str]:
        """Copy the notebooks, make the folder look like a checkout, write settings; return the env."""
        (self.root / "notebooks").mkdir(parents=True, exist_ok=True)
        names = self.notebooks or sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))
        for name in names:
            shutil.copy2(REPO / "notebooks" / name, self.root / "notebooks" / name)
        shutil.copy2(REPO / "pyproject.toml", self.root / "pyproject.toml")
        link = self.root / "coral_lab"
        if not link.exists():
            link.symlink_to(REPO / "coral_lab", target_is_directory=True)
        jupyter = self.root / "jupyter"
        dirs = {name: jupyter / name for name in ("config", "runtime", "workspaces", "settings", "ipython")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for rel, values in LAB_SETTINGS.items():
            path = dirs["settings"] / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values, indent=2))
        env = dict(os.environ)
        env.update(
            CORAL_LAB_PRESET=self.preset,
            # the kernels import this checkout's coral_lab, whatever an installed one points at
            PYTHONPATH=os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
            JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            IPYTHONDIR=str(dirs["ipython"]),
            PYTHONUNBUFFERED="1",
        )
        return env

    def start(self) -> "JupyterLabServer":
        """Start the server and wait until ``/api/status`` answers (a port taken meanwhile: try another)."""
        env = self._prepare_folder()
        for attempt in range(3):
            self.port = free_port()
            cmd = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1",
                   f"--port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}"]
            with open(self.log_path, "ab") as log:
                log.write(f"\n=== attempt {attempt + 1}: port {self.port}\n".encode())
                log.flush()
                # its own process group, so that stop() also ends the kernels it started
                self.proc = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
            if self._wait_ready():
                return self
            if "address already in use" not in self.log_tail(20).lower():
                break
        self.stop()
        raise ServerError(f"JupyterLab did not answer on /api/status within {self.start_timeout:.0f} s\n"
                          f"server log ({self.log_path}):\n{self.log_tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                self.api("GET", "/api/status", timeout=5)
                return True
            except (OSError, urllib.error.URLError):
                try:
                    self.proc.wait(0.5)  # the poll interval; returns early if the server exits
                except subprocess.TimeoutExpired:
                    pass
        return False

    # -- use ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lab_url(self, notebook: str, workspace: str) -> str:
        """The URL that opens ``notebooks/<notebook>`` in its own (fresh) workspace, logged in by token."""
        return f"{self.base_url}/lab/workspaces/{workspace}/tree/notebooks/{notebook}?reset&token={self.token}"

    def api(self, method: str, path: str, timeout: float = 30) -> object:
        """One REST call with the token; returns the decoded JSON (None for an empty body)."""
        req = urllib.request.Request(self.base_url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def delete_sessions(self) -> None:
        """Delete every kernel session (shuts their kernels down), then every kernel still left."""
        for s in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{s['id']}", timeout=60)
        for k in self.api("GET", "/api/kernels") or []:
            self.api("DELETE", f"/api/kernels/{k['id']}", timeout=60)

    def running_kernels(self) -> list[dict]:
        return list(self.api("GET", "/api/kernels") or [])

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- teardown ----------------------------------------------------------------------------------

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server by its PID (SIGTERM, then SIGKILL to its process group after ``timeout``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.delete_sessions()
        except (OSError, urllib.error.URLError):
            pass  # the server is going away anyway; the process group is ended below
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group is the server's own (start_new_session)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
