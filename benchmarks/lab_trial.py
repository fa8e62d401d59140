"""Time the interactive lab's default trial and measure the masking contrast it shows (notebook 09).

    python benchmarks/lab_trial.py --preset quick --out results/lab-trial-quick
    python benchmarks/lab_trial.py --preset quick --data teaching --out results/lab-trial-quick-teaching

Runs two trials of ``coral_lab.teaching.lab.LabSession`` one after the other, as a student would from the
widgets: the preset's default settings (its masking, biased pairs, ``lab.TRIAL_EPOCHS`` epochs) and the
same with masking off. Writes ``trials.csv`` (the session's trials table: R / U1 / U2 / S, S's ROC-AUC
and the wall seconds of each trial, probe included) with a provenance sidecar.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from coral_lab.teaching import lab
from coral_lab.config import get_preset
from coral_lab.core.device import describe_device, resolve_device
from coral_lab.config.provenance import mark_start, provenance, save_result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--cache-dir", default="data")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    p.add_argument("--data", default="benchmark", choices=lab.DATA_SETS,
                   help="the trial's data: the benchmark or the 4-texture teaching variant (lab.trial_config)")
    p.add_argument("--out", required=True, help="results folder for trials.csv")
    args = p.parse_args()
    mark_start()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device("cpu")
    cfg = lab.trial_config(get_preset(args.preset).replace(data={"cache_dir": args.cache_dir}), data=args.data)
    t0 = time.perf_counter()
    session = lab.LabSession(cfg, dev, umap_pairs=0)
    setup = time.perf_counter() - t0
    default = session.default_settings()
    for settings in (default, default.with_changes(masking="none")):
        row = session.run_trial(settings)
        print(f"trial {row['trial']}: {settings.describe()}: R {row['R']:.1f}  U1 {row['U1']:.1f}  "
              f"S {row['S']:.1f}  S AUC {row[lab.S_AUC]:.1f}  {row['seconds']:.0f} s", flush=True)
    info = provenance(preset=args.preset, seeds=[cfg.train.seed],
                      device=f"{describe_device(dev)}, {torch.get_num_threads()} torch threads",
                      extra={"trial_epochs": cfg.train.epochs, "session_setup_seconds": round(setup, 1),
                             "data": args.data, "n_textures": cfg.data.n_textures})
    save_result(session.trials, Path(args.out) / "trials.csv", info)


if __name__ == "__main__":
    main()
