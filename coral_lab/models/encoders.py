"""Modality-specific image encoders: the convolutional part of E_i^SR and F_i^U (paper section 4.1).

Both encoders map an image batch ``(B, C, H, W)`` to a feature map ``(B, out_channels, h, w)`` whose
``h * w`` cells become the modality's tokens. There is no global pooling: the spatial grid is kept.

- ``AlexNetFeatures``: the AlexNet ``features`` stack used on Trifeature (paper section 5.3, following
  CoMM): a 224 px image gives a ``(B, 256, 6, 6)`` map, i.e. 36 tokens.
- ``SmallCNN``: a narrow CNN for 32-128 px images on a CPU (not in the paper): three stride-2 stages,
  so a 32 px image gives a 4x4 map (16 tokens) and a 64 px image an 8x8 map (64 tokens).

Neither uses BatchNorm: the encoders see both augmented views in one batch, and every sample's features
must not depend on the other samples in the batch.

``ENCODERS`` is the registry; ``build_encoder(cfg)`` builds the one named by ``cfg.encoder``.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict

from torch import Tensor, nn

from coral_lab.config import ModelConfig
from coral_lab.models.tokens import LatentConverter

__all__ = ["AlexNetFeatures", "SmallCNN", "ENCODERS", "build_encoder", "TokenEncoder"]


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution or max-pool along one axis (floor mode, dilation 1)."""
    return (size + 2 * padding - kernel) // stride + 1


def _check_channels(in_channels: object) -> int:
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive int (3 for RGB images), got {in_channels!r}")
    return in_channels


def _as_hw(image_size: int | tuple[int, int]) -> tuple[int, int]:
    """``image_size`` as ``(H, W)``: an int means a square image."""
    if isinstance(image_size, bool):
        raise TypeError(f"image_size must be an int or an (H, W) pair of ints, got {image_size!r}")
    if isinstance(image_size, int):
        return image_size, image_size
    if (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) for s in image_size)
    ):
        return int(image_size[0]), int(image_size[1])
    raise TypeError(f"image_size must be an int or an (H, W) pair of ints, got {image_size!r}")


class _GridEncoder(nn.Module):
    """Common interface: ``out_channels``, ``min_image_size``, ``feature_shape``, ``forward``.

    Subclasses set ``self.layers`` (an ``nn.Sequential``), ``self.out_channels`` and
    ``self.in_channels``, and list their spatial operations as ``(kernel, stride, padding)`` in
    ``self._spatial_ops`` so the output grid can be computed exactly by arithmetic.
    """

    in_channels: int
    out_channels: int
    layers: nn.Sequential
    _spatial_ops: tuple[tuple[int, int, int], ...]

    @functools.cached_property
    def min_image_size(self) -> int:
        """The smallest square image side (pixels) for which every layer has a non-empty output."""
        size = 1
        while not self._fits(size):
            size += 1
        return size

    def _fits(self, size: int) -> bool:
        for kernel, stride, padding in self._spatial_ops:
            if size + 2 * padding < kernel:
                return False
            size = _out_size(size, kernel, stride, padding)
        return size >= 1

    def _grid_1d(self, size: int) -> int:
        for kernel, stride, padding in self._spatial_ops:
            size = _out_size(size, kernel, stride, padding)
        return size

    def feature_shape(self, image_size: int | tuple[int, int]) -> tuple[int, int]:
        """The exact ``(h, w)`` of the feature map for an ``image_size`` (int or ``(H, W)``) input.

        Raises ValueError naming the minimum size if the image is too small for this encoder.
        """
        height, width = _as_hw(image_size)
        minimum = self.min_image_size
        if height < minimum or width < minimum:
            raise ValueError(
                f"{type(self).__name__} needs images of at least {minimum}x{minimum} px, got {height}x{width}; "
                f"use a larger image_size or another encoder"
            )
        return self._grid_1d(height), self._grid_1d(width)

    def forward(self, x: Tensor) -> Tensor:
        """Images ``(B, C, H, W)`` -> feature map ``(B, out_channels, h, w)``."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects images of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
            )
        self.feature_shape((x.shape[2], x.shape[3]))  # raises if too small
        return self.layers(x)


class AlexNetFeatures(_GridEncoder):
    """The AlexNet ``features`` stack (torchvision layout), without the final adaptive average pool.

    conv 11x11/4 (64) -> ReLU -> maxpool 3/2 -> conv 5x5 (192) -> ReLU -> maxpool 3/2 -> conv 3x3 (384)
    -> ReLU -> conv 3x3 (256) -> ReLU -> conv 3x3 (256) -> ReLU -> maxpool 3/2.

    Shapes: ``(B, in_channels, 224, 224)`` -> ``(B, 256, 6, 6)``. The minimum image side is 63 px.
    """

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = _check_channels(in_channels)
        self.out_channels = 256
        self.layers = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self._spatial_ops = ((11, 4, 2), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 0))

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> "AlexNetFeatures":
        return cls(in_channels=cfg.in_channels)


class SmallCNN(_GridEncoder):
    """A narrow CNN for small images: four 3x3 conv stages with channels (w, 2w, 4w, 4w).

    Stage 1 has stride ``stem_stride`` (1 keeps the resolution, 2 halves it); stages 2-4 halve it (stride
    2). Each conv is followed by GroupNorm (per-sample, unlike BatchNorm) and ReLU. Shapes with stem
    stride 1: ``(B, C, 32, 32)`` -> ``(B, 4w, 4, 4)``; ``(B, C, 64, 64)`` -> ``(B, 4w, 8, 8)``; in general
    ``ceil(H / 8)``. With stem stride 2 a 64 px image costs about what a 32 px one does with stride 1 and
    gives a 4x4 map (``ceil(H / 16)``). The minimum image side is 8 px (one token).
    """

    def __init__(self, in_channels: int = 3, width: int = 64, stem_stride: int = 1) -> None:
        super().__init__()
        self.in_channels = _check_channels(in_channels)
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"SmallCNN width must be a positive int (e.g. 32 or 64), got {width!r}")
        if stem_stride not in (1, 2):
            raise ValueError(f"SmallCNN stem_stride must be 1 or 2, got {stem_stride!r}")
        channels = (width, 2 * width, 4 * width, 4 * width)
        strides = (stem_stride, 2, 2, 2)
        layers: list[nn.Module] = []
        previous = in_channels
        for out, stride in zip(channels, strides):
            layers += [
                # no conv bias: GroupNorm's own shift would make it redundant (zero gradient for 1-channel groups)
                nn.Conv2d(previous, out, kernel_size=3, stride=stride, padding=1, bias=False),
                # up to 8 groups; gcd keeps any width valid (1 group = per-sample LayerNorm over C, H, W)
                nn.GroupNorm(math.gcd(out, 8), out),
                nn.ReLU(inplace=True),
            ]
            previous = out
        self.layers = nn.Sequential(*layers)
        self.out_channels = channels[-1]
        self._spatial_ops = tuple((3, s, 1) for s in strides)

    @property
    def min_image_size(self) -> int:
        # every size >= 1 gives a non-empty map; 8 px (16 with a stride-2 stem) is the smallest that is
        # not upsampled by padding
        return 8 * self._spatial_ops[0][1]

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> "SmallCNN":
        return cls(in_channels=cfg.in_channels, width=cfg.encoder_width, stem_stride=cfg.encoder_stem_stride)


ENCODERS: dict[str, type[_GridEncoder]] = {"alexnet": AlexNetFeatures, "small_cnn": SmallCNN}


def build_encoder(cfg: ModelConfig) -> nn.Module:
    """A fresh encoder named by ``cfg.encoder`` (one of ``ENCODERS``), with freshly initialised weights."""
    if not isinstance(cfg, ModelConfig):
        raise TypeError(f"build_encoder expects a coral_lab.config.ModelConfig, got {type(cfg).__name__}")
    try:
        factory = ENCODERS[cfg.encoder]
    except (KeyError, TypeError):
        raise ValueError(f"unknown encoder {cfg.encoder!r}; valid encoders: {sorted(ENCODERS)}") from None
    return factory.from_config(cfg)


class TokenEncoder(nn.Sequential):
    """E_i: the configured CNN and COrAL's latent converter, ``(B, C, H, W)`` -> tokens ``(B, T_i, D)``.

    ``encoder`` then ``converter`` (``LatentConverter``); ``n_tokens`` is T_i. The shared pathway's
    E_i^SR, each unique pathway's encoder and converter, and every baseline's per-modality encoder.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        encoder = build_encoder(cfg)
        grid = encoder.feature_shape(cfg.image_size)  # raises, naming the minimum size, if too small
        converter = LatentConverter(encoder.out_channels, cfg.embed_dim, grid)
        super().__init__(OrderedDict(encoder=encoder, converter=converter))
        self.n_tokens = converter.n_tokens
