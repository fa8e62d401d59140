"""The data sets: the bimodal Trifeature benchmark (vectorised rendering, a verified on-disk cache, image
pairs) and, in their own modules, the feature data sets of Table 2.

- ``trifeature``: attributes (``SHAPES``, ``TEXTURES``, ``COLOR_NAMES``, ``COLORS``) and ``render_images``.
- ``cache``: the 80/20 combination split (``make_trifeature``) and ``load_or_render``.
- ``pairs``: same-shape pairs (``build_pairs``), task labels (``pair_labels``), ``make_benchmark``.
- ``features`` (imported by name, not re-exported here): the MultiBench feature data sets and ``digits``;
  ``feature_augment``: their augmentations.
"""

from coral_lab.data.trifeature import (
    BACKGROUND,
    BACKGROUND_UINT8,
    COLOR_NAMES,
    COLORS,
    COLORS_UINT8,
    GENERATOR_VERSION,
    SHAPES,
    TEXTURES,
    RenderParams,
    render_from_params,
    render_images,
    sample_render_params,
    shape_masks,
    shape_template,
    template_size,
    texture_masks,
    texture_period,
)
from coral_lab.data.cache import (
    CacheError,
    CacheWarning,
    TrifeatureData,
    TrifeatureSplit,
    cache_path,
    load_or_render,
    make_trifeature,
    split_combinations,
)
from coral_lab.data.pairs import (
    N_CLASSES,
    PAIR_KINDS,
    TASKS,
    PairSet,
    TrifeatureBenchmark,
    attribute_subset,
    build_pairs,
    derived_rng,
    make_benchmark,
    pair_labels,
    pool_size,
    synergy_mapping,
    task_classes,
)

__all__ = [
    "BACKGROUND",
    "BACKGROUND_UINT8",
    "COLOR_NAMES",
    "COLORS",
    "COLORS_UINT8",
    "GENERATOR_VERSION",
    "SHAPES",
    "TEXTURES",
    "RenderParams",
    "render_from_params",
    "render_images",
    "sample_render_params",
    "shape_masks",
    "shape_template",
    "template_size",
    "texture_masks",
    "texture_period",
    "CacheError",
    "CacheWarning",
    "TrifeatureData",
    "TrifeatureSplit",
    "cache_path",
    "load_or_render",
    "make_trifeature",
    "split_combinations",
    "N_CLASSES",
    "task_classes",
    "PAIR_KINDS",
    "TASKS",
    "PairSet",
    "TrifeatureBenchmark",
    "attribute_subset",
    "build_pairs",
    "derived_rng",
    "make_benchmark",
    "pair_labels",
    "pool_size",
    "synergy_mapping",
]
