"""Self-supervised pretraining on feature data, with a pluggable method (paper section 4.2 and 5.3).

One epoch is one pass over the train split in a seeded order, batches of ``train.batch_size`` (the last
partial batch is dropped). Per batch: two augmented views of every modality
(``coral_lab.multibench.augment``), then the method's loss, then an AdamW step (no weight decay on
biases and normalisation parameters). ``train.method`` names the method, a class of ``coral_lab.methods.METHODS``
(COrAL and the baselines CLIP, CoMM, InfMasking, FactorCL), built with the data set's modalities, whose
kinds pick the feature encoders (``coral_lab.models.token_encoders``). Every one follows the method contract of ``coral_lab.training`` (``from_config(cfg, modalities)``,
``training_loss(view1, view2, ctx) -> (total, parts)``, ``mask_ratio_at``, ``embed(xs)`` whose
``concat()`` the probe reads); a model with ``uses_augmentation = False`` (CLIP) gets the
un-augmented batch as both views.

The run folder holds ``config.json``, ``history.csv`` and ``checkpoint.pt`` (model, optimiser, epoch,
history, generator states), written atomically after every epoch; an interrupted run resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from coral_lab import runs
from coral_lab.config import experiment_dict
from coral_lab.device import set_cpu_threads
from coral_lab.io import load_checkpoint
from coral_lab.loop import fit
from coral_lab.methods import build_model
from coral_lab.sources import FeatureSource
from coral_lab.multibench.config import FeatureRunConfig
from coral_lab.multibench.datasets import FeatureDataset
from coral_lab.training import adamw, augmentation_seed

__all__ = ["build_feature_model", "FeaturePretrainResult", "pretrain_features", "load_feature_model"]

CHECKPOINT, CONFIG, HISTORY = runs.CHECKPOINT, runs.CONFIG, runs.HISTORY


def build_feature_model(cfg: FeatureRunConfig, data: FeatureDataset) -> nn.Module:
    """A freshly initialised model of ``cfg.train.method`` for ``data``'s modalities
    (``coral_lab.methods.build_model(cfg, data.modalities)``)."""
    return build_model(cfg, data.modalities)


@dataclass
class FeaturePretrainResult:
    model: nn.Module
    history: pd.DataFrame
    run_dir: Path | None
    config: FeatureRunConfig


def load_feature_model(run_dir: str | Path, data: FeatureDataset, device: str | torch.device = "cpu"):
    """The model of a run folder (eval mode) and its config."""
    ckpt = load_checkpoint(Path(run_dir) / CHECKPOINT)
    cfg = FeatureRunConfig.from_dict(ckpt["config"])
    model = build_feature_model(cfg, data)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), cfg


def pretrain_features(
    cfg: FeatureRunConfig,
    data: FeatureDataset,
    run_dir: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    progress: bool = False,
    resume: bool = True,
    max_epochs_this_call: int | None = None,
) -> FeaturePretrainResult:
    """Pretrain ``cfg.train.method`` on ``data.train``; returns the model (eval mode) and the per-epoch history.

    ``run_dir`` must be new, empty or a coral_lab run folder, and is locked while this runs
    (``coral_lab.runs``); a fresh training gets a new run id, so older outputs there are stale.
    """
    cfg.validate()
    if run_dir is None:
        return _pretrain_features(cfg, data, None, device=device, progress=progress, resume=resume,
                                  max_epochs_this_call=max_epochs_this_call)
    folder = runs.claim(run_dir)
    with runs.RunLock(folder):
        return _pretrain_features(cfg, data, folder, device=device, progress=progress, resume=resume,
                                  max_epochs_this_call=max_epochs_this_call)


def _pretrain_features(cfg, data, run_dir, *, device, progress, resume, max_epochs_this_call):
    tc = cfg.train
    dev = torch.device(device)
    if tc.num_threads:
        set_cpu_threads(tc.num_threads)
    n = len(data.train)
    steps = n // tc.batch_size
    if steps < 1:
        raise ValueError(f"{data.spec.title} has {n} training samples, fewer than one batch of {tc.batch_size}; "
                         "lower train.batch_size")
    xs = [torch.from_numpy(x).to(dev) for x in data.train.x]

    torch.manual_seed(tc.seed)
    model = build_feature_model(cfg, data).to(dev)
    optimizer = adamw(model.parameters(), tc.lr, tc.weight_decay)
    order_gen = torch.Generator().manual_seed(tc.seed)
    aug_gen = torch.Generator(dev).manual_seed(augmentation_seed(tc.seed))
    run_dir = Path(run_dir) if run_dir is not None else None
    history = fit(model, FeatureSource(xs, data.modalities, cfg.augment), cfg, run_dir, optimizer=optimizer,
                  order_gen=order_gen, aug_gen=aug_gen, resume_key=experiment_dict, device=dev, resume=resume,
                  progress=progress, max_epochs_this_call=max_epochs_this_call, resume_hint="use a new folder")
    model.check_inputs = True
    model.eval()
    return FeaturePretrainResult(model, pd.DataFrame(history), run_dir, cfg)
