"""The value checks of the config's sections, one line naming the field and the valid values; the named
choices of the model, train and probe sections. ``require`` is the one check of the package's configs."""

from __future__ import annotations

import math
from typing import Any

from coral_lab.core.device import COMPILE_MODES
from coral_lab.data.pairs import PAIR_KINDS
from coral_lab.objectives.losses import ORTHO_KINDS
from coral_lab.objectives.masking import check_mask_ratio
from coral_lab.config.sections import PROTOCOLS
from coral_lab.config.sections import (
    DataConfig,
    FeatureAugmentConfig,
    FeatureModelConfig,
    FinetuneConfig,
    LossConfig,
    ModelConfig,
    ProbeConfig,
    TrainConfig,
)


def check_train(t: TrainConfig) -> None:
    require(t.seed >= 0, "train.seed must be >= 0 (a numpy and torch seed)", t.seed)
    require(t.epochs > 0, "train.epochs must be > 0", t.epochs)
    require(t.batch_size >= 2, "train.batch_size must be >= 2 (InfoNCE needs negatives)", t.batch_size)
    require(t.lr > 0, "train.lr must be > 0", t.lr)
    require(t.weight_decay >= 0, "train.weight_decay must be >= 0", t.weight_decay)
    require(t.lr_schedule in LR_SCHEDULES, f"train.lr_schedule must be one of {list(LR_SCHEDULES)}", t.lr_schedule)
    require(t.train_set in PAIR_KINDS, f"train.train_set must be one of {list(PAIR_KINDS)}", t.train_set)
    require(t.compile is None or t.compile in COMPILE_MODES,
           f"train.compile must be None (eager) or one of {list(COMPILE_MODES)}", t.compile)
    require(t.channels_last is None or isinstance(t.channels_last, bool),
           "train.channels_last must be None (CUDA only), true or false", t.channels_last)
    require(t.num_threads is None or (isinstance(t.num_threads, int) and t.num_threads >= 1),
           "train.num_threads must be None or a positive int", t.num_threads)


def check_loss(loss: LossConfig) -> None:
    for name in ("lambda_s", "lambda_u", "lambda_o"):
        require(getattr(loss, name) >= 0, f"loss.{name} must be >= 0", getattr(loss, name))
    require(loss.temperature > 0, "loss.temperature must be > 0", loss.temperature)
    require(loss.ortho_kind in ORTHO_KINDS, f"loss.ortho_kind must be one of {list(ORTHO_KINDS)}", loss.ortho_kind)


def check_trifeature_sections(data: DataConfig, model: ModelConfig) -> None:
    """The image sections: the renderer's data and the CNN + token model."""
    require(data.image_size >= 16, "data.image_size must be >= 16", data.image_size)
    require(0 < data.train_fraction < 1, "data.train_fraction must be in (0, 1)", data.train_fraction)
    require(2 <= data.n_textures <= 10, "data.n_textures must be in 2..10 (10: the benchmark)", data.n_textures)
    for name in ("n_train_pairs", "n_probe_train_pairs", "n_probe_test_pairs", "renders_train", "renders_test"):
        require(getattr(data, name) > 0, f"data.{name} must be > 0", getattr(data, name))
    require(model.n_heads >= 1, "model.n_heads must be >= 1", model.n_heads)
    require(model.n_modalities >= 2, "model.n_modalities must be >= 2", model.n_modalities)
    require(model.embed_dim % 2 == 0, "model.embed_dim must be even (unique width is D/2)", model.embed_dim)
    require(model.embed_dim % model.n_heads == 0, "model.embed_dim must be divisible by model.n_heads",
           (model.embed_dim, model.n_heads))


def check_feature_augment(a: FeatureAugmentConfig) -> None:
    """The feature-data augmentations: probabilities and fractions in [0, 1], the noise's std >= 0."""
    for name in ("drop_p", "drop_max", "noise_p", "corrupt_rate"):
        require(0 <= getattr(a, name) <= 1, f"augment.{name} must be in [0, 1] (a probability or a fraction)",
               getattr(a, name))
    require(0 <= a.noise_std < math.inf, "augment.noise_std must be >= 0 (a standard deviation)", a.noise_std)


def check_feature_model(m: FeatureModelConfig) -> None:
    """The feature-data model section: the fusion width and the per-modality encoders."""
    enc = m.encoder
    require(m.n_heads >= 1 and enc.heads >= 1, "model.n_heads and model.encoder.heads must be >= 1", (m.n_heads, enc.heads))
    require(m.embed_dim % 2 == 0 and m.embed_dim % m.n_heads == 0,
           "model.embed_dim must be even and divisible by model.n_heads", (m.embed_dim, m.n_heads))
    require(enc.width % enc.heads == 0, "model.encoder.width must be divisible by model.encoder.heads",
           (enc.width, enc.heads))


def check_finetune(f: FinetuneConfig) -> None:
    require(f.epochs > 0, "finetune.epochs must be > 0", f.epochs)
    require(f.batch_size >= 2, "finetune.batch_size must be >= 2 (contrastive losses need negatives)", f.batch_size)
    require(0 < f.lr < math.inf, "finetune.lr must be a positive number", f.lr)
    require(0 <= f.weight_decay < math.inf, "finetune.weight_decay must be >= 0", f.weight_decay)
    for name in ("lambda_s", "lambda_u", "lambda_o"):
        require(0 <= getattr(f, name) < math.inf, f"finetune.{name} must be >= 0 (a loss weight)", getattr(f, name))
    require(0 < f.temperature < math.inf, "finetune.temperature must be > 0", f.temperature)
    check_mask_ratio(f.mask_ratio, "finetune.mask_ratio")
    require(f.positives in ("class", "self"), "finetune.positives must be 'class' or 'self'", f.positives)
    require(f.patience >= 1, "finetune.patience must be >= 1", f.patience)


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
        require(getattr(model, name) in valid, f"model.{name} must be one of {list(valid)}", getattr(model, name))


def check_probe(probe: ProbeConfig) -> None:
    """The probe section's protocol, class weighting and C grid."""
    require(probe.protocol in PROTOCOLS, f"probe.protocol must be one of {list(PROTOCOLS)}", probe.protocol)
    require(probe.class_weight in CLASS_WEIGHTS,
           "probe.class_weight must be None (the published, unweighted fit) or 'balanced'", probe.class_weight)
    require(isinstance(probe.C_grid, tuple) and len(probe.C_grid) > 0
           and all(isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0 for c in probe.C_grid),
           "probe.C_grid must be a non-empty tuple of positive numbers", probe.C_grid)
    require(isinstance(probe.max_iter, int) and not isinstance(probe.max_iter, bool) and probe.max_iter >= 1,
           "probe.max_iter must be a positive int", probe.max_iter)


def require(ok: bool, message: str, value: Any) -> None:
    if not ok:
        raise ValueError(f"{message} (got {value!r})")
