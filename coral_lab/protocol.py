"""The Table 1 protocol: per seed, two pretrainings and their linear probes.

For each seed (41..45 in the paper):

- pretrain on the *unbiased* pairs, probe redundancy (``share``) and uniqueness (``unique1``);
- pretrain on the *biased* pairs (they follow the texture -> color mapping pi), probe synergy.

Each (seed, pretraining) unit lives in its own folder ``<out>/seed<S>-<train_set>/`` with its
checkpoint, history and ``probe.csv``; a unit whose ``probe.csv`` exists is not run again, and an
interrupted unit resumes from its checkpoint, so the protocol can be completed across sessions.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
import torch

from coral_lab import runs
from coral_lab.config import RunConfig, require_trifeature
from coral_lab.device import set_cpu_threads, worker_threads
from coral_lab.data import TASKS
from coral_lab.evaluate import TABLE1_TASKS, probe_model, summarize
from coral_lab.io import atomic_write_text
from coral_lab.paper import DISPLAY_NAMES, PAPER_SEEDS, SPREAD_NOTE
from coral_lab.train import load_benchmark, load_model, pretrain

__all__ = ["UNITS", "run_unit", "score_columns", "run_table1", "format_table1"]

# which Table 1 columns each pretraining is scored on
UNITS = {"unbiased": ("redundancy", "uniqueness"), "biased": ("synergy",)}
_COLUMN_OF_TASK = {task: col for col, task in TABLE1_TASKS.items()}


def run_unit(
    cfg: RunConfig,
    seed: int,
    train_set: str,
    out_dir: str | Path,
    *,
    device: str = "auto",
    progress: bool = True,
    benchmark=None,
    subspaces: Sequence[str] = ("Z",),
) -> pd.DataFrame:
    """Pretrain one (seed, train_set) unit and probe every task; returns its tidy probe rows."""
    if train_set not in UNITS:
        raise ValueError(f"unknown train_set {train_set!r}; valid: {sorted(UNITS)}")
    unit_cfg = cfg.replace(train={"seed": seed, "train_set": train_set})
    unit_dir = runs.unit_dir(out_dir, seed, train_set)
    saved = runs.read_table(unit_dir, runs.PROBE, unit_cfg)  # None unless probed for this training and config
    if saved is not None:
        saved["column"] = saved["column"].fillna("")  # "" (not scored) reads back as NaN
        return saved
    bench = benchmark if benchmark is not None else load_benchmark(unit_cfg, progress=progress)
    with runs.RunLock(runs.claim(unit_dir)):  # from pretraining to the written probe rows, one writer
        pretrain(unit_cfg, unit_dir, benchmark=bench, device=device, progress=progress)
        model, _, _ = load_model(unit_dir, device=device if device != "auto" else _auto())
        df = probe_model(model, bench, tasks=TASKS, subspaces=subspaces, probe_cfg=unit_cfg.probe,
                         augment_cfg=unit_cfg.augment, seed=seed)
        df.insert(0, "train_set", train_set)
        df.insert(0, "seed", seed)
        df.insert(0, "method", unit_cfg.method)
        df["column"] = score_columns(df, train_set)
        runs.write_table(unit_dir, runs.PROBE, df, unit_cfg)
    return df


def score_columns(rows: pd.DataFrame, train_set: str) -> list[str]:
    """The Table 1 column each probe row of a ``train_set`` unit is scored in ("" for the rest).

    The unbiased unit's Z probes of shape and texture 1 are redundancy and uniqueness; the biased
    unit's Z probe of synergy is synergy; every other row (other features, other tasks) is unscored.
    """
    if train_set not in UNITS:
        raise ValueError(f"unknown train_set {train_set!r}; valid: {sorted(UNITS)}")
    scored = set(UNITS[train_set])
    return [
        _COLUMN_OF_TASK.get(t, "") if (f == "Z" and _COLUMN_OF_TASK.get(t) in scored) else ""
        for t, f in zip(rows["task"], rows["features"])
    ]


def _unit_worker(cfg: RunConfig, seed: int, train_set: str, out_dir: str, device: str, threads: int,
                 subspaces: Sequence[str]) -> pd.DataFrame:
    """One unit in a worker process (no progress bars: several would interleave)."""
    if threads:
        set_cpu_threads(threads)
    return run_unit(cfg, seed, train_set, out_dir, device=device, progress=False, subspaces=subspaces)


def _run_units_in_processes(cfg, units, out_dir, device, jobs, on_unit_end, subspaces) -> list[pd.DataFrame]:
    """``run_unit`` for every (seed, train_set) in ``jobs`` spawned processes; results in ``units`` order."""

    resolved = device if device != "auto" else _auto()
    threads = (worker_threads(resolved, jobs, cfg.train.num_threads) or 0) if resolved == "cpu" else 0
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    results: dict[tuple[int, str], pd.DataFrame] = {}
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_unit_worker, cfg, seed, ts, str(out_dir), resolved, threads, tuple(subspaces)): (seed, ts)
                   for seed, ts in units}
        for fut in as_completed(futures):
            seed, ts = futures[fut]
            try:
                results[(seed, ts)] = fut.result()
            except Exception as e:
                for other in futures:
                    other.cancel()
                raise RuntimeError(
                    f"unit seed {seed} / {ts} failed in its worker process ({type(e).__name__}: {e}); finished "
                    f"units are kept in {out_dir} and are not run again when the command is repeated"
                ) from e
            print(f"unit seed {seed} / {ts} done ({len(results)}/{len(units)})", flush=True)
            if on_unit_end is not None:
                on_unit_end(results[(seed, ts)])
    return [results[u] for u in units]


def _auto() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def run_table1(
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    seeds: Sequence[int] = PAPER_SEEDS,
    device: str = "auto",
    progress: bool = True,
    on_unit_end: Callable[[pd.DataFrame], None] | None = None,
    subspaces: Sequence[str] = ("Z",),
    jobs: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run (or resume) the whole protocol; returns (tidy rows of every probe, Table 1 summary).

    Args:
        subspaces: the feature sets probed for every task ("Z", the concatenation, is the one scored;
            adding the method's subspaces, ``coral_lab.methods.subspaces(cfg)``, records the probe map too).
        jobs: units trained at the same time, each in its own process on the same ``device``. One
            100-epoch run at batch 64 leaves most of a large GPU idle (the step is launch-bound), so
            several seeds side by side finish the protocol sooner; on a CPU the processes share
            the cores (``torch`` threads are divided among them) and little is gained.
    """
    require_trifeature(cfg, "the Table 1 protocol")
    if len(seeds) == 0:
        raise ValueError("give at least one seed")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    for seed in seeds:  # every unit's config is checked before anything trains (a bad seed fails now)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seeds must be ints, got {seed!r}")
        cfg.replace(train={"seed": seed}).validate()
    bench = load_benchmark(cfg, progress=progress)  # renders the image cache once, before any worker starts
    units = [(seed, train_set) for seed in seeds for train_set in UNITS]
    frames = []
    if jobs == 1:
        for seed, train_set in units:
            df = run_unit(cfg, seed, train_set, out_dir, device=device, progress=progress, benchmark=bench,
                          subspaces=subspaces)
            frames.append(df)
            if on_unit_end is not None:
                on_unit_end(df)
    else:
        frames = _run_units_in_processes(cfg, units, out_dir, device, min(jobs, len(units)), on_unit_end,
                                         subspaces)

    rows = pd.concat(frames, ignore_index=True)
    table = summarize(rows[rows["column"].fillna("") != ""], method=DISPLAY_NAMES[cfg.method])
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "table1.csv", rows.to_csv(index=False))
    atomic_write_text(out_dir / "table1_summary.csv", table.to_csv(index=False))
    return rows, table


def format_table1(table: pd.DataFrame, title: str = "", method: str = "COrAL") -> str:
    """The summary as aligned text: ours (mean +- std) beside the paper's row of ``method`` and chance.

    ``method`` is the paper's name (a key of ``coral_lab.paper.PAPER_TABLE1``): COrAL, CLIP, CoMM,
    InfMasking or FactorCL.
    """
    def pm(m, s):
        if m is None or pd.isna(m):
            return "-"
        return f"{m:5.1f}" + ("" if s is None or pd.isna(s) else f" +- {s:4.2f}")

    lines = [title] if title else []
    lines.append(f"{'':12s} {'coral_lab':>16s} {'paper (' + method + ')':>16s} {'chance':>7s}  seeds")
    for _, r in table.iterrows():
        lines.append(
            f"{r['column']:12s} {pm(r['ours_mean'], r['ours_std']):>16s} {pm(r['paper_mean'], r['paper_std']):>16s}"
            f" {r['chance']:7.1f}  {int(r['n_seeds'])}"
        )
    lines.append(
        ("balanced accuracy %, linear probe on frozen Z = (Z^SR, Z_1^U, Z_2^U)" if method == "COrAL" else
         f"balanced accuracy %, linear probe on the frozen {method} representation")
        + "; unweighted fit (the published probe), C chosen on a validation split of "
        "the probe-train pairs (never the test pairs); no augmentation or masking at feature extraction; "
        + SPREAD_NOTE + "."
    )
    return "\n".join(lines)
