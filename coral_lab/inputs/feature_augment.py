"""Augmentations for feature data (two views per sample, every sample with its own random draw).

- ``augment_sequences``: for feature sequences and time series, the published MultiBench feature
  augmentations (``shared/design/multibench.md``): with probability ``drop_p`` zero a
  U(0, ``drop_max``) fraction of the time steps (each step dropped independently with that probability),
  and with probability ``noise_p`` add Gaussian noise of std ``noise_std``.
- ``augment_tabular``: for tabular rows, SCARF-style random feature corruption (Bahri et al., ICLR 2022):
  each feature is replaced, with probability ``corrupt_rate``, by the same feature of a random row of the
  batch (a draw from its empirical marginal), then the same Gaussian noise as above.

All functions take an explicit ``torch.Generator`` on the data's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from coral_lab.config.sections import FeatureAugmentConfig
from coral_lab.data.modalities import ModalitySpec

__all__ = ["augment_sequences", "augment_tabular", "augment_modalities"]


def _noise(x: Tensor, cfg: FeatureAugmentConfig, gen: torch.Generator) -> Tensor:
    b = x.shape[0]
    apply = torch.rand(b, generator=gen, device=x.device) < cfg.noise_p  # (B,)
    eps = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype) * cfg.noise_std
    return x + eps * apply.view(b, *([1] * (x.dim() - 1))).to(x.dtype)


def augment_sequences(x: Tensor, cfg: FeatureAugmentConfig, gen: torch.Generator) -> Tensor:
    """Time-step drop + Gaussian noise. ``x``: ``(B, T, F)`` -> ``(B, T, F)``."""
    if x.dim() != 3:
        raise ValueError(f"augment_sequences expects (B, T, F), got {tuple(x.shape)}")
    b, t, _ = x.shape
    apply = torch.rand(b, 1, generator=gen, device=x.device) < cfg.drop_p  # (B, 1)
    frac = torch.rand(b, 1, generator=gen, device=x.device) * cfg.drop_max  # (B, 1) ~ U(0, drop_max)
    dropped = (torch.rand(b, t, generator=gen, device=x.device) < frac) & apply  # (B, T)
    x = x * (~dropped).unsqueeze(-1).to(x.dtype)
    return _noise(x, cfg, gen)


def augment_tabular(x: Tensor, cfg: FeatureAugmentConfig, gen: torch.Generator) -> Tensor:
    """SCARF corruption from the batch marginals + Gaussian noise. ``x``: ``(B, F)`` -> ``(B, F)``."""
    if x.dim() != 2:
        raise ValueError(f"augment_tabular expects (B, F), got {tuple(x.shape)}")
    b, f = x.shape
    corrupt = torch.rand(b, f, generator=gen, device=x.device) < cfg.corrupt_rate  # (B, F)
    donor = torch.randint(0, b, (b, f), generator=gen, device=x.device)  # (B, F) row to copy from
    marginal = x.gather(0, donor)  # (B, F): x[donor[i, j], j]
    return _noise(torch.where(corrupt, marginal, x), cfg, gen)


def augment_modalities(
    xs: Sequence[Tensor], modalities: Sequence[ModalitySpec], cfg: FeatureAugmentConfig, gen: torch.Generator
) -> list[Tensor]:
    """One augmented view of every modality (``tabular`` -> ``augment_tabular``, else ``augment_sequences``)."""
    return [augment_tabular(x, cfg, gen) if m.kind == "tabular" else augment_sequences(x, cfg, gen)
            for x, m in zip(xs, modalities)]
