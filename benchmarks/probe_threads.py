"""The linear probe's speed when several processes share the cores: library thread pools as they come
against one thread per process (``coral_lab.core.device.set_cpu_threads``).

    python benchmarks/probe_threads.py --json results/cpu-speed/probe_threads.json

The features are real: ``Z`` of the shipped quick unbiased model (``pretrained/quick/seed41-unbiased``)
on its probe-train pairs, the texture-1 task (10 classes), one fit of the published probe at C = 10
(``StandardScaler + LogisticRegression``, 300 iterations at most, as the quick preset). Measured, each
with every process fitting at the same time:

- ``processes``: 1 or 2 processes (``--jobs 2`` runs two units side by side, each probing when it is done);
- ``threads``: None = scikit-learn's OpenMP and OpenBLAS pools as they start (one thread per core in
  every process), else ``set_cpu_threads(threads)`` in every process;
- ``fit``: ``sklearn`` (the pipeline fitted directly, under those pools) or ``coral_lab`` (
  ``coral_lab.evaluation.probe.fit_probe``, which fits on one thread whatever the pools).

Each process reports its fit's seconds; the row keeps the slowest (what the command waits for).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from coral_lab.training import pretrained
from coral_lab.experiments import units
from coral_lab.data import pair_labels
from coral_lab.core.device import set_cpu_threads
from coral_lab.evaluation.probe import extract_features, feature_sets, fit_probe
from coral_lab.config.provenance import provenance, write_sidecar
from coral_lab.training.pretrain import load_benchmark

UNIT = "seed41-unbiased"


def probe_inputs() -> tuple[np.ndarray, np.ndarray]:
    folder = pretrained.shipped_dir("quick", units.repo_root())
    cfg = pretrained.shipped_config(folder, UNIT)
    model, _, _ = pretrained.load_shipped(folder, UNIT)
    bench = load_benchmark(cfg, progress=False)
    x = feature_sets(extract_features(model, bench.data.train, bench.probe_train, augment_cfg=cfg.augment))["Z"]
    y = pair_labels(bench.data.train, bench.probe_train, bench.mapping)["unique1"]
    return x, y


def _fit(x, y, threads, fit, start, queue) -> None:
    if threads:
        set_cpu_threads(threads)
    while time.time() < start:  # every process starts its fit at the same moment
        time.sleep(0.001)
    t0 = time.perf_counter()
    if fit == "coral_lab":
        fit_probe(x, y, C=10.0, max_iter=300)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 300 iterations do not converge at C = 10: the quick preset's budget
            make_pipeline(StandardScaler(), LogisticRegression(C=10.0, max_iter=300)).fit(x, y)
    queue.put(time.perf_counter() - t0)


def measure(x, y, processes: int, threads: int | None, fit: str) -> float:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start = time.time() + 3.0
    procs = [ctx.Process(target=_fit, args=(x, y, threads, fit, start, queue)) for _ in range(processes)]
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
    cores = os.cpu_count() or 1
    for processes in (1, 2):
        settings = [("sklearn", t) for t in dict.fromkeys([None, max(1, cores // processes), 1])]
        for fit, threads in settings + [("coral_lab", None)]:
            times = [measure(x, y, processes, threads, fit) for _ in range(args.repeats)]
            rows.append({"processes": processes, "fit": fit, "threads": threads, "seconds_min": round(min(times), 2),
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
