"""COrAL's dual-path network on feature data (paper section 4.1, eq. 5-6), built from per-modality encoders.

``FeatureCoralModel`` is a ``CoralModel`` whose shared encoders E_i^SR and unique pathways F_i^U take
feature tensors instead of images: E_i^SR = modality encoder -> ``TokenConverter`` -> ``(B, T_i, D)``;
F_i^U = its own modality encoder -> ``TokenConverter`` -> per-token MLP -> attention pooling ->
``(B, D/2)``. Everything else (asymmetric masking in ``encode_views``, the fusion transformer T, the
projection heads, ``embed``) is ``CoralModel``'s own code, unchanged.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import Tensor, nn

from coral_lab.models.checks import check_view
from coral_lab.models.coral import CoralModel, tie_initial_weights
from coral_lab.models.fusion import FusionTransformer
from coral_lab.models.heads import ProjectionHead
from coral_lab.models.unique import UniquePathway
from coral_lab.multibench.config import FeatureModelConfig
from coral_lab.multibench.datasets import ModalitySpec
from coral_lab.multibench.encoders import TokenConverter, build_modality_encoder, n_tokens

__all__ = ["FeatureCoralModel"]


class FeatureCoralModel(CoralModel):
    """COrAL on n >= 2 feature modalities.

    Args:
        cfg: ``FeatureModelConfig`` (D = ``embed_dim``; encoders from ``cfg.encoder``).
        modalities: one ``ModalitySpec`` per modality; inputs are ``(B, *spec.shape)`` float tensors.
    """

    def __init__(self, cfg: FeatureModelConfig, modalities: Sequence[ModalitySpec]) -> None:
        nn.Module.__init__(self)  # CoralModel.__init__ builds image encoders; the parts are built here
        if not isinstance(cfg, FeatureModelConfig):
            raise TypeError(f"FeatureCoralModel expects a FeatureModelConfig, got {type(cfg).__name__}")
        modalities = tuple(modalities)
        if len(modalities) < 2:
            raise ValueError(f"COrAL needs n >= 2 modalities (masking splits them in two), got {len(modalities)}")
        dim = cfg.embed_dim
        if dim % 2 or dim % cfg.n_heads:
            raise ValueError(f"embed_dim ({dim}) must be even and divisible by n_heads ({cfg.n_heads})")
        self.cfg = cfg
        self.modalities = modalities
        self.n_modalities = len(modalities)
        self.embed_dim = dim
        self.unique_dim = dim // 2
        self.check_inputs = True
        shared, unique = [], []
        for spec in modalities:
            enc = build_modality_encoder(spec, cfg.encoder)
            shared.append(nn.Sequential(OrderedDict(encoder=enc, converter=TokenConverter(enc.out_dim, dim))))
            u_enc = build_modality_encoder(spec, cfg.encoder)  # the unique pathway has its own encoder
            unique.append(UniquePathway(u_enc, TokenConverter(u_enc.out_dim, dim), dim, cfg.attention_pool))
        self.shared_encoders = nn.ModuleList(shared)
        self.fusion = FusionTransformer.from_config(cfg)
        self.unique_paths = nn.ModuleList(unique)
        self.shared_head = ProjectionHead(dim, cfg.proj_hidden, cfg.proj_dim)
        self.unique_heads = nn.ModuleList(
            ProjectionHead(self.unique_dim, cfg.proj_hidden, cfg.proj_dim) for _ in modalities
        )
        self.n_tokens = tuple(n_tokens(m, cfg.encoder) for m in modalities)
        if cfg.init == "published":
            tie_initial_weights(self)

    def _check_view(self, view: object, name: str) -> list[Tensor]:
        return check_view(view, name, [m.shape for m in self.modalities], self.shared_head.net[0].weight.device,
                          [m.name for m in self.modalities])
