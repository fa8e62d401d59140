"""The modality-unique pathways F_i^U (paper section 4.1; design ablated in section 5.6.3, Table 5).

Each modality has its own pathway with its own encoder: encoder -> latent converter -> tokens
``(B, T, D)`` -> per-token 2-layer MLP (Linear(D, D) -> LayerNorm -> GELU -> Linear(D, D/2)) ->
attention pooling with one learnable query -> Z_i^U, shape ``(B, D/2)``. The unique pathways are never
masked.

Attention pooling follows the published code (``modules/mmfusion.py`` of the COrAL repository):
``softmax_t(x_t . q)``, unscaled, with ``q ~ N(0, 1)`` (``pool="unscaled"``, the default). The named
alternative ``pool="scaled"`` divides the scores by ``sqrt(D/2)`` and starts ``q`` at std 0.02 (coral_lab's
first version): its query starts ~800x weaker at D = 64 (0.02 / sqrt(32) of the published scale).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from coral_lab.config import ATTENTION_POOLS
from coral_lab.models.tokens import LatentConverter

__all__ = ["ATTENTION_POOLS", "AttentionPool", "UniquePathway"]

# "unscaled": the published pooling (x . q, q ~ N(0, 1)); "scaled": x . q / sqrt(dim), q ~ N(0, 0.02^2)


class AttentionPool(nn.Module):
    """Attention pooling with one learnable query q and no key / value projections.

    ``w_t = softmax_t(s_t)`` and the output is ``sum_t w_t x_t``, with ``s_t = x_t . q`` (``kind="unscaled"``,
    the published pooling, ``q ~ N(0, 1)``) or ``s_t = x_t . q / sqrt(dim)`` (``kind="scaled"``, ``q ~ N(0, 0.02^2)``).

    Shapes: ``(B, T, dim)`` -> ``(B, dim)``.
    """

    def __init__(self, dim: int, kind: str = "unscaled") -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if kind not in ATTENTION_POOLS:
            raise ValueError(f"unknown attention pool {kind!r}; valid: {list(ATTENTION_POOLS)}")
        self.dim = dim
        self.kind = kind
        self.query = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.query, std=1.0 if kind == "unscaled" else 0.02)

    def _check(self, x: Tensor) -> None:
        if x.dim() != 3 or x.shape[2] != self.dim or x.shape[1] < 1:
            raise ValueError(f"AttentionPool expects tokens of shape (B, T >= 1, {self.dim}), got {tuple(x.shape)}")

    def attention_weights(self, x: Tensor) -> Tensor:
        """Pooling weights ``(B, T)`` for tokens ``(B, T, dim)``; each row sums to 1."""
        self._check(x)
        scores = x @ self.query.to(x.dtype)  # (B, T)
        if self.kind == "scaled":
            scores = scores / math.sqrt(self.dim)
        return scores.softmax(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        """Tokens ``(B, T, dim)`` -> pooled vector ``(B, dim)``."""
        weights = self.attention_weights(x)  # (B, T)
        return torch.einsum("bt,btd->bd", weights, x)


class UniquePathway(nn.Module):
    """F_i^U: one modality's unique pathway, image ``(B, C, H, W)`` -> Z_i^U ``(B, D/2)``.

    Args:
        encoder: this pathway's own image encoder (not shared with the shared pathway).
        converter: the ``LatentConverter`` turning the encoder's map into ``(B, T, D)`` tokens.
        dim: D; the output width is ``D // 2``.
        pool: the attention pooling, one of ``ATTENTION_POOLS`` (default: the published ``"unscaled"``).
    """

    def __init__(self, encoder: nn.Module, converter: LatentConverter | nn.Module, dim: int,
                 pool: str = "unscaled") -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2 != 0:
            raise ValueError(f"dim must be an even int >= 2 (the unique width is D/2), got {dim!r}")
        if not isinstance(converter, nn.Module) or not isinstance(getattr(converter, "dim", None), int):
            # a LatentConverter for images, or any token converter with a ``dim`` (e.g. for feature data)
            raise TypeError(f"converter must be a LatentConverter (or a token module with .dim), got {type(converter).__name__}")
        if converter.dim != dim:
            raise ValueError(f"converter produces {converter.dim}-wide tokens but the pathway expects D={dim}")
        self.dim = dim
        self.out_dim = dim // 2
        self.encoder = encoder
        self.converter = converter
        self.mlp = nn.Sequential(
            nn.Linear(dim, dim),
            nn.LayerNorm(dim),
            nn.GELU(),
            nn.Linear(dim, self.out_dim),
        )
        self.pool = AttentionPool(self.out_dim, pool)

    def tokens(self, x: Tensor) -> Tensor:
        """Per-token features before pooling: image ``(B, C, H, W)`` -> ``(B, T, D/2)``."""
        return self.mlp(self.converter(self.encoder(x)))

    def forward(self, x: Tensor) -> Tensor:
        """Image ``(B, C, H, W)`` -> Z_i^U ``(B, D/2)``."""
        return self.pool(self.tokens(x))
