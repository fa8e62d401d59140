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

``METHODS[name]`` is the method's class, for both kinds of data: built from a ``RunConfig`` it takes
Trifeature images, built from a feature data set's ``RunConfig`` and the data set's modalities it
takes feature data; each modality's encoder E_i comes from ``coral_lab.models.token_encoders`` by its kind, and
nothing else in a method depends on the input. A new method is one class in this package and one
entry here. ``build_model(cfg, modalities)`` builds the method a config names, for either kind of data;
``subspaces(cfg)`` names its probe representations; ``with_method(cfg, name)`` selects a method.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from coral_lab.config import METHOD_NAMES, RunConfig, check_method_name
from coral_lab.methods.base import BaselineModel, Representation
from coral_lab.methods.clip import CLIPModel
from coral_lab.methods.comm import CoMMModel
from coral_lab.methods.factorcl import FactorCLModel
from coral_lab.methods.infmasking import InfMaskingModel
from coral_lab.modalities import ModalitySpec
from coral_lab.models import CoralModel
from coral_lab.paper import PUBLISHED_OPTIMISER

__all__ = [
    "METHODS",
    "BaselineModel",
    "Representation",
    "build_model",
    "method_name",
    "subspaces",
    "with_method",
]


# name -> the method's model class; every one follows the contract of coral_lab.training
# (training_loss -> (total, parts), mask_ratio_at, loss_parts, subspaces, from_config) on both kinds of data
METHODS: dict[str, type[nn.Module]] = {
    "coral": CoralModel,
    "clip": CLIPModel,
    "comm": CoMMModel,
    "infmasking": InfMaskingModel,
    "factorcl": FactorCLModel,
}
assert tuple(METHODS) == METHOD_NAMES


def with_method(cfg: RunConfig, name: str) -> RunConfig:
    """``cfg`` with ``method = name``; at Trifeature's paper preset also the method's published lr / weight
    decay (``paper.PUBLISHED_OPTIMISER``: Trifeature's values; feature data keeps the preset's).

    The CPU presets (ci, quick) keep one lr and weight decay for every method, so that a comparison
    there differs only in the objective.
    """
    name = check_method_name(name)
    new = cfg.replace(method=name)
    if cfg.preset == "paper" and cfg.is_trifeature:
        lr, wd = PUBLISHED_OPTIMISER[name]
        new = new.replace(train={"lr": lr, "weight_decay": wd})
    return new


def method_name(cfg: RunConfig) -> str:
    """The method a config trains (``RunConfig.method``), checked."""
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"expected a coral_lab RunConfig, got {type(cfg).__name__}")
    return check_method_name(cfg.method)


def build_model(cfg: RunConfig, modalities: Sequence[ModalitySpec] | None = None) -> nn.Module:
    """A freshly initialised model of the method ``cfg`` names.

    Trifeature: ``METHODS[cfg.method].from_config(cfg)``. A feature data set:
    ``METHODS[cfg.method].from_config(cfg, modalities)``, with ``modalities`` the data set's
    ``ModalitySpec`` s (``FeatureDataset.modalities``).
    """
    cls = METHODS[method_name(cfg)]
    if cfg.is_trifeature:
        if modalities is not None:
            raise ValueError("build_model: modalities are for feature data; a Trifeature config's images need none")
        return cls.from_config(cfg)
    if modalities is None:
        raise ValueError(f"build_model: a {cfg.dataset} config needs the data set's modalities "
                         "(FeatureDataset.modalities)")
    return cls.from_config(cfg, modalities)


def subspaces(cfg_or_model: RunConfig | nn.Module) -> tuple[str, ...]:
    """The names of the method's probe representations (``embed(x).parts()``), e.g. COrAL's
    ``("shared", "unique1", "unique2")``, CLIP's ``("modality1", "modality2")``, CoMM's ``("fused",)``."""
    if isinstance(cfg_or_model, RunConfig):
        cls = METHODS[check_method_name(cfg_or_model.method)]
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
