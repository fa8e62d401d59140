"""Where the published protocol's score comes from: its pieces toggled one at a time on the shipped units.

    python benchmarks/protocol_parts.py --preset quick --out results/protocol-parts-quick

For each Table 1 column of the shipped seed-41 units (``pretrained/<preset>/``: the unbiased unit for R
and U, the biased one for S), one row per reading:

- ``held_out``: coral_lab's probe (``probe.protocol = held_out``);
- ``published``: the replica of the released script (``coral_lab.evaluation.published_probe``);
- ``published, no crops``: the same on un-augmented images, so the scored copy of the test pairs is the
  fitted copy itself;
- ``published, standardised``: features scaled by the probe-train rows' mean and std before the L-BFGS
  fit (the held-out probe standardises; the released script does not);
- ``published, standardised, no crops``: both;
- ``published, 1,000 L-BFGS iterations``: the released fit stops at 100;
- ``published, fitted labels shuffled``: the memorisation control (``published_shuffled``).

Writes ``protocol_parts.csv`` (column, reading, balanced_accuracy, roc_auc, C, seconds) and its provenance
sidecar into ``--out``; ``--threads`` sets torch's threads (default 1, the fastest for these fits here).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from coral_lab.training import pretrained
from coral_lab.experiments import units
from coral_lab.config import get_preset
from coral_lab.core.device import describe_device
from coral_lab.evaluation.probe import TABLE1_TASKS, probe_model, published_probe_model
from coral_lab.evaluation.protocol import UNITS
from coral_lab.config.provenance import mark_start, provenance, save_result
from coral_lab.training.pretrain import load_benchmark

READINGS = {
    "published": {},
    "published, no crops": {"crop_scale": None},
    "published, standardised": {"standardise": True},
    "published, standardised, no crops": {"standardise": True, "crop_scale": None},
    "published, 1,000 L-BFGS iterations": {"max_iter": 1000},
    "published, fitted labels shuffled": {"shuffle_fitted_labels": True},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--seed", type=int, default=41)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True, help="folder for protocol_parts.csv and its sidecar")
    args = p.parse_args()
    mark_start()
    torch.set_num_threads(args.threads)
    cfg = get_preset(args.preset)
    folder = pretrained.shipped_dir(args.preset, units.repo_root())
    rows = []
    for train_set, columns in UNITS.items():
        name = pretrained.unit_name(args.seed, train_set)
        model, ucfg, _ = pretrained.load_shipped(folder, name)
        bench = load_benchmark(ucfg, progress=False)
        tasks = [TABLE1_TASKS[c] for c in columns]
        t0 = time.perf_counter()
        held = probe_model(model, bench, tasks=tasks, probe_cfg=ucfg.probe, augment_cfg=ucfg.augment, seed=args.seed)
        readings = [("held_out", held, time.perf_counter() - t0)]
        for label, knobs in READINGS.items():
            t0 = time.perf_counter()
            df = published_probe_model(model, bench, tasks=tasks, augment_cfg=ucfg.augment, seed=args.seed, **knobs)
            readings.append((label, df, time.perf_counter() - t0))
        for label, df, seconds in readings:
            for column, r in zip(columns, df.itertuples()):
                rows.append({"column": column, "reading": label, "balanced_accuracy": r.balanced_accuracy,
                             "roc_auc": r.roc_auc, "C": r.C, "seconds": round(seconds, 1)})
                print(f"{column:11s} {label:38s} {r.balanced_accuracy:5.1f}  (AUC {r.roc_auc:5.1f}, C {r.C:.3g})",
                      flush=True)
    table = pd.DataFrame(rows)
    info = provenance(preset=args.preset, seeds=[args.seed], device=describe_device(torch.device("cpu"), args.threads),
                      command=f"python benchmarks/protocol_parts.py --preset {args.preset} --seed {args.seed} "
                              f"--threads {args.threads} --out {args.out}",
                      extra={"units": f"pretrained/{args.preset}/seed{args.seed}-unbiased, -biased",
                             "protocol": "each row's reading", "config": cfg.to_dict()})
    csv, _ = save_result(table, Path(args.out) / "protocol_parts.csv", info)
    wide = table.pivot(index="reading", columns="column", values="balanced_accuracy")
    print(wide.reindex(["held_out", *READINGS])[list(TABLE1_TASKS)].round(1).to_string())
    print(f"written {csv}")


if __name__ == "__main__":
    main()
