"""CoMM baseline: contrastive alignment of augmented multimodal views in one fused space.

Dufumier et al., "What to align in multimodal contrastive learning?", ICLR 2025
(``../shared/paper/comm-abstract.txt``; formulation in ``../shared/design/baselines.md``).

One fusion encoder: per modality COrAL's CNN + latent converter (``TokenEncoder``), the tokens of all
modalities concatenated into one fusion transformer T (CLS output), then one projection head g. For
two augmented views X', X'' it forms, per view, the full embedding and n one-modality embeddings in
which the other modalities' tokens are dropped before fusion:

    z_full = g(T(E_1(X_1), ..., E_n(X_n))),      z_i = g(T(E_i(X_i)))      each (B, P).

With InfoNCE the SimCLR form of ``coral_lab.objectives.losses.info_nce`` (temperature t, 2N - 2 negatives),

    L_full = 1/2 [ InfoNCE(z'_full, z''_full) + InfoNCE(z''_full, z'_full) ] = InfoNCE(z'_full, z''_full)
    L_i    = 1/2 [ InfoNCE(z'_i, z''_full) + InfoNCE(z''_i, z'_full) ]                 i = 1..n
    L_CoMM = (L_full + sum_i L_i) / (n + 1).

The full-vs-full term draws out redundancy and synergy, the one-modality terms the information each
modality holds (uniqueness). Probe feature: the fusion output T(...) before the head, ``{"fused": (B, D)}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from coral_lab.config import RunConfig
from coral_lab.data.modalities import ModalitySpec
from coral_lab.objectives.losses import check_matrix, check_pair, info_nce
from coral_lab.methods.base import BaselineModel, Representation
from coral_lab.methods.spec import Method
from coral_lab.models.fusion import FusionTransformer
from coral_lab.models.heads import ProjectionHead

__all__ = ["comm_loss", "CoMMModel", "METHOD"]


def comm_loss(
    full1: Tensor, full2: Tensor, single1: Sequence[Tensor], single2: Sequence[Tensor], temperature: float = 0.1
) -> tuple[Tensor, dict[str, Tensor]]:
    """L_CoMM from the projected embeddings of two views.

    Args:
        full1, full2: (N, P) z'_full and z''_full.
        single1, single2: n tensors (N, P) each, z'_i and z''_i (only modality i fused).
        temperature: InfoNCE temperature t > 0.

    Returns:
        (L_CoMM, {"full": L_full, "only1": L_1, ..., "only<n>": L_n}).
    """
    for name, z in (("full1", full1), ("full2", full2)):
        check_matrix(z, name)
    if len(single1) != len(single2) or len(single1) < 1:
        raise ValueError(f"single1 and single2 need one (N, P) tensor per modality each, got {len(single1)} and {len(single2)}")
    for i, (a, b) in enumerate(zip(single1, single2)):
        check_pair(check_matrix(a, f"single1[{i}]"), full2, f"single1[{i}]", "full2")
        check_pair(check_matrix(b, f"single2[{i}]"), full1, f"single2[{i}]", "full1")
    parts = {"full": info_nce(full1, full2, temperature, check_finite=False)}
    for i, (a, b) in enumerate(zip(single1, single2)):
        parts[f"only{i + 1}"] = 0.5 * (
            info_nce(a, full2, temperature, check_finite=False) + info_nce(b, full1, temperature, check_finite=False)
        )
    total = torch.stack(list(parts.values())).mean()
    return total, parts


class CoMMModel(BaselineModel):
    """Per-modality token encoders (``token_encoder(i)``), one ``FusionTransformer`` and one ``ProjectionHead``."""

    name = "comm"
    subspaces = ("fused",)

    def __init__(self, cfg: RunConfig, modalities: Sequence[ModalitySpec] | None = None) -> None:
        super().__init__(cfg, modalities)
        m = cfg.model
        self.token_encoders = nn.ModuleList(self.token_encoder(i) for i in range(self.n_modalities))
        self.fusion = FusionTransformer.from_config(m)
        self.head = ProjectionHead(m.embed_dim, m.proj_hidden, m.proj_dim)
        self.n_tokens = tuple(e.n_tokens for e in self.token_encoders)
        self.comm_parts = ("full", *(f"only{i + 1}" for i in range(self.n_modalities)))
        self.loss_parts = ("comm", *self.comm_parts)
        self.progress_parts = ("loss", "full")

    def view_tokens(self, view1: list[Tensor], view2: list[Tensor]) -> list[Tensor]:
        """Each modality's tokens for both views in one pass: n x (2B, T_i, D), view 1 rows first."""
        return [enc(torch.cat([a, b])) for enc, a, b in zip(self.token_encoders, view1, view2)]

    def projected(self, fused: Tensor, batch: int) -> tuple[Tensor, Tensor]:
        """Heads applied per view (BatchNorm statistics per view): (2B, D) -> two (B, P)."""
        return self.head(fused[:batch]), self.head(fused[batch:])

    def comm_terms(self, tokens: list[Tensor], batch: int) -> tuple[Tensor, dict[str, Tensor], tuple[Tensor, Tensor]]:
        """L_CoMM from both views' tokens; also returns (z'_full, z''_full) for InfMasking."""
        full1, full2 = self.projected(self.fusion(tokens), batch)
        singles = [self.projected(self.fusion([t]), batch) for t in tokens]
        total, parts = comm_loss(full1, full2, [s[0] for s in singles], [s[1] for s in singles], self.temperature)
        return total, parts, (full1, full2)

    def forward(self, view1, view2, progress: float = 0.0, generator: torch.Generator | None = None):
        """L_CoMM of one batch of two augmented views (n tensors (B, C, H, W) each).

        Returns:
            (loss, {"comm": loss, "full": L_full, "only<i>": L_i}).
        """
        v1, v2 = self.check_views(view1, view2)
        self.check_progress(progress)
        total, parts, _ = self.comm_terms(self.view_tokens(v1, v2), v1[0].shape[0])
        return total, {"comm": total, **parts}

    def embed(self, x: Sequence[Tensor]) -> Representation:
        """The fusion output before the head, ``{"fused": (B, D)}``."""
        v = self.check_view(x, "x")
        return Representation({"fused": self.fusion([enc(xi) for enc, xi in zip(self.token_encoders, v)])})


# Table 1's CoMM row: CoMM's own Trifeature configuration (Duplums/CoMM configs/train_trifeatures.yaml)
METHOD = Method("comm", "CoMM", CoMMModel, published_optimiser=(3e-4, 1e-4))
