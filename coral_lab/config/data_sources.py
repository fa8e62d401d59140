"""The data sources a config can name (``RunConfig.dataset``) and the classes of their sections."""

from __future__ import annotations


from coral_lab.data.features import DATASETS as FEATURE_DATASETS
from coral_lab.config.sections import (
    AugmentConfig,
    DataConfig,
    FeatureAugmentConfig,
    FeatureDataConfig,
    FeatureModelConfig,
    ModelConfig,
)


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
