"""COrAL's dual-path network on feature data (paper section 4.1, eq. 5-6), built from per-modality encoders.

``FeatureCoralModel`` is a ``CoralModel`` whose shared encoders E_i^SR and unique pathways F_i^U take
feature tensors instead of images: E_i^SR = modality encoder -> ``TokenConverter`` -> ``(B, T_i, D)``;
F_i^U = its own modality encoder -> ``TokenConverter`` -> per-token MLP -> attention pooling ->
``(B, D/2)``. Everything else (asymmetric masking in ``encode_views``, the fusion transformer T, the
projection heads, ``embed``, ``training_loss``) is ``CoralModel``'s own code, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from coral_lab.config import LossConfig
from coral_lab.models.checks import check_view
from coral_lab.models.coral import CoralModel
from coral_lab.multibench.config import FeatureModelConfig
from coral_lab.multibench.datasets import ModalitySpec
from coral_lab.multibench.encoders import FeatureTokenEncoder

__all__ = ["FeatureCoralModel"]


class FeatureCoralModel(CoralModel):
    """COrAL on n >= 2 feature modalities.

    Args:
        cfg: ``FeatureModelConfig`` (D = ``embed_dim``; encoders from ``cfg.encoder``).
        modalities: one ``ModalitySpec`` per modality; inputs are ``(B, *spec.shape)`` float tensors.
        loss: the ``LossConfig`` of ``training_loss`` (default ``LossConfig()``).

    ``CoralModel.__init__`` builds the network; this class supplies what differs for feature data:
    ``check_config`` (n = the number of modalities), ``token_encoder(i)`` and the view check.
    """

    @classmethod
    def from_config(cls, cfg, modalities: Sequence[ModalitySpec]) -> "FeatureCoralModel":
        """The model of a ``FeatureRunConfig`` for ``modalities`` (``FeatureDataset.modalities``)."""
        return cls(cfg.model, modalities, loss=cfg.loss)

    def __init__(self, cfg: FeatureModelConfig, modalities: Sequence[ModalitySpec],
                 loss: LossConfig | None = None) -> None:
        self.modalities = tuple(modalities)  # read by check_config and token_encoder during __init__
        super().__init__(cfg, loss=loss)

    def check_config(self, cfg: FeatureModelConfig) -> int:
        if not isinstance(cfg, FeatureModelConfig):
            raise TypeError(f"FeatureCoralModel expects a FeatureModelConfig, got {type(cfg).__name__}")
        if len(self.modalities) < 2:
            raise ValueError(f"COrAL needs n >= 2 modalities (masking splits them in two), got {len(self.modalities)}")
        dim = cfg.embed_dim
        if dim % 2 or dim % cfg.n_heads:
            raise ValueError(f"embed_dim ({dim}) must be even and divisible by n_heads ({cfg.n_heads})")
        return len(self.modalities)

    def token_encoder(self, i: int) -> nn.Module:
        """Modality i's feature encoder + ``TokenConverter``: ``(B, *shape_i)`` -> ``(B, T_i, D)``."""
        return FeatureTokenEncoder(self.modalities[i], self.cfg.encoder, self.cfg.embed_dim)

    def _check_view(self, view: object, name: str) -> list[Tensor]:
        return check_view(view, name, [m.shape for m in self.modalities], self.shared_head.net[0].weight.device,
                          [m.name for m in self.modalities])
