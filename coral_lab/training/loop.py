"""The one pretraining loop: every method (``coral_lab.objectives.contract``'s contract) on every data source.

``fit`` runs epochs of a ``PretrainSource`` through a method: per epoch a seeded order of the
source's samples, batches of ``batch_size`` (the last partial batch is dropped, so InfoNCE's number of
negatives stays fixed), the source's two views of each batch, the method's ``training_loss``, an
optimiser step; it sums the named loss parts into one ``history.csv`` row per epoch. With a run
folder it writes ``config.json``, ``history.csv`` and ``checkpoint.pt`` (model, optimiser, epoch,
history, every generator's state, the run id) atomically after every epoch, and resumes from them
exactly: an interrupted run finishes with the weights of an uninterrupted one.

The two data sources (``coral_lab.inputs.sources``: ``TrifeatureSource``, images rendered on the training
device; ``FeatureSource``, feature tensors) differ only in how a batch of indices becomes two views.
Distributed training (torchrun) is the Trifeature source's: it slices each global
batch to its rank and the method gathers embeddings where it needs global negatives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from coral_lab.core import distributed
from coral_lab.config import runs
from coral_lab.core.io import CheckpointError, atomic_torch_save, atomic_write_text, load_checkpoint
from coral_lab.objectives.contract import StepContext
from coral_lab.training.optimisation import TrainingStep, lr_at, progress_at

__all__ = ["PretrainSource", "fit"]


class PretrainSource(Protocol):
    """Where a pretraining's batches come from.

    ``n_samples``: the samples of one epoch (pairs, rows); ``views(batch, augment, generator)``: the two
    views (lists of n modality tensors on the device) of the samples at the 0-based indices ``batch``
    (a ``(batch_size,)`` long tensor on the device), augmented with ``generator`` unless ``augment`` is
    False (then both views are the un-augmented batch).
    """

    n_samples: int

    def views(self, batch: torch.Tensor, augment: bool, generator: torch.Generator) -> tuple[list, list]: ...


def fit(
    model: torch.nn.Module,
    source: PretrainSource,
    cfg: Any,
    run_dir: Path | None,
    *,
    optimizer: torch.optim.Optimizer,
    order_gen: torch.Generator,
    aug_gen: torch.Generator,
    resume_key: Callable[[dict], dict],
    device: torch.device,
    train_model: torch.nn.Module | None = None,
    autocast: Callable = nullcontext,
    resume: bool = True,
    progress: bool = False,
    on_epoch_end: Callable[[dict], None] | None = None,
    max_epochs_this_call: int | None = None,
    resume_hint: str = "use a new --out folder",
) -> list[dict]:
    """Train ``model`` on ``source`` for ``cfg.train.epochs``; returns the per-epoch history rows.

    Args:
        model: a method (``coral_lab.objectives.contract``'s contract), on ``device``.
        cfg: the run's config (a ``RunConfig`` of either kind of data): ``cfg.train`` gives epochs,
            batch size, lr (and ``lr_schedule``), the mask schedule; ``cfg.to_dict()`` / ``to_json`` are saved.
        run_dir: the claimed, locked run folder, or None (nothing written).
        optimizer, order_gen, aug_gen: built by the caller (their seeds: ``coral_lab.training.optimisation``).
        resume_key: maps a saved config dict to what must match ``resume_key(cfg.to_dict())`` for a
            checkpoint to be resumed (else ``CheckpointError``).
        train_model: what the step calls (default ``TrainingStep(model)``; a ``DistributedDataParallel``
            of it when distributed).
        autocast: a factory of the forward's mixed-precision context.
        on_epoch_end: called with each epoch's history row on the main process.
        max_epochs_this_call: stop after this many epochs (the run stays resumable).
    """
    tc = cfg.train
    info = distributed.dist_info()
    lr_schedule = getattr(tc, "lr_schedule", "constant")
    steps = source.n_samples // tc.batch_size
    train_model = TrainingStep(model) if train_model is None else train_model
    ckpt_path = run_dir / runs.CHECKPOINT if run_dir is not None else None

    history: list[dict] = []
    start = 0
    if resume and ckpt_path is not None and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        # compared through the config class, so a checkpoint written before a field existed still resumes
        if resume_key(ckpt["config"]) != resume_key(cfg.to_dict()):
            raise CheckpointError(f"{ckpt_path} was written by a run with a different configuration; {resume_hint}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        order_gen.set_state(ckpt["rng"]["order"])
        aug_states = ckpt["rng"]["aug"]
        aug_states = aug_states if isinstance(aug_states, (list, tuple)) else [aug_states]  # one-process format
        if len(aug_states) != info.world_size:
            raise CheckpointError(f"{ckpt_path} was written with {len(aug_states)} processes, not {info.world_size}")
        aug_gen.set_state(aug_states[info.rank].to(aug_gen.get_state().device))
        if "torch" in ckpt["rng"]:  # dropout (the feature encoders' Transformers) draws from the global generator
            torch.set_rng_state(ckpt["rng"]["torch"])
        history, start = list(ckpt["history"]), int(ckpt["epoch"])
        run_id = ckpt.get("run_id") or runs.run_id(run_dir) or uuid.uuid4().hex  # older checkpoints had none
    else:
        run_id = uuid.uuid4().hex  # a fresh training: outputs of an earlier one in this folder are stale
    if run_dir is not None and info.is_main:
        # the checkpoint is the run's commit point: the marker's run id, config.json and history.csv are
        # derived from it, so a kill between its write and theirs is repaired here
        runs.new_run_id(run_dir, run_id)
        cfg.to_json(run_dir / runs.CONFIG)
        _write_history(run_dir, history)

    part_names = list(model.loss_parts)
    bar_parts = tuple(model.progress_parts)
    method = cfg.method
    model.check_inputs = False  # the first step of this call checks its inputs; the hot path avoids host syncs
    end = tc.epochs if max_epochs_this_call is None else min(tc.epochs, start + max_epochs_this_call)
    for epoch in range(start, end):
        ratio = model.mask_ratio_at(epoch, tc.epochs, tc.mask_schedule)
        ctx = StepContext(mask_ratio=ratio, progress=progress_at(epoch, tc.epochs), generator=aug_gen,
                          order_generator=order_gen, autocast=autocast)
        train_model.train()
        perm = torch.randperm(source.n_samples, generator=order_gen).to(device)
        sums = torch.zeros(len(part_names) + 1, device=device)
        t0 = time.perf_counter()
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{tc.epochs}", disable=not (progress and info.is_main),
                   leave=False)
        for step in bar:
            view1, view2 = source.views(perm[step * tc.batch_size : (step + 1) * tc.batch_size],
                                        model.uses_augmentation, aug_gen)
            if epoch == start and step == 0:
                model.check_inputs = True
            loss, parts = train_model(view1, view2, ctx)
            model.check_inputs = False
            if lr_schedule != "constant":
                lr = lr_at(epoch * steps + step, tc.epochs * steps, tc.lr, lr_schedule)
                for group in optimizer.param_groups:
                    group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums += torch.stack([loss.detach()] + [parts[k].detach() for k in part_names]).float()
            if progress and info.is_main and (step % 20 == 0 or step == steps - 1):
                mean = dict(zip(["loss", *part_names], (sums / (step + 1)).tolist()))
                bar.set_postfix({k: f"{mean[k]:.3f}" for k in bar_parts} | {"mask": f"{ratio:.2f}"})
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
        means = (sums / steps).tolist()
        if not np.isfinite(means[0]):
            raise FloatingPointError(
                f"the loss became {means[0]} in epoch {epoch + 1}; lower train.lr or check the inputs "
                "(the last good checkpoint is kept)"
            )
        row = {"epoch": epoch + 1, "mask_ratio": ratio, "loss": means[0], **dict(zip(part_names, means[1:])),
               "seconds": seconds, "pairs_per_s": steps * tc.batch_size / seconds}
        history.append(row)
        if info.is_main:
            if progress:
                shown = "  ".join(f"{k} {row[k]:.4f}" for k in bar_parts)
                tqdm.write(f"epoch {epoch + 1}/{tc.epochs}  {method}  {shown}  mask {ratio:.2f}  "
                           f"{row['pairs_per_s']:.0f} samples/s")
            if run_dir is not None:
                _save(run_dir, model, optimizer, cfg, epoch + 1, history, order_gen, aug_gen, run_id)
            if on_epoch_end is not None:
                on_epoch_end(row)
        elif run_dir is not None:
            _gather_aug_state(aug_gen)  # matches the main rank's collective in _save
    return history


def _gather_aug_state(aug_gen: torch.Generator) -> list[torch.Tensor]:
    """Every rank's augmentation-generator state (a collective when distributed)."""
    state = aug_gen.get_state()
    info = distributed.dist_info()
    if not info.enabled:
        return [state]
    states = [None] * info.world_size
    torch.distributed.all_gather_object(states, state)
    return states  # type: ignore[return-value]


def _save(run_dir, model, optimizer, cfg, epoch, history, order_gen, aug_gen, run_id) -> None:
    states = _gather_aug_state(aug_gen)
    ckpt = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "config": cfg.to_dict(),
        "epoch": epoch,
        "history": history,
        "rng": {"order": order_gen.get_state(), "aug": [s.cpu() for s in states], "torch": torch.get_rng_state()},
        "torch_version": str(torch.__version__),
        "run_id": run_id,
    }
    atomic_torch_save(ckpt, run_dir / runs.CHECKPOINT)
    _write_history(run_dir, history)


def _write_history(run_dir: Path, history: list[dict]) -> None:
    """``history.csv`` as the checkpoint's history: left alone when it already is, removed before a fresh
    training's first epoch (an earlier training's rows are not this run's; its checkpoint, until replaced,
    still holds them)."""
    path = run_dir / runs.HISTORY
    if not history:
        path.unlink(missing_ok=True)
        return
    text = pd.DataFrame(history).to_csv(index=False)
    try:
        if path.read_text() == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
