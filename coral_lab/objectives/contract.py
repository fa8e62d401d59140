"""The method contract: what the one pretraining loop asks of every method, and what it hands each step.

Every entry of ``coral_lab.methods.METHODS`` (both classes: ``images`` for Trifeature, ``features`` for
feature data; COrAL included) follows it:

- ``training_loss(view1, view2, ctx) -> (total, {part name: 0-dim tensor})``: one step's objective for
  two augmented views (lists of n modality tensors); ``ctx`` is a ``StepContext``;
- ``mask_ratio_at(epoch, epochs, schedule) -> float``: the masking ratio logged for an epoch (COrAL's
  schedule of ``train.mask_schedule``; a baseline's own fixed ratio);
- ``loss_parts`` (the logged part names, ``history.csv``'s columns), ``progress_parts`` (the ones the
  progress bar shows), ``subspaces`` (the probe representations of ``embed(x).parts()``),
  ``uses_augmentation`` (False: the loop passes the un-augmented batch as both views) and
  ``check_inputs`` (False on the hot path: no finite-check host syncs).

The loop (``coral_lab.training.loop``) wraps the model in ``TrainingStep`` so that
``DistributedDataParallel`` sees the objective as its forward; it sums and logs the parts without knowing
the method.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch

__all__ = ["StepContext"]


@dataclass(frozen=True)
class StepContext:
    """What a method's ``training_loss`` may draw on besides the two views.

    Attributes:
        mask_ratio: this epoch's masking ratio (``model.mask_ratio_at``).
        progress: the fraction of training done, ``epoch / (epochs - 1)`` (1 for a one-epoch run);
            InfMasking ramps its lambda_e with it.
        generator: the augmentation generator, on the model's device (token masks draw from it).
        order_generator: the CPU generator of the batch order (COrAL draws its modality halves from it).
        autocast: a factory of the mixed-precision context the model's forward runs in.
    """

    mask_ratio: float
    progress: float
    generator: torch.Generator | None
    order_generator: torch.Generator | None = None
    autocast: Callable[[], AbstractContextManager] = field(default=nullcontext)
