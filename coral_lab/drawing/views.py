"""Drawing what ``coral_lab.evaluation.analysis`` computed: training curves, probe maps and UMAP pictures.

- ``history_figure`` (plotly): every loss part of eq. 3 and the mask ratio per epoch;
- ``probe_map_heatmap`` (seaborn): a ``analysis.subspace_probe_map`` table, chance noted on every row;
- the paper's Figure 5 for Trifeature, from an ``analysis.umap_projection`` frame: ``umap_scatter``
  (plotly, interactive), ``umap_static_figure`` (seaborn, one panel per label) and
  ``umap_density_figure`` (train / test density contours per subspace).

Nothing here trains or probes. The plotting libraries (matplotlib, seaborn, plotly: the ``notebooks``
extra) are imported inside the functions that draw, so importing this module needs none of them.
Matplotlib figures are built without pyplot (no global state; Jupyter shows a returned ``Figure``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from coral_lab.evaluation.analysis import (
    COLOR_BY,
    LABEL_COLUMNS,
    LABEL_NAMES,
    TASK_CHANCE,
    check_umap_frame,
    subspace_label,
)
from coral_lab.data import COLOR_NAMES, COLORS

__all__ = ["history_figure", "probe_map_heatmap", "umap_scatter", "umap_density_figure", "umap_static_figure"]


def history_figure(histories: pd.DataFrame | Mapping[str, pd.DataFrame], title: str = ""):
    """Interactive curves of every loss part (eq. 3, 4, 7-8) and the mask ratio per epoch.

    Four panels: the total loss; the InfoNCE parts (``shared``, ``unique1`` ... and their sum
    ``unique``), or a baseline's own loss parts (``coral_lab.methods``: e.g. CLIP's ``clip`` and
    ``logit_scale``); the orthogonality parts (``ortho_*`` and their sum ``orthogonal``; COrAL only);
    the mask ratio m. COrAL and baseline runs can be drawn together.

    Args:
        histories: one history DataFrame (as ``load_or_pretrain`` returns, or a run's history.csv)
            or ``{run name: history}``.
        title: the figure title.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    from plotly.subplots import make_subplots
    import plotly.colors

    if isinstance(histories, pd.DataFrame):
        histories = {"run": histories}
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError("histories must be a history DataFrame or a non-empty {name: DataFrame} mapping")
    not_a_part = {"epoch", "loss", "mask_ratio", "seconds", "pairs_per_s"}
    panels = (
        ("total loss L (eq. 3)", lambda c: c == "loss"),
        ("InfoNCE parts (eq. 4) / a baseline's loss parts",
         lambda c: c not in not_a_part and not c.startswith("ortho")),
        ("orthogonality parts (eq. 7-8)", lambda c: c.startswith("ortho")),
        ("mask ratio m", lambda c: c == "mask_ratio"),
    )
    for name, h in histories.items():
        if not isinstance(h, pd.DataFrame):
            raise TypeError(f"history {name!r} must be a pandas DataFrame, got {type(h).__name__}")
        missing = {"epoch", "loss", "mask_ratio"} - set(h.columns)
        if missing:
            raise ValueError(
                f"history {name!r} lacks the columns {sorted(missing)}; pass the history of "
                "coral_lab.training.pretrain.pretrain / load_or_pretrain (history.csv of a run folder)"
            )
    fig = make_subplots(rows=2, cols=2, subplot_titles=[p[0] for p in panels], horizontal_spacing=0.1)
    palette = plotly.colors.qualitative.Plotly
    dashes = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
    for r, (name, h) in enumerate(histories.items()):
        color = palette[r % len(palette)]
        for k, (_, keep) in enumerate(panels):
            cols = [c for c in h.columns if keep(c)]
            for j, col in enumerate(cols):
                fig.add_scatter(
                    x=h["epoch"], y=h[col], mode="lines+markers", name=f"{name}: {col}", legendgroup=name,
                    line={"color": color, "dash": dashes[j % len(dashes)]}, row=k // 2 + 1, col=k % 2 + 1,
                    hovertemplate=f"{name}<br>{col}<br>epoch %{{x}}<br>%{{y:.4f}}<extra></extra>",
                )
    for k in range(4):
        fig.update_xaxes(title_text="epoch", row=k // 2 + 1, col=k % 2 + 1)
    fig.update_yaxes(range=[0, 1], row=2, col=2)
    fig.update_layout(title=title, height=650, legend={"groupclick": "togglegroup"})
    return fig


def probe_map_heatmap(table: pd.DataFrame, title: str):
    """Seaborn heat map of a ``subspace_probe_map`` table, chance level noted on every row.

    Cells show the balanced accuracy (%); the colour is the share of the way from chance to perfect,
    ``(acc - chance) / (100 - chance)`` clipped to [0, 1], so a synergy cell (chance 50 %) and a shape
    cell (chance 10 %) are comparable at a glance.

    Returns:
        A matplotlib ``Figure`` with two axes (the map and its colour bar).
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame (from subspace_probe_map), got {type(table).__name__}")
    if table.empty:
        raise ValueError("table is empty; build it with subspace_probe_map")
    unknown = [r for r in table.index if r not in TASK_CHANCE]
    if unknown:
        raise ValueError(f"unknown row label(s) {unknown}; rows must be task labels {list(TASK_CHANCE)} (subspace_probe_map)")
    values = table.to_numpy(dtype=float)
    if not np.isfinite(values).all() or values.min() < 0 or values.max() > 100:
        raise ValueError("table values must be balanced accuracies in [0, 100] %")
    chance = np.array([TASK_CHANCE[r] for r in table.index])[:, None]  # (tasks, 1)
    above = np.clip((values - chance) / (100 - chance), 0, 1)
    fig = Figure(figsize=(1.6 * table.shape[1] + 3.0, 0.75 * table.shape[0] + 1.6), layout="constrained")
    ax = fig.add_subplot()
    sns.heatmap(
        above, annot=np.vectorize(lambda v: f"{v:.1f}")(values), fmt="", cmap="viridis", vmin=0, vmax=1,
        ax=ax, cbar_kws={"label": "(acc - chance) / (100 - chance)"}, linewidths=0.5,
        xticklabels=[subspace_label(c) for c in table.columns],
        yticklabels=[f"{r}\n(chance {TASK_CHANCE[r]:.0f} %)" for r in table.index],
    )
    ax.set_xlabel("probed features")
    ax.set_ylabel("task")
    ax.tick_params(axis="y", rotation=0)
    ax.set_title(title + ("\n" if title else "") + "balanced accuracy %, linear probe", fontsize=10)
    return fig


def umap_scatter(df: pd.DataFrame, color_by: str = "subspace"):
    """Interactive plotly scatter of a ``umap_projection`` frame.

    Args:
        df: the frame (columns x, y, subspace, and the label / split columns used).
        color_by: one of ``COLOR_BY`` (subspace, split, shape, texture1, texture2, color1, color2,
            synergy). Labels are shown by name; color1 / color2 are drawn in the Trifeature colours.
            Unless ``color_by`` is the subspace, the marker symbol tells the subspace.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    import plotly.express as px

    if color_by not in COLOR_BY:
        raise ValueError(f"unknown color_by {color_by!r}; valid: {list(COLOR_BY)}")
    check_umap_frame(df, ["x", "y", "subspace", color_by])
    show = df.drop(columns=[c for c in ("embedding",) if c in df.columns]).copy()
    orders: dict[str, list] = {"subspace": list(dict.fromkeys(show["subspace"]))}
    for col, names in LABEL_NAMES.items():
        if col in show.columns:
            show[col] = [names[int(i)] for i in show[col]]
            orders[col] = list(names)
    if "synergy" in show.columns:
        show["synergy"] = show["synergy"].map({0: "0: color2 != pi(texture1)", 1: "1: color2 = pi(texture1)"})
        orders["synergy"] = ["0: color2 != pi(texture1)", "1: color2 = pi(texture1)"]
    if "split" in show.columns:
        orders["split"] = ["train", "test"]
    color_map = None
    if color_by in ("color1", "color2"):
        color_map = {n: "rgb({:.0f},{:.0f},{:.0f})".format(*(255 * np.asarray(c))) for n, c in zip(COLOR_NAMES, COLORS)}
    hover = [c for c in ("pair", "split", "subspace", *LABEL_COLUMNS) if c in show.columns]
    fig = px.scatter(
        show, x="x", y="y", color=color_by, symbol=None if color_by == "subspace" else "subspace",
        hover_data=hover, category_orders=orders, color_discrete_map=color_map, opacity=0.75,
        title=f"UMAP of the shared and unique embeddings, coloured by {color_by}",
    )
    fig.update_traces(marker={"size": 5, "line": {"width": 0.3, "color": "grey"}})
    fig.update_layout(xaxis_title="UMAP 1", yaxis_title="UMAP 2", height=600, legend_title_text=color_by)
    return fig


def umap_density_figure(df: pd.DataFrame, title: str):
    """The paper's Figure 5 for Trifeature: density contours of each subspace in the joint UMAP.

    One colour family per subspace (Z^SR, Z_1^U, Z_2^U); the probe-train density is drawn in the light
    shade and the probe-test density in the dark shade (seaborn ``kdeplot``, one per subspace x
    split). Disentangled subspaces form separate regions; test contours on top of train contours
    mean the structure generalises to unseen attribute combinations.

    Returns:
        A matplotlib ``Figure`` with one axes (x "UMAP 1", y "UMAP 2").
    """
    import seaborn as sns
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    check_umap_frame(df, ["x", "y", "subspace", "split"])
    bad = set(df["split"]) - {"train", "test"}
    if bad:
        raise ValueError(f"split values must be 'train' or 'test', got {sorted(bad)}")
    paired = sns.color_palette("Paired")  # (light, dark) pairs: blue, green, red, orange, purple, brown
    order = [0, 3, 1, 4, 5, 2]  # shared blue, unique1 orange, unique2 green, then purple, brown, red
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    ax = fig.add_subplot()
    handles = []
    for k, name in enumerate(dict.fromkeys(df["subspace"])):
        light, dark = paired[2 * order[k % 6]], paired[2 * order[k % 6] + 1]
        for split, color, width in (("train", light, 1.6), ("test", dark, 1.0)):
            pts = df[(df["subspace"] == name) & (df["split"] == split)]
            if len(pts) < 3:
                raise ValueError(f"subspace {name!r}, split {split!r} has {len(pts)} rows; a density needs at least 3")
            sns.kdeplot(data=pts, x="x", y="y", ax=ax, color=color, levels=6, thresh=0.15, linewidths=width)
            handles.append(Line2D([], [], color=color, linewidth=2, label=f"{subspace_label(name)} {split}"))
    ax.set_xlabel("UMAP 1")
    ax.set_ylabel("UMAP 2")
    ax.legend(handles=handles, loc="best", fontsize=8, title="light: train, dark: test", title_fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def umap_static_figure(
    df: pd.DataFrame, title: str, color_by: Sequence[str] = ("subspace", "shape", "texture1", "color2")
):
    """A static (seaborn) version of ``umap_scatter``: one panel per entry of ``color_by``.

    Labels are shown by name, color1 / color2 in the Trifeature colours; unless a panel is coloured
    by subspace, the marker tells the subspace.

    Returns:
        A matplotlib ``Figure`` with one axes per panel (on a grid of two columns).
    """
    import seaborn as sns
    from matplotlib.figure import Figure

    color_by = list(color_by)
    if not color_by:
        raise ValueError("color_by must name at least one column")
    bad = [c for c in color_by if c not in COLOR_BY]
    if bad:
        raise ValueError(f"unknown color_by {bad}; valid: {list(COLOR_BY)}")
    check_umap_frame(df, ["x", "y", "subspace", *color_by])
    n_rows = (len(color_by) + 1) // 2
    n_cols = min(2, len(color_by))
    fig = Figure(figsize=(6.5 * n_cols, 5.0 * n_rows), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False).ravel()
    subspace_names = [subspace_label(s) for s in df["subspace"]]
    for ax, col in zip(axes, color_by):
        if col in LABEL_NAMES:
            hue = [LABEL_NAMES[col][int(i)] for i in df[col]]
            order = [n for n in LABEL_NAMES[col] if n in set(hue)]
        elif col == "subspace":
            hue, order = subspace_names, list(dict.fromkeys(subspace_names))
        else:
            hue = [str(v) for v in df[col]]
            order = sorted(set(hue))
        palette = None
        if col in ("color1", "color2"):
            palette = {n: tuple(float(v) for v in c) for n, c in zip(COLOR_NAMES, COLORS)}
        sns.scatterplot(
            x=df["x"].to_numpy(), y=df["y"].to_numpy(), hue=hue, hue_order=order, palette=palette,
            style=None if col == "subspace" else subspace_names, s=10, alpha=0.7, linewidth=0.2,
            edgecolor="grey", ax=ax,
        )
        ax.set(xlabel="UMAP 1", ylabel="UMAP 2", title=f"coloured by {col}")
        ax.legend(fontsize=7, markerscale=1.2, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    for ax in axes[len(color_by):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    return fig

