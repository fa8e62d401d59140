"""A method written as a user would add one: this file and nothing else (tests/test_method_registry.py
registers it and trains it through the command line).

``toy``: one encoder per modality (COrAL's token encoder + a one-modality fusion transformer, i.e. the
baselines' ``VectorEncoder``), the modalities' vectors concatenated, InfoNCE between the two augmented
views of the pair at the shared temperature times its one setting of its own, ``temperature_scale``
(``--set settings.temperature_scale=2``), which its ``Settings`` declares, defaults and checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from coral_lab.objectives.losses import info_nce
from coral_lab.methods import Method, Representation
from coral_lab.methods.base import BaselineModel, VectorEncoder


@dataclass
class Settings:
    temperature_scale: float = 1.0  # the InfoNCE temperature is the loss section's times this

    def check(self) -> None:
        if not self.temperature_scale > 0:
            raise ValueError(f"settings.temperature_scale must be > 0, got {self.temperature_scale!r}")


class ToyModel(BaselineModel):
    name = "toy"
    loss_parts = ("toy",)
    progress_parts = ("loss",)
    subspaces = ("joint",)

    def __init__(self, cfg, modalities=None) -> None:
        super().__init__(cfg, modalities)
        self.temperature = self.temperature * METHOD.read_settings(cfg).temperature_scale
        self.encoders = torch.nn.ModuleList(VectorEncoder(cfg.model, self.token_encoder(i))
                                            for i in range(self.n_modalities))

    def _joint(self, x) -> torch.Tensor:
        return torch.cat([enc(xi) for enc, xi in zip(self.encoders, x)], dim=1)  # (B, n D)

    def forward(self, view1, view2, progress: float = 0.0, generator=None):
        v1, v2 = self.check_views(view1, view2)
        loss = info_nce(self._joint(v1), self._joint(v2), self.temperature)
        return loss, {"toy": loss}

    def embed(self, x) -> Representation:
        return Representation({"joint": self._joint(self.check_view(x, "x"))})


METHOD = Method("toy", "Toy", ToyModel, settings=Settings)
