"""The run config: one typed tree for every data source and method, with the paper's values as defaults.

A ``RunConfig`` is a few top-level fields (``preset``, ``method``, ``dataset``) and one section per
component (``coral_lab.config.sections``): ``data``, ``augment``, ``model``, ``loss``, ``train``, ``probe``
and, on feature data, ``finetune``; ``settings`` holds the run's method's own settings (a mapping the
method's ``Settings`` class reads and checks: ``coral_lab.methods``). ``dataset`` picks the data source and with it the
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
(``LEGACY_MOVES``, ``LEGACY_VALUES``, the shared ``baseline`` section of files from before the methods' own
settings: ``config.legacy``).

The package, one module a job: ``data_sources`` (the sources and their section classes), ``run_config``
(``ConfigTree``, ``RunConfig``), ``checks`` (value checks and named choices), ``typecheck`` (types
against annotations), ``identity`` (what decides a run), ``legacy`` (older files), ``presets`` and
``overrides`` (the command line's changes). This face hands their public names on.
"""

from coral_lab.config.checks import (
    ACTIVATIONS,
    ATTENTION_POOLS,
    CLASS_WEIGHTS,
    INITS,
    LR_SCHEDULES,
    check_architecture_choices,
    check_probe,
    require,
)
from coral_lab.config.data_sources import (
    DATA_SOURCES,
    FEATURES,
    IMAGES,
    KIND_ONLY_SECTIONS,
    SOURCE_SECTIONS,
    TRIFEATURE,
    source_kind,
)
from coral_lab.config.identity import NEUTRAL_DEFAULTS, RUNTIME_FIELDS, experiment_dict
from coral_lab.config.legacy import LEGACY_MOVES, LEGACY_VALUES, moved_fields, with_legacy_values
from coral_lab.config.overrides import (
    CLI_FLAGS,
    TRIFEATURE_ONLY_FLAGS,
    overrides_from_args,
    parse_mask_schedule,
    parse_value,
)
from coral_lab.config.presets import (
    FEATURE_PRESETS,
    PRESETS,
    TEACHING_DATA,
    WHOLE_MODALITY_M16,
    get_preset,
    preset_from_env,
    preset_names,
)
from coral_lab.config.run_config import NAME_PATTERN, SETTING_VALUE_TYPES, ConfigTree, RunConfig, require_trifeature
from coral_lab.config.typecheck import check_types
from coral_lab.config.sections import (
    AugmentConfig,
    DataConfig,
    EncoderConfig,
    FeatureAugmentConfig,
    FeatureDataConfig,
    FeatureModelConfig,
    FinetuneConfig,
    HELD_OUT,
    MEMORISATION_CONTROL,
    LossConfig,
    ModelConfig,
    PROTOCOL_LABELS,
    PROTOCOLS,
    PUBLISHED,
    ProbeConfig,
    TrainConfig,
)

__all__ = [
    "RunConfig", "ConfigTree", "require_trifeature", "NAME_PATTERN", "SETTING_VALUE_TYPES", "check_types", "require",
    "DataConfig", "AugmentConfig", "ModelConfig", "LossConfig", "TrainConfig", "ProbeConfig",
    "FeatureDataConfig", "EncoderConfig", "FeatureModelConfig", "FeatureAugmentConfig", "FinetuneConfig",
    "HELD_OUT", "PUBLISHED", "MEMORISATION_CONTROL", "PROTOCOLS", "PROTOCOL_LABELS",
    "TRIFEATURE", "IMAGES", "FEATURES", "DATA_SOURCES", "SOURCE_SECTIONS", "KIND_ONLY_SECTIONS", "source_kind",
    "PRESETS", "FEATURE_PRESETS", "TEACHING_DATA", "WHOLE_MODALITY_M16", "get_preset", "preset_names",
    "preset_from_env",
    "parse_value", "parse_mask_schedule", "overrides_from_args", "CLI_FLAGS", "TRIFEATURE_ONLY_FLAGS",
    "ACTIVATIONS", "INITS", "ATTENTION_POOLS", "CLASS_WEIGHTS", "LR_SCHEDULES", "check_architecture_choices",
    "check_probe", "LEGACY_MOVES", "LEGACY_VALUES", "moved_fields", "with_legacy_values",
    "NEUTRAL_DEFAULTS", "RUNTIME_FIELDS", "experiment_dict",
]
