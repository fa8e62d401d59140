"""The paper's figures, redrawn from saved result files only (no training, no model).

Every figure reads one result file (a CSV) and its provenance sidecar ``<stem>.provenance.json``
(command, preset, seeds, device, commit, date), draws a matplotlib figure and saves it with a
sidecar (``<figure>.json``) that copies the result's provenance and adds how the figure was made.
A figure made from a CPU preset (``ci`` / ``quick``) says so in its title.

| figure (``FIGURES`` key) | result file | written by |
|---|---|---|
| ``table1``: R / U / S bars vs the paper's Table 1 | ``table1.csv`` | ``coral-lab reproduce`` / ``quickstart`` |
| ``masking``: the masking ablation vs Table 3 | ``ablation_masking.csv`` | ``coral-lab ablate --study masking`` |
| ``weights``: loss-weight sensitivity (Figure 4) | ``ablation_weights.csv`` | ``coral-lab ablate --study weights`` |
| ``probe_map``: probe accuracy per subspace and task | ``probe_map.csv`` | ``save_result`` of ``analysis.subspace_probe_map`` |
| ``umap``: UMAP of the subspaces | ``umap.csv`` | ``save_result`` of ``analysis.umap_projection`` |
| ``baselines``: R / U / S of every method vs Table 1 | ``baselines_table1.csv`` | ``save_result`` of the scored rows of ``compare.load_or_run`` |
| ``study``: S with and without masking, U with lambda_o = 1 / 0, against training time (held-out probe) | ``curves.csv`` | ``coral-lab study --results <results>/...`` |
| ``audit``: R, U, S under each probe protocol against Z's dimension, the budget and the input | ``protocol_audit.csv`` | ``coral-lab study --name audit --results <results>/...`` |

``make_all_figures(results_dir, out_dir)`` (``coral-lab figures``) finds each result file in
``results_dir`` or one folder below it and draws its figure; a result file that is missing is
reported (with the command that writes it), one that is malformed stops with an error naming it.

Paper values: Tables 1 and 3 from ``coral_lab.core.paper`` (``PAPER_TABLE1``, ``PAPER_TABLE3``)
(from ``shared/design/reference-results.md``). The paper's Figure 4 is measured on MultiBench and
has no Trifeature numbers, so the sensitivity figure shows ours only and says so.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

try:
    from matplotlib import colormaps
    from matplotlib.figure import Figure
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "coral_lab.drawing.figures needs matplotlib; install the notebooks extra: pip install -e '.[notebooks]'"
    ) from e

from coral_lab.drawing import views
from coral_lab.experiments.ablations import summarize_ablation
from coral_lab.evaluation.probe import protocol_rows, seed_std, summarize, with_protocol
from coral_lab.core.io import sha256_file
from coral_lab.methods import METHODS, display_name
from coral_lab.core.paper import CHANCE, PAPER_TABLE1, PAPER_TABLE3, TABLE1_COLUMNS as COLUMNS
from coral_lab.drawing.plotting import save_figure
from coral_lab.config.provenance import check_sidecar_info, command_line, result_sidecar_path, save_result, start_commit
from coral_lab.config import HELD_OUT, PROTOCOL_LABELS, PROTOCOLS

__all__ = [
    "PAPER_TABLE3",
    "CPU_PRESETS",
    "COLUMNS",
    "CHANCE",
    "FigureSpec",
    "FIGURES",
    "result_sidecar_path",
    "save_result",
    "read_result",
    "scale_note",
    "figure_title",
    "figure_provenance",
    "table1_figure",
    "masking_figure",
    "weights_figure",
    "audit_figure",
    "probe_map_figure",
    "umap_figure",
    "baselines_figure",
    "study_figure",
    "render_figure",
    "find_results",
    "make_all_figures",
]

CPU_PRESETS = ("ci", "quick", "long", "hour")  # presets sized for a CPU (coral_lab.config)


# ---------------------------------------------------------------------------------------------
# result files (written by coral_lab.config.provenance.save_result, which this module re-exports)
# ---------------------------------------------------------------------------------------------


def read_result(
    path: str | Path, required: Sequence[str], *, numeric: Sequence[str] = (), writer: str = ""
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a result CSV and its provenance sidecar, with clear errors.

    Args:
        path: the CSV.
        required: columns it must have.
        numeric: columns that must be finite numbers.
        writer: the command that writes this file (named in the error messages).

    Returns:
        (table, provenance dict).

    Raises:
        FileNotFoundError: the CSV or its sidecar is missing.
        ValueError: the CSV is empty / unreadable / lacks a column / has non-numeric values, or the
            sidecar is not JSON / lacks a provenance key.
    """
    path = Path(path)
    hint = f"; it is written by {writer}" if writer else ""
    if not path.is_file():
        raise FileNotFoundError(f"result file {path} not found{hint}")
    sidecar = result_sidecar_path(path)
    if not sidecar.is_file():
        raise FileNotFoundError(
            f"result file {path} has no provenance sidecar {sidecar.name}; figures are only drawn from results "
            f"whose origin is recorded. Re-create it{(' with ' + writer) if writer else ''}"
        )
    try:
        info = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"provenance sidecar {sidecar} is not valid JSON ({e}); re-create the result{hint}") from None
    check_sidecar_info(info, f"provenance sidecar {sidecar}")
    try:
        table = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ValueError(f"result file {path} is not a readable CSV ({type(e).__name__}: {e}){hint}") from None
    if table.empty:
        raise ValueError(f"result file {path} has no rows{hint}")
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ValueError(
            f"result file {path} lacks the column(s) {missing}; expected {list(required)}, "
            f"found {list(table.columns)}{hint}"
        )
    for c in numeric:
        values = pd.to_numeric(table[c], errors="coerce")
        if values.isna().any() or not np.isfinite(values.to_numpy(dtype=float)).all():
            raise ValueError(f"result file {path}: column {c!r} must hold finite numbers only{hint}")
        table[c] = values
    for c in required:  # a required label column (variant, method, ...) is filled in every row ('column' is
        if c not in numeric and c != "column" and table[c].isna().any():  # empty for a row no column scores)
            rows = [int(i) + 2 for i in np.flatnonzero(table[c].isna().to_numpy())[:3]]  # CSV line numbers
            raise ValueError(f"result file {path}: column {c!r} is empty on line(s) {rows}{hint}")
    for c in SCORE_COLUMNS:
        if c in table.columns:
            values = pd.to_numeric(table[c], errors="coerce")
            bad = values.notna() & ~values.between(0, 100)
            if bad.any():
                raise ValueError(f"result file {path}: column {c!r} holds {values[bad].iloc[0]!r}, outside the "
                                 f"0-100 % of a score{hint}")
    if "column" in table.columns and "column" in required:
        unknown = sorted(set(table["column"].dropna().astype(str)) - set(COLUMNS) - {""})
        if unknown:
            raise ValueError(f"result file {path}: column 'column' holds {unknown}, not a Table 1 column "
                             f"{list(COLUMNS)}{hint}")
    if "protocol" in table.columns:
        unknown = sorted(set(table["protocol"].dropna().astype(str)) - set(PROTOCOLS))
        if unknown:
            raise ValueError(f"result file {path}: column 'protocol' holds {unknown}, not a probe protocol "
                             f"{list(PROTOCOLS)}{hint}")
    return table, info


SCORE_COLUMNS = ("balanced_accuracy", "roc_auc", "val_balanced_accuracy")  # percentages wherever they appear


# ---------------------------------------------------------------------------------------------
# titles and provenance
# ---------------------------------------------------------------------------------------------


def scale_note(info: Mapping[str, Any]) -> str:
    """What the title must say about the scale: '' for the paper preset on a GPU."""
    preset = str(info.get("preset", "?"))
    device = str(info.get("device", ""))
    if preset in CPU_PRESETS:
        return f"CPU preset '{preset}': reduced scale, not the paper's"
    if preset != "paper":
        return f"preset '{preset}', not the paper's scale"
    if device.lower().startswith("cpu"):
        return "paper preset, run on a CPU"
    return ""


def figure_title(title: str, info: Mapping[str, Any], table: pd.DataFrame | None = None) -> str:
    """``title`` plus a second line with the preset / scale note and the seeds.

    The seeds are those of the drawn rows when ``table`` has a ``seed`` column (a result file written by
    several commands holds more seeds than its sidecar's last command), else the sidecar's; where the
    variants do not all have every seed the line says so.
    """
    seeds = info.get("seeds", [])
    partial = False
    if table is not None and "seed" in table.columns and len(table):
        seeds = sorted(int(s) for s in table["seed"].unique())
        if "variant" in table.columns:
            partial = int(table.groupby("variant")["seed"].nunique().min()) < len(seeds)
    seeds_text = f"seeds {', '.join(str(s) for s in seeds)}" if seeds else "seeds ?"
    if partial:
        seeds_text += ", not all in every variant"
    note = scale_note(info)
    return f"{title}\n({note}; {seeds_text})" if note else f"{title}\n(preset '{info.get('preset')}'; {seeds_text})"


def _checkout_relative(path: Path) -> str:
    """``path`` relative to the checkout when it lies in it (a sidecar names no machine's folders), else as given."""
    root = Path(__file__).resolve().parents[2]  # coral_lab/drawing/figures.py -> the checkout
    try:
        return Path(path).resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def figure_provenance(result_info: Mapping[str, Any], result_path: str | Path, *, command: str | None = None,
                      kind: str = "") -> dict[str, Any]:
    """A figure's sidecar: the result's provenance (command, preset, seeds, device, commit, date) and
    how the figure was drawn from it (``figure``: command, commit, date, source file and its hash)."""
    check_sidecar_info(result_info, "result provenance")
    result_path = Path(result_path)
    out = dict(result_info)
    out["figure"] = {
        "kind": kind,
        "command": command if command is not None else command_line(),
        "commit": start_commit(),  # where the checkout stood when the command started
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source": _checkout_relative(result_path),
        "source_sha256": sha256_file(result_path),
        "scale_note": scale_note(result_info) or "the paper's scale",
    }
    return out


# ---------------------------------------------------------------------------------------------
# the figures (plain functions of tables; no file access)
# ---------------------------------------------------------------------------------------------


def _bar_labels(ax, bars, values, upright: bool = False) -> None:
    """Each bar's value above it; ``upright`` turns the labels a quarter turn, for groups of bars too narrow
    for neighbouring labels (ours under several protocols beside the paper's)."""
    for bar, v in zip(bars, values):
        if np.isfinite(v):
            ax.annotate(f"{v:.1f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7,
                        rotation=90 if upright else 0)


# one colour per probe protocol in every figure that shows several; the paper is grey
PROTOCOL_COLOURS = {"held_out": "C0", "published": "C1", "published_shuffled": "C2"}


def protocols_of(rows: pd.DataFrame) -> list[str]:
    """The probe protocols of ``rows`` in ``PROTOCOLS`` order (a table without the column: held out)."""
    present = set(with_protocol(rows)["protocol"])
    unknown = present - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown probe protocol(s) {sorted(unknown)} in the rows; valid: {list(PROTOCOLS)}")
    return [p for p in PROTOCOLS if p in present]


def table1_figure(rows: pd.DataFrame, title: str = "Trifeature Table 1: COrAL, ours vs paper") -> Figure:
    """Ours under each probe protocol (mean +- std over seeds, seeds as dots) beside the paper's COrAL
    row, per Table 1 column.

    Args:
        rows: the tidy ``table1.csv`` of ``coral_lab.evaluation.protocol.run_table1``: seed, column,
            balanced_accuracy (%), protocol (missing: held out); rows with an empty column are not scored.

    Returns:
        Figure with one axes; ``ax.patches`` are the protocols' bars (R, U, S each, ``PROTOCOLS`` order:
        ``[:3]`` held out, then ``[3:6]`` the published protocol where there is one), then the paper's 3.
    """
    scored = with_protocol(rows[rows["column"].fillna("").isin(COLUMNS)])
    if scored.empty:
        raise ValueError(f"no scored rows: the column 'column' must hold some of {list(COLUMNS)}")
    protocols = protocols_of(scored)
    x = np.arange(len(COLUMNS))
    width = 0.8 / (len(protocols) + 1)
    fig = Figure(figsize=(6.5 + 1.2 * (len(protocols) - 1), 4.0), layout="constrained")
    ax = fig.subplots()
    for j, protocol in enumerate(protocols):
        mine = scored[scored["protocol"] == protocol]
        table = summarize(mine).set_index("column").reindex(list(COLUMNS))
        ours_m = table["ours_mean"].to_numpy(dtype=float)
        ours_s = np.nan_to_num(table["ours_std"].to_numpy(dtype=float))
        pos = x - 0.4 + width * (j + 0.5)
        bars = ax.bar(pos, np.nan_to_num(ours_m), width, yerr=ours_s, capsize=3, color=PROTOCOL_COLOURS[protocol],
                      label=f"coral_lab, {PROTOCOL_LABELS[protocol]}")
        _bar_labels(ax, bars, ours_m)
        for k, c in enumerate(COLUMNS):
            vals = mine.loc[mine["column"] == c, "balanced_accuracy"].to_numpy(dtype=float)
            ax.scatter(np.full(vals.shape, pos[k]), vals, s=10, color="black", zorder=3)
    paper = [PAPER_TABLE1["COrAL"][c] for c in COLUMNS]
    paper_m = np.array([m for m, _ in paper])
    paper_s = np.array([s or 0.0 for _, s in paper])
    pos = x - 0.4 + width * (len(protocols) + 0.5)
    b2 = ax.bar(pos, paper_m, width, yerr=paper_s, capsize=3, color="C7", label="paper (COrAL, published protocol)")
    _bar_labels(ax, b2, paper_m)
    for k, c in enumerate(COLUMNS):
        ax.hlines(CHANCE[c], x[k] - 0.45, x[k] + 0.45, colors="red", linestyles=":", linewidth=1,
                  label="chance" if k == 0 else None)
    probed = ("shape", "texture of image 1", "color 2 = pi(texture 1)")  # tasks share, unique1, synergy
    ax.set_xticks(x, [f"{c}\n({t})" for c, t in zip(COLUMNS, probed)])
    ax.set(ylabel="balanced accuracy (%)", ylim=(0, 108))
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize=8)
    ax.set_title(title, fontsize=9)
    return fig


def _variant_order(results: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(results["variant"]))


def masking_figure(results: pd.DataFrame, title: str = "Masking ablation (paper Table 3)") -> Figure:
    """Per Table 1 column, ours under each probe protocol (mean +- std) beside the paper's Table 3 value
    for every masking variant.

    Args:
        results: the tidy ``ablation_masking.csv`` of ``coral_lab.experiments.ablations.run_ablation``.

    Returns:
        Figure with three axes (R, U, S); in each, ``ax.patches`` are V bars per protocol (``PROTOCOLS``
        order: ``[:V]`` held out, ``[V:2V]`` the published protocol where there is one), then the
        paper's V (NaN height for a variant the paper lacks), variants in file order.
    """
    summary = summarize_ablation(results)
    protocols = protocols_of(summary)
    order = _variant_order(results)
    labels = dict(zip(summary["variant"], summary["label"]))
    fig = Figure(figsize=(11.0 + 2.0 * (len(protocols) - 1), 4.0), layout="constrained")
    axes = fig.subplots(1, len(COLUMNS), sharey=False)
    x = np.arange(len(order))
    width = 0.8 / (len(protocols) + 1)
    upright = len(protocols) > 1  # three bars or more per variant: labels a quarter turn
    for ax, col in zip(axes, COLUMNS):
        for j, protocol in enumerate(protocols):
            s = summary[(summary["column"] == col) & (summary["protocol"] == protocol)].set_index("variant").reindex(order)
            m = s["mean"].to_numpy(dtype=float)
            sd = s["std"].to_numpy(dtype=float)  # NaN (no error bar) for a single seed
            bars = ax.bar(x - 0.4 + width * (j + 0.5), np.nan_to_num(m), width, yerr=sd, capsize=2,
                          color=PROTOCOL_COLOURS[protocol], label=f"coral_lab, {PROTOCOL_LABELS[protocol]}")
            _bar_labels(ax, bars, m, upright)
        pm = np.array([PAPER_TABLE3.get(v, {}).get(col, (np.nan, np.nan))[0] for v in order])
        ps = np.array([PAPER_TABLE3.get(v, {}).get(col, (np.nan, np.nan))[1] for v in order])
        b2 = ax.bar(x - 0.4 + width * (len(protocols) + 0.5), pm, width, yerr=ps, capsize=2, color="C7",
                    label="paper (Table 3, published protocol)")
        _bar_labels(ax, b2, pm, upright)
        ax.axhline(CHANCE[col], color="red", linestyle=":", linewidth=1, label="chance")
        ax.set_xticks(x, [labels.get(v, v) for v in order], rotation=30, ha="right", fontsize=8)
        ax.set(title=col, ylim=(0, 118 if upright else 108))
    axes[0].set_ylabel("balanced accuracy (%)")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(protocols) + 2, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


WEIGHT_PARAMETERS = ("lambda_s", "lambda_u", "lambda_o")


def _base_weights(results: pd.DataFrame) -> dict[str, float]:
    """The default value of each lambda: the one most variants share (each variant moves one lambda)."""
    per_variant = results.drop_duplicates("variant")
    return {p: float(per_variant[p].mode().iloc[0]) for p in WEIGHT_PARAMETERS}


def weights_figure(results: pd.DataFrame,
                   title: str = "Loss-weight sensitivity (paper Figure 4 protocol, on Trifeature)") -> Figure:
    """Balanced accuracy against each lambda of eq. 3, the other two at their default, one line per column.

    The paper's Figure 4 is measured on MultiBench and gives no Trifeature values: ours only.

    Args:
        results: the tidy ``ablation_weights.csv`` of ``coral_lab.experiments.ablations.run_ablation``.

    Returns:
        Figure with three axes (lambda_s, lambda_u, lambda_o); in each, ``ax.lines`` starts with the
        R, U, S curves (x = the lambda values, y = the mean over seeds).
    """
    missing = [p for p in WEIGHT_PARAMETERS if p not in results.columns]
    if missing:
        raise ValueError(f"weights results need the columns {list(WEIGHT_PARAMETERS)}; missing {missing}")
    results = protocol_rows(results, HELD_OUT)  # no paper number stands here: the held-out probe only
    if results.empty:
        raise ValueError("the weights figure draws the held-out probe's rows; the file has none")
    base = _base_weights(results)
    fig = Figure(figsize=(11.0, 3.8), layout="constrained")
    axes = fig.subplots(1, len(WEIGHT_PARAMETERS), sharey=True)
    for ax, p in zip(axes, WEIGHT_PARAMETERS):
        others = [q for q in WEIGHT_PARAMETERS if q != p]
        sel = results[np.logical_and.reduce([np.isclose(results[q], base[q]) for q in others])]
        for k, col in enumerate(COLUMNS):
            g = sel[sel["column"] == col].groupby(p)["balanced_accuracy"]
            stats = g.agg(["mean", seed_std]).rename(columns={"seed_std": "std"}).sort_index()
            if stats.empty:
                continue
            ax.errorbar(stats.index.to_numpy(dtype=float), stats["mean"].to_numpy(),
                        yerr=np.nan_to_num(stats["std"].to_numpy()), marker="o", capsize=3, color=f"C{k}",
                        label=col)
        for k, col in enumerate(COLUMNS):
            ax.axhline(CHANCE[col], color=f"C{k}", linestyle=":", linewidth=0.8)
        ax.axvline(base[p], color="grey", linestyle="--", linewidth=1)
        values = sorted(float(v) for v in sel[p].unique())
        if values and values[0] > 0:  # the weights are halved / doubled: a log2 axis spaces them evenly
            ax.set_xscale("log", base=2)
            ax.set_xlim(values[0] / 1.5, values[-1] * 1.5)
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.minorticks_off()
        ax.set(xlabel=f"{p}  (dashed: default {base[p]:g})", ylim=(0, 105), title=f"vary {p}")
    axes[0].set_ylabel("balanced accuracy (%)")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=3, fontsize=8)
    fig.suptitle(title + "\nheld-out probe; the paper's Figure 4 is on MultiBench and has no Trifeature values: "
                 "ours only", fontsize=10)
    return fig


PROBE_MAP_COLUMNS = ("task",)


def probe_map_figure(table: pd.DataFrame, title: str = "Linear-probe map: subspace x task") -> Figure:
    """The probe-map heat map (``coral_lab.drawing.views.probe_map_heatmap``) of a saved probe map.

    Args:
        table: ``probe_map.csv`` as read back: a ``task`` column (shape, texture 1, texture 2,
            synergy) and one column of balanced accuracies (%) per probed subspace, i.e.
            ``analysis.subspace_probe_map(...)`` saved with ``save_result`` (which keeps its index).
    """
    if "task" not in table.columns or table.shape[1] < 2:
        raise ValueError(f"a probe map needs a 'task' column and one column per subspace, got {list(table.columns)}")
    wide = table.set_index("task")
    bad = [c for c in wide.columns if not pd.api.types.is_numeric_dtype(wide[c])]
    if bad:
        raise ValueError(f"probe-map column(s) {bad} must hold balanced accuracies (numbers)")
    wide.columns.name = "features"
    return _as_matplotlib(views.probe_map_heatmap(wide, title), "views.probe_map_heatmap")


UMAP_COLUMNS = ("x", "y", "subspace", "split")


def umap_figure(table: pd.DataFrame, title: str = "UMAP of the learned subspaces") -> Figure:
    """The UMAP density figure (``coral_lab.drawing.views.umap_density_figure``) of saved UMAP coordinates.

    Args:
        table: ``umap.csv``: ``analysis.umap_projection(analysis.embedding_frame(...))`` without its
            ``embedding`` column (columns x, y, subspace, split and the labels).
    """
    return _as_matplotlib(views.umap_density_figure(table, title), "views.umap_density_figure")


BASELINES_COLUMNS = ("method", "seed", "column", "balanced_accuracy")


def baselines_figure(rows: pd.DataFrame, title: str = "Trifeature Table 1: every method, ours vs paper") -> Figure:
    """Grouped bars, one panel per probe protocol: per Table 1 column, ours (mean over seeds) for each
    method, the paper's value as a black tick on each bar, chance as a red dotted line.

    Args:
        rows: tidy scored rows of several methods: method (coral, clip, comm, infmasking, factorcl),
            seed, column (redundancy / uniqueness / synergy), balanced_accuracy (%), protocol (missing:
            held out).

    Returns:
        Figure with one axes per protocol (``PROTOCOLS`` order); ``ax.patches`` are the bars,
        method-major, in the order of the rows.
    """

    scored = with_protocol(rows[rows["column"].fillna("").isin(COLUMNS)])
    if scored.empty:
        raise ValueError(f"no scored rows: the column 'column' must hold some of {list(COLUMNS)}")
    methods = list(dict.fromkeys(scored["method"]))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; valid: {list(METHODS)}")
    protocols = protocols_of(scored)
    x = np.arange(len(COLUMNS))
    width = 0.8 / len(methods)
    fig = Figure(figsize=(7.5 * len(protocols), 4.2), layout="constrained")
    axes = fig.subplots(1, len(protocols), squeeze=False)[0]
    for ax, protocol in zip(axes, protocols):
        mine = scored[scored["protocol"] == protocol]
        for j, m in enumerate(methods):
            name = display_name(m)
            means = np.array([mine.loc[(mine["method"] == m) & (mine["column"] == c), "balanced_accuracy"].mean()
                              for c in COLUMNS], dtype=float)
            pos = x - 0.4 + width * (j + 0.5)
            bars = ax.bar(pos, np.nan_to_num(means), width, color=f"C{j}", label=name)
            _bar_labels(ax, bars, means)
            paper = [PAPER_TABLE1[name][c][0] for c in COLUMNS]
            ax.scatter(pos, paper, marker="_", s=140, color="black", zorder=3,
                       label="paper (each row as its own code measured it)" if j == 0 else None)
        for k, c in enumerate(COLUMNS):
            ax.hlines(CHANCE[c], x[k] - 0.45, x[k] + 0.45, colors="red", linestyles=":", linewidth=1,
                      label="chance" if k == 0 else None)
        ax.set_xticks(x, list(COLUMNS))
        ax.set(ylabel="balanced accuracy (%)", ylim=(0, 110))
        ax.set_title(f"{title}\nprobe protocol: {PROTOCOL_LABELS[protocol]}", fontsize=9)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(len(methods) + 2, 4 * len(protocols)), fontsize=8)
    return fig


STUDY_COLUMNS = ("variant", "unit", "seed", "epoch", "train_seconds", "task", "features", "balanced_accuracy")
# the study figure's panels: (title, task, [(unit, line style, legend suffix)])
_STUDY_PANELS = (
    ("synergy S (biased pairs)", "synergy", (("biased", "-", "masking"), ("biased-no-mask", "--", "no masking"))),
    ("uniqueness U (texture 1)", "unique1", (("unbiased", "-", "lambda_o = 1"),
                                            ("unbiased-no-ortho", "--", "lambda_o = 0"))),
    ("redundancy R (shape)", "share", (("unbiased", "-", ""),)),
)


def study_figure(curves: pd.DataFrame, title: str = "Learning curves against training time") -> Figure:
    """Learning curves of a study (``coral_lab.experiments.study``): S with / without masking, U with
    lambda_o = 1 / 0, R.

    x = training seconds of a unit (mean over seeds at each probed epoch; one process, the threads
    the study ran with), y = balanced accuracy % on the probe-test pairs from Z under the held-out
    probe (the audit study's protocols are compared by ``audit_figure``). One colour per variant;
    solid: masking / lambda_o = 1; dashed: no masking / lambda_o = 0. Chance is dotted.
    """
    z = protocol_rows(curves[curves["features"] == "Z"], HELD_OUT)  # the held-out probe's curves
    fig = Figure(figsize=(14.0, 4.4), layout="constrained")
    axes = fig.subplots(1, len(_STUDY_PANELS), sharey=False)
    variants = list(dict.fromkeys(z["variant"]))
    # the default cycle's 10 colours; past 10 variants the 20 of tab20, so no two variants share one
    colours = ({v: f"C{k}" for k, v in enumerate(variants)} if len(variants) <= 10
               else {v: colormaps["tab20"](k % 20) for k, v in enumerate(variants)})
    for ax, (name, task, units) in zip(axes, _STUDY_PANELS):
        for v in variants:
            for unit, style, suffix in units:
                sel = z[(z["variant"] == v) & (z["unit"] == unit) & (z["task"] == task)]
                if sel.empty:
                    continue
                g = sel.groupby("epoch").agg(x=("train_seconds", "mean"), y=("balanced_accuracy", "mean")).sort_index()
                label = v + (f", {suffix}" if suffix else "")
                ax.plot(g["x"].to_numpy() / 60, g["y"].to_numpy(), style, marker="o", markersize=3,
                        color=colours[v], label=label)
        ax.axhline(50.0 if task == "synergy" else 10.0, color="grey", linestyle=":", linewidth=1)
        ax.set(title=name, xlabel="training minutes per unit", ylabel="balanced accuracy % (test pairs)")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(title)
    return fig


AUDIT_FIGURE_COLUMNS = ("variant", "z_dim", "image_size", "stem_stride", "epochs", "epoch", "unit", "seed", "protocol",
                 "score", "balanced_accuracy")
# the audit figure's panels (score, paper column, chance) and the variants of each row
_AUDIT_PANELS = (("R", "redundancy"), ("U", "uniqueness"), ("S", "synergy"))
_AUDIT_DASHED = {"U": "U (lambda_o = 0)", "S": "S (no masking)"}
_AUDIT_WIDTHS = ("d64", "d128", "d256", "d512")
_AUDIT_INPUTS = (("d64", "32 px\n2 x 2"), ("tokens4x4", "32 px\n4 x 4"), ("px64", "64 px\n4 x 4"),
                 ("tokens4x4-m974", "32 px\n4 x 4\nm 97.4 %"), ("px64-m974", "64 px\n4 x 4\nm 97.4 %"))
# longer runs of another input, drawn in the budget row beside the preset's (dash-dot): variant -> label
_AUDIT_CANDIDATES = (("px64-m974-e60", "hour preset"),)


def _one_row_per_unit(rows: pd.DataFrame) -> pd.DataFrame:
    """The budget row's probes with each (seed, unit, epoch, protocol, score) counted once: where variants of
    different lengths probed a seed at the same epoch (d64's last epoch is e100's tenth), the longest run's
    row is kept, so a seed is not averaged in twice."""
    rows = rows.sort_values("epochs", ascending=False, kind="stable")
    return rows.drop_duplicates(["seed", "unit", "epoch", "protocol", "score"])


def audit_figure(table: pd.DataFrame, title: str = "The evaluation protocol audit") -> Figure:
    """R, U and S under each probe protocol (one colour per protocol, mean +- std over seeds) against
    Z's dimension (top row; the paper's value at its Z of 1,024 as a grey star), against the budget
    (middle row: epochs of 10,000 pairs, from the probed checkpoints; a seed probed at one epoch by two
    variants counts once, ``_one_row_per_unit``; dash-dot: the longer runs of another input,
    ``_AUDIT_CANDIDATES``, triangles up for the unit of Table 1, down for S without masking
    where it was trained) and against the input (bottom
    row: image size and tokens per image, with the preset's 90 % mask, then the 4 x 4 inputs with the
    97.4 % mask that hides a whole modality as often). Solid: the unit of Table 1; dashed: U with
    lambda_o = 0 and S without masking.

    Args:
        table: the audit study's ``protocol_audit.csv`` (``coral_lab.experiments.study.audit_table``).

    Returns:
        Figure with nine axes, row-major (R, U, S per row); in each, ``ax.lines`` hold the protocols'
        curves, solid before dashed.
    """
    protocols = protocols_of(table)
    fig = Figure(figsize=(14.0, 12.5), layout="constrained")
    axes = fig.subplots(3, len(_AUDIT_PANELS))
    last = table[table["epoch"] == table["epochs"]]  # each unit's end point
    rows_of = (
        (last[last["variant"].isin(_AUDIT_WIDTHS)], "z_dim", None),
        (_one_row_per_unit(table[table["variant"].isin(("d64", "e30", "e100"))]), "epoch", None),
        (last[last["variant"].isin([v for v, _ in _AUDIT_INPUTS])], "variant", [v for v, _ in _AUDIT_INPUTS]),
    )
    for k, (score, column) in enumerate(_AUDIT_PANELS):
        paper = PAPER_TABLE1["COrAL"][column][0]
        for row, (rows, xcol, order) in enumerate(rows_of):
            ax = axes[row, k]
            for name, style in ((score, "-"), (_AUDIT_DASHED.get(score), "--")):
                for protocol in protocols if name else ():
                    sel = rows[(rows["score"] == name) & (rows["protocol"] == protocol)]
                    if sel.empty:
                        continue
                    g = sel.groupby(xcol)["balanced_accuracy"].agg(["mean", seed_std])
                    g = g.reindex(order) if order is not None else g.sort_index()
                    x = np.arange(len(g)) if order is not None else g.index.to_numpy(dtype=float)
                    ax.errorbar(x, g["mean"].to_numpy(), yerr=np.nan_to_num(g["seed_std"].to_numpy()), fmt=style,
                                marker="o" if style == "-" else "s", markersize=3, capsize=2,
                                color=PROTOCOL_COLOURS[protocol],
                                label=PROTOCOL_LABELS[protocol] + ("" if style == "-" else f", {name}"))
            if row == 1:  # the budget row: the candidates' curves beside the preset's
                for variant, what in _AUDIT_CANDIDATES:
                    for name, marker in ((score, "^"), (_AUDIT_DASHED.get(score), "v")):
                        for protocol in protocols if name else ():
                            sel = table[(table["variant"] == variant) & (table["score"] == name)
                                        & (table["protocol"] == protocol)]
                            if sel.empty:
                                continue
                            g = sel.groupby("epoch")["balanced_accuracy"].agg(["mean", seed_std]).sort_index()
                            ax.errorbar(g.index.to_numpy(dtype=float), g["mean"].to_numpy(),
                                        yerr=np.nan_to_num(g["seed_std"].to_numpy()), fmt="-.", marker=marker,
                                        markersize=3, capsize=2, color=PROTOCOL_COLOURS[protocol],
                                        label=f"{PROTOCOL_LABELS[protocol]}, {what}"
                                        + ("" if name == score else f", {name}"))
            ax.axhline(CHANCE[column], color="red", linestyle=":", linewidth=1)
            ax.axhline(paper, color="grey", linestyle=":", linewidth=1)
            ax.set(ylim=(0, 105), ylabel=f"{score} ({column}), balanced accuracy %")
        axes[0, k].scatter([1024], [paper], marker="*", s=120, color="grey", zorder=3, label="paper (Z of 1,024)")
        axes[0, k].set_xscale("log", base=2)
        axes[0, k].set(xlabel="Z dimension (2 D)", title=f"{score} against Z's dimension")
        axes[1, k].set(xlabel="epochs of 10,000 pairs (D = 64; solid: the preset's input)",
                       title=f"{score} against the budget")
        axes[2, k].set_xticks(range(len(_AUDIT_INPUTS)), [t for _, t in _AUDIT_INPUTS])
        axes[2, k].set(xlabel="image size, tokens per image (D = 64)", title=f"{score} against the input")
        axes[0, k].legend(fontsize=7, loc="best")
        if any(line.get_linestyle() == "-." for line in axes[1, k].lines):
            # below the panel: inside it, the legend would hide the crowded curves
            axes[1, k].legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.suptitle(title + "\nred dotted: chance; grey dotted: the paper's value (its published protocol, its scale)")
    return fig


def _as_matplotlib(fig: Any, where: str) -> Figure:
    if not isinstance(fig, Figure):
        raise TypeError(f"{where} returned {type(fig).__name__}; figures.py saves matplotlib Figures only")
    return fig


# ---------------------------------------------------------------------------------------------
# registry, discovery and the figures command
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureSpec:
    """How one figure is made: its result file, the columns it needs, the plot and the output name."""

    result_file: str
    required: tuple[str, ...]
    numeric: tuple[str, ...]
    plot: Callable[[pd.DataFrame, str], Figure]
    title: str
    stem: str
    writer: str


FIGURES: dict[str, FigureSpec] = {
    "table1": FigureSpec(
        "table1.csv", ("seed", "column", "balanced_accuracy"), ("seed", "balanced_accuracy"),
        table1_figure, "Trifeature Table 1: COrAL, ours vs paper", "table1_bars",
        "`coral-lab reproduce --out <results>/...` (or quickstart)"),
    "masking": FigureSpec(
        "ablation_masking.csv", ("variant", "label", "seed", "column", "balanced_accuracy"),
        ("seed", "balanced_accuracy"), masking_figure, "Masking ablation on Trifeature vs paper Table 3",
        "table3_masking", "`coral-lab ablate --study masking --out <results>/...`"),
    "weights": FigureSpec(
        "ablation_weights.csv", ("variant", "label", "seed", "column", "balanced_accuracy", *WEIGHT_PARAMETERS),
        ("seed", "balanced_accuracy", *WEIGHT_PARAMETERS), weights_figure,
        "Loss-weight sensitivity on Trifeature (paper Figure 4 protocol)", "figure4_weights",
        "`coral-lab ablate --study weights --out <results>/...`"),
    "probe_map": FigureSpec(
        "probe_map.csv", PROBE_MAP_COLUMNS, (), probe_map_figure,
        "Linear-probe map: subspace x task", "probe_map",
        "coral_lab.drawing.figures.save_result(analysis.subspace_probe_map(...), '<results>/probe_map.csv', info)"),
    "umap": FigureSpec(
        "umap.csv", UMAP_COLUMNS, ("x", "y"), umap_figure, "UMAP of the learned subspaces", "umap",
        "coral_lab.drawing.figures.save_result(analysis.umap_projection(...).drop(columns=['embedding']), "
        "'<results>/umap.csv', info)"),
    "baselines": FigureSpec(
        "baselines_table1.csv", BASELINES_COLUMNS, ("seed", "balanced_accuracy"), baselines_figure,
        "Trifeature Table 1: every method, ours vs paper", "baselines_table1",
        "coral_lab.drawing.figures.save_result(<scored rows of compare.load_or_run for each method>, "
        "'<results>/baselines_table1.csv', info) (notebook 07)"),
    "audit": FigureSpec(
        "protocol_audit.csv", AUDIT_FIGURE_COLUMNS, ("seed", "epoch", "epochs", "z_dim", "balanced_accuracy"), audit_figure,
        "The evaluation protocol audit: R, U, S under each probe protocol", "protocol_audit",
        "`coral-lab study --name audit --protocol held_out published published_shuffled --results <results>/...`"),
    "study": FigureSpec(
        "curves.csv", STUDY_COLUMNS, ("seed", "epoch", "train_seconds", "balanced_accuracy"), study_figure,
        "Learning curves against training time (coral_lab.experiments.study)", "study_curves",
        "`coral-lab study --name <study> --results <results>/...`"),
}


def render_figure(kind: str, result_path: str | Path, out_path: str | Path, *,
                  command: str | None = None) -> tuple[Path, Path]:
    """Draw figure ``kind`` from one result file and save it with its provenance sidecar.

    Args:
        kind: a key of ``FIGURES``.
        result_path: the result CSV (its sidecar ``<stem>.provenance.json`` must be beside it).
        out_path: the image (``.png``, ``.svg`` or ``.pdf``); the sidecar is ``<out_path stem>.json``.
        command: the command line recorded in the sidecar (default: ``sys.argv``).

    Returns:
        (image path, sidecar path).
    """
    if kind not in FIGURES:
        raise ValueError(f"unknown figure {kind!r}; valid: {list(FIGURES)}")
    spec = FIGURES[kind]
    table, info = read_result(result_path, spec.required, numeric=spec.numeric, writer=spec.writer)
    fig = spec.plot(table, figure_title(spec.title, info, table))
    return save_figure(fig, out_path, figure_provenance(info, result_path, command=command, kind=kind))


def find_results(results_dir: str | Path) -> list[tuple[str, Path, str]]:
    """Every known result file in ``results_dir`` or one folder below it.

    Returns:
        (figure kind, result path, figure stem) per file, in ``FIGURES`` order then path order; the
        stem is the spec's, suffixed with the sub-folder's name for files one level down
        (``results/quick/table1.csv`` -> ``table1_bars_quick``).
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"results folder {root} not found; write results there first "
                                "(see coral_lab.drawing.figures)")
    found = []
    for kind, spec in FIGURES.items():
        top = root / spec.result_file
        if top.is_file():
            found.append((kind, top, spec.stem))
        for p in sorted(root.glob(f"*/{spec.result_file}")):
            found.append((kind, p, f"{spec.stem}_{p.parent.name}"))
    return found


def make_all_figures(results_dir: str | Path, out_dir: str | Path, *, command: str | None = None,
                     fmt: str = "png") -> pd.DataFrame:
    """Redraw every figure whose result file exists under ``results_dir`` into ``out_dir``.

    Returns:
        One row per figure: figure, status ("written" or "missing"), path, detail (the source result,
        or for a missing one the command that writes it).

    Raises:
        FileNotFoundError: ``results_dir`` is missing or holds none of the known result files.
        ValueError: a result file or its sidecar is malformed (the message names the file).
    """
    found = find_results(results_dir)
    if not found:
        expected = ", ".join(s.result_file for s in FIGURES.values())
        raise FileNotFoundError(
            f"no result files in {results_dir} (looked for {expected}, at the top level and one folder down); "
            "write them with `coral-lab reproduce` / `coral-lab ablate` or coral_lab.drawing.figures.save_result"
        )
    out_dir = Path(out_dir)
    rows = []
    for kind, path, stem in found:
        image, _ = render_figure(kind, path, out_dir / f"{stem}.{fmt}", command=command)
        rows.append({"figure": kind, "status": "written", "path": str(image), "detail": f"from {path}"})
    done = {k for k, _, _ in found}
    for kind, spec in FIGURES.items():
        if kind not in done:
            rows.append({"figure": kind, "status": "missing", "path": "",
                         "detail": f"no {spec.result_file}; written by {spec.writer}"})
    return pd.DataFrame(rows, columns=["figure", "status", "path", "detail"])
