"""Write the probe-map and UMAP result files of a finished pretraining run (for `coral-lab figures`).

    python scripts/analyse_run.py --run runs/quickstart-quick/seed41-unbiased --out results/quickstart-quick

Writes ``probe_map.csv`` and ``umap.csv`` with provenance sidecars (``<stem>.provenance.json``); no
training happens here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from coral_lab.evaluation import analysis
from coral_lab.core.device import describe_device, resolve_device
from coral_lab.drawing.figures import save_result
from coral_lab.config.provenance import provenance
from coral_lab.training.pretrain import load_benchmark, load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="run folder with checkpoint.pt")
    p.add_argument("--out", required=True, help="results folder")
    p.add_argument("--device", default="auto")
    p.add_argument("--umap-pairs", type=int, default=500)
    args = p.parse_args()
    dev = resolve_device(args.device)
    model, cfg, _ = load_model(args.run, device=dev)
    bench = load_benchmark(cfg, progress=False)
    out = Path(args.out)
    info = provenance(preset=cfg.preset, seeds=[cfg.train.seed], device=describe_device(dev),
                      extra={"run": str(args.run), "train_set": cfg.train.train_set})
    t0 = time.perf_counter()
    table = analysis.subspace_probe_map(model, bench, probe_cfg=cfg.probe, augment_cfg=cfg.augment, seed=cfg.train.seed)
    save_result(table.reset_index(), out / "probe_map.csv", info)
    print(table.round(1).to_string())
    print(f"probe map: {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    frame = analysis.embedding_frame(model, bench, n_pairs=args.umap_pairs, seed=cfg.train.seed, augment_cfg=cfg.augment)
    proj = analysis.umap_projection(frame, seed=cfg.train.seed)
    save_result(proj.drop(columns=["embedding"]), out / "umap.csv", info)
    print(f"umap: {len(proj)} points, {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    torch.set_num_threads(max(1, torch.get_num_threads()))
    main()
