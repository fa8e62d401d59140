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

__all__ = ["git_commit", "provenance", "write_sidecar"]


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


def provenance(
    *, preset: str, seeds: Sequence[int], device: str, command: str | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A dict naming how a result was produced (for a JSON sidecar)."""
    out = {
        "command": command if command is not None else " ".join(["coral-lab" if a.endswith("coral-lab") else a for a in sys.argv]),
        "preset": preset,
        "seeds": list(seeds),
        "device": device,
        "commit": git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "coral_lab": coral_lab.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if extra:
        out.update(extra)
    return out


def write_sidecar(path: str | Path, info: dict[str, Any]) -> Path:
    """Write ``info`` as JSON to ``path`` (atomically)."""
    return atomic_write_text(path, json.dumps(info, indent=2, default=str) + "\n")
