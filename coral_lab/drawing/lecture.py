"""Slide-ready figures of COrAL's ideas, drawn from the library itself (no training, no result files).

- ``architecture_figure``: both pathways of the bimodal model, where the complementary masks act, what
  each loss term of eq. 3 compares;
- ``mask_grid_figure``: the complementary token masks M_m of both views at the paper's four ratios
  (``coral_lab.objectives.masking.token_keep_mask``, the masks the training step draws);
- ``orthogonality_figure``: the hinge penalty of eq. 7 against the squared one of the released code,
  each computed by ``coral_lab.objectives.losses.orthogonality_loss`` at every angle;
- ``schedule_lecture_figure``: the increasing 5 / 35 / 55 / 75 % schedule over the paper's 100 epochs
  (``coral_lab.objectives.masking.mask_ratio_at``).

``make_lecture_figures`` writes each as PNG and SVG with a provenance sidecar (``coral-lab figures``
does it beside the result figures). Matplotlib is imported here at the top: import this module only
where the ``notebooks`` extra is installed (the CLI imports it inside ``cmd_figures``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from coral_lab.drawing import plotting
from coral_lab.config import get_preset
from coral_lab.objectives.losses import ORTHO_KINDS, orthogonality_loss
from coral_lab.objectives.masking import PAPER_SCHEDULE, mask_ratio_at, token_keep_mask
from coral_lab.config.provenance import provenance

__all__ = [
    "LECTURE_FIGURES",
    "architecture_figure",
    "mask_grid_figure",
    "orthogonality_figure",
    "schedule_lecture_figure",
    "make_lecture_figures",
]

_SHARED, _UNIQUE, _LOSS, _MASK = "#dce9f5", "#fde5cf", "#e3f1df", "#2b2b2b"


def _box(ax, x: float, y: float, w: float, h: float, text: str, color: str, *, size: float = 9.0) -> None:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", linewidth=1.0,
                                edgecolor="#555555", facecolor=color))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], *, style: str = "-|>", color: str = "#333333",
           dashed: bool = False) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=10, linewidth=1.0, color=color,
                                 linestyle="--" if dashed else "-", shrinkA=0, shrinkB=0))


def architecture_figure() -> Figure:
    """COrAL for two modalities: the shared pathway F^SR (blue), the unique pathways F_i^U (orange), the losses.

    Returns:
        A matplotlib ``Figure`` (14 x 7 in) with one axes and no ticks.
    """
    fig = Figure(figsize=(14.0, 7.0))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set(xlim=(0, 16), ylim=(0, 8))
    ax.axis("off")
    h = 1.0  # box height
    rows = {1: 5.9, 2: 0.9}  # y of modality i's unique pathway; the shared pathway sits between them
    shared_y = {1: 4.25, 2: 2.55}
    for i, y in rows.items():
        _box(ax, 0.2, y, 1.7, h, f"input $x_{i}$\n(image {i})", "white")
        # unique pathway (never masked): own encoder -> 2-layer MLP to D/2 -> attention pooling
        _box(ax, 2.4, y, 2.3, h, f"encoder $E_{i}^U$\n(its own weights)", _UNIQUE)
        _box(ax, 5.2, y, 2.3, h, "MLP to D/2\n+ attention pooling", _UNIQUE)
        _box(ax, 8.0, y, 1.3, h, f"$Z_{i}^U$", _UNIQUE, size=13)
        _box(ax, 9.8, y, 1.6, h, f"head $g_{i}^U$", _UNIQUE)
        for x0, x1 in ((1.9, 2.4), (4.7, 5.2), (7.5, 8.0), (9.3, 9.8)):
            _arrow(ax, (x0, y + h / 2), (x1, y + h / 2))
        # shared pathway: encoder E_i -> tokens, masked in one view
        ty = shared_y[i]
        _box(ax, 2.4, ty, 2.3, h, f"encoder $E_{i}$\n-> tokens", _SHARED)
        _arrow(ax, (1.05, y if i == 1 else y + h), (2.4, ty + h / 2))
        _box(ax, 5.2, ty, 2.3, h, f"mask $M_m$:\nview {i} hides modality {i}", "#eeeeee", size=8.5)
        _arrow(ax, (4.7, ty + h / 2), (5.2, ty + h / 2))
        _arrow(ax, (7.5, ty + h / 2), (8.0, 4.0 if i == 1 else 3.55))
    _box(ax, 8.0, 2.8, 1.3, 2.2, "fusion\ntransformer\n+ CLS", _SHARED, size=9)
    _box(ax, 9.8, 3.3, 1.6, 1.2, "$Z^{SR}$\n-> head $g^{SR}$", _SHARED)
    _arrow(ax, (9.3, 3.9), (9.8, 3.9))
    # the losses of eq. 3
    _box(ax, 12.2, 5.95, 3.6, 0.9, "InfoNCE on $Z_1^{U\\prime}$, view 1 vs view 2", _LOSS, size=9)
    _box(ax, 12.2, 4.55, 3.6, 0.9, "orthogonality (eq. 7-8):\nCEL($Z_i^{U\\prime}$, $Z^{SR\\prime}$), CEL($Z_1^{U\\prime}$, $Z_2^{U\\prime}$)",
         "#f6dede", size=8.5)
    _box(ax, 12.2, 3.45, 3.6, 0.9, "InfoNCE on $Z^{SR\\prime}$, view 1 vs view 2\n(both views masked, complementary)",
         _LOSS, size=8.5)
    _box(ax, 12.2, 2.3, 3.6, 0.8, "$L = \\lambda_s L_s + \\lambda_u L_u + \\lambda_o L_o$ (eq. 3)", "white", size=9)
    _box(ax, 12.2, 0.95, 3.6, 0.9, "InfoNCE on $Z_2^{U\\prime}$, view 1 vs view 2", _LOSS, size=9)
    _arrow(ax, (11.4, rows[1] + h / 2), (12.2, 6.4))
    _arrow(ax, (11.4, 3.9), (12.2, 3.9))
    _arrow(ax, (11.4, rows[2] + h / 2), (12.2, 1.4))
    for start in ((11.4, rows[1] + 0.2), (11.4, 4.3), (11.4, rows[2] + 0.8)):
        _arrow(ax, start, (12.2, 5.0), color="#b04040", dashed=True)
    ax.text(0.2, 7.55, "COrAL, two modalities: the shared pathway $F^{SR}$ (blue) and one unique pathway $F_i^U$ "
            "per modality (orange)", fontsize=13, weight="bold")
    ax.text(0.2, 0.35, "Masking acts only on the shared pathway's tokens, on complementary modalities in the two "
            "views ($M_1$ in view 1, $M_2$ in view 2); the unique pathways never see a mask.\n"
            "The linear probes read $Z = (Z^{SR}, Z_1^U, Z_2^U)$, before the heads, unmasked; the losses act on "
            "the heads' outputs (primed).", fontsize=9.5, va="center")
    return fig


def mask_grid_figure(grid_hw: tuple[int, int] = (6, 6), *, seed: int = 0,
                     ratios: Sequence[float] | None = None, title: str | None = None) -> Figure:
    """The complementary token masks of one sample in both views, one row per masking ratio.

    Args:
        grid_hw: tokens per modality as (h, w): (6, 6) is the paper's AlexNet at 224 px (36 tokens).
        seed: the seed of the ``torch.Generator`` the masks are drawn with.
        ratios: the ratios m, default the paper's four (``PAPER_SCHEDULE``).

    Returns:
        ``plotting.token_mask_grid``'s figure: rows = ratios, columns = (view, modality).
    """
    ratios = [r for _, r in PAPER_SCHEDULE] if ratios is None else list(ratios)
    g = torch.Generator().manual_seed(seed)
    n_tokens = grid_hw[0] * grid_hw[1]
    rows = []
    for r in ratios:
        keep_1 = token_keep_mask(1, n_tokens, r, g)[0]  # (T,) modality 1, masked in view 1 (M1 = {1})
        keep_2 = token_keep_mask(1, n_tokens, r, g)[0]  # (T,) modality 2, masked in view 2 (M2 = {2})
        full = torch.ones_like(keep_1)
        rows.append(torch.stack([keep_1, full, full, keep_2]))  # (4, T): v1 m1, v1 m2, v2 m1, v2 m2
    return plotting.token_mask_grid(
        torch.stack(rows), grid_hw, row_labels=[f"m = {r:.0%}" for r in ratios],
        col_labels=["view 1: modality 1", "view 1: modality 2", "view 2: modality 1", "view 2: modality 2"],
        title=title or f"complementary asymmetric masking M_m (eq. 5-6), one sample, {n_tokens} tokens per modality",
    )


def orthogonality_curves(n_angles: int = 181) -> pd.DataFrame:
    """Both orthogonality penalties of two unit vectors at angles 0..180 degrees, by ``orthogonality_loss``.

    Returns:
        Columns angle_deg, cosine, hinge, squared (one row per angle).
    """
    angles = np.linspace(0.0, 180.0, n_angles)
    rad = torch.tensor(np.deg2rad(angles), dtype=torch.float64)
    a = torch.stack([torch.ones_like(rad), torch.zeros_like(rad)], dim=1)  # (A, 2): the x axis
    b = torch.stack([torch.cos(rad), torch.sin(rad)], dim=1)  # (A, 2): at the angle
    out = {"angle_deg": angles, "cosine": np.cos(np.deg2rad(angles))}
    for kind in ORTHO_KINDS:
        # one pair at a time: orthogonality_loss is a batch mean, each row here is one angle
        out[kind] = [float(orthogonality_loss(a[k:k + 1].float(), b[k:k + 1].float(), kind)) for k in range(n_angles)]
    return pd.DataFrame(out)


def orthogonality_figure() -> Figure:
    """Hinge (paper eq. 7, max(0, cos)) against squared (released code, cos^2), per angle between the embeddings."""
    curves = orthogonality_curves()
    fig = Figure(figsize=(7.0, 3.8), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(curves["angle_deg"], curves["hinge"], label="hinge max(0, cos) (paper eq. 7)", linewidth=2.2)
    ax.plot(curves["angle_deg"], curves["squared"], label="squared cos^2 (released code)", linewidth=2.2,
            linestyle="--")
    ax.axvline(90, color="grey", linewidth=0.8, linestyle=":")
    ax.axvspan(90, 180, color="#e3f1df", alpha=0.6, label="free under the hinge")
    ax.set(xlabel="angle between Z_i^U' and Z^SR' (degrees)", ylabel="penalty of one pair", xlim=(0, 180),
           ylim=(-0.02, 1.05), xticks=[0, 45, 90, 135, 180])
    ax.set_title("orthogonality penalties, computed by coral_lab.objectives.losses.orthogonality_loss", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def schedule_lecture_figure(epochs: int = 100) -> Figure:
    """The paper's increasing masking schedule over ``epochs`` (default the published 100)."""
    ratios = [mask_ratio_at(e, epochs, "paper") for e in range(epochs)]
    return plotting.schedule_figure(ratios, title=f"masking ratio m per epoch: the paper's schedule over {epochs} "
                                                  "epochs (section 5.6.1)", figsize=(7.0, 3.2))


def quick_mask_grid_figure(samples: int = 6, seed: int = 0) -> Figure:
    """The quick preset's masks: a fixed 90 % of 2 x 2 tokens per modality, ``samples`` draws (one per row)."""
    return mask_grid_figure((2, 2), seed=seed, ratios=[0.9] * samples,
                            title=f"the quick preset's masks: 90 % of 2 x 2 tokens per modality, {samples} samples "
                                  "(one per row)")


def quick_schedule_figure() -> Figure:
    """The quick preset's masking ratio over its 10 epochs: a fixed 90 %."""
    t = get_preset("quick").train
    ratios = [mask_ratio_at(e, t.epochs, t.mask_schedule) for e in range(t.epochs)]
    return plotting.schedule_figure(ratios, title=f"masking ratio m per epoch: the quick preset, a fixed "
                                                  f"{ratios[0]:.0%} over its {t.epochs} epochs", figsize=(7.0, 3.2))


# name -> (figure builder, what it shows)
LECTURE_FIGURES = {
    "lecture_architecture": (architecture_figure, "both pathways, where masking acts, the loss terms"),
    "lecture_mask_grid": (mask_grid_figure, "complementary token masks at the paper's four ratios (seed 0)"),
    "lecture_orthogonality": (orthogonality_figure, "hinge vs squared orthogonality per angle"),
    "lecture_schedule": (schedule_lecture_figure, "the 5/35/55/75 % schedule over 100 epochs"),
    # the scale the students run (the quick preset): what their models were trained with
    "lecture_mask_grid_quick": (quick_mask_grid_figure, "the quick preset's masks: 90 % of 2 x 2 tokens, six draws "
                                                        "(seed 0): often a whole image hidden"),
    "lecture_schedule_quick": (quick_schedule_figure, "the quick preset's fixed 90 % over its 10 epochs"),
}


def make_lecture_figures(out_dir: str | Path, *, formats: Sequence[str] = ("png", "svg"),
                         command: str | None = None) -> pd.DataFrame:
    """Write every ``LECTURE_FIGURES`` entry to ``out_dir/<name>.<fmt>`` with a sidecar ``<name>.json``.

    The sidecar names the command, preset ("none": these figures need no trained model), the seed of
    the mask grid, the device ("cpu"), the commit and the date.

    Returns:
        One row per written file: figure, path, what.
    """
    out_dir = Path(out_dir)
    rows = []
    for name, (build, what) in LECTURE_FIGURES.items():
        fig = build()
        info = provenance(preset="none", seeds=[0] if name.startswith("lecture_mask_grid") else [], device="cpu",
                          command=command, extra={"figure": name, "what": what})
        for fmt in formats:
            path, _ = plotting.save_figure(fig, out_dir / f"{name}.{fmt}", info, dpi=200)
            rows.append({"figure": name, "path": str(path), "what": what})
    return pd.DataFrame(rows, columns=["figure", "path", "what"])
