"""Vectorised renderer of Trifeature images: a shape, filled with a texture, in a color, on grey.

Follows the recipe of the published generator (Hermann & Lampinen, 2020; the bimodal version of
Dufumier et al., 2025, that COrAL's Table 1 uses; facts in ``shared/design/trifeature.md``), but draws a
whole batch of images with a few tensor operations instead of per-pixel Python loops:

1. Shape mask ``M``: a binary template of ``T = round(S * 128 / 224)`` pixels (``S`` = image size) is
   rotated by an integer angle in ``[-45, 45)`` degrees with bilinear interpolation (the rotated box
   grows to ``ceil(T * (|cos| + |sin|))``) and placed at a uniformly random integer offset that keeps
   that box inside the ``S x S`` canvas. One ``grid_sample`` call per chunk does it.
2. Texture ``X``: a binary pattern on a ``2S x 2S`` canvas with period ``p`` and random phase
   ``(0..p-1, 0..p-1)``, rotated by an integer angle in ``[-45, 45)`` (nearest neighbour) and cropped to
   the central ``S x S``. Periodic patterns are evaluated in closed form at the rotated integer
   coordinates; ``noise`` and ``rain`` index a random field of the same canvas drawn per image (the
   canvas is ``2S + p`` wide so that every phase stays on it).
3. Pixel ``= M X color + (1 - M X) background`` on the 0..255 scale, rounded half up to uint8.

Scaling with the image size ``S`` (all sizes are those of the published generator at ``S = 224``):
the template is ``128 / 224`` of the canvas; the texture period is ``p = max(MIN_PERIOD,
round(10 S / 224))`` so textures stay recognisable at 32 px (``p = 5`` below 112 px); every texture's
feature sizes are fractions of ``p`` (band width ``0.3 p``, hexgrid lines ``0.2 p``, dot radius ``0.4 p``,
rain streaks ``0.6 p .. 0.6 p + 1`` long), each at least one pixel. Rain's start probability is
``0.05 * 10 / p`` so that the covered fraction of pixels stays about the same at every size. Noise is
always per pixel.

Randomness: everything comes from the ``np.random.Generator`` passed in, through
:func:`sample_render_params` (pose, phase, texture angle, and one seed per image for its random
field), so the same generator state gives the same images, independent of the chunk size.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

__all__ = [
    "SHAPES",
    "TEXTURES",
    "COLOR_NAMES",
    "COLORS",
    "COLORS_UINT8",
    "BACKGROUND",
    "BACKGROUND_UINT8",
    "GENERATOR_VERSION",
    "MIN_IMAGE_SIZE",
    "MAX_IMAGE_SIZE",
    "CHUNK_PIXELS",
    "MIN_PERIOD",
    "RenderParams",
    "template_size",
    "texture_period",
    "shape_template",
    "sample_render_params",
    "shape_masks",
    "texture_masks",
    "render_from_params",
    "render_images",
]

SHAPES: tuple[str, ...] = (
    "triangle", "square", "plus", "circle", "tee", "rhombus", "pentagon", "star", "fivesquare", "trapezoid",
)
TEXTURES: tuple[str, ...] = (
    "solid", "stripes", "grid", "hexgrid", "dots", "noise", "triangles", "zigzags", "rain", "pluses",
)
COLOR_NAMES: tuple[str, ...] = (
    "red", "green", "blue", "yellow", "pink", "cyan", "purple", "ocean", "orange", "white",
)
COLORS: np.ndarray = np.array(
    [
        (1.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        (0.0, 0.0, 1.0),
        (1.0, 1.0, 0.0),
        (1.0, 0.4, 1.0),
        (0.0, 1.0, 1.0),
        (0.3, 0.0, 0.5),
        (0.1, 0.4, 0.5),
        (1.0, 0.6, 0.0),
        (1.0, 1.0, 1.0),
    ],
    dtype=np.float64,
)
COLORS.setflags(write=False)
BACKGROUND: tuple[float, float, float] = (0.5, 0.5, 0.5)

# bump whenever rendered pixels change for the same inputs (invalidates on-disk caches)
GENERATOR_VERSION: int = 1

MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 2000  # texture-canvas indices are computed in float32, exact below (2S + p)^2 < 2^24
MIN_PERIOD = 5  # texture period floor in pixels: below 5 px, triangles / pluses / dots lose their form

CHUNK_PIXELS = 64 * 224 * 224  # default work per vectorised step: few large tensor ops, bounded memory

_REF_SIZE = 224  # the published canvas
_REF_TEMPLATE = 128  # the published shape template
_REF_PERIOD = 10  # the published texture period
_MAX_ANGLE = 45  # angles are integers in [-45, 45)


def _to_uint8_scale(rgb: np.ndarray) -> np.ndarray:
    """[0, 1] -> 0..255, rounded half up (0.5 -> 128): the values a fully covered pixel takes."""
    return np.floor(np.asarray(rgb, dtype=np.float64) * 255.0 + 0.5).astype(np.uint8)


COLORS_UINT8: np.ndarray = _to_uint8_scale(COLORS)  # (10, 3) uint8
COLORS_UINT8.setflags(write=False)
BACKGROUND_UINT8: np.ndarray = _to_uint8_scale(np.array(BACKGROUND))  # (3,) uint8: (128, 128, 128)
BACKGROUND_UINT8.setflags(write=False)


# --------------------------------------------------------------------------------------------------
# sizes


def _check_image_size(image_size: object) -> int:
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise TypeError(f"image_size must be an int (pixels per side), got {type(image_size).__name__}")
    if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(f"image_size must be in {MIN_IMAGE_SIZE}..{MAX_IMAGE_SIZE} pixels, got {image_size}")
    return int(image_size)


def template_size(image_size: int) -> int:
    """Side ``T`` of the shape template: ``round(S * 128 / 224)`` (128 px at ``S = 224``)."""
    s = _check_image_size(image_size)
    return max(1, round(s * _REF_TEMPLATE / _REF_SIZE))


def texture_period(image_size: int) -> int:
    """Texture period ``p = max(MIN_PERIOD, round(10 S / 224))`` in pixels (10 at ``S = 224``)."""
    s = _check_image_size(image_size)
    return max(MIN_PERIOD, round(s * _REF_PERIOD / _REF_SIZE))


# --------------------------------------------------------------------------------------------------
# shape templates


def _polygon_inside(x: np.ndarray, y: np.ndarray, vertices: list[tuple[float, float]]) -> np.ndarray:
    """Even-odd point-in-polygon test, vectorised over points. x, y: (H, W); returns bool (H, W)."""
    inside = np.zeros(x.shape, dtype=bool)
    n = len(vertices)
    for k in range(n):  # loop over the few edges, not over pixels
        x0, y0 = vertices[k]
        x1, y1 = vertices[(k + 1) % n]
        if y0 == y1:
            continue  # a horizontal edge never crosses a horizontal ray
        crosses = (y0 > y) != (y1 > y)
        x_at_y = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < x_at_y)
    return inside


def _regular_polygon(n: int, radius: float, start_deg: float = -90.0) -> list[tuple[float, float]]:
    angles = np.deg2rad(start_deg + 360.0 / n * np.arange(n))
    return [(radius * math.cos(a), radius * math.sin(a)) for a in angles]


def _star(outer: float = 1.0, inner: float = 0.382) -> list[tuple[float, float]]:
    """Five-pointed star, point up; inner/outer = 0.382 is the regular pentagram."""
    pts = []
    for k in range(10):
        r = outer if k % 2 == 0 else inner
        a = math.radians(-90.0 + 36.0 * k)
        pts.append((r * math.cos(a), r * math.sin(a)))
    return pts


def _shape_inside(name: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inside test of shape ``name`` at normalised coordinates x, y in (-1, 1) (y points down)."""
    third = 1.0 / 3.0  # bars are one third of the template wide
    if name == "triangle":
        return _polygon_inside(x, y, [(0.0, -1.0), (1.0, 1.0), (-1.0, 1.0)])
    if name == "square":
        return np.ones(x.shape, dtype=bool)
    if name == "plus":
        return (np.abs(x) < third) | (np.abs(y) < third)
    if name == "circle":
        return x**2 + y**2 <= 1.0
    if name == "tee":
        return (y < -third) | (np.abs(x) < third)
    if name == "rhombus":
        # four equal sides with 60 / 120 degree corners, slanted: a square turned by up to 45 degrees
        # never looks like it (|x| + |y| <= 1 would be a 45-degree square, i.e. a smaller "square")
        h = math.sqrt(3.0) / 3.0
        return _polygon_inside(x, y, [(-1.0, h), (-1.0 / 3.0, -h), (1.0, -h), (1.0 / 3.0, h)])
    if name == "pentagon":
        return _polygon_inside(x, y, _regular_polygon(5, 1.0))
    if name == "star":
        return _polygon_inside(x, y, _star())
    if name == "fivesquare":
        # the five cells of a 3 x 3 grid that a die's five shows: four corners and the centre
        col = np.clip(np.floor((x + 1.0) / (2.0 * third)), 0, 2)
        row = np.clip(np.floor((y + 1.0) / (2.0 * third)), 0, 2)
        return (col + row) % 2 == 0
    if name == "trapezoid":
        return _polygon_inside(x, y, [(-0.5, -1.0), (0.5, -1.0), (1.0, 1.0), (-1.0, 1.0)])
    raise ValueError(f"unknown shape {name!r}; valid shapes: {SHAPES}")


def shape_template(shape: int, size: int) -> np.ndarray:
    """The binary, unrotated template of one shape, evaluated at pixel centres.

    Args:
        shape: index into ``SHAPES``.
        size: template side in pixels (``template_size(image_size)`` when rendering).

    Returns:
        bool array ``(size, size)``.
    """
    if isinstance(shape, bool) or not isinstance(shape, (int, np.integer)) or not 0 <= shape < len(SHAPES):
        raise ValueError(f"shape must be an index in 0..{len(SHAPES) - 1} (see SHAPES), got {shape!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
    c = (np.arange(size, dtype=np.float64) + 0.5) * (2.0 / size) - 1.0  # pixel centres in (-1, 1)
    y, x = np.meshgrid(c, c, indexing="ij")  # (size, size) each; y indexes rows (down)
    return _shape_inside(SHAPES[int(shape)], x, y)


@functools.lru_cache(maxsize=4)
def _templates_tensor(size: int) -> Tensor:
    """All ten templates as float32 ``(10, 1, size, size)`` for ``grid_sample``. Do not modify (cached)."""
    t = np.stack([shape_template(k, size) for k in range(len(SHAPES))]).astype(np.float32)
    return torch.from_numpy(t)[:, None]


# --------------------------------------------------------------------------------------------------
# random pose


@dataclass(frozen=True)
class RenderParams:
    """The random draws of N images (everything but the attributes).

    Attributes:
        angle: ``(N,)`` int64, shape rotation in degrees, in ``[-45, 45)``.
        offset: ``(N, 2)`` int64, ``(x, y)`` of the top-left corner of the rotated template's box.
        texture_angle: ``(N,)`` int64, texture rotation in degrees, in ``[-45, 45)``.
        phase: ``(N, 2)`` int64, texture phase ``(x, y)``, each in ``0 .. p - 1``.
        field_seed: ``(N,)`` int64, seed of the image's random field (used by noise and rain only).
    """

    angle: np.ndarray
    offset: np.ndarray
    texture_angle: np.ndarray
    phase: np.ndarray
    field_seed: np.ndarray

    def __len__(self) -> int:
        return int(self.angle.shape[0])

    def take(self, index: slice | np.ndarray) -> "RenderParams":
        """The parameters of a subset of the images (a slice or an index array)."""
        return RenderParams(
            self.angle[index], self.offset[index], self.texture_angle[index], self.phase[index], self.field_seed[index]
        )


def _rotated_box(template: int, angle_deg: np.ndarray) -> np.ndarray:
    """Side of the box that holds a ``template``-px square rotated by ``angle_deg``: (N,) int64."""
    a = np.deg2rad(angle_deg.astype(np.float64))
    extent = template * (np.abs(np.cos(a)) + np.abs(np.sin(a)))
    return np.ceil(extent - 1e-9).astype(np.int64)


def sample_render_params(n: int, image_size: int, rng: np.random.Generator) -> RenderParams:
    """Draw pose, texture phase, texture angle and field seeds for ``n`` images.

    Draw order (fixed, so the same ``rng`` state gives the same images): shape angles, offsets
    (uniform integers in ``0 .. S - box`` for x then y), texture angles, phases, field seeds.

    Args:
        n: number of images (>= 0).
        image_size: canvas side ``S`` in pixels.
        rng: the source of all randomness.

    Returns:
        :class:`RenderParams` of length ``n``.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    s = _check_image_size(image_size)
    t = template_size(s)
    p = texture_period(s)
    angle = rng.integers(-_MAX_ANGLE, _MAX_ANGLE, size=n, dtype=np.int64)
    room = s - _rotated_box(t, angle) + 1  # (n,) number of valid offsets per axis
    offset = np.stack([rng.integers(0, room), rng.integers(0, room)], axis=1).astype(np.int64)  # (n, 2)
    texture_angle = rng.integers(-_MAX_ANGLE, _MAX_ANGLE, size=n, dtype=np.int64)
    phase = rng.integers(0, p, size=(n, 2), dtype=np.int64)
    field_seed = rng.integers(0, 2**62, size=n, dtype=np.int64)
    return RenderParams(angle, offset, texture_angle, phase, field_seed)


# --------------------------------------------------------------------------------------------------
# shape masks


def _shape_masks_t(shape: np.ndarray, image_size: int, params: RenderParams) -> Tensor:
    """Bilinearly rotated and placed templates: float32 ``(n, S, S)`` in [0, 1].

    A canvas point at ``d`` from the template's centre (``offset + box / 2``) reads the template at
    ``R(-angle) d + T / 2``; in ``grid_sample``'s normalised coordinates (``align_corners=False``)
    that is ``g = (S / T) R x_n + (2 / T) R (S / 2 - centre)`` for the canvas point ``x_n``.
    """
    s = image_size
    templates = _templates_tensor(template_size(s))  # (10, 1, T, T)
    t = templates.shape[-1]
    a = np.deg2rad(params.angle.astype(np.float64))
    cos, sin = np.cos(a), np.sin(a)  # (n,)
    box = _rotated_box(t, params.angle)
    centre = params.offset.astype(np.float64) + box[:, None] / 2.0  # (n, 2) on the canvas, (x, y)
    rot = np.stack([np.stack([cos, sin], axis=1), np.stack([-sin, cos], axis=1)], axis=1)  # (n, 2, 2)
    lin = torch.from_numpy((rot * (s / t)).astype(np.float32))  # (n, 2, 2)
    shift = torch.from_numpy(((2.0 / t) * (rot @ (s / 2.0 - centre)[:, :, None]))[:, :, 0].astype(np.float32))
    xn = (torch.arange(s, dtype=torch.float32) + 0.5) * (2.0 / s) - 1.0  # (S,) pixel centres in (-1, 1)
    col, row = xn[None, None, :], xn[None, :, None]  # (1, 1, S), (1, S, 1)
    grid = torch.empty((shape.shape[0], s, s, 2), dtype=torch.float32)
    for k in range(2):  # one broadcast add per output coordinate, written in place
        torch.add(lin[:, k, 0, None, None] * col + shift[:, k, None, None], lin[:, k, 1, None, None] * row,
                  out=grid[..., k])
    src = templates[torch.from_numpy(shape)]  # (n, 1, T, T)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out[:, 0]  # (n, S, S)


def shape_masks(shape: np.ndarray, image_size: int, params: RenderParams) -> np.ndarray:
    """The shape masks ``M`` (step 1 above) of the images described by ``params``.

    Args:
        shape: ``(N,)`` int shape indices.
        image_size: canvas side ``S``.
        params: :class:`RenderParams` of length ``N``.

    Returns:
        float32 ``(N, S, S)`` in [0, 1]: 1 inside the shape, 0 outside, fractional on rotated edges.
    """
    (shape,) = _check_indices(shape=shape)
    s = _check_image_size(image_size)
    _check_params(params, shape.shape[0], s)
    return _shape_masks_t(shape, s, params).numpy()


# --------------------------------------------------------------------------------------------------
# textures: each periodic pattern is drawn once, unrotated, on a (2S + p)-px canvas; an image's texture
# is a gather from that canvas at its rotated integer coordinates shifted by its phase


def _band(p: int) -> int:
    return max(1, round(0.3 * p))  # stripes / grid / zigzag band width: 3 px at p = 10


def _solid(u: np.ndarray, v: np.ndarray, p: int) -> np.ndarray:
    return np.ones(u.shape, dtype=bool)


def _stripes(u: np.ndarray, v: np.ndarray, p: int) -> np.ndarray:
    return (v % p) < _band(p)  # horizontal bands


def _grid(u: np.ndarray, v: np.ndarray, p: int) -> np.ndarray:
    w = _band(p)
    return ((u % p) < w) | ((v % p) < w)


def _hexgrid(u: np.ndarray, v: np.ndarray, p: int) -> np.ndarray:
    # three families of lines, at 0 and +-60 degrees, spaced p apart along their normals
    w = max(1.0, 0.2 * p)
    x = u + 0.5
    y = v + 0.5
    h = math.sqrt(3.0) / 2.0
    return (np.remainder(y, p) < w) | (np.remainder(0.5 * y + h * x, p) < w) | (np.remainder(0.5 * y - h * x, p) < w)


def _dots(u: np.ndarray, v: np.ndarray, p: int) -> np.ndarray:
    # discs of radius 0.4 p centred in each cell; doubled coordinates keep the centre on the grid
    da = 2 * (u % p) - (p - 1)
    db = 2 * (v % p) - (p - 1)
    return (da * da + db * db) < (0.8 * p) ** 2


def _triangles(u: np.ndarray, v: np.ndarray, p: int) -> np.ndarray:
    # an upward triangle per cell: row b is about b + 1 px wide, the last row is left empty
    a = u % p
    b = v % p
    return (np.abs(2 * a - (p - 1)) <= b) & (b < p - 1)


def _zigzags(u: np.ndarray, v: np.ndarray, p: int) -> np.ndarray:
    # bands of slope +-1 whose direction flips every period along x
    tri = np.abs((u % (2 * p)) - p)
    return ((v - tri) % p) < _band(p)


def _pluses(u: np.ndarray, v: np.ndarray, p: int) -> np.ndarray:
    # one plus per cell, every other row of cells shifted by half a period
    shift = ((v // p) % 2) * (p // 2)
    a = (u + shift) % p
    b = v % p
    c = p // 2
    arm = min(round(0.3 * p), (p - 1) // 2 - 1)  # 3 at p = 10; 1 at p = 5 so neighbours never touch
    thick = max(1, round(p / 10))
    lo = c - thick // 2
    on_col = (a >= lo) & (a < lo + thick)
    on_row = (b >= lo) & (b < lo + thick)
    return (on_row & (np.abs(a - c) <= arm)) | (on_col & (np.abs(b - c) <= arm))


def _noise_field(side: int, p: int, g: np.random.Generator) -> np.ndarray:
    """i.i.d. Bernoulli(0.5) pixels: bool (side, side)."""
    return g.random((side, side), dtype=np.float32) < 0.5


def _rain_field(side: int, p: int, g: np.random.Generator) -> np.ndarray:
    """Vertical 1-px streaks of length L0 or L0 + 1 (6 or 7 at p = 10), each starting at a pixel with
    probability 0.05 * 10 / p and running downwards: bool (side, side)."""
    start_p = 0.05 * _REF_PERIOD / p
    l0 = max(2, round(0.6 * p))
    starts = g.random((side, side), dtype=np.float32) < start_p
    lengths = np.zeros((side, side), dtype=np.int16)
    lengths[starts] = l0 + (g.random(int(starts.sum())) < 0.5)
    field = np.zeros((side, side), dtype=bool)
    for k in range(l0 + 1):  # a streak of length L covers rows start .. start + L - 1
        field[k:] |= lengths[: side - k] > k
    return field


_PATTERNS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "solid": _solid,
    "stripes": _stripes,
    "grid": _grid,
    "hexgrid": _hexgrid,
    "dots": _dots,
    "triangles": _triangles,
    "zigzags": _zigzags,
    "pluses": _pluses,
}
# textures drawn afresh for every image, from its own field seed
_FIELDS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "noise": _noise_field,
    "rain": _rain_field,
}
assert set(_PATTERNS) | set(_FIELDS) == set(TEXTURES)


def _canvas_side(image_size: int) -> int:
    """Side of the texture canvas: 2S for the rotation, plus p so that any phase stays inside."""
    return 2 * image_size + texture_period(image_size)


@functools.lru_cache(maxsize=4)
def _pattern_bank(image_size: int) -> Tensor:
    """The periodic patterns, unrotated and unshifted: uint8 ``(10, C, C)`` (C = ``_canvas_side``);
    the slots of the random textures (noise, rain) are left empty. Do not modify (it is cached)."""
    side = _canvas_side(image_size)
    p = texture_period(image_size)
    v, u = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")  # (C, C) rows, columns
    bank = np.zeros((len(TEXTURES), side, side), dtype=np.uint8)
    for k, name in enumerate(TEXTURES):
        if name in _PATTERNS:
            bank[k] = _PATTERNS[name](u, v, p)
    return torch.from_numpy(bank)


def _texture_chunk(texture: np.ndarray, image_size: int, params: RenderParams) -> Tensor:
    """Texture masks ``X`` of a chunk of images: uint8 ``(n, S, S)`` in {0, 1}.

    Output pixel (x, y) of the central S x S crop sits at ``d = (x, y) + crop + 0.5 - S`` relative to
    the centre of the 2S canvas; the nearest-neighbour rotation reads the canvas pixel
    ``floor(R d + S)`` (always inside: ``|R d| <= S / sqrt(2)``), shifted by the phase.
    """
    s = image_size
    side = _canvas_side(s)
    p = texture_period(s)
    canvas_id = texture.copy()  # (n,) which canvas of the bank each image reads
    fixed = _pattern_bank(s)  # (10, C, C)
    random_idx = np.flatnonzero(np.isin(texture, [TEXTURES.index(k) for k in _FIELDS]))
    if random_idx.size:
        bank = torch.empty((len(TEXTURES) + random_idx.size, side, side), dtype=torch.uint8)  # (10 + r, C, C)
        bank[: len(TEXTURES)] = fixed
        bank_np = bank.numpy()  # shares memory: the fields are written straight into the bank
        for j, i in enumerate(random_idx):
            make_field = _FIELDS[TEXTURES[texture[i]]]
            bank_np[len(TEXTURES) + j] = make_field(side, p, np.random.default_rng(int(params.field_seed[i])))
        canvas_id[random_idx] = len(TEXTURES) + np.arange(random_idx.size)
    else:
        bank = fixed

    crop = s // 2  # (2S - S) // 2
    rel = torch.arange(s, dtype=torch.float32) + (crop + 0.5 - s)  # (S,) pixel centres, canvas-centred
    a = torch.from_numpy(np.deg2rad(params.texture_angle.astype(np.float64)).astype(np.float32))
    cos, sin = torch.cos(a)[:, None, None], torch.sin(a)[:, None, None]  # (n, 1, 1)
    dx, dy = rel[None, None, :], rel[None, :, None]  # (1, 1, S), (1, S, 1)
    ph = torch.from_numpy(params.phase)  # (n, 2)
    phx, phy = ph[:, 0, None, None].float(), ph[:, 1, None, None].float()  # (n, 1, 1)
    u = torch.floor_(cos * dx + (sin * dy + (s + phx)))  # (n, S, S) canvas columns
    v = torch.floor_(cos * dy + (s + phy) - sin * dx)  # (n, S, S) canvas rows
    # v * C + u < C^2 is exact in float32 (C <= 4096, see MAX_IMAGE_SIZE); the canvas offset is int64
    flat = torch.addcmul(u, v, torch.tensor(float(side))).to(torch.int64)
    flat += torch.from_numpy(canvas_id * side * side)[:, None, None]
    return torch.take(bank, flat)  # (n, S, S)


def texture_masks(texture: np.ndarray, image_size: int, params: RenderParams) -> np.ndarray:
    """The texture masks ``X`` (step 2 above) of the images described by ``params``.

    Args:
        texture: ``(N,)`` int texture indices.
        image_size: canvas side ``S``.
        params: :class:`RenderParams` of length ``N``.

    Returns:
        bool ``(N, S, S)``: True where the texture shows the color (computed in one step: for large N
        at 224 px, call it on slices).
    """
    (texture,) = _check_indices(texture=texture)
    s = _check_image_size(image_size)
    _check_params(params, texture.shape[0], s)
    return _texture_chunk(texture, s, params).numpy().astype(bool)


# --------------------------------------------------------------------------------------------------
# rendering


def _check_indices(**arrays: object) -> list[np.ndarray]:
    out = []
    for name, value in arrays.items():
        arr = np.asarray(value)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array (N,) of indices, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{name} must hold integer indices 0..9, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        if arr.size and (arr.min() < 0 or arr.max() > 9):
            raise ValueError(f"{name} indices must be in 0..9, got values in {arr.min()}..{arr.max()}")
        out.append(arr)
    lengths = {a.shape[0] for a in out}
    if len(lengths) > 1:
        given = ", ".join(f"{k}: {a.shape[0]}" for k, a in zip(arrays, out))
        raise ValueError(f"shape, texture and color must have the same length, got {given}")
    return out


def _check_params(params: RenderParams, n: int, image_size: int) -> None:
    if not isinstance(params, RenderParams):
        raise TypeError(f"params must be RenderParams (from sample_render_params), got {type(params).__name__}")
    if len(params) != n:
        raise ValueError(f"params describe {len(params)} images but {n} attribute triples were given")
    box = _rotated_box(template_size(image_size), params.angle)
    if n and (params.offset.min() < 0 or (params.offset + box[:, None]).max() > image_size):
        raise ValueError(f"params put a shape outside the {image_size}-px canvas; draw them for this image_size")


def render_from_params(
    shape: np.ndarray,
    texture: np.ndarray,
    color: np.ndarray,
    image_size: int,
    params: RenderParams,
    *,
    chunk_size: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Render images from attribute indices and already drawn random parameters.

    Pixel ``= M X color + (1 - M X) background`` (step 3 above), computed on the 0..255 scale and
    rounded half up, so fully covered pixels equal ``COLORS_UINT8[color]`` and uncovered ones
    ``BACKGROUND_UINT8`` exactly.

    Args:
        shape, texture, color: ``(N,)`` int attribute indices in 0..9.
        image_size: canvas side ``S``.
        params: :class:`RenderParams` of length ``N``.
        chunk_size: images per vectorised step; None: as many as fit in ``CHUNK_PIXELS`` pixels
            (64 images at 224 px, about 150 MB of temporaries).
        progress: show a tqdm bar over chunks.

    Returns:
        uint8 ``(N, S, S, 3)``.
    """
    shape, texture, color = _check_indices(shape=shape, texture=texture, color=color)
    s = _check_image_size(image_size)
    n = shape.shape[0]
    _check_params(params, n, s)
    if chunk_size is None:
        chunk_size = max(1, CHUNK_PIXELS // (s * s))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    colors = torch.from_numpy(COLORS_UINT8.astype(np.float32))  # (10, 3) on the 0..255 scale
    bg = torch.from_numpy(BACKGROUND_UINT8.astype(np.float32))  # (3,)
    out = np.empty((n, s, s, 3), dtype=np.uint8)
    starts = range(0, n, int(chunk_size))
    if progress:
        starts = tqdm(starts, desc=f"rendering Trifeature {s}px", unit="chunk")
    for lo in starts:
        hi = min(n, lo + int(chunk_size))
        sub = params.take(slice(lo, hi))
        mask = _shape_masks_t(shape[lo:hi], s, sub)  # (m, S, S) float
        alpha = mask.mul_(_texture_chunk(texture[lo:hi], s, sub))[..., None]  # (m, S, S, 1): M X
        diff = (colors[torch.from_numpy(color[lo:hi])] - bg)[:, None, None, :]  # (m, 1, 1, 3)
        # bg + M X (color - bg), rounded half up; float -> uint8 truncation is floor (values >= 0)
        out[lo:hi] = torch.addcmul(bg + 0.5, alpha, diff).to(torch.uint8).numpy()
    return out


def render_images(
    shape: np.ndarray,
    texture: np.ndarray,
    color: np.ndarray,
    image_size: int,
    rng: np.random.Generator,
    *,
    chunk_size: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Render N Trifeature images with random pose, texture phase and texture angle from ``rng``.

    Args:
        shape: ``(N,)`` int indices into ``SHAPES``.
        texture: ``(N,)`` int indices into ``TEXTURES``.
        color: ``(N,)`` int indices into ``COLOR_NAMES`` / ``COLORS``.
        image_size: canvas side ``S`` in pixels (>= 16; 224 is the published size).
        rng: ``np.random.default_rng(seed)``; the same state gives identical images.
        chunk_size: images per vectorised step (None: ``CHUNK_PIXELS`` pixels' worth); bounds memory,
            the result does not depend on it.
        progress: show a tqdm bar.

    Returns:
        uint8 ``(N, S, S, 3)``.
    """
    shape, texture, color = _check_indices(shape=shape, texture=texture, color=color)
    s = _check_image_size(image_size)
    params = sample_render_params(shape.shape[0], s, rng)
    return render_from_params(shape, texture, color, s, params, chunk_size=chunk_size, progress=progress)
