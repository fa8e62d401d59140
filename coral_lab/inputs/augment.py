"""Batched, per-sample SimCLR-style augmentation on the training device (paper section 4.2: the
augmentations t', t'' ~ T that make the two views X' and X'' of eq. 3's losses).

One call augments a whole batch: every sample gets its own random parameters, all randomness comes
from an explicit ``torch.Generator`` on the device of the images, there is no Python loop over
samples, no host-device synchronisation (no ``.item()``, no data-dependent shapes) on the uint8
training path, so the pipeline can be CUDA-graphed later.

The per-view pipeline (``shared/design/trifeature.md``, "Augmentations"), in torchvision's order:

1. random resized crop to ``S x S``, scale (0.08, 1), ratio (3/4, 4/3), plus horizontal flip
   (p = 0.5), done as one per-sample affine sampling grid (bilinear);
2. colour jitter (brightness 0.4, contrast 0.4, saturation 0.4, hue 0.1) with p = 0.8, the four
   operations in a random order drawn per sample, as torchvision's ``ColorJitter`` does per image;
3. grayscale (ITU-R 601-2 luma) with p = 0.2;
4. Gaussian blur, sigma uniform in [0.1, 2] pixels of a 224 px image (scaled by ``S / 224``),
   with p = 0.5;
5. ImageNet mean / std normalisation.

Each building block is a pure function of its inputs and the generator, and the ones with
non-trivial parameters split "draw the parameters" (``sample_crop_boxes``,
``sample_jitter_params``) from "apply them" (``resized_crop``, ``apply_color_jitter``), so tests can
check the batched result against a per-sample reference.

Why our own pipeline and not ``kornia.augmentation`` (``benchmarks/augment.py``, batch 64, uint8
in, normalised float out, median ms per call on the shared 2-core CPU, torch 2.13, 1 / 2 threads):

    size    coral_lab        kornia 0.9
    32 px   3.9 / 5.3 ms     9.7 / 6.5 ms
    64 px   19 / 14 ms       28 / 20 ms
    224 px  150 / 115 ms     330 / 560 ms

Ours is faster at every size (about 1.2-4x; the machine was shared with other jobs, so only the
ratios mean much), and it takes an explicit generator, where kornia draws its parameters from the
global RNG, so a view is reproducible from (seed, batch) alone and the generator state can be
registered for CUDA-graph capture. Not yet timed on a GPU: run
``python benchmarks/augment.py --device cuda`` there before choosing for the ``paper`` preset.

Two CPU-specific choices, both measured: per-sample selections use ``torch.lerp`` with a 0 / 1
weight instead of ``torch.where`` (bool masks are ~10x slower than arithmetic in torch 2.13's CPU
kernels), and on the CPU the batch is processed in cache-sized chunks after all parameters are drawn.

Random colour-jitter order per sample costs little: any order of (brightness, contrast, saturation,
hue) is "some of the three cheap blends, then hue, then the rest", and the three cheap operations are
all the same blend ``clamp(f * x + (1 - f) * m)`` with a different ``m`` (0, the mean grey level,
the grey image). So the batch runs three blend stages, one hue stage and three more blend stages,
each sample selecting its own operation (or none) per stage; the expensive RGB <-> HSV round trip runs
once instead of four times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor

from coral_lab.config import AugmentConfig

__all__ = [
    "augment_batch",
    "to_model_input",
    "random_resized_crop",
    "sample_crop_boxes",
    "resized_crop",
    "color_jitter",
    "JitterParams",
    "sample_jitter_params",
    "apply_color_jitter",
    "adjust_hue",
    "random_grayscale",
    "rgb_to_grayscale",
    "gaussian_blur",
    "gaussian_kernels1d",
    "blur_with_kernels",
    "rgb_to_hsv",
    "hsv_to_rgb",
    "normalize",
    "REFERENCE_SIZE",
]

REFERENCE_SIZE = 224  # the image side that AugmentConfig.blur_sigma is expressed in
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2 (PIL's "L" conversion)
_CPU_CHUNK_FLOATS = 3 * 2**17  # 1.5 MiB of float32 per intermediate tensor: stays in cache (measured)
_CROP_ATTEMPTS = 10  # torchvision's RandomResizedCrop tries 10 boxes before its central fallback
# jitter operation codes, as used in JitterParams.order
BRIGHTNESS, CONTRAST, SATURATION, HUE = 0, 1, 2, 3


# --------------------------------------------------------------------------------------------
# the whole pipeline
# --------------------------------------------------------------------------------------------


def augment_batch(
    images: Tensor,
    cfg: AugmentConfig,
    generator: torch.Generator,
    out_size: int | None = None,
    *,
    chunk_size: int | None = None,
) -> Tensor:
    """One random view t(X) of every image in the batch, each image with its own parameters.

    All parameters are drawn for the whole batch first (crop boxes, flips, jitter, grayscale,
    blur, in that order: the same draws as composing ``random_resized_crop``, ``color_jitter``,
    ``random_grayscale`` and ``gaussian_blur`` with one generator). They are then applied to chunks
    of the batch; the result does not depend on the chunk size.

    Args:
        images: uint8 ``(B, H, W, 3)`` (how the data set is stored) or float ``(B, 3, H, W)`` in
            [0, 1]. The uint8 path is free of host-device syncs; float input is checked for
            non-finite / out-of-range values, which costs one sync.
        cfg: the pipeline's parameters (``AugmentConfig``); ``blur_sigma`` is in pixels of a 224 px
            image and is scaled by ``S / 224``.
        generator: the only source of randomness; must live on the images' device.
        out_size: S, the output side; defaults to the input side (input must then be square).
        chunk_size: samples processed together after the draw. None: the whole batch on an
            accelerator; on the CPU enough samples for about 1.5 MiB per intermediate tensor, which
            keeps the ~60 elementwise passes in cache (224 px: about 1.3 s -> 0.1-0.15 s per 64).

    Returns:
        float32 ``(B, 3, S, S)``, normalised with ``cfg.mean`` / ``cfg.std``, contiguous.
    """
    if not isinstance(cfg, AugmentConfig):
        raise TypeError(f"cfg must be a coral_lab.config.AugmentConfig, got {type(cfg).__name__}")
    b, h, w = _check_input_images(images)
    _check_generator(generator, images)
    if out_size is None:
        if h != w:
            raise ValueError(f"images are not square ({h} x {w}); pass out_size=S explicitly")
        out_size = h
    size = _check_size(out_size)
    if chunk_size is None:
        chunk_size = b if images.device.type != "cpu" else max(1, _CPU_CHUNK_FLOATS // (3 * size * size))
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    lo, hi = _check_range(cfg.blur_sigma, "cfg.blur_sigma", low=0.0, high=math.inf, low_open=True)
    sigma_range = (lo * size / REFERENCE_SIZE, hi * size / REFERENCE_SIZE)  # 224 px units -> pixels of S
    params = _draw_view_params(b, h, w, cfg, sigma_range, generator)
    radius = max(1, math.ceil(3 * sigma_range[1]))  # as in gaussian_blur

    if chunk_size >= b:
        return _augment_chunk(images, params, slice(0, b), size, cfg, radius).contiguous()
    out = torch.empty(b, 3, size, size, dtype=torch.float32, device=images.device)
    for start in range(0, b, chunk_size):  # a loop over cache-sized chunks (CPU only), not samples
        sl = slice(start, min(start + chunk_size, b))
        out[sl] = _augment_chunk(images[sl], params, sl, size, cfg, radius)
    return out


@dataclass(frozen=True)
class _ViewParams:
    """Everything ``augment_batch`` draws for a batch; tensors on the generator's device."""

    boxes: Tensor  # (B, 4) crop boxes (top, left, height, width)
    flip: Tensor  # (B,) bool
    jitter: JitterParams
    grey: Tensor  # (B,) bool
    blur_sigma: Tensor  # (B,) in pixels of the output
    blur: Tensor  # (B,) bool


def _draw_view_params(
    b: int, h: int, w: int, cfg: AugmentConfig, sigma_range: tuple[float, float], generator: torch.Generator
) -> _ViewParams:
    """The draws of the composed building blocks, in their order (tests check the equivalence)."""
    flip_p = _check_prob(cfg.flip_p, "cfg.flip_p")
    grey_p = _check_prob(cfg.grayscale_p, "cfg.grayscale_p")
    blur_p = _check_prob(cfg.blur_p, "cfg.blur_p")
    dev = generator.device
    boxes = sample_crop_boxes(b, h, w, cfg.crop_scale, cfg.crop_ratio, generator)
    flip = torch.rand(b, generator=generator, device=dev) < flip_p
    jitter = sample_jitter_params(b, cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue, cfg.jitter_p, generator)
    grey = torch.rand(b, generator=generator, device=dev) < grey_p
    u = torch.rand(b, generator=generator, device=dev)
    blur = torch.rand(b, generator=generator, device=dev) < blur_p
    lo, hi = sigma_range
    return _ViewParams(boxes, flip, jitter, grey, lo + (hi - lo) * u, blur)


def _augment_chunk(
    images: Tensor, params: _ViewParams, sl: slice, size: int, cfg: AugmentConfig, radius: int
) -> Tensor:
    """Apply the drawn parameters ``params[sl]`` to ``images`` (the same samples), (b, 3, S, S)."""
    x = _to_float_nchw(images)  # (b, 3, H, W) in [0, 1]
    x = resized_crop(x, params.boxes[sl], size, params.flip[sl])  # (b, 3, S, S)
    if cfg.jitter_p > 0:  # skipping is exact: with p = 0 no sample is jittered
        j = params.jitter
        sub = JitterParams(j.brightness[sl], j.contrast[sl], j.saturation[sl], j.hue[sl], j.order[sl], j.apply[sl])
        x = _apply_color_jitter(x, sub, with_hue=cfg.hue > 0)
    if cfg.grayscale_p > 0:
        x = _select(params.grey[sl], rgb_to_grayscale(x, 3), x)
    if cfg.blur_p > 0:
        kernels = gaussian_kernels1d(params.blur_sigma[sl].to(x.dtype), radius)
        x = _select(params.blur[sl], blur_with_kernels(x, kernels), x)
    return normalize(x, cfg.mean, cfg.std)


def to_model_input(images: Tensor, cfg: AugmentConfig | None = None) -> Tensor:
    """The inference path: no augmentation (paper section 4.2, "during inference, neither data
    augmentation nor masking is applied"), only scaling and normalisation.

    Args:
        images: uint8 ``(B, H, W, 3)`` or float ``(B, 3, H, W)`` in [0, 1].
        cfg: supplies ``mean`` / ``std``; ``None`` means ``AugmentConfig()`` (ImageNet).

    Returns:
        float32 ``(B, 3, H, W)``, ``(x / 255 - mean) / std``, contiguous.
    """
    if cfg is None:
        cfg = AugmentConfig()
    if not isinstance(cfg, AugmentConfig):
        raise TypeError(f"cfg must be a coral_lab.config.AugmentConfig or None, got {type(cfg).__name__}")
    _check_input_images(images)
    return normalize(_to_float_nchw(images), cfg.mean, cfg.std).contiguous()


# --------------------------------------------------------------------------------------------
# random resized crop + horizontal flip
# --------------------------------------------------------------------------------------------


def random_resized_crop(
    x: Tensor,
    out_size: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    flip_p: float,
    generator: torch.Generator,
) -> Tensor:
    """Per-sample random resized crop and horizontal flip, bilinear, as one affine grid.

    Boxes follow torchvision's ``RandomResizedCrop`` (see ``sample_crop_boxes``); the crop is then
    resized to ``S x S`` and mirrored left-right with probability ``flip_p``. When S is smaller than
    the crop the bilinear resize is not anti-aliased (at the sizes used here the crop is never
    larger than the output).

    Args:
        x: float ``(B, C, H, W)``.
        out_size: S.
        scale: (lo, hi), the crop's area as a fraction of H * W, 0 < lo <= hi <= 1.
        ratio: (lo, hi), the crop's width / height, 0 < lo <= hi.
        flip_p: probability of a horizontal flip, in [0, 1].
        generator: on x's device.

    Returns:
        ``(B, C, S, S)``, same dtype as x.
    """
    _check_float_images(x, "x", channels=None)
    _check_generator(generator, x)
    size = _check_size(out_size)
    flip_p = _check_prob(flip_p, "flip_p")
    b, _, h, w = x.shape
    boxes = sample_crop_boxes(b, h, w, scale, ratio, generator)  # (B, 4)
    flip = torch.rand(b, generator=generator, device=generator.device) < flip_p  # (B,)
    return resized_crop(x, boxes, size, flip)


def sample_crop_boxes(
    batch_size: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator,
) -> Tensor:
    """Draw one crop box per sample, with torchvision's ``RandomResizedCrop`` distribution.

    Per sample, 10 candidate boxes are drawn (area fraction ~ U(scale), log aspect ~ U(log ratio),
    side lengths rounded to pixels); the first that fits inside the image wins, with a top-left
    corner uniform over the integer positions. If none fits, the central crop with the aspect ratio
    clamped into ``ratio`` is used. All candidates are drawn at once, so no data-dependent control flow.

    Returns:
        float32 ``(B, 4)`` on the generator's device: (top, left, crop_height, crop_width) in
        pixels, integer-valued, with ``0 <= top``, ``top + crop_height <= height`` (same for width).
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    for name, v in (("batch_size", batch_size), ("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    s_lo, s_hi = _check_range(scale, "scale", low=0.0, high=1.0, low_open=True)
    r_lo, r_hi = _check_range(ratio, "ratio", low=0.0, high=math.inf, low_open=True)
    dev = generator.device

    u = torch.rand(batch_size, _CROP_ATTEMPTS, 2, generator=generator, device=dev)  # (B, A, 2)
    area = height * width * (s_lo + (s_hi - s_lo) * u[..., 0])  # (B, A)
    log_lo, log_hi = math.log(r_lo), math.log(r_hi)
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])  # (B, A) width / height
    cw = torch.round(torch.sqrt(area * aspect))
    ch = torch.round(torch.sqrt(area / aspect))
    fits = (cw > 0) & (cw <= width) & (ch > 0) & (ch <= height)  # (B, A)
    first = fits.to(torch.uint8).argmax(dim=1, keepdim=True)  # index of the first fitting candidate
    any_fits = fits.any(dim=1)  # (B,)
    cw = cw.gather(1, first).squeeze(1)
    ch = ch.gather(1, first).squeeze(1)

    # torchvision's fallback: the central crop, aspect ratio clamped into the allowed range
    in_ratio = width / height
    if in_ratio < r_lo:
        fb_w, fb_h = width, int(round(width / r_lo))
    elif in_ratio > r_hi:
        fb_w, fb_h = int(round(height * r_hi)), height
    else:
        fb_w, fb_h = width, height
    cw = torch.where(any_fits, cw, torch.full_like(cw, float(fb_w)))
    ch = torch.where(any_fits, ch, torch.full_like(ch, float(fb_h)))

    v = torch.rand(batch_size, 2, generator=generator, device=dev)  # (B, 2)
    top = torch.minimum(torch.floor(v[:, 0] * (height - ch + 1)), height - ch)
    left = torch.minimum(torch.floor(v[:, 1] * (width - cw + 1)), width - cw)
    top = torch.where(any_fits, top, torch.div(height - ch, 2, rounding_mode="floor"))
    left = torch.where(any_fits, left, torch.div(width - cw, 2, rounding_mode="floor"))
    return torch.stack([top, left, ch, cw], dim=1)


def resized_crop(x: Tensor, boxes: Tensor, out_size: int, flip: Tensor | None = None) -> Tensor:
    """Crop each sample to its box and resize it to ``S x S`` (bilinear), optionally mirrored.

    Pixel-centre convention (``align_corners=False``): a box covering pixels ``left .. left+w-1``
    maps onto the output like ``F.interpolate(crop, S, mode="bilinear")``, except that the
    outermost output pixels blend in the image pixels just outside the box (interpolate clamps at
    the crop's edge); a full-image box with S equal to the image side is the identity.

    Args:
        x: float ``(B, C, H, W)``.
        boxes: ``(B, 4)`` (top, left, crop_height, crop_width) in pixels.
        out_size: S.
        flip: bool ``(B,)``, mirror left-right where True; None means no flip.

    Returns:
        ``(B, C, S, S)``.
    """
    _check_float_images(x, "x", channels=None)
    size = _check_size(out_size)
    b, c, h, w = x.shape
    if not isinstance(boxes, Tensor) or boxes.shape != (b, 4):
        raise ValueError(f"boxes must be a tensor of shape ({b}, 4) (top, left, height, width), "
                         f"got {getattr(boxes, 'shape', type(boxes).__name__)}")
    if boxes.device != x.device:
        raise ValueError(f"boxes are on {boxes.device} but x is on {x.device}; move them to the same device")
    boxes = boxes.to(x.dtype)
    top, left, ch, cw = boxes.unbind(dim=1)  # each (B,)
    # normalised coordinates: -1 is the left edge of pixel 0, +1 the right edge of pixel W-1
    sx = cw / w
    sy = ch / h
    if flip is not None:
        if not isinstance(flip, Tensor) or flip.shape != (b,) or flip.dtype != torch.bool:
            raise ValueError(f"flip must be a bool tensor of shape ({b},), got "
                             f"{getattr(flip, 'dtype', type(flip).__name__)} {getattr(flip, 'shape', '')}")
        sx = torch.where(flip.to(x.device), -sx, sx)
    cx = (2 * left + cw) / w - 1
    cy = (2 * top + ch) / h - 1
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx, zero, cx], 1), torch.stack([zero, sy, cy], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)  # (B, S, S, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# --------------------------------------------------------------------------------------------
# colour jitter
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JitterParams:
    """Per-sample colour-jitter parameters (torchvision ``ColorJitter`` semantics).

    Attributes:
        brightness: ``(B,)`` factor f_b: x -> clamp(f_b * x).
        contrast: ``(B,)`` factor f_c: x -> clamp(f_c * x + (1 - f_c) * mean(grey(x))).
        saturation: ``(B,)`` factor f_s: x -> clamp(f_s * x + (1 - f_s) * grey(x)).
        hue: ``(B,)`` shift in turns, added to H in HSV (mod 1).
        order: int64 ``(B, 4)``, a permutation of (BRIGHTNESS, CONTRAST, SATURATION, HUE) =
            (0, 1, 2, 3) per sample: the order in which the four operations are applied.
        apply: bool ``(B,)``, whether the sample is jittered at all (probability p).
    """

    brightness: Tensor
    contrast: Tensor
    saturation: Tensor
    hue: Tensor
    order: Tensor
    apply: Tensor


def color_jitter(
    x: Tensor,
    brightness: float,
    contrast: float,
    saturation: float,
    hue: float,
    p: float,
    generator: torch.Generator,
) -> Tensor:
    """Random colour jitter with probability p, per-sample factors and per-sample random order.

    Factors are uniform in ``[max(0, 1 - v), 1 + v]`` for brightness / contrast / saturation and the
    hue shift is uniform in ``[-hue, hue]`` (0 <= hue <= 0.5), as in torchvision.

    Args:
        x: float ``(B, 3, H, W)`` in [0, 1].

    Returns:
        ``(B, 3, H, W)`` in [0, 1]; samples not drawn (probability 1 - p) are returned unchanged.
    """
    _check_float_images(x, "x", channels=3)
    _check_generator(generator, x)
    params = sample_jitter_params(x.shape[0], brightness, contrast, saturation, hue, p, generator)
    if p == 0:
        return x  # parameters were still drawn, so the generator advances the same for every p
    return _apply_color_jitter(x, params, with_hue=hue > 0)


def sample_jitter_params(
    batch_size: int,
    brightness: float,
    contrast: float,
    saturation: float,
    hue: float,
    p: float,
    generator: torch.Generator,
) -> JitterParams:
    """Draw ``JitterParams`` for a batch on the generator's device (see ``color_jitter``)."""
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    strengths = [_check_nonneg(v, name) for v, name in
                 ((brightness, "brightness"), (contrast, "contrast"), (saturation, "saturation"))]
    hue = _check_nonneg(hue, "hue")
    if hue > 0.5:
        raise ValueError(f"hue must be in [0, 0.5] (a shift of at most half a turn), got {hue!r}")
    p = _check_prob(p, "p")
    dev = generator.device

    u = torch.rand(batch_size, 4, generator=generator, device=dev)  # (B, 4)
    # factor ~ U[max(0, 1 - v), 1 + v]
    factors = [max(0.0, 1.0 - v) + (1.0 + v - max(0.0, 1.0 - v)) * u[:, i] for i, v in enumerate(strengths)]
    order = torch.rand(batch_size, 4, generator=generator, device=dev).argsort(dim=1)  # uniform permutation
    apply = torch.rand(batch_size, generator=generator, device=dev) < p
    return JitterParams(
        brightness=factors[0],
        contrast=factors[1],
        saturation=factors[2],
        hue=hue * (2 * u[:, 3] - 1),
        order=order,
        apply=apply,
    )


def apply_color_jitter(x: Tensor, params: JitterParams) -> Tensor:
    """Apply per-sample jitter: for each sample, its four operations in ``params.order``.

    Any order of the four is "the cheap blends placed before hue, hue, the cheap blends after it";
    so three blend stages, one hue stage and three blend stages, each sample picking its own
    operation (or none) per stage, give every sample its own order at the cost of one HSV round trip.

    Args:
        x: float ``(B, 3, H, W)`` in [0, 1].
        params: from ``sample_jitter_params``, tensors of batch size B on x's device.

    Returns:
        ``(B, 3, H, W)`` in [0, 1].
    """
    _check_float_images(x, "x", channels=3)
    if not isinstance(params, JitterParams):
        raise TypeError(f"params must be JitterParams, got {type(params).__name__}")
    b = x.shape[0]
    for name in ("brightness", "contrast", "saturation", "hue", "apply"):
        t = getattr(params, name)
        if t.shape != (b,) or t.device != x.device:
            raise ValueError(f"params.{name} must have shape ({b},) on {x.device}, got {tuple(t.shape)} on {t.device}")
    if params.order.shape != (b, 4) or params.order.device != x.device:
        raise ValueError(f"params.order must have shape ({b}, 4) on {x.device}, got {tuple(params.order.shape)}")
    return _apply_color_jitter(x, params, with_hue=True)


def _apply_color_jitter(x: Tensor, params: JitterParams, with_hue: bool) -> Tensor:
    """``apply_color_jitter`` without the checks; ``with_hue=False`` skips the (all-zero) hue stage."""
    order = params.order
    hue_pos = (order == HUE).to(torch.uint8).argmax(dim=1)  # (B,) position of hue in each order
    y = x
    for t in range(3):  # positions before hue
        y = _blend_stage(y, order[:, t], t < hue_pos, params)
    if with_hue:  # a zero shift is skipped exactly (the HSV round trip is only exact to ~1e-7)
        y = _select(params.hue != 0, adjust_hue(y, params.hue), y)
    for t in range(3):  # positions after hue
        pos = hue_pos + 1 + t  # (B,)
        op = order.gather(1, pos.clamp(max=3)[:, None]).squeeze(1)
        y = _blend_stage(y, op, pos <= 3, params)
    return _select(params.apply, y, x)


def _select(mask: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """Per sample, ``a`` where mask else ``b``. mask: bool (B,); a, b: (B, ...).

    ``lerp`` with a 0 / 1 weight returns b / a exactly for finite values, and is ~6x faster than
    ``torch.where`` with a broadcast bool mask on the CPU.
    """
    w = mask.to(a.dtype).view(-1, *([1] * (a.ndim - 1)))
    return torch.lerp(b, a, w)


def _blend_stage(y: Tensor, op: Tensor, active: Tensor, params: JitterParams) -> Tensor:
    """One stage where each sample applies brightness, contrast or saturation (op), or nothing.

    All three are ``clamp(m + f * (y - m))``: m = 0 (brightness), the sample's mean grey level
    (contrast), the grey image (saturation); "nothing" is f = 1. y: (B, 3, H, W); op, active: (B,).
    """
    factor = torch.where(op == BRIGHTNESS, params.brightness,
                         torch.where(op == CONTRAST, params.contrast, params.saturation))
    factor = torch.where(active & (op != HUE), factor, torch.ones_like(factor))  # (B,)
    grey = rgb_to_grayscale(y, num_output_channels=1)  # (B, 1, H, W)
    mean = grey.mean(dim=(-2, -1), keepdim=True)  # (B, 1, 1, 1)
    is_con = (op == CONTRAST).to(y.dtype)[:, None, None, None]
    is_sat = (op == SATURATION).to(y.dtype)[:, None, None, None]
    m = grey.mul_(is_sat).add_(mean * is_con)  # (B, 1, H, W)
    return torch.lerp(m, y, factor.to(y.dtype)[:, None, None, None]).clamp_(0.0, 1.0)


def adjust_hue(x: Tensor, shift: Tensor) -> Tensor:
    """Rotate hue by ``shift`` turns: the same as RGB -> HSV, H <- (H + shift) mod 1, HSV -> RGB.

    Computed without materialising HSV: a hue rotation keeps V = max and V * S = max - min, so
    each channel is ``max - (max - min) * clamp(2 - d, 0, 1)``, where d is the circular distance
    (on the hexagon, 6 H in [0, 6)) from the rotated hue to the channel's complementary hue
    (R: 3 = cyan, G: 5 = magenta, B: 1 = yellow); this is ``hsv_to_rgb`` rewritten without a
    modulo per channel. Masks are float multiplies, not ``torch.where``: on the CPU, bool masks
    and ``where`` are an order of magnitude slower than arithmetic, and hue dominates jitter.

    Args:
        x: float ``(B, 3, H, W)`` in [0, 1].
        shift: ``(B,)`` in turns, |shift| <= 0.5.

    Returns:
        ``(B, 3, H, W)`` in [0, 1].
    """
    _check_float_images(x, "x", channels=3)
    if not isinstance(shift, Tensor) or shift.shape != (x.shape[0],):
        raise ValueError(f"shift must be a tensor of shape ({x.shape[0]},), got {getattr(shift, 'shape', shift)!r}")
    r, g, b = x.unbind(dim=1)  # each (B, H, W)
    maxc = torch.maximum(torch.maximum(r, g), b)
    delta = maxc - torch.minimum(torch.minimum(r, g), b)
    # which channel holds the max, first of R, G, B on ties (colorsys); comparisons write floats
    r_max = torch.eq(r, maxc, out=torch.empty_like(maxc))
    g_max = torch.eq(g, maxc, out=torch.empty_like(maxc)).mul_(1.0 - r_max)
    b_max = 1.0 - r_max - g_max
    # colorsys: 6 H = (g - b) / delta if R is the max, 2 + (b - r) / delta if G, else 4 + (r - g) / delta.
    # Where delta = 0 (a grey) all differences are 0, so any positive denominator gives H = 0.
    num = r_max * (g - b) + g_max * (b - r) + b_max * (r - g)
    h6 = num.div_(delta.clamp_min(1e-12)).add_(g_max, alpha=2.0).add_(b_max, alpha=4.0)
    h6.add_(6.0 * shift.to(x.dtype)[:, None, None])  # in [-4, 8]
    h6.sub_(torch.floor(h6 * (1.0 / 6.0)), alpha=6.0)  # mod 6 -> [0, 6); floor is faster than remainder
    centre = _channel_constants([3.0, 5.0, 1.0], x).view(3, 1, 1)
    dist = (h6.unsqueeze(1) - centre).abs_()  # (B, 3, H, W), in [0, 6]
    dist = torch.minimum(dist, 6.0 - dist)  # circular distance on the hexagon
    ramp = dist.neg_().add_(2.0).clamp_(0.0, 1.0)
    return maxc.unsqueeze(1) - delta.unsqueeze(1) * ramp


def rgb_to_hsv(x: Tensor) -> Tensor:
    """RGB -> HSV, all channels in [0, 1] (the ``colorsys`` convention; H in turns, 0 for greys).

    Args:
        x: float ``(..., 3, H, W)`` in [0, 1].

    Returns:
        ``(..., 3, H, W)``: (hue, saturation, value).
    """
    _check_channels(x, "x")
    r, g, b = x.unbind(dim=-3)
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    delta = maxc - minc
    s = delta / torch.where(maxc > 0, maxc, torch.ones_like(maxc))
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    rc, gc, bc = (maxc - r) / safe, (maxc - g) / safe, (maxc - b) / safe
    h = torch.where(r == maxc, bc - gc, torch.where(g == maxc, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, torch.remainder(h / 6.0, 1.0), torch.zeros_like(h))
    return torch.stack([h, s, maxc], dim=-3)


def hsv_to_rgb(x: Tensor) -> Tensor:
    """HSV -> RGB, inverse of ``rgb_to_hsv`` (H in turns, taken mod 1).

    Branch-free: channel n in {R: 5, G: 3, B: 1} is ``V - V * S * clamp(min(k, 4 - k), 0, 1)``
    with ``k = (n + 6 H) mod 6``.

    Args:
        x: float ``(..., 3, H, W)``: (hue, saturation, value).

    Returns:
        ``(..., 3, H, W)`` RGB.
    """
    _check_channels(x, "x")
    h, s, v = x.unbind(dim=-3)
    n = _channel_constants([5.0, 3.0, 1.0], x).view(3, 1, 1)  # (3, 1, 1)
    k = torch.remainder(n + 6.0 * h.unsqueeze(-3), 6.0)  # (..., 3, H, W)
    ramp = torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)
    v3, s3 = v.unsqueeze(-3), s.unsqueeze(-3)
    return v3 - v3 * s3 * ramp


# --------------------------------------------------------------------------------------------
# grayscale
# --------------------------------------------------------------------------------------------


def rgb_to_grayscale(x: Tensor, num_output_channels: int = 3) -> Tensor:
    """ITU-R 601-2 luma ``L = 0.299 R + 0.587 G + 0.114 B``.

    Args:
        x: float ``(B, 3, H, W)``.
        num_output_channels: 1 or 3 (L repeated).

    Returns:
        ``(B, num_output_channels, H, W)``; with 3 channels a broadcast (expanded) view of L.
    """
    _check_channels(x, "x")
    if num_output_channels not in (1, 3):
        raise ValueError(f"num_output_channels must be 1 or 3, got {num_output_channels!r}")
    r, g, b = x.unbind(dim=-3)
    luma = (r * _LUMA[0]).add_(g, alpha=_LUMA[1]).add_(b, alpha=_LUMA[2]).unsqueeze(-3)  # (..., 1, H, W)
    return luma.expand(*x.shape) if num_output_channels == 3 else luma


def random_grayscale(x: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Replace each sample by its luma (all 3 channels equal) with probability p.

    Args:
        x: float ``(B, 3, H, W)``.

    Returns:
        ``(B, 3, H, W)``.
    """
    _check_float_images(x, "x", channels=3)
    _check_generator(generator, x)
    p = _check_prob(p, "p")
    apply = torch.rand(x.shape[0], generator=generator, device=generator.device) < p  # (B,)
    if p == 0:
        return x
    return _select(apply, rgb_to_grayscale(x, 3), x)


# --------------------------------------------------------------------------------------------
# Gaussian blur
# --------------------------------------------------------------------------------------------


def gaussian_kernels1d(sigma: Tensor, radius: int) -> Tensor:
    """Normalised 1-D Gaussian kernels, one per sample, truncated at ``radius`` pixels.

    Args:
        sigma: ``(B,)`` positive standard deviations in pixels.
        radius: kernel half-width R (kernel size 2R + 1).

    Returns:
        ``(B, 2R + 1)``, each row summing to 1.
    """
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
        raise ValueError(f"radius must be a non-negative int, got {radius!r}")
    if not isinstance(sigma, Tensor) or sigma.ndim != 1:
        raise ValueError(f"sigma must be a 1-D tensor (B,), got {getattr(sigma, 'shape', type(sigma).__name__)}")
    offsets = torch.arange(-radius, radius + 1, dtype=sigma.dtype, device=sigma.device)  # (K,)
    k = torch.exp(-0.5 * (offsets[None, :] / sigma[:, None]) ** 2)  # (B, K)
    return k / k.sum(dim=1, keepdim=True)


def blur_with_kernels(x: Tensor, kernels: Tensor) -> Tensor:
    """Separable blur of each sample with its own 1-D kernel (rows, then columns), reflect padding.

    Args:
        x: float ``(B, C, H, W)`` with H, W > R.
        kernels: ``(B, 2R + 1)``.

    Returns:
        ``(B, C, H, W)``.
    """
    _check_float_images(x, "x", channels=None)
    b, c, h, w = x.shape
    if not isinstance(kernels, Tensor) or kernels.ndim != 2 or kernels.shape[0] != b or kernels.shape[1] % 2 != 1:
        raise ValueError(f"kernels must have shape ({b}, 2R + 1), got {getattr(kernels, 'shape', None)}")
    size = kernels.shape[1]
    radius = size // 2
    if radius >= min(h, w):
        raise ValueError(f"blur radius {radius} needs images larger than {radius} px for reflect padding, "
                         f"got {h} x {w}; use a smaller sigma or larger images")
    weight = kernels.to(x.dtype)[:, None, :].expand(b, c, size).reshape(b * c, size)  # (B*C, K): per channel
    xp = F.pad(x.reshape(1, b * c, h, w), (radius, radius, radius, radius), mode="reflect")
    if x.device.type == "cpu":  # oneDNN's depthwise convolution is ~1.5x faster channels-last (measured)
        xp = xp.contiguous(memory_format=torch.channels_last)
    y = F.conv2d(xp, weight.view(b * c, 1, size, 1), groups=b * c)  # (1, B*C, H, W + 2R)
    y = F.conv2d(y, weight.view(b * c, 1, 1, size), groups=b * c)  # (1, B*C, H, W)
    return y.reshape(b, c, h, w)


def gaussian_blur(
    x: Tensor, sigma_range: tuple[float, float], p: float, generator: torch.Generator
) -> Tensor:
    """Blur each sample with probability p, sigma ~ U(sigma_range) per sample (in pixels of x).

    The kernel size is fixed for the batch, ``2R + 1`` with ``R = max(1, ceil(3 sigma_max))``, so
    shapes never depend on the draw. (``augment_batch`` scales the config's 224 px sigma to S.)

    Args:
        x: float ``(B, C, H, W)``.
        sigma_range: (lo, hi), 0 < lo <= hi.

    Returns:
        ``(B, C, H, W)``.
    """
    _check_float_images(x, "x", channels=None)
    _check_generator(generator, x)
    lo, hi = _check_range(sigma_range, "sigma_range", low=0.0, high=math.inf, low_open=True)
    p = _check_prob(p, "p")
    b = x.shape[0]
    u = torch.rand(b, generator=generator, device=generator.device)
    apply = torch.rand(b, generator=generator, device=generator.device) < p  # (B,)
    if p == 0:
        return x
    sigma = (lo + (hi - lo) * u).to(x.dtype)  # (B,)
    radius = max(1, math.ceil(3 * hi))
    blurred = blur_with_kernels(x, gaussian_kernels1d(sigma, radius))
    return _select(apply, blurred, x)


# --------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------


def normalize(x: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """Per-channel ``(x - mean) / std``.

    Args:
        x: float ``(B, C, H, W)``.
        mean, std: C numbers each; std > 0.

    Returns:
        ``(B, C, H, W)``.
    """
    _check_float_images(x, "x", channels=None)
    c = x.shape[1]
    if len(mean) != c or len(std) != c:
        raise ValueError(f"mean and std need {c} values (one per channel), got {len(mean)} and {len(std)}")
    if not all(isinstance(s, Real) and s > 0 for s in std):
        raise ValueError(f"std must be positive numbers, got {tuple(std)}")
    scale = _channel_constants([1.0 / v for v in std], x)  # (1, C, 1, 1)
    shift = _channel_constants([-m / v for m, v in zip(mean, std)], x)
    return torch.addcmul(shift, x, scale)  # x / std - mean / std in one pass


# --------------------------------------------------------------------------------------------
# validation (host-side only, except the one value check of float inputs in _check_input_images)
# --------------------------------------------------------------------------------------------


def _channel_constants(values: list[float], like: Tensor) -> Tensor:
    """(1, C, 1, 1) constants on like's device, made by fill kernels rather than a host-to-device
    copy (``torch.tensor(..., device="cuda")``), so the pipeline stays capturable in a CUDA graph."""
    consts = [torch.full((), float(v), dtype=like.dtype, device=like.device) for v in values]
    return torch.stack(consts).view(1, -1, 1, 1)


def _check_input_images(images: Tensor) -> tuple[int, int, int]:
    """Validate pipeline input, return (B, H, W): uint8 (B, H, W, 3) or float (B, 3, H, W) in [0, 1]."""
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype == torch.uint8:
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"uint8 images must have shape (B, H, W, 3) (channels last, as stored), "
                             f"got {tuple(images.shape)}")
        b, h, w, _ = images.shape
    elif images.is_floating_point():
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"float images must have shape (B, 3, H, W) (channels first, values in [0, 1]), "
                             f"got {tuple(images.shape)}; permute channels-last input with .permute(0, 3, 1, 2)")
        b, _, h, w = images.shape
        if b > 0 and h > 0 and w > 0:
            lo, hi = torch.aminmax(images)
            if not bool((lo >= 0) & (hi <= 1)):  # the one host sync; NaN fails both comparisons
                if not bool(torch.isfinite(images).all()):
                    raise ValueError("images contain NaN or infinite values; check the data pipeline")
                raise ValueError(f"float images must be in [0, 1] (got min {float(lo):.4g}, max {float(hi):.4g}); "
                                 "pass uint8 images or divide by 255, and do not pass already-normalised images")
    else:
        raise ValueError(f"images must be uint8 (B, H, W, 3) or float (B, 3, H, W) in [0, 1], got dtype {images.dtype}")
    if b == 0 or h == 0 or w == 0:
        raise ValueError(f"images must be non-empty, got shape {tuple(images.shape)}")
    return b, h, w


def _to_float_nchw(images: Tensor) -> Tensor:
    """Checked input -> float32 (B, 3, H, W) in [0, 1] (uint8 channels-last is permuted and / 255)."""
    if images.dtype == torch.uint8:
        return images.permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    return images.to(torch.float32)


def _check_float_images(x: Tensor, name: str, channels: int | None) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor (B, C, H, W) in [0, 1], got dtype {x.dtype}; "
                         "convert uint8 images with augment_batch / to_model_input")
    if x.ndim != 4 or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (B, C, H, W) with B >= 1, got {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels (B, {channels}, H, W), got {tuple(x.shape)}")


def _check_channels(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor (..., 3, H, W), got {getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} must have shape (..., 3, H, W), got {tuple(x.shape)}")


def _check_generator(generator: torch.Generator, x: Tensor) -> None:
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    gd, xd = generator.device, x.device
    if gd.type != xd.type or (gd.index is not None and xd.index is not None and gd.index != xd.index):
        raise ValueError(f"generator is on {gd} but the images are on {xd}; "
                         f"create it with torch.Generator(device=images.device)")


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"out_size must be a positive int, got {size!r}")
    return size


def _check_prob(p: float, name: str) -> float:
    if isinstance(p, bool) or not isinstance(p, Real):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(p).__name__}")
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name} is a probability and must be in [0, 1], got {p!r}")
    return float(p)


def _check_nonneg(v: float, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, Real):
        raise TypeError(f"{name} must be a non-negative number, got {type(v).__name__}")
    if not (math.isfinite(float(v)) and v >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    return float(v)


def _is_pair(v: object) -> bool:
    if not isinstance(v, (tuple, list)) or len(v) != 2:
        return False
    return all(isinstance(a, Real) and not isinstance(a, bool) for a in v)


def _check_range(
    v: tuple[float, float], name: str, low: float, high: float, low_open: bool
) -> tuple[float, float]:
    """(lo, hi) with low < lo (or <=) and lo <= hi <= high, all finite numbers."""
    if not _is_pair(v):
        raise ValueError(f"{name} must be a pair (lo, hi) of numbers, got {v!r}")
    lo, hi = float(v[0]), float(v[1])
    lo_ok = lo > low if low_open else lo >= low
    if not (math.isfinite(lo) and math.isfinite(hi) and lo_ok and lo <= hi <= high):
        bound = f"{low} {'<' if low_open else '<='} lo <= hi <= {high}"
        raise ValueError(f"{name} must satisfy {bound}, got {v!r}")
    return lo, hi
