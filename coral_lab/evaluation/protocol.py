"""The Table 1 protocol: per seed, two pretrainings and their linear probes.

For each seed (41..45 in the paper):

- pretrain on the *unbiased* pairs, probe redundancy (``share``) and uniqueness (``unique1``);
- pretrain on the *biased* pairs (they follow the texture -> color mapping pi), probe synergy.

Each (seed, pretraining) unit lives in its own folder ``<out>/seed<S>-<train_set>/`` with its
checkpoint, history and ``probe.csv``; a unit whose ``probe.csv`` exists is not run again, and an
interrupted unit resumes from its checkpoint, so the protocol can be completed across sessions.
"""

from __future__ import annotations

from concurrent.futures import as_completed
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
import torch

from coral_lab.config import RunConfig, require_trifeature, runs
from coral_lab.core.device import worker_threads
from coral_lab.data import TASKS
from coral_lab.evaluation.probe import TABLE1_TASKS, probe_model, summarize, with_protocol
from coral_lab.core.io import atomic_write_text
from coral_lab.methods import check_config, display_name
from coral_lab.core.paper import PAPER_SEEDS, PAPER_TABLE1_PROTOCOLS, SPREAD_NOTE
from coral_lab.config import HELD_OUT, PROTOCOL_LABELS, PROTOCOLS
from coral_lab.training.pretrain import load_benchmark, load_model, pretrain
from coral_lab.core.workers import run_with_threads, unit_pool

__all__ = ["UNITS", "check_protocols", "check_seeds", "unit_probe_plan", "run_unit", "score_columns", "run_table1", "format_table1",
           "PROTOCOL_NOTES"]

# which Table 1 columns each pretraining is scored on
UNITS = {"unbiased": ("redundancy", "uniqueness"), "biased": ("synergy",)}
_COLUMN_OF_TASK = {task: col for col, task in TABLE1_TASKS.items()}


def check_protocols(protocols: Sequence[str]) -> tuple[str, ...]:
    """``protocols`` as a tuple of distinct known names (``config.PROTOCOLS``), in the given order."""
    if isinstance(protocols, str) or not protocols:
        raise ValueError(f"give the probe protocols as a non-empty list of names from {list(PROTOCOLS)}, got {protocols!r}")
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown probe protocol(s) {unknown}; valid: {list(PROTOCOLS)}")
    return tuple(dict.fromkeys(protocols))


def unit_probe_plan(protocol: str, train_set: str, subspaces: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (tasks, feature sets) a unit is probed on under ``protocol``: held out, every task from each of
    ``subspaces`` (the probe map); the published protocol and its control, as the released script, only
    the tasks the unit is scored on (``UNITS``) and only from Z."""
    if protocol == HELD_OUT:
        return tuple(TASKS), tuple(subspaces)
    return tuple(TABLE1_TASKS[c] for c in UNITS[train_set]), ("Z",)


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
    protocols: Sequence[str] = (HELD_OUT,),
) -> pd.DataFrame:
    """Pretrain one (seed, train_set) unit and probe it under each of ``protocols``; returns its tidy
    probe rows (a ``protocol`` column names each row's).

    Each protocol's rows are kept in their own file of the unit folder (``runs.probe_table``) and tied
    to the unit's config with ``probe.protocol`` set to that protocol, so a second protocol reuses the
    checkpoint and the first one's rows, and neither is read for the other.
    """
    if train_set not in UNITS:
        raise ValueError(f"unknown train_set {train_set!r}; valid: {sorted(UNITS)}")
    protocols = check_protocols(protocols)
    unit_cfg = cfg.replace(train={"seed": seed, "train_set": train_set})
    unit_dir = runs.unit_dir(out_dir, seed, train_set)
    configs = {p: unit_cfg.replace(probe={"protocol": p}) for p in protocols}
    # None unless probed for this training and config, and for every feature set asked for
    saved = {p: runs.read_table(unit_dir, runs.probe_table(p), configs[p]) for p in protocols}
    wanted = {p: set(unit_probe_plan(p, train_set, subspaces)[1]) for p in protocols}
    for p, rows in saved.items():
        if rows is not None and not wanted[p] <= set(rows["features"]):
            # probed before with fewer feature sets: probed again with theirs and these, so no row is lost
            subspaces = tuple(dict.fromkeys([*subspaces, *rows["features"]]))
            saved[p] = None
    if all(rows is not None for rows in saved.values()):
        return _unit_rows(saved.values())
    bench = benchmark if benchmark is not None else load_benchmark(unit_cfg, progress=progress)
    with runs.RunLock(runs.claim(unit_dir)):  # from pretraining to the written probe rows, one writer
        pretrain(unit_cfg, unit_dir, benchmark=bench, device=device, progress=progress)
        model, _, _ = load_model(unit_dir, device=device if device != "auto" else _auto())
        for p in protocols:
            if saved[p] is not None:
                continue
            tasks, feats = unit_probe_plan(p, train_set, subspaces)
            df = probe_model(model, bench, tasks=tasks, subspaces=feats, probe_cfg=configs[p].probe,
                             augment_cfg=unit_cfg.augment, seed=seed)
            df.insert(0, "train_set", train_set)
            df.insert(0, "seed", seed)
            df.insert(0, "method", unit_cfg.method)
            df["column"] = score_columns(df, train_set)
            runs.write_table(unit_dir, runs.probe_table(p), df, configs[p])
            saved[p] = df
    return _unit_rows(saved.values())


def _unit_rows(frames) -> pd.DataFrame:
    rows = pd.concat([with_protocol(f) for f in frames], ignore_index=True)
    rows["column"] = rows["column"].fillna("")  # "" (not scored) reads back as NaN
    return rows


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


def _run_units_in_processes(cfg, units, out_dir, device, jobs, on_unit_end, subspaces, protocols) -> list[pd.DataFrame]:
    """``run_unit`` for every (seed, train_set) in ``jobs`` spawned processes; results in ``units`` order."""

    resolved = device if device != "auto" else _auto()
    threads = (worker_threads(resolved, jobs, cfg.train.num_threads) or 0) if resolved == "cpu" else 0
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    results: dict[tuple[int, str], pd.DataFrame] = {}
    with unit_pool(jobs) as pool:
        futures = {pool.submit(run_with_threads, threads, run_unit, cfg, seed, ts, str(out_dir), device=resolved,
                               progress=False, subspaces=tuple(subspaces), protocols=tuple(protocols)): (seed, ts)
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
    protocols: Sequence[str] = (HELD_OUT,),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run (or resume) the whole protocol; returns (tidy rows of every probe, Table 1 summary).

    Args:
        subspaces: the feature sets probed for every task ("Z", the concatenation, is the one scored;
            adding the method's subspaces, ``coral_lab.methods.subspaces(cfg)``, records the probe map too).
        jobs: units trained at the same time, each in its own process on the same ``device``. One
            100-epoch run at batch 64 leaves most of a large GPU idle (the step is launch-bound), so
            several seeds side by side finish the protocol sooner; on a CPU the processes share
            the cores (``torch`` threads are divided among them) and little is gained.
        protocols: the probe protocols every unit is scored under (``config.PROTOCOLS``:
            ``held_out``, coral_lab's; ``published``, the replica of the released script); the rows
            and the summary carry a ``protocol`` column.
    """
    require_trifeature(cfg, "the Table 1 protocol")
    cfg = check_config(cfg)  # the method's settings filled: the units' configs (and hashes) are those pretrain saves
    protocols = check_protocols(protocols)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    seeds = check_seeds(seeds)
    for seed in seeds:  # every unit's config is checked before anything trains (a bad seed fails now)
        cfg.replace(train={"seed": seed}).validate()
    out_dir = runs.claim_experiment(out_dir, "reproduce")
    with runs.RunLock(out_dir):  # one command writes the folder's tables at a time
        bench = load_benchmark(cfg, progress=progress)  # renders the image cache once, before any worker starts
        units = [(seed, train_set) for seed in seeds for train_set in UNITS]
        frames = []
        if jobs == 1:
            for seed, train_set in units:
                df = run_unit(cfg, seed, train_set, out_dir, device=device, progress=progress, benchmark=bench,
                              subspaces=subspaces, protocols=protocols)
                frames.append(df)
                if on_unit_end is not None:
                    on_unit_end(df)
        else:
            frames = _run_units_in_processes(cfg, units, out_dir, device, min(jobs, len(units)), on_unit_end,
                                             subspaces, protocols)
        rows = pd.concat(frames, ignore_index=True)
        table = summarize(rows[rows["column"].fillna("") != ""], method=display_name(cfg.method))
        # table1.csv keeps every seed of the folder whose units hold current rows of this config (an earlier
        # command's other seeds are merged, not dropped); the summary is this command's seeds
        kept = [rows, *(_saved_seed_rows(cfg, out_dir, s, protocols) for s in _other_seeds(out_dir, seeds))]
        merged = pd.concat([f for f in kept if f is not None], ignore_index=True).sort_values("seed", kind="stable")
        atomic_write_text(out_dir / "table1.csv", merged.to_csv(index=False))
        atomic_write_text(out_dir / "table1_summary.csv", table.to_csv(index=False))
    return rows, table


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """``seeds`` as a list of distinct ints; an empty list, a non-int or a repeated seed stops
    with one line (a seed given twice would count twice in a mean and train one unit in two workers)."""
    seeds = list(seeds)
    if not seeds:
        raise ValueError("give at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int):  # the range is the config's (train.seed >= 0)
            raise ValueError(f"seeds must be ints, got {seed!r}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise ValueError(f"seed(s) {repeated} given more than once; give each seed once")
    return seeds


def _other_seeds(out_dir: Path, seeds: Sequence[int]) -> list[int]:
    """The seeds of the unit folders in ``out_dir`` (``seed<S>-<train_set>``) other than ``seeds``."""
    found = set()
    for folder in out_dir.glob(runs.UNIT_GLOB):
        head = folder.name.split("-", 1)[0][len("seed"):]
        if folder.is_dir() and head.isdigit() and int(head) not in seeds:
            found.add(int(head))
    return sorted(found)


def _saved_seed_rows(cfg: RunConfig, out_dir: Path, seed: int, protocols: Sequence[str]) -> pd.DataFrame | None:
    """A seed's saved rows, both pretrainings and every protocol, if all are current for ``cfg``; else None."""
    frames = []
    for train_set in UNITS:
        unit_cfg = cfg.replace(train={"seed": seed, "train_set": train_set})
        for p in protocols:
            rows = runs.read_table(runs.unit_dir(out_dir, seed, train_set), runs.probe_table(p),
                                   unit_cfg.replace(probe={"protocol": p}))
            if rows is None:
                return None
            frames.append(rows)
    return _unit_rows(frames)


# what each protocol's column of a printed table measured (format_table1's footnote)
PROTOCOL_NOTES = {
    "held_out": "C chosen on a validation split of the probe-train pairs, fitted on probe-train, scored once on the "
                "test pairs (never fitted on them); no augmentation or masking at feature extraction",
    "published": "a replica of the released script: C searched on the test pairs, final fit on probe-train + one "
                 "random-crop copy of the test pairs, scored on another crop copy",
    "published_shuffled": "the published protocol with the fitted test copy's labels permuted (a memorisation "
                          "control)",
}


def format_table1(table: pd.DataFrame, title: str = "", method: str = "COrAL") -> str:
    """The summary as aligned text: one column per probe protocol (mean +- std), then the paper's row of
    ``method`` and chance; a footnote says what each protocol measured.

    ``method`` is the paper's name (a key of ``coral_lab.core.paper.PAPER_TABLE1``): COrAL, CLIP, CoMM,
    InfMasking or FactorCL.
    """
    def pm(m, s):
        if m is None or pd.isna(m):
            return "-"
        return f"{m:5.1f}" + ("" if s is None or pd.isna(s) else f" +- {s:4.2f}")

    table = with_protocol(table)
    protocols = [p for p in PROTOCOLS if p in set(table["protocol"])]
    columns = list(dict.fromkeys(table["column"]))
    cell = {(r["protocol"], r["column"]): r for _, r in table.iterrows()}
    width = 20
    lines = [title] if title else []
    lines.append(f"{'':12s} " + " ".join(f"{PROTOCOL_LABELS[p]:>{width}s}" for p in protocols)
                 + f" {'paper (' + method + ')':>16s} {'chance':>7s}  seeds")
    for col in columns:
        rows = [cell.get((p, col)) for p in protocols]
        first = next(r for r in rows if r is not None)
        ours = " ".join(f"{'-' if r is None else pm(r['ours_mean'], r['ours_std']):>{width}s}" for r in rows)
        seeds = "/".join(str(int(r["n_seeds"])) if r is not None else "-" for r in rows)
        lines.append(f"{col:12s} {ours} {pm(first['paper_mean'], first['paper_std']):>16s} {first['chance']:7.1f}  {seeds}")
    what = ("balanced accuracy %, linear probe on frozen Z = (Z^SR, Z_1^U, Z_2^U)" if method == "COrAL" else
            f"balanced accuracy %, linear probe on the frozen {method} representation")
    lines.append(what + "; unweighted fit; " + SPREAD_NOTE + ".")
    lines.extend(f"  {PROTOCOL_LABELS[p]}: {PROTOCOL_NOTES[p]}." for p in protocols)
    if method in PAPER_TABLE1_PROTOCOLS:
        lines.append(f"  paper ({method}): {PAPER_TABLE1_PROTOCOLS[method]}.")
    return "\n".join(lines)
