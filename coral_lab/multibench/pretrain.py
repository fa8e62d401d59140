"""Self-supervised pretraining on feature data, with a pluggable method (paper section 4.2 and 5.3).

``pretrain_features(cfg, data, run_dir)`` is ``coral_lab.training.pretrain.pretrain(cfg, run_dir, data=data)``, the
one pretraining entry point, with CPU and no progress bar as defaults; ``load_feature_model`` reads a
run folder back for a data set's modalities. One epoch is one pass over the train split in a seeded
order, batches of ``train.batch_size`` (the last partial batch is dropped). Per batch: two augmented
views of every modality (``coral_lab.inputs.sources.FeatureSource``: ``coral_lab.inputs.feature_augment``), then
the method's loss, then an AdamW step (no weight decay on biases and normalisation parameters).
``method`` names the method, a class of ``coral_lab.methods.METHODS`` (COrAL and the baselines
CLIP, CoMM, InfMasking, FactorCL), built with the data set's modalities, whose kinds pick the feature
encoders (``coral_lab.models.token_encoders``); a model with ``uses_augmentation = False`` (CLIP) gets
the un-augmented batch as both views.

The run folder holds ``config.json``, ``history.csv`` and ``checkpoint.pt`` (model, optimiser, epoch,
history, generator states), written atomically after every epoch; an interrupted run resumes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from coral_lab.config import RunConfig, runs
from coral_lab.core.io import load_checkpoint
from coral_lab.methods import build_model
from coral_lab.data.features import FeatureDataset
from coral_lab.training.pretrain import PretrainResult, pretrain

__all__ = ["build_feature_model", "pretrain_features", "load_feature_model"]

CHECKPOINT, CONFIG, HISTORY = runs.CHECKPOINT, runs.CONFIG, runs.HISTORY


def build_feature_model(cfg: RunConfig, data: FeatureDataset) -> nn.Module:
    """A freshly initialised model of ``cfg.method`` for ``data``'s modalities
    (``coral_lab.methods.build_model(cfg, data.modalities)``)."""
    return build_model(cfg, data.modalities)


def load_feature_model(run_dir: str | Path, data: FeatureDataset, device: str | torch.device = "cpu"):
    """The model of a run folder (eval mode) and its config."""
    ckpt = load_checkpoint(Path(run_dir) / CHECKPOINT)
    cfg = RunConfig.from_dict(ckpt["config"])
    model = build_feature_model(cfg, data)
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval(), cfg


def pretrain_features(
    cfg: RunConfig,
    data: FeatureDataset,
    run_dir: str | Path | None = None,
    *,
    device: str | torch.device = "cpu",
    progress: bool = False,
    resume: bool = True,
    max_epochs_this_call: int | None = None,
) -> PretrainResult:
    """Pretrain ``cfg.method`` on ``data.train``: ``coral_lab.training.pretrain.pretrain(cfg, run_dir, data=data)``
    with this module's defaults (CPU, no progress bar); returns the model (eval mode) and the per-epoch
    history.

    ``run_dir`` must be new, empty or a coral_lab run folder, and is locked while this runs
    (``coral_lab.config.runs``); a fresh training gets a new run id, so older outputs there are stale.
    """
    if not isinstance(cfg, RunConfig) or cfg.is_trifeature:
        raise TypeError(f"pretrain_features expects a feature data set's RunConfig, got {cfg!r:.60}")
    return pretrain(cfg, run_dir, data=data, device=device, progress=progress, resume=resume,
                    max_epochs_this_call=max_epochs_this_call)
