"""Copy a finished ``coral-lab reproduce`` folder into results/: without checkpoints, with every run that made it.

    python scripts/publish_results.py runs/baselines-hour/factorcl results/baselines-hour/factorcl \\
        --runs factorcl_runs.json

A pretraining that takes hours is often made by several runs of the same command (one seed a run, a run
stopped by hand and resumed from its checkpoint, a final pass over every seed that trains nothing and
writes the table). The folder's ``table1.provenance.json`` names only the last of them; this script adds
the others. ``--runs`` is a JSON list with one object per run, each naming at least ``command``,
``commit``, ``device``, ``started``, ``ended``, ``wall_minutes`` and ``seeds`` (and, where the run's code
was not the checkout's, a ``code_note``). The published sidecar gets them as ``runs``; its
``wall_minutes`` becomes their sum and the final pass's own minutes move to ``final_pass_wall_minutes``.
Its ``device`` names the machine that trained each seed (the first run listing it) when that is not
only the final pass's, whose own device then moves to ``final_pass_device``.

What is copied: the folder's tables (``table1.csv``, ``table1.txt``, ``table1_summary.csv``) and sidecar,
and from every unit folder its config, run record, history and probe files. What is not: checkpoints
(``*.pt`` and their ``.sha256``), locks, and the experiment marker (results/ is not a run folder to train
in). The copy is written beside the destination (``<dest>.publishing``) and renamed into place, so a
copy killed at any moment leaves the old destination whole: under its own name, or, for the instant
between the two renames, as ``<dest>.replaced``. An existing destination is replaced only with ``--replace``;
the files it holds beside the reproduce outputs (``feature_variation.csv``, say) are carried into the new
copy, and a unit folder it holds that the source lacks stops the copy before anything is written.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

from coral_lab.config.provenance import write_sidecar

RUN_KEYS = ("command", "commit", "device", "started", "ended", "wall_minutes", "seeds")
TABLES = ("table1.csv", "table1.txt", "table1_summary.csv")  # copied as they are; the sidecar is rewritten
SIDECAR = "table1.provenance.json"
UNIT_SUFFIXES = (".csv", ".json", ".txt")  # a unit folder's config, run record, history and probes
SKIPPED = ("coral_lab_experiment.json", ".coral_lab.lock")


def read_runs(path: str | Path) -> list[dict]:
    """The runs list of ``--runs``, checked: a non-empty JSON list of objects naming ``RUN_KEYS``."""
    try:
        runs = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"cannot read the runs list {path}: {e}; give a JSON list of run objects") from None
    if not isinstance(runs, list) or not runs:
        raise ValueError(f"{path} must hold a non-empty JSON list of run objects")
    for i, run in enumerate(runs):
        if not isinstance(run, dict):
            raise ValueError(f"{path}: run {i} is not an object")
        missing = [k for k in RUN_KEYS if k not in run]
        if missing:
            raise ValueError(f"{path}: run {i} lacks {missing}; every run names {list(RUN_KEYS)}")
        seeds = run["seeds"]
        if not isinstance(seeds, list) or not seeds or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds):
            raise ValueError(f"{path}: run {i} has seeds {seeds!r}; give a non-empty list of ints, e.g. [41]")
        minutes = run["wall_minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not math.isfinite(minutes) or minutes < 0:
            raise ValueError(f"{path}: run {i} has wall_minutes {minutes!r}; give minutes >= 0")
    return runs


def published_sidecar(info: dict, runs: list[dict]) -> dict:
    """The final pass's sidecar ``info`` with ``runs`` added and ``wall_minutes`` their sum."""
    covered = sorted({int(s) for run in runs for s in run["seeds"]})
    missing = sorted(set(int(s) for s in info.get("seeds", [])) - set(covered))
    if missing:
        raise ValueError(f"the runs list trains no run of seeds {missing}, which the table holds; list every run")
    out = dict(info)
    trained_on: dict[str, list[int]] = {}  # each seed's device: that of the first run that lists it (the one that trained it)
    for seed in covered:
        device = next(str(run["device"]) for run in runs if seed in run["seeds"])
        trained_on.setdefault(device, []).append(seed)
    if len(trained_on) > 1 or str(info.get("device")) not in trained_on:
        out["final_pass_device"] = info.get("device")
        out["device"] = "; ".join(f"{device} (seed{'s' if len(s) > 1 else ''} {', '.join(map(str, s))})"
                                  for device, s in trained_on.items())
    out["final_pass_wall_minutes"] = info.get("wall_minutes")
    out["wall_minutes"] = round(sum(float(run["wall_minutes"]) for run in runs), 1)
    out["wall_minutes_note"] = ("the sum of the runs' wall minutes (runs); the final pass that wrote this table "
                                "(final_pass_wall_minutes) is the last run")
    out["runs"] = runs
    return out


def publish(source: str | Path, dest: str | Path, runs: list[dict], replace: bool = False) -> list[Path]:
    """Copy ``source`` (a finished reproduce folder) to ``dest``; returns the files written, relative to ``dest``."""
    source, dest = Path(source), Path(dest)
    sidecar = source / SIDECAR
    if not (source / "coral_lab_experiment.json").is_file() or not sidecar.is_file():
        raise ValueError(f"{source} is not a finished coral_lab reproduce folder (no coral_lab_experiment.json "
                         "and table1.provenance.json); run `coral-lab reproduce ... --out` into it first")
    if dest.exists() and not replace:
        raise ValueError(f"{dest} exists; give --replace to replace it")
    try:
        info = json.loads(sidecar.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{sidecar} is not readable JSON ({e}); rerun the final pass of `coral-lab reproduce`") from None
    # what a replaced destination holds beside the reproduce outputs (a collapse check written there later,
    # say) is carried into the new copy; a unit it has and the source lacks would be lost, so it stops
    kept: list[Path] = []
    if dest.is_dir():
        units = {p.name for p in source.iterdir() if p.is_dir() and (p / "config.json").is_file()}
        lost = sorted(p.name for p in dest.iterdir() if p.is_dir() and p.name not in units)
        if lost:
            raise ValueError(f"{dest} holds {lost}, which {source} lacks; copy {dest} back into {source} and run "
                             "the reproduce command again, so that the table covers them")
        kept = [p for p in dest.iterdir() if p.is_file() and p.name not in (*TABLES, SIDECAR)]
    staging = dest.with_name(dest.name + ".publishing")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    written = []
    for name in TABLES:
        if (source / name).is_file():
            shutil.copy2(source / name, staging / name)
            written.append(Path(name))
    write_sidecar(staging / SIDECAR, published_sidecar(info, runs))
    written.append(Path(SIDECAR))
    for f in kept:
        shutil.copy2(f, staging / f.name)
        written.append(Path(f.name))
    for unit in sorted(p for p in source.iterdir() if p.is_dir() and (p / "config.json").is_file()):
        (staging / unit.name).mkdir()
        for f in sorted(unit.iterdir()):
            if f.is_file() and f.suffix in UNIT_SUFFIXES and f.name not in SKIPPED:
                shutil.copy2(f, staging / unit.name / f.name)
                written.append(Path(unit.name) / f.name)
    old = dest.with_name(dest.name + ".replaced")
    if dest.exists():
        if old.exists():
            shutil.rmtree(old)
        dest.rename(old)
    staging.rename(dest)
    if old.exists():
        shutil.rmtree(old)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the reproduce folder under runs/ (finished: its table1.csv written)")
    parser.add_argument("dest", help="the folder under results/ to write")
    parser.add_argument("--runs", required=True, help="a JSON list of the runs that made the folder")
    parser.add_argument("--replace", action="store_true", help="replace dest if it exists")
    args = parser.parse_args(argv)
    try:
        written = publish(args.source, args.dest, read_runs(args.runs), replace=args.replace)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files to {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
