"""The Table 2 protocol on feature data: per seed, pretrain, linear probe (and optionally fine-tune).

Each seed lives in ``<out>/seed<S>/`` (checkpoint, history, ``probe.csv``, and with fine-tuning
``finetune.csv``); a seed whose result files exist for the same config is read back, an interrupted one
resumes from its checkpoint. ``format_table2`` prints mean +- std over seeds beside the paper's Table 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from coral_lab.config import runs
from coral_lab.evaluation.probe import seed_std
from coral_lab.methods import display_name
from coral_lab.core.paper import PAPER_FINETUNE, PAPER_TABLE2, SPREAD_NOTE
from coral_lab.core.io import atomic_write_text
from coral_lab.config import RunConfig
from coral_lab.data.features import FeatureDataset
from coral_lab.multibench.finetune import finetune
from coral_lab.multibench.pretrain import load_feature_model, pretrain_features
from coral_lab.multibench.probe import probe_feature_model, probe_splits, raw_features
from coral_lab.evaluation.protocol import check_seeds

__all__ = ["run_feature_unit", "run_table2", "summarize_table2", "format_table2",
           "raw_feature_probe", "compare_methods"]

FINETUNE_PROBE = "finetune.csv"  # a seed's probe rows after fine-tuning (beside the pretrained ones in probe.csv)


def run_feature_unit(
    cfg: RunConfig,
    data: FeatureDataset,
    seed: int,
    out_dir: str | Path,
    *,
    device: str = "cpu",
    progress: bool = False,
    with_finetune: bool = False,
) -> pd.DataFrame:
    """Pretrain + probe one seed (and fine-tune + probe); tidy rows: seed, stage, features, accuracy, ..."""
    if with_finetune and cfg.method != "coral":
        raise ValueError(f"fine-tuning is COrAL-only; method is {cfg.method!r}: run without fine-tuning")
    unit_cfg = cfg.replace(train={"seed": seed})
    unit_dir = runs.unit_dir(out_dir, seed)
    # saved rows count only when written for this folder's current training and this config (coral_lab.config.runs)
    saved = [runs.read_table(unit_dir, runs.PROBE, unit_cfg)]
    if with_finetune:
        saved.append(runs.read_table(unit_dir, FINETUNE_PROBE, unit_cfg))
    if all(frame is not None for frame in saved):
        return pd.concat(saved, ignore_index=True)
    pretrain_features(unit_cfg, data, unit_dir, device=device, progress=progress)
    model, _ = load_feature_model(unit_dir, data, device)
    # Z, then every subspace the method's model returns (COrAL: shared, unique1, ..., unique_n)
    df = probe_feature_model(model, data, subspaces=None, probe_cfg=unit_cfg.probe)
    df.insert(0, "stage", "pretrained")
    df.insert(0, "seed", seed)
    runs.write_table(unit_dir, runs.PROBE, df, unit_cfg)
    frames = [df]
    if with_finetune:
        res = finetune(model, data, unit_cfg, unit_dir, progress=progress)
        ft = probe_feature_model(res.model, data, subspaces=("Z",), probe_cfg=unit_cfg.probe)
        ft.insert(0, "stage", "finetuned")
        ft.insert(0, "seed", seed)
        ft["best_epoch"] = res.best_epoch
        runs.write_table(unit_dir, FINETUNE_PROBE, ft, unit_cfg)
        frames.append(ft)
    return pd.concat(frames, ignore_index=True)


def raw_feature_probe(data: FeatureDataset, cfg: RunConfig) -> dict[str, float]:
    """The same probe on the flattened inputs (no learning), a reference point for the table."""
    x = {k: raw_features(s) for k, s in data.splits().items()}
    return probe_splits(x, {k: s.y for k, s in data.splits().items()}, cfg.probe)


def run_table2(
    cfg: RunConfig,
    data: FeatureDataset,
    out_dir: str | Path,
    seeds: Sequence[int] = (41, 42, 43, 44, 45),
    *,
    device: str = "cpu",
    progress: bool = False,
    with_finetune: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every seed's rows and their summary (``summarize_table2``); writes ``table2.csv`` and ``table2_summary.csv``.

    The data file's digest becomes part of every unit's config (``data.sha256``): a unit trained on
    another file of the same name is not resumed and its rows are not read (one line says so).
    """
    seeds = check_seeds(seeds)
    cfg = cfg.replace(data={"sha256": data.sha256}).validate()
    out = runs.claim_experiment(out_dir, "reproduce")
    with runs.RunLock(out):
        rows = pd.concat([run_feature_unit(cfg, data, s, out, device=device, progress=progress,
                                           with_finetune=with_finetune) for s in seeds], ignore_index=True)
        summary = summarize_table2(rows, data.name, display_name(cfg.method))
        atomic_write_text(out / "table2.csv", rows.to_csv(index=False))
        atomic_write_text(out / "table2_summary.csv", summary.to_csv(index=False))
    return rows, summary


def summarize_table2(rows: pd.DataFrame, dataset: str, method: str = "COrAL") -> pd.DataFrame:
    """Mean +- std (``coral_lab.evaluation.probe.seed_std``: np.std, ddof 0) over seeds per (stage, features),
    with the paper's number for ``method`` (a ``PAPER_TABLE2`` row name) where there is one."""
    out = []
    for (stage, feats), g in rows.groupby(["stage", "features"], sort=False):
        paper = (PAPER_TABLE2[method].get(dataset) if stage == "pretrained" and feats == "Z"
                 else PAPER_FINETUNE.get(dataset) if stage == "finetuned" else None)
        out.append({
            "stage": stage, "features": feats, "n_seeds": len(g),
            "accuracy_mean": g["accuracy"].mean(), "accuracy_std": seed_std(g["accuracy"]),
            "balanced_accuracy_mean": g["balanced_accuracy"].mean(),
            "paper_mean": paper[0] if paper else None, "paper_std": paper[1] if paper else None,
        })
    return pd.DataFrame(out)


def format_table2(summary: pd.DataFrame, dataset: str, title: str, raw: dict[str, float] | None = None,
                  method: str = "COrAL") -> str:
    """Our rows of ``method`` (accuracy %, mean +- std over seeds) and the paper's Table 2 beside them."""
    def pm(m, s):
        return f"{m:5.1f} +- {s:4.2f}" if s == s and s is not None else f"{m:5.1f}"

    lines = [title, "", f"{'stage':11s} {'features':9s} {'accuracy %':>15s} {'bal. acc %':>10s} {'seeds':>5s}  paper ({method})"]
    for r in summary.itertuples():
        paper = pm(r.paper_mean, r.paper_std) if r.paper_mean is not None and r.paper_mean == r.paper_mean else "-"
        lines.append(f"{r.stage:11s} {r.features:9s} {pm(r.accuracy_mean, r.accuracy_std):>15s} "
                     f"{r.balanced_accuracy_mean:10.1f} {r.n_seeds:5d}  {paper}")
    if raw is not None:
        lines.append(f"{'raw inputs':11s} {'flat':9s} {raw['accuracy']:15.1f} {raw['balanced_accuracy']:10.1f} {'-':>5s}  (no learning)")
    lines += ["", "Paper, Table 2 (linear probe accuracy %, 5 seeds, 100 epochs):",
              f"{'model':11s} " + " ".join(f"{c:>13s}" for c in ("MIMIC", "MOSEI", "MOSI", "UR-FUNNY", "MUsTARD"))]
    for model, cols in PAPER_TABLE2.items():
        lines.append(f"{model:11s} " + " ".join(f"{pm(*cols[k]):>13s}" for k in ("mimic", "mosei", "mosi", "humor", "sarcasm")))
    lines.append("Fine-tuning with SupCon on MOSI (paper 5.6.5): 75.3 +- 0.73")
    lines.append(SPREAD_NOTE + ".")
    if dataset not in PAPER_TABLE2["COrAL"]:
        lines.append(f"(the paper has no column for {dataset!r}; its Table 2 is shown for reference only)")
    return "\n".join(lines)


def compare_methods(result_dirs: dict[str, str | Path], seeds: Sequence[int] | None = None) -> pd.DataFrame:
    """The pretrained linear-probe rows of several runs side by side, one row per (method, feature set).

    Args:
        result_dirs: ``{label: folder}``, each a ``run_table2`` output folder (its ``table2.csv``);
            folders without one are skipped, so a notebook can pass runs that may not exist yet.
        seeds: keep only these seeds (e.g. ``[41]`` for a like-for-like row); None keeps all.

    Returns:
        columns ``method, features, accuracy_mean, accuracy_std, n_seeds, seeds``; std is NaN for one seed.
    """
    out = []
    for label, folder in result_dirs.items():
        path = Path(folder) / "table2.csv"
        if not path.exists():
            continue
        rows = pd.read_csv(path)
        rows = rows[rows["stage"] == "pretrained"]
        if seeds is not None:
            rows = rows[rows["seed"].isin(list(seeds))]
        for feats, g in rows.groupby("features", sort=False):
            out.append({"method": label, "features": feats, "accuracy_mean": g["accuracy"].mean(),
                        "accuracy_std": seed_std(g["accuracy"]),
                        "n_seeds": len(g), "seeds": " ".join(str(s) for s in sorted(g["seed"]))})
    return pd.DataFrame(out, columns=["method", "features", "accuracy_mean", "accuracy_std", "n_seeds", "seeds"])
