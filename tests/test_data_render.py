"""Tests of the vectorised Trifeature renderer (coral_lab/data/trifeature.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from coral_lab.data import trifeature as tf
from coral_lab.data.trifeature import (
    COLORS,
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

GREY = int(0.5 * 255 + 0.5)  # 127.5 rounded half up


def _all_combos(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return tuple(rng.integers(0, 10, size=n) for _ in range(3))  # type: ignore[return-value]


def test_attribute_lists_follow_the_published_order():
    assert SHAPES[:4] == ("triangle", "square", "plus", "circle") and SHAPES[-1] == "trapezoid"
    assert TEXTURES[0] == "solid" and TEXTURES[5] == "noise" and TEXTURES[-1] == "pluses"
    assert len(SHAPES) == len(TEXTURES) == len(tf.COLOR_NAMES) == 10
    assert COLORS.shape == (10, 3) and COLORS.min() >= 0 and COLORS.max() <= 1
    np.testing.assert_array_equal(COLORS[tf.COLOR_NAMES.index("purple")], [0.3, 0.0, 0.5])
    assert len({tuple(c) for c in COLORS}) == 10
    assert tf.BACKGROUND == (0.5, 0.5, 0.5)


def test_sizes_scale_with_the_image():
    assert template_size(224) == 128 and texture_period(224) == 10
    assert template_size(448) == 256 and texture_period(448) == 20
    assert template_size(32) == 18 and texture_period(32) == tf.MIN_PERIOD == 5


@pytest.mark.parametrize("size", [16, 17, 32])
def test_output_dtype_and_shape(size):
    s, t, c = _all_combos(7, 0)
    img = render_images(s, t, c, size, np.random.default_rng(0))
    assert img.dtype == np.uint8 and img.shape == (7, size, size, 3)


def test_empty_batch():
    e = np.zeros(0, dtype=np.int64)
    assert render_images(e, e, e, 32, np.random.default_rng(0)).shape == (0, 32, 32, 3)


def test_same_rng_state_gives_identical_images_and_another_seed_differs():
    s, t, c = _all_combos(40, 1)
    a = render_images(s, t, c, 32, np.random.default_rng(5))
    b = render_images(s, t, c, 32, np.random.default_rng(5))
    other = render_images(s, t, c, 32, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert (a != other).any(axis=(1, 2, 3)).mean() > 0.9  # nearly every image moves


def test_chunk_size_does_not_change_the_images():
    s, t, c = _all_combos(23, 2)
    t[:6] = [5, 5, 8, 8, 5, 8]  # make sure the per-image random fields are exercised
    params = sample_render_params(23, 40, np.random.default_rng(0))
    whole = render_from_params(s, t, c, 40, params)
    chunked = render_from_params(s, t, c, 40, params, chunk_size=4)
    np.testing.assert_array_equal(whole, chunked)


def _params_for(n: int, size: int, seed: int = 0) -> RenderParams:
    return sample_render_params(n, size, np.random.default_rng(seed))


def test_background_pixels_are_grey_and_solid_pixels_equal_the_color_exactly():
    size, n = 48, 30
    shape = np.arange(n) % 10
    color = (np.arange(n) * 3) % 10
    texture = np.zeros(n, dtype=np.int64)  # solid
    params = _params_for(n, size)
    img = render_from_params(shape, texture, color, size, params)
    mask = shape_masks(shape, size, params)
    outside, inside = mask == 0, mask == 1
    assert outside.mean() > 0.3 and inside.mean() > 0.1
    assert (img[outside] == GREY).all()
    for k in range(n):
        want = [int(v * 255 + 0.5) for v in COLORS[color[k]]]  # independent rounding half up
        np.testing.assert_array_equal(img[k][inside[k]], np.broadcast_to(want, (inside[k].sum(), 3)))
    # edge pixels are blends: each channel lies between the background and the color
    edge = (mask > 0) & (mask < 1)
    lo = np.minimum(GREY, np.floor(COLORS[color] * 255 + 0.5))[:, None, None, :]
    hi = np.maximum(GREY, np.floor(COLORS[color] * 255 + 0.5))[:, None, None, :]
    assert edge.any()
    assert ((img >= lo) & (img <= hi))[edge].all()


def test_textured_pixels_are_color_or_background():
    size, n = 40, 20
    shape = np.arange(n) % 10
    texture = np.arange(n) % 10
    color = np.full(n, 2)  # blue
    params = _params_for(n, size, 3)
    img = render_from_params(shape, texture, color, size, params)
    inside = shape_masks(shape, size, params) == 1
    tex = texture_masks(texture, size, params)
    np.testing.assert_array_equal(img[inside & tex], np.broadcast_to([0, 0, 255], ((inside & tex).sum(), 3)))
    assert (img[inside & ~tex] == GREY).all()


# independent reference areas (fraction of the template square) of the shape definitions
_AREAS = {
    "triangle": 0.5,
    "square": 1.0,
    "plus": 5 / 9,
    "circle": math.pi / 4,
    "tee": 5 / 9,
    "rhombus": (4 / 3) ** 2 * math.sin(math.pi / 3) / 4,  # side 4/3 of the half-width 1, 60 degrees
    "pentagon": 2.5 * math.sin(math.radians(72)) / 4,
    "star": 5 * 0.382 * math.sin(math.radians(36)) / 4,  # ten triangles (1/2) R r sin 36
    "fivesquare": 5 / 9,
    "trapezoid": 0.75,
}


@pytest.mark.parametrize("name", SHAPES)
def test_template_area_matches_the_geometry(name):
    t = shape_template(SHAPES.index(name), 128)
    assert t.dtype == bool and t.shape == (128, 128)
    assert t.mean() == pytest.approx(_AREAS[name], abs=0.01)


def test_unrotated_templates_differ_pairwise():
    templates = [shape_template(k, 64) for k in range(10)]
    for a, b in itertools.combinations(range(10), 2):
        iou = (templates[a] & templates[b]).sum() / (templates[a] | templates[b]).sum()
        assert iou < 0.9, (SHAPES[a], SHAPES[b], iou)


def test_rendered_shapes_keep_their_area_so_they_stay_inside_the_canvas():
    size, n = 64, 200
    shape = np.arange(n) % 10
    params = _params_for(n, size, 4)
    mask = shape_masks(shape, size, params)
    t = template_size(size)
    want = np.array([shape_template(k, t).sum() for k in shape], dtype=np.float64)
    # a cut-off shape would lose area; bilinear rotation keeps it to about a pixel of perimeter
    np.testing.assert_allclose(mask.sum(axis=(1, 2)), want, rtol=0.02)
    frac = mask.sum(axis=(1, 2)) / size**2
    assert frac.min() > 0.05 and frac.max() < 0.35
    assert mask.min() >= 0 and mask.max() <= 1 + 1e-6


def test_pose_distribution():
    size, n = 64, 3000
    p = _params_for(n, size, 7)
    assert p.angle.min() == -45 and p.angle.max() == 44
    assert p.texture_angle.min() == -45 and p.texture_angle.max() == 44
    assert set(np.unique(p.phase)) == set(range(texture_period(size)))
    box = tf._rotated_box(template_size(size), p.angle)
    assert p.offset.min() == 0 and (p.offset + box[:, None]).max() == size
    assert ((p.offset + box[:, None]) <= size).all()
    # uniform offsets: the mean offset is half the free room
    room = size - box
    assert np.mean(p.offset[:, 0] / np.maximum(room, 1)) == pytest.approx(0.5, abs=0.03)


def _fixed_params(n: int, size: int, phase=(0, 0), texture_angle: int = 0) -> RenderParams:
    t = template_size(size)
    return RenderParams(
        angle=np.zeros(n, dtype=np.int64),
        offset=np.full((n, 2), (size - t) // 2, dtype=np.int64),
        texture_angle=np.full(n, texture_angle, dtype=np.int64),
        phase=np.tile(np.asarray(phase, dtype=np.int64), (n, 1)),
        field_seed=np.arange(n, dtype=np.int64),
    )


def test_unrotated_centred_shape_equals_its_template():
    size = 64
    t = template_size(size)
    o = (size - t) // 2
    mask = shape_masks(np.arange(10), size, _fixed_params(10, size))
    for k in range(10):
        want = np.zeros((size, size), dtype=np.float32)
        want[o : o + t, o : o + t] = shape_template(k, t)
        np.testing.assert_allclose(mask[k], want, atol=1e-5)


def test_unrotated_stripes_follow_period_and_phase():
    size = 224
    p = texture_period(size)
    crop = size // 2
    for phase in [(0, 0), (3, 7)]:
        x = texture_masks(np.array([TEXTURES.index("stripes")]), size, _fixed_params(1, size, phase))[0]
        rows = (np.arange(size) + crop + phase[1]) % p < 3  # 3-px horizontal bands every 10 px
        np.testing.assert_array_equal(x, np.broadcast_to(rows[:, None], (size, size)))


@pytest.mark.parametrize(
    "name, fraction, tol",
    [("solid", 1.0, 0.0), ("stripes", 0.3, 0.03), ("grid", 1 - 0.7**2, 0.03), ("noise", 0.5, 0.01)],
)
def test_texture_coverage(name, fraction, tol):
    size, n = 224, 4
    params = _params_for(n, size, 11)
    x = texture_masks(np.full(n, TEXTURES.index(name)), size, params)
    assert x.mean() == pytest.approx(fraction, abs=tol)


def test_noise_is_about_half_on_at_small_size_and_differs_between_images():
    x = texture_masks(np.full(50, TEXTURES.index("noise")), 32, _params_for(50, 32, 2))
    assert x.mean() == pytest.approx(0.5, abs=0.02)
    assert (x[0] != x[1]).mean() > 0.3


@pytest.mark.parametrize("size", [32, 224])
def test_textures_are_distinct_and_nontrivial(size):
    params = _fixed_params(10, size, phase=(2, 1), texture_angle=10)
    x = texture_masks(np.arange(10), size, params).reshape(10, -1)
    cover = x.mean(axis=1)
    assert cover[0] == 1.0
    assert (cover[1:] > 0.08).all() and (cover[1:] < 0.75).all(), dict(zip(TEXTURES, cover))
    for a, b in itertools.combinations(range(10), 2):
        assert (x[a] != x[b]).mean() > 0.05, (TEXTURES[a], TEXTURES[b])


def test_rain_is_made_of_vertical_streaks():
    size = 224
    x = texture_masks(np.array([TEXTURES.index("rain")]), size, _fixed_params(1, size))[0]
    # unrotated streaks run down columns: a lit pixel's vertical neighbour is lit far more often
    # than its horizontal neighbour
    vertical = (x[1:] & x[:-1]).sum() / x[:-1].sum()
    horizontal = (x[:, 1:] & x[:, :-1]).sum() / x[:, :-1].sum()
    assert vertical > 0.7 and horizontal < 0.5
    assert 0.15 < x.mean() < 0.45


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"shape": [0, 10]}, ValueError, "0..9"),
        ({"texture": [-1, 0]}, ValueError, "0..9"),
        ({"color": [0]}, ValueError, "same length"),
        ({"shape": [0.0, 1.0]}, ValueError, "integer"),
        ({"shape": [[0, 1]]}, ValueError, "1-D"),
        ({"image_size": 15}, ValueError, ">= 16|16\\.\\."),
        ({"image_size": 32.0}, TypeError, "int"),
        ({"rng": 0}, TypeError, "Generator"),
    ],
)
def test_bad_inputs_raise(kwargs, err, match):
    args = {"shape": [0, 1], "texture": [2, 3], "color": [4, 5], "image_size": 32, "rng": np.random.default_rng(0)}
    args.update(kwargs)
    with pytest.raises(err, match=match):
        render_images(args["shape"], args["texture"], args["color"], args["image_size"], args["rng"])


def test_params_of_another_size_are_rejected():
    params = _params_for(3, 224)
    with pytest.raises(ValueError, match="outside"):
        render_from_params(np.zeros(3, int), np.zeros(3, int), np.zeros(3, int), 32, params)
    with pytest.raises(ValueError, match="describe 3 images"):
        render_from_params(np.zeros(2, int), np.zeros(2, int), np.zeros(2, int), 224, params)
