"""Tests for coral_lab.inputs.augment: the batched per-sample view pipeline t ~ T (paper section 3)."""

from __future__ import annotations

import colorsys
import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coral_lab.inputs import augment as A
from coral_lab.config import AugmentConfig

MEAN = torch.tensor(AugmentConfig().mean).view(1, 3, 1, 1)
STD = torch.tensor(AugmentConfig().std).view(1, 3, 1, 1)


def gen(seed: int = 0, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def uint8_images(b: int, s: int, seed: int = 0, w: int | None = None) -> torch.Tensor:
    return torch.randint(0, 256, (b, s, w or s, 3), dtype=torch.uint8, generator=gen(seed))


def float_images(b: int, s: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, s, s, generator=gen(seed))


def identity_cfg(**kw) -> AugmentConfig:
    """A config under which the pipeline must reduce to normalisation."""
    base = dict(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_p=0.0, grayscale_p=0.0, blur_p=0.0, flip_p=0.0)
    base.update(kw)
    return AugmentConfig(**base)


def unnormalise(y: torch.Tensor) -> torch.Tensor:
    return y * STD + MEAN


# ------------------------------------------------------------------------------------------
# the whole pipeline
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size,out_size", [(32, None), (32, 24), (40, 64)])
def test_shapes_and_dtype_uint8(size, out_size):
    x = uint8_images(5, size)
    y = A.augment_batch(x, AugmentConfig(), gen(), out_size=out_size)
    s = out_size or size
    assert y.shape == (5, 3, s, s)
    assert y.dtype == torch.float32
    assert y.is_contiguous()
    assert torch.isfinite(y).all()
    # normalised values of images in [0, 1]
    assert (unnormalise(y) >= -1e-5).all() and (unnormalise(y) <= 1 + 1e-5).all()


def test_float_input_and_non_square_with_out_size():
    y = A.augment_batch(float_images(3, 32), AugmentConfig(), gen())
    assert y.shape == (3, 3, 32, 32) and y.dtype == torch.float32
    y = A.augment_batch(uint8_images(3, 24, w=40), AugmentConfig(), gen(), out_size=16)
    assert y.shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="not square"):
        A.augment_batch(uint8_images(3, 24, w=40), AugmentConfig(), gen())


def test_deterministic_given_seed_and_different_with_another():
    x = uint8_images(8, 32)
    cfg = AugmentConfig()
    a = A.augment_batch(x, cfg, gen(7))
    b = A.augment_batch(x, cfg, gen(7))
    c = A.augment_batch(x, cfg, gen(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_each_sample_gets_its_own_parameters():
    x = uint8_images(1, 32).expand(16, -1, -1, -1).contiguous()  # 16 copies of one image
    y = A.augment_batch(x, AugmentConfig(), gen(1))
    flat = y.flatten(1)
    dists = torch.cdist(flat, flat)
    off_diag = dists[~torch.eye(16, dtype=torch.bool)]
    assert (off_diag > 1e-3).all(), "two samples of the batch got the same view"


def test_no_augmentation_reduces_to_to_model_input():
    x = uint8_images(6, 32)
    y = A.augment_batch(x, identity_cfg(), gen())
    ref = A.to_model_input(x)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=0)
    # and to_model_input is (x / 255 - mean) / std, computed here independently
    manual = (x.permute(0, 3, 1, 2).double() / 255 - MEAN.double()) / STD.double()
    torch.testing.assert_close(ref.double(), manual, atol=1e-5, rtol=0)


def test_to_model_input_float_path_and_custom_cfg():
    x = float_images(2, 8)
    cfg = AugmentConfig(mean=(0.5, 0.5, 0.5), std=(0.5, 0.25, 1.0))
    y = A.to_model_input(x, cfg)
    ref = (x - 0.5) / torch.tensor([0.5, 0.25, 1.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(y, ref, atol=1e-6, rtol=0)


def test_pipeline_equals_composed_building_blocks():
    """augment_batch draws exactly what the public building blocks draw, in the same order."""
    x8 = uint8_images(7, 48)
    # every field distinct, so a swapped argument cannot go unnoticed
    cfg = AugmentConfig(crop_scale=(0.2, 0.9), crop_ratio=(0.6, 1.5), brightness=0.3, contrast=0.5, saturation=0.2,
                        hue=0.05, jitter_p=0.7, grayscale_p=0.3, blur_sigma=(0.5, 3.0), blur_p=0.6, flip_p=0.4,
                        mean=(0.4, 0.5, 0.6), std=(0.2, 0.3, 0.25))
    y = A.augment_batch(x8, cfg, gen(3), out_size=32)
    g = gen(3)
    x = x8.permute(0, 3, 1, 2).float() / 255
    z = A.random_resized_crop(x, 32, cfg.crop_scale, cfg.crop_ratio, cfg.flip_p, g)
    z = A.color_jitter(z, cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue, cfg.jitter_p, g)
    z = A.random_grayscale(z, cfg.grayscale_p, g)
    scale = 32 / 224
    z = A.gaussian_blur(z, (cfg.blur_sigma[0] * scale, cfg.blur_sigma[1] * scale), cfg.blur_p, g)
    z = A.normalize(z, cfg.mean, cfg.std)
    torch.testing.assert_close(y, z, atol=1e-5, rtol=0)


def test_result_does_not_depend_on_chunk_size():
    x = uint8_images(10, 32)
    cfg = AugmentConfig()
    whole = A.augment_batch(x, cfg, gen(5), chunk_size=10)
    for c in (1, 3, 4):
        torch.testing.assert_close(A.augment_batch(x, cfg, gen(5), chunk_size=c), whole, atol=1e-6, rtol=0)


def test_grayscale_fraction_in_pipeline():
    # Grey samples have equal channels after un-normalising (blur and crop keep that); jitter never
    # makes a colour image grey (saturation factor >= 0.6). Binomial sd at n = 2000: 0.009.
    n = 2000
    base = torch.tensor([200, 40, 90], dtype=torch.uint8)  # a saturated colour
    x = base.view(1, 1, 1, 3).expand(n, 8, 8, 3).contiguous()
    y = unnormalise(A.augment_batch(x, AugmentConfig(), gen(11)))
    spread = (y.amax(dim=1) - y.amin(dim=1)).amax(dim=(1, 2))  # (n,)
    frac = (spread < 1e-4).float().mean().item()
    assert abs(frac - 0.2) < 0.04, frac


# ------------------------------------------------------------------------------------------
# crop and flip
# ------------------------------------------------------------------------------------------


def test_full_crop_with_flip_equals_torch_flip():
    x = float_images(4, 16)
    flipped = A.random_resized_crop(x, 16, (1.0, 1.0), (1.0, 1.0), 1.0, gen())
    torch.testing.assert_close(flipped, torch.flip(x, dims=[3]), atol=1e-5, rtol=0)
    same = A.random_resized_crop(x, 16, (1.0, 1.0), (1.0, 1.0), 0.0, gen())
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)


def test_flip_fraction():
    x = torch.arange(4.0).view(1, 1, 1, 4).expand(1000, 3, 4, 4) / 3  # a left-to-right ramp
    y = A.random_resized_crop(x, 4, (1.0, 1.0), (1.0, 1.0), 0.5, gen(2))
    flipped = (y[:, 0, 0, 0] > y[:, 0, 0, 3]).float().mean().item()
    assert abs(flipped - 0.5) < 0.06, flipped  # sd 0.016


def test_resized_crop_matches_interpolate_of_the_crop_inside():
    x = float_images(2, 16)
    boxes = torch.tensor([[2.0, 3.0, 8.0, 8.0], [0.0, 0.0, 16.0, 16.0]])
    y = A.resized_crop(x, boxes, 16)
    ref = F.interpolate(x[:1, :, 2:10, 3:11], size=16, mode="bilinear", align_corners=False)
    # border rows / columns differ: interpolate clamps at the crop's edge, we sample the neighbours
    torch.testing.assert_close(y[:1, :, 1:-1, 1:-1], ref[:, :, 1:-1, 1:-1], atol=1e-5, rtol=0)
    torch.testing.assert_close(y[1:], x[1:], atol=1e-5, rtol=0)


def test_crop_boxes_are_inside_and_follow_scale_and_ratio():
    h, w = 40, 56
    boxes = A.sample_crop_boxes(4000, h, w, (0.08, 1.0), (3 / 4, 4 / 3), gen(4))
    top, left, ch, cw = boxes.unbind(1)
    for t in (top, left, ch, cw):
        assert torch.equal(t, t.round())
    assert (top >= 0).all() and (left >= 0).all() and (ch >= 1).all() and (cw >= 1).all()
    assert (top + ch <= h).all() and (left + cw <= w).all()
    area = ch * cw / (h * w)
    aspect = cw / ch
    # rounding each side to a pixel moves area and aspect a little beyond the nominal range
    assert area.min() > 0.08 * 0.8 and area.max() <= 1.0
    assert aspect.min() > 0.75 * 0.85 and aspect.max() < 4 / 3 / 0.85
    assert area.max() > 0.9 and area.min() < 0.12  # the whole range is used
    assert 0.4 < area.mean().item() < 0.6  # roughly uniform in area (mean 0.54 for U(0.08, 1))


def test_crop_offsets_are_uniform():
    boxes = A.sample_crop_boxes(9000, 16, 16, (0.25, 0.25), (1.0, 1.0), gen(6))  # always 8 x 8
    assert torch.all(boxes[:, 2:] == 8)
    counts = torch.bincount(boxes[:, 0].long(), minlength=9)
    assert counts.shape[0] == 9 and (counts > 800).all() and (counts < 1200).all()  # expected 1000 each


def test_crop_fallback_is_central_with_clamped_ratio():
    # aspect >= 4 at >= 90 % of a square image never fits: torchvision's central fallback
    boxes = A.sample_crop_boxes(5, 32, 32, (0.9, 1.0), (4.0, 5.0), gen())
    expected = torch.tensor([12.0, 0.0, 8.0, 32.0])  # h = round(32 / 4), centred vertically
    assert torch.equal(boxes, expected.expand(5, 4))


# ------------------------------------------------------------------------------------------
# colour
# ------------------------------------------------------------------------------------------

SPECIAL_PIXELS = [
    (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.5, 0.5, 0.5), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0),
    (1.0, 1.0, 0.0), (0.0, 1.0, 1.0), (1.0, 0.0, 1.0), (0.3, 0.3, 0.1), (0.2, 0.7, 0.7), (0.9, 0.1, 0.9),
]


def pixels_to_image(pixels) -> torch.Tensor:
    return torch.tensor(pixels, dtype=torch.float64).T.reshape(1, 3, 1, -1)  # (1, 3, 1, N)


def test_rgb_to_hsv_matches_colorsys():
    rng = np.random.default_rng(0)
    pixels = SPECIAL_PIXELS + [tuple(p) for p in rng.random((50, 3))]
    hsv = A.rgb_to_hsv(pixels_to_image(pixels))[0, :, 0].T  # (N, 3)
    ref = torch.tensor([colorsys.rgb_to_hsv(*p) for p in pixels], dtype=torch.float64)
    torch.testing.assert_close(hsv, ref, atol=1e-12, rtol=0)


def test_hsv_to_rgb_matches_colorsys_and_round_trips():
    rng = np.random.default_rng(1)
    hsv = [tuple(p) for p in rng.random((60, 3))] + [(0.0, 0.0, 0.3), (0.999, 1.0, 1.0), (0.5, 1.0, 0.5)]
    rgb = A.hsv_to_rgb(pixels_to_image(hsv))[0, :, 0].T
    ref = torch.tensor([colorsys.hsv_to_rgb(*p) for p in hsv], dtype=torch.float64)
    torch.testing.assert_close(rgb, ref, atol=1e-12, rtol=0)
    x = float_images(2, 8)
    torch.testing.assert_close(A.hsv_to_rgb(A.rgb_to_hsv(x)), x, atol=1e-6, rtol=0)


def test_adjust_hue_matches_colorsys():
    rng = np.random.default_rng(2)
    pixels = SPECIAL_PIXELS + [tuple(p) for p in rng.random((40, 3))]
    shifts = [-0.5, -0.3, -0.1, 0.0, 0.07, 0.25, 0.5]
    x = pixels_to_image(pixels).expand(len(shifts), -1, -1, -1)
    y = A.adjust_hue(x, torch.tensor(shifts, dtype=torch.float64))
    for i, shift in enumerate(shifts):
        ref = []
        for p in pixels:
            h, s, v = colorsys.rgb_to_hsv(*p)
            ref.append(colorsys.hsv_to_rgb((h + shift) % 1.0, s, v))
        torch.testing.assert_close(y[i, :, 0].T, torch.tensor(ref, dtype=torch.float64), atol=1e-9, rtol=0)


def test_grayscale_is_the_luma_with_equal_channels():
    x = float_images(3, 8)
    y = A.random_grayscale(x, 1.0, gen())
    luma = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    for c in range(3):
        torch.testing.assert_close(y[:, c], luma, atol=1e-6, rtol=0)
    assert torch.equal(A.random_grayscale(x, 0.0, gen()), x)
    assert A.rgb_to_grayscale(x, num_output_channels=1).shape == (3, 1, 8, 8)


def test_grayscale_fraction():
    x = torch.tensor([0.9, 0.2, 0.4]).view(1, 3, 1, 1).expand(4000, 3, 2, 2)
    y = A.random_grayscale(x, 0.2, gen(9))
    grey = (y[:, 0] == y[:, 1]).all(dim=(1, 2)) & (y[:, 1] == y[:, 2]).all(dim=(1, 2))
    assert abs(grey.float().mean().item() - 0.2) < 0.03  # sd 0.0063
    assert torch.equal(y[~grey], x[~grey])


def jitter_only(brightness=0.0, contrast=0.0, saturation=0.0, hue=0.0):
    return dict(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue, p=1.0)


def test_brightness_factor_semantics():
    x = 0.1 + 0.5 * float_images(64, 6)  # in [0.1, 0.6]
    y = A.color_jitter(x, generator=gen(3), **jitter_only(brightness=0.4))
    ratio = y / x
    f = ratio.flatten(1)
    unclamped = (y < 1).flatten(1)
    # one factor per sample, in [0.6, 1.4], applied as clamp(f * x)
    f_sample = f[:, 0]
    assert torch.allclose(f[unclamped], f_sample[:, None].expand_as(f)[unclamped], atol=1e-5)
    assert f_sample.min() >= 0.6 - 1e-5 and f_sample.max() <= 1.4 + 1e-5
    assert (f_sample < 0.9).any() and (f_sample > 1.1).any()
    # explicit factor: f = 0.5 halves, f = 3 saturates at 1
    params = A.JitterParams(torch.tensor([0.5, 3.0]), torch.ones(2), torch.ones(2), torch.zeros(2),
                            torch.arange(4).expand(2, 4), torch.ones(2, dtype=torch.bool))
    y = A.apply_color_jitter(x[:2], params)
    torch.testing.assert_close(y[0], x[0] * 0.5, atol=1e-7, rtol=0)
    torch.testing.assert_close(y[1], (x[1] * 3).clamp(max=1), atol=1e-7, rtol=0)


def grey(x):
    return 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]


def test_contrast_keeps_mean_grey_and_saturation_keeps_grey():
    x = 0.4 + 0.2 * float_images(16, 8)  # no clamping for factors in [0.6, 1.4]
    y = A.color_jitter(x, generator=gen(4), **jitter_only(contrast=0.4))
    torch.testing.assert_close(grey(y).mean(dim=(1, 2)), grey(x).mean(dim=(1, 2)), atol=1e-6, rtol=0)
    assert not torch.allclose(y, x)
    y = A.color_jitter(x, generator=gen(4), **jitter_only(saturation=0.4))
    torch.testing.assert_close(grey(y), grey(x), atol=1e-6, rtol=0)
    assert not torch.allclose(y, x)


def test_hue_jitter_keeps_max_and_min():
    x = float_images(16, 8)
    y = A.color_jitter(x, generator=gen(5), **jitter_only(hue=0.1))
    torch.testing.assert_close(y.amax(dim=1), x.amax(dim=1), atol=1e-6, rtol=0)
    torch.testing.assert_close(y.amin(dim=1), x.amin(dim=1), atol=1e-6, rtol=0)
    assert not torch.allclose(y, x)


def reference_jitter_one(x, f_b, f_c, f_s, shift, order):
    """One image (3, H, W), the four torchvision operations in the given order."""
    for op in order:
        if op == A.BRIGHTNESS:
            x = (f_b * x).clamp(0, 1)
        elif op == A.CONTRAST:
            m = grey(x[None]).mean()
            x = (f_c * x + (1 - f_c) * m).clamp(0, 1)
        elif op == A.SATURATION:
            g = grey(x[None])[0]
            x = (f_s * x + (1 - f_s) * g).clamp(0, 1)
        else:
            hsv = A.rgb_to_hsv(x)
            hsv = torch.stack([torch.remainder(hsv[0] + shift, 1.0), hsv[1], hsv[2]])
            x = A.hsv_to_rgb(hsv)
    return x


def test_jitter_applies_each_samples_own_order():
    perms = torch.tensor(list(itertools.permutations(range(4))))  # all 24 orders
    b = perms.shape[0]
    x = float_images(b, 6, seed=12)
    g = gen(13)
    params = A.JitterParams(
        brightness=0.5 + torch.rand(b, generator=g),
        contrast=0.5 + torch.rand(b, generator=g),
        saturation=0.5 + torch.rand(b, generator=g),
        hue=0.2 * torch.rand(b, generator=g) - 0.1,
        order=perms,
        apply=torch.ones(b, dtype=torch.bool),
    )
    y = A.apply_color_jitter(x, params)
    for i in range(b):
        ref = reference_jitter_one(x[i], params.brightness[i], params.contrast[i], params.saturation[i],
                                   params.hue[i], perms[i].tolist())
        torch.testing.assert_close(y[i], ref, atol=1e-5, rtol=0, msg=f"order {perms[i].tolist()}")


def test_jitter_params_distribution():
    p = A.sample_jitter_params(6000, 0.4, 0.4, 0.4, 0.1, 0.8, gen(14))
    assert torch.equal(p.order.sort(dim=1).values, torch.arange(4).expand(6000, 4))
    orders = {tuple(o) for o in p.order.tolist()}
    assert len(orders) == 24
    for f in (p.brightness, p.contrast, p.saturation):
        assert f.min() >= 0.6 and f.max() <= 1.4 and abs(f.mean().item() - 1.0) < 0.02
    assert p.hue.min() >= -0.1 and p.hue.max() <= 0.1
    assert abs(p.apply.float().mean().item() - 0.8) < 0.03
    big = A.sample_jitter_params(10, 1.5, 0.0, 0.0, 0.0, 1.0, gen())
    assert big.brightness.min() >= 0.0 and big.brightness.max() <= 2.5  # torchvision's max(0, 1 - v)
    assert torch.equal(big.contrast, torch.ones(10))


def test_jitter_probability_zero_and_unselected_samples_are_unchanged():
    x = float_images(40, 6)
    assert torch.equal(A.color_jitter(x, 0.4, 0.4, 0.4, 0.1, 0.0, gen()), x)
    y = A.color_jitter(x, 0.4, 0.4, 0.4, 0.1, 0.5, gen(15))
    changed = (y != x).flatten(1).any(dim=1)
    assert 0 < changed.sum() < 40
    p = A.sample_jitter_params(40, 0.4, 0.4, 0.4, 0.1, 0.5, gen(15))
    assert torch.equal(changed, p.apply)


# ------------------------------------------------------------------------------------------
# blur
# ------------------------------------------------------------------------------------------


def test_kernels_are_normalised_symmetric_gaussians():
    k = A.gaussian_kernels1d(torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64), 6)
    assert k.shape == (3, 13)
    torch.testing.assert_close(k.sum(dim=1), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(k, k.flip(1))
    ref = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    torch.testing.assert_close(k[2], torch.from_numpy(ref / ref.sum()))


def test_blur_matches_reference_convolution():
    sigma = 1.3
    x = float_images(2, 12).double()
    y = A.gaussian_blur(x, (sigma, sigma), 1.0, gen())
    r = math.ceil(3 * sigma)
    t = np.arange(-r, r + 1)
    k2 = np.exp(-0.5 * (t[:, None] ** 2 + t[None, :] ** 2) / sigma**2)
    k2 /= k2.sum()
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (r, r), (r, r)), mode="reflect")
    ref = np.zeros_like(x.numpy())
    for i in range(2 * r + 1):
        for j in range(2 * r + 1):
            ref += k2[i, j] * xp[:, :, i:i + 12, j:j + 12]
    torch.testing.assert_close(y, torch.from_numpy(ref), atol=1e-6, rtol=0)  # sigma is drawn in float32


def test_blur_keeps_constant_images_and_reduces_noise_variance():
    const = torch.full((4, 3, 16, 16), 0.37)
    torch.testing.assert_close(A.gaussian_blur(const, (0.5, 2.0), 1.0, gen()), const, atol=1e-6, rtol=0)
    noise = float_images(8, 32)
    y = A.gaussian_blur(noise, (0.8, 2.0), 1.0, gen(1))
    torch.testing.assert_close(y.mean(dim=(1, 2, 3)), noise.mean(dim=(1, 2, 3)), atol=5e-3, rtol=0)
    assert (y.var(dim=(1, 2, 3)) < 0.5 * noise.var(dim=(1, 2, 3))).all()


def test_blur_probability():
    x = float_images(400, 8)
    y = A.gaussian_blur(x, (1.0, 1.5), 0.5, gen(2))
    blurred = (y != x).flatten(1).any(dim=1).float().mean().item()
    assert abs(blurred - 0.5) < 0.1  # sd 0.025
    assert torch.equal(A.gaussian_blur(x, (1.0, 1.5), 0.0, gen()), x)


def test_blur_sigma_scales_with_output_size():
    # at 32 px the config's sigma <= 2 px of a 224 px image is <= 0.29 px: a 3-tap kernel
    cfg = identity_cfg(blur_p=1.0)
    x = uint8_images(4, 32)
    y = unnormalise(A.augment_batch(x, cfg, gen()))
    x01 = x.permute(0, 3, 1, 2).float() / 255
    diff = (y - x01).abs().max().item()
    assert 1e-4 < diff < 0.25 * 255 / 255  # blurred, but by far less than a 2 px blur would
    assert diff < (A.gaussian_blur(x01, (2.0, 2.0), 1.0, gen()) - x01).abs().max().item()


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "images,match",
    [
        (torch.zeros(2, 8, 8, dtype=torch.uint8), r"\(B, H, W, 3\)"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), r"\(B, H, W, 3\)"),
        (torch.zeros(2, 8, 8, 3), r"\(B, 3, H, W\)"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.int32), "uint8"),
        (torch.full((2, 3, 8, 8), float("nan")), "NaN or infinite"),
        (torch.full((2, 3, 8, 8), float("inf")), "NaN or infinite"),
        (torch.full((2, 3, 8, 8), -0.5), r"in \[0, 1\]"),
        (torch.zeros(0, 8, 8, 3, dtype=torch.uint8), "non-empty"),
    ],
)
def test_bad_images_raise(images, match):
    with pytest.raises(ValueError, match=match):
        A.augment_batch(images, AugmentConfig(), gen())
    with pytest.raises(ValueError, match=match):
        A.to_model_input(images)


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("jitter_p", 1.5, "jitter_p|p is a probability"),
        ("grayscale_p", -0.1, "grayscale_p"),
        ("blur_p", 2.0, "blur_p"),
        ("flip_p", -1.0, "flip_p"),
        ("crop_scale", (0.5, 0.1), "scale"),
        ("crop_scale", (0.0, 1.0), "scale"),
        ("crop_scale", (0.5, 1.5), "scale"),
        ("crop_scale", (0.5,), "scale"),
        ("crop_ratio", (0.0, 1.0), "ratio"),
        ("crop_ratio", (2.0, 1.0), "ratio"),
        ("blur_sigma", (2.0, 0.1), "blur_sigma"),
        ("hue", 0.7, "hue"),
        ("brightness", -0.1, "brightness"),
        ("std", (0.2, 0.0, 0.2), "std"),
        ("mean", (0.5, 0.5), "mean and std"),
    ],
)
def test_bad_config_raises(field, value, match):
    cfg = dataclasses.replace(AugmentConfig(), **{field: value})
    with pytest.raises(ValueError, match=match):
        A.augment_batch(uint8_images(2, 16), cfg, gen())


def test_bad_arguments_raise():
    x = float_images(2, 16)
    with pytest.raises(TypeError, match="AugmentConfig"):
        A.augment_batch(uint8_images(2, 16), {"flip_p": 0.5}, gen())
    with pytest.raises(TypeError, match="torch.Generator"):
        A.augment_batch(uint8_images(2, 16), AugmentConfig(), 0)
    with pytest.raises(TypeError, match="number"):
        A.random_grayscale(x, True, gen())
    with pytest.raises(ValueError, match="out_size"):
        A.augment_batch(uint8_images(2, 16), AugmentConfig(), gen(), out_size=0)
    with pytest.raises(ValueError, match="chunk_size"):
        A.augment_batch(uint8_images(2, 16), AugmentConfig(), gen(), chunk_size=0)
    with pytest.raises(ValueError, match="float tensor"):
        A.color_jitter(x.to(torch.uint8), 0.4, 0.4, 0.4, 0.1, 0.8, gen())
    with pytest.raises(ValueError, match="3 channels"):
        A.random_grayscale(x[:, :2], 0.5, gen())
    with pytest.raises(ValueError, match="larger than"):
        A.gaussian_blur(float_images(2, 4), (2.0, 2.0), 1.0, gen())
    with pytest.raises(ValueError, match="boxes"):
        A.resized_crop(x, torch.zeros(3, 4), 8)


# ------------------------------------------------------------------------------------------
# GPU
# ------------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_runs_without_host_syncs_and_is_deterministic():
    x = uint8_images(16, 32).cuda()
    cfg = AugmentConfig()
    A.augment_batch(x, cfg, gen(0, "cuda"))  # warm up (cuDNN / lazy init may sync once)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        a = A.augment_batch(x, cfg, gen(0, "cuda"))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    b = A.augment_batch(x, cfg, gen(0, "cuda"))
    assert a.device.type == "cuda" and a.shape == (16, 3, 32, 32)
    assert torch.equal(a, b)
    torch.testing.assert_close(A.to_model_input(x).cpu(), A.to_model_input(x.cpu()), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="generator is on"):
        A.augment_batch(x, cfg, gen(0, "cpu"))
