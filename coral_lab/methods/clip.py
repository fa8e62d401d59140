"""CLIP baseline: cross-modal contrastive alignment of two unimodal embeddings.

Radford et al., "Learning Transferable Visual Models From Natural Language Supervision", ICML 2021;
the setting of the COrAL paper's Table 1 (``../shared/design/baselines.md``).

Each modality i has its own encoder f_i (COrAL's CNN + latent converter + a one-modality fusion
transformer, ``VectorEncoder``) and projection head g_i. With u_i = g_i(f_i(x_i)) / ||g_i(f_i(x_i))||,
shape (B, P), and a learnable log logit scale s (initialised to log(1/0.07), clamped at log 100), the
N x N logits are L = exp(s) u_1 u_2^T and

    L_CLIP = 1/2 [ CE(L, diag) + CE(L^T, diag) ],

the symmetric cross-entropy whose targets are the matching pairs (row k's positive is column k). For
n > 2 modalities the loss is the mean over all pairs i < j. CLIP is trained without augmentation.
Probe features: the pre-head unimodal embeddings f_i(x_i), ``{"modality1": (B, D), "modality2": ...}``.
Cross-modal alignment keeps only what both modalities share (redundancy); the paper's Table 1 shows
it near chance on uniqueness and synergy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coral_lab.config import RunConfig, require
from coral_lab.data.modalities import ModalitySpec
from coral_lab.objectives.losses import check_matrix, check_pair
from coral_lab.methods.base import BaselineModel, Representation, VectorEncoder
from coral_lab.methods.spec import Method
from coral_lab.models.heads import ProjectionHead

__all__ = ["clip_loss", "Settings", "CLIPModel", "METHOD"]


@dataclass
class Settings:
    """CLIP's own settings (``RunConfig.settings`` of a CLIP run: ``--set settings.logit_scale_max=4``)."""

    logit_scale_init: float = math.log(1 / 0.07)  # the learnable log logit scale s, initial value
    logit_scale_max: float = math.log(100.0)  # s is clamped at this

    def check(self) -> None:
        require(self.logit_scale_max >= self.logit_scale_init,
                "settings.logit_scale_max must be >= settings.logit_scale_init",
                (self.logit_scale_init, self.logit_scale_max))


def clip_loss(z1: Tensor, z2: Tensor, logit_scale: Tensor | float) -> Tensor:
    """Symmetric cross-modal InfoNCE of CLIP.

    Args:
        z1: (N, P) embeddings of modality 1; z2: (N, P) of modality 2, row k the same sample.
        logit_scale: exp(s), the multiplier of the cosine similarities (a tensor to learn it).

    Returns:
        1/2 [CE(L, diag) + CE(L^T, diag)] with L = logit_scale * cos(z1_k, z2_l), a float32 scalar.
    """
    z1 = check_matrix(z1, "z1")
    z2 = check_matrix(z2, "z2")
    check_pair(z1, z2, "z1", "z2")
    if z1.shape[0] < 2:
        raise ValueError(f"clip_loss needs N >= 2 samples (the other samples are the negatives), got {z1.shape[0]}")
    with torch.autocast(device_type=z1.device.type, enabled=False):
        u1 = F.normalize(z1.float(), dim=1, eps=1e-8)
        u2 = F.normalize(z2.float(), dim=1, eps=1e-8)
        logits = logit_scale * (u1 @ u2.T)  # (N, N)
        targets = torch.arange(z1.shape[0], device=z1.device)
        return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


class CLIPModel(BaselineModel):
    """One ``VectorEncoder`` and one ``ProjectionHead`` per modality and a learnable logit scale."""

    name = "clip"
    loss_parts = ("clip", "logit_scale")
    progress_parts = ("loss", "logit_scale")
    uses_augmentation = False

    def __init__(self, cfg: RunConfig, modalities: Sequence[ModalitySpec] | None = None) -> None:
        super().__init__(cfg, modalities)
        m, s = cfg.model, METHOD.read_settings(cfg)
        self.encoders = nn.ModuleList(VectorEncoder(m, self.token_encoder(i)) for i in range(self.n_modalities))
        self.heads = nn.ModuleList(ProjectionHead(m.embed_dim, m.proj_hidden, m.proj_dim) for _ in range(self.n_modalities))
        self.log_logit_scale = nn.Parameter(torch.tensor(float(s.logit_scale_init)))
        self.max_log_logit_scale = float(s.logit_scale_max)
        self.subspaces = tuple(f"modality{i + 1}" for i in range(self.n_modalities))

    def logit_scale(self) -> Tensor:
        """exp(s) with s clamped at ``settings.logit_scale_max`` (log 100)."""
        return self.log_logit_scale.clamp(max=self.max_log_logit_scale).exp()

    def forward(self, view1, view2=None, progress: float = 0.0, generator: torch.Generator | None = None):
        """L_CLIP of one batch: view1 holds the n modalities' images; view2 is ignored (no augmentation).

        Returns:
            (loss, {"clip": loss, "logit_scale": exp(s)}).
        """
        x = self.check_view(view1, "view1")
        if x[0].shape[0] < 2:
            raise ValueError("a contrastive loss needs a batch of at least 2 (the other samples are the negatives)")
        z = [head(enc(xi)) for enc, head, xi in zip(self.encoders, self.heads, x)]  # n x (B, P)
        scale = self.logit_scale()
        pairs = [(i, j) for i in range(self.n_modalities) for j in range(i + 1, self.n_modalities)]
        loss = torch.stack([clip_loss(z[i], z[j], scale) for i, j in pairs]).mean()
        return loss, {"clip": loss, "logit_scale": scale.detach()}

    def embed(self, x: Sequence[Tensor]) -> Representation:
        """The unimodal embeddings before the heads: ``{"modality<i>": (B, D)}``."""
        v = self.check_view(x, "x")
        return Representation({name: enc(xi) for name, enc, xi in zip(self.subspaces, self.encoders, v)})


# Table 1's CLIP row comes from CoMM's own Trifeature runs (Duplums/CoMM configs/train_trifeatures.yaml:
# lr 3e-4, weight decay 1e-4), not from the lr 1e-3 / wd 1e-2 the COrAL paper's section 5.3 quotes (those
# are CoMM's MultiBench settings)
METHOD = Method("clip", "CLIP", CLIPModel, published_optimiser=(3e-4, 1e-4),
                settings=Settings)
