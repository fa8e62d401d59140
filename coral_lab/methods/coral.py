"""COrAL itself as a method of the registry: the model is ``coral_lab.models.CoralModel`` (whose
``training_loss`` applies ``coral_lab.objectives.losses.coral_loss``); its settings are the shared sections'
(``model``, ``loss``, ``train``), so it has no ``settings`` of its own."""

from __future__ import annotations

from coral_lab.methods.spec import Method
from coral_lab.models import CoralModel

__all__ = ["METHOD"]

# lr 1e-4, weight decay 1e-3: the paper's section 5.3 (and the released COrAL Trifeature configuration)
METHOD = Method("coral", "COrAL", CoralModel, published_optimiser=(1e-4, 1e-3))
