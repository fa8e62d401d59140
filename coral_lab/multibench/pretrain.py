"""Self-supervised pretraining on feature data, with a pluggable method (paper section 4.2 and 5.3).

One epoch is one pass over the train split in a seeded order, batches of ``train.batch_size`` (the last
partial batch is dropped). Per batch: two augmented views of every modality
(``coral_lab.multibench.augment``), then the method's loss, then an AdamW step (no weight decay on
biases and normalisation parameters). ``train.method`` picks the model class from ``METHODS``: COrAL
(``FeatureCoralModel``) and the baselines (CLIP, CoMM, InfMasking, FactorCL;
``coral_lab.multibench.baselines``), the feature-data variants of ``coral_lab.methods.METHODS``. Every
one follows the method contract of ``coral_lab.training`` (``from_config(cfg, modalities)``,
``training_loss(view1, view2, ctx) -> (total, parts)``, ``mask_ratio_at``, ``embed(xs)`` whose
``concat()`` the probe reads); a model with ``uses_augmentation = False`` (CLIP) gets the
un-augmented batch as both views.

The run folder holds ``config.json``, ``history.csv`` and ``checkpoint.pt`` (model, optimiser, epoch,
history, generator states), written atomically after every epoch; an interrupted run resumes.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from coral_lab import runs
from coral_lab.config import METHOD_NAMES, experiment_dict
from coral_lab.io import CheckpointError, atomic_torch_save, atomic_write_text, load_checkpoint
from coral_lab.multibench.augment import augment_modalities
from coral_lab.multibench.baselines import FEATURE_BASELINES
from coral_lab.multibench.config import FeatureRunConfig
from coral_lab.multibench.datasets import FeatureDataset
from coral_lab.multibench.model import FeatureCoralModel
from coral_lab.training import StepContext, adamw, augmentation_seed, progress_at

__all__ = ["METHODS", "get_method", "build_feature_model", "FeaturePretrainResult", "pretrain_features", "load_feature_model"]

CHECKPOINT, CONFIG, HISTORY = runs.CHECKPOINT, runs.CONFIG, runs.HISTORY


# train.method -> the model class (the feature-data variant of coral_lab.methods.METHODS' entry)
METHODS: dict[str, type[nn.Module]] = {"coral": FeatureCoralModel, **FEATURE_BASELINES}
assert tuple(METHODS) == METHOD_NAMES


def get_method(name: str) -> type[nn.Module]:
    """The model class of method ``name``; an unknown name raises, listing the valid ones."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods: {sorted(METHODS)}")
    return METHODS[name]


def build_feature_model(cfg: FeatureRunConfig, data: FeatureDataset) -> nn.Module:
    """A freshly initialised model of ``cfg.train.method`` for ``data``'s modalities."""
    return get_method(cfg.train.method).from_config(cfg, data.modalities)


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
        torch.set_num_threads(tc.num_threads)
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
    history: list[dict] = []
    start = 0
    run_dir = Path(run_dir) if run_dir is not None else None
    if run_dir is not None and resume and (run_dir / CHECKPOINT).exists():
        ckpt = load_checkpoint(run_dir / CHECKPOINT)
        if experiment_dict(ckpt["config"]) != cfg.experiment_dict():
            raise CheckpointError(f"{run_dir / CHECKPOINT} was written with a different configuration; use a new folder")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        order_gen.set_state(ckpt["rng"]["order"])
        aug_gen.set_state(ckpt["rng"]["aug"])
        torch.set_rng_state(ckpt["rng"]["torch"])  # dropout in the Transformer encoders draws from it
        history, start = list(ckpt["history"]), int(ckpt["epoch"])
        run_id = ckpt.get("run_id") or runs.run_id(run_dir) or uuid.uuid4().hex
    else:
        run_id = uuid.uuid4().hex  # a fresh training
    if run_dir is not None:
        runs.new_run_id(run_dir, run_id)
        cfg.to_json(run_dir / CONFIG)

    end = tc.epochs if max_epochs_this_call is None else min(tc.epochs, start + max_epochs_this_call)
    model.check_inputs = False
    for epoch in range(start, end):
        # COrAL's schedule; a baseline logs its own fixed ratio (InfMasking 0.7, the others 0)
        ratio = model.mask_ratio_at(epoch, tc.epochs, tc.mask_schedule)
        ctx = StepContext(mask_ratio=ratio, progress=progress_at(epoch, tc.epochs), generator=aug_gen,
                          order_generator=order_gen)
        model.train()
        perm = torch.randperm(n, generator=order_gen).to(dev)
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        for step in range(steps):
            idx = perm[step * tc.batch_size : (step + 1) * tc.batch_size]
            batch = [x[idx] for x in xs]
            if model.uses_augmentation:
                v1 = augment_modalities(batch, data.modalities, cfg.augment, aug_gen)
                v2 = augment_modalities(batch, data.modalities, cfg.augment, aug_gen)
            else:  # CLIP is trained on the pairs as they are
                v1 = v2 = batch
            loss, parts = model.training_loss(v1, v2, ctx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for k, v in {"loss": loss, **parts}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
        row = {"epoch": epoch + 1, "mask_ratio": ratio, **{k: v / steps for k, v in sums.items()}}
        row["seconds"] = time.perf_counter() - t0
        if not np.isfinite(row["loss"]):
            raise FloatingPointError(f"the loss became {row['loss']} in epoch {epoch + 1}; lower train.lr or check the data")
        history.append(row)
        if progress:
            print(f"epoch {epoch + 1}/{tc.epochs}  loss {row['loss']:.4f}  mask {ratio:.2f}  {row['seconds']:.1f} s", flush=True)
        if run_dir is not None:
            atomic_torch_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "config": cfg.to_dict(),
                               "epoch": epoch + 1, "history": history,
                               "rng": {"order": order_gen.get_state(), "aug": aug_gen.get_state(),
                                       "torch": torch.get_rng_state()},
                               "torch_version": str(torch.__version__), "run_id": run_id}, run_dir / CHECKPOINT)
            atomic_write_text(run_dir / HISTORY, pd.DataFrame(history).to_csv(index=False))
    model.check_inputs = True
    model.eval()
    return FeaturePretrainResult(model, pd.DataFrame(history), run_dir, cfg)
