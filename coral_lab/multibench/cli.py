"""``coral-lab reproduce --dataset mosi|mosei|humor|sarcasm|mimic|digits``: the Table 2 protocol on feature data."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from coral_lab.config import RunConfig, runs
from coral_lab.core.device import describe_device, resolve_device
from coral_lab.core.io import atomic_write_text
from coral_lab.data.features import load_dataset
from coral_lab.multibench.protocol import format_table2, raw_feature_probe, run_table2
from coral_lab.methods import display_name
from coral_lab.core.paper import PAPER_SEEDS, scale_of
from coral_lab.config.provenance import git_commit, provenance, write_sidecar

__all__ = ["reproduce_features"]

_RAW_PROBE_MAX_WIDTH = 4096


def reproduce_features(args: argparse.Namespace, cfg: RunConfig) -> int:
    """``coral-lab reproduce --dataset <feature data set>``: the Table 2 protocol; ``cfg`` is the command
    line's config (``coral_lab.cli.config_from_args``)."""
    commit = git_commit()  # the code that runs; the tree may change while a long run goes on
    data = load_dataset(cfg.dataset, cfg.data.path, cfg.data.split_seed)  # stops with DataFileError when missing
    seeds = args.seeds or list(PAPER_SEEDS)
    method = cfg.method
    tag = "" if method == "coral" else f"{method}-"
    out = Path(args.out or f"runs/reproduce-{cfg.dataset}-{tag}{cfg.preset}")
    device = resolve_device(args.device)
    print(data.summary(), flush=True)
    t0 = time.perf_counter()
    rows, summary = run_table2(cfg, data, out, seeds, device=str(device), progress=not args.no_progress,
                               with_finetune=args.finetune)
    width = sum(int(np.prod(m.shape)) for m in data.modalities)
    # the no-learning reference probe on the flattened inputs; skipped where it would be huge (MOSEI: 16,750)
    raw = raw_feature_probe(data, cfg) if width <= _RAW_PROBE_MAX_WIDTH else None
    minutes = (time.perf_counter() - t0) / 60
    scale = scale_of(cfg.preset)
    name = display_name(method)
    text = format_table2(summary, cfg.dataset, f"{data.spec.title}, {name}: linear probe ({scale}; seeds {seeds})",
                         raw=raw, method=name)
    print(text)
    print(f"wall time {minutes:.1f} min on {describe_device(device)}; results in {out}/")
    with runs.RunLock(out):
        atomic_write_text(out / "table2.txt", text + "\n")
        write_sidecar(out / "table2.provenance.json",
                      provenance(preset=cfg.preset, seeds=seeds, device=describe_device(device),
                                 extra={"commit": commit, "dataset": cfg.dataset, "method": method, "data_file": data.path,
                                        "data_sha256": data.sha256, "wall_minutes": round(minutes, 2),
                                        "raw_input_probe": raw, "config": cfg.to_dict()}))
    return 0
