"""Provenance sidecars: every result file and figure names the command, preset, seeds, device,
commit and date that produced it."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Sequence

import torch

import coral_lab
from coral_lab.io import atomic_write_text

__all__ = ["git_commit", "mark_start", "start_commit", "provenance", "write_sidecar"]

# the commit and time when this process started its work (``mark_start``); a long run's sidecar names
# the code that ran, even when commits land while it trains
_START: dict[str, str] = {}


def git_commit(cwd: str | Path | None = None) -> str:
    """The current commit (with '+dirty' when the tree has changes), or 'unknown' outside a checkout."""
    cwd = Path(cwd) if cwd else Path(coral_lab.__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def mark_start() -> None:
    """Remember the commit and time now; ``provenance`` then reports these (the CLI calls it first)."""
    _START.update(commit=git_commit(), started=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))


def start_commit() -> str:
    """The commit remembered by ``mark_start``, else the current one."""
    return _START.get("commit") or git_commit()


def provenance(
    *, preset: str, seeds: Sequence[int], device: str, command: str | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A dict naming how a result was produced (for a JSON sidecar).

    ``commit`` is the commit when the work started (``mark_start``; else now). When the checkout has
    moved on since, ``commit_at_write`` names where it stood when the sidecar was written.
    """
    now_commit = git_commit()
    out = {
        "command": command if command is not None else " ".join(["coral-lab" if a.endswith("coral-lab") else a for a in sys.argv]),
        "preset": preset,
        "seeds": list(seeds),
        "device": device,
        "commit": _START.get("commit") or now_commit,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "coral_lab": coral_lab.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if "started" in _START:
        out["started"] = _START["started"]
    if now_commit != out["commit"]:
        out["commit_at_write"] = now_commit
    if extra:
        out.update(extra)
    return out


def write_sidecar(path: str | Path, info: dict[str, Any]) -> Path:
    """Write ``info`` as JSON to ``path`` (atomically)."""
    return atomic_write_text(path, json.dumps(info, indent=2, default=str) + "\n")
