"""The container the model returns and the losses take (named after what the loss needs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Embeddings"]


@dataclass(frozen=True)
class Embeddings:
    """One view's embeddings: Z^SR and (Z_1^U, ..., Z_n^U).

    Attributes:
        shared: Z^SR, shape (B, D_s).
        unique: one tensor per modality, Z_i^U, each of shape (B, D_u).

    During pretraining these are the projection-head outputs (what InfoNCE and the orthogonality
    loss take); from ``CoralModel.embed`` they are the representations before the heads, whose
    concatenation (paper eq. 2) is what the linear probe sees.
    """

    shared: Tensor
    unique: tuple[Tensor, ...]

    @property
    def n_modalities(self) -> int:
        return len(self.unique)

    def concat(self) -> Tensor:
        """Z = (Z^SR, Z_1^U, ..., Z_n^U) concatenated along features: (B, D_s + sum_i D_u)."""
        return torch.cat([self.shared, *self.unique], dim=1)

    def parts(self) -> dict[str, Tensor]:
        """The subspaces by name: ``{"shared": Z^SR, "unique1": Z_1^U, ...}``."""
        out = {"shared": self.shared}
        out.update({f"unique{i + 1}": u for i, u in enumerate(self.unique)})
        return out

    def detach(self) -> "Embeddings":
        return Embeddings(self.shared.detach(), tuple(u.detach() for u in self.unique))

    def float(self) -> "Embeddings":
        """The same embeddings in fp32 (for the loss after a bf16 autocast forward; a no-op copy in fp32)."""
        return Embeddings(self.shared.float(), tuple(u.float() for u in self.unique))
