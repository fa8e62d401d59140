"""Add a study folder's units to a study published in results/ (its curves, its tables, every run that made it).

    python scripts/merge_study_results.py runs/study-audit-e100 results/study-audit-quick \\
        --note "the code of 946d72a on PYTHONPATH; nothing else on the machine"

A published study (``results/study-<name>-<preset>/``) keeps ``curves.csv`` and the study's own tables
(``coral_lab.experiments.study.STUDY_TABLES``, e.g. the audit's ``protocol_audit.csv``) with their
provenance, but no unit folders: ``coral-lab study`` rebuilds its curves from the unit folders of its
``--out``, so units trained later, in another folder or another session, are added here instead.

SOURCE is a ``coral-lab study --out`` folder of the same study, preset and preset config, every unit in
its curves probed to its last epoch. Its units' rows (by variant, seed and unit) replace those of the
destination, every other row is kept, and the
study's tables are recomputed from the merged curves. The sidecars keep the destination's top level and
gain SOURCE's commands in ``runs`` (each with its command, commit, device, start and minutes; ``--note``
adds a ``code_note`` to them), the seeds and protocols the curves now hold, and ``merged_by`` (this
command). Merging the same SOURCE again changes nothing, so a merge killed between its files is repaired
by running it again; each file is replaced atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from coral_lab.config import runs
from coral_lab.config.provenance import command_line, earlier_runs, git_commit, write_sidecar
from coral_lab.config.run_config import RunConfig
from coral_lab.core.io import atomic_write_text
from coral_lab.experiments.study import CURVES, STUDY_TABLES, study_variants, variant_unit_config

UNIT_KEY = ["variant", "seed", "unit"]
SIDECAR = "curves.provenance.json"


def _sidecar(folder: Path) -> dict:
    path = folder / SIDECAR
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} holds no {SIDECAR}: give a study folder that `coral-lab study` wrote") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not readable JSON ({e}); mend it or give another folder") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict) or "study" not in info:
        raise ValueError(f"{path} is not a coral_lab study sidecar (no study name or config); give a study folder")
    return info


def _curves(folder: Path) -> pd.DataFrame:
    try:
        rows = pd.read_csv(folder / CURVES)
    except FileNotFoundError:
        raise ValueError(f"{folder} holds no {CURVES}: give a study folder that `coral-lab study` wrote") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{folder / CURVES} is not a readable CSV ({e}); mend it or give another folder") from None
    if not set(UNIT_KEY) <= set(rows.columns):
        raise ValueError(f"{folder / CURVES} lacks the columns {UNIT_KEY}; it is not a study's curves")
    return rows


def _same_config(a: dict, b: dict) -> bool:
    """The two preset configs, read as today's layout (an older sidecar's config upgrades on reading), the
    data cache's folder aside (where a run keeps its rendered data)."""
    def normal(c: dict) -> dict:
        c = json.loads(json.dumps(RunConfig.from_dict(c).to_dict()))
        c["data"].pop("cache_dir", None)
        return c
    return normal(a) == normal(b)


def _run_id(run: dict) -> tuple:
    return run.get("command"), run.get("commit"), run.get("started", run.get("date"))


def merge(source: str | Path, dest: str | Path, note: str | None = None) -> pd.DataFrame:
    """Merge ``source``'s units into the published study ``dest``; returns the merged curves."""
    source, dest = Path(source), Path(dest)
    marker = source / runs.EXPERIMENT_MARKER
    try:
        kind = json.loads(marker.read_text()).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None
    if kind != "study":
        raise ValueError(f"{source} is not a coral_lab study folder (no study marker {runs.EXPERIMENT_MARKER}); "
                         "give the --out folder of `coral-lab study`")
    if (dest / runs.EXPERIMENT_MARKER).exists():
        raise ValueError(f"{dest} is a study folder to train in, not a published one; give the results/ folder")
    new_info, old_info = _sidecar(source), _sidecar(dest)
    for key in ("study", "preset"):
        if new_info.get(key) != old_info.get(key):
            raise ValueError(f"{source} is {key} {new_info.get(key)!r} and {dest} is {old_info.get(key)!r}; "
                             "merge a study only into the same study and preset")
    if not _same_config(new_info["config"], old_info["config"]):
        raise ValueError(f"{source} was run on another preset config than {dest} (its --set changes differ); "
                         "merge only runs of the same config")
    new, old = _curves(source), _curves(dest)
    if list(new.columns) != list(old.columns):
        raise ValueError(f"{source / CURVES} has columns {list(new.columns)}, {dest / CURVES} has "
                         f"{list(old.columns)}; upgrade the older one first")
    if new.empty:
        raise ValueError(f"{source / CURVES} holds no rows: no unit of it has finished")
    cfg = RunConfig.from_dict(old_info["config"])
    variants = study_variants(str(old_info["study"]))
    for (variant, seed, unit), epoch in new.groupby(UNIT_KEY)["epoch"].max().items():
        # a study's curves also hold the probes of units still training when another unit finished
        if variant not in variants:
            raise ValueError(f"{source / CURVES} has variant {variant!r}, which study {old_info['study']!r} lacks")
        epochs = variant_unit_config(cfg, variants[variant], int(seed), str(unit)).train.epochs
        if epoch < epochs:
            raise ValueError(f"unit {variant} / seed {seed} / {unit} of {source} is probed to epoch {epoch} of "
                             f"{epochs}: let its study finish (or run it again) before merging")
    replaced = old.set_index(UNIT_KEY).index.isin(new.set_index(UNIT_KEY).index)
    curves = pd.concat([old[~replaced], new], ignore_index=True)

    added = [dict(r) | ({"code_note": note} if note else {}) for r in earlier_runs(source / SIDECAR)]
    before = earlier_runs(dest / SIDECAR)
    known = {_run_id(r) for r in before}
    info = dict(old_info)
    info["runs"] = before + [r for r in added if _run_id(r) not in known]
    info["seeds"] = sorted({int(s) for s in curves["seed"]})
    if "protocol" in curves:
        info["protocols"] = list(dict.fromkeys(curves["protocol"]))
    if "units_per_variant_and_seed" in info:
        counts = curves.drop_duplicates(UNIT_KEY).groupby(["variant", "seed"]).size()
        info["units_per_variant_and_seed"] = [{"variant": v, "seed": int(s), "unit": int(n)}
                                              for (v, s), n in counts.items()]
    devices = [info.get("device")] + [r.get("device") for r in before]
    new_devices = [d for d in dict.fromkeys(r.get("device") for r in added) if d and d not in devices]
    if new_devices:
        info["device"] = "; ".join([str(info.get("device"))] + new_devices)
    info["merged_by"] = {"command": command_line(), "commit": git_commit(),
                         "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}

    tables = {"curves": curves}
    for name, make in STUDY_TABLES.get(str(old_info["study"]), []):
        tables[Path(name).stem] = make(curves, cfg)
    for stem, table in tables.items():  # tables first, their sidecars last: a rerun repairs a killed merge
        atomic_write_text(dest / f"{stem}.csv", table.to_csv(index=False))
    for stem in tables:
        write_sidecar(dest / f"{stem}.provenance.json", info)
    return curves


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="the study's --out folder under runs/ (its units finished)")
    parser.add_argument("dest", help="the published study under results/")
    parser.add_argument("--note", help="a code_note for SOURCE's runs (what code ran, what shared the machine)")
    args = parser.parse_args(argv)
    try:
        curves = merge(args.source, args.dest, args.note)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    units = curves.drop_duplicates(UNIT_KEY)
    print(f"{args.dest}: {len(units)} units, {len(curves)} curve rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
