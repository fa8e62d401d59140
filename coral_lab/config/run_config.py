"""The config tree: ``ConfigTree`` (JSON round trip, ``replace``, older files) and ``RunConfig``, the one
config of every run."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coral_lab.core.io import atomic_write_text
from coral_lab.objectives.masking import mask_ratio_at
from coral_lab.config.sections import HELD_OUT
from coral_lab.config.sections import (
    AugmentConfig,
    DataConfig,
    FeatureAugmentConfig,
    FeatureDataConfig,
    FeatureModelConfig,
    FinetuneConfig,
    LossConfig,
    ModelConfig,
    ProbeConfig,
    TrainConfig,
)
from coral_lab.config.checks import (
    check_architecture_choices,
    check_feature_augment,
    check_feature_model,
    check_finetune,
    check_loss,
    check_probe,
    check_train,
    check_trifeature_sections,
    require,
)
from coral_lab.config.data_sources import DATA_SOURCES, KIND_ONLY_SECTIONS, SOURCE_SECTIONS, TRIFEATURE, source_kind
from coral_lab.config.identity import experiment_dict
from coral_lab.config.legacy import with_legacy_values
from coral_lab.config.typecheck import check_types

# a method's name and a method setting's name (``settings.views``), and the values a setting may hold (JSON's
# plain values): the config checks them here, and ``coral_lab.methods.Method`` checks its declared settings
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
SETTING_VALUE_TYPES = (bool, int, float, str, type(None))


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
            elif isinstance(current, dict):
                obj._check_top_level(name, value)
                value = dict(value)
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
        ``model={"encoder": {"layers": 2}}``); a top-level field a plain value (``cfg.replace(preset="ci")``);
        a mapping field (``settings``) a dict merged into it (``settings={"views": 4}`` changes one setting).
        A list given for a tuple field becomes a tuple, as in JSON.
        """
        new = copy.deepcopy(self)
        for name, values in sections.items():
            if name not in new._field_names():
                raise ValueError(f"unknown config section {name!r}; valid: {new._field_names()}")
            current = getattr(new, name)
            if dataclasses.is_dataclass(current) and isinstance(values, dict):
                _update(current, values, name)
            elif isinstance(current, dict) and isinstance(values, dict):
                new._check_top_level(name, values)
                setattr(new, name, {**current, **values})
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
    method: str = "coral"  # a key of coral_lab.methods.METHODS; "coral" is the paper's model
    dataset: str = TRIFEATURE  # one of DATA_SOURCES; decides the classes of data, augment and model
    data: DataConfig | FeatureDataConfig | None = None
    augment: AugmentConfig | FeatureAugmentConfig | None = None
    model: ModelConfig | FeatureModelConfig | None = None
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    # the run's method's own settings, e.g. InfMasking's {"views": 6, "ratio": 0.7, ...}; empty for COrAL. A
    # method's Settings class (coral_lab.methods) names, defaults and checks them; with_method and
    # check_config fill every one the method has, so a run's config records all of them
    settings: dict[str, Any] = field(default_factory=dict)
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
        """``experiment_dict`` without the ``probe`` and ``finetune`` sections and the preset's name: what
        decides the pretrained weights.

        A finished pretraining is reused, and re-probed, when only the probe's (or the fine-tuning's)
        settings changed, or only the name of the preset it was built from: a preset is a name for values of
        the other sections, so a unit trained as ``quick`` with the ``hour`` preset's values is the ``hour``
        preset's unit (the audit's ``px64-m974-e60`` units are reused by ``reproduce --preset hour``).
        """
        out = self.experiment_dict()
        for label in ("preset", "probe", "finetune"):
            out.pop(label, None)
        return out

    def validate(self) -> "RunConfig":
        """Check every field's type (``check_types``) and value range; raise ValueError naming the field."""
        require(isinstance(self.preset, str) and isinstance(self.method, str), "preset and method must be strings",
               (self.preset, self.method))
        self._fill_source_sections()  # a known data set, and its source sections' classes
        check_types(self)
        _check_settings_mapping(self.settings)
        # which names and method settings are valid is the method registry's to say
        # (coral_lab.methods.check_config); here: a name of the registry's form
        require(bool(NAME_PATTERN.fullmatch(self.method)), "method must be a method's name, e.g. 'coral'",
               self.method)
        check_train(self.train)
        check_loss(self.loss)
        require(0 < self.probe.val_fraction < 1, "probe.val_fraction must be in (0, 1)", self.probe.val_fraction)
        check_probe(self.probe)
        check_architecture_choices(self.model)
        if self.is_trifeature:
            check_trifeature_sections(self.data, self.model)
        else:
            check_feature_model(self.model)
            check_feature_augment(self.augment)
            check_finetune(self.finetune)
            require(self.probe.protocol == HELD_OUT,
                   "probe.protocol 'published' replicates the released Trifeature script; a feature data set is "
                   "probed on its own validation split (leave it 'held_out')", self.probe.protocol)
            require(self.train.train_set == "unbiased",
                   "train.train_set is Trifeature's pair set; a feature data set has one training split, leave it "
                   "'unbiased'", self.train.train_set)
        # the schedule is checked by masking.mask_ratio_at, which knows the valid forms
        mask_ratio_at(0, self.train.epochs, self.train.mask_schedule)
        return self

    def _check_top_level(self, name: str, value: Any) -> None:
        if name == "settings":
            _check_settings_mapping(value)
        if name == "method":
            require(isinstance(value, str) and bool(NAME_PATTERN.fullmatch(value)),
                   "method must be a method's name, e.g. 'coral'", value)
        if name == "dataset" and source_kind(value) != self.kind:
            raise ValueError(f"a {self.dataset} config cannot become a {value} config (its sections are of "
                             f"another kind); start from get_preset(preset, {value!r})")

    def _after_replace(self) -> None:
        if self.is_trifeature:
            self.model.image_size = self.data.image_size  # the model's image size follows the data's


def _check_settings_mapping(value: Any) -> None:
    """``settings`` is a mapping of setting names to JSON values (which names and values are valid is the
    run's method's to say: ``coral_lab.methods.check_config``)."""
    require(isinstance(value, dict), "settings must be a mapping of the method's setting names to values, e.g. "
            "{\"views\": 6}", value)
    for key, v in value.items():
        require(isinstance(key, str) and bool(NAME_PATTERN.fullmatch(key)),
                "a setting's name is lower case letters, digits and _ (e.g. settings.views)", key)
        require(isinstance(v, SETTING_VALUE_TYPES),
                f"settings.{key} must be a number, a string, true / false or none", v)


def require_trifeature(cfg: object, what: str) -> RunConfig:
    """``cfg`` if it is a Trifeature ``RunConfig``; else one line saying ``what`` runs on Trifeature images
    (TypeError for something that is not a config, ValueError for a feature data set's config)."""
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"cfg must be a coral_lab.config.RunConfig, got {type(cfg).__name__}")
    if not cfg.is_trifeature:
        raise ValueError(f"{what} runs on Trifeature images; got a {cfg.dataset} config (use get_preset(name), or "
                         "coral-lab reproduce --dataset for feature data)")
    return cfg
