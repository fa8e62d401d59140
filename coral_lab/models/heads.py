"""Projection heads: map Z^SR and each Z_i^U into the space where the losses act (paper section 4.1, eq. 4, 7-8).

Used only during pretraining; the probe sees the representations before the heads.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["ProjectionHead"]


class ProjectionHead(nn.Module):
    """Linear -> BatchNorm1d -> ReLU -> Linear -> BatchNorm1d -> ReLU -> Linear.

    The two Linear layers followed by BatchNorm have no bias: BatchNorm subtracts the batch mean, so a
    bias there would have no effect in training and receive no gradient (BatchNorm's own shift replaces it).

    Args:
        in_dim: input width (D for Z^SR, D/2 for Z_i^U).
        hidden: hidden width (512 in the released code).
        out_dim: output width (256 in the released code).

    Shapes: ``(B, in_dim)`` -> ``(B, out_dim)``. In training mode BatchNorm needs ``B >= 2``; its
    statistics are those of the batch passed in, so call the head once per view.
    """

    def __init__(self, in_dim: int, hidden: int = 512, out_dim: int = 256) -> None:
        super().__init__()
        for name, value in (("in_dim", in_dim), ("hidden", hidden), ("out_dim", out_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ProjectionHead {name} must be a positive int, got {value!r}")
        self.in_dim = in_dim
        self.out_dim = out_dim
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, z: Tensor) -> Tensor:
        """``(B, in_dim)`` -> ``(B, out_dim)``."""
        if z.dim() != 2 or z.shape[1] != self.in_dim:
            raise ValueError(f"ProjectionHead expects (B, {self.in_dim}), got {tuple(z.shape)}")
        if self.training and z.shape[0] < 2:
            raise ValueError(
                "ProjectionHead in training mode needs a batch of at least 2 (BatchNorm statistics); "
                "use a larger batch or call .eval()"
            )
        return self.net(z)
