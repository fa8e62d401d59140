"""The paper's baselines (CLIP, CoMM, InfMasking, FactorCL) on feature data, for ``train.method``.

The methods are ``coral_lab.methods``' own classes and loss functions, unchanged; only what depends on
the input kind is swapped (``FeatureInputs``):

- ``token_encoder(i)``: E_i is the modality's feature encoder (``build_modality_encoder``: Transformer
  for sequences, GRU for time series, MLP + feature tokenizer for tabular rows) then the latent
  converter ``TokenConverter``, ``(B, *shape_i)`` -> ``(B, T_i, D)``: the same encoders as COrAL's
  shared pathway (``FeatureCoralModel``), so every method sees identical encoders;
- ``check_config``: a ``FeatureRunConfig``; n = the data set's number of modalities;
- ``check_view``: n float tensors ``(B, *shape_i)``, one per modality.

The fusion transformer, projection heads, critics, masking and losses are those of
``coral_lab.methods`` (see their docstrings for the equations). CLIP is trained on the un-augmented
batch, as on Trifeature (``uses_augmentation = False``; the pretraining loop then skips augmentation).
Probe features: CLIP ``modality<i>`` (B, D); CoMM / InfMasking ``fused`` (B, D); FactorCL ``shared``
(B, 4D) and ``unique<i>`` (B, 3D).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from coral_lab.methods import METHODS
from coral_lab.models.checks import check_finite, check_view
from coral_lab.multibench.config import FeatureRunConfig
from coral_lab.multibench.datasets import ModalitySpec
from coral_lab.multibench.encoders import FeatureTokenEncoder

__all__ = ["FeatureInputs", "feature_variant", "FeatureCLIP", "FeatureCoMM", "FeatureInfMasking",
           "FeatureFactorCL", "FEATURE_BASELINES"]


class FeatureInputs:
    """Mixin placed before a ``coral_lab.methods`` baseline class: feature encoders and input checks.

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
    """The feature-data variant of a ``coral_lab.methods`` baseline class: ``FeatureInputs`` placed before it.

    ``CLIPModel`` -> ``FeatureCLIP``, and so on; nothing else of the class changes (same losses, heads,
    ``training_loss`` contract). Every baseline of ``coral_lab.methods.METHODS`` gets one here, so a new
    method is added once, in ``coral_lab/methods/``.
    """
    name = "Feature" + cls.__name__.removesuffix("Model")
    doc = f"{cls.__name__} (``{cls.__module__}``) on feature data: feature encoders and input checks."
    return type(name, (FeatureInputs, cls), {"__doc__": doc, "__module__": __name__})


# method name -> its feature-data class, for every baseline of coral_lab.methods.METHODS (COrAL's feature
# variant, FeatureCoralModel, builds its two pathways from feature encoders and is in multibench.model)
FEATURE_BASELINES: dict[str, type[FeatureInputs]] = {
    name: feature_variant(cls) for name, cls in METHODS.items() if name != "coral"
}
FeatureCLIP = FEATURE_BASELINES["clip"]
FeatureCoMM = FEATURE_BASELINES["comm"]
FeatureInfMasking = FEATURE_BASELINES["infmasking"]
FeatureFactorCL = FEATURE_BASELINES["factorcl"]
