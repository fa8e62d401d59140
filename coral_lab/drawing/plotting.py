"""Static figures that the teaching notebooks share (matplotlib; no global pyplot state).

Every function takes plain arrays, draws one figure and returns it as a ``matplotlib.figure.Figure``
built without pyplot, so calling it never opens a window, never changes the current figure and
leaks nothing across calls. In Jupyter, run ``%matplotlib inline`` once (the notebooks' setup cells
do): it registers the display hook that shows a returned figure when it is the cell's last value or
is passed to ``display(fig)`` (importing pyplot alone does not). Nothing here computes a model
quantity: the notebooks compute with ``coral_lab`` and hand the numbers over.

- ``image_grid``: a grid of images with row / column labels (Trifeature attributes, pairs, views).
- ``denormalize_images``: model input ``(B, 3, H, W)`` back to displayable ``(B, H, W, 3)``.
- ``token_mask_grid``: which tokens M_m keeps or masks (paper eq. 5-6), one token grid per panel.
- ``schedule_figure``: the masking ratio m per epoch (paper section 5.6.1).
- ``curves_figure``: y against x for several named curves (loss against temperature or angle).
- ``bar_figure``: named values as horizontal bars (the parts of eq. 3).
- ``label_balance_figure``: class frequencies of each task in each pair set.
- ``save_figure``: write a figure and its provenance sidecar (``coral_lab.config.provenance``).

Needs the ``notebooks`` extra (``pip install -e .[notebooks]``) for matplotlib.
"""

from __future__ import annotations

import io
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "coral_lab.drawing.plotting needs matplotlib; install the notebooks extra: pip install -e '.[notebooks]'"
    ) from e

from coral_lab.core.io import atomic_write
from coral_lab.config.provenance import SIDECAR_KEYS, write_sidecar

__all__ = [
    "KEPT_COLOR",
    "MASKED_COLOR",
    "SIDECAR_KEYS",
    "image_grid",
    "denormalize_images",
    "token_mask_grid",
    "schedule_figure",
    "curves_figure",
    "bar_figure",
    "label_balance_figure",
    "save_figure",
]

KEPT_COLOR = "#d9e6f2"  # a kept token (light blue-grey)
MASKED_COLOR = "#2b2b2b"  # a masked token (near black): M_m multiplied it by zero


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _to_numpy(x: Any, name: str) -> np.ndarray:
    """An array-like (numpy array, torch tensor on any device, nested lists) as a numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be array-like (numpy array or torch tensor), got {type(x).__name__}") from e


def _check_images(images: np.ndarray, name: str) -> np.ndarray:
    """Channel-last RGB images as float in [0, 1] or uint8; returns them unchanged (a view)."""
    if images.shape[-1:] != (3,):
        raise ValueError(
            f"{name} must be channel-last RGB (..., H, W, 3), got shape {images.shape}; for model inputs "
            f"(B, 3, H, W) use denormalize_images first"
        )
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"{name} must be uint8 (0..255) or float (0..1), got dtype {images.dtype}")
    if images.size and not (np.isfinite(images).all() and images.min() >= 0.0 and images.max() <= 1.0):
        raise ValueError(
            f"float {name} must be finite and in [0, 1] (got min {np.nanmin(images):.3g}, max "
            f"{np.nanmax(images):.3g}); undo the normalisation with denormalize_images"
        )
    return images


def _check_labels(labels: Sequence[str] | None, n: int, name: str) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str) or len(labels) != n:
        raise ValueError(f"{name} must be a sequence of {n} labels, got {labels!r}")
    return [str(s) for s in labels]


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _bare(ax) -> None:
    """No ticks or spines, but keep the axis labels (row / column names) visible."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


# ---------------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------------


def image_grid(
    images: Any,
    *,
    ncols: int | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    captions: Sequence[Sequence[str]] | None = None,
    title: str | None = None,
    cell_inches: float = 1.1,
    fontsize: float = 8,
) -> Figure:
    """Show images in a grid, one image per axes.

    Args:
        images: RGB images, uint8 (0..255) or float (0..1), either ``(R, C, H, W, 3)`` (a grid, e.g.
            shapes x textures) or ``(N, H, W, 3)`` together with ``ncols`` (filled row by row; unused
            cells of the last row are hidden).
        ncols: columns for ``(N, H, W, 3)`` input; must be None for ``(R, C, H, W, 3)`` input.
        row_labels: R labels, written left of the first column.
        col_labels: C labels, written above the first row.
        captions: R lists of C captions, written under each image (e.g. "stripes, red").
        title: figure title.
        cell_inches: side of one cell in inches.
        fontsize: label font size.

    Returns:
        Figure with R x C axes (``fig.axes`` in row-major order); axes ``r * C + c`` shows image
        ``(r, c)``.
    """
    arr = _to_numpy(images, "images")
    if arr.ndim == 5:
        if ncols is not None:
            raise ValueError("ncols is only for (N, H, W, 3) input; (R, C, H, W, 3) already has C columns")
        n_rows, n_cols = arr.shape[:2]
        flat = arr.reshape(n_rows * n_cols, *arr.shape[2:])
    elif arr.ndim == 4:
        if isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
            raise ValueError(f"(N, H, W, 3) input needs ncols, a positive int, got {ncols!r}")
        n_cols = int(ncols)
        n_rows = max(1, math.ceil(arr.shape[0] / n_cols))
        flat = arr
    else:
        raise ValueError(
            f"images must be (R, C, H, W, 3) or (N, H, W, 3) with ncols, got shape {arr.shape}"
        )
    if flat.shape[0] == 0:
        raise ValueError("images is empty; pass at least one image")
    flat = _check_images(flat, "images")
    rows = _check_labels(row_labels, n_rows, "row_labels")
    cols = _check_labels(col_labels, n_cols, "col_labels")
    if captions is not None:
        if len(captions) != n_rows or any(len(row) != n_cols for row in captions):
            raise ValueError(f"captions must be {n_rows} lists of {n_cols} strings (one per image)")
    cell = _positive(cell_inches, "cell_inches")

    fig = Figure(figsize=(cell * n_cols + (1.0 if rows else 0.2), cell * n_rows + (0.6 if title else 0.2)),
                 layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)  # (R, C) array of axes
    for k, ax in enumerate(axes.ravel()):
        r, c = divmod(k, n_cols)
        if k >= flat.shape[0]:
            ax.set_visible(False)
            continue
        ax.imshow(flat[k], interpolation="nearest")
        _bare(ax)
        if rows and c == 0:
            ax.set_ylabel(rows[r], fontsize=fontsize, rotation=0, ha="right", va="center")
        if cols and r == 0:
            ax.set_title(cols[c], fontsize=fontsize)
        if captions is not None:
            ax.set_xlabel(str(captions[r][c]), fontsize=fontsize)
    if title:
        fig.suptitle(title, fontsize=fontsize + 2)
    return fig


def denormalize_images(
    x: Any, mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225)
) -> np.ndarray:
    """Undo ``coral_lab.inputs.augment.normalize`` for display: ``x * std + mean``, clipped, channel-last.

    Args:
        x: model input ``(B, 3, H, W)`` (a torch tensor on any device, or a numpy array), normalised
            with ``mean`` / ``std`` (``AugmentConfig.mean`` / ``.std``; ImageNet by default).
        mean, std: the 3 per-channel values used to normalise.

    Returns:
        float32 ``(B, H, W, 3)`` in [0, 1] (values outside are clipped: colour jitter can leave the range
        only through rounding).
    """
    arr = _to_numpy(x, "x")
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f"x must be normalised model input (B, 3, H, W), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"x must be float (normalised), got dtype {arr.dtype}")
    m = np.asarray(mean, dtype=np.float32)
    s = np.asarray(std, dtype=np.float32)
    if m.shape != (3,) or s.shape != (3,) or not (s > 0).all():
        raise ValueError(f"mean and std must be 3 values each, std > 0; got {mean!r} and {std!r}")
    out = arr.astype(np.float32) * s[None, :, None, None] + m[None, :, None, None]  # (B, 3, H, W)
    return np.clip(out, 0.0, 1.0).transpose(0, 2, 3, 1).copy()  # (B, H, W, 3)


# ---------------------------------------------------------------------------------------------
# masking
# ---------------------------------------------------------------------------------------------


def token_mask_grid(
    keep: Any,
    grid_hw: tuple[int, int],
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    annotate: bool = True,
    title: str | None = None,
    cell_inches: float = 1.4,
) -> Figure:
    """Draw token keep masks (paper eq. 5-6, ``coral_lab.objectives.masking.token_keep_mask``) as token grids.

    Each panel is one modality's ``h x w`` token grid in one view: token ``r * w + c`` (row-major, as
    ``LatentConverter`` orders them) is the cell in row r, column c, drawn in ``KEPT_COLOR`` if kept
    and ``MASKED_COLOR`` if masked. The panel's image data (``ax.images[0].get_array()``) is the
    ``(h, w)`` array with 1 where masked and 0 where kept.

    Args:
        keep: bool ``(R, C, T)`` with ``T = h * w``: True where a token is kept (e.g. rows = masking
            ratios, columns = (view, modality)); ``(C, T)`` is read as one row.
        grid_hw: ``(h, w)``, the encoder's feature-map size (``LatentConverter.grid_hw``).
        row_labels, col_labels: R and C labels.
        annotate: write each token's index in its cell (only when T <= 64, where it stays legible).
        title: figure title.
        cell_inches: side of one panel in inches.

    Returns:
        Figure with R x C axes in row-major order; each panel's x-label says how many tokens are masked.
    """
    arr = _to_numpy(keep, "keep")
    if arr.dtype != np.bool_:
        raise TypeError(f"keep must be a bool mask (True = kept), e.g. from token_keep_mask, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"keep must be (R, C, T) or (C, T), got shape {arr.shape}")
    if (
        not isinstance(grid_hw, (tuple, list))
        or len(grid_hw) != 2
        or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1 for v in grid_hw)
    ):
        raise ValueError(f"grid_hw must be a pair of positive ints (h, w), got {grid_hw!r}")
    h, w = int(grid_hw[0]), int(grid_hw[1])
    n_rows, n_cols, n_tokens = arr.shape
    if n_tokens != h * w:
        raise ValueError(f"keep has T={n_tokens} tokens but grid_hw={grid_hw} has {h * w} cells")
    rows = _check_labels(row_labels, n_rows, "row_labels")
    cols = _check_labels(col_labels, n_cols, "col_labels")
    cell = _positive(cell_inches, "cell_inches")

    cmap = ListedColormap([KEPT_COLOR, MASKED_COLOR])
    fig = Figure(figsize=(cell * n_cols + (1.0 if rows else 0.2), cell * n_rows + (0.8 if title else 0.3)),
                 layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r in range(n_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            masked = (~arr[r, c]).reshape(h, w).astype(np.uint8)  # (h, w): 1 = masked
            ax.imshow(masked, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            # cell borders
            ax.set_xticks(np.arange(-0.5, w, 1.0), minor=True)
            ax.set_yticks(np.arange(-0.5, h, 1.0), minor=True)
            ax.grid(which="minor", color="white", linewidth=1.0)
            ax.tick_params(which="both", length=0)
            _bare(ax)
            if annotate and n_tokens <= 64:
                for t in range(n_tokens):
                    tr, tc = divmod(t, w)
                    ax.text(tc, tr, str(t), ha="center", va="center", fontsize=6,
                            color="white" if masked[tr, tc] else "black")
            ax.set_xlabel(f"{int(masked.sum())}/{n_tokens} masked", fontsize=8)
            if rows and c == 0:
                ax.set_ylabel(rows[r], fontsize=9, rotation=0, ha="right", va="center")
            if cols and r == 0:
                ax.set_title(cols[c], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def schedule_figure(
    ratios: Any, *, title: str | None = None, annotate_stages: bool = True, figsize: tuple[float, float] = (6.5, 3.0)
) -> Figure:
    """The masking ratio m of M_m (paper eq. 5-6) per epoch, as a step plot.

    Args:
        ratios: ``(E,)`` floats in [0, 1), ``ratios[e] = mask_ratio_at(e, E, schedule)`` for the
            0-based epochs ``e = 0 .. E-1``.
        title: axes title.
        annotate_stages: write each stage's ratio where it starts (one text per change of value).
        figsize: inches.

    Returns:
        Figure with one axes whose single line has x = epochs ``0 .. E-1`` and y = ``ratios``.
    """
    m = _to_numpy(ratios, "ratios").astype(np.float64)
    if m.ndim != 1 or m.size == 0:
        raise ValueError(f"ratios must be a non-empty 1-D sequence (one ratio per epoch), got shape {m.shape}")
    if not (np.isfinite(m).all() and m.min() >= 0.0 and m.max() < 1.0):
        raise ValueError("ratios must be masking ratios in [0, 1) (see coral_lab.objectives.masking.mask_ratio_at)")
    epochs = np.arange(m.size)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    ax.plot(epochs, m, drawstyle="steps-post", color="C3", linewidth=2)
    ax.set(xlabel="epoch (0-based)", ylabel="masking ratio m", ylim=(0, 1), xlim=(0, max(m.size, 1)))
    if annotate_stages:
        starts = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])  # first epoch of each stage
        for e in starts:
            ax.annotate(f"{m[e]:.0%} from epoch {e}", (e, m[e]), xytext=(3, 5), textcoords="offset points",
                        fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# curves and bars
# ---------------------------------------------------------------------------------------------


def curves_figure(
    x: Any,
    curves: Mapping[str, Any],
    *,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    hlines: Mapping[str, float] | None = None,
    vlines: Mapping[str, float] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (6.5, 3.5),
) -> Figure:
    """Several named curves y(x) on one axes, plus optional labelled reference lines.

    Args:
        x: ``(K,)`` shared x values (e.g. temperatures, angles in degrees).
        curves: name -> ``(K,)`` y values; one line per entry, in order, labelled with the name.
        xlabel, ylabel: axis labels.
        logx: logarithmic x axis (x must then be > 0).
        hlines: name -> y of a dashed horizontal reference line (e.g. ``log(2N - 1)``).
        vlines: name -> x of a dotted vertical reference line (e.g. 90 degrees).
        title: axes title.
        figsize: inches.

    Returns:
        Figure with one axes; ``ax.lines`` holds the curves first (in ``curves`` order), then the
        reference lines.
    """
    xs = _to_numpy(x, "x").astype(np.float64)
    if xs.ndim != 1 or xs.size < 2:
        raise ValueError(f"x must be 1-D with at least 2 values, got shape {xs.shape}")
    if logx and not (xs > 0).all():
        raise ValueError("logx=True needs x > 0")
    if not isinstance(curves, Mapping) or len(curves) == 0:
        raise ValueError("curves must be a non-empty mapping name -> y values")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    for name, y in curves.items():
        ys = _to_numpy(y, f"curves[{name!r}]").astype(np.float64)
        if ys.shape != xs.shape:
            raise ValueError(f"curve {name!r} has shape {ys.shape}, x has {xs.shape}; give one y per x")
        ax.plot(xs, ys, label=str(name), linewidth=2)
    for k, (name, y) in enumerate((hlines or {}).items()):
        ax.axhline(float(y), color=f"C{(len(curves) + k) % 10}", linestyle="--", linewidth=1, label=str(name))
    for k, (name, xv) in enumerate((vlines or {}).items()):
        ax.axvline(float(xv), color="grey", linestyle=":", linewidth=1, label=str(name))
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def bar_figure(
    values: Mapping[str, float],
    *,
    xlabel: str,
    reference: Mapping[str, float] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Named values as horizontal bars, top to bottom in mapping order (e.g. the parts of eq. 3).

    Args:
        values: name -> value (floats, or 0-dim tensors).
        xlabel: label of the value axis.
        reference: name -> x of a dashed vertical reference line (e.g. "chance: log(2N - 1)").
        title: axes title.
        figsize: inches; default grows with the number of bars.

    Returns:
        Figure with one axes; ``ax.patches[k]`` is the bar of the k-th entry, its width the value.
    """
    if not isinstance(values, Mapping) or len(values) == 0:
        raise ValueError("values must be a non-empty mapping name -> number")
    names = [str(k) for k in values]
    vals = np.array([float(_to_numpy(v, f"values[{k!r}]")) for k, v in values.items()], dtype=np.float64)
    if not np.isfinite(vals).all():
        raise ValueError(f"values must be finite, got {dict(zip(names, vals.tolist()))}")
    fig = Figure(figsize=figsize or (6.5, 0.45 * len(names) + 1.0), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(names))
    ax.barh(y, vals, color="C0")
    ax.set_yticks(y, names)
    ax.invert_yaxis()  # first entry on top
    for yi, v in zip(y, vals):
        ax.annotate(f"{v:.3f}", (v, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    for k, (name, xv) in enumerate((reference or {}).items()):
        ax.axvline(float(xv), color=f"C{(k + 1) % 10}", linestyle="--", linewidth=1, label=str(name))
    if reference:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xlabel(xlabel)
    ax.margins(x=0.15)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def label_balance_figure(
    labels: Mapping[str, Mapping[str, Any]],
    n_classes: Mapping[str, int],
    *,
    class_names: Mapping[str, Sequence[str]] | None = None,
    title: str | None = None,
    panel_inches: tuple[float, float] = (3.6, 2.6),
) -> Figure:
    """Class frequencies of each task in each pair set, one panel per task, one bar group per class.

    Args:
        labels: set name (e.g. "probe-train") -> task name -> ``(P,)`` int class labels (as returned
            by ``coral_lab.data.pair_labels``). Every set must have the same tasks.
        n_classes: task -> number of classes K (``coral_lab.data.N_CLASSES``).
        class_names: task -> K tick labels (default 0 .. K-1).
        title: figure title.
        panel_inches: size of one panel.

    Returns:
        Figure with one axes per task (in the order of the first set's tasks). In each panel the bars
        of set s occupy ``ax.patches[s * K:(s + 1) * K]`` and their heights are that set's class
        fractions (``bincount / P``); a dotted line marks the uniform share 1 / K.
    """
    if not isinstance(labels, Mapping) or len(labels) == 0:
        raise ValueError("labels must be a non-empty mapping set name -> {task: labels}")
    sets = list(labels)
    tasks = list(labels[sets[0]])
    if not tasks:
        raise ValueError(f"labels[{sets[0]!r}] has no tasks")
    for s in sets:
        if list(labels[s]) != tasks:
            raise ValueError(f"every set must have the tasks {tasks}; {s!r} has {list(labels[s])}")
    for t in tasks:
        if t not in n_classes:
            raise ValueError(f"n_classes has no entry for task {t!r}; give one per task (see data.N_CLASSES)")
    width = 0.8 / len(sets)
    fig = Figure(figsize=(panel_inches[0] * len(tasks), panel_inches[1] + (0.4 if title else 0.0)),
                 layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    for ax, t in zip(axes, tasks):
        k = int(n_classes[t])
        for si, s in enumerate(sets):
            y = _to_numpy(labels[s][t], f"labels[{s!r}][{t!r}]")
            if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"labels[{s!r}][{t!r}] must be a non-empty 1-D int array, got {y.dtype} {y.shape}")
            if y.min() < 0 or y.max() >= k:
                raise ValueError(f"labels[{s!r}][{t!r}] has classes outside 0..{k - 1}")
            frac = np.bincount(y, minlength=k) / y.size  # (K,)
            ax.bar(np.arange(k) + (si - (len(sets) - 1) / 2) * width, frac, width=width,
                   label=f"{s} (P={y.size})", color=f"C{si}")
        ax.axhline(1.0 / k, color="grey", linestyle=":", linewidth=1)
        names = class_names.get(t) if class_names else None
        ax.set_xticks(np.arange(k), [str(n) for n in names] if names is not None else [str(i) for i in range(k)],
                      rotation=90 if names is not None and k > 2 else 0, fontsize=7)
        ax.set_title(t, fontsize=10)
        ax.set_ylabel("fraction of pairs", fontsize=8)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside upper right", fontsize=7, ncols=len(sets))
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


# ---------------------------------------------------------------------------------------------
# saving
# ---------------------------------------------------------------------------------------------


def save_figure(fig: Figure, path: str | Path, info: Mapping[str, Any], *, dpi: int = 150) -> tuple[Path, Path]:
    """Write ``fig`` to ``path`` and its provenance to ``path`` with ``.json`` as suffix.

    A figure redrawn identically (the same image bytes, and a sidecar that differs only in when and at
    which commit it was written) leaves both files as they are, so redrawing every figure
    (``coral-lab figures``) changes only the figures whose picture or provenance changed.

    Args:
        fig: the figure.
        path: image file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
        info: provenance, normally ``coral_lab.config.provenance.provenance(...)``; must name every key of
            ``SIDECAR_KEYS`` (command, preset, seeds, device, commit, date).
        dpi: resolution of raster formats.

    Returns:
        (image path, sidecar path).
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    missing = [k for k in SIDECAR_KEYS if k not in info]
    if missing:
        raise ValueError(
            f"provenance info lacks {missing}; build it with coral_lab.config.provenance.provenance(preset=..., "
            f"seeds=..., device=..., command=...)"
        )
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("png", "svg", "pdf"):
        raise ValueError(f"path must end in .png, .svg or .pdf, got {path.name!r}")
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi)
    image, sidecar = buffer.getvalue(), path.with_suffix(".json")
    if path.is_file() and path.read_bytes() == image and _same_but_when(sidecar, info):
        return path, sidecar  # redrawn identically: the files (and the date they name) stay as they were
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(image))
    write_sidecar(sidecar, dict(info))
    return path, sidecar


# sidecar keys (at the top and in nested entries such as "figure") that say when and at which commit a
# file was written, not what it shows; in a nested entry also the command that (re)drew it
_WHEN_KEYS = ("date", "commit", "commit_at_write", "started")


def _without_when(info: Any, nested: bool = False) -> Any:
    if isinstance(info, Mapping):
        drop = (*_WHEN_KEYS, "command") if nested else _WHEN_KEYS
        return {k: _without_when(v, True) for k, v in info.items() if k not in drop}
    return info


def _same_but_when(sidecar: Path, info: Mapping[str, Any]) -> bool:
    """True if ``sidecar`` holds ``info`` but for the when-keys (``_WHEN_KEYS``), as JSON would store it."""
    try:
        old = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return False
    new = json.loads(json.dumps(dict(info), default=str))
    return _without_when(old) == _without_when(new)
