"""Every method on feature data: the same classes with feature encoders in place of the image encoders.

A method's feature-data class differs from its image class in three things only (the methods' code is
written so that nothing else depends on the input kind):

- ``check_config``: a ``FeatureRunConfig`` (COrAL: its ``FeatureModelConfig``); n = the data set's number
  of modalities, given as one ``ModalitySpec`` per modality (``FeatureDataset.modalities``);
- ``token_encoder(i)``: E_i is the modality's feature encoder (``coral_lab.multibench.encoders``:
  Transformer for sequences, GRU for time series, MLP + feature tokenizer for tabular rows) then the latent
  converter, ``(B, *shape_i)`` -> ``(B, T_i, D)``;
- ``check_view``: n float tensors ``(B, *shape_i)``, one per modality.

``FeatureCoralModel`` is ``CoralModel`` with these encoders in its shared encoders E_i^SR and in its unique
pathways F_i^U (own encoder -> per-token MLP -> attention pooling -> ``(B, D/2)``); asymmetric masking, the
fusion transformer T, the projection heads, ``embed`` and ``training_loss`` are ``CoralModel``'s code. The
baselines' feature classes come from ``feature_variant`` (``FeatureInputs`` placed before the class), so a
new method is written once, in ``coral_lab/methods/``, and ``coral_lab.methods.METHODS`` holds both of
its classes. Probe features: CLIP ``modality<i>`` (B, D); CoMM / InfMasking ``fused`` (B, D); FactorCL
``shared`` (B, 4D) and ``unique<i>`` (B, 3D); COrAL ``shared`` (B, D) and ``unique<i>`` (B, D/2).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from coral_lab.config import LossConfig
from coral_lab.models.checks import check_finite, check_view
from coral_lab.models.coral import CoralModel
from coral_lab.multibench.config import FeatureModelConfig, FeatureRunConfig
from coral_lab.multibench.datasets import ModalitySpec
from coral_lab.multibench.encoders import FeatureTokenEncoder

__all__ = ["FeatureInputs", "feature_variant", "FeatureCoralModel"]


class FeatureInputs:
    """Mixin placed before a baseline class of ``coral_lab.methods``: feature encoders and input checks.

    Args:
        cfg: ``FeatureRunConfig`` (``model``: D and the encoders; ``loss.temperature``; ``baseline``).
        modalities: one ``ModalitySpec`` per modality (``FeatureDataset.modalities``).
    """

    def __init__(self, cfg: FeatureRunConfig, modalities: Sequence[ModalitySpec]) -> None:
        self.modalities = tuple(modalities)  # read by check_config during the base class's __init__
        super().__init__(cfg)  # type: ignore[call-arg]

    def check_config(self, cfg: FeatureRunConfig) -> int:
        if not isinstance(cfg, FeatureRunConfig):
            raise TypeError(f"{type(self).__name__} expects a FeatureRunConfig, got {type(cfg).__name__}")
        if len(self.modalities) < 2 or not all(isinstance(m, ModalitySpec) for m in self.modalities):
            raise ValueError(f"{type(self).__name__} needs n >= 2 ModalitySpec s, got {self.modalities!r}")
        return len(self.modalities)

    def token_encoder(self, i: int) -> nn.Module:
        return FeatureTokenEncoder(self.modalities[i], self.cfg.model.encoder, self.cfg.model.embed_dim)

    def check_view(self, view: object, name: str) -> list[Tensor]:
        """n floating-point tensors ``(B, *spec_i.shape)`` of one batch size, on the model's device, finite
        (the finite check is skipped when ``check_inputs`` is False, as during pretraining)."""
        v = check_view(view, name, [m.shape for m in self.modalities], self._device(),  # type: ignore[attr-defined]
                       [m.name for m in self.modalities])
        if self.check_inputs:  # type: ignore[attr-defined]
            check_finite(v, name)
        return v


def feature_variant(cls: type[nn.Module]) -> type[FeatureInputs]:
    """The feature-data class of a baseline class: ``FeatureInputs`` placed before it.

    ``CLIPModel`` -> ``FeatureCLIP``, and so on; nothing else of the class changes (same losses, heads,
    ``training_loss`` contract).
    """
    name = "Feature" + cls.__name__.removesuffix("Model")
    doc = f"{cls.__name__} (``{cls.__module__}``) on feature data: feature encoders and input checks."
    return type(name, (FeatureInputs, cls), {"__doc__": doc, "__module__": __name__})


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
