"""The pretraining methods compared in the paper's Table 1, selectable by name (``RunConfig.method``).

- ``coral``: COrAL itself (``coral_lab.models.CoralModel``, whose ``training_loss`` applies
  ``coral_lab.losses.coral_loss``).
- ``clip``: cross-modal InfoNCE between two unimodal embeddings (``clip.CLIPModel``).
- ``comm``: CoMM, InfoNCE between augmented fused views and one-modality views (``comm.CoMMModel``).
- ``infmasking``: CoMM plus masked copies aligned with the unmasked view (``infmasking.InfMaskingModel``).
- ``factorcl``: FactorCL, shared / unique heads with NCE lower and CLUB upper bounds (``factorcl.FactorCLModel``).

Every method is built from the same encoders (``model.encoder``), token converters, fusion
transformer and projection heads as COrAL, and every one, COrAL included, follows the one method
contract of ``coral_lab.training`` (``training_loss(view1, view2, ctx) -> (total, parts)``), so the
training loop does not know which it trains.

``METHODS[name]`` is a ``Method``: the method's class for Trifeature images (``images``, built from a
``RunConfig``) and for feature data (``features``, built from a ``FeatureRunConfig`` and the data set's
modalities; ``coral_lab.methods.features``). A new method is one class in this package and one entry
here. ``build_model(cfg, modalities)`` builds the method a config names, for either kind of data;
``subspaces(cfg)`` names its probe representations; ``with_method(cfg, name)`` selects a method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from coral_lab.config import METHOD_NAMES, RunConfig, check_method_name
from coral_lab.methods.base import BaselineModel, Representation
from coral_lab.methods.clip import CLIPModel
from coral_lab.methods.comm import CoMMModel
from coral_lab.methods.factorcl import FactorCLModel
from coral_lab.methods.features import FeatureCoralModel, feature_variant
from coral_lab.methods.infmasking import InfMaskingModel
from coral_lab.models import CoralModel
from coral_lab.multibench.config import FeatureRunConfig
from coral_lab.multibench.datasets import ModalitySpec
from coral_lab.paper import PUBLISHED_OPTIMISER

__all__ = [
    "METHODS",
    "Method",
    "BaselineModel",
    "Representation",
    "build_model",
    "method_name",
    "subspaces",
    "with_method",
]


@dataclass(frozen=True)
class Method:
    """One pretraining method: its model class for each kind of input.

    ``images``: Trifeature image pairs, ``images.from_config(RunConfig)``; ``features``: feature data,
    ``features.from_config(FeatureRunConfig, modalities)``. Both follow the contract of
    ``coral_lab.training`` (``training_loss`` -> (total, parts), ``mask_ratio_at``, ``loss_parts``,
    ``subspaces``, ``embed``) and share every module but the encoders E_i.
    """

    name: str
    images: type[nn.Module]
    features: type[nn.Module]

    def model_class(self, cfg: RunConfig | FeatureRunConfig) -> type[nn.Module]:
        """The class for the kind of data ``cfg`` configures."""
        if isinstance(cfg, RunConfig):
            return self.images
        if isinstance(cfg, FeatureRunConfig):
            return self.features
        raise TypeError(f"expected a coral_lab RunConfig or FeatureRunConfig, got {type(cfg).__name__}")


def _method(name: str, images: type[nn.Module]) -> Method:
    features = FeatureCoralModel if images is CoralModel else feature_variant(images)
    return Method(name, images, features)


# name -> the method; every class follows the contract of coral_lab.training
METHODS: dict[str, Method] = {
    name: _method(name, cls)
    for name, cls in (("coral", CoralModel), ("clip", CLIPModel), ("comm", CoMMModel),
                      ("infmasking", InfMaskingModel), ("factorcl", FactorCLModel))
}
assert tuple(METHODS) == METHOD_NAMES


def with_method(cfg: RunConfig, name: str) -> RunConfig:
    """``cfg`` with ``method = name``; at the paper preset also the method's published lr / weight decay.

    The CPU presets (ci, quick) keep one lr and weight decay for every method, so that a comparison
    there differs only in the objective.
    """
    name = check_method_name(name)
    new = cfg.replace(method=name)
    if cfg.preset == "paper":
        lr, wd = PUBLISHED_OPTIMISER[name]
        new = new.replace(train={"lr": lr, "weight_decay": wd})
    return new


def method_name(cfg: RunConfig | FeatureRunConfig) -> str:
    """The method a config trains: ``RunConfig.method`` or ``FeatureRunConfig.train.method``."""
    if isinstance(cfg, RunConfig):
        return check_method_name(cfg.method)
    if isinstance(cfg, FeatureRunConfig):
        return check_method_name(cfg.train.method)
    raise TypeError(f"expected a coral_lab RunConfig or FeatureRunConfig, got {type(cfg).__name__}")


def build_model(cfg: RunConfig | FeatureRunConfig, modalities: Sequence[ModalitySpec] | None = None) -> nn.Module:
    """A freshly initialised model of the method ``cfg`` names.

    Trifeature (``RunConfig``): ``METHODS[cfg.method].images.from_config(cfg)``. Feature data
    (``FeatureRunConfig``): ``METHODS[cfg.train.method].features.from_config(cfg, modalities)``, with
    ``modalities`` the data set's ``ModalitySpec`` s (``FeatureDataset.modalities``).
    """
    cls = METHODS[method_name(cfg)].model_class(cfg)
    if isinstance(cfg, RunConfig):
        if modalities is not None:
            raise ValueError("build_model: modalities are for feature data; a RunConfig's images need none")
        return cls.from_config(cfg)
    if modalities is None:
        raise ValueError("build_model: a FeatureRunConfig needs the data set's modalities "
                         "(FeatureDataset.modalities)")
    return cls.from_config(cfg, modalities)


def subspaces(cfg_or_model: RunConfig | nn.Module) -> tuple[str, ...]:
    """The names of the method's probe representations (``embed(x).parts()``), e.g. COrAL's
    ``("shared", "unique1", "unique2")``, CLIP's ``("modality1", "modality2")``, CoMM's ``("fused",)``."""
    if isinstance(cfg_or_model, RunConfig):
        cls = METHODS[check_method_name(cfg_or_model.method)].images
        n = cfg_or_model.model.n_modalities
        if cls is CoralModel:
            return ("shared", *(f"unique{i + 1}" for i in range(n)))
        if cls.subspaces:
            return tuple(cls.subspaces)
        return tuple(f"modality{i + 1}" for i in range(n))
    names = getattr(cfg_or_model, "subspaces", None)
    if names is None or not isinstance(cfg_or_model, nn.Module):
        raise TypeError(f"subspaces expects a RunConfig or a coral_lab model, got {type(cfg_or_model).__name__}")
    return tuple(names)
