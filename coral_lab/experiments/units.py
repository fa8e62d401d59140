"""A notebook's trained units: find the checkout, name a unit's config and folder, load or train it.

The run helpers notebooks 05-12 share (``coral_lab.evaluation.analysis`` computes from a unit,
``coral_lab.drawing.views`` draws what it computed):

- ``repo_root`` (the checkout, found from any working directory) and ``shown_path`` (a path to print);
- ``unit_config`` and ``unit_run_dir``: the config and the ``<runs>/seed<S>-<train_set>`` folder of one
  Table 1 unit, exactly as ``coral_lab.evaluation.protocol`` builds them;
- ``load_or_pretrain`` (a finished run is loaded, an unfinished one resumed, a missing one trained),
  ``load_unit`` (the shipped model of ``coral_lab.training.pretrained`` when there is one for this config) and
  ``unit_probe_rows`` (a unit's probe rows, read from the shipped model or the run folder, else probed
  and kept there);
- ``preset_note``: the caveat every figure title carries ("quick preset (CPU), not the paper's scale").
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from coral_lab.training import pretrained
from coral_lab.training.pretrain import load_benchmark, load_model, pretrain
from coral_lab.config import PRESETS, RunConfig, require_trifeature, runs
from coral_lab.data import TrifeatureBenchmark
from coral_lab.core.device import resolve_device
from coral_lab.evaluation.probe import probe_model, with_protocol
from coral_lab.evaluation.protocol import UNITS, score_columns, unit_probe_plan
from coral_lab.config import HELD_OUT

__all__ = [
    "SUBSPACE_PROBE",
    "shown_path",
    "repo_root",
    "unit_config",
    "unit_run_dir",
    "load_or_pretrain",
    "load_unit",
    "unit_probe_rows",
    "preset_note",
]

SUBSPACE_PROBE = "probe_subspaces.csv"  # a notebook unit's probe rows of every subspace (``unit_probe_rows``)


def shown_path(path: str | Path, root: str | Path) -> Path:
    """``path`` relative to ``root`` when it lies inside it, else the absolute path (for printing).

    A shipped model lives in the checkout that holds the imported package, which need not be the
    folder a notebook runs in (a copy of the notebooks, an installed package).
    """
    path, root = Path(path).resolve(), Path(root).resolve()
    return path.relative_to(root) if path.is_relative_to(root) else path


def repo_root(start: str | Path | None = None) -> Path:
    """The coral_lab checkout that holds ``start`` (default: the working directory).

    Walks up from ``start`` to the first folder with both ``pyproject.toml`` and a ``coral_lab/``
    package, so a notebook finds ``runs/`` whether it runs from ``notebooks/`` (Jupyter, nbval) or
    from the repository root.
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "coral_lab" / "__init__.py").is_file():
            return folder
    raise FileNotFoundError(
        f"no coral_lab checkout (a folder with pyproject.toml and coral_lab/) contains {here}; run from inside "
        "the repository, or give the run folders explicitly"
    )


def unit_config(cfg: RunConfig, seed: int, train_set: str) -> RunConfig:
    """The config of one Table 1 unit, exactly as ``coral_lab.evaluation.protocol.run_unit`` builds it.

    Args:
        cfg: the preset's config.
        seed: the training seed (the paper's are 41..45).
        train_set: ``"unbiased"`` (redundancy + uniqueness model) or ``"biased"`` (synergy model).
    """
    if train_set not in UNITS:
        raise ValueError(f"unknown train_set {train_set!r}; valid: {sorted(UNITS)}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return cfg.replace(train={"seed": int(seed), "train_set": train_set})


def unit_run_dir(runs_dir: str | Path, seed: int, train_set: str) -> Path:
    """``<runs_dir>/seed<seed>-<train_set>``: the folder ``coral_lab.evaluation.protocol.run_unit`` uses for a unit."""
    return runs.unit_dir(runs_dir, seed, train_set)


def load_or_pretrain(
    cfg: RunConfig,
    run_dir: str | Path,
    *,
    device: str | torch.device,
    benchmark: TrifeatureBenchmark | None = None,
    progress: bool = True,
) -> tuple[torch.nn.Module, pd.DataFrame]:
    """The model of ``run_dir``: loaded if its run is finished, else trained (or resumed) to the end.

    A finished run (a checkpoint whose config equals ``cfg`` and whose history reaches
    ``cfg.train.epochs``) is loaded with ``coral_lab.training.pretrain.load_model`` without touching the data;
    otherwise ``coral_lab.training.pretrain.pretrain`` resumes from the checkpoint or starts afresh. A checkpoint
    written with a different config is an error (``CheckpointError``), never silently replaced.

    Args:
        cfg: the run's config (for a Table 1 unit: ``unit_config(cfg, seed, train_set)``).
        run_dir: the run folder (config.json, history.csv, checkpoint.pt).
        device: "auto", "cpu", "cuda" or a torch.device.
        benchmark: pre-built data and pairs (else loaded from ``cfg.data.cache_dir`` when training).
        progress: show tqdm bars while training.

    Returns:
        (model in eval mode on ``device``, per-epoch history DataFrame: epoch, mask_ratio, loss, the
        loss parts of ``coral_lab.objectives.losses.loss_part_names``, seconds, pairs_per_s).
    """
    require_trifeature(cfg, "a notebook unit")
    run_dir = Path(run_dir)
    if (run_dir / runs.CHECKPOINT).exists():
        model, run_cfg, history = load_model(run_dir, device=device)
        if run_cfg.pretrain_dict() == cfg.pretrain_dict() and len(history) and int(history["epoch"].iloc[-1]) >= cfg.train.epochs:
            return model, history
        del model  # unfinished (resumed below) or another config (pretrain raises CheckpointError)
    result = pretrain(cfg, run_dir, benchmark=benchmark, device=device, progress=progress)
    return result.model, result.history


def load_unit(
    cfg: RunConfig,
    runs_dir: str | Path,
    seed: int,
    kind: str,
    *,
    retrain: bool = False,
    device: str | torch.device = "auto",
    benchmark: TrifeatureBenchmark | None = None,
    progress: bool = True,
    shipped_root: str | Path | None = None,
) -> tuple[torch.nn.Module, pd.DataFrame, str]:
    """One of the notebooks' units: the shipped model when there is one for this config, else load-or-train.

    Args:
        cfg: the preset's config.
        runs_dir: where trained units live (``<runs_dir>/seed<S>-<kind>``) when they are not shipped.
        seed: the training seed.
        kind: a key of ``coral_lab.training.pretrained.SHIPPED_UNITS`` (``unbiased``, ``biased``,
            ``biased-no-mask``, ``unbiased-no-ortho``).
        retrain: True trains (or resumes / loads) the unit in ``runs_dir`` even when a shipped model exists.
        shipped_root: the checkout holding ``pretrained/`` (default: this package's).

    Returns:
        (model in eval mode, history, where it came from: ``"shipped <folder>"`` or ``"run <folder>"``).
        A shipped model is used only when its config equals the unit's (``RunConfig.pretrain_dict``), and
        only after its files pass the manifest's checksums.
    """
    name = pretrained.unit_name(seed, kind)
    train_set, changes = pretrained.SHIPPED_UNITS[kind]
    ucfg = unit_config(cfg, seed, train_set).replace(**changes)
    folder = pretrained.shipped_dir(cfg.preset, shipped_root)
    if not retrain and name in pretrained.shipped_units(folder):
        # a changed or corrupted shipped file raises here (never a silent retrain)
        if pretrained.shipped_config(folder, name).pretrain_dict() == ucfg.pretrain_dict():
            model, _, history = pretrained.load_shipped(folder, name, device=resolve_device(device))
            return model, history, f"shipped {folder / name}"
    run_dir = Path(runs_dir) / name
    model, history = load_or_pretrain(ucfg, run_dir, device=device, benchmark=benchmark, progress=progress)
    return model, history, f"run {run_dir}"


def unit_probe_rows(
    cfg: RunConfig,
    runs_dir: str | Path,
    seed: int,
    kind: str,
    *,
    retrain: bool = False,
    subspaces: Sequence[str] = ("Z", "shared", "unique1", "unique2"),
    device: str | torch.device = "auto",
    benchmark: TrifeatureBenchmark | None = None,
    progress: bool = True,
    shipped_root: str | Path | None = None,
    protocol: str = HELD_OUT,
) -> tuple[pd.DataFrame, str]:
    """The probe rows of one notebook unit under one probe ``protocol``, and where they came from.

    Held out (the default): every task from each of ``subspaces``. The published protocol and its
    control: the tasks the unit is scored on, from Z (``protocol.unit_probe_plan``). The shipped unit's
    table (``probe.csv``, or ``probe_published.csv`` where one is shipped) when it was probed with exactly
    this config (probe settings and protocol included) and holds these feature sets; else the unit
    (``load_unit``) is probed here and the rows are kept in ``<runs_dir>/seed<S>-<kind>/probe_subspaces.csv``
    (``probe_subspaces_<protocol>.csv``) beside its config, and read back next time (a file of its own:
    the protocol's ``probe.csv`` keeps its layout).

    Returns:
        (rows with columns seed, train_set, task, features, balanced_accuracy, C, val_balanced_accuracy,
        roc_auc and column (the Table 1 column a row is scored in, ``coral_lab.evaluation.protocol.score_columns``);
        ``"shipped <folder>"`` or ``"run <folder>"``).
    """
    def tidy(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows[rows["features"].isin(wanted)].reset_index(drop=True)
        rows = rows.assign(seed=seed, train_set=train_set)
        return rows.assign(column=score_columns(rows, train_set))

    name = pretrained.unit_name(seed, kind)
    train_set, changes = pretrained.SHIPPED_UNITS[kind]
    ucfg = unit_config(cfg, seed, train_set).replace(**changes).replace(probe={"protocol": protocol})
    tasks, subspaces = unit_probe_plan(protocol, train_set, subspaces)
    wanted = set(subspaces)
    folder = pretrained.shipped_dir(cfg.preset, shipped_root)
    if not retrain and name in pretrained.shipped_units(folder):
        shipped_cfg = pretrained.shipped_config(folder, name).replace(probe={"protocol": protocol})
        if shipped_cfg.experiment_dict() == ucfg.experiment_dict():
            rows = pretrained.shipped_probe_rows(folder, name, protocol)
            if rows is not None and wanted <= set(rows["features"]):
                return tidy(with_protocol(rows)), f"shipped {folder / name}"
    run_dir = Path(runs_dir) / name
    table = runs.probe_table(protocol, SUBSPACE_PROBE)
    rows = runs.read_table(run_dir, table, ucfg)  # None unless probed for this training and config
    if rows is not None and wanted <= set(rows["features"]):
        return tidy(with_protocol(rows)), f"run {run_dir}"
    model, _, source = load_unit(cfg, runs_dir, seed, kind, retrain=True, device=device, benchmark=benchmark,
                                 progress=progress, shipped_root=shipped_root)
    if benchmark is None:
        benchmark = load_benchmark(ucfg, progress=progress)
    rows = probe_model(model, benchmark, tasks=tasks, subspaces=list(subspaces), probe_cfg=ucfg.probe,
                       augment_cfg=ucfg.augment, seed=seed)
    runs.write_table(run_dir, table, rows, ucfg)
    return tidy(rows), source


def preset_note(preset: str, device: str | torch.device) -> str:
    """A figure-title caveat naming the preset and device, e.g. "quick preset (CPU), not the paper's scale"."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid presets: {sorted(PRESETS)}")
    kind = torch.device(device).type
    where = "GPU" if kind == "cuda" else kind.upper()
    if preset == "paper":
        return f"paper preset ({where}): the published scale"
    if preset == "ci":
        return f"ci preset ({where}): a smoke test, the numbers mean nothing"
    return f"{preset} preset ({where}), not the paper's scale"

