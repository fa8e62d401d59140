"""One registry of per-modality token encoders E_i, chosen by the modality's kind.

Every method (COrAL's shared pathway E_i^SR and unique pathways F_i^U, and every baseline) builds its
per-modality encoders here, from the modality's ``ModalitySpec`` and the run's model section:

- ``"image"``: ``TokenEncoder`` (``coral_lab.models.encoders``): the CNN named by ``ModelConfig.encoder``
  and COrAL's latent converter, ``(B, C, H, W)`` -> ``(B, T_i, D)``;
- ``"sequence"``, ``"timeseries"``, ``"tabular"``: ``FeatureTokenEncoder``
  (``coral_lab.models.feature_encoders``): Transformer / GRU / MLP + feature tokenizer, then a per-token
  linear converter, ``(B, *shape_i)`` -> ``(B, T_i, D)``, from ``FeatureModelConfig.encoder``.

Each returned module is ``nn.Sequential(encoder, converter)`` with ``n_tokens`` = T_i, so a unique
pathway can take its encoder and converter apart.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from coral_lab.config import ModelConfig
from coral_lab.data.modalities import IMAGE, MODALITY_KINDS, ModalitySpec
from coral_lab.models.encoders import TokenEncoder
from coral_lab.config.sections import FeatureModelConfig
from coral_lab.models.feature_encoders import FeatureTokenEncoder

__all__ = ["TOKEN_ENCODERS", "build_token_encoder"]


def _image_tokens(spec: ModalitySpec, cfg: ModelConfig) -> nn.Module:
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"an image modality needs a coral_lab.config.ModelConfig, got {type(cfg).__name__}")
    return TokenEncoder(cfg)


def _feature_tokens(spec: ModalitySpec, cfg: FeatureModelConfig) -> nn.Module:
    if not isinstance(cfg, FeatureModelConfig):
        raise TypeError(f"a {spec.kind} modality needs a FeatureModelConfig, got {type(cfg).__name__}")
    return FeatureTokenEncoder(spec, cfg.encoder, cfg.embed_dim)


# modality kind -> builder(spec, model section) of a fresh E_i
TOKEN_ENCODERS: dict[str, Callable[[ModalitySpec, object], nn.Module]] = {
    IMAGE: _image_tokens,
    "sequence": _feature_tokens,
    "timeseries": _feature_tokens,
    "tabular": _feature_tokens,
}
assert tuple(TOKEN_ENCODERS) == MODALITY_KINDS


def build_token_encoder(spec: ModalitySpec, model_cfg: ModelConfig | FeatureModelConfig) -> nn.Module:
    """A fresh E_i for the modality ``spec`` (its kind picks the builder), freshly initialised."""
    if not isinstance(spec, ModalitySpec):
        raise TypeError(f"build_token_encoder expects a ModalitySpec, got {type(spec).__name__}")
    try:
        builder = TOKEN_ENCODERS[spec.kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown modality kind {spec.kind!r} for {spec.name!r}; valid: {list(TOKEN_ENCODERS)}") from None
    return builder(spec, model_cfg)
