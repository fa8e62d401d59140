"""The paper's two Trifeature ablations, each variant a full Table 1 protocol run.

- ``"masking"`` (paper Table 3, section 5.6.1): the increasing schedule 5 -> 35 -> 55 -> 75 %
  (the default), no masking, and static ratios of 25 / 50 / 75 %.
- ``"weights"`` (paper Figure 4, section 5.6.2): halve or double lambda_s and lambda_u, raise
  lambda_o to 3 and 5, one weight at a time, the others at their default (eq. 3). The paper's
  Figure 4 is measured on MultiBench; on Trifeature it gives no numbers, so only ours are plotted.

Each variant is the base config with a few overrides, run by ``coral_lab.evaluation.protocol.run_table1`` in its
own folder ``<out>/runs/<variant>/`` (two pretrainings per seed; a finished unit is not run again, an
interrupted one resumes from its checkpoint), so a study can be completed across sessions. The
results are one tidy CSV ``<out>/ablation_<study>.csv`` with one row per (variant, seed, Table 1
column) and the settings of the variant, plus its provenance sidecar
``<out>/ablation_<study>.provenance.json`` (command, preset, seeds, device, commit, date).
``coral_lab.drawing.figures`` plots those files only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from coral_lab.evaluation import protocol
from coral_lab.config import RunConfig, require_trifeature, runs
from coral_lab.data import PAIR_KINDS
from coral_lab.core.device import describe_device, resolve_device
from coral_lab.evaluation.probe import seed_std, with_protocol
from coral_lab.core.io import atomic_write_text
from coral_lab.core.paper import SPREAD_NOTE
from coral_lab.config.provenance import provenance, write_sidecar
from coral_lab.config import HELD_OUT, PROTOCOL_LABELS, PROTOCOLS
from coral_lab.experiments.study import Variant

__all__ = [
    "ABLATION_STUDIES",
    "RESULT_COLUMNS",
    "ablation_variants",
    "variant_config",
    "results_path",
    "run_ablation",
    "load_or_run_ablation",
    "complete_results",
    "summarize_ablation",
    "format_ablation",
]

ABLATION_STUDIES = ("masking", "weights")
# the tidy result file's columns, in order; config_hash (``coral_lab.config.runs.config_hash`` of the variant's
# whole experiment config) decides whether saved rows are reused
RESULT_COLUMNS = (
    "study", "variant", "label", "seed", "protocol", "column", "balanced_accuracy", "roc_auc",
    "mask_schedule", "lambda_s", "lambda_u", "lambda_o", "ortho_kind", "epochs", "preset", "config_hash",
)


def _table1_variant(name: str, label: str, changes: dict[str, dict[str, Any]] | None = None) -> Variant:
    """An ablation setting: its changes train the two Table 1 units (the unbiased and the biased pairs)."""
    return Variant(name, label, changes or {}, PAIR_KINDS)


def _masking_variants(cfg: RunConfig) -> list[Variant]:
    # paper Table 3: the increasing schedule first (COrAL's default), then none and the static ratios
    out = [
        _table1_variant("increasing", "increasing 5-35-55-75 %", {"train": {"mask_schedule": "paper"}}),
        _table1_variant("none", "none", {"train": {"mask_schedule": None}}),
    ]
    for pct in (25, 50, 75):
        out.append(_table1_variant(f"static-{pct}", f"static {pct} %", {"train": {"mask_schedule": pct / 100}}))
    # a preset that trains with another static ratio (quick and long: 90 %) measures its own as well,
    # so the table shows the setting its other results come from (no paper value: Table 3 stops at 75 %)
    ratio = cfg.train.mask_schedule
    if isinstance(ratio, float) and not isinstance(ratio, bool) and round(100 * ratio) not in (25, 50, 75):
        pct = round(100 * ratio)
        out.append(_table1_variant(f"static-{pct}", f"static {pct} % ({cfg.preset} preset)",
                           {"train": {"mask_schedule": ratio}}))
    return out


def _weights_variants(cfg: RunConfig) -> list[Variant]:
    # paper section 5.6.2: halve / double lambda_s and lambda_u around the base values, lambda_o -> 3, 5
    loss = cfg.loss
    out = [_table1_variant("default", f"default (lambda_s = {loss.lambda_s:g}, lambda_u = {loss.lambda_u:g}, "
                              f"lambda_o = {loss.lambda_o:g})")]
    for name in ("lambda_s", "lambda_u"):
        base = getattr(loss, name)
        for factor in (0.5, 2.0):
            value = base * factor
            out.append(_table1_variant(f"{name}-{value:g}", f"{name} = {value:g}", {"loss": {name: value}}))
    for value in (3.0, 5.0):
        if value != loss.lambda_o:
            out.append(_table1_variant(f"lambda_o-{value:g}", f"lambda_o = {value:g}", {"loss": {"lambda_o": value}}))
    return out


_STUDY_VARIANTS: dict[str, Callable[[RunConfig], list[Variant]]] = {
    "masking": _masking_variants,
    "weights": _weights_variants,
}


def _check_study(study: str) -> None:
    if study not in _STUDY_VARIANTS:
        raise ValueError(f"unknown ablation study {study!r}; valid studies: {list(ABLATION_STUDIES)}")


def ablation_variants(study: str, cfg: RunConfig) -> dict[str, Variant]:
    """The variants of ``study`` around the base config ``cfg``, in the paper's order, by name."""
    _check_study(study)
    require_trifeature(cfg, "an ablation study")
    return {v.name: v for v in _STUDY_VARIANTS[study](cfg)}


def variant_config(cfg: RunConfig, variant: Variant) -> RunConfig:
    """The base config with the variant's overrides, validated."""
    return cfg.replace(**variant.changes).validate()


def results_path(out_dir: str | Path, study: str) -> Path:
    """Where ``run_ablation`` writes the tidy CSV of ``study`` (its sidecar is ``<stem>.provenance.json``)."""
    _check_study(study)
    return Path(out_dir) / f"ablation_{study}.csv"


def _schedule_text(schedule: object) -> str:
    if schedule is None:
        return "none"
    return schedule if isinstance(schedule, str) else f"{float(schedule):g}"


def run_ablation(
    study: str,
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    seeds: Sequence[int],
    device: str = "auto",
    variants: Sequence[str] | None = None,
    progress: bool = True,
    command: str | None = None,
    on_variant_end: Callable[[Variant, pd.DataFrame], None] | None = None,
    jobs: int = 1,
    protocols: Sequence[str] = (HELD_OUT,),
) -> pd.DataFrame:
    """Run (or resume) every variant of ``study``; write and return the tidy results.

    Args:
        study: ``"masking"`` (Table 3) or ``"weights"`` (Figure 4).
        cfg: the base config (a preset, possibly with overrides); each variant changes a few fields.
        out_dir: study folder: ``runs/<variant>/seed<S>-<train_set>/`` per unit, the CSV and its sidecar.
        seeds: training seeds (the paper's Table 1 protocol uses 41..45).
        device: "auto", "cpu" or "cuda".
        variants: names of a subset of ``ablation_variants(study, cfg)`` (default: all, in order).
        command: the command line for the provenance sidecar (default: ``sys.argv``).
        on_variant_end: called with each finished variant and its tidy rows.
        jobs: units of a variant trained at once in separate processes (``run_table1``).
        protocols: the probe protocols every unit is scored under (``run_table1``); each row names its own.

    Returns:
        The tidy rows of every finished variant: columns ``RESULT_COLUMNS`` (balanced accuracy in %);
        the CSV and sidecar are rewritten after each variant, so an interruption keeps what is done.
    """
    available = ablation_variants(study, cfg)
    names = list(available) if variants is None else list(variants)
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise ValueError(f"unknown or no variant(s) {unknown or names} for study {study!r}; valid: {list(available)}")
    seeds = protocol.check_seeds(seeds)
    dev = resolve_device(device)
    configs = {n: variant_config(cfg, available[n]) for n in names}  # all validated before any training
    out_dir = runs.claim_experiment(out_dir, "ablate")
    with runs.RunLock(out_dir):  # one command writes the study's table at a time
        return _run_variants(study, cfg, out_dir, available, names, configs, seeds, dev, progress, command,
                             on_variant_end, jobs, protocols)


def _kept_rows(csv_path: Path, available: dict[str, Variant], cfg: RunConfig, names: Sequence[str]) -> pd.DataFrame:
    """The saved rows of the variants this command does not run, where they are still current (their
    config hash is the one the variant has today); rows of another config, or of an older layout, go."""
    if not csv_path.is_file():
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    try:
        saved = pd.read_csv(csv_path)
    except (OSError, ValueError, pd.errors.ParserError):
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    if not set(RESULT_COLUMNS) <= set(saved.columns):
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    current = {v: runs.config_hash(variant_config(cfg, var)) for v, var in available.items() if v not in names}
    keep = [current.get(v) == str(h) for v, h in zip(saved["variant"], saved["config_hash"])]
    return saved.loc[keep, list(RESULT_COLUMNS)].reset_index(drop=True)


def _run_variants(study, cfg, out_dir, available, names, configs, seeds, dev, progress, command, on_variant_end, jobs,
                  protocols) -> pd.DataFrame:
    csv_path = results_path(out_dir, study)
    kept = _kept_rows(csv_path, available, cfg, names)  # merged, never dropped: other variants' rows stay
    t0 = time.perf_counter()
    frames: list[pd.DataFrame] = []
    for name in names:
        variant, vcfg = available[name], configs[name]
        # looked up on the module at each call, so a test can stand in a fake protocol
        rows, _ = protocol.run_table1(vcfg, out_dir / "runs" / name, seeds=seeds, device=str(dev),
                                      progress=progress, jobs=jobs, protocols=protocols)
        scored = with_protocol(rows[rows["column"].fillna("") != ""])
        tidy = pd.DataFrame({
            "study": study,
            "variant": name,
            "label": variant.label,
            "seed": scored["seed"].astype(int).to_numpy(),
            "protocol": scored["protocol"].to_numpy(),
            "column": scored["column"].to_numpy(),
            "balanced_accuracy": scored["balanced_accuracy"].astype(float).to_numpy(),
            # the threshold-free reading beside it (synergy: where masking shows at the CPU presets)
            "roc_auc": (scored["roc_auc"].astype(float).to_numpy() if "roc_auc" in scored
                        else np.full(len(scored), np.nan)),
            "mask_schedule": _schedule_text(vcfg.train.mask_schedule),
            "lambda_s": vcfg.loss.lambda_s,
            "lambda_u": vcfg.loss.lambda_u,
            "lambda_o": vcfg.loss.lambda_o,
            "ortho_kind": vcfg.loss.ortho_kind,
            "epochs": vcfg.train.epochs,
            "preset": vcfg.preset,
            "config_hash": runs.config_hash(vcfg),
        }, columns=list(RESULT_COLUMNS))
        frames.append(tidy)
        result = pd.concat(frames, ignore_index=True)
        order = list(available)  # the study's own order of variants, whatever ran when
        written = pd.concat([kept, result], ignore_index=True) if len(kept) else result
        written = (written.assign(_order=written["variant"].map(order.index)).sort_values("_order", kind="stable")
                   .drop(columns="_order"))
        atomic_write_text(csv_path, written.to_csv(index=False))
        info = provenance(
            preset=cfg.preset, seeds=seeds, device=describe_device(dev, cfg.train.num_threads, jobs), command=command,
            extra={
                "study": study,
                "protocols": list(dict.fromkeys(result["protocol"])),
                "variants": {n: available[n].changes for n in names},
                "finished_variants": [f["variant"].iloc[0] for f in frames],
                # rows of earlier commands in this folder, kept because their config is still the variant's
                "kept_variants": list(dict.fromkeys(kept["variant"])),
                "wall_minutes": round((time.perf_counter() - t0) / 60, 2),
                "config": cfg.to_dict(),
            },
        )
        write_sidecar(csv_path.with_name(csv_path.stem + ".provenance.json"), info)
        if on_variant_end is not None:
            on_variant_end(variant, tidy)
    return pd.concat(frames, ignore_index=True)


def load_or_run_ablation(
    study: str,
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    seeds: Sequence[int],
    device: str = "auto",
    variants: Sequence[str] | None = None,
    progress: bool = True,
    command: str | None = None,
    jobs: int = 1,
    protocols: Sequence[str] = (HELD_OUT,),
) -> pd.DataFrame:
    """The study's results from ``out_dir`` if they are complete, else ``run_ablation`` (which resumes).

    Complete means: ``ablation_<study>.csv`` holds every requested (variant, seed) with the config hash
    of exactly that variant's config (``complete_results``). Nothing is trained then, so a notebook
    can show committed results without the run folders.

    Returns:
        The tidy rows of the requested variants and seeds (``RESULT_COLUMNS``).
    """
    saved = complete_results(study, cfg, out_dir, seeds=seeds, variants=variants, protocols=protocols)
    if saved is not None:
        return saved
    names = list(ablation_variants(study, cfg)) if variants is None else list(variants)
    return run_ablation(study, cfg, out_dir, seeds=[int(x) for x in seeds], device=device, variants=names,
                        progress=progress, command=command, jobs=jobs, protocols=protocols)


def complete_results(
    study: str,
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    seeds: Sequence[int],
    variants: Sequence[str] | None = None,
    protocols: Sequence[str] = (HELD_OUT,),
) -> pd.DataFrame | None:
    """The saved rows of ``out_dir`` if they cover every requested (variant, seed, protocol) with ``cfg``'s
    settings.

    Complete means: ``ablation_<study>.csv`` exists and holds every requested (variant, seed) under
    every requested probe protocol, each row with the ``config_hash`` of exactly its variant's config
    (``coral_lab.config.runs.config_hash``: every field of the experiment, learning rate, batch size, pairs
    and D included).

    Returns:
        The tidy rows of the requested variants, seeds and protocols (``RESULT_COLUMNS``), or None when
        the file is missing, incomplete or was made with other settings (nothing is trained here).
    """
    available = ablation_variants(study, cfg)
    names = list(available) if variants is None else list(variants)
    seeds = [int(s) for s in seeds]
    protocols = protocol.check_protocols(protocols)
    csv_path = results_path(out_dir, study)
    if not (csv_path.is_file() and names and seeds and all(n in available for n in names)):
        return None
    saved = with_protocol(pd.read_csv(csv_path))  # rows written before the protocol column are held out
    if not set(RESULT_COLUMNS) <= set(saved.columns):
        return None  # written before rows carried their config's hash: cannot be matched, so not reused
    wanted = saved[saved["variant"].isin(names) & saved["seed"].isin(seeds) & saved["protocol"].isin(protocols)]
    expected = {n: runs.config_hash(variant_config(cfg, available[n])) for n in names}
    complete = ({(v, int(s), p) for v, s, p in zip(wanted["variant"], wanted["seed"], wanted["protocol"])}
                == {(n, s, p) for n in names for s in seeds for p in protocols})
    matches = all(str(h) == expected[v] for v, h in zip(wanted["variant"], wanted["config_hash"]))
    return wanted.reset_index(drop=True) if complete and matches else None


def summarize_ablation(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds per (variant, column), variants in their first-seen order.

    Args:
        results: tidy rows with at least variant, label, column, seed, balanced_accuracy.

    Returns:
        Columns variant, label, column, mean, std (NaN for one seed), n_seeds, auc_mean (the mean test
        ROC-AUC %; NaN where the rows carry none).
    """
    need = {"variant", "label", "column", "seed", "balanced_accuracy"}
    missing = need - set(results.columns)
    if missing:
        raise ValueError(f"ablation results need the columns {sorted(need)}; missing {sorted(missing)}")
    results = with_protocol(results)
    if "roc_auc" not in results:
        results = results.assign(roc_auc=float("nan"))
    order = list(dict.fromkeys(results["variant"]))
    grouped = results.groupby(["protocol", "variant", "column"], sort=False)
    out = grouped.agg(
        label=("label", "first"),
        mean=("balanced_accuracy", "mean"),
        std=("balanced_accuracy", seed_std),
        n_seeds=("seed", "nunique"),
        auc_mean=("roc_auc", "mean"),
    ).reset_index()
    columns = ("redundancy", "uniqueness", "synergy")
    out["_p"] = out["protocol"].map(PROTOCOLS.index)
    out["_v"] = out["variant"].map(order.index)
    out["_c"] = out["column"].map(lambda c: columns.index(c) if c in columns else len(columns))
    out = out.sort_values(["_p", "_v", "_c"]).drop(columns=["_p", "_v", "_c"]).reset_index(drop=True)
    return out[["protocol", "variant", "column", "label", "mean", "std", "n_seeds", "auc_mean"]]


def format_ablation(summary: pd.DataFrame, title: str = "") -> str:
    """The summary as aligned text: per probe protocol, one row per variant, mean +- std per Table 1 column."""
    summary = with_protocol(summary)
    blocks = [title] if title else []
    for p in [p for p in PROTOCOLS if p in set(summary["protocol"])]:
        blocks.append(f"-- probe protocol: {PROTOCOL_LABELS[p]} ({protocol.PROTOCOL_NOTES[p]})")
        blocks.append(_format_block(summary[summary["protocol"] == p]))
    return "\n".join(blocks)


def _format_block(summary: pd.DataFrame) -> str:
    wide_mean = summary.pivot(index="variant", columns="column", values="mean")
    wide_std = summary.pivot(index="variant", columns="column", values="std")
    wide_auc = (summary.pivot(index="variant", columns="column", values="auc_mean") if "auc_mean" in summary
                else pd.DataFrame(index=wide_mean.index))
    labels = dict(zip(summary["variant"], summary["label"]))
    n = dict(zip(summary["variant"], summary["n_seeds"]))
    columns = [c for c in ("redundancy", "uniqueness", "synergy") if c in wide_mean.columns]
    width = max(len(s) for s in labels.values())
    lines = []
    lines.append(f"{'':{width}s} " + " ".join(f"{c:>16s}" for c in [*columns, "synergy AUC"]) + "  seeds")
    for variant in dict.fromkeys(summary["variant"]):
        cells = []
        for c in columns:
            m, s = wide_mean.loc[variant, c], wide_std.loc[variant, c]
            cells.append("-" if pd.isna(m) else f"{m:5.1f}" + ("" if pd.isna(s) else f" +- {s:4.2f}"))
        auc = wide_auc.loc[variant, "synergy"] if "synergy" in wide_auc.columns else float("nan")
        cells.append("-" if pd.isna(auc) else f"{auc:5.1f}")
        lines.append(f"{labels[variant]:{width}s} " + " ".join(f"{c:>16s}" for c in cells) + f"  {n[variant]}")
    lines.append("balanced accuracy % (synergy AUC: the synergy probe's test ROC-AUC %), linear probe on frozen Z; each variant is the Table 1 protocol "
                 "(unbiased pretraining -> redundancy, uniqueness; biased pretraining -> synergy); "
                 + SPREAD_NOTE + ".")
    return "\n".join(lines)
