"""What a trained COrAL model learned: shared runs, probe maps per subspace, and UMAP pictures.

The helpers that notebooks 05-10 share, so that no notebook re-implements them:

- runs: ``repo_root`` (the checkout, found from any working directory), ``unit_config`` and
  ``unit_run_dir`` (the ``<runs>/seed<S>-<train_set>`` folders of ``coral_lab.protocol``) and
  ``load_or_pretrain`` (a finished run is loaded, an unfinished one resumed, a missing one trained).
- training curves: ``history_figure`` (plotly; every loss part of eq. 3 and the mask ratio per epoch).
- "which subspace knows what": ``subspace_probe_map`` (balanced accuracy of a linear probe of every
  task from every subspace Z^SR, Z_1^U, Z_2^U and Z, via ``coral_lab.evaluate.probe_model``) and
  ``probe_map_heatmap``.
- the paper's Figure 5 for Trifeature: ``embedding_frame`` (inference embeddings with their labels),
  ``joint_embedding_matrix`` and ``umap_projection`` (shared and unique embeddings projected
  together), ``umap_scatter`` (plotly), ``umap_static_figure`` (seaborn), ``umap_density_figure``
  (train / test density contours per subspace) and ``neighbour_agreement`` (how much each label
  organises each subspace's cloud).
- ``preset_note``: the caveat every figure title carries ("quick preset (CPU), not the paper's scale").

Plotting libraries (matplotlib, seaborn, plotly, umap-learn: the ``notebooks`` extra) are imported
inside the functions that draw, so the run helpers work without them. Matplotlib figures are built
without pyplot (no global state; Jupyter shows a returned ``Figure``).
"""

from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.neighbors import NearestNeighbors

from coral_lab import pretrained, runs, train
from coral_lab.augment import to_model_input
from coral_lab.config import PRESETS, AugmentConfig, ProbeConfig, RunConfig
from coral_lab.data import (
    COLOR_NAMES,
    COLORS,
    N_CLASSES,
    SHAPES,
    TASKS,
    TEXTURES,
    PairSet,
    TrifeatureBenchmark,
    derived_rng,
    pair_labels,
)
from coral_lab.device import resolve_device
from coral_lab.evaluate import extract_features, linear_probe, probe_model
from coral_lab.paper import chance_percent
from coral_lab.protocol import UNITS, score_columns

__all__ = [
    "TASK_LABELS",
    "CHANCE",
    "SUBSPACES",
    "LABEL_COLUMNS",
    "COLOR_BY",
    "repo_root",
    "unit_config",
    "unit_run_dir",
    "load_or_pretrain",
    "load_unit",
    "unit_probe_rows",
    "probe_map_from_rows",
    "FINDINGS",
    "findings_table",
    "preset_note",
    "history_figure",
    "subspace_probe_map",
    "one_modality_probe",
    "probe_map_heatmap",
    "embedding_frame",
    "joint_embedding_matrix",
    "umap_projection",
    "umap_scatter",
    "neighbour_agreement",
    "umap_density_figure",
    "umap_static_figure",
]

SUBSPACE_PROBE = "probe_subspaces.csv"  # a notebook unit's probe rows of every subspace (``unit_probe_rows``)
# probe task -> readable row label of the probe map, and chance level (balanced accuracy %) per label
TASK_LABELS = {"share": "shape", "unique1": "texture 1", "unique2": "texture 2", "synergy": "synergy"}
CHANCE = {TASK_LABELS[t]: chance_percent(N_CLASSES[t]) for t in TASKS}
SUBSPACES = ("shared", "unique1", "unique2")  # the bimodal model's Z^SR, Z_1^U, Z_2^U
# embedding_frame's label columns (integer indices into SHAPES / TEXTURES / COLOR_NAMES; synergy 0 / 1)
LABEL_COLUMNS = ("shape", "texture1", "texture2", "color1", "color2", "synergy")
COLOR_BY = ("subspace", "split", *LABEL_COLUMNS)  # what umap_scatter can colour by
_NAMES = {"shape": SHAPES, "texture1": TEXTURES, "texture2": TEXTURES, "color1": COLOR_NAMES, "color2": COLOR_NAMES}


def _subspace_label(name: str) -> str:
    """The paper's symbol for a subspace name: shared -> Z^SR, unique2 -> Z_2^U, Z -> Z (all)."""
    m = re.fullmatch(r"unique(\d+)", name)
    if m:
        return f"Z_{m.group(1)}^U"
    return {"shared": "Z^SR", "Z": "Z (all)"}.get(name, name)


# ---------------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------------


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
    """The config of one Table 1 unit, exactly as ``coral_lab.protocol.run_unit`` builds it.

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
    """``<runs_dir>/seed<seed>-<train_set>``: the folder ``coral_lab.protocol.run_unit`` uses for a unit."""
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
    ``cfg.train.epochs``) is loaded with ``coral_lab.train.load_model`` without touching the data;
    otherwise ``coral_lab.train.pretrain`` resumes from the checkpoint or starts afresh. A checkpoint
    written with a different config is an error (``CheckpointError``), never silently replaced.

    Args:
        cfg: the run's config (for a Table 1 unit: ``unit_config(cfg, seed, train_set)``).
        run_dir: the run folder (config.json, history.csv, checkpoint.pt).
        device: "auto", "cpu", "cuda" or a torch.device.
        benchmark: pre-built data and pairs (else loaded from ``cfg.data.cache_dir`` when training).
        progress: show tqdm bars while training.

    Returns:
        (model in eval mode on ``device``, per-epoch history DataFrame: epoch, mask_ratio, loss, the
        loss parts of ``coral_lab.losses.loss_part_names``, seconds, pairs_per_s).
    """
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be a coral_lab.config.RunConfig, got {type(cfg).__name__}")
    run_dir = Path(run_dir)
    if (run_dir / train.CHECKPOINT).exists():
        model, run_cfg, history = train.load_model(run_dir, device=device)
        if run_cfg.pretrain_dict() == cfg.pretrain_dict() and len(history) and int(history["epoch"].iloc[-1]) >= cfg.train.epochs:
            return model, history
        del model  # unfinished (resumed below) or another config (pretrain raises CheckpointError)
    result = train.pretrain(cfg, run_dir, benchmark=benchmark, device=device, progress=progress)
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
        kind: a key of ``coral_lab.pretrained.SHIPPED_UNITS`` (``unbiased``, ``biased``,
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
            model, _, history = pretrained.load_shipped(folder, name, device=_resolve(device))
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
) -> tuple[pd.DataFrame, str]:
    """The probe rows (every task from each of ``subspaces``) of one notebook unit, and where they came from.

    The shipped unit's ``probe.csv`` when it was probed with exactly this config (probe settings
    included) and holds these feature sets; else the unit (``load_unit``) is probed here and the rows
    are kept in ``<runs_dir>/seed<S>-<kind>/probe_subspaces.csv`` beside its config, and read back next
    time (a file of its own: the protocol's ``probe.csv`` keeps its layout).

    Returns:
        (rows with columns seed, train_set, task, features, balanced_accuracy, C, val_balanced_accuracy,
        roc_auc and column (the Table 1 column a row is scored in, ``coral_lab.protocol.score_columns``);
        ``"shipped <folder>"`` or ``"run <folder>"``).
    """
    def tidy(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows[rows["features"].isin(wanted)].reset_index(drop=True)
        rows = rows.assign(seed=seed, train_set=train_set)
        return rows.assign(column=score_columns(rows, train_set))

    name = pretrained.unit_name(seed, kind)
    train_set, changes = pretrained.SHIPPED_UNITS[kind]
    ucfg = unit_config(cfg, seed, train_set).replace(**changes)
    wanted = set(subspaces)
    folder = pretrained.shipped_dir(cfg.preset, shipped_root)
    if not retrain and name in pretrained.shipped_units(folder):
        if pretrained.shipped_config(folder, name).experiment_dict() == ucfg.experiment_dict():
            rows = pretrained.shipped_probe_rows(folder, name)
            if wanted <= set(rows["features"]):
                return tidy(rows), f"shipped {folder / name}"
    run_dir = Path(runs_dir) / name
    rows = runs.read_table(run_dir, SUBSPACE_PROBE, ucfg)  # None unless probed for this training and config
    if rows is not None and wanted <= set(rows["features"]):
        return tidy(rows), f"run {run_dir}"
    model, _, source = load_unit(cfg, runs_dir, seed, kind, retrain=True, device=device, benchmark=benchmark,
                                 progress=progress, shipped_root=shipped_root)
    if benchmark is None:
        benchmark = train.load_benchmark(ucfg, progress=progress)
    rows = probe_model(model, benchmark, tasks=TASKS, subspaces=list(subspaces), probe_cfg=ucfg.probe,
                       augment_cfg=ucfg.augment, seed=seed)
    runs.write_table(run_dir, SUBSPACE_PROBE, rows, ucfg)
    return tidy(rows), source


def probe_map_from_rows(rows: pd.DataFrame, subspaces: Sequence[str] = ("shared", "unique1", "unique2", "Z"),
                        tasks: Sequence[str] = TASKS) -> pd.DataFrame:
    """``subspace_probe_map``'s table (rows = task labels, columns = feature sets) from saved probe rows."""
    need = {"task", "features", "balanced_accuracy"}
    if not need <= set(rows.columns):
        raise ValueError(f"probe rows need the columns {sorted(need)}; got {list(rows.columns)}")
    missing = {(t, f) for t in tasks for f in subspaces} - set(zip(rows["task"], rows["features"]))
    if missing:
        raise ValueError(f"the probe rows lack (task, features) {sorted(missing)}; probe those feature sets first")
    table = rows.pivot_table(index="task", columns="features", values="balanced_accuracy").loc[list(tasks), list(subspaces)]
    table.index = pd.Index([TASK_LABELS[t] for t in tasks], name="task")
    table.columns = pd.Index(list(subspaces), name="features")
    return table


# The paper's two findings a pair of units can show (Table 3 and Table 1 / section 5.6.3), as
# (finding, unit kind, task, features, what the row is). Unit kinds are those of
# ``coral_lab.pretrained.SHIPPED_UNITS``; each finding compares a unit with the one that lacks the cause.
FINDINGS: tuple[tuple[str, str, str, str, str], ...] = (
    ("masking buys synergy", "biased", "synergy", "Z", "synergy from Z, with the preset's masking"),
    ("masking buys synergy", "biased-no-mask", "synergy", "Z", "synergy from Z, no masking"),
    ("the unique pathways keep texture", "unbiased", "unique1", "unique1", "texture 1 from Z_1^U, lambda_o = 1"),
    ("the unique pathways keep texture", "unbiased-no-ortho", "unique1", "unique1", "texture 1 from Z_1^U, lambda_o = 0"),
    ("the unique pathways keep texture", "unbiased", "unique1", "shared", "texture 1 from Z^SR, lambda_o = 1"),
    ("the unique pathways keep texture", "unbiased-no-ortho", "unique1", "shared", "texture 1 from Z^SR, lambda_o = 0"),
    ("the unique pathways keep texture", "unbiased", "unique1", "Z", "texture 1 from Z (Table 1's U), lambda_o = 1"),
    ("the unique pathways keep texture", "unbiased-no-ortho", "unique1", "Z", "texture 1 from Z (Table 1's U), lambda_o = 0"),
)


def findings_table(rows_by_kind: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The ``FINDINGS`` rows from the probe rows of each unit kind (``unit_probe_rows``' first value).

    Returns one row per finding line: finding, unit, what, balanced accuracy %, ROC-AUC % (a
    threshold-free diagnostic the paper does not report) and chance %. A kind missing from
    ``rows_by_kind``, or a (task, features) its rows lack, raises ``ValueError`` naming it.
    """
    out = []
    for finding, kind, task, features, what in FINDINGS:
        if kind not in rows_by_kind:
            raise ValueError(f"findings_table needs the probe rows of the {kind!r} unit; got {sorted(rows_by_kind)}")
        rows = rows_by_kind[kind]
        sel = rows[(rows["task"] == task) & (rows["features"] == features)]
        if len(sel) != 1:
            raise ValueError(f"the {kind!r} unit's probe rows have {len(sel)} rows for task {task!r} from "
                             f"{features!r} (need 1); probe that feature set first")
        auc = sel["roc_auc"].iloc[0] if "roc_auc" in sel else float("nan")
        out.append({"finding": finding, "unit": kind, "what": what,
                    "balanced_accuracy": float(sel["balanced_accuracy"].iloc[0]), "roc_auc": float(auc),
                    "chance": CHANCE[TASK_LABELS[task]]})
    return pd.DataFrame(out)


def _resolve(device: str | torch.device) -> torch.device:
    return resolve_device(device)


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


def history_figure(histories: pd.DataFrame | Mapping[str, pd.DataFrame], title: str = ""):
    """Interactive curves of every loss part (eq. 3, 4, 7-8) and the mask ratio per epoch.

    Four panels: the total loss; the InfoNCE parts (``shared``, ``unique1`` ... and their sum
    ``unique``), or a baseline's own loss parts (``coral_lab.methods``: e.g. CLIP's ``clip`` and
    ``logit_scale``); the orthogonality parts (``ortho_*`` and their sum ``orthogonal``; COrAL only);
    the mask ratio m. COrAL and baseline runs can be drawn together.

    Args:
        histories: one history DataFrame (as ``load_or_pretrain`` returns, or a run's history.csv)
            or ``{run name: history}``.
        title: the figure title.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    from plotly.subplots import make_subplots
    import plotly.colors

    if isinstance(histories, pd.DataFrame):
        histories = {"run": histories}
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError("histories must be a history DataFrame or a non-empty {name: DataFrame} mapping")
    not_a_part = {"epoch", "loss", "mask_ratio", "seconds", "pairs_per_s"}
    panels = (
        ("total loss L (eq. 3)", lambda c: c == "loss"),
        ("InfoNCE parts (eq. 4) / a baseline's loss parts",
         lambda c: c not in not_a_part and not c.startswith("ortho")),
        ("orthogonality parts (eq. 7-8)", lambda c: c.startswith("ortho")),
        ("mask ratio m", lambda c: c == "mask_ratio"),
    )
    for name, h in histories.items():
        if not isinstance(h, pd.DataFrame):
            raise TypeError(f"history {name!r} must be a pandas DataFrame, got {type(h).__name__}")
        missing = {"epoch", "loss", "mask_ratio"} - set(h.columns)
        if missing:
            raise ValueError(
                f"history {name!r} lacks the columns {sorted(missing)}; pass the history of "
                "coral_lab.train.pretrain / load_or_pretrain (history.csv of a run folder)"
            )
    fig = make_subplots(rows=2, cols=2, subplot_titles=[p[0] for p in panels], horizontal_spacing=0.1)
    palette = plotly.colors.qualitative.Plotly
    dashes = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
    for r, (name, h) in enumerate(histories.items()):
        color = palette[r % len(palette)]
        for k, (_, keep) in enumerate(panels):
            cols = [c for c in h.columns if keep(c)]
            for j, col in enumerate(cols):
                fig.add_scatter(
                    x=h["epoch"], y=h[col], mode="lines+markers", name=f"{name}: {col}", legendgroup=name,
                    line={"color": color, "dash": dashes[j % len(dashes)]}, row=k // 2 + 1, col=k % 2 + 1,
                    hovertemplate=f"{name}<br>{col}<br>epoch %{{x}}<br>%{{y:.4f}}<extra></extra>",
                )
    for k in range(4):
        fig.update_xaxes(title_text="epoch", row=k // 2 + 1, col=k % 2 + 1)
    fig.update_yaxes(range=[0, 1], row=2, col=2)
    fig.update_layout(title=title, height=650, legend={"groupclick": "togglegroup"})
    return fig


# ---------------------------------------------------------------------------------------------
# which subspace knows what
# ---------------------------------------------------------------------------------------------


def subspace_probe_map(
    model: torch.nn.Module,
    bench: TrifeatureBenchmark,
    *,
    tasks: Sequence[str] = TASKS,
    subspaces: Sequence[str] = ("shared", "unique1", "unique2", "Z"),
    probe_cfg: ProbeConfig | None = None,
    augment_cfg: AugmentConfig | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Balanced accuracy (%) of a linear probe of every task from every subspace.

    One ``coral_lab.evaluate.probe_model`` call (frozen features, no augmentation or masking, C chosen
    on a validation split of the probe-train pairs, scored on the probe-test pairs), reshaped.
    Disentanglement in the paper's sense shows as: shape (redundancy) and synergy read from Z^SR,
    texture i (uniqueness) from Z_i^U, and little of each elsewhere.

    Returns:
        A DataFrame, rows = tasks by readable label (``TASK_LABELS``: shape, texture 1, texture 2,
        synergy; index name "task"), columns = ``subspaces`` (``"Z"`` is their concatenation, eq. 2),
        values = balanced accuracy in [0, 100]. Chance per row: ``CHANCE``.
    """
    tasks, subspaces = list(tasks), list(subspaces)
    if not tasks or not subspaces:
        raise ValueError("give at least one task and one subspace")
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {sorted(unknown)}; valid tasks: {list(TASKS)}")
    for name, values in (("tasks", tasks), ("subspaces", subspaces)):
        if len(set(values)) != len(values):
            raise ValueError(f"{name} has duplicates: {values}")
    rows = probe_model(
        model, bench, tasks=tasks, subspaces=subspaces, probe_cfg=probe_cfg, augment_cfg=augment_cfg, seed=seed
    )
    table = rows.pivot(index="task", columns="features", values="balanced_accuracy").loc[tasks, subspaces]
    table.index = pd.Index([TASK_LABELS[t] for t in tasks], name="task")
    table.columns = pd.Index(subspaces, name="features")
    return table


@torch.no_grad()
def _shared_with_one_modality(model: torch.nn.Module, split, pairs: PairSet, keep: int, augment_cfg,
                              batch_size: int = 256) -> np.ndarray:
    """Z^SR of every pair with every token of the other modality set to zero (as a fully masked modality)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    images = torch.from_numpy(split.images)
    out = []
    try:
        for start in range(0, len(pairs), batch_size):
            sl = slice(start, start + batch_size)
            xs = [to_model_input(images[torch.from_numpy(idx[sl])].to(device), augment_cfg)
                  for idx in (pairs.idx1, pairs.idx2)]
            tokens = [enc(x) for enc, x in zip(model.shared_encoders, xs)]
            tokens = [t if i == keep else torch.zeros_like(t) for i, t in enumerate(tokens)]
            out.append(model.fusion(tokens).float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out)


def one_modality_probe(
    model: torch.nn.Module,
    bench: TrifeatureBenchmark,
    *,
    probe_cfg: ProbeConfig | None = None,
    augment_cfg: AugmentConfig | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """What the shared pathway makes of ONE modality: the mechanism behind synergy, measured.

    Z^SR is computed with every token of the other modality zeroed (what a fully masked modality
    looks like to the fusion transformer). Linear probes (``coral_lab.evaluate.linear_probe``, balanced
    accuracy %, chance 10) then read, on the probe-test pairs:

    - ``texture 1 | image 1 only``: does the shared pathway encode texture 1 at all? Synergy needs it;
    - ``color 2 | image 2 only``: and color 2;
    - ``transfer``: a probe fitted on (image 2 only -> color 2), applied to (image 1 only) and scored
      against pi(texture 1). High only if the shared pathway maps texture t where it maps color pi(t):
      the cross-modal correspondence that asymmetric masking has to teach a model trained on biased pairs.

    Returns:
        One row per measure: measure, balanced_accuracy.
    """
    if not hasattr(model, "shared_encoders") or not hasattr(model, "fusion"):
        raise TypeError("one_modality_probe needs a COrAL model (shared_encoders and a fusion transformer)")
    d = bench.data
    feats = {(name, keep): _shared_with_one_modality(model, split, pairs, keep, augment_cfg)
             for name, split, pairs in (("train", d.train, bench.probe_train), ("test", d.test, bench.probe_test))
             for keep in (0, 1)}
    tex1 = {n: s.texture[p.idx1] for n, s, p in (("train", d.train, bench.probe_train), ("test", d.test, bench.probe_test))}
    col2 = {n: s.color[p.idx2] for n, s, p in (("train", d.train, bench.probe_train), ("test", d.test, bench.probe_test))}
    rows = [
        ("texture 1 | image 1 only", linear_probe(feats["train", 0], tex1["train"], feats["test", 0], tex1["test"],
                                                   probe_cfg, seed=seed).balanced_accuracy),
        ("color 2 | image 2 only", linear_probe(feats["train", 1], col2["train"], feats["test", 1], col2["test"],
                                                 probe_cfg, seed=seed).balanced_accuracy),
        # fitted on image 2's colors, scored on image 1's textures mapped through pi
        ("transfer: color-2 probe on image 1 -> pi(texture 1)",
         linear_probe(feats["train", 1], col2["train"], feats["test", 0], bench.mapping[tex1["test"]],
                      probe_cfg, seed=seed).balanced_accuracy),
    ]
    return pd.DataFrame({"measure": [r[0] for r in rows], "balanced_accuracy": [100 * r[1] for r in rows]})


def probe_map_heatmap(table: pd.DataFrame, title: str):
    """Seaborn heat map of a ``subspace_probe_map`` table, chance level noted on every row.

    Cells show the balanced accuracy (%); the colour is the share of the way from chance to perfect,
    ``(acc - chance) / (100 - chance)`` clipped to [0, 1], so a synergy cell (chance 50 %) and a shape
    cell (chance 10 %) are comparable at a glance.

    Returns:
        A matplotlib ``Figure`` with two axes (the map and its colour bar).
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (from subspace_probe_map), got {type(table).__name__}")
    if table.empty:
        raise ValueError("table is empty; build it with subspace_probe_map")
    unknown = [r for r in table.index if r not in CHANCE]
    if unknown:
        raise ValueError(f"unknown row label(s) {unknown}; rows must be task labels {list(CHANCE)} (subspace_probe_map)")
    values = table.to_numpy(dtype=float)
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 100:
        raise ValueError("table values must be balanced accuracies in [0, 100] %")
    chance = np.array([CHANCE[r] for r in table.index])[:, None]  # (tasks, 1)
    above = np.clip((values - chance) / (100 - chance), 0, 1)
    fig = Figure(figsize=(1.6 * table.shape[1] + 3.0, 0.75 * table.shape[0] + 1.6), layout="constrained")
    ax = fig.add_subplot()
    sns.heatmap(
        above, annot=np.vectorize(lambda v: f"{v:.1f}")(values), fmt="", cmap="viridis", vmin=0, vmax=1,
        ax=ax, cbar_kws={"label": "(acc - chance) / (100 - chance)"}, linewidths=0.5,
        xticklabels=[_subspace_label(c) for c in table.columns],
        yticklabels=[f"{r}\n(chance {CHANCE[r]:.0f} %)" for r in table.index],
    )
    ax.set_xlabel("probed features")
    ax.set_ylabel("task")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(title + ("\n" if title else "") + "balanced accuracy %, linear probe", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# embeddings and UMAP (paper Figure 5)
# ---------------------------------------------------------------------------------------------


def embedding_frame(
    model: torch.nn.Module,
    bench: TrifeatureBenchmark,
    *,
    n_pairs: int = 500,
    seed: int = 0,
    augment_cfg: AugmentConfig | None = None,
) -> pd.DataFrame:
    """Inference embeddings of ``n_pairs`` probe-train and ``n_pairs`` probe-test pairs, with labels.

    Features come from ``coral_lab.evaluate.extract_features``: frozen model, no augmentation, no
    masking, before the projection heads. The pairs are a seeded sample without replacement
    (``derived_rng(seed, "embedding_frame-<split>")``) of ``bench.probe_train`` and
    ``bench.probe_test``, kept in their original order.

    Returns:
        One row per (pair, subspace), ``2 * n_pairs * (1 + n_modalities)`` rows, with columns
        ``pair`` (index into ``bench.probe_train`` or ``bench.probe_test``), ``split`` ("train" /
        "test"), ``subspace`` ("shared", "unique1", "unique2"), the label columns ``LABEL_COLUMNS``
        (int indices into SHAPES / TEXTURES / COLOR_NAMES; ``synergy`` 0 / 1, as ``pair_labels``),
        and ``embedding``: each row's feature vector as a float32 NumPy array of shape (D,) for
        "shared" and (D/2,) for the unique subspaces (an object column, since the widths differ).
    """
    if not isinstance(bench, TrifeatureBenchmark):
        raise TypeError(f"bench must be a TrifeatureBenchmark (coral_lab.train.load_benchmark), got {type(bench).__name__}")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, numbers.Integral) or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive int, got {n_pairs!r}")
    frames = []
    for split_name, split, pairs in (
        ("train", bench.data.train, bench.probe_train),
        ("test", bench.data.test, bench.probe_test),
    ):
        if n_pairs > len(pairs):
            raise ValueError(
                f"n_pairs={n_pairs} but the benchmark has only {len(pairs)} probe-{split_name} pairs; "
                f"ask for at most min(len(bench.probe_train), len(bench.probe_test))"
            )
        chosen = np.sort(derived_rng(seed, f"embedding_frame-{split_name}").choice(len(pairs), n_pairs, replace=False))
        sub = PairSet(pairs.idx1[chosen], pairs.idx2[chosen])
        feats = extract_features(model, split, sub, augment_cfg=augment_cfg)  # {name: (n_pairs, D_name)}
        y = pair_labels(split, sub, bench.mapping)
        labels = {
            "shape": y["share"],
            "texture1": y["unique1"],
            "texture2": y["unique2"],
            "color1": split.color[sub.idx1].astype(np.int64),
            "color2": split.color[sub.idx2].astype(np.int64),
            "synergy": y["synergy"],
        }
        for name, z in feats.items():
            frames.append(
                pd.DataFrame({"pair": chosen, "split": split_name, "subspace": name, **labels, "embedding": list(z)})
            )
    return pd.concat(frames, ignore_index=True)


def joint_embedding_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The rows' embeddings in one common space, for a joint UMAP of subspaces of different widths.

    Each vector is L2-normalised (the losses only see directions: InfoNCE and the orthogonality
    penalty are cosine-based) and zero-padded to the widest subspace, so Z^SR (D) and Z_i^U (D/2) share
    one (N, D) matrix. Padding puts Z_i^U into the first D/2 coordinates: distances *between*
    subspaces are therefore partly a convention, distances *within* a subspace are exact cosines.

    Returns:
        float32 (N, D_max), one row per frame row.
    """
    if not isinstance(frame, pd.DataFrame) or "embedding" not in frame.columns:
        raise ValueError("frame must be a DataFrame with an 'embedding' column (from embedding_frame)")
    if len(frame) == 0:
        raise ValueError("frame has no rows")
    vecs = [np.asarray(v, dtype=np.float32) for v in frame["embedding"]]
    if any(v.ndim != 1 or v.size == 0 for v in vecs):
        raise ValueError("every embedding must be a non-empty 1-D array")
    width = max(v.size for v in vecs)
    out = np.zeros((len(vecs), width), dtype=np.float32)  # (N, D_max)
    for i, v in enumerate(vecs):
        out[i, : v.size] = v
    if not np.isfinite(out).all():
        raise ValueError("embeddings contain NaN or inf; the model diverged (check its pretraining history)")
    norms = np.linalg.norm(out, axis=1, keepdims=True)  # (N, 1)
    return out / np.maximum(norms, 1e-12)


def umap_projection(
    frame_or_features: pd.DataFrame | Mapping[str, np.ndarray],
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    """Shared and unique embeddings projected together to 2-D by UMAP (McInnes et al., 2018).

    All rows are embedded by one UMAP fit on ``joint_embedding_matrix`` (L2-normalised, zero-padded to
    the widest subspace; Euclidean distance there is a monotone function of the cosine). With
    ``random_state=seed`` umap-learn runs single-threaded and the result is reproducible.

    Args:
        frame_or_features: an ``embedding_frame`` DataFrame, or ``{subspace: (P, D_k) array}`` (e.g.
            ``extract_features``'s output; becomes a frame with columns pair, subspace, embedding).
        n_neighbors, min_dist: UMAP's size of the local neighbourhood and minimum point spacing.
        seed: UMAP's random state.

    Returns:
        A copy of the frame with two more float columns, ``x`` and ``y``.
    """
    if isinstance(frame_or_features, pd.DataFrame):
        frame = frame_or_features.copy()
    elif isinstance(frame_or_features, Mapping):
        parts = []
        for name, z in frame_or_features.items():
            z = np.asarray(z)
            if z.ndim != 2:
                raise ValueError(f"features[{name!r}] must be (P, D), got shape {z.shape}")
            parts.append(pd.DataFrame({"pair": np.arange(len(z)), "subspace": name, "embedding": list(z)}))
        if not parts:
            raise ValueError("features is empty")
        frame = pd.concat(parts, ignore_index=True)
    else:
        raise TypeError(
            f"frame_or_features must be a DataFrame (embedding_frame) or a {{name: array}} mapping, "
            f"got {type(frame_or_features).__name__}"
        )
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral) or n_neighbors < 2:
        raise ValueError(f"n_neighbors must be an int >= 2, got {n_neighbors!r}")
    if not 0 <= min_dist:
        raise ValueError(f"min_dist must be >= 0, got {min_dist!r}")
    x = joint_embedding_matrix(frame)  # (N, D_max)
    if len(x) <= n_neighbors:
        raise ValueError(f"UMAP needs more rows ({len(x)}) than n_neighbors ({n_neighbors}); embed more pairs")
    import umap

    reducer = umap.UMAP(
        n_components=2, n_neighbors=int(n_neighbors), min_dist=float(min_dist), metric="euclidean",
        random_state=int(seed), n_jobs=1,
    )
    with warnings.catch_warnings():
        # umap-learn says "n_jobs value 1 overridden to 1 by setting random_state" even for n_jobs=1
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        xy = reducer.fit_transform(x)  # (N, 2)
    frame["x"] = xy[:, 0].astype(np.float64)
    frame["y"] = xy[:, 1].astype(np.float64)
    return frame


def neighbour_agreement(
    df: pd.DataFrame, *, by: Sequence[str] = ("shape", "texture1", "texture2"), k: int = 10
) -> pd.DataFrame:
    """How much a UMAP picture is organised by each label, per subspace: a number for what the eye sees.

    For every row, its ``k`` nearest neighbours in (x, y) among the rows of the same subspace (both
    splits; the point itself excluded); the score is the share (%) of neighbours with the same label.
    A subspace that encodes an attribute puts equal labels together (near 100 %); one that ignores it
    scores about the chance level ``100 * sum_c p_c^2`` (about 10 % for ten balanced classes).

    Returns:
        A DataFrame, rows = ``by`` (index name "label"), columns = the subspaces in order of
        appearance, then ``chance``.
    """
    by = list(by)
    if not by:
        raise ValueError("by must name at least one label column")
    bad = [c for c in by if c not in LABEL_COLUMNS]
    if bad:
        raise ValueError(f"unknown label column(s) {bad}; valid: {list(LABEL_COLUMNS)}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    _check_xy_frame(df, ["x", "y", "subspace", *by])
    out: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(df["subspace"]):
        part = df[df["subspace"] == name]
        if len(part) <= k:
            raise ValueError(f"subspace {name!r} has {len(part)} rows; k={k} neighbours need more")
        idx = NearestNeighbors(n_neighbors=k).fit(part[["x", "y"]].to_numpy()).kneighbors(return_distance=False)
        out[name] = {}
        for col in by:
            lab = part[col].to_numpy()
            out[name][col] = 100.0 * float((lab[idx] == lab[:, None]).mean())  # idx: (N, k), self excluded
    table = pd.DataFrame(out).loc[by]
    freq = {col: df[col].value_counts(normalize=True).to_numpy() for col in by}
    table["chance"] = [100.0 * float((freq[col] ** 2).sum()) for col in by]
    table.index.name = "label"
    return table


def _check_xy_frame(df: Any, need: Sequence[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame (from umap_projection), got {type(df).__name__}")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks the columns {missing}; build it with embedding_frame, then umap_projection")
    if len(df) == 0:
        raise ValueError("df has no rows")
    return df


def umap_scatter(df: pd.DataFrame, color_by: str = "subspace"):
    """Interactive plotly scatter of a ``umap_projection`` frame.

    Args:
        df: the frame (columns x, y, subspace, and the label / split columns used).
        color_by: one of ``COLOR_BY`` (subspace, split, shape, texture1, texture2, color1, color2,
            synergy). Labels are shown by name; color1 / color2 are drawn in the Trifeature colours.
            Unless ``color_by`` is the subspace, the marker symbol tells the subspace.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    import plotly.express as px

    if color_by not in COLOR_BY:
        raise ValueError(f"unknown color_by {color_by!r}; valid: {list(COLOR_BY)}")
    _check_xy_frame(df, ["x", "y", "subspace", color_by])
    show = df.drop(columns=[c for c in ("embedding",) if c in df.columns]).copy()
    orders: dict[str, list] = {"subspace": list(dict.fromkeys(show["subspace"]))}
    for col, names in _NAMES.items():
        if col in show.columns:
            show[col] = [names[int(i)] for i in show[col]]
            orders[col] = list(names)
    if "synergy" in show.columns:
        show["synergy"] = show["synergy"].map({0: "0: color2 != pi(texture1)", 1: "1: color2 = pi(texture1)"})
        orders["synergy"] = ["0: color2 != pi(texture1)", "1: color2 = pi(texture1)"]
    if "split" in show.columns:
        orders["split"] = ["train", "test"]
    color_map = None
    if color_by in ("color1", "color2"):
        color_map = {n: "rgb({:.0f},{:.0f},{:.0f})".format(*(255 * np.asarray(c))) for n, c in zip(COLOR_NAMES, COLORS)}
    hover = [c for c in ("pair", "split", "subspace", *LABEL_COLUMNS) if c in show.columns]
    fig = px.scatter(
        show, x="x", y="y", color=color_by, symbol=None if color_by == "subspace" else "subspace",
        hover_data=hover, category_orders=orders, color_discrete_map=color_map, opacity=0.75,
        title=f"UMAP of the shared and unique embeddings, coloured by {color_by}",
    )
    fig.update_traces(marker={"size": 5, "line": {"width": 0.3, "color": "grey"}})
    fig.update_layout(xaxis_title="UMAP 1", yaxis_title="UMAP 2", height=600, legend_title_text=color_by)
    return fig


def umap_density_figure(df: pd.DataFrame, title: str):
    """The paper's Figure 5 for Trifeature: density contours of each subspace in the joint UMAP.

    One colour family per subspace (Z^SR, Z_1^U, Z_2^U); the probe-train density is drawn in the light
    shade and the probe-test density in the dark shade (seaborn ``kdeplot``, one per subspace x
    split). Disentangled subspaces form separate regions; test contours on top of train contours
    mean the structure generalises to unseen attribute combinations.

    Returns:
        A matplotlib ``Figure`` with one axes (x "UMAP 1", y "UMAP 2").
    """
    import seaborn as sns
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    _check_xy_frame(df, ["x", "y", "subspace", "split"])
    bad = set(df["split"]) - {"train", "test"}
    if bad:
        raise ValueError(f"split values must be 'train' or 'test', got {sorted(bad)}")
    paired = sns.color_palette("Paired")  # (light, dark) pairs: blue, green, red, orange, purple, brown
    order = [0, 3, 1, 4, 5, 2]  # shared blue, unique1 orange, unique2 green, then purple, brown, red
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    ax = fig.add_subplot()
    handles = []
    for k, name in enumerate(dict.fromkeys(df["subspace"])):
        light, dark = paired[2 * order[k % 6]], paired[2 * order[k % 6] + 1]
        for split, color, width in (("train", light, 1.6), ("test", dark, 1.0)):
            pts = df[(df["subspace"] == name) & (df["split"] == split)]
            if len(pts) < 3:
                raise ValueError(f"subspace {name!r}, split {split!r} has {len(pts)} rows; a density needs at least 3")
            sns.kdeplot(data=pts, x="x", y="y", ax=ax, color=color, levels=6, thresh=0.15, linewidths=width)
            handles.append(Line2D([], [], color=color, linewidth=2, label=f"{_subspace_label(name)} {split}"))
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.legend(handles=handles, loc="best", fontsize=8, title="light: train, dark: test", title_fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def umap_static_figure(
    df: pd.DataFrame, title: str, color_by: Sequence[str] = ("subspace", "shape", "texture1", "color2")
):
    """A static (seaborn) version of ``umap_scatter``: one panel per entry of ``color_by``.

    Labels are shown by name, color1 / color2 in the Trifeature colours; unless a panel is coloured
    by subspace, the marker tells the subspace.

    Returns:
        A matplotlib ``Figure`` with one axes per panel (on a grid of two columns).
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    color_by = list(color_by)
    if not color_by:
        raise ValueError("color_by must name at least one column")
    bad = [c for c in color_by if c not in COLOR_BY]
    if bad:
        raise ValueError(f"unknown color_by {bad}; valid: {list(COLOR_BY)}")
    _check_xy_frame(df, ["x", "y", "subspace", *color_by])
    n_rows = (len(color_by) + 1) // 2
    n_cols = min(2, len(color_by))
    fig = Figure(figsize=(6.5 * n_cols, 5.0 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    subspace_names = [_subspace_label(s) for s in df["subspace"]]
    for ax, col in zip(axes, color_by):
        if col in _NAMES:
            hue = [_NAMES[col][int(i)] for i in df[col]]
            order = [n for n in _NAMES[col] if n in set(hue)]
        elif col == "subspace":
            hue, order = subspace_names, list(dict.fromkeys(subspace_names))
        else:
            hue = [str(v) for v in df[col]]
            order = sorted(set(hue))
        palette = None
        if col in ("color1", "color2"):
            palette = {n: tuple(float(v) for v in c) for n, c in zip(COLOR_NAMES, COLORS)}
        sns.scatterplot(
            x=df["x"].to_numpy(), y=df["y"].to_numpy(), hue=hue, hue_order=order, palette=palette,
            style=None if col == "subspace" else subspace_names, s=10, alpha=0.7, linewidth=0.2,
            edgecolor="grey", ax=ax,
        )
        ax.set(xlabel="UMAP 1", ylabel="UMAP 2", title=f"coloured by {col}")
        ax.legend(fontsize=7, markerscale=1.2, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    for ax in axes[len(color_by):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    return fig
