"""What every pretraining loop shares, whatever the method and the data: the module that
``DistributedDataParallel`` wraps (``TrainingStep``), the optimiser, the learning-rate schedule, the
fraction of training done and the seeds of the augmentation generators.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from coral_lab.objectives.contract import StepContext

__all__ = [
    "TrainingStep",
    "adamw",
    "WARMUP_FRACTION",
    "lr_at",
    "progress_at",
    "augmentation_seed",
]


class TrainingStep(nn.Module):
    """``forward(view1, view2, ctx)`` = ``method.training_loss(view1, view2, ctx)``.

    It holds no parameters of its own (``method``'s are its only ones), so wrapping it in
    ``DistributedDataParallel`` synchronises exactly the method's gradients; checkpoints save
    ``method.state_dict()``, not this module's.
    """

    def __init__(self, method: nn.Module) -> None:
        super().__init__()
        self.method = method

    def forward(self, view1, view2, ctx: StepContext):
        return self.method.training_loss(view1, view2, ctx)


def adamw(params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, *,
          fused: bool | None = None) -> torch.optim.AdamW:
    """AdamW with no weight decay on biases and normalisation parameters (1-D tensors), as the
    released code. Groups, in parameter order: the >= 2-D tensors (``weight_decay``), then the rest (0)."""
    params = [p for p in params if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, fused=fused)


WARMUP_FRACTION = 0.05  # the cosine schedule's linear warm-up, as a fraction of all steps


def lr_at(step: int, total_steps: int, base: float, schedule: str = "constant") -> float:
    """The learning rate of 0-based optimiser ``step`` of ``total_steps``.

    ``"constant"`` (the paper): ``base`` throughout. ``"cosine"``: linear warm-up from ``base / w`` to
    ``base`` over the first ``w = ceil(0.05 total_steps)`` steps, then ``base * (1 + cos(pi t)) / 2`` with
    t going from 0 to 1 over the remaining steps (the last step's rate is above 0).
    """
    if not 0 <= step < total_steps:
        raise ValueError(f"step must be in [0, {total_steps}), got {step}")
    if schedule == "constant":
        return base
    if schedule != "cosine":
        raise ValueError(f"unknown lr schedule {schedule!r}; valid: 'constant', 'cosine'")
    warmup = max(1, math.ceil(WARMUP_FRACTION * total_steps))
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup + 1) / (total_steps - warmup + 1)
    return base * 0.5 * (1 + math.cos(math.pi * t))


def progress_at(epoch: int, epochs: int) -> float:
    """The fraction of training done at the start of 0-based ``epoch``: ``epoch / (epochs - 1)``; 1 for one epoch."""
    return epoch / (epochs - 1) if epochs > 1 else 1.0


def augmentation_seed(seed: int, rank: int = 0) -> int:
    """The seed of process ``rank``'s augmentation generator for training seed ``seed``.

    Distinct per rank (each process augments its own share of the batch) and far from ``seed`` itself,
    which seeds the model's initialisation and the batch order.
    """
    return seed * 1_000_003 + 7919 * (rank + 1)
