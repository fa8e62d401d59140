"""Write how much each subspace's features vary between samples, for finished run folders (a collapse check).

    python scripts/feature_variation.py --out results/baselines-hour/factorcl/feature_variation.csv \\
        runs/baselines-hour/factorcl/seed41-unbiased runs/baselines-hour/factorcl/seed41-biased

For every run folder: its model (``checkpoint.pt``) on ``--pairs`` probe-test pairs (a seeded sample, no
augmentation, no masking), and ``coral_lab.evaluation.analysis.feature_variation`` of each probe subspace:
the share of the features' second moment that differs between samples (0 % = every sample gets the same
vector). One CSV row per (run, subspace), with a provenance sidecar; no training happens here. Run it
from the folder the runs were trained from (their ``data.cache_dir`` is relative to it).

``--append`` adds the runs' rows to an existing ``--out`` (a run already in it, by method and folder name,
is replaced), and the sidecar's ``runs`` keeps every command that wrote rows: so a table can grow as seeds
are trained in later sessions, after the earlier checkpoints are gone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from coral_lab.config.provenance import (RUN_KEYS, check_sidecar_info, earlier_runs, provenance, result_sidecar_path,
                                         save_result)
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


def earlier_rows(out: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """The rows ``out`` holds and the commands that wrote them (from its sidecar), before ``--append`` adds to it.

    Raises ValueError when ``out`` is missing, or is not a table this script wrote.
    """
    out = Path(out)
    if not out.is_file():
        raise ValueError(f"--append needs an existing --out; {out} does not exist (leave --append out to start it)")
    try:
        rows = pd.read_csv(out)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"{out} is not a readable CSV ({e}); move it aside, or leave --append out") from None
    columns = {"run", "method", "seed", "subspace", "variation_percent"}
    if not columns <= set(rows.columns):
        raise ValueError(f"{out} is not a feature-variation table (it lacks {sorted(columns - set(rows.columns))}); "
                         "give the table this script wrote")
    sidecar = result_sidecar_path(out)
    if not sidecar.is_file():
        raise ValueError(f"{out} has no provenance sidecar, so its rows' origin is unknown; restore {sidecar.name} "
                         "or start a new table")
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{sidecar} is not readable JSON ({e}); mend it, or start a new table") from None
    if isinstance(info, dict) and isinstance(info.get("runs"), list) and all(isinstance(r, str) for r in info["runs"]):
        # written before --append existed: one command, its run folders under "runs"
        check_sidecar_info(info, f"provenance sidecar {sidecar}")
        return rows, [{k: info[k] for k in RUN_KEYS if k in info} | {"run_folders": info["runs"]}]
    return rows, earlier_runs(sidecar)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="finished run folders (each with checkpoint.pt)")
    parser.add_argument("--out", required=True, help="the result CSV to write")
    parser.add_argument("--pairs", type=int, default=1000, help="probe-test pairs to embed per run (default 1000)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--append", action="store_true",
                        help="add the rows to an existing --out (its other runs' rows and commands are kept)")
    args = parser.parse_args(argv)
    try:
        dev = resolve_device(args.device)
        earlier, before = earlier_rows(args.out) if args.append else (None, [])
        table = pd.concat([variation_of_run(run, args.pairs, dev) for run in args.runs], ignore_index=True)
        if earlier is not None:
            kept = ~earlier.set_index(["method", "run"]).index.isin(table.set_index(["method", "run"]).index)
            table = pd.concat([earlier[kept], table], ignore_index=True)
        presets = sorted(set(table["preset"]))
        info = provenance(preset=presets[0] if len(presets) == 1 else ", ".join(presets),
                          seeds=sorted(int(s) for s in set(table["seed"])), device=describe_device(dev),
                          extra={"run_folders": [str(r) for r in args.runs], "pairs": args.pairs})
        info["runs"] = [*before, {k: info[k] for k in RUN_KEYS if k in info} | {"run_folders": info["run_folders"]}]
        save_result(table, args.out, info)
    except (OSError, ValueError, TypeError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(table.round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
