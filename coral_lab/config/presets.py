"""The named presets of every data source (``get_preset(name, dataset)``): ci, quick, long, hour (Trifeature)
and paper; the teaching variant's data; the preset of ``CORAL_LAB_PRESET``."""

from __future__ import annotations

import os
from coral_lab.config.data_sources import IMAGES, TRIFEATURE, source_kind
from coral_lab.config.run_config import RunConfig


def _paper() -> RunConfig:
    return RunConfig(preset="paper")


def _quick() -> RunConfig:
    # A first result in a lecture on a 2-core CPU, chosen by the study (coral_lab.experiments.study,
    # docs/measured.md "Where the findings appear"): 32 px images and milder crops (scale 0.25-1: at 32 px an 8 %
    # crop keeps ~9 x 9 pixels, too few for texture); a narrow CNN with a stride-2 stem, so each modality is 2 x 2
    # tokens (4x cheaper per step than 4 x 4, and masking then hides a whole modality often enough to teach the
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


# the static ratio m at which 16 tokens are all masked as often as 4 are at the quick preset's 90 %:
# m^16 = 0.9^4, rounded to three decimals (0.974^16 = 0.6560 against 0.9^4 = 0.6561)
WHOLE_MODALITY_M16 = 0.974


def _hour() -> RunConfig:
    # The configuration nearest Table 1 that the protocol audit found within an hour a pretraining on the
    # 2-core CPU (docs/evaluation-protocols.md, its px64-m974-e60 variant, which is this preset): 64 px with
    # the stride-2 stem (4 x 4 tokens per image), a static mask that hides a whole modality as often as the
    # quick preset's 90 % does with 2 x 2 tokens, 60 epochs. It meets Table 1's R, not its U or S.
    return _quick().replace(preset="hour", data={"image_size": 64},
                            train={"epochs": 60, "mask_schedule": WHOLE_MODALITY_M16})


def _ci() -> RunConfig:
    return RunConfig(preset="ci").replace(
        data={"image_size": 32, "n_train_pairs": 256, "n_probe_train_pairs": 300, "n_probe_test_pairs": 200},
        model={"encoder": "small_cnn", "encoder_width": 8, "embed_dim": 32, "proj_hidden": 32, "proj_dim": 16},
        train={"epochs": 2, "batch_size": 32, "lr": 1e-3},
        probe={"C_grid": (1.0,), "max_iter": 100},
    )


PRESETS = {"ci": _ci, "quick": _quick, "long": _long, "hour": _hour, "paper": _paper}  # Trifeature's presets

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
    """The presets a data source has, e.g. ``("ci", "hour", "long", "paper", "quick")`` for Trifeature."""
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
