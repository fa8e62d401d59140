"""Supervised-contrastive fine-tuning of a pretrained COrAL model (paper section 5.6.5).

Per epoch, on the train split: two augmented views of every sample, asymmetric masking at the low fixed
ratio ``finetune.mask_ratio`` (MOSI: 20 %), the projection heads frozen (parameters and BatchNorm
statistics), and ``supcon_coral_loss``: SupCon on Z^SR and on each Z_i^U (same-class positives, or only
the sample's own views with ``positives="self"``) plus the orthogonality loss with its own weight
``finetune.lambda_o``. After each epoch a linear probe (C = 1, fit on train) is scored on the validation
split; the weights of the best epoch are kept (``finetune.pt``, written atomically) and training stops
after ``finetune.patience`` epochs without improvement (early stopping). The test split is not touched.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score

from coral_lab.evaluation.probe import feature_sets, fit_probe
from coral_lab.core.io import atomic_torch_save, atomic_write_text
from coral_lab.objectives.masking import split_modalities
from coral_lab.models import CoralModel
from coral_lab.inputs.feature_augment import augment_modalities
from coral_lab.config import RunConfig
from coral_lab.data.features import FeatureDataset
from coral_lab.multibench.probe import extract_embeddings
from coral_lab.multibench.supcon import supcon_coral_loss
from coral_lab.training.optimisation import adamw, augmentation_seed

__all__ = ["FinetuneResult", "finetune", "validation_accuracy"]

FINETUNE_CHECKPOINT = "finetune.pt"


@dataclass
class FinetuneResult:
    model: torch.nn.Module
    history: pd.DataFrame
    best_epoch: int
    best_val_accuracy: float


def validation_accuracy(model: torch.nn.Module, data: FeatureDataset, max_train: int = 5000, seed: int = 0) -> float:
    """Accuracy (%) on the validation split of a C = 1 probe of Z fitted on (at most ``max_train``) train rows."""
    tr = feature_sets(extract_embeddings(model, data.train))["Z"]
    va = feature_sets(extract_embeddings(model, data.valid))["Z"]
    y = data.train.y
    if len(y) > max_train:
        keep = np.random.default_rng(seed).choice(len(y), max_train, replace=False)
        tr, y = tr[keep], y[keep]
    if not (np.isfinite(tr).all() and np.isfinite(va).all()):
        raise FloatingPointError("fine-tuning produced NaN / inf features; lower finetune.lr")
    return 100 * accuracy_score(data.valid.y, fit_probe(tr, y, 1.0, 300).predict(va))


def finetune(
    model: torch.nn.Module,
    data: FeatureDataset,
    cfg: RunConfig,
    run_dir: str | Path | None = None,
    *,
    progress: bool = False,
) -> FinetuneResult:
    """Fine-tune ``model`` (a pretrained COrAL ``CoralModel`` on feature data, changed in place) with SupCon; keeps the best epoch."""
    fc = cfg.finetune
    cfg.validate()
    if not isinstance(model, CoralModel):
        raise ValueError(f"SupCon fine-tuning (paper 5.6.5) is defined for COrAL only, got a {type(model).__name__}; "
                         "probe a baseline without fine-tuning")
    dev = next(model.parameters()).device
    heads = [model.shared_head, *model.unique_heads]
    if fc.freeze_heads:
        for h in heads:
            h.requires_grad_(False)
    optimizer = adamw(model.parameters(), fc.lr, fc.weight_decay)
    n = len(data.train)
    steps = n // fc.batch_size
    if steps < 1:
        raise ValueError(f"{n} training samples are fewer than one batch of {fc.batch_size}; lower finetune.batch_size")
    xs = [torch.from_numpy(x).to(dev) for x in data.train.x]
    labels = torch.from_numpy(data.train.y).to(dev)
    seed = cfg.train.seed + 1
    order_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator(dev).manual_seed(augmentation_seed(seed))

    best_acc = validation_accuracy(model, data, seed=seed)  # epoch 0: the pretrained model
    best_epoch, best_state, waited = 0, copy.deepcopy(model.state_dict()), 0
    history = [{"epoch": 0, "loss": float("nan"), "val_accuracy": best_acc, "seconds": 0.0}]
    model.check_inputs = False
    for epoch in range(1, fc.epochs + 1):
        model.train()
        if fc.freeze_heads:
            for h in heads:
                h.eval()  # frozen BatchNorm statistics too
        perm = torch.randperm(n, generator=order_gen).to(dev)
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        for step in range(steps):
            idx = perm[step * fc.batch_size : (step + 1) * fc.batch_size]
            batch = [x[idx] for x in xs]
            v1 = augment_modalities(batch, data.modalities, cfg.augment, aug_gen)
            v2 = augment_modalities(batch, data.modalities, cfg.augment, aug_gen)
            halves = split_modalities(len(batch), order_gen)
            e1, e2 = model(v1, v2, halves, fc.mask_ratio, aug_gen)
            loss, parts = supcon_coral_loss(e1, e2, labels[idx], lambda_s=fc.lambda_s, lambda_u=fc.lambda_u,
                                            lambda_o=fc.lambda_o, temperature=fc.temperature,
                                            ortho_kind=cfg.loss.ortho_kind, positives=fc.positives)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for k, v in {"loss": loss, **parts}.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach())
        acc = validation_accuracy(model, data, seed=seed)
        row = {"epoch": epoch, **{k: v / steps for k, v in sums.items()}, "val_accuracy": acc,
               "seconds": time.perf_counter() - t0}
        if not np.isfinite(row["loss"]):
            raise FloatingPointError(f"the fine-tuning loss became {row['loss']} in epoch {epoch}; lower finetune.lr")
        history.append(row)
        if progress:
            print(f"finetune epoch {epoch}/{fc.epochs}  loss {row['loss']:.4f}  val acc {acc:.1f}", flush=True)
        if acc > best_acc:
            best_acc, best_epoch, best_state, waited = acc, epoch, copy.deepcopy(model.state_dict()), 0
            if run_dir is not None:
                atomic_torch_save({"model": best_state, "config": cfg.to_dict(), "epoch": epoch,
                                   "val_accuracy": acc}, Path(run_dir) / FINETUNE_CHECKPOINT)
        else:
            waited += 1
            if waited >= fc.patience:
                break
    model.load_state_dict(best_state)
    model.check_inputs = True
    for h in heads:
        h.requires_grad_(True)
    model.eval()
    hist = pd.DataFrame(history)
    if run_dir is not None:
        atomic_write_text(Path(run_dir) / "finetune_history.csv", hist.to_csv(index=False))
    return FinetuneResult(model, hist, best_epoch, best_acc)
