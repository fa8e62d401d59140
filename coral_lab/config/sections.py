"""The typed sections of a run config (``coral_lab.config.RunConfig``), the paper's values as defaults.

A run config is a few top-level fields (preset, method, data set) and one dataclass per component.
Which classes fill the data, augmentation and model sections depends on the data source:

- Trifeature images: ``DataConfig`` (the renderer and pair sets), ``AugmentConfig`` (SimCLR-style
  image views), ``ModelConfig`` (CNN encoders E_i, tokens, fusion, unique pathways);
- feature data (MultiBench, digits): ``FeatureDataConfig`` (file and split), ``FeatureAugmentConfig``
  (time-step drop, noise, SCARF corruption), ``FeatureModelConfig`` (Transformer / GRU / MLP encoders);

and every source shares ``LossConfig`` (eq. 3), ``TrainConfig`` (the one pretraining loop),
``ProbeConfig`` and ``FinetuneConfig`` (SupCon fine-tuning, used on feature data); a method's own
settings are its module's (``coral_lab.methods``: each method's ``Settings``), held in
``RunConfig.settings``. This module holds only the dataclasses; checking their values,
the presets and reading saved files are ``coral_lab.config``'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DataConfig",
    "AugmentConfig",
    "ModelConfig",
    "LossConfig",
    "TrainConfig",
    "ProbeConfig",
    "FeatureDataConfig",
    "EncoderConfig",
    "FeatureModelConfig",
    "FeatureAugmentConfig",
    "FinetuneConfig",
    "HELD_OUT",
    "PUBLISHED",
    "MEMORISATION_CONTROL",
    "PROTOCOLS",
    "PROTOCOL_LABELS",
]


# ------------------------------------------------------------------------------ Trifeature images

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


# ------------------------------------------------------------------------------ feature data


@dataclass
class FeatureDataConfig:
    """A feature data set's file and split (``coral_lab.data.features.load_dataset``); which data set
    is ``RunConfig.dataset``."""

    path: str | None = None  # file or folder; None: the environment variable, see data/features.py
    split_seed: int = 0  # MIMIC's shuffle and the digits split
    # the SHA-256 of the data file a run trains on, filled when the Table 2 protocol starts
    # (multibench.protocol.run_table2); None for the bundled digits set and before a run starts
    sha256: str | None = None


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
    # as ModelConfig: the published initialisation, fusion activation and pooling
    init: str = "published"
    fusion_activation: str = "quick_gelu"
    attention_pool: str = "unscaled"


@dataclass
class FeatureAugmentConfig:
    """Augmentations of feature data (``coral_lab.inputs.feature_augment``).

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


# ------------------------------------------------------------------------------ every source


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
    """Pretraining (paper section 5.3): AdamW, lr 1e-4, wd 1e-3, batch 64, 100 epochs, the 5/35/55/75 %
    masking schedule; one section for every data source and method (``coral_lab.training.loop.fit``)."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 1e-3
    # "paper" (0.05 / 0.35 / 0.55 / 0.75 per quarter), a float (static ratio), or None (no masking)
    mask_schedule: str | float | None = "paper"
    # Trifeature's pretraining pairs: "unbiased" (R + U model) or "biased" (synergy model); a feature data
    # set has one training split and keeps "unbiased"
    train_set: str = "unbiased"
    # "constant" (paper and released code: no schedule) or "cosine" (linear warm-up over the first 5 % of
    # the steps, then cosine decay to 0; coral_lab.training.optimisation.lr_at)
    lr_schedule: str = "constant"
    seed: int = 42
    amp: bool = True  # bf16 autocast of the pretraining forward on CUDA; ignored on the CPU
    num_threads: int | None = None  # torch CPU threads; None leaves torch's default
    # torch.compile mode for the model's parts (coral_lab.core.device.compile_parts): None (eager), "default",
    # "reduce-overhead" (CUDA graphs) or "max-autotune-no-cudagraphs"; how to run, not what to compute
    compile: str | None = None
    # image conv inputs and weights in channels_last memory format (feature models have no 2-D convs, so it
    # leaves them as they are): None = on CUDA only (on this project's AVX2 CPU
    # it was 1 % faster for the 4 x 4-token quick model and 5 % slower for the 2 x 2-token one,
    # benchmarks/ab_channels_last.py); how to run, not what to compute
    channels_last: bool | None = None


# the probe protocols of Trifeature (``ProbeConfig.protocol``; docs/evaluation-protocols.md)
HELD_OUT = "held_out"  # coral_lab's probe: C on a split of probe-train, fit on probe-train, test used once
PUBLISHED = "published"  # the replica of the released script (coral_lab.evaluation.published_probe)
MEMORISATION_CONTROL = "published_shuffled"  # the replica with the fitted test copy's labels permuted
PROTOCOLS = (HELD_OUT, PUBLISHED, MEMORISATION_CONTROL)
# how tables and figures name each protocol
PROTOCOL_LABELS = {
    HELD_OUT: "held out",
    PUBLISHED: "published protocol",
    MEMORISATION_CONTROL: "published, fitted labels shuffled",
}


@dataclass
class ProbeConfig:
    """Linear probe (scikit-learn LogisticRegression on standardised frozen features).

    C is chosen on a validation set (Trifeature: ``val_fraction`` of the probe-train pairs; feature data:
    the data set's own validation split); the test set is only ever used for the final score (unlike the
    published Trifeature script, see reference-results.md).
    """

    C_grid: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
    val_fraction: float = 0.2
    max_iter: int = 1000
    # None: the published probe (plain cross-entropy); "balanced": reweight classes to equal total weight
    class_weight: str | None = None
    # Trifeature: "held_out" (coral_lab's: C on a split of probe-train, fit on probe-train, test pairs used
    # once), "published" (the released script's protocol, a replica: coral_lab.evaluation.published_probe) or
    # "published_shuffled" (its memorisation control); the fields above belong to held_out
    protocol: str = "held_out"
