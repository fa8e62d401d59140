"""The fusion transformer T of the shared pathway (paper section 4.1, eq. 5-6).

The token sequences of all modalities (some possibly masked to zero) are concatenated, a learnable
[CLS] token is prepended, and pre-LayerNorm transformer blocks (multi-head self-attention + 4x GELU
MLP, residual connections) mix them; the final-LayerNorm CLS output is Z^SR, shape ``(B, D)``.

As in the released code there is no attention mask: masked tokens are zeros that still take part in
attention. There is no modality embedding either, so, with the CLS output, the result does not depend on
the order in which the modalities' tokens are concatenated.

Two details follow the published code (``modules/mmfusion.py``, CLIP's transformer) by default, each with a
named alternative (coral_lab's first version):

- ``activation``: the MLP's nonlinearity, ``"quick_gelu"`` (x sigmoid(1.702 x), published) or ``"gelu"``;
- ``init``: ``"published"`` draws the CLS token from N(0, 1) and the weights from CLIP's normals (attention
  in-projection std D^-1/2, out-projection and MLP output std D^-1/2 (2 L)^-1/2, MLP input std (2 D)^-1/2,
  attention biases 0); ``"independent"`` keeps PyTorch's default layer init and a CLS token of std 0.02.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coral_lab.config import ACTIVATIONS, INITS

__all__ = ["ACTIVATIONS", "INITS", "QuickGELU", "MultiHeadSelfAttention", "TransformerBlock", "FusionTransformer"]



class QuickGELU(nn.Module):
    """CLIP's GELU approximation ``x * sigmoid(1.702 x)`` (the published fusion MLP's activation)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention over ``(B, T, D)`` via ``F.scaled_dot_product_attention`` (no mask)."""

    def __init__(self, dim: int, n_heads: int = 8) -> None:
        super().__init__()
        if isinstance(n_heads, bool) or not isinstance(n_heads, int) or n_heads < 1:
            raise ValueError(f"n_heads must be a positive int, got {n_heads!r}")
        if dim % n_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by n_heads ({n_heads}); change embed_dim or n_heads")
        self.n_heads = n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, D)`` -> ``(B, T, D)``."""
        batch, n_tokens, dim = x.shape
        qkv = self.qkv(x).view(batch, n_tokens, 3, self.n_heads, dim // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, H, T, D/H)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, H, T, D/H)
        return self.out(y.transpose(1, 2).reshape(batch, n_tokens, dim))


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: ``x + MHSA(LN(x))``, then ``x + MLP(LN(x))``, an MLP of width ``mlp_ratio*D``.

    ``activation`` is one of ``ACTIVATIONS``: ``"quick_gelu"`` (published) or ``"gelu"``.
    """

    def __init__(self, dim: int, n_heads: int = 8, mlp_ratio: float = 4.0, activation: str = "quick_gelu") -> None:
        super().__init__()
        hidden = int(round(dim * mlp_ratio))
        if hidden < 1:
            raise ValueError(f"mlp_ratio must be > 0 (the paper uses 4.0), got {mlp_ratio!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown fusion activation {activation!r}; valid: {list(ACTIVATIONS)}")
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, n_heads)
        self.norm2 = nn.LayerNorm(dim)
        act = QuickGELU() if activation == "quick_gelu" else nn.GELU()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), act, nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, T, D)`` -> ``(B, T, D)``."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class FusionTransformer(nn.Module):
    """T: fuse the token sequences of all modalities into one vector, Z^SR (paper eq. 5-6).

    Args:
        dim: D, the token width.
        n_heads: attention heads (the paper uses 8).
        n_layers: transformer blocks (the released code has exactly one).
        mlp_ratio: MLP width relative to D.
        activation: the MLP's nonlinearity, one of ``ACTIVATIONS`` (default: the published QuickGELU).
        init: one of ``INITS`` (default ``"published"``; see the module docstring).

    Shapes: a sequence of n tensors ``(B, T_i, D)`` -> ``(B, D)`` (the final-LayerNorm CLS output).
    """

    def __init__(self, dim: int, n_heads: int = 8, n_layers: int = 1, mlp_ratio: float = 4.0,
                 activation: str = "quick_gelu", init: str = "published") -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive int (the released code uses 1), got {n_layers!r}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; valid: {list(INITS)}")
        self.dim = dim
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.cls_token, std=1.0 if init == "published" else 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(dim, n_heads, mlp_ratio, activation) for _ in range(n_layers))
        self.norm = nn.LayerNorm(dim)
        if init == "published":
            self._published_init()

    @classmethod
    def from_config(cls, cfg) -> "FusionTransformer":
        """From a model config (``embed_dim``, ``n_heads``, ``n_fusion_layers``, ``mlp_ratio``,
        ``fusion_activation``, ``init``): ``coral_lab.config.ModelConfig`` or the feature-data one."""
        return cls(cfg.embed_dim, cfg.n_heads, cfg.n_fusion_layers, cfg.mlp_ratio, cfg.fusion_activation, cfg.init)

    def _published_init(self) -> None:
        """CLIP's transformer init, as the published fusion transformer (std per weight, biases of attention 0)."""
        width, n_layers = self.dim, len(self.blocks)
        attn_std = width**-0.5
        proj_std = width**-0.5 * (2 * n_layers) ** -0.5
        fc_std = (2 * width) ** -0.5
        for block in self.blocks:
            nn.init.normal_(block.attn.qkv.weight, std=attn_std)
            nn.init.zeros_(block.attn.qkv.bias)
            nn.init.normal_(block.attn.out.weight, std=proj_std)
            nn.init.zeros_(block.attn.out.bias)
            nn.init.normal_(block.mlp[0].weight, std=fc_std)
            nn.init.normal_(block.mlp[2].weight, std=proj_std)

    def forward(self, tokens: Sequence[Tensor]) -> Tensor:
        """Per-modality tokens, each ``(B, T_i, D)`` -> Z^SR ``(B, D)``."""
        if isinstance(tokens, Tensor) or not isinstance(tokens, Sequence) or len(tokens) == 0:
            raise TypeError("FusionTransformer expects a non-empty list of per-modality token tensors (B, T_i, D)")
        batch = tokens[0].shape[0]
        for i, t in enumerate(tokens):
            if not isinstance(t, Tensor) or t.dim() != 3 or t.shape[0] != batch or t.shape[2] != self.dim:
                shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
                raise ValueError(
                    f"fusion input {i} must have shape (B={batch}, T_i, D={self.dim}), got {shape}"
                )
        x = torch.cat(list(tokens), dim=1)  # (B, sum_i T_i, D)
        x = torch.cat([self.cls_token.expand(batch, -1, -1).to(x.dtype), x], dim=1)  # (B, 1 + sum_i T_i, D)
        for block in self.blocks:
            x = block(x)
        return self.norm(x[:, 0])  # (B, D): the CLS output
