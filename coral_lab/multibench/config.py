"""Typed configuration for COrAL on feature data (MultiBench and the offline digits set).

One ``@dataclass`` per component, the paper's values as defaults (section 5.3 and 5.6.5), and named
presets per data set (``feature_config(dataset, preset)``): ``ci`` (seconds, tests and notebooks),
``quick`` (minutes on a 2-core CPU) and ``paper`` (the published encoders and 100 epochs, for a GPU).
The Trifeature ``RunConfig`` is not touched; the loss and probe sections are reused from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coral_lab.config import (
    BaselineConfig,
    ConfigTree,
    LossConfig,
    ProbeConfig,
    check_architecture_choices,
    check_method_name,
    check_probe,
    check_types,
)
from coral_lab.masking import mask_ratio_at
from coral_lab.multibench.datasets import DATASETS

__all__ = [
    "EncoderConfig",
    "FeatureModelConfig",
    "FeatureAugmentConfig",
    "FeatureTrainConfig",
    "FinetuneConfig",
    "FeatureRunConfig",
    "FEATURE_PRESETS",
    "feature_config",
]


@dataclass
class EncoderConfig:
    """Per-modality encoders (multibench.md "Published encoders").

    - sequences (text / vision features): 1x1 Conv1d to ``width``, then a ``layers``-layer,
      ``heads``-head pre-norm Transformer encoder (no positional encoding), all steps as tokens;
    - time series: a GRU with ``width`` hidden units returning every step;
    - tabular: MLP(F -> ``tabular_hidden`` -> ``tabular_hidden``) + a feature tokenizer to
      ``tabular_hidden`` tokens of width ``width``.
    """

    width: int = 40
    layers: int = 5
    heads: int = 5
    dropout: float = 0.1
    tabular_hidden: int = 10


@dataclass
class FeatureModelConfig:
    """The dual-path network on feature data; ``embed_dim`` is D (tokens, fusion), unique width D/2."""

    embed_dim: int = 40
    n_heads: int = 8  # fusion transformer (paper: eight heads)
    n_fusion_layers: int = 1
    mlp_ratio: float = 4.0
    proj_hidden: int = 512
    proj_dim: int = 256
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    # as coral_lab.config.ModelConfig: the published initialisation, fusion activation and pooling
    init: str = "published"
    fusion_activation: str = "quick_gelu"
    attention_pool: str = "unscaled"


@dataclass
class FeatureAugmentConfig:
    """Augmentations of feature data (``coral_lab.multibench.augment``).

    Sequences / time series (the published MultiBench feature augmentations): with probability
    ``drop_p`` zero a U(0, ``drop_max``) fraction of the time steps, with probability ``noise_p`` add
    Gaussian noise of std ``noise_std``. Tabular rows: SCARF-style corruption (each feature replaced,
    with probability ``corrupt_rate``, by the same feature of another row of the batch) plus the same noise.
    """

    drop_p: float = 0.5
    drop_max: float = 0.8
    noise_p: float = 0.5
    noise_std: float = 0.1
    corrupt_rate: float = 0.3


@dataclass
class FeatureTrainConfig:
    """Pretraining (paper 5.3): AdamW lr 1e-4, wd 1e-3, batch 64, 100 epochs, the 5/35/55/75 % schedule."""

    method: str = "coral"  # a key of coral_lab.methods.METHODS
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 1e-3
    mask_schedule: str | float | None = "paper"
    seed: int = 42
    num_threads: int | None = None


@dataclass
class FinetuneConfig:
    """Supervised-contrastive fine-tuning (paper 5.6.5): MOSI used 20 % masking, lambda_o = 1, early stopping.

    ``positives``: ``"class"`` (every same-class sample is a positive, SupCon) or ``"self"`` (only the
    sample's other view; other same-class samples are left out of the loss). ``patience``: epochs without
    a better validation accuracy before stopping.
    """

    epochs: int = 100
    lr: float = 1e-4
    weight_decay: float = 1e-3
    batch_size: int = 64
    mask_ratio: float = 0.2
    lambda_s: float = 1.0
    lambda_u: float = 1.0
    lambda_o: float = 1.0
    temperature: float = 0.1
    positives: str = "class"
    freeze_heads: bool = True
    patience: int = 10


@dataclass
class FeatureRunConfig(ConfigTree):
    """A feature-data run (a ``ConfigTree`` as the Trifeature ``RunConfig``): the data set, model, augmentation,
    loss, pretraining, probe, fine-tuning and the baselines' settings."""

    preset: str = "paper"
    dataset: str = "mosi"
    data_path: str | None = None  # file or folder; None: the environment variable, see datasets.py
    split_seed: int = 0  # MIMIC's shuffle and the digits split
    model: FeatureModelConfig = field(default_factory=FeatureModelConfig)
    augment: FeatureAugmentConfig = field(default_factory=FeatureAugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: FeatureTrainConfig = field(default_factory=FeatureTrainConfig)
    probe: ProbeConfig = field(default_factory=lambda: ProbeConfig(class_weight=None))
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    # the baselines' own settings (train.method = clip / comm / infmasking / factorcl), as on Trifeature
    baseline: BaselineConfig = field(default_factory=BaselineConfig)

    def validate(self) -> "FeatureRunConfig":
        check_types(self)
        m, t, f, b = self.model, self.train, self.finetune, self.baseline
        enc = m.encoder
        checks = [
            (m.n_heads >= 1 and enc.heads >= 1, "model.n_heads and model.encoder.heads must be >= 1",
             (m.n_heads, enc.heads)),
            (m.embed_dim % 2 == 0 and m.embed_dim % m.n_heads == 0,
             "model.embed_dim must be even and divisible by model.n_heads", (m.embed_dim, m.n_heads)),
            (enc.width % enc.heads == 0, "model.encoder.width must be divisible by model.encoder.heads",
             (enc.width, enc.heads)),
            (t.epochs > 0 and f.epochs > 0, "train.epochs and finetune.epochs must be > 0", (t.epochs, f.epochs)),
            (t.batch_size >= 2 and f.batch_size >= 2, "batch sizes must be >= 2 (contrastive losses need negatives)",
             (t.batch_size, f.batch_size)),
            (t.lr > 0 and f.lr > 0, "learning rates must be > 0", (t.lr, f.lr)),
            (0 <= f.mask_ratio < 1, "finetune.mask_ratio must be in [0, 1)", f.mask_ratio),
            (f.positives in ("class", "self"), "finetune.positives must be 'class' or 'self'", f.positives),
            (f.patience >= 1, "finetune.patience must be >= 1", f.patience),
            (self.loss.temperature > 0, "loss.temperature must be > 0", self.loss.temperature),
            (isinstance(b.infmasking_views, int) and b.infmasking_views >= 2,
             "baseline.infmasking_views must be an int >= 2", b.infmasking_views),
            (0 <= b.infmasking_ratio < 1, "baseline.infmasking_ratio must be in [0, 1)", b.infmasking_ratio),
            (b.infmasking_lambda >= 0, "baseline.infmasking_lambda must be >= 0", b.infmasking_lambda),
        ]
        for ok, message, value in checks:
            if not ok:
                raise ValueError(f"{message} (got {value!r})")
        check_architecture_choices(m)
        check_probe(self.probe)
        check_method_name(t.method)
        mask_ratio_at(0, t.epochs, t.mask_schedule)
        return self


# --------------------------------------------------------------------------------------------- presets

_AFFECT = ("mosi", "mosei", "humor", "sarcasm")


def _paper(dataset: str) -> FeatureRunConfig:
    cfg = FeatureRunConfig(preset="paper", dataset=dataset)
    if dataset == "mimic":
        # GRU(12 -> 512) for the time series, MLP(5 -> 10 -> 10) + tokenizer to 10 tokens of width 512
        # (heads only shape the sequence Transformer, which MIMIC does not use; 8 keeps width % heads == 0)
        cfg = cfg.replace(model={"embed_dim": 512, "encoder": {"width": 512, "heads": 8, "tabular_hidden": 10}})
    if dataset == "digits":
        cfg = cfg.replace(model={"embed_dim": 64, "encoder": {"width": 64, "layers": 2, "heads": 4}})
    return cfg


def _quick(dataset: str) -> FeatureRunConfig:
    # minutes on a 2-core CPU: narrow encoders, 2 Transformer layers, 30 epochs at lr 1e-3, same schedule shape
    cfg = _paper(dataset).replace(
        preset="quick",
        model={"embed_dim": 32, "proj_hidden": 128, "proj_dim": 64,
               "encoder": {"width": 32, "layers": 2, "heads": 4, "tabular_hidden": 10}},
        train={"epochs": 30, "lr": 1e-3},
        finetune={"epochs": 30, "lr": 3e-4, "patience": 8},
        probe={"C_grid": (0.01, 0.1, 1.0, 10.0), "max_iter": 500},
    )
    return cfg


def _ci(dataset: str) -> FeatureRunConfig:
    return _paper(dataset).replace(
        preset="ci",
        model={"embed_dim": 16, "proj_hidden": 16, "proj_dim": 8,
               "encoder": {"width": 8, "layers": 1, "heads": 2, "tabular_hidden": 4}},
        train={"epochs": 2, "batch_size": 16, "lr": 1e-3},
        finetune={"epochs": 2, "batch_size": 16, "lr": 1e-3, "patience": 1},
        probe={"C_grid": (1.0,), "max_iter": 100},
    )


FEATURE_PRESETS = {"ci": _ci, "quick": _quick, "paper": _paper}


def feature_config(dataset: str, preset: str = "quick") -> FeatureRunConfig:
    """The named preset for one data set (``mosi``, ``mosei``, ``humor``, ``sarcasm``, ``mimic``, ``digits``)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; valid: {sorted(DATASETS)}")
    if preset not in FEATURE_PRESETS:
        raise ValueError(f"unknown preset {preset!r}; valid presets: {sorted(FEATURE_PRESETS)}")
    return FEATURE_PRESETS[preset](dataset)
