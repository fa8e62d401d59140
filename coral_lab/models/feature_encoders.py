"""Per-modality encoders for feature data and the latent converter to fusion tokens (paper section 5.3).

- ``SequenceTransformer``: text / vision feature sequences. A 1x1 ``Conv1d`` to ``width`` then a pre-norm
  Transformer encoder, every step returned as a token, no positional encoding (MultiBench's published
  affect encoder: width 40, 5 layers, 5 heads).
- ``GRUEncoder``: time series, a GRU returning the hidden state of every step (MIMIC: GRU(12 -> 512)).
- ``FeatureTokenizer`` / ``TabularEncoder``: tabular rows. An MLP, then one token per hidden unit,
  ``token_j = h_j * W_j + b_j`` (the feature tokenizer of FT-Transformer, Gorishniy et al. 2021; MIMIC:
  MLP(5 -> 10 -> 10) + 10 tokens).
- ``TokenConverter``: the latent converter, a per-token ``Linear(width, D)``, so every modality reaches
  the fusion transformer as ``(B, T_i, D)``.

``build_modality_encoder(spec, cfg)`` returns the encoder for a ``ModalitySpec`` and its token width.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from coral_lab.config.sections import EncoderConfig
from coral_lab.data.modalities import ModalitySpec

__all__ = [
    "SequenceTransformer",
    "GRUEncoder",
    "FeatureTokenizer",
    "TabularEncoder",
    "TokenConverter",
    "build_modality_encoder",
    "FeatureTokenEncoder",
]


def _check(x: Tensor, dims: int, last: int, name: str) -> None:
    if x.dim() != dims or x.shape[-1] != last:
        want = "(B, T, F)" if dims == 3 else "(B, F)"
        raise ValueError(f"{name} expects {want} with F={last}, got {tuple(x.shape)}")


class SequenceTransformer(nn.Module):
    """Feature sequence ``(B, T, F)`` -> tokens ``(B, T, width)``: Conv1d(F, width, 1) + pre-norm Transformer."""

    def __init__(self, in_features: int, width: int = 40, layers: int = 5, heads: int = 5, dropout: float = 0.1) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width ({width}) must be divisible by heads ({heads})")
        self.in_features = in_features
        self.out_dim = width
        self.proj = nn.Conv1d(in_features, width, kernel_size=1)
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: Tensor) -> Tensor:
        _check(x, 3, self.in_features, "SequenceTransformer")
        h = self.proj(x.transpose(1, 2)).transpose(1, 2)  # (B, T, width)
        return self.transformer(h)  # (B, T, width)


class GRUEncoder(nn.Module):
    """Time series ``(B, T, F)`` -> every step's hidden state ``(B, T, hidden)``."""

    def __init__(self, in_features: int, hidden: int = 512) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_dim = hidden
        self.gru = nn.GRU(in_features, hidden, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        _check(x, 3, self.in_features, "GRUEncoder")
        return self.gru(x)[0]  # (B, T, hidden)


class FeatureTokenizer(nn.Module):
    """One token per scalar feature: ``(B, F)`` -> ``(B, F, dim)``, ``token_j = x_j W_j + b_j`` (FT-Transformer)."""

    def __init__(self, n_features: int, dim: int) -> None:
        super().__init__()
        self.n_features = n_features
        self.weight = nn.Parameter(torch.empty(n_features, dim))
        self.bias = nn.Parameter(torch.empty(n_features, dim))
        bound = dim**-0.5
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        _check(x, 2, self.n_features, "FeatureTokenizer")
        return x.unsqueeze(-1) * self.weight + self.bias  # (B, F, 1) * (F, dim) -> (B, F, dim)


class TabularEncoder(nn.Module):
    """Tabular row ``(B, F)`` -> ``(B, hidden, width)``: MLP(F -> hidden -> hidden) + ``FeatureTokenizer``."""

    def __init__(self, in_features: int, hidden: int = 10, width: int = 512) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_dim = width
        self.mlp = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.tokenizer = FeatureTokenizer(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        _check(x, 2, self.in_features, "TabularEncoder")
        return self.tokenizer(self.mlp(x))


class TokenConverter(nn.Module):
    """Latent converter: per-token ``Linear(in_dim, dim)``, ``(B, T, in_dim)`` -> ``(B, T, dim)``."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.proj = nn.Linear(in_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


def build_modality_encoder(spec: ModalitySpec, cfg: EncoderConfig) -> nn.Module:
    """The encoder for one modality (``spec.kind`` sequence / timeseries / tabular); width in ``.out_dim``."""
    if spec.kind == "sequence":
        return SequenceTransformer(spec.shape[-1], cfg.width, cfg.layers, cfg.heads, cfg.dropout)
    if spec.kind == "timeseries":
        return GRUEncoder(spec.shape[-1], cfg.width)
    if spec.kind == "tabular":
        return TabularEncoder(spec.shape[-1], cfg.tabular_hidden, cfg.width)
    raise ValueError(f"unknown modality kind {spec.kind!r} for {spec.name!r}; valid: sequence, timeseries, tabular")


def n_tokens(spec: ModalitySpec, cfg: EncoderConfig) -> int:
    """Tokens per sample that ``build_modality_encoder(spec, cfg)`` produces."""
    return cfg.tabular_hidden if spec.kind == "tabular" else spec.shape[0]


class FeatureTokenEncoder(nn.Sequential):
    """E_i on feature data: ``encoder`` (``build_modality_encoder``) then ``converter``
    (``TokenConverter``), ``(B, *spec.shape)`` -> ``(B, T_i, D)``; ``n_tokens`` is T_i. COrAL's shared
    pathway, each unique pathway and every baseline build their per-modality encoders with it."""

    def __init__(self, spec: ModalitySpec, encoder_cfg: EncoderConfig, embed_dim: int) -> None:
        encoder = build_modality_encoder(spec, encoder_cfg)
        super().__init__(OrderedDict(encoder=encoder, converter=TokenConverter(encoder.out_dim, embed_dim)))
        self.n_tokens = n_tokens(spec, encoder_cfg)
