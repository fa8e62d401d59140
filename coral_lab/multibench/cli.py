"""``coral-lab reproduce --dataset mosi|mosei|humor|sarcasm|mimic|digits``: the Table 2 protocol on feature data."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from coral_lab.config import CLI_FLAGS, overrides_from_args
from coral_lab.device import describe_device, resolve_device
from coral_lab.io import atomic_write_text
from coral_lab.multibench.config import FeatureRunConfig
from coral_lab.multibench.datasets import DATASETS, load_dataset
from coral_lab.multibench.protocol import format_table2, raw_feature_probe, run_table2
from coral_lab.paper import DISPLAY_NAMES
from coral_lab.presets import run_config
from coral_lab.provenance import git_commit, provenance, write_sidecar

__all__ = ["FEATURE_DATASETS", "feature_config_from_args", "reproduce_features"]

FEATURE_DATASETS = tuple(DATASETS)  # mosi, mosei, humor, sarcasm, mimic, digits
# Trifeature-only flags that have no meaning on feature data
_TRIFEATURE_ONLY = ("cache_dir", "image_size", "train_set")
_RAW_PROBE_MAX_WIDTH = 4096


# the coral-lab flags that mean the same on feature data (config.CLI_FLAGS less the
# Trifeature-only ones), and --method, which sets train.method here
FEATURE_FLAGS = {flag: field for flag, field in CLI_FLAGS.items()
                 if flag not in (*_TRIFEATURE_ONLY, "seed")} | {"method": ("train", "method")}


def feature_config_from_args(args: argparse.Namespace) -> FeatureRunConfig:
    for flag in _TRIFEATURE_ONLY:
        if getattr(args, flag, None) is not None:
            raise SystemExit(f"error: --{flag.replace('_', '-')} applies to Trifeature only, not --dataset {args.dataset}")
    try:
        cfg = run_config(args.preset, args.dataset)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    changes = overrides_from_args(args, FEATURE_FLAGS, nested=True, example="finetune.mask_ratio=0.3")
    if getattr(args, "data_path", None):
        cfg.data_path = args.data_path
    method = changes.get("train", {}).get("method", cfg.train.method)
    if getattr(args, "finetune", False) and method != "coral":
        raise SystemExit(f"error: --finetune (SupCon, paper 5.6.5) is COrAL-only; drop it for --method {method}")
    try:
        return cfg.replace(**changes).validate()
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None


def reproduce_features(args: argparse.Namespace, cfg: FeatureRunConfig | None = None) -> int:
    """``coral-lab reproduce --dataset <feature data set>``: the Table 2 protocol; ``cfg`` is the command
    line's config (``feature_config_from_args(args)`` when not given)."""
    commit = git_commit()  # the code that runs; the tree may change while a long run goes on
    cfg = cfg if cfg is not None else feature_config_from_args(args)
    data = load_dataset(cfg.dataset, cfg.data_path, cfg.split_seed)  # stops with DataFileError when missing
    seeds = args.seeds or [41, 42, 43, 44, 45]
    method = cfg.train.method
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
    scale = "the paper's scale" if cfg.preset == "paper" else f"the reduced '{cfg.preset}' preset, not the paper's scale"
    name = DISPLAY_NAMES[method]
    text = format_table2(summary, cfg.dataset, f"{data.spec.title}, {name}: linear probe ({scale}; seeds {seeds})",
                         raw=raw, method=name)
    print(text)
    print(f"wall time {minutes:.1f} min on {describe_device(device)}; results in {out}/")
    atomic_write_text(out / "table2.txt", text + "\n")
    write_sidecar(out / "table2.provenance.json",
                  provenance(preset=cfg.preset, seeds=seeds, device=describe_device(device),
                             extra={"commit": commit, "dataset": cfg.dataset, "method": method, "data_file": data.path, "wall_minutes": round(minutes, 2),
                                    "raw_input_probe": raw, "config": cfg.to_dict()}))
    return 0
