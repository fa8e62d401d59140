"""The run config: one typed tree for every data source and method, with the paper's values as defaults.

A ``RunConfig`` is a few top-level fields (``preset``, ``method``, ``dataset``) and one section per
component (``coral_lab.sections``): ``data``, ``augment``, ``model``, ``loss``, ``train``, ``probe``,
``baseline`` and, on feature data, ``finetune``. ``dataset`` picks the data source and with it the
classes of the three source sections (``SOURCE_SECTIONS``): Trifeature images take ``DataConfig`` /
``AugmentConfig`` / ``ModelConfig``, a feature data set (MultiBench, digits) ``FeatureDataConfig`` /
``FeatureAugmentConfig`` / ``FeatureModelConfig``; the other sections are the same for every source.

Named presets, per data source (``get_preset(name, dataset)``):

- ``ci``: seconds on a 2-core CPU; exercises every code path, results are not meaningful.
- ``quick``: minutes on a 2-core CPU (Trifeature: small images and a narrow CNN, shows R / U / S and
  the masking contrast; feature data: narrow encoders for 30 epochs).
- ``long``: Trifeature only: the quick preset with 4 x 4 tokens for 30 epochs, under an hour per
  pretraining on a 2-core CPU.
- ``paper``: the published scale (Trifeature: 224 px, AlexNet encoders, 100 epochs, 10,000 pairs, for a
  GPU; feature data: the published encoders and 100 epochs).

A ``RunConfig`` round-trips to JSON (``to_json`` / ``from_json``) and is saved next to every
checkpoint and result file; files written by older versions are read in today's layout
(``LEGACY_MOVES``, ``LEGACY_VALUES``).
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
from coral_lab.data.features import DATASETS as FEATURE_DATASETS
from coral_lab.published_probe import HELD_OUT, PROTOCOLS
from coral_lab.sections import (
    AugmentConfig,
    BaselineConfig,
    DataConfig,
    EncoderConfig,
    FeatureAugmentConfig,
    FeatureDataConfig,
    FeatureModelConfig,
    FinetuneConfig,
    LossConfig,
    ModelConfig,
    ProbeConfig,
    TrainConfig,
)

__all__ = [
    "check_types",
    "DataConfig",
    "AugmentConfig",
    "ModelConfig",
    "LossConfig",
    "TrainConfig",
    "ProbeConfig",
    "BaselineConfig",
    "FeatureDataConfig",
    "EncoderConfig",
    "FeatureModelConfig",
    "FeatureAugmentConfig",
    "FinetuneConfig",
    "ConfigTree",
    "RunConfig",
    "METHOD_NAMES",
    "TRIFEATURE",
    "IMAGES",
    "FEATURES",
    "DATA_SOURCES",
    "SOURCE_SECTIONS",
    "source_kind",
    "require_trifeature",
    "PRESETS",
    "FEATURE_PRESETS",
    "TEACHING_DATA",
    "get_preset",
    "preset_names",
    "preset_from_env",
    "parse_value",
    "parse_mask_schedule",
    "overrides_from_args",
    "CLI_FLAGS",
    "TRIFEATURE_ONLY_FLAGS",
    "ACTIVATIONS",
    "INITS",
    "ATTENTION_POOLS",
]


# the pretraining methods ``RunConfig.method`` may name (built by coral_lab.methods.METHODS)
METHOD_NAMES: tuple[str, ...] = ("coral", "clip", "comm", "infmasking", "factorcl")


def check_method_name(name: object) -> str:
    """``name`` if it is a method's name (``METHOD_NAMES``); otherwise one line listing the valid names."""
    if name not in METHOD_NAMES:
        raise ValueError(f"unknown method {name!r}; valid methods: {sorted(METHOD_NAMES)}")
    return name  # type: ignore[return-value]


# ------------------------------------------------------------------------------ data sources

TRIFEATURE = "trifeature"
# ``RunConfig.dataset``: the Trifeature benchmark (Table 1), then the feature data sets (Table 2)
DATA_SOURCES: tuple[str, ...] = (TRIFEATURE, *FEATURE_DATASETS)
IMAGES, FEATURES = "images", "features"  # the two kinds of data source
# the sections whose class depends on the kind of data; every other section is the same for all sources
SOURCE_SECTIONS: dict[str, dict[str, type]] = {
    IMAGES: {"data": DataConfig, "augment": AugmentConfig, "model": ModelConfig},
    FEATURES: {"data": FeatureDataConfig, "augment": FeatureAugmentConfig, "model": FeatureModelConfig},
}
# sections one kind of data alone uses: a config of the other kind neither writes nor takes them
KIND_ONLY_SECTIONS: dict[str, str] = {"finetune": FEATURES}


def source_kind(dataset: object) -> str:
    """``IMAGES`` for Trifeature, ``FEATURES`` for a feature data set; an unknown name lists the valid ones."""
    if dataset not in DATA_SOURCES:
        raise ValueError(f"unknown data set {dataset!r}; valid: {list(DATA_SOURCES)}")
    return IMAGES if dataset == TRIFEATURE else FEATURES


# ------------------------------------------------------------------------------ reading older files

# Fields that moved, old place -> new place (a path of keys; one key is a top-level field). A saved config
# in the old layout is read in the new one. Feature-data configs written before the one run config had
# the method in their train section and the data file and split at the top.
LEGACY_MOVES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("train", "method"): ("method",),
    ("data_path",): ("data", "path"),
    ("split_seed",): ("data", "split_seed"),
}

# Fields added after results were committed, with the value every run written before them used. A saved
# config (config.json, a checkpoint) whose section lacks one of them is read with that value, so an old
# run is never mistaken for one trained with today's default.
LEGACY_VALUES: dict[tuple[str, str], Any] = {
    ("model", "init"): "independent",
    ("model", "fusion_activation"): "gelu",
    ("model", "attention_pool"): "scaled",
    ("baseline", "infmasking_total"): "comm_plus_half",
    ("train", "amp"): False,  # feature-data pretraining had no autocast before it shared TrainConfig
}


def _holder(d: Any, path: tuple[str, ...]) -> dict[str, Any] | None:
    """The dict that holds ``path[-1]`` under ``d`` (``d`` itself for a one-key path) if it holds it, else None."""
    for key in path[:-1]:
        d = d.get(key) if isinstance(d, dict) else None
    return d if isinstance(d, dict) and path[-1] in d else None


def moved_fields(d: dict[str, Any]) -> list[tuple[str, ...]]:
    """The ``LEGACY_MOVES`` fields a saved config dict still has at their old place (empty: today's layout)."""
    return [old for old in LEGACY_MOVES if _holder(d, old) is not None]


def with_legacy_values(d: dict[str, Any]) -> dict[str, Any]:
    """A copy of a saved config dict in today's layout: each ``LEGACY_MOVES`` field at its new place, and
    each section that lacks a ``LEGACY_VALUES`` field given that value."""
    out = copy.deepcopy(d)
    for old, new in LEGACY_MOVES.items():
        holder = _holder(out, old)
        if holder is None:
            continue
        value = holder.pop(old[-1])
        target = out
        for key in new[:-1]:
            target = target.setdefault(key, {})
        if isinstance(target, dict):
            target.setdefault(new[-1], value)
    for (section, name), value in LEGACY_VALUES.items():
        if isinstance(out.get(section), dict) and name not in out[section]:
            out[section][name] = value
    return out


# ------------------------------------------------------------------------------ a run's identity

# fields (paths of keys) that change how a run is executed but not what it computes
RUNTIME_FIELDS: tuple[tuple[str, ...], ...] = (
    ("train", "num_threads"), ("train", "compile"), ("train", "channels_last"),
    ("data", "cache_dir"),  # where the (checksummed) rendered images are kept, not what they are
)


# Fields added after runs were committed whose default leaves the experiment exactly as it was before the
# field existed: at that default they are left out of the experiment dict, so the identity (and the
# config_hash) of every earlier run stays the same; any other value is part of it.
NEUTRAL_DEFAULTS: dict[tuple[str, ...], Any] = {
    ("data", "n_textures"): 10,
    ("dataset",): TRIFEATURE,  # a Trifeature run's identity from before the one run config
    ("probe", "protocol"): HELD_OUT,  # a probe's identity from before the published replica
    ("data", "sha256"): None,  # a feature-data run's identity from before its data file's digest was recorded
}


def _pop_path(d: dict[str, Any], path: tuple[str, ...], only_if: Any = dataclasses.MISSING) -> None:
    """Delete ``d[path[0]]...[path[-1]]`` if it is there (and equals ``only_if`` when that is given)."""
    holder = _holder(d, path)
    if holder is not None and (only_if is dataclasses.MISSING or holder[path[-1]] == only_if):
        del holder[path[-1]]


def experiment_dict(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config dict without ``RUNTIME_FIELDS`` and without ``NEUTRAL_DEFAULTS`` fields at their
    default (see ``RunConfig.experiment_dict``)."""
    out = copy.deepcopy(config)
    for path in RUNTIME_FIELDS:
        _pop_path(out, path)
    for path, default in NEUTRAL_DEFAULTS.items():
        _pop_path(out, path, only_if=default)
    return out


# ------------------------------------------------------------------------------ the tree


class ConfigTree:
    """The machinery of a config tree: typed sections (nested dataclasses) under a few top-level fields.

    The JSON round trip, ``replace`` with one clear line for an unknown section or field, and the reading
    of older files (``LEGACY_MOVES``, ``LEGACY_VALUES``). A subclass says which sections an instance has
    (``_section_classes``), may check a top-level value (``_check_top_level``) and keep derived fields in
    step after a change (``_after_replace``).
    """

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: v for k, v in d.items() if k in self._field_names()}

    def experiment_dict(self) -> dict[str, Any]:
        """``to_dict`` without the fields that only say how to run (``RUNTIME_FIELDS``, e.g. CPU threads).

        Two configs with the same experiment dict describe the same experiment: a checkpoint written
        with 2 threads resumes with 1, and a finished run is reused.
        """
        return experiment_dict(self.to_dict())

    def _field_names(self) -> list[str]:
        """The top-level fields this config has (all of the class's, unless a subclass leaves some out)."""
        return [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]

    def section_names(self) -> list[str]:
        """The fields of this config that are sections (dataclasses), in declaration order."""
        return [n for n in self._field_names() if dataclasses.is_dataclass(getattr(self, n))]

    @classmethod
    def _blank(cls, d: dict[str, Any]) -> Any:
        """The default config a saved dict ``d`` is read into (a subclass may pick its sections from ``d``)."""
        return cls()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """From a dict as ``to_dict`` writes it (or as an older version wrote it: ``with_legacy_values``);
        a missing field takes its default."""
        if not isinstance(d, dict):
            raise ValueError(f"a config must be a mapping of sections, got {type(d).__name__}")
        d = with_legacy_values(d)
        obj = cls._blank(d)
        valid = obj._field_names()
        unknown = set(d) - set(valid)
        if unknown:
            raise ValueError(f"unknown config section(s) {sorted(unknown)}; valid: {sorted(valid)}")
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
            if name not in new._field_names():
                raise ValueError(f"unknown config section {name!r}; valid: {new._field_names()}")
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
    """One run: the method, the data source and every component's section (see the module docstring).

    ``RunConfig()`` is Trifeature at the paper's scale; ``RunConfig(dataset="mosi")`` has the feature-data
    sections. Use ``get_preset(name, dataset)`` for a named preset. A section left as None is filled with
    the default of the source's class (``SOURCE_SECTIONS``).
    """

    preset: str = "paper"
    method: str = "coral"  # one of METHOD_NAMES; "coral" is the paper's model
    dataset: str = TRIFEATURE  # one of DATA_SOURCES; decides the classes of data, augment and model
    data: DataConfig | FeatureDataConfig | None = None
    augment: AugmentConfig | FeatureAugmentConfig | None = None
    model: ModelConfig | FeatureModelConfig | None = None
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)  # feature data: SupCon fine-tuning

    def __post_init__(self) -> None:
        self._fill_source_sections()

    def _fill_source_sections(self) -> None:
        """Fill the source sections left as None with their class's default; refuse one of the other kind."""
        for name, cls in SOURCE_SECTIONS[source_kind(self.dataset)].items():
            value = getattr(self, name)
            if value is None:
                setattr(self, name, cls())
            elif not isinstance(value, cls):
                raise ValueError(f"the {name} section of a {self.dataset} config is a {cls.__name__}, "
                                 f"got a {type(value).__name__}")

    @property
    def kind(self) -> str:
        """``IMAGES`` (Trifeature) or ``FEATURES`` (a feature data set)."""
        return source_kind(self.dataset)

    @property
    def is_trifeature(self) -> bool:
        """True for the Trifeature images, False for a feature data set."""
        return self.dataset == TRIFEATURE

    def _field_names(self) -> list[str]:
        kind = source_kind(self.dataset)
        return [f.name for f in dataclasses.fields(self) if KIND_ONLY_SECTIONS.get(f.name, kind) == kind]

    @classmethod
    def _blank(cls, d: dict[str, Any]) -> "RunConfig":
        dataset = d.get("dataset", TRIFEATURE)
        if dataset not in DATA_SOURCES:
            raise ValueError(f"unknown data set {dataset!r} in the config; valid: {list(DATA_SOURCES)}")
        return cls(dataset=dataset)

    def pretrain_dict(self) -> dict[str, Any]:
        """``experiment_dict`` without the ``probe`` and ``finetune`` sections: what decides the pretrained
        weights.

        A finished pretraining is reused, and re-probed, when only the probe's (or the fine-tuning's)
        settings changed.
        """
        out = self.experiment_dict()
        out.pop("probe", None)
        out.pop("finetune", None)
        return out

    def validate(self) -> "RunConfig":
        """Check every field's type (``check_types``) and value range; raise ValueError naming the field."""
        _check(isinstance(self.preset, str) and isinstance(self.method, str), "preset and method must be strings",
               (self.preset, self.method))
        self._fill_source_sections()  # a known data set, and its source sections' classes
        check_types(self)
        _check(self.method in METHOD_NAMES, f"method must be one of {list(METHOD_NAMES)}", self.method)
        _check_train(self.train)
        _check_loss(self.loss)
        _check_baseline(self.baseline)
        _check(0 < self.probe.val_fraction < 1, "probe.val_fraction must be in (0, 1)", self.probe.val_fraction)
        check_probe(self.probe)
        check_architecture_choices(self.model)
        if self.is_trifeature:
            _check_trifeature(self.data, self.model)
        else:
            _check_feature_model(self.model)
            _check_feature_augment(self.augment)
            _check_finetune(self.finetune)
            _check(self.probe.protocol == HELD_OUT,
                   "probe.protocol 'published' replicates the released Trifeature script; a feature data set is "
                   "probed on its own validation split (leave it 'held_out')", self.probe.protocol)
            _check(self.train.train_set == "unbiased",
                   "train.train_set is Trifeature's pair set; a feature data set has one training split, leave it "
                   "'unbiased'", self.train.train_set)
        # the schedule is checked by masking.mask_ratio_at, which knows the valid forms
        mask_ratio_at(0, self.train.epochs, self.train.mask_schedule)
        return self

    def _check_top_level(self, name: str, value: Any) -> None:
        if name == "method":
            check_method_name(value)
        if name == "dataset" and source_kind(value) != self.kind:
            raise ValueError(f"a {self.dataset} config cannot become a {value} config (its sections are of "
                             f"another kind); start from get_preset(preset, {value!r})")

    def _after_replace(self) -> None:
        if self.is_trifeature:
            self.model.image_size = self.data.image_size  # the model's image size follows the data's


def require_trifeature(cfg: object, what: str) -> RunConfig:
    """``cfg`` if it is a Trifeature ``RunConfig``; else one line saying ``what`` runs on Trifeature images
    (TypeError for something that is not a config, ValueError for a feature data set's config)."""
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be a coral_lab.config.RunConfig, got {type(cfg).__name__}")
    if not cfg.is_trifeature:
        raise ValueError(f"{what} runs on Trifeature images; got a {cfg.dataset} config (use get_preset(name), or "
                         "coral-lab reproduce --dataset for feature data)")
    return cfg


def _check_train(t: TrainConfig) -> None:
    _check(t.seed >= 0, "train.seed must be >= 0 (a numpy and torch seed)", t.seed)
    _check(t.epochs > 0, "train.epochs must be > 0", t.epochs)
    _check(t.batch_size >= 2, "train.batch_size must be >= 2 (InfoNCE needs negatives)", t.batch_size)
    _check(t.lr > 0, "train.lr must be > 0", t.lr)
    _check(t.weight_decay >= 0, "train.weight_decay must be >= 0", t.weight_decay)
    _check(t.lr_schedule in LR_SCHEDULES, f"train.lr_schedule must be one of {list(LR_SCHEDULES)}", t.lr_schedule)
    _check(t.train_set in ("unbiased", "biased"), "train.train_set must be 'unbiased' or 'biased'", t.train_set)
    _check(t.compile is None or t.compile in COMPILE_MODES,
           f"train.compile must be None (eager) or one of {list(COMPILE_MODES)}", t.compile)
    _check(t.channels_last is None or isinstance(t.channels_last, bool),
           "train.channels_last must be None (CUDA only), true or false", t.channels_last)
    _check(t.num_threads is None or (isinstance(t.num_threads, int) and t.num_threads >= 1),
           "train.num_threads must be None or a positive int", t.num_threads)


def _check_loss(loss: LossConfig) -> None:
    for name in ("lambda_s", "lambda_u", "lambda_o"):
        _check(getattr(loss, name) >= 0, f"loss.{name} must be >= 0", getattr(loss, name))
    _check(loss.temperature > 0, "loss.temperature must be > 0", loss.temperature)
    _check(loss.ortho_kind in ("hinge", "squared"), "loss.ortho_kind must be 'hinge' or 'squared'", loss.ortho_kind)


def _check_baseline(b: BaselineConfig) -> None:
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


def _check_trifeature(data: DataConfig, model: ModelConfig) -> None:
    """The image sections: the renderer's data and the CNN + token model."""
    _check(data.image_size >= 16, "data.image_size must be >= 16", data.image_size)
    _check(0 < data.train_fraction < 1, "data.train_fraction must be in (0, 1)", data.train_fraction)
    _check(2 <= data.n_textures <= 10, "data.n_textures must be in 2..10 (10: the benchmark)", data.n_textures)
    for name in ("n_train_pairs", "n_probe_train_pairs", "n_probe_test_pairs", "renders_train", "renders_test"):
        _check(getattr(data, name) > 0, f"data.{name} must be > 0", getattr(data, name))
    _check(model.n_heads >= 1, "model.n_heads must be >= 1", model.n_heads)
    _check(model.n_modalities >= 2, "model.n_modalities must be >= 2", model.n_modalities)
    _check(model.embed_dim % 2 == 0, "model.embed_dim must be even (unique width is D/2)", model.embed_dim)
    _check(model.embed_dim % model.n_heads == 0, "model.embed_dim must be divisible by model.n_heads",
           (model.embed_dim, model.n_heads))


def _check_feature_augment(a: FeatureAugmentConfig) -> None:
    """The feature-data augmentations: probabilities and fractions in [0, 1], the noise's std >= 0."""
    for name in ("drop_p", "drop_max", "noise_p", "corrupt_rate"):
        _check(0 <= getattr(a, name) <= 1, f"augment.{name} must be in [0, 1] (a probability or a fraction)",
               getattr(a, name))
    _check(0 <= a.noise_std < math.inf, "augment.noise_std must be >= 0 (a standard deviation)", a.noise_std)


def _check_feature_model(m: FeatureModelConfig) -> None:
    """The feature-data model section: the fusion width and the per-modality encoders."""
    enc = m.encoder
    _check(m.n_heads >= 1 and enc.heads >= 1, "model.n_heads and model.encoder.heads must be >= 1", (m.n_heads, enc.heads))
    _check(m.embed_dim % 2 == 0 and m.embed_dim % m.n_heads == 0,
           "model.embed_dim must be even and divisible by model.n_heads", (m.embed_dim, m.n_heads))
    _check(enc.width % enc.heads == 0, "model.encoder.width must be divisible by model.encoder.heads",
           (enc.width, enc.heads))


def _check_finetune(f: FinetuneConfig) -> None:
    _check(f.epochs > 0, "finetune.epochs must be > 0", f.epochs)
    _check(f.batch_size >= 2, "finetune.batch_size must be >= 2 (contrastive losses need negatives)", f.batch_size)
    _check(0 < f.lr < math.inf, "finetune.lr must be a positive number", f.lr)
    _check(0 <= f.weight_decay < math.inf, "finetune.weight_decay must be >= 0", f.weight_decay)
    for name in ("lambda_s", "lambda_u", "lambda_o"):
        _check(0 <= getattr(f, name) < math.inf, f"finetune.{name} must be >= 0 (a loss weight)", getattr(f, name))
    _check(0 < f.temperature < math.inf, "finetune.temperature must be > 0", f.temperature)
    _check(0 <= f.mask_ratio < 1, "finetune.mask_ratio must be in [0, 1)", f.mask_ratio)
    _check(f.positives in ("class", "self"), "finetune.positives must be 'class' or 'self'", f.positives)
    _check(f.patience >= 1, "finetune.patience must be >= 1", f.patience)


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
    """The probe section's protocol, class weighting and C grid."""
    _check(probe.protocol in PROTOCOLS, f"probe.protocol must be one of {list(PROTOCOLS)}", probe.protocol)
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


PRESETS = {"ci": _ci, "quick": _quick, "long": _long, "paper": _paper}  # Trifeature's presets

# The teaching variant of the data (``DataConfig`` fields; never the benchmark, and never compared with
# the paper): 4 textures and their pi-partner colors (texture chance 25 %), with about as many images
# as the benchmark (128 training combinations x 19 renders, 32 test combinations x 8). Used by the
# levers study's ``teach4`` variants and the interactive lab's default data (``lab.trial_config``).
TEACHING_DATA: dict[str, int] = {"n_textures": 4, "renders_train": 19, "renders_test": 8}


def _feature_paper(dataset: str) -> RunConfig:
    # The published encoders (multibench.md) and section 5.3's optimiser. amp off: feature-data pretraining
    # has run in float32 on every device so far (bf16 autocast of the GRU and the feature Transformers has
    # not been compared with it on a GPU); train.amp=true opts in.
    cfg = RunConfig(preset="paper", dataset=dataset).replace(train={"amp": False})
    if dataset == "mimic":
        # GRU(12 -> 512) for the time series, MLP(5 -> 10 -> 10) + tokenizer to 10 tokens of width 512
        # (heads only shape the sequence Transformer, which MIMIC does not use; 8 keeps width % heads == 0)
        cfg = cfg.replace(model={"embed_dim": 512, "encoder": {"width": 512, "heads": 8, "tabular_hidden": 10}})
    if dataset == "digits":
        cfg = cfg.replace(model={"embed_dim": 64, "encoder": {"width": 64, "layers": 2, "heads": 4}})
    return cfg


def _feature_quick(dataset: str) -> RunConfig:
    # minutes on a 2-core CPU: narrow encoders, 2 Transformer layers, 30 epochs at lr 1e-3, same schedule shape
    return _feature_paper(dataset).replace(
        preset="quick",
        model={"embed_dim": 32, "proj_hidden": 128, "proj_dim": 64,
               "encoder": {"width": 32, "layers": 2, "heads": 4, "tabular_hidden": 10}},
        train={"epochs": 30, "lr": 1e-3},
        finetune={"epochs": 30, "lr": 3e-4, "patience": 8},
        probe={"C_grid": (0.01, 0.1, 1.0, 10.0), "max_iter": 500},
    )


def _feature_ci(dataset: str) -> RunConfig:
    return _feature_paper(dataset).replace(
        preset="ci",
        model={"embed_dim": 16, "proj_hidden": 16, "proj_dim": 8,
               "encoder": {"width": 8, "layers": 1, "heads": 2, "tabular_hidden": 4}},
        train={"epochs": 2, "batch_size": 16, "lr": 1e-3},
        finetune={"epochs": 2, "batch_size": 16, "lr": 1e-3, "patience": 1},
        probe={"C_grid": (1.0,), "max_iter": 100},
    )


FEATURE_PRESETS = {"ci": _feature_ci, "quick": _feature_quick, "paper": _feature_paper}  # every feature data set's


def preset_names(dataset: str = TRIFEATURE) -> tuple[str, ...]:
    """The presets a data source has, e.g. ``("ci", "long", "paper", "quick")`` for Trifeature."""
    return tuple(sorted(PRESETS if source_kind(dataset) == IMAGES else FEATURE_PRESETS))


def get_preset(name: str, dataset: str = TRIFEATURE) -> RunConfig:
    """The named preset for a data source (``DATA_SOURCES``) as a fresh ``RunConfig``; an unknown name
    lists the valid ones."""
    names = preset_names(dataset)
    if name not in names:
        where = "" if dataset == TRIFEATURE else f" for {dataset}"
        raise ValueError(f"unknown preset {name!r}{where}; valid presets: {list(names)}")
    return PRESETS[name]() if dataset == TRIFEATURE else FEATURE_PRESETS[name](dataset)


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
# the flags that only mean something on Trifeature images (a feature data set refuses them); ``--seed``
# is also left out there, where the Table 2 protocol takes its seeds from ``--seeds``
TRIFEATURE_ONLY_FLAGS: tuple[str, ...] = ("cache_dir", "image_size", "train_set")


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
    """The config changes of a command line, for ``RunConfig.replace``.

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
