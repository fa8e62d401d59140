"""An interactive lab: change the masking schedule and the loss weights, train, and compare R / U / S.

``LabSession`` is a plain class that holds the data (rendered once, shared by every trial), runs
trials and keeps every result in a table; ``build_lab_widgets`` puts ipywidgets controls on top of
it. All logic is in the session, so it is tested from Python without a browser.

One trial (kept short on purpose):

1. the preset's config with the chosen settings: masking (``"none"``, a ``"static"`` ratio m, or the
   ``"paper"`` schedule 5 -> 35 -> 55 -> 75 %, eq. 5-6), lambda_s, lambda_u, lambda_o (eq. 3), the
   orthogonality kind (``"hinge"`` = paper eq. 7, ``"squared"`` = released code) and the epochs;
2. ONE pretraining (``coral_lab.training.pretrain.pretrain``, in memory, same training seed for every trial so
   that only the settings differ) on the pair set the user picks, default ``"unbiased"``;
3. a linear probe of every task (share = R, unique1 / unique2 = U, synergy = S) from the frozen
   Z = (Z^SR, Z_1^U, Z_2^U) (eq. 2), as ``coral_lab.evaluation.probe.probe_model`` (balanced accuracy %);
4. optionally, a UMAP of the subspaces (``coral_lab.evaluation.analysis``).

A session started with ``shipped_trials=True`` opens a trial whose exact config was shipped
(``pretrained/<preset>-lab/``, ``lab_trials_dir``; written by ``scripts/ship_models.py --lab-trials``: the
notebook's two trials) from the shipped weights, history and probe rows instead of training it; every other
trial trains.

This differs from the Table 1 protocol (``coral_lab.evaluation.protocol``), which trains two models per seed
and reads synergy only from the model pretrained on the *biased* pairs: from an unbiased
pretraining, S stays near chance (50 %) whatever the settings, because unbiased pairs rarely
follow the texture -> color mapping. Pick ``train_set="biased"`` to see the settings move S (and
then R and U are read from the synergy model). The numbers of the small presets show trends, not
the paper's values.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch

from coral_lab.evaluation import analysis
from coral_lab.training import pretrained
from coral_lab.drawing import views
from coral_lab.config import TEACHING_DATA, RunConfig, get_preset, require_trifeature
from coral_lab.data import N_CLASSES, PAIR_KINDS, TASKS, TrifeatureBenchmark, task_classes
from coral_lab.core.device import resolve_device
from coral_lab.evaluation.probe import probe_model
from coral_lab.objectives.losses import ORTHO_KINDS
from coral_lab.objectives.masking import check_mask_ratio
from coral_lab.core.paper import chance_percent
from coral_lab.training.pretrain import load_benchmark, pretrain

__all__ = [
    "TRIAL_EPOCHS",
    "DATA_SETS",
    "trial_config",
    "MASKING_MODES",
    "SCORES",
    "S_AUC",
    "TrialSettings",
    "settings_from_controls",
    "LabSession",
    "LabWidgets",
    "build_lab_widgets",
    "lab_trials_dir",
    "NOTEBOOK_TRIALS",
    "notebook_trial_config",
    "default_settings",
    "config_for",
]

# epochs of one trial per preset: the quick preset's 8 epochs of the biased pairs take about 4 minutes on
# this project's 2-core CPU (one process, 2 threads, 2 x 2-token model; the probe and UMAP add under a
# minute); ci: seconds; the 4 x 4-token long and hour presets and the paper preset train longer per epoch
TRIAL_EPOCHS = {"ci": 2, "quick": 8, "long": 3, "hour": 3, "paper": 10}

# the data a trial trains on (trial_config): the benchmark, or the teaching variant (config.TEACHING_DATA)
DATA_SETS = ("benchmark", "teaching")
MASKING_MODES = ("none", "static", "paper")
# trial score -> (probe task, chance level in balanced accuracy % on the benchmark; a session on a teaching
# variant has its own in LabSession.chance)
SCORES = {name: (task, chance_percent(N_CLASSES[task]))
          for name, task in {"R": "share", "U1": "unique1", "U2": "unique2", "S": "synergy"}.items()}
_SETTING_COLUMNS = ("masking", "mask_ratio", "lambda_s", "lambda_u", "lambda_o", "ortho_kind", "epochs", "train_set")
# the synergy probe's test ROC-AUC %, beside its balanced accuracy: the threshold-free reading, on which
# masking's effect is visible within a short trial (docs/measured.md: 10 quick epochs move S
# by about 5 points of balanced accuracy and 26 of AUC); chance 50
S_AUC = "S AUC"
_TRIAL_COLUMNS = ("trial", *_SETTING_COLUMNS, "mask_schedule", *SCORES, S_AUC, "final_loss", "seconds")


@dataclass(frozen=True)
class TrialSettings:
    """What the user chose for one trial (build it with ``settings_from_controls``, which validates).

    ``mask_ratio`` is the static ratio m and is only used when ``masking == "static"``.
    """

    masking: str
    mask_ratio: float
    lambda_s: float
    lambda_u: float
    lambda_o: float
    ortho_kind: str
    epochs: int
    train_set: str = "unbiased"

    @property
    def mask_schedule(self) -> str | float | None:
        """The value for ``TrainConfig.mask_schedule``: None, the static ratio, or ``"paper"``."""
        return {"none": None, "static": self.mask_ratio, "paper": "paper"}[self.masking]

    def with_changes(self, **changes: Any) -> "TrialSettings":
        """A copy with some fields changed, validated again: ``s.with_changes(masking="none")``."""
        unknown = set(changes) - set(_SETTING_COLUMNS)
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; valid: {list(_SETTING_COLUMNS)}")
        return settings_from_controls(**{**dataclasses.asdict(self), **changes})

    def describe(self) -> str:
        """A short label, e.g. ``'paper masking, ls=1 lu=1 lo=3, hinge, 2 ep, unbiased'``."""
        mask = {"none": "no masking", "static": f"static {self.mask_ratio:.0%}", "paper": "paper masking"}[self.masking]
        return (f"{mask}, ls={self.lambda_s:g} lu={self.lambda_u:g} lo={self.lambda_o:g}, {self.ortho_kind}, "
                f"{self.epochs} ep, {self.train_set}")


def trial_config(base: RunConfig, data: str = "benchmark") -> RunConfig:
    """The lab's trial config for a preset: its model, ``TRIAL_EPOCHS`` epochs, on the biased pairs (the
    pair set on which masking moves synergy; the unbiased pairs are one click away).

    Args:
        base: the preset's config.
        data: ``"benchmark"`` (Trifeature, 10 shapes x 10 textures x 10 colors) or ``"teaching"``: the
            named teaching variant ``config.TEACHING_DATA`` (4 textures and their 4 partner colors;
            texture chance 25 %), on which one short trial shows masking's effect on synergy (the
            levers study, docs/measured.md). Never a replacement for the benchmark.
    """
    if base.preset not in TRIAL_EPOCHS:
        raise ValueError(f"no lab trial length for preset {base.preset!r}; known: {sorted(TRIAL_EPOCHS)}")
    data = _choice(data, "data", DATA_SETS)
    cfg = base.replace(train={"epochs": TRIAL_EPOCHS[base.preset], "train_set": "biased"})
    return cfg.replace(data=dict(TEACHING_DATA)) if data == "teaching" else cfg


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _choice(value: Any, name: str, valid: tuple[str, ...]) -> str:
    if value not in valid:
        raise ValueError(f"{name} must be one of {list(valid)}, got {value!r}")
    return str(value)


def settings_from_controls(
    masking: str,
    mask_ratio: float,
    lambda_s: float,
    lambda_u: float,
    lambda_o: float,
    ortho_kind: str,
    epochs: int,
    train_set: str = "unbiased",
) -> TrialSettings:
    """Validate the controls' values and return them as ``TrialSettings``.

    Args:
        masking: ``"none"``, ``"static"`` (the ratio ``mask_ratio`` every epoch) or ``"paper"``
            (5 -> 35 -> 55 -> 75 % over the four quarters of training).
        mask_ratio: m in (0, 1) for ``"static"``; must still be a number in [0, 1) otherwise.
        lambda_s, lambda_u, lambda_o: the weights of eq. 3, >= 0, not all zero.
        ortho_kind: ``"hinge"`` (paper eq. 7) or ``"squared"`` (released code).
        epochs: >= 1.
        train_set: ``"unbiased"`` (default) or ``"biased"`` pairs for the one pretraining.

    Raises:
        ValueError: any value outside its range, with the valid range in the message.
    """
    masking = _choice(masking, "masking", MASKING_MODES)
    ratio = check_mask_ratio(_real(mask_ratio, "mask_ratio"))
    if masking == "static" and ratio == 0.0:
        raise ValueError("static masking needs mask_ratio > 0; for no masking choose masking='none'")
    weights = {n: _real(v, n) for n, v in (("lambda_s", lambda_s), ("lambda_u", lambda_u), ("lambda_o", lambda_o))}
    for name, value in weights.items():
        if value < 0:
            raise ValueError(f"{name} must be >= 0 (a weight of eq. 3), got {value!r}")
    if weights["lambda_s"] == 0 and weights["lambda_u"] == 0:
        raise ValueError("lambda_s and lambda_u are both 0: no InfoNCE term would train; make one of them > 0")
    ortho_kind = _choice(ortho_kind, "ortho_kind", ORTHO_KINDS)
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    train_set = _choice(train_set, "train_set", PAIR_KINDS)
    return TrialSettings(masking, ratio, weights["lambda_s"], weights["lambda_u"], weights["lambda_o"], ortho_kind,
                         int(epochs), train_set)


def lab_trials_dir(preset: str, root: Any = None) -> Path:
    """``<root>/pretrained/<preset>-lab``: the shipped trials of a preset (its own ``MANIFEST.json``)."""
    return pretrained.shipped_dir(f"{preset}-lab", root)


# the trials notebook 09 runs, by shipped name: (data, changes to the session's default settings)
NOTEBOOK_TRIALS: dict[str, tuple[str, dict[str, Any]]] = {
    "teaching-default": ("teaching", {}),
    "teaching-no-masking": ("teaching", {"masking": "none"}),
}


def default_settings(base: RunConfig) -> TrialSettings:
    """The settings of the base config ``base`` itself (a trial with these trains the preset as it is)."""
    sched = base.train.mask_schedule
    if sched is None or (isinstance(sched, str) and sched.lower() == "none") or sched == 0:
        masking, ratio = "none", 0.5
    elif isinstance(sched, str) and sched.lower() == "paper":
        masking, ratio = "paper", 0.5
    elif isinstance(sched, numbers.Real):
        masking, ratio = "static", float(sched)
    else:
        raise ValueError(f"the base config's mask_schedule {sched!r} is not one the lab offers: {list(MASKING_MODES)}")
    loss = base.loss
    return settings_from_controls(masking, ratio, loss.lambda_s, loss.lambda_u, loss.lambda_o, loss.ortho_kind,
                                  base.train.epochs, base.train.train_set)


def config_for(base: RunConfig, settings: TrialSettings) -> RunConfig:
    """``base`` with the trial's settings, validated: the config a trial trains."""
    if not isinstance(settings, TrialSettings):
        raise TypeError(f"settings must be TrialSettings (from settings_from_controls), got {type(settings).__name__}")
    return base.replace(
        train={"epochs": settings.epochs, "mask_schedule": settings.mask_schedule, "train_set": settings.train_set},
        loss={"lambda_s": settings.lambda_s, "lambda_u": settings.lambda_u, "lambda_o": settings.lambda_o,
              "ortho_kind": settings.ortho_kind},
    ).validate()


def notebook_trial_config(preset: str, name: str) -> RunConfig:
    """The config notebook 09's trial ``name`` (``NOTEBOOK_TRIALS``) trains at ``preset``: what
    ``scripts/ship_models.py --lab-trials`` ships and ``shipped_trials`` opens."""
    if name not in NOTEBOOK_TRIALS:
        raise ValueError(f"unknown notebook trial {name!r}; valid: {list(NOTEBOOK_TRIALS)}")
    data, changes = NOTEBOOK_TRIALS[name]
    base = trial_config(get_preset(preset), data=data)
    return config_for(base, default_settings(base).with_changes(**changes))


class LabSession:
    """Trials of COrAL settings on one shared benchmark, each kept in ``trials``.

    Args:
        cfg: the base config (a preset); every trial changes only the settings of ``TrialSettings``.
        device: "auto", "cpu", "cuda" or a torch.device.
        benchmark: pre-built data and pairs (else rendered / loaded from ``cfg.data.cache_dir`` once).
        umap_pairs: probe-train and probe-test pairs embedded for the UMAP after each trial (capped
            by the benchmark's sizes); 0 skips the UMAP.
        progress: show tqdm bars while training (off for the widget, which has its own bar).
        shipped_trials: open a trial whose exact config is shipped (``lab_trials_dir``) from the shipped
            files (weights, history, probe rows; checksums verified) instead of training it.
        shipped_root: the checkout whose ``pretrained/`` holds them (default: this package's).
    """

    def __init__(
        self,
        cfg: RunConfig,
        device: str | torch.device = "auto",
        *,
        benchmark: TrifeatureBenchmark | None = None,
        umap_pairs: int = 200,
        progress: bool = False,
        shipped_trials: bool = False,
        shipped_root: Any = None,
    ) -> None:
        require_trifeature(cfg, "the interactive lab")
        if isinstance(umap_pairs, bool) or not isinstance(umap_pairs, numbers.Integral) or umap_pairs < 0:
            raise ValueError(f"umap_pairs must be an int >= 0 (0 skips the UMAP), got {umap_pairs!r}")
        self.cfg = cfg.validate()
        self.device = resolve_device(device)
        self.bench = benchmark if benchmark is not None else load_benchmark(cfg, progress=progress)
        if not isinstance(self.bench, TrifeatureBenchmark):
            raise TypeError(f"benchmark must be a TrifeatureBenchmark, got {type(self.bench).__name__}")
        self.umap_pairs = int(umap_pairs)
        self.progress = progress
        if not isinstance(shipped_trials, bool):
            raise TypeError(f"shipped_trials must be True or False, got {shipped_trials!r}")
        self.shipped_trials = shipped_trials
        self.shipped_folder = lab_trials_dir(self.cfg.preset, shipped_root)
        classes = task_classes(self.cfg.data.n_textures)
        # trial score -> chance in balanced accuracy % on this session's data set (U: 25 % with 4 textures)
        self.chance: dict[str, float] = {name: chance_percent(classes[task]) for name, (task, _) in SCORES.items()}
        n = self.cfg.data.n_textures
        self.on_benchmark = n == N_CLASSES["unique1"]  # all of Trifeature's textures: not a teaching variant
        self.data_label = "Trifeature" if self.on_benchmark else f"teaching variant ({n} textures, {n} colors)"
        self.last_model: torch.nn.Module | None = None
        self.last_umap: pd.DataFrame | None = None  # umap_projection frame of the last trial
        self.last_error: BaseException | None = None
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- settings ------------------------------------------------------------------------------

    @staticmethod
    def settings_from_controls(*args: Any, **kwargs: Any) -> TrialSettings:
        """``coral_lab.teaching.lab.settings_from_controls`` (validates; bad values raise ValueError)."""
        return settings_from_controls(*args, **kwargs)

    def default_settings(self) -> TrialSettings:
        """The base config's own settings (the paper's defaults for every preset)."""
        return default_settings(self.cfg)

    def config_for(self, settings: TrialSettings) -> RunConfig:
        """The base config with the trial's settings, validated."""
        return config_for(self.cfg, settings)

    # -- trials --------------------------------------------------------------------------------

    def run_trial(self, settings: TrialSettings, on_epoch_end: Callable[[dict], None] | None = None) -> dict[str, Any]:
        """Pretrain once with ``settings``, probe every task from Z, add a row to ``trials`` (synchronous).

        With ``shipped_trials``, a trial whose exact config is shipped is opened from the shipped weights,
        history (replayed through ``on_epoch_end``) and probe rows instead; its ``seconds`` are the shipped
        training's.

        Args:
            settings: from ``settings_from_controls``.
            on_epoch_end: called with each epoch's history row (epoch, loss, parts, mask_ratio, ...).

        Returns:
            The new row: trial number, the settings, the mask schedule, R / U1 / U2 / S (balanced
            accuracy %, from Z), the final loss and the wall time in seconds.
        """
        cfg = self.config_for(settings)
        t0 = time.perf_counter()
        shipped = self.shipped_trial_name(cfg) if self.shipped_trials else None
        if shipped is None:
            result = pretrain(cfg, None, benchmark=self.bench, device=self.device, progress=self.progress,
                              on_epoch_end=on_epoch_end)
            model, history = result.model, result.history
            probe = probe_model(model, self.bench, tasks=TASKS, subspaces=("Z",), probe_cfg=cfg.probe,
                                augment_cfg=cfg.augment, seed=cfg.train.seed)
        else:
            model, _, history = pretrained.load_shipped(self.shipped_folder, shipped, self.device)
            for epoch_row in history.to_dict("records"):
                if on_epoch_end is not None:
                    on_epoch_end(epoch_row)
            probe = pretrained.shipped_probe_rows(self.shipped_folder, shipped)
            probe = probe[probe["features"] == "Z"]
        acc = dict(zip(probe["task"], probe["balanced_accuracy"].astype(float)))
        auc = dict(zip(probe["task"], probe["roc_auc"].astype(float)))
        umap_frame = self._umap(model, cfg) if self.umap_pairs else None
        # a shipped trial's time is its training's, as it ran (the history's seconds), not the seconds to open it
        seconds = time.perf_counter() - t0 if shipped is None else float(history["seconds"].sum())
        with self._lock:
            row: dict[str, Any] = {"trial": len(self._rows) + 1, **dataclasses.asdict(settings)}
            sched = settings.mask_schedule
            row["mask_schedule"] = "none" if sched is None else (sched if isinstance(sched, str) else f"{sched:g}")
            row.update({name: acc[task] for name, (task, _) in SCORES.items()})
            row[S_AUC] = auc["synergy"]
            row["final_loss"] = float(history["loss"].iloc[-1])
            row["seconds"] = seconds
            self._rows.append(row)
            self.last_model = model
            if umap_frame is not None:
                self.last_umap = umap_frame
        return dict(row)

    @property
    def shipped_trial_names(self) -> list[str]:
        """The trials this session opens from shipped files (none when ``shipped_trials`` is off)."""
        return pretrained.shipped_units(self.shipped_folder) if self.shipped_trials else []

    def shipped_trial_name(self, cfg: RunConfig) -> str | None:
        """The shipped trial trained with exactly ``cfg`` (``RunConfig.pretrain_dict``), or None."""
        for name in pretrained.shipped_units(self.shipped_folder):
            if pretrained.shipped_config(self.shipped_folder, name).pretrain_dict() == cfg.pretrain_dict():
                return name
        return None

    def _umap(self, model: torch.nn.Module, cfg: RunConfig) -> pd.DataFrame:
        n = min(self.umap_pairs, len(self.bench.probe_train), len(self.bench.probe_test))
        frame = analysis.embedding_frame(model, self.bench, n_pairs=n, seed=cfg.train.seed, augment_cfg=cfg.augment)
        return analysis.umap_projection(frame, seed=cfg.train.seed)

    @property
    def is_running(self) -> bool:
        """True while a background trial is training."""
        return self._thread is not None and self._thread.is_alive()

    def start_trial(
        self,
        settings: TrialSettings,
        *,
        on_epoch_end: Callable[[dict], None] | None = None,
        on_done: Callable[[dict], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> threading.Thread:
        """Run ``run_trial(settings)`` in a background thread (the kernel stays responsive).

        Args:
            settings: validated settings (validate before calling, so bad input fails here, not later).
            on_epoch_end: called from the thread with each epoch's history row.
            on_done: called from the thread with the new trials row.
            on_error: called from the thread with the exception if the trial fails (it is also kept in
                ``last_error``); without it the exception propagates to ``threading.excepthook``.

        Returns:
            The started thread (``join()`` it to wait).

        Raises:
            RuntimeError: a trial is still running (one at a time: they share the CPU / GPU).
        """
        if not isinstance(settings, TrialSettings):
            raise TypeError(f"settings must be TrialSettings (from settings_from_controls), got {type(settings).__name__}")
        self.config_for(settings)  # invalid combinations fail now, in the caller's thread
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("a trial is still running; wait for it (thread.join()) before starting another")
            self.last_error = None

            def work() -> None:
                try:
                    row = self.run_trial(settings, on_epoch_end=on_epoch_end)
                except BaseException as e:  # noqa: BLE001 - reported to the caller, never swallowed
                    self.last_error = e
                    if on_error is None:
                        raise
                    on_error(e)
                    return
                if on_done is not None:
                    on_done(row)

            self._thread = threading.Thread(target=work, name="coral-lab-trial", daemon=True)
            self._thread.start()
            return self._thread

    def add_shipped_trials(self, kinds: tuple[str, ...] = ("biased", "biased-no-mask"), seed: int = 41,
                           root: Any = None) -> pd.DataFrame:
        """Add the shipped models of this preset (``coral_lab.training.pretrained``) as finished trials, no training.

        Each shipped unit's settings (from its config) and its saved probe scores from Z become a row of
        ``trials``, so the comparison chart opens on, e.g., the biased model with and without masking.
        A unit whose config is not this session's preset with its own settings is refused.

        Returns:
            The rows added (``seconds`` is the shipped run's training time).
        """
        if not self.on_benchmark:
            raise ValueError(f"the shipped models were trained on the Trifeature benchmark; this session is on the "
                             f"{self.data_label}: start a session with lab.trial_config(base, data='benchmark') to "
                             "show them")
        folder = pretrained.shipped_dir(self.cfg.preset, root)
        added = []
        for kind in kinds:
            name = pretrained.unit_name(seed, kind)
            cfg = pretrained.shipped_config(folder, name)
            t = cfg.train
            settings = settings_from_controls(
                *(("none", 0.5) if t.mask_schedule is None else
                  ("paper", 0.5) if t.mask_schedule == "paper" else ("static", float(t.mask_schedule))),
                cfg.loss.lambda_s, cfg.loss.lambda_u, cfg.loss.lambda_o, cfg.loss.ortho_kind, t.epochs, t.train_set)
            if self.config_for(settings).replace(train={"seed": t.seed}).pretrain_dict() != cfg.pretrain_dict():
                raise ValueError(f"shipped unit {folder / name} was not trained with this session's preset and the "
                                 "lab's settings; it cannot be shown as a trial")
            rows = pretrained.shipped_probe_rows(folder, name)
            z = rows[rows["features"] == "Z"]
            acc = dict(zip(z["task"], z["balanced_accuracy"].astype(float)))
            auc = dict(zip(z["task"], z["roc_auc"].astype(float)))
            history = pd.read_csv(folder / name / "history.csv")
            with self._lock:
                row: dict[str, Any] = {"trial": len(self._rows) + 1, **dataclasses.asdict(settings)}
                sched = settings.mask_schedule
                row["mask_schedule"] = "none" if sched is None else (sched if isinstance(sched, str) else f"{sched:g}")
                row.update({n: acc[task] for n, (task, _) in SCORES.items()})
                row[S_AUC] = auc["synergy"]
                row["final_loss"] = float(history["loss"].iloc[-1])
                row["seconds"] = float(history["seconds"].sum())
                self._rows.append(row)
            added.append(row)
        return pd.DataFrame(added, columns=list(_TRIAL_COLUMNS))

    @property
    def trials(self) -> pd.DataFrame:
        """Every finished trial, one row each (a copy): trial, the settings, R, U1, U2, S, final_loss, seconds."""
        with self._lock:
            return pd.DataFrame(list(self._rows), columns=list(_TRIAL_COLUMNS))

    # -- figures -------------------------------------------------------------------------------

    def scores_figure(self, trial: int | None = None):
        """Plotly bars of R / U1 / U2 / S of one trial (default: the last), chance marked per bar."""
        import plotly.graph_objects as go

        table = self.trials
        if table.empty:
            raise ValueError("no trials yet; run one with run_trial or start_trial")
        row = table.iloc[-1] if trial is None else table.set_index("trial").loc[trial].rename(trial)
        number = int(row["trial"]) if trial is None else trial
        names = list(SCORES)
        fig = go.Figure(go.Bar(x=names, y=[row[n] for n in names], text=[f"{row[n]:.1f}" for n in names],
                               marker_color=["#4c72b0", "#dd8452", "#dd8452", "#55a868"], name="balanced accuracy"))
        fig.add_scatter(x=names, y=[self.chance[n] for n in names], mode="markers", name="chance",
                        marker={"symbol": "line-ew-open", "size": 40, "color": "red"})
        settings = TrialSettings(**{k: row[k] for k in _SETTING_COLUMNS})
        fig.update_layout(title=f"trial {number}: {settings.describe()} ({self.data_label})", yaxis={"range": [0, 105],
                          "title": "balanced accuracy (%) from Z"}, height=380, showlegend=True)
        return fig

    def comparison_figure(self):
        """Plotly grouped bars of R / U1 / S and S's ROC-AUC for every trial so far (hover shows the settings)."""
        import plotly.graph_objects as go

        table = self.trials
        if table.empty:
            raise ValueError("no trials yet; run one with run_trial or start_trial")
        labels = [f"#{t}" for t in table["trial"]]
        hover = [TrialSettings(**{k: r[k] for k in _SETTING_COLUMNS}).describe() for _, r in table.iterrows()]
        fig = go.Figure()
        for name, color in (("R", "#4c72b0"), ("U1", "#dd8452"), ("S", "#55a868")):
            fig.add_bar(x=labels, y=table[name], name=f"{name} ({SCORES[name][0]})", marker_color=color,
                        customdata=hover, hovertemplate="%{customdata}<br>" + name + " = %{y:.1f} %<extra></extra>")
        r, u = self.chance["R"], self.chance["U1"]
        for level, label in ([(r, "R, U")] if r == u else [(r, "R"), (u, "U")]):
            fig.add_hline(y=level, line_dash="dot", line_color="grey", annotation_text=f"chance {label} ({level:.0f} %)")
        fig.add_bar(x=labels, y=table[S_AUC], name="S AUC (synergy ROC-AUC)", marker_color="#8172b3",
                    customdata=hover, hovertemplate="%{customdata}<br>S AUC = %{y:.1f} %<extra></extra>")
        fig.add_hline(y=self.chance["S"], line_dash="dot", line_color="green",
                      annotation_text=f"chance S, S AUC ({self.chance['S']:.0f} %)")
        fig.update_layout(barmode="group", title=f"every trial so far on the {self.data_label} (hover a bar for its settings)",
                          xaxis_title="trial",
                          yaxis={"range": [0, 105], "title": "balanced accuracy / ROC-AUC (%) from Z"},
                          height=400)
        return fig

    def umap_figure(self, color_by: str = "subspace"):
        """``coral_lab.drawing.views.umap_scatter`` of the last trial's UMAP."""
        if self.last_umap is None:
            raise ValueError("no UMAP yet: run a trial with umap_pairs > 0")
        return views.umap_scatter(self.last_umap, color_by)


# ---------------------------------------------------------------------------------------------
# widgets
# ---------------------------------------------------------------------------------------------


@dataclass
class LabWidgets:
    """The widget tree of the lab (``root``) and its named parts; displays as ``root``."""

    session: LabSession
    root: Any
    masking: Any
    mask_ratio: Any
    lambda_s: Any
    lambda_u: Any
    lambda_o: Any
    ortho_kind: Any
    epochs: Any
    train_set: Any
    train_button: Any
    progress: Any
    status: Any
    scores_out: Any
    umap_color: Any
    umap_out: Any
    table_out: Any
    comparison_out: Any
    thread: threading.Thread | None = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.root)

    def read_settings(self) -> TrialSettings:
        """The controls' values, validated by the session (ValueError on a bad combination)."""
        return self.session.settings_from_controls(
            self.masking.value, self.mask_ratio.value, self.lambda_s.value, self.lambda_u.value,
            self.lambda_o.value, self.ortho_kind.value, self.epochs.value, self.train_set.value,
        )

    def on_train(self, _button: Any = None) -> threading.Thread | None:
        """The button's handler: validate the controls, then train in the background via the session."""
        try:
            settings = self.read_settings()
        except ValueError as e:
            self.status.value = f"<b style='color:#b00'>not started:</b> {e}"
            return None
        if self.session.is_running:
            self.status.value = "<b>a trial is still running</b>; wait for it to finish"
            return None
        self.progress.max = settings.epochs
        self.progress.value = 0
        self.progress.bar_style = "info"
        self.train_button.disabled = True
        self.status.value = f"training: {settings.describe()} ..."
        self.thread = self.session.start_trial(settings, on_epoch_end=self.show_epoch, on_done=self.show_trial,
                                               on_error=self.show_error)
        return self.thread

    def show_epoch(self, row: dict) -> None:
        """Per-epoch update of the progress bar and status line (called from the training thread)."""
        self.progress.value = int(row["epoch"])
        self.status.value = (f"epoch {row['epoch']}/{self.progress.max}: loss {row['loss']:.3f}, "
                             f"mask ratio {row['mask_ratio']:.2f}")

    def show_trial(self, row: dict) -> None:
        """Redraw the scores, UMAP, table and comparison after a finished trial."""
        self.train_button.disabled = False
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self.status.value = (f"trial {row['trial']} done in {row['seconds']:.0f} s: R {row['R']:.1f}, "
                             f"U1 {row['U1']:.1f}, S {row['S']:.1f} (balanced accuracy %)")
        _show(self.scores_out, self.session.scores_figure())
        _show(self.table_out, self.session.trials.round(2))
        _show(self.comparison_out, self.session.comparison_figure())
        self.show_umap()

    def show_umap(self, _change: Any = None) -> None:
        """Redraw the UMAP of the last trial, coloured by the chosen label."""
        if self.session.last_umap is not None:
            _show(self.umap_out, self.session.umap_figure(self.umap_color.value))

    def show_error(self, error: BaseException) -> None:
        self.train_button.disabled = False
        self.progress.bar_style = "danger"
        self.status.value = f"<b style='color:#b00'>trial failed:</b> {type(error).__name__}: {error}"


def _display_data(obj: Any) -> dict[str, Any]:
    """The mime bundle of a plotly figure or a DataFrame, for an Output widget's ``outputs``.

    Built here rather than through IPython's display machinery: a plotly figure's
    ``_ipython_display_`` would print into the running cell instead of the widget.
    """
    if isinstance(obj, pd.DataFrame):
        return {"text/html": obj.to_html(), "text/plain": obj.to_string()}
    if hasattr(obj, "to_plotly_json"):
        import plotly.io as pio

        data = dict(obj._repr_mimebundle_() or {})  # the user's plotly renderer, when one is set
        if not data:  # no renderer (e.g. outside Jupyter): the mimetype JupyterLab renders natively
            data = {"application/vnd.plotly.v1+json": json.loads(pio.to_json(obj))}
        data.setdefault("text/plain", f"<plotly figure: {obj.layout.title.text}>")
        return data
    raise TypeError(f"can only show a DataFrame or a plotly figure in the lab, got {type(obj).__name__}")


def _show(out: Any, obj: Any) -> None:
    """Replace an Output widget's content with ``obj`` in one assignment (safe from a background thread)."""
    out.outputs = ({"output_type": "display_data", "data": _display_data(obj), "metadata": {}},)


def build_lab_widgets(session: LabSession, *, max_epochs: int | None = None) -> LabWidgets:
    """The lab's ipywidgets: controls, a train button wired to ``session``, a progress bar and outputs.

    Args:
        session: the ``LabSession`` that runs the trials.
        max_epochs: the epochs slider's maximum (default: twice the preset's epochs, at least 10).

    Returns:
        ``LabWidgets``; display it (or its ``root``) in a notebook. The button calls ``on_train``.
    """
    import ipywidgets as w

    if not isinstance(session, LabSession):
        raise TypeError(f"session must be a LabSession, got {type(session).__name__}")
    d = session.default_settings()
    max_epochs = max_epochs or max(10, 2 * session.cfg.train.epochs)
    style = {"description_width": "110px"}
    lam = dict(min=0.0, max=10.0, step=0.25, continuous_update=False, style=style, readout_format=".2f")
    masking = w.ToggleButtons(options=list(MASKING_MODES), value=d.masking, description="masking", style=style,
                              tooltips=["no masking", "the same ratio every epoch", "5 -> 35 -> 55 -> 75 %"])
    ratio = w.FloatSlider(value=d.mask_ratio, min=0.05, max=0.95, step=0.05, description="static ratio m",
                          disabled=d.masking != "static", continuous_update=False, style=style)
    lambda_s = w.FloatSlider(value=d.lambda_s, description="lambda_s", **lam)
    lambda_u = w.FloatSlider(value=d.lambda_u, description="lambda_u", **lam)
    lambda_o = w.FloatSlider(value=d.lambda_o, description="lambda_o", **lam)
    ortho = w.Dropdown(options=list(ORTHO_KINDS), value=d.ortho_kind, description="orthogonality", style=style)
    epochs = w.IntSlider(value=min(d.epochs, max_epochs), min=1, max=max_epochs, description="epochs", style=style,
                         continuous_update=False)
    train_set = w.Dropdown(options=list(PAIR_KINDS), value=d.train_set, description="pretrain on", style=style)
    button = w.Button(description="Train", button_style="primary", icon="play")
    progress = w.IntProgress(value=0, min=0, max=d.epochs, description="epochs", style=style)
    status = w.HTML(value="choose settings and press Train")
    umap_color = w.Dropdown(options=list(analysis.COLOR_BY), value="subspace", description="UMAP colour", style=style,
                            disabled=session.umap_pairs == 0)
    outs = {k: w.Output() for k in ("scores", "umap", "table", "comparison")}

    def on_masking(change: dict) -> None:
        ratio.disabled = change["new"] != "static"

    masking.observe(on_masking, names="value")
    controls = w.VBox([masking, ratio, lambda_s, lambda_u, lambda_o, ortho, epochs, train_set,
                       w.HBox([button, progress]), status])
    results = w.Tab(children=[outs["scores"], w.VBox([umap_color, outs["umap"]]), outs["table"], outs["comparison"]])
    for k, title in enumerate(("R / U / S", "UMAP", "all trials", "comparison")):
        results.set_title(k, title)
    root = w.VBox([controls, results])
    lab = LabWidgets(session, root, masking, ratio, lambda_s, lambda_u, lambda_o, ortho, epochs, train_set, button,
                     progress, status, outs["scores"], umap_color, outs["umap"], outs["table"], outs["comparison"])
    button.on_click(lab.on_train)
    umap_color.observe(lab.show_umap, names="value")
    return lab
