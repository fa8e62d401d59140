"""Train the models coral_lab ships for a preset, probe them, and write pretrained/<preset>/ with its manifest.

    python scripts/ship_models.py --preset quick --seed 41 --jobs 2
    python scripts/ship_models.py --preset ci --seed 41            # the tiny models CI's notebooks load
    python scripts/ship_models.py --preset quick --from-study runs/confirm-quick   # the confirm study's units

The four units (``coral_lab.training.pretrained.SHIPPED_UNITS``) are trained as the Table 1 protocol trains a
unit (``coral_lab.evaluation.protocol.run_unit``, every task probed from Z and from each subspace), each in its
own run folder under ``--runs`` (resumable: run the command again after an interruption), then their
weights, configs, histories and probe rows are copied into ``pretrained/<preset>/`` with the SHA-256
of every file and the provenance of the training in ``MANIFEST.json``.

``--probe-protocol published`` trains nothing: it probes the shipped units of ``--preset`` under that
protocol (``coral_lab.evaluation.published_probe``; the tasks each unit is scored on, from Z) and adds the table to
each unit and to the manifest (``pretrained.add_probe_table``), so the notebooks show both protocols.

``--lab-trials`` trains the interactive lab's notebook trials instead (``coral_lab.teaching.lab.NOTEBOOK_TRIALS``:
notebook 09's trials on the teaching variant, with the preset's masking and without), each exactly as
``LabSession.run_trial`` trains and probes it, into ``pretrained/<preset>-lab/`` with a manifest of its own;
a session started with ``shipped_trials=True`` then opens them instead of training (the rendered site).

``--from-study DIR`` ships the units a ``coral-lab study --name confirm`` run already trained
(``DIR/preset/seed<S>-<kind>``, the same configs): each is probed as ``run_unit`` probes (every task,
from Z and each subspace; ``probe.csv``) and exported, with the study's provenance.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import torch

from coral_lab.training import pretrained
from coral_lab.config import runs
from coral_lab.experiments.units import unit_config
from coral_lab.evaluation.probe import probe_model
from coral_lab.config import get_preset
from coral_lab.core.device import describe_device, resolve_device, worker_threads
from coral_lab.evaluation.protocol import run_unit, score_columns, unit_probe_plan
from coral_lab.config.provenance import mark_start, provenance
from coral_lab.training.pretrain import load_benchmark, load_model

SUBSPACES = ("Z", "shared", "unique1", "unique2")


def _train(args: tuple) -> str:
    preset, seed, kind, runs_root, threads = args
    import torch

    if threads:
        torch.set_num_threads(threads)
    train_set, changes = pretrained.SHIPPED_UNITS[kind]
    cfg = get_preset(preset).replace(**changes)
    out = Path(runs_root) / kind
    run_unit(cfg, seed, train_set, out, device="cpu" if threads else "auto", progress=False, subspaces=SUBSPACES)
    return str(runs.unit_dir(out, seed, train_set))


def _probe_study_unit(preset: str, seed: int, kind: str, folder: Path) -> str:
    """Probe a finished confirm-study unit as run_unit does and write its probe.csv (run_unit's layout)."""
    torch.set_num_threads(1)
    train_set, changes = pretrained.SHIPPED_UNITS[kind]
    want = unit_config(get_preset(preset), seed, train_set).replace(**changes)
    model, cfg, _ = load_model(folder)
    if cfg.pretrain_dict() != want.pretrain_dict():
        raise SystemExit(f"error: {folder} was not trained with the {preset} preset's {kind} unit config")
    bench = load_benchmark(want, progress=False)
    df = probe_model(model, bench, subspaces=SUBSPACES, probe_cfg=want.probe, augment_cfg=want.augment, seed=seed)
    df.insert(0, "train_set", train_set)
    df.insert(0, "seed", seed)
    df.insert(0, "method", cfg.method)
    df["column"] = score_columns(df, train_set)
    want.to_json(folder / "config.json")
    runs.write_table(folder, runs.PROBE, df, want)
    return str(folder)


def _probe_shipped(preset: str, seed: int, kind: str, protocol: str) -> tuple[str, pd.DataFrame, float]:
    """A shipped unit's probe rows under ``protocol`` (``protocol.unit_probe_plan``), in run_unit's layout."""
    torch.set_num_threads(1)
    folder, name = pretrained.shipped_dir(preset), pretrained.unit_name(seed, kind)
    train_set, changes = pretrained.SHIPPED_UNITS[kind]
    want = unit_config(get_preset(preset), seed, train_set).replace(**changes).replace(probe={"protocol": protocol})
    model, cfg, _ = pretrained.load_shipped(folder, name)
    if cfg.pretrain_dict() != want.pretrain_dict():
        raise SystemExit(f"error: {folder / name} was not trained with today's {preset} preset's {kind} unit config")
    held = pretrained.shipped_probe_rows(folder, name)
    t0 = time.perf_counter()
    tasks, feats = unit_probe_plan(protocol, train_set, SUBSPACES)
    df = probe_model(model, load_benchmark(want, progress=False), tasks=tasks, subspaces=feats, probe_cfg=want.probe,
                     augment_cfg=want.augment, seed=seed)
    df.insert(0, "train_set", train_set)
    df.insert(0, "seed", seed)
    df.insert(0, "method", cfg.method)
    df["column"] = score_columns(df, train_set)
    if "run_id" in held.columns:  # the same training as the unit's probe.csv
        df["run_id"] = held["run_id"].iloc[0]
    df["config_hash"] = runs.config_hash(want)
    return name, df, time.perf_counter() - t0


def _ship_lab_trials(preset: str, runs_root: Path, dest: Path | None) -> None:
    """Train, probe and ship the notebook's lab trials of ``preset`` (resumable run folders)."""
    from coral_lab.teaching import lab
    from coral_lab.data import TASKS
    from coral_lab.training.pretrain import pretrain

    device = resolve_device("auto")
    t0 = time.perf_counter()
    folders: dict[str, Path] = {}
    for name in lab.NOTEBOOK_TRIALS:
        cfg = lab.notebook_trial_config(preset, name)
        bench = load_benchmark(cfg, progress=False)
        folder = runs_root / name
        pretrain(cfg, folder, benchmark=bench, device=device, progress=False)
        model, _, _ = load_model(folder, device=device)
        probe = probe_model(model, bench, tasks=TASKS, subspaces=("Z",), probe_cfg=cfg.probe,
                            augment_cfg=cfg.augment, seed=cfg.train.seed)
        probe["column"] = ""  # a trial is no Table 1 unit: its scores are read by task
        runs.write_table(folder, runs.PROBE, probe, cfg)
        folders[name] = folder
        print(f"{name}: " + ", ".join(f"{t} {v:.1f}" for t, v in zip(probe["task"], probe["balanced_accuracy"])))
    minutes = (time.perf_counter() - t0) / 60
    info = provenance(preset=preset, seeds=[get_preset(preset).train.seed], device=describe_device(device),
                      command=f"python scripts/ship_models.py --preset {preset} --lab-trials",
                      extra={"units": list(folders), "wall_minutes": round(minutes, 2),
                             "trials": {n: {"data": d, "changes": c} for n, (d, c) in lab.NOTEBOOK_TRIALS.items()}})
    manifest = pretrained.export_units(folders, dest or lab.lab_trials_dir(preset), info)
    print(f"shipped {len(folders)} lab trials in {manifest.parent}, trained in {minutes:.1f} min")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--seed", type=int, default=41)
    p.add_argument("--jobs", type=int, default=2, help="units trained at once (one process each)")
    p.add_argument("--runs", default=None, help="run folders (default: runs/ship-<preset>)")
    p.add_argument("--units", nargs="+", default=list(pretrained.SHIPPED_UNITS), choices=list(pretrained.SHIPPED_UNITS))
    p.add_argument("--from-study", default=None, help="a confirm study's folder whose 'preset' units to ship")
    p.add_argument("--dest", default=None, help="where to write (default: pretrained/<preset> of this checkout)")
    p.add_argument("--probe-protocol", default=None, choices=list(pretrained.PROBE_TABLES),
                   help="probe the shipped units under this protocol and add the table (trains nothing)")
    p.add_argument("--lab-trials", action="store_true",
                   help="train and ship notebook 09's lab trials (pretrained/<preset>-lab/) instead of the units")
    args = p.parse_args()
    mark_start()
    if args.lab_trials:
        _ship_lab_trials(args.preset, Path(args.runs or f"runs/ship-{args.preset}-lab"),
                         Path(args.dest) if args.dest else None)
        return
    if args.probe_protocol:
        device = resolve_device("cpu")
        for kind in args.units:
            name, rows, seconds = _probe_shipped(args.preset, args.seed, kind, args.probe_protocol)
            command = (f"python scripts/ship_models.py --preset {args.preset} --seed {args.seed} "
                       f"--probe-protocol {args.probe_protocol} --units {kind}")
            info = provenance(preset=args.preset, seeds=[args.seed], device=describe_device(device, 1), command=command,
                              extra={"protocol": args.probe_protocol, "probe_seconds": round(seconds, 1)})
            path = pretrained.add_probe_table(pretrained.shipped_dir(args.preset), name, args.probe_protocol, rows, info)
            scored = rows[rows["column"] != ""]
            print(f"{path}: " + ", ".join(f"{c} {v:.1f}" for c, v in zip(scored["column"], scored["balanced_accuracy"]))
                  + f" ({seconds:.0f} s)")
        return
    runs_root = Path(args.runs or f"runs/ship-{args.preset}")
    device = resolve_device("auto")
    load_benchmark(get_preset(args.preset), progress=False)  # render the cache once, before the workers
    threads = worker_threads(device, args.jobs) or 0
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        if args.from_study:
            study = Path(args.from_study) / "preset"
            folders = list(pool.map(_probe_study_unit, *zip(*[(args.preset, args.seed, kind,
                                                                 runs.unit_dir(study, args.seed, kind)) for kind in args.units])))
        else:
            work = [(args.preset, args.seed, kind, str(runs_root), threads) for kind in args.units]
            folders = list(pool.map(_train, work))
    minutes = (time.perf_counter() - t0) / 60
    names = {pretrained.unit_name(args.seed, kind): folder for kind, folder in zip(args.units, folders)}
    command = f"python scripts/ship_models.py --preset {args.preset} --seed {args.seed} --jobs {args.jobs}"
    extra = {"units": list(names), "wall_minutes": round(minutes, 2)}
    if args.from_study:
        import json

        command += f" --from-study {args.from_study}"
        sidecar = Path(args.from_study) / "curves.provenance.json"
        extra["trained_by"] = json.loads(sidecar.read_text()) if sidecar.is_file() else f"the study in {args.from_study}"
    info = provenance(preset=args.preset, seeds=[args.seed], device=describe_device(device, threads or None, args.jobs),
                      command=command, extra=extra)
    manifest = pretrained.export_units(names, Path(args.dest) if args.dest else pretrained.shipped_dir(args.preset), info)
    total = sum(f.stat().st_size for f in manifest.parent.rglob("*") if f.is_file())
    print(f"shipped {len(names)} units in {manifest.parent} ({total / 2**20:.1f} MiB), trained in {minutes:.1f} min")


if __name__ == "__main__":
    main()
