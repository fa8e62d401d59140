"""Write how much each subspace's features vary between samples, for finished run folders (a collapse check).

    python scripts/feature_variation.py --out results/baselines-hour/factorcl/feature_variation.csv \\
        runs/baselines-hour/factorcl/seed41-unbiased runs/baselines-hour/factorcl/seed41-biased

For every run folder: its model (``checkpoint.pt``) on ``--pairs`` probe-test pairs (a seeded sample, no
augmentation, no masking), and ``coral_lab.evaluation.analysis.feature_variation`` of each probe subspace:
the share of the features' second moment that differs between samples (0 % = every sample gets the same
vector). One CSV row per (run, subspace), with a provenance sidecar; no training happens here. Run it
from the folder the runs were trained from (their ``data.cache_dir`` is relative to it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from coral_lab.config.provenance import provenance, save_result
from coral_lab.core.device import describe_device, resolve_device
from coral_lab.core.io import CheckpointError
from coral_lab.data import PairSet, derived_rng
from coral_lab.evaluation.analysis import feature_variation
from coral_lab.evaluation.probe import extract_features
from coral_lab.training.pretrain import load_benchmark, load_model


def variation_of_run(run: str | Path, n_pairs: int, device) -> pd.DataFrame:
    """``feature_variation`` of one run's probe subspaces on ``n_pairs`` probe-test pairs, with the run's labels."""
    model, cfg, history = load_model(run, device=device)
    bench = load_benchmark(cfg, progress=False)
    pairs = bench.probe_test
    if not 2 <= n_pairs <= len(pairs):
        raise ValueError(f"--pairs must be between 2 and the {len(pairs)} probe-test pairs, got {n_pairs}")
    chosen = np.sort(derived_rng(0, "feature_variation").choice(len(pairs), n_pairs, replace=False))
    feats = extract_features(model, bench.data.test, PairSet(pairs.idx1[chosen], pairs.idx2[chosen]))
    table = feature_variation(feats).reset_index()
    labels = {"run": Path(run).name, "method": cfg.method, "preset": cfg.preset, "seed": cfg.train.seed,
              "train_set": cfg.train.train_set, "epochs_trained": len(history), "pairs": n_pairs}
    return pd.concat([pd.DataFrame([labels] * len(table)), table], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="finished run folders (each with checkpoint.pt)")
    parser.add_argument("--out", required=True, help="the result CSV to write")
    parser.add_argument("--pairs", type=int, default=1000, help="probe-test pairs to embed per run (default 1000)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        dev = resolve_device(args.device)
        table = pd.concat([variation_of_run(run, args.pairs, dev) for run in args.runs], ignore_index=True)
        presets = sorted(set(table["preset"]))
        info = provenance(preset=presets[0] if len(presets) == 1 else ", ".join(presets),
                          seeds=sorted(int(s) for s in set(table["seed"])), device=describe_device(dev),
                          extra={"runs": [str(r) for r in args.runs], "pairs": args.pairs})
        save_result(table, args.out, info)
    except (OSError, ValueError, TypeError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table.round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
