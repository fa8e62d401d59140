"""Train the models coral_lab ships for a preset, probe them, and write pretrained/<preset>/ with its manifest.

    python scripts/ship_models.py --preset quick --seed 41 --jobs 2
    python scripts/ship_models.py --preset ci --seed 41            # the tiny models CI's notebooks load

The four units (``coral_lab.pretrained.SHIPPED_UNITS``) are trained as the Table 1 protocol trains a
unit (``coral_lab.protocol.run_unit``, every task probed from Z and from each subspace), each in its
own run folder under ``--runs`` (resumable: run the command again after an interruption), then their
weights, configs, histories and probe rows are copied into ``pretrained/<preset>/`` with the SHA-256
of every file and the provenance of the training in ``MANIFEST.json``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from coral_lab import pretrained
from coral_lab.config import get_preset
from coral_lab.device import describe_device, resolve_device, worker_threads
from coral_lab.protocol import run_unit
from coral_lab.provenance import mark_start, provenance
from coral_lab.train import load_benchmark

SUBSPACES = ("Z", "shared", "unique1", "unique2")


def _train(args: tuple) -> str:
    preset, seed, kind, runs, threads = args
    import torch

    if threads:
        torch.set_num_threads(threads)
    train_set, changes = pretrained.SHIPPED_UNITS[kind]
    cfg = get_preset(preset).replace(**changes)
    out = Path(runs) / kind
    run_unit(cfg, seed, train_set, out, device="cpu" if threads else "auto", progress=False, subspaces=SUBSPACES)
    return str(out / f"seed{seed}-{train_set}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--seed", type=int, default=41)
    p.add_argument("--jobs", type=int, default=2, help="units trained at once (one process each)")
    p.add_argument("--runs", default=None, help="run folders (default: runs/ship-<preset>)")
    p.add_argument("--units", nargs="+", default=list(pretrained.SHIPPED_UNITS), choices=list(pretrained.SHIPPED_UNITS))
    args = p.parse_args()
    mark_start()
    runs = Path(args.runs or f"runs/ship-{args.preset}")
    device = resolve_device("auto")
    load_benchmark(get_preset(args.preset), progress=False)  # render the cache once, before the workers
    threads = worker_threads(device, args.jobs) or 0
    t0 = time.perf_counter()
    work = [(args.preset, args.seed, kind, str(runs), threads) for kind in args.units]
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        folders = list(pool.map(_train, work))
    minutes = (time.perf_counter() - t0) / 60
    names = {pretrained.unit_name(args.seed, kind): folder for kind, folder in zip(args.units, folders)}
    info = provenance(preset=args.preset, seeds=[args.seed], device=describe_device(device, threads or None, args.jobs),
                      command=f"python scripts/ship_models.py --preset {args.preset} --seed {args.seed} --jobs {args.jobs}",
                      extra={"units": list(names), "wall_minutes": round(minutes, 2)})
    manifest = pretrained.export_units(names, pretrained.shipped_dir(args.preset), info)
    total = sum(f.stat().st_size for f in manifest.parent.rglob("*") if f.is_file())
    print(f"shipped {len(names)} units in {manifest.parent} ({total / 2**20:.1f} MiB), trained in {minutes:.1f} min")


if __name__ == "__main__":
    main()
