"""Trained models shipped in the repository, so that the notebooks open on results instead of training.

Layout (committed under ``pretrained/<preset>/`` at the top of the checkout):

- ``<unit>/model.pt``: the model's ``state_dict`` only (tensors; loaded with ``weights_only=True``);
- ``<unit>/config.json``: its ``RunConfig``; ``<unit>/history.csv``: one row per epoch;
  ``<unit>/probe.csv``: its Table 1 probe rows (``coral_lab.evaluation.protocol.run_unit``'s layout);
- ``<unit>/probe_published.csv`` (optional): its probe rows under the published protocol
  (``coral_lab.evaluation.published_probe``; ``add_probe_table``), so a notebook shows both protocols at once;
- ``MANIFEST.json``: the SHA-256 and size of every file above, and the provenance of the training
  (command, preset, seeds, device, commit, date) and of each added probe table.

The units are the four models the notebooks need for one seed: ``seed41-unbiased`` (R, U),
``seed41-biased`` (S with masking), ``seed41-biased-no-mask`` (S without masking) and
``seed41-unbiased-no-ortho`` (U with lambda_o = 0). ``load_shipped`` checks every checksum before it
reads anything and refuses a mismatch; ``export_units`` writes the folder from finished run folders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
import torch

from coral_lab.config import RunConfig
from coral_lab.core.io import atomic_write, atomic_write_text, load_checkpoint, sha256_file
from coral_lab.methods import build_model
from coral_lab.config import HELD_OUT, PROTOCOLS
from coral_lab.config.runs import CHECKPOINT, probe_table, unit_dir

__all__ = [
    "SHIPPED_UNITS",
    "ShippedModelError",
    "shipped_dir",
    "unit_name",
    "export_units",
    "read_manifest",
    "verify_shipped",
    "shipped_units",
    "shipped_config",
    "load_shipped",
    "shipped_probe_rows",
    "add_probe_table",
    "PROBE_TABLES",
]

# unit folder -> (train_set, the config changes of the unit on top of the preset's Table 1 unit)
SHIPPED_UNITS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "unbiased": ("unbiased", {}),
    "biased": ("biased", {}),
    "biased-no-mask": ("biased", {"train": {"mask_schedule": None}}),
    "unbiased-no-ortho": ("unbiased", {"loss": {"lambda_o": 0.0}}),
}
MANIFEST = "MANIFEST.json"
FILES = ("model.pt", "config.json", "history.csv", "probe.csv")
# the optional probe tables of another protocol than held out (probe.csv), by protocol
PROBE_TABLES = {p: probe_table(p) for p in PROTOCOLS if p != HELD_OUT}


class ShippedModelError(RuntimeError):
    """A shipped model is missing, or one of its files does not match the manifest's checksum."""


def shipped_dir(preset: str, root: str | Path | None = None) -> Path:
    """``<root>/pretrained/<preset>``; ``root`` defaults to the checkout that holds this package."""
    base = Path(root) if root is not None else Path(__file__).resolve().parents[2]  # coral_lab/training/ -> checkout
    return base / "pretrained" / preset


def unit_name(seed: int, kind: str) -> str:
    """The folder name of a shipped unit: ``seed41-biased-no-mask``."""
    if kind not in SHIPPED_UNITS:
        raise ValueError(f"unknown shipped unit {kind!r}; valid: {list(SHIPPED_UNITS)}")
    return unit_dir(".", seed, kind).name


def export_units(runs: Mapping[str, str | Path], dest: str | Path, info: Mapping[str, Any]) -> Path:
    """Copy finished run folders into a shipped folder and write its manifest.

    Args:
        runs: shipped unit folder name (``unit_name``) -> a finished run folder (``checkpoint.pt``,
            ``config.json``, ``history.csv``, ``probe.csv``).
        dest: the preset's shipped folder (``shipped_dir(preset)``).
        info: provenance of the training (``coral_lab.config.provenance.provenance``).

    Returns:
        The manifest's path.
    """
    dest = Path(dest)
    files: dict[str, dict[str, Any]] = {}
    for name, run in runs.items():
        run = Path(run)
        ckpt = load_checkpoint(run / CHECKPOINT)
        cfg = RunConfig.from_dict(ckpt["config"])
        if int(ckpt["epoch"]) < cfg.train.epochs:
            raise ShippedModelError(f"{run} stopped at epoch {ckpt['epoch']} of {cfg.train.epochs}; finish it first")
        if not (run / "probe.csv").is_file():
            raise ShippedModelError(f"{run} has no probe.csv; probe it before shipping it")
        unit = dest / name
        atomic_write(unit / "model.pt", lambda tmp, state=ckpt["model"]: torch.save(state, tmp))  # the manifest has its sum
        atomic_write_text(unit / "config.json", json.dumps(cfg.to_dict(), indent=2) + "\n")
        atomic_write_text(unit / "history.csv", pd.DataFrame(ckpt["history"]).to_csv(index=False))
        atomic_write_text(unit / "probe.csv", (run / "probe.csv").read_text())
        for f in FILES:
            p = unit / f
            files[f"{name}/{f}"] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    manifest = {"files": files, "provenance": dict(info)}
    return atomic_write_text(dest / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")


_HEX = frozenset("0123456789abcdef")


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """A shipped folder's ``MANIFEST.json``, its layout checked: ``files`` maps ``<unit>/<file>`` to
    ``{"sha256": 64 hex digits, "bytes": int}``. A missing, unreadable or malformed manifest raises
    ``ShippedModelError`` with one line (nothing of it is trusted)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ShippedModelError(f"no shipped models in {folder} ({MANIFEST} not found); train instead (RETRAIN = True)")
    restore = f"restore it with `git checkout {path}`"
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ShippedModelError(f"{path} is not a valid manifest ({type(e).__name__}); {restore}") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ShippedModelError(f"{path} is not a valid manifest (no 'files' mapping); {restore}")
    for key, entry in files.items():
        ok = (isinstance(key, str) and key.count("/") == 1 and ".." not in key.split("/")
              and isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64
              and set(entry["sha256"]) <= _HEX and isinstance(entry.get("bytes"), int)
              and not isinstance(entry.get("bytes"), bool))
        if not ok:
            raise ShippedModelError(f"{path} is not a valid manifest (its entry {key!r} is not "
                                    f"<unit>/<file> -> {{sha256, bytes}}); {restore}")
    return manifest


def verify_shipped(folder: str | Path, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Check the files of ``names`` (default: every unit in the manifest) against ``MANIFEST.json``: every
    file a unit ships (``FILES``) must be listed, and every listed file must exist and match its checksum.

    Returns:
        The manifest.

    Raises:
        ShippedModelError: no manifest or a malformed one, a file unlisted or missing, or a checksum
        mismatch (the message names the file).
    """
    folder = Path(folder)
    path = folder / MANIFEST
    manifest = read_manifest(folder)
    files = manifest["files"]
    units = sorted({k.split("/")[0] for k in files})
    if names is not None:
        missing = [n for n in names if n not in units]
        if missing:
            raise ShippedModelError(f"{folder} ships no unit(s) {missing}; shipped: {units}")
    for name in units if names is None else names:
        unlisted = [f for f in FILES if f"{name}/{f}" not in files]
        if unlisted:
            raise ShippedModelError(f"{path} does not list {name}/{unlisted[0]}: every shipped file must carry its "
                                    f"checksum; restore the manifest with `git checkout {path}`")
    wanted = [k for k in files if names is None or k.split("/")[0] in names]
    for key in wanted:
        p = folder / key
        if not p.is_file():
            raise ShippedModelError(f"shipped file {p} is missing; restore it with `git checkout {p}`")
        if sha256_file(p) != files[key]["sha256"]:
            raise ShippedModelError(
                f"shipped file {p} does not match its checksum in {path}: it was changed or corrupted. "
                f"Restore it with `git checkout {p}`, or retrain (RETRAIN = True)"
            )
    return manifest


def shipped_units(folder: str | Path) -> list[str]:
    """The unit names a shipped folder's manifest lists (``[]`` when there is no manifest)."""
    if not (Path(folder) / MANIFEST).is_file():
        return []
    return sorted({k.split("/", 1)[0] for k in read_manifest(folder)["files"]})


def shipped_config(folder: str | Path, name: str) -> RunConfig:
    """The config of one shipped unit (checksums verified)."""
    verify_shipped(folder, [name])
    return RunConfig.from_json(Path(folder) / name / "config.json")


def load_shipped(folder: str | Path, name: str, device: str | torch.device = "cpu"):
    """A shipped unit's model (eval mode), config and history, after checking every checksum.

    Returns:
        (model, RunConfig, history DataFrame).
    """
    verify_shipped(folder, [name])
    unit = Path(folder) / name
    cfg = RunConfig.from_json(unit / "config.json")
    model = build_model(cfg)
    state = torch.load(unit / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.to(device).eval()
    return model, cfg, pd.read_csv(unit / "history.csv")


def shipped_probe_rows(folder: str | Path, name: str, protocol: str = HELD_OUT) -> pd.DataFrame | None:
    """A shipped unit's probe rows under ``protocol`` (checksum verified): ``probe.csv`` for held out, which
    every unit ships; for another protocol its table (``PROBE_TABLES``) if the manifest lists one, else None."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown probe protocol {protocol!r}; valid: {list(PROTOCOLS)}")
    manifest = verify_shipped(folder, [name])
    table = probe_table(protocol)
    if protocol != HELD_OUT and f"{name}/{table}" not in manifest["files"]:
        return None
    rows = pd.read_csv(Path(folder) / name / table)
    rows["column"] = rows["column"].fillna("")
    return rows


def add_probe_table(folder: str | Path, name: str, protocol: str, rows: pd.DataFrame,
                    info: Mapping[str, Any]) -> Path:
    """Ship a unit's probe rows under another ``protocol`` than held out: the table is written first, then
    the manifest gains its checksum and ``info`` (its provenance) in one atomic rewrite, so a kill leaves
    either the old manifest (the new file unlisted, never read) or the new one."""
    if protocol not in PROBE_TABLES:
        raise ValueError(f"probe tables can be added for {list(PROBE_TABLES)}; held out is the unit's probe.csv")
    manifest = verify_shipped(folder, [name])
    folder = Path(folder)
    path = atomic_write_text(folder / name / PROBE_TABLES[protocol], rows.to_csv(index=False))
    manifest["files"][f"{name}/{PROBE_TABLES[protocol]}"] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest.setdefault("probe_tables", {})[f"{name}/{PROBE_TABLES[protocol]}"] = dict(info)
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
    return path
