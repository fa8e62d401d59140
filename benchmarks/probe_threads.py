"""The linear probe's speed when several processes share the cores: library thread pools as they come
against one thread per process (``coral_lab.device.set_cpu_threads``).

    python benchmarks/probe_threads.py --json results/cpu-speed/probe_threads.json

The features are real: ``Z`` of the shipped quick unbiased model (``pretrained/quick/seed41-unbiased``)
on its probe-train pairs, the texture-1 task (10 classes), one fit of the published probe at C = 10
(``coral_lab.evaluate.fit_probe``, 300 iterations at most, as the quick preset). Measured, each with
every process fitting at the same time:

- ``processes``: 1 or 2 processes (``--jobs 2`` runs two units side by side, each probing when it is done);
- ``limited``: False = scikit-learn's OpenMP and OpenBLAS pools as they start (one thread per core in
  every process), True = ``set_cpu_threads(cores // processes)``.

Each process reports its fit's seconds; the row keeps the slowest (what the command waits for).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

from coral_lab import pretrained, units
from coral_lab.data import pair_labels
from coral_lab.device import set_cpu_threads
from coral_lab.evaluate import extract_features, feature_sets, fit_probe
from coral_lab.provenance import provenance, write_sidecar
from coral_lab.train import load_benchmark

UNIT = "seed41-unbiased"


def probe_inputs() -> tuple[np.ndarray, np.ndarray]:
    folder = pretrained.shipped_dir("quick", units.repo_root())
    cfg = pretrained.shipped_config(folder, UNIT)
    model, _, _ = pretrained.load_shipped(folder, UNIT)
    bench = load_benchmark(cfg, progress=False)
    x = feature_sets(extract_features(model, bench.data.train, bench.probe_train, augment_cfg=cfg.augment))["Z"]
    y = pair_labels(bench.data.train, bench.probe_train, bench.mapping)["unique1"]
    return x, y


def _fit(x, y, threads, start, queue) -> None:
    if threads:
        set_cpu_threads(threads)
    while time.time() < start:  # every process starts its fit at the same moment
        time.sleep(0.001)
    t0 = time.perf_counter()
    fit_probe(x, y, C=10.0, max_iter=300)
    queue.put(time.perf_counter() - t0)


def measure(x, y, processes: int, limited: bool) -> float:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // processes) if limited else 0
    start = time.time() + 3.0
    procs = [ctx.Process(target=_fit, args=(x, y, threads, start, queue)) for _ in range(processes)]
    for p in procs:
        p.start()
    seconds = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return max(seconds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    x, y = probe_inputs()
    rows = []
    for processes in (1, 2):
        for limited in (False, True):
            times = [measure(x, y, processes, limited) for _ in range(args.repeats)]
            rows.append({"processes": processes, "limited": limited, "seconds_min": round(min(times), 2),
                         "seconds": [round(t, 2) for t in times]})
            print(json.dumps(rows[-1]), flush=True)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"features": list(x.shape), "cpu_count": os.cpu_count(), "rows": rows}, indent=1) + "\n")
        write_sidecar(path.with_suffix(".provenance.json"),
                      provenance(preset="quick", seeds=[41], device=f"cpu, {os.cpu_count()} cores"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
