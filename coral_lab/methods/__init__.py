"""The pretraining methods compared in the paper's Table 1, selectable by name (``RunConfig.method``).

- ``coral``: COrAL itself (``coral_lab.models.CoralModel``, whose ``training_loss`` applies
  ``coral_lab.objectives.losses.coral_loss``).
- ``clip``: cross-modal InfoNCE between two unimodal embeddings (``clip.CLIPModel``).
- ``comm``: CoMM, InfoNCE between augmented fused views and one-modality views (``comm.CoMMModel``).
- ``infmasking``: CoMM plus masked copies aligned with the unmasked view (``infmasking.InfMaskingModel``).
- ``factorcl``: FactorCL, shared / unique heads with NCE lower and CLUB upper bounds (``factorcl.FactorCLModel``).

Every method is built from the same encoders (``model.encoder``), token converters, fusion
transformer and projection heads as COrAL, and every one, COrAL included, follows the one method
contract of ``coral_lab.objectives.contract`` (``training_loss(view1, view2, ctx) -> (total, parts)``), so the
training loop does not know which it trains.

``METHODS`` is the one registry: name -> ``Method`` (``coral_lab.methods.spec``), which each method's module
declares beside its class: the class (for both kinds of data: built from a Trifeature ``RunConfig`` it
takes images, from a feature data set's ``RunConfig`` and modalities it takes feature data), the name
tables print, its published optimiser and its own settings (a ``Settings`` dataclass with their defaults
and checks; a run config holds the run's method's as ``RunConfig.settings``). Everything else is derived
from it: ``--method``'s choices, ``display_name``, ``with_method``, ``subspaces``, ``check_config``,
``settings_of``. A new method is one module that ends with its ``METHOD``, added to ``METHODS``
(``register_method``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from torch import nn

from coral_lab.config import RunConfig
from coral_lab.methods import clip, comm, coral, factorcl, infmasking
from coral_lab.methods.base import BaselineModel, Representation
from coral_lab.methods.spec import Method
from coral_lab.data.modalities import ModalitySpec

__all__ = [
    "METHODS",
    "BaselineModel",
    "Method",
    "Representation",
    "build_model",
    "check_config",
    "display_name",
    "get_method",
    "method_name",
    "register_method",
    "settings_of",
    "subspaces",
    "with_method",
]

# name -> Method, in the paper's Table 1 order
METHODS: dict[str, Method] = {m.name: m for m in (coral.METHOD, clip.METHOD, comm.METHOD, infmasking.METHOD,
                                                   factorcl.METHOD)}


def register_method(method: Method) -> Method:
    """Add a method to ``METHODS`` (a user's own, a test's toy); a name already taken is refused."""
    if not isinstance(method, Method):
        raise TypeError(f"register_method expects a coral_lab.methods.Method, got {type(method).__name__}")
    if method.name in METHODS:
        raise ValueError(f"a method named {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def get_method(name: object) -> Method:
    """The registry's entry of ``name``; one line listing the valid names otherwise."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods: {sorted(METHODS)}")
    return METHODS[name]


def display_name(name: str) -> str:
    """The name tables print for the method ``name`` (the paper's, e.g. ``COrAL``, ``InfMasking``)."""
    return get_method(name).display_name


def check_config(cfg: RunConfig) -> RunConfig:
    """``cfg`` with every one of its method's settings filled (``RunConfig.settings``: the given values over
    the method's defaults), after checking that it names a registered method and that its settings are the
    method's own, of the right types and in range (``Method.read_settings``); ValueError otherwise.

    The command line's config builder, ``with_method``, ``pretrain`` and ``build_model`` call it, so a bad
    value stops before anything runs or is written, and a run's config records every setting its method
    read (a default changed later never changes what an old run means)."""
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"expected a coral_lab RunConfig, got {type(cfg).__name__}")
    settings = get_method(cfg.method).read_settings(cfg)
    filled = dataclasses.asdict(settings) if settings is not None else {}
    return cfg if cfg.settings == filled else cfg.replace(settings=filled)


def settings_of(cfg: RunConfig) -> Any:
    """The method's own ``Settings`` of a config (e.g. ``infmasking.Settings(views=6, ...)``), checked;
    None for a method without settings of its own (COrAL, CoMM)."""
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"expected a coral_lab RunConfig, got {type(cfg).__name__}")
    return get_method(cfg.method).read_settings(cfg)


def with_method(cfg: RunConfig, name: str) -> RunConfig:
    """``cfg`` with ``method = name`` and that method's settings at their defaults (a config that already
    names the method keeps its settings); at Trifeature's paper preset also the method's published lr /
    weight decay (``Method.published_optimiser``: Trifeature's values; feature data keeps the preset's).

    The CPU presets (ci, quick) keep one lr and weight decay for every method, so that a comparison
    there differs only in the objective.
    """
    method = get_method(name)
    new = cfg.replace(method=method.name)
    if cfg.method != method.name:
        new.settings = {}  # another method's settings are not this one's
    if cfg.preset == "paper" and cfg.is_trifeature and method.published_optimiser is not None:
        lr, wd = method.published_optimiser
        new = new.replace(train={"lr": lr, "weight_decay": wd})
    return check_config(new)


def method_name(cfg: RunConfig) -> str:
    """The method a config trains (``RunConfig.method``), checked."""
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"expected a coral_lab RunConfig, got {type(cfg).__name__}")
    return get_method(cfg.method).name


def build_model(cfg: RunConfig, modalities: Sequence[ModalitySpec] | None = None) -> nn.Module:
    """A freshly initialised model of the method ``cfg`` names (its settings checked first).

    Trifeature: ``Method.model.from_config(cfg)``. A feature data set: ``Method.model.from_config(cfg,
    modalities)``, with ``modalities`` the data set's ``ModalitySpec`` s (``FeatureDataset.modalities``).
    """
    cls = get_method(check_config(cfg).method).model
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
        return tuple(get_method(cfg_or_model.method).model.subspace_names(cfg_or_model.model.n_modalities))
    names = getattr(cfg_or_model, "subspaces", None)
    if names is None or not isinstance(cfg_or_model, nn.Module):
        raise TypeError(f"subspaces expects a RunConfig or a coral_lab model, got {type(cfg_or_model).__name__}")
    return tuple(names)
