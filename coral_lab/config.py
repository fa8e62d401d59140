"""Typed configuration for every component, with the paper's values as defaults.

One ``@dataclass`` per component (data, augmentation, model, loss, training, probe) and a
``RunConfig`` that holds them all. Named presets are a plain dict lookup:

- ``ci``: seconds on a 2-core CPU; exercises every code path, results are not meaningful.
- ``quick``: minutes on a 2-core CPU; small images and a narrow CNN, shows R / U / S and the masking contrast.
- ``long``: the quick preset with 4 x 4 tokens for 30 epochs, under an hour per pretraining on a 2-core CPU.
- ``paper``: the published scale (224 px, AlexNet encoders, 100 epochs, 10,000 pairs); for a GPU.

A ``RunConfig`` round-trips to JSON (``to_json`` / ``from_json``) and is saved next to every
checkpoint and result file.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from coral_lab.device import COMPILE_MODES
from coral_lab.io import atomic_write_text
from coral_lab.masking import mask_ratio_at

__all__ = [
    "check_types",
    "DataConfig",
    "AugmentConfig",
    "ModelConfig",
    "LossConfig",
    "TrainConfig",
    "ProbeConfig",
    "BaselineConfig",
    "ConfigTree",
    "RunConfig",
    "METHOD_NAMES",
    "PRESETS",
    "TEACHING_DATA",
    "get_preset",
    "preset_from_env",
    "parse_value",
    "parse_mask_schedule",
    "overrides_from_args",
    "CLI_FLAGS",
    "ACTIVATIONS",
    "INITS",
    "ATTENTION_POOLS",
]


@dataclass
class DataConfig:
    """The bimodal Trifeature benchmark (``../shared/design/trifeature.md``).

    ``seed`` fixes the rendered images, the 80/20 combination split, the synergy mapping pi and the
    pair sets; the training seed (``TrainConfig.seed``) fixes initialisation, augmentation, masking
    and batch order.
    """

    image_size: int = 224  # canvas side in pixels; shapes scale with it (128 / 224 of the canvas)
    renders_train: int = 3  # renders per training combination (800 x 3 = 2,400 images)
    renders_test: int = 1  # renders per test combination (200 x 1 = 200 images)
    train_fraction: float = 0.8  # fraction of the 1,000 combinations used for training
    n_train_pairs: int = 10_000  # self-supervised pretraining pairs
    n_probe_train_pairs: int = 10_000  # unbiased pairs from training images for the probe
    n_probe_test_pairs: int = 4_096  # unbiased pairs from test images (the paper's 4,096)
    seed: int = 0
    cache_dir: str = "data"  # rendered images are cached here (relative to the working directory)
    # A teaching variant, never the benchmark: keep only the first n textures and, for each, its partner
    # color pi(t), so pi stays a bijection, 1 unbiased pair in n follows it, and texture chance is 1 / n.
    # 10 is the benchmark. Fewer combinations need more renders per combination (teaching preset "teach4").
    n_textures: int = 10


@dataclass
class AugmentConfig:
    """The per-view SimCLR-style pipeline of the paper, applied per sample on the training device.

    ``blur_sigma`` is given in pixels of a 224 px image and scaled with the image size, so a 32 px
    image is blurred as much, relative to its size, as a 224 px one.
    """

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.1
    jitter_p: float = 0.8
    grayscale_p: float = 0.2
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    blur_p: float = 0.5
    flip_p: float = 0.5
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)


@dataclass
class ModelConfig:
    """The dual-path COrAL network (paper section 4.1; released-code details in reference-results.md).

    ``embed_dim`` is D, the token and fusion width; each unique pathway outputs D / 2.
    """

    n_modalities: int = 2
    encoder: str = "alexnet"  # one of coral_lab.models.ENCODERS
    encoder_width: int = 64  # base channel count of the "small_cnn" encoder (ignored by alexnet)
    encoder_stem_stride: int = 1  # stride of the "small_cnn" first conv: 1, or 2 for larger images (ignored by alexnet)
    in_channels: int = 3
    image_size: int = 224  # needed to know the number of tokens per modality
    embed_dim: int = 512  # D
    n_heads: int = 8
    n_fusion_layers: int = 1  # the released code has exactly one block
    mlp_ratio: float = 4.0
    proj_hidden: int = 512
    proj_dim: int = 256
    # how the weights start: "published" (the released code: each unique encoder and its latent converter
    # start as copies of the shared ones, the unique heads as copies of the first, CLS ~ N(0, 1), CLIP's
    # transformer init) or "independent" (every part drawn on its own, PyTorch's default layer init)
    init: str = "published"
    fusion_activation: str = "quick_gelu"  # the fusion MLP's: "quick_gelu" (published) or "gelu"
    attention_pool: str = "unscaled"  # unique pathways: "unscaled" (published x . q, q ~ N(0, 1)) or "scaled"


@dataclass
class LossConfig:
    """Weights of eq. 3 and the InfoNCE / orthogonality settings."""

    lambda_s: float = 1.0
    lambda_u: float = 1.0
    lambda_o: float = 1.0
    temperature: float = 0.1
    ortho_kind: str = "hinge"  # "hinge" (paper eq. 7) or "squared" (released code)


@dataclass
class TrainConfig:
    """Pretraining (paper section 5.3): AdamW, lr 1e-4, wd 1e-3, batch 64, 100 epochs."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 1e-3
    # "paper" (0.05 / 0.35 / 0.55 / 0.75 per quarter), a float (static ratio), or None (no masking)
    mask_schedule: str | float | None = "paper"
    train_set: str = "unbiased"  # "unbiased" (R + U model) or "biased" (synergy model)
    # "constant" (paper and released code: no schedule) or "cosine" (linear warm-up over the first 5 % of
    # the steps, then cosine decay to 0; coral_lab.train.lr_at)
    lr_schedule: str = "constant"
    seed: int = 42
    amp: bool = True  # bf16 autocast on CUDA; ignored on the CPU
    num_threads: int | None = None  # torch CPU threads; None leaves torch's default
    # torch.compile mode for the model's parts (coral_lab.device.compile_parts): None (eager), "default",
    # "reduce-overhead" (CUDA graphs) or "max-autotune-no-cudagraphs"; how to run, not what to compute
    compile: str | None = None
    # conv inputs and weights in channels_last memory format: None = on CUDA only (on this project's AVX2 CPU
    # it was 1 % faster for the 4 x 4-token quick model and 5 % slower for the 2 x 2-token one,
    # benchmarks/ab_channels_last.py); how to run, not what to compute
    channels_last: bool | None = None


@dataclass
class ProbeConfig:
    """Linear probe (scikit-learn LogisticRegression on standardised frozen features).

    C is chosen on a validation split carved out of the probe-train pairs; the test pairs are only
    ever used for the final score (unlike the published script, see reference-results.md).
    """

    C_grid: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
    val_fraction: float = 0.2
    max_iter: int = 1000
    # None: the published probe (plain cross-entropy); "balanced": reweight classes to equal total weight
    class_weight: str | None = None


# the pretraining methods ``RunConfig.method`` may name (built by coral_lab.methods.METHODS)
METHOD_NAMES: tuple[str, ...] = ("coral", "clip", "comm", "infmasking", "factorcl")


def check_method_name(name: object) -> str:
    """``name`` if it is a method's name (``METHOD_NAMES``); otherwise one line listing the valid names."""
    if name not in METHOD_NAMES:
        raise ValueError(f"unknown method {name!r}; valid methods: {sorted(METHOD_NAMES)}")
    return name  # type: ignore[return-value]


@dataclass
class BaselineConfig:
    """Settings of the baseline methods (``../shared/design/baselines.md``); COrAL ignores them.

    The encoders, token width, heads, temperature and optimiser are the shared sections' (``model``,
    ``loss``, ``train``), so every method trains on identical encoders and budgets.
    """

    clip_logit_scale_init: float = math.log(1 / 0.07)  # CLIP: learnable log logit scale, initial value
    clip_logit_scale_max: float = math.log(100.0)  # CLIP: the log logit scale is clamped at this
    infmasking_views: int = 6  # InfMasking: T masked copies per augmented view
    infmasking_ratio: float = 0.7  # InfMasking: fraction of each modality's tokens masked in a copy
    infmasking_lambda: float = 1.0  # InfMasking: final weight of the covariance term (ramped from 0)
    # InfMasking's total: "mean" (published: the mean of its five terms L_mask', L_mask'', L_1, L_2, L_full)
    # or "comm_plus_half" (L_CoMM + 1/2 (L_mask' + L_mask''), coral_lab's first version)
    infmasking_total: str = "mean"
    # FactorCL: hidden width of the concat critics T(a, b); None = model.proj_hidden (512 at the paper's
    # scale, the published width; smaller in the CPU presets, where B^2 critic calls per batch dominate)
    factorcl_critic_hidden: int | None = None


# Fields added after results were committed, with the value every run written before them used. A saved
# config (config.json, a checkpoint) whose section lacks one of them is read with that value, so an old
# run is never mistaken for one trained with today's default.
LEGACY_VALUES: dict[tuple[str, str], Any] = {
    ("model", "init"): "independent",
    ("model", "fusion_activation"): "gelu",
    ("model", "attention_pool"): "scaled",
    ("baseline", "infmasking_total"): "comm_plus_half",
}


def with_legacy_values(d: dict[str, Any]) -> dict[str, Any]:
    """A copy of a saved config dict where each section that lacks a ``LEGACY_VALUES`` field gets its value."""
    out = copy.deepcopy(d)
    for (section, name), value in LEGACY_VALUES.items():
        if isinstance(out.get(section), dict) and name not in out[section]:
            out[section][name] = value
    return out


# (section, field) pairs that change how a run is executed but not what it computes
RUNTIME_FIELDS: tuple[tuple[str, str], ...] = (
    ("train", "num_threads"), ("train", "compile"), ("train", "channels_last"),
    ("data", "cache_dir"),  # where the (checksummed) rendered images are kept, not what they are
)


# Fields added after runs were committed whose default leaves the experiment exactly as it was before the
# field existed: at that default they are left out of the experiment dict, so the identity (and the
# config_hash) of every earlier run stays the same; any other value is part of it.
NEUTRAL_DEFAULTS: dict[tuple[str, str], Any] = {
    ("data", "n_textures"): 10,
}


def experiment_dict(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config dict without ``RUNTIME_FIELDS`` and without ``NEUTRAL_DEFAULTS`` fields at their
    default (see ``RunConfig.experiment_dict``)."""
    out = copy.deepcopy(config)
    for section, name in RUNTIME_FIELDS:
        if isinstance(out.get(section), dict):
            out[section].pop(name, None)
    for (section, name), default in NEUTRAL_DEFAULTS.items():
        if isinstance(out.get(section), dict) and name in out[section] and out[section][name] == default:
            del out[section][name]
    return out


class ConfigTree:
    """What every run config shares: typed sections (nested dataclasses) under a few top-level fields.

    ``RunConfig`` (Trifeature) and ``coral_lab.multibench.config.FeatureRunConfig`` (feature data) are
    both a ``ConfigTree``: the same JSON round trip, the same ``replace`` with one clear line for an
    unknown section or field, the same reading of older files (``LEGACY_VALUES``). A subclass may check a
    top-level value (``_check_top_level``) and keep derived fields in step after a change (``_after_replace``).
    """

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def experiment_dict(self) -> dict[str, Any]:
        """``to_dict`` without the fields that only say how to run (``RUNTIME_FIELDS``, e.g. CPU threads).

        Two configs with the same experiment dict describe the same experiment: a checkpoint written
        with 2 threads resumes with 1, and a finished run is reused.
        """
        return experiment_dict(self.to_dict())

    @classmethod
    def section_names(cls) -> list[str]:
        """The fields of this config that are sections (dataclasses), in declaration order."""
        default = cls()
        return [f.name for f in dataclasses.fields(cls) if dataclasses.is_dataclass(getattr(default, f.name))]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """From a dict as ``to_dict`` writes it; a section missing a field added later takes the value
        runs had before it (``LEGACY_VALUES``), any other missing field its default."""
        if not isinstance(d, dict):
            raise ValueError(f"a config must be a mapping of sections, got {type(d).__name__}")
        d = with_legacy_values(d)
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = set(d) - set(valid)
        if unknown:
            raise ValueError(f"unknown config section(s) {sorted(unknown)}; valid: {sorted(valid)}")
        obj = cls()
        for name, value in d.items():
            current = getattr(obj, name)
            if dataclasses.is_dataclass(current):
                value = _section_from_dict(type(current), value, name)
            setattr(obj, name, value)
        return obj

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the config as JSON, atomically (temporary file + rename)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> Any:
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"config file {path} not found") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"config file {path} is not valid JSON ({e}); delete it or re-run") from None
        return cls.from_dict(d)

    def replace(self, **sections: Any) -> Any:
        """A copy with some fields changed: ``cfg.replace(train={"epochs": 5}, loss={"lambda_o": 3})``.

        A section takes a dict of its fields (nested sections a nested dict:
        ``model={"encoder": {"layers": 2}}``); a top-level field a plain value (``cfg.replace(preset="ci")``).
        A list given for a tuple field becomes a tuple, as in JSON.
        """
        new = copy.deepcopy(self)
        for name, values in sections.items():
            if not hasattr(new, name):
                raise ValueError(f"unknown config section {name!r}; valid: {self.section_names()}")
            current = getattr(new, name)
            if dataclasses.is_dataclass(current) and isinstance(values, dict):
                _update(current, values, name)
            else:
                new._check_top_level(name, values)
                setattr(new, name, values)
        new._after_replace()
        return new

    def _check_top_level(self, name: str, value: Any) -> None:
        """Raise ValueError for a top-level value that cannot be (``replace``); by default any is taken."""

    def _after_replace(self) -> None:
        """Bring derived fields in step after ``replace``; by default nothing."""


def _update(obj: Any, values: dict[str, Any], where: str) -> None:
    for k, v in values.items():
        if not hasattr(obj, k):
            valid = [f.name for f in dataclasses.fields(obj)]
            raise ValueError(f"unknown field {where}.{k}; valid fields: {valid}")
        current = getattr(obj, k)
        if dataclasses.is_dataclass(current) and isinstance(v, dict):
            _update(current, v, f"{where}.{k}")
        else:
            setattr(obj, k, tuple(v) if isinstance(current, tuple) and isinstance(v, list) else v)


def _section_from_dict(cls: type, d: Any, where: str) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"config section {where!r} must be a mapping, got {type(d).__name__}")
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = set(d) - set(valid)
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)} in config section {where!r}; valid: {sorted(valid)}")
    obj = cls()
    for k, v in d.items():
        current = getattr(obj, k)
        if dataclasses.is_dataclass(current):
            v = _section_from_dict(type(current), v, f"{where}.{k}")
        elif isinstance(current, tuple) and isinstance(v, list):
            v = tuple(v)  # JSON has no tuples
        setattr(obj, k, v)
    return obj


@dataclass
class RunConfig(ConfigTree):
    """The Trifeature run: data, augmentation, model, loss, training, probe and the baselines' settings."""

    preset: str = "paper"
    method: str = "coral"  # one of METHOD_NAMES; "coral" is the paper's model
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)

    def pretrain_dict(self) -> dict[str, Any]:
        """``experiment_dict`` without the ``probe`` section: what decides the trained weights.

        A finished pretraining is reused, and re-probed, when only the probe's settings changed.
        """
        out = self.experiment_dict()
        out.pop("probe", None)
        return out

    def validate(self) -> "RunConfig":
        """Check every field's type (``check_types``) and value range; raise ValueError naming the field."""
        _check(isinstance(self.preset, str) and isinstance(self.method, str), "preset and method must be strings",
               (self.preset, self.method))
        check_types(self)
        _check(self.model.n_heads >= 1, "model.n_heads must be >= 1", self.model.n_heads)
        _check(self.train.seed >= 0, "train.seed must be >= 0 (a numpy and torch seed)", self.train.seed)
        _check(self.method in METHOD_NAMES, f"method must be one of {list(METHOD_NAMES)}", self.method)
        b = self.baseline
        _check(b.clip_logit_scale_max >= b.clip_logit_scale_init,
               "baseline.clip_logit_scale_max must be >= baseline.clip_logit_scale_init",
               (b.clip_logit_scale_init, b.clip_logit_scale_max))
        _check(isinstance(b.infmasking_views, int) and b.infmasking_views >= 2,
               "baseline.infmasking_views must be an int >= 2 (mean and covariance over the copies)",
               b.infmasking_views)
        _check(0 <= b.infmasking_ratio < 1, "baseline.infmasking_ratio must be in [0, 1)", b.infmasking_ratio)
        _check(b.infmasking_lambda >= 0, "baseline.infmasking_lambda must be >= 0", b.infmasking_lambda)
        _check(b.infmasking_total in INFMASKING_TOTALS, f"baseline.infmasking_total must be one of {list(INFMASKING_TOTALS)}",
               b.infmasking_total)
        _check(b.factorcl_critic_hidden is None
               or (isinstance(b.factorcl_critic_hidden, int) and b.factorcl_critic_hidden >= 1),
               "baseline.factorcl_critic_hidden must be None or a positive int", b.factorcl_critic_hidden)
        _check(self.data.image_size >= 16, "data.image_size must be >= 16", self.data.image_size)
        _check(0 < self.data.train_fraction < 1, "data.train_fraction must be in (0, 1)", self.data.train_fraction)
        _check(2 <= self.data.n_textures <= 10, "data.n_textures must be in 2..10 (10: the benchmark)",
               self.data.n_textures)
        for name in ("n_train_pairs", "n_probe_train_pairs", "n_probe_test_pairs", "renders_train", "renders_test"):
            _check(getattr(self.data, name) > 0, f"data.{name} must be > 0", getattr(self.data, name))
        _check(self.model.n_modalities >= 2, "model.n_modalities must be >= 2", self.model.n_modalities)
        _check(self.model.embed_dim % 2 == 0, "model.embed_dim must be even (unique width is D/2)", self.model.embed_dim)
        _check(self.model.embed_dim % self.model.n_heads == 0, "model.embed_dim must be divisible by model.n_heads",
               (self.model.embed_dim, self.model.n_heads))
        check_architecture_choices(self.model)
        for name in ("lambda_s", "lambda_u", "lambda_o"):
            _check(getattr(self.loss, name) >= 0, f"loss.{name} must be >= 0", getattr(self.loss, name))
        _check(self.loss.temperature > 0, "loss.temperature must be > 0", self.loss.temperature)
        _check(self.loss.ortho_kind in ("hinge", "squared"), "loss.ortho_kind must be 'hinge' or 'squared'",
               self.loss.ortho_kind)
        _check(self.train.epochs > 0, "train.epochs must be > 0", self.train.epochs)
        _check(self.train.batch_size >= 2, "train.batch_size must be >= 2 (InfoNCE needs negatives)",
               self.train.batch_size)
        _check(self.train.lr > 0, "train.lr must be > 0", self.train.lr)
        _check(self.train.weight_decay >= 0, "train.weight_decay must be >= 0", self.train.weight_decay)
        _check(self.train.lr_schedule in LR_SCHEDULES, f"train.lr_schedule must be one of {list(LR_SCHEDULES)}",
               self.train.lr_schedule)
        _check(self.train.train_set in ("unbiased", "biased"), "train.train_set must be 'unbiased' or 'biased'",
               self.train.train_set)
        _check(self.train.compile is None or self.train.compile in COMPILE_MODES,
               f"train.compile must be None (eager) or one of {list(COMPILE_MODES)}", self.train.compile)
        _check(self.train.channels_last is None or isinstance(self.train.channels_last, bool),
               "train.channels_last must be None (CUDA only), true or false", self.train.channels_last)
        _check(self.train.num_threads is None or (isinstance(self.train.num_threads, int) and self.train.num_threads >= 1),
               "train.num_threads must be None or a positive int", self.train.num_threads)
        _check(0 < self.probe.val_fraction < 1, "probe.val_fraction must be in (0, 1)", self.probe.val_fraction)
        check_probe(self.probe)
        # the schedule is checked by masking.mask_ratio_at, which knows the valid forms
        mask_ratio_at(0, self.train.epochs, self.train.mask_schedule)
        return self

    def _check_top_level(self, name: str, value: Any) -> None:
        if name == "method":
            check_method_name(value)

    def _after_replace(self) -> None:
        self.model.image_size = self.data.image_size  # the model's image size follows the data's


INFMASKING_TOTALS: tuple[str, ...] = ("mean", "comm_plus_half")
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
# the model section's named choices (the first of each is the published one); coral_lab.models uses them
ACTIVATIONS: tuple[str, ...] = ("quick_gelu", "gelu")  # the fusion MLP's nonlinearity (models.fusion)
# how the model's weights start (coral_lab.models.coral.tie_initial_weights for the pathways' copies)
INITS: tuple[str, ...] = ("published", "independent")
ATTENTION_POOLS: tuple[str, ...] = ("unscaled", "scaled")  # the unique pathways' pooling (models.unique)
CLASS_WEIGHTS: tuple[str | None, ...] = (None, "balanced")


def check_architecture_choices(model: Any) -> None:
    """The named choices of a model section (``init``, ``fusion_activation``, ``attention_pool``)."""
    for name, valid in (("init", INITS), ("fusion_activation", ACTIVATIONS), ("attention_pool", ATTENTION_POOLS)):
        _check(getattr(model, name) in valid, f"model.{name} must be one of {list(valid)}", getattr(model, name))


def check_probe(probe: ProbeConfig) -> None:
    """The probe section's class weighting and C grid."""
    _check(probe.class_weight in CLASS_WEIGHTS,
           "probe.class_weight must be None (the published, unweighted fit) or 'balanced'", probe.class_weight)
    _check(isinstance(probe.C_grid, tuple) and len(probe.C_grid) > 0
           and all(isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0 for c in probe.C_grid),
           "probe.C_grid must be a non-empty tuple of positive numbers", probe.C_grid)
    _check(isinstance(probe.max_iter, int) and not isinstance(probe.max_iter, bool) and probe.max_iter >= 1,
           "probe.max_iter must be a positive int", probe.max_iter)


def _type_text(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args)
    if hint is type(None):
        return "None"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {_type_text(args[0])}"
        return f"a tuple of {len(args)} ({', '.join(_type_text(a) for a in args)})"
    if hint is float:
        return "a finite number"
    return {int: "an int", bool: "true or false", str: "a string", dict: "a mapping"}.get(origin or hint, str(hint))


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True  # a type this check does not know: left to the range checks


def check_types(obj: Any, where: str = "") -> None:
    """Every field of a config dataclass (and of its nested sections) has its annotated type.

    Raises ``ValueError`` naming the field, the type it needs and the value it got, e.g.
    ``train.epochs must be an int, got 'abc'``. Fields named ``*_p`` are probabilities: also in [0, 1].
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, name = getattr(obj, f.name), f"{where}{f.name}"
        if dataclasses.is_dataclass(value):
            check_types(value, name + ".")
            continue
        hint = hints[f.name]
        if not _matches(value, hint):
            raise ValueError(f"{name} must be {_type_text(hint)}, got {value!r}; fix it with --set {name}=<value> "
                             "or in the config file")
        if f.name.endswith("_p") and not 0 <= value <= 1:
            raise ValueError(f"{name} is a probability and must be in [0, 1], got {value!r}")


def _check(ok: bool, message: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{message} (got {value!r})")


def _paper() -> RunConfig:
    return RunConfig(preset="paper")


def _quick() -> RunConfig:
    # A first result in a lecture on a 2-core CPU, chosen by the study (coral_lab.study, README "Where the
    # findings appear"): 32 px images and milder crops (scale 0.25-1: at 32 px an 8 % crop keeps ~9 x 9
    # pixels, too few for texture); a narrow CNN with a stride-2 stem, so each modality is 2 x 2 tokens
    # (4x cheaper per step than 4 x 4, and masking then hides a whole modality often enough to teach the
    # texture -> color mapping); static 90 % masking (the paper's ratios, <= 75 %, teach no synergy at this
    # scale); lr 1e-3 for 10 epochs of 10,000 pairs.
    return RunConfig(preset="quick").replace(
        data={"image_size": 32, "n_train_pairs": 10_000, "n_probe_train_pairs": 5_000, "n_probe_test_pairs": 4_096},
        augment={"crop_scale": (0.25, 1.0)},
        model={"encoder": "small_cnn", "encoder_width": 16, "encoder_stem_stride": 2, "embed_dim": 64,
               "proj_hidden": 128, "proj_dim": 64},
        train={"epochs": 10, "batch_size": 64, "lr": 1e-3, "mask_schedule": 0.9},
        probe={"max_iter": 300},
    )


def _long() -> RunConfig:
    # Results worth showing on a 2-core CPU, <= 60 minutes per pretraining: the quick preset with 4 x 4
    # tokens (a stride-1 stem: better shape and texture, 2.6x the step cost) for 30 epochs.
    return _quick().replace(preset="long", model={"encoder_stem_stride": 1}, train={"epochs": 30})


def _ci() -> RunConfig:
    return RunConfig(preset="ci").replace(
        data={"image_size": 32, "n_train_pairs": 256, "n_probe_train_pairs": 300, "n_probe_test_pairs": 200},
        model={"encoder": "small_cnn", "encoder_width": 8, "embed_dim": 32, "proj_hidden": 32, "proj_dim": 16},
        train={"epochs": 2, "batch_size": 32, "lr": 1e-3},
        probe={"C_grid": (1.0,), "max_iter": 100},
    )


PRESETS = {"ci": _ci, "quick": _quick, "long": _long, "paper": _paper}

# The teaching variant of the data (``DataConfig`` fields; never the benchmark, and never compared with
# the paper): 4 textures and their pi-partner colors (texture chance 25 %), with about as many images
# as the benchmark (128 training combinations x 19 renders, 32 test combinations x 8). Used by the
# levers study's ``teach4`` variants and the interactive lab's default data (``lab.trial_config``).
TEACHING_DATA: dict[str, int] = {"n_textures": 4, "renders_train": 19, "renders_test": 8}


def get_preset(name: str) -> RunConfig:
    """The named preset as a fresh ``RunConfig``; an unknown name lists the valid ones."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; valid presets: {sorted(PRESETS)}") from None
    return factory()


def preset_from_env(default: str = "quick") -> str:
    """The preset named by the environment variable ``CORAL_LAB_PRESET`` (used by notebooks under CI)."""
    name = os.environ.get("CORAL_LAB_PRESET", default)
    if name not in PRESETS:
        raise ValueError(f"CORAL_LAB_PRESET={name!r} is not a preset; valid presets: {sorted(PRESETS)}")
    return name


def parse_value(text: str) -> Any:
    """The Python value of one command-line override (``--set section.field=VALUE``).

    ``none`` / ``null`` give None and ``true`` / ``false`` a bool (any case); otherwise a Python
    literal (``3``, ``0.5``, ``(0.05, 0.35)``, ``'a b'``) where ``ast.literal_eval`` reads one, else the
    text itself, so ``--set train.lr_schedule=cosine`` needs no quotes.
    """
    low = text.lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


# the coral-lab command's flags -> the config field each sets (a flag wins over --set for the same field)
CLI_FLAGS = {
    "epochs": ("train", "epochs"),
    "seed": ("train", "seed"),
    "train_set": ("train", "train_set"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "mask_schedule": ("train", "mask_schedule"),
    "lambda_s": ("loss", "lambda_s"),
    "lambda_u": ("loss", "lambda_u"),
    "lambda_o": ("loss", "lambda_o"),
    "ortho_kind": ("loss", "ortho_kind"),
    "cache_dir": ("data", "cache_dir"),
    "image_size": ("data", "image_size"),
}


def parse_mask_schedule(text: str) -> Any:
    """``--mask-schedule``: ``paper`` (the 5/35/55/75 % schedule), ``none`` (None: no masking) or a ratio / tuple."""
    low = text.lower()
    if low == "paper":
        return "paper"
    if low == "none":
        return None
    return parse_value(text)


def overrides_from_args(args: Any, flags: Mapping[str, tuple[str, str]], *, nested: bool = False,
                        example: str = "loss.lambda_o=3") -> dict[str, dict]:
    """The config changes of a command line, for ``RunConfig.replace`` / ``FeatureRunConfig.replace``.

    First every ``--set section.field=VALUE`` item (``args.set``; values through ``parse_value``;
    ``nested``: ``section.sub.field=VALUE`` reaches a nested section), then every flag of ``flags``
    (attribute name -> (section, field)) that is not None, so an explicit flag wins over ``--set`` for the
    same field. ``mask_schedule`` goes through ``parse_mask_schedule``. A malformed item raises
    ``SystemExit`` with one line naming the expected form (``example``).
    """
    changes: dict[str, dict] = {}
    for item in getattr(args, "set", None) or []:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise SystemExit(f"error: --set expects section.field=value (e.g. {example}), got {item!r}")
        key, value = item.split("=", 1)
        parts = key.split(".") if nested else key.split(".", 1)
        target = changes.setdefault(parts[0], {})
        for part in parts[1:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = parse_value(value)
    for flag, (section, name) in flags.items():
        value = getattr(args, flag, None)
        if value is not None:
            changes.setdefault(section, {})[name] = parse_mask_schedule(value) if flag == "mask_schedule" else value
    return changes
