"""Latent conversion: an encoder's feature map becomes a token sequence (paper section 4.1, "latent converter").

A 1x1 convolution (a linear patch embedding of each feature-map cell, paper section 5.3) maps
``(B, C, h, w)`` to ``(B, h*w, D)`` tokens, and a fixed 2-D sin-cos positional embedding (MAE style) is
added. Tokens are ordered row-major: token ``r * w + c`` is the cell in row ``r``, column ``c``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["sincos_pos_embed_1d", "sincos_pos_embed_2d", "LatentConverter"]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def sincos_pos_embed_1d(dim: int, positions: Tensor) -> Tensor:
    """1-D sin-cos embedding of positions (transformer / MAE style).

    With ``omega_k = 1 / 10000^(k / (dim/2))`` for ``k = 0 .. dim/2 - 1``, a position ``p`` maps to
    ``[sin(p * omega_0), ..., sin(p * omega_{dim/2-1}), cos(p * omega_0), ..., cos(p * omega_{dim/2-1})]``.

    Args:
        dim: embedding width; must be even.
        positions: ``(N,)`` positions (any real values).

    Returns:
        ``(N, dim)`` float32 on the device of ``positions``.
    """
    _positive_int(dim, "dim")
    if dim % 2 != 0:
        raise ValueError(f"the 1-D sin-cos embedding needs an even dim, got {dim}")
    if positions.dim() != 1:
        raise ValueError(f"positions must be 1-D (N,), got shape {tuple(positions.shape)}")
    half = dim // 2
    omega = torch.arange(half, dtype=torch.float64, device=positions.device) / half
    omega = 1.0 / (10000.0**omega)  # (dim/2,)
    angles = positions.to(torch.float64)[:, None] * omega[None, :]  # (N, dim/2)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).to(torch.float32)


def sincos_pos_embed_2d(dim: int, h: int, w: int) -> Tensor:
    """Fixed 2-D sin-cos positional embedding of an ``h x w`` grid (MAE's ``get_2d_sincos_pos_embed``).

    The first ``dim/2`` features are the 1-D embedding of the column index, the last ``dim/2`` the 1-D
    embedding of the row index. Rows of the result follow the token order of a flattened ``(h, w)`` map:
    row ``r * w + c`` is grid cell ``(r, c)``.

    Args:
        dim: embedding width D; must be divisible by 4.
        h, w: grid height and width.

    Returns:
        ``(h * w, dim)`` float32 tensor on the CPU (register it as a buffer so it follows the module).
    """
    _positive_int(dim, "dim")
    _positive_int(h, "h")
    _positive_int(w, "w")
    if dim % 4 != 0:
        raise ValueError(f"the 2-D sin-cos embedding needs dim divisible by 4, got {dim}; change embed_dim")
    rows = torch.arange(h, dtype=torch.float64).repeat_interleave(w)  # (h*w,) r for token r*w + c
    cols = torch.arange(w, dtype=torch.float64).repeat(h)  # (h*w,) c for token r*w + c
    return torch.cat([sincos_pos_embed_1d(dim // 2, cols), sincos_pos_embed_1d(dim // 2, rows)], dim=1)


class LatentConverter(nn.Module):
    """Feature map -> token sequence: 1x1 conv patch embedding plus fixed 2-D sin-cos positions.

    The converter part of E_i^SR (paper eq. 5-6) and of each unique pathway F_i^U.

    Args:
        in_channels: C, the encoder's ``out_channels``.
        dim: D, the token width.
        grid_hw: ``(h, w)``, the encoder's feature-map size (``encoder.feature_shape(image_size)``).

    Shapes: ``(B, C, h, w)`` -> ``(B, h*w, D)``.
    """

    pos_embed: Tensor

    def __init__(self, in_channels: int, dim: int, grid_hw: tuple[int, int]) -> None:
        super().__init__()
        _positive_int(in_channels, "in_channels")
        _positive_int(dim, "dim")
        if not (isinstance(grid_hw, (tuple, list)) and len(grid_hw) == 2):
            raise ValueError(f"grid_hw must be an (h, w) pair, got {grid_hw!r}")
        h, w = (_positive_int(v, "grid_hw entries") for v in grid_hw)
        self.in_channels = in_channels
        self.dim = dim
        self.grid_hw = (h, w)
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=1)
        # fixed, not learned; non-persistent because it is a pure function of (dim, h, w)
        self.register_buffer("pos_embed", sincos_pos_embed_2d(dim, h, w)[None], persistent=False)  # (1, h*w, D)

    @property
    def n_tokens(self) -> int:
        return self.grid_hw[0] * self.grid_hw[1]

    def forward(self, x: Tensor) -> Tensor:
        """Feature map ``(B, C, h, w)`` -> tokens ``(B, h*w, D)`` with positions added."""
        expected = (self.in_channels, *self.grid_hw)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"LatentConverter expects feature maps of shape (B, {expected[0]}, {expected[1]}, {expected[2]}), "
                f"got {tuple(x.shape)}; build it with the encoder's out_channels and feature_shape(image_size)"
            )
        tokens = self.proj(x).flatten(2).transpose(1, 2)  # (B, h*w, D), row-major
        return tokens + self.pos_embed.to(tokens.dtype)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, dim={self.dim}, grid_hw={self.grid_hw}"
