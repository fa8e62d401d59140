"""Bring run folders written by an older coral_lab up to today's config layout.

``RunConfig.from_dict`` already reads an older ``config.json`` or checkpoint in today's layout
(``config.LEGACY_MOVES``, ``config.LEGACY_VALUES``), so training resumes and models load without this
module. What reading alone cannot fix is the ``config_hash`` an output table records
(``coral_lab.config.runs.write_table``): it was taken of the config in the layout of its day, so after a layout
change ``runs.read_table`` takes the table for a stale one and the scores are computed again.
``upgrade_run_folder`` does both for a folder whose config is in an older layout (``config.moved_fields``:
a feature-data run from before the one run config, and every run from before the methods' own
``settings`` replaced the shared ``baseline`` section): it rewrites ``config.json`` in today's layout and,
in each table whose rows all carry the hash of the saved config (or of the saved config probed under
another protocol, as ``probe_published.csv``), that hash by today's; a table with any other hash
(written for another config) is left as it is. Checkpoints are not rewritten (they are read in today's
layout anyway). ``python scripts/upgrade_run_folders.py FOLDER ...`` runs it on every run
folder under the folders given.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from coral_lab.config import PROTOCOLS, RunConfig, experiment_dict, moved_fields, runs
from coral_lab.core.io import atomic_write_text

__all__ = ["upgrade_run_folder", "run_folders_under"]


def run_folders_under(root: str | Path) -> list[Path]:
    """Every folder at or under ``root`` that holds a ``config.json``, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder; give a folder that holds run folders")
    return sorted({p.parent for p in root.rglob(runs.CONFIG)})


def upgrade_run_folder(folder: str | Path, dry_run: bool = False) -> list[str]:
    """Rewrite one run folder's ``config.json`` and its tables' ``config_hash`` in today's layout.

    Returns one line per file changed (nothing when the folder is already current). With ``dry_run``
    nothing is written. A ``config.json`` that is not valid JSON or not a config stops with one line
    (``ValueError``) before anything is written.
    """
    folder = Path(folder)
    path = folder / runs.CONFIG
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{folder} holds no {runs.CONFIG}; it is not a run folder") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); restore it before upgrading") from None
    cfg = RunConfig.from_dict(saved)  # stops with one line for a dict that is not a config
    if not moved_fields(saved):  # today's layout
        return []
    new_hashes = _hashes_by_old_hash(saved, cfg)
    changed: list[str] = []
    tables: list[tuple[Path, pd.DataFrame, str]] = []
    for table in sorted(folder.glob("*.csv")):
        df = pd.read_csv(table, dtype={"config_hash": str})
        if "config_hash" not in df or not len(df) or df["config_hash"].nunique() != 1:
            continue
        old_hash = str(df["config_hash"].iloc[0])
        if new_hashes.get(old_hash, old_hash) != old_hash:
            tables.append((table, df.assign(config_hash=new_hashes[old_hash]), old_hash))
    for table, df, old_hash in tables:  # the tables first: until config.json is rewritten, a rerun finds the old
        changed.append(f"{table}: config_hash {old_hash} -> {new_hashes[old_hash]}")
        if not dry_run:
            atomic_write_text(table, df.to_csv(index=False))
    changed.append(f"{path}: today's layout")
    if not dry_run:
        cfg.to_json(path)
    return changed


def _hashes_by_old_hash(saved: dict, cfg: RunConfig) -> dict[str, str]:
    """Old hash -> today's, for the saved config and for it under each probe protocol (a run folder's
    tables are written for its config, or, ``probe_published.csv``, for it probed under another protocol)."""
    out = {runs.config_hash(experiment_dict(saved)): runs.config_hash(cfg)}
    if isinstance(saved.get("probe"), dict):
        for protocol in PROTOCOLS:
            variant = {**saved, "probe": {**saved["probe"], "protocol": protocol}}
            out[runs.config_hash(experiment_dict(variant))] = runs.config_hash(cfg.replace(probe={"protocol": protocol}))
    return out
