"""Provenance sidecars: every result file and figure names the command, preset, seeds, device,
commit and date that produced it (``SIDECAR_KEYS``); ``save_result`` writes a result CSV with its sidecar."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

import coral_lab
from coral_lab.core.io import atomic_write_text

__all__ = [
    "SIDECAR_KEYS",
    "git_commit",
    "mark_start",
    "start_commit",
    "provenance",
    "command_line",
    "write_sidecar",
    "RUN_KEYS",
    "earlier_runs",
    "check_sidecar_info",
    "result_sidecar_path",
    "save_result",
]

SIDECAR_KEYS = ("command", "preset", "seeds", "device", "commit", "date")  # what every sidecar must name
_RESULT_SIDECAR_SUFFIX = ".provenance.json"

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


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as a reader would type it: ``sys.argv`` with the program named ``coral-lab`` when it is
    the console entry or ``python -m coral_lab.cli`` (whose ``argv[0]`` is this machine's path of cli.py)."""
    args = list(sys.argv if argv is None else argv)
    if args and (args[0].endswith("coral-lab") or args[0].replace("\\", "/").endswith("coral_lab/cli.py")):
        args[0] = "coral-lab"
    return " ".join(args)


def provenance(
    *, preset: str, seeds: Sequence[int], device: str, command: str | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A dict naming how a result was produced (for a JSON sidecar).

    ``commit`` is the commit when the work started (``mark_start``; else now). When the checkout has
    moved on since, ``commit_at_write`` names where it stood when the sidecar was written.
    """
    now_commit = git_commit()
    out = {
        "command": command if command is not None else command_line(),
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


# what a sidecar's own top level says about the one command that wrote it, kept per run in ``runs``
RUN_KEYS = ("command", "commit", "commit_at_write", "started", "date", "device", "seeds", "variants", "units",
            "protocols", "probe_every", "wall_minutes")


def earlier_runs(path: str | Path) -> list[dict[str, Any]]:
    """The commands that wrote a folder's results before this one, from its sidecar ``path``: its ``runs``
    list, or (a sidecar written before folders kept one) one entry of its top-level keys; none when the
    sidecar does not exist yet.

    A folder grown over several commands (a study resumed with other seeds or variants) keeps every command
    this way, each with its own command line, commit, device, seeds and wall time. Raises ValueError, before
    anything is written, when the sidecar is not a coral_lab provenance object, so that a damaged history is
    never overwritten.
    """
    path = Path(path)
    if not path.exists():
        return []
    what = f"provenance sidecar {path}"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{what} is not readable JSON ({e}); it holds the folder's earlier runs: mend it or move "
                         "it aside, then run the command again") from None
    check_sidecar_info(info, what)
    runs = info.get("runs")
    if runs is None:
        return [{k: info[k] for k in RUN_KEYS if k in info}]
    if not isinstance(runs, list) or not all(isinstance(r, Mapping) for r in runs):
        raise ValueError(f"{what}: 'runs' must be a list of JSON objects; mend it or move it aside, then run the "
                         "command again")
    return [dict(r) for r in runs]


def check_sidecar_info(info: Any, what: str) -> None:
    """Raise ValueError unless ``info`` is a mapping naming every key of ``SIDECAR_KEYS``.

    ``what`` names the checked thing in the message (e.g. ``"provenance sidecar x/table1.provenance.json"``).
    """
    if not isinstance(info, Mapping):
        raise ValueError(f"{what} must be a JSON object, got {type(info).__name__}")
    missing = [k for k in SIDECAR_KEYS if k not in info]
    if missing:
        raise ValueError(
            f"{what} lacks {missing}; it must name {list(SIDECAR_KEYS)} "
            "(build it with coral_lab.config.provenance.provenance(preset=..., seeds=..., device=...))"
        )


def result_sidecar_path(result_path: str | Path) -> Path:
    """The provenance sidecar of a result file: ``x/table1.csv`` -> ``x/table1.provenance.json``."""
    p = Path(result_path)
    return p.with_name(p.stem + _RESULT_SIDECAR_SUFFIX)


def save_result(table: pd.DataFrame, path: str | Path, info: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write a result table as CSV and its provenance sidecar, atomically.

    Args:
        table: the tidy result (e.g. ``analysis.subspace_probe_map`` or UMAP coordinates).
        path: a ``.csv`` file.
        info: provenance naming every key of ``SIDECAR_KEYS`` (build it with ``provenance``).

    Returns:
        (CSV path, sidecar path).
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    path = Path(path)
    if path.suffix != ".csv":
        raise ValueError(f"result files are CSV; path must end in .csv, got {path.name!r}")
    check_sidecar_info(info, f"provenance for {path.name}")
    for col in table.columns:
        if table[col].dtype == object and any(isinstance(v, (np.ndarray, list, tuple, dict)) for v in table[col]):
            raise ValueError(
                f"column {col!r} holds arrays, which a CSV cannot keep; drop it first "
                f"(e.g. table.drop(columns=[{col!r}]))"
            )
    # a named index (e.g. the probe map's "task" rows) is kept as the first column
    keep_index = any(name is not None for name in table.index.names)
    atomic_write_text(path, table.to_csv(index=keep_index))
    return path, write_sidecar(result_sidecar_path(path), dict(info))
