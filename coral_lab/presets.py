"""Every named preset of every data source, in one table: ``run_config(preset, dataset)``.

The data source decides the config's sections (``coral_lab.config.RunConfig`` for Trifeature images:
data rendering, the CNN, image augmentations; ``coral_lab.multibench.config.FeatureRunConfig`` for
feature data: the data set, the feature encoders, feature augmentations, SupCon fine-tuning); both are
a ``config.ConfigTree`` (one JSON round trip, one ``replace``, one validation message style). The
presets:

- ``ci``: seconds, for the tests and the notebooks under CI;
- ``quick``: minutes on a 2-core CPU (a lecture's first result);
- ``long``: Trifeature only, up to an hour per pretraining on a 2-core CPU;
- ``paper``: the published scale (a GPU for Trifeature).
"""

from __future__ import annotations

from coral_lab.config import PRESETS as IMAGE_PRESETS, RunConfig, get_preset
from coral_lab.multibench.config import FEATURE_PRESETS, FeatureRunConfig, feature_config
from coral_lab.multibench.datasets import DATASETS as FEATURE_DATASETS

__all__ = ["TRIFEATURE", "DATA_SOURCES", "preset_names", "run_config"]

TRIFEATURE = "trifeature"
# --dataset: the Trifeature benchmark (Table 1), then the feature data sets (Table 2)
DATA_SOURCES: tuple[str, ...] = (TRIFEATURE, *FEATURE_DATASETS)


def _check_source(dataset: object) -> str:
    if dataset not in DATA_SOURCES:
        raise ValueError(f"unknown data set {dataset!r}; valid: {list(DATA_SOURCES)}")
    return dataset  # type: ignore[return-value]


def preset_names(dataset: str = TRIFEATURE) -> tuple[str, ...]:
    """The presets a data source has, e.g. ``("ci", "long", "paper", "quick")`` for Trifeature."""
    presets = IMAGE_PRESETS if _check_source(dataset) == TRIFEATURE else FEATURE_PRESETS
    return tuple(sorted(presets))


def run_config(preset: str = "quick", dataset: str = TRIFEATURE) -> RunConfig | FeatureRunConfig:
    """A fresh config of the named preset for ``dataset``: a ``RunConfig`` for Trifeature, a
    ``FeatureRunConfig`` for a feature data set (``get_preset`` / ``feature_config`` of that kind)."""
    if preset not in preset_names(dataset):
        raise ValueError(f"unknown preset {preset!r} for {dataset}; valid presets: {list(preset_names(dataset))}")
    return get_preset(preset) if dataset == TRIFEATURE else feature_config(dataset, preset)
