"""Training throughput: pairs per second of full COrAL steps, coral_lab's path beside the published one's.

    python benchmarks/throughput.py --preset quick --device cpu --steps 30
    python benchmarks/throughput.py --preset paper --device cuda --steps 100 --batch-sizes 64 256 --json out.json
    python benchmarks/throughput.py --preset paper --device cuda --paths fast --compile none default reduce-overhead

Two input paths train the same model with the same optimiser, loss and masking ratio (0.55):

- ``fast`` (coral_lab): the uint8 data set lives on the device, batches are gathered by index and
  augmented there in one batched call with per-sample parameters; bf16 autocast and channels_last on
  CUDA; fused AdamW.
- ``reference`` (the published code's design): per-sample PIL augmentation in DataLoader worker
  processes (``--workers``, 4 as published), fp32, batches copied to the device each step
  (``coral_lab.inputs.reference_pipeline``).

Each path runs ``--warmup`` steps, then ``--steps`` timed steps; the ratio fast / reference is printed
for every batch size, with peak GPU memory on CUDA. The published code measured 157 pairs/s on an H100.

``--compile none default reduce-overhead`` times the fast path once per ``torch.compile`` mode of the
model's parts (``coral_lab.core.device.compile_parts``, as ``--set train.compile=MODE`` in training); warm-up
steps include the compilation, whose time is reported apart. A mode that fails is reported and skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from coral_lab.inputs.augment import augment_batch
from coral_lab.config import get_preset
from coral_lab.data import make_trifeature
from coral_lab.core.device import COMPILE_MODES, compile_parts, describe_device, resolve_device
from coral_lab.objectives.losses import coral_loss
from coral_lab.models import CoralModel
from coral_lab.training.pretrain import build_optimizer

PUBLISHED_PAIRS_PER_S = 157.0  # reference-results.md: published code, batch 64, one H100
MASK_RATIO = 0.55


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _model(cfg, dev: torch.device, fast: bool, compile_mode: str | None = None):
    torch.manual_seed(0)
    model = CoralModel(cfg.model).to(dev)
    if fast and dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    compile_parts(model, compile_mode)
    model.check_inputs = False
    return model, build_optimizer(model, cfg, dev)


def _train_step(model, opt, views, gen, autocast) -> None:
    with autocast:
        e1, e2 = model([views[0], views[1]], [views[2], views[3]], ((0,), (1,)), MASK_RATIO, gen)
    loss, _ = coral_loss(e1.float(), e2.float(), check_finite=False)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


WARMUP_SECONDS: dict[str, float] = {}  # seconds of the last call's warm-up steps (compilation included)


def _time(step, warmup: int, steps: int, dev: torch.device) -> float:
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    _sync(dev)
    WARMUP_SECONDS["last"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(dev)
    return time.perf_counter() - t0


def fast_path(cfg, data, dev: torch.device, batch: int, warmup: int, steps: int,
              compile_mode: str | None = None) -> float:
    """Seconds for ``steps`` steps of coral_lab's device-resident, batched-augmentation path."""
    model, opt = _model(cfg, dev, fast=True, compile_mode=compile_mode)
    images = torch.from_numpy(data.train.images).to(dev)
    gen = torch.Generator(dev).manual_seed(0)
    amp = dev.type == "cuda" and cfg.train.amp
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp) if dev.type == "cuda" else \
        torch.autocast("cpu", enabled=False)

    def step():
        idx = torch.randint(0, len(images), (2 * batch,), device=dev, generator=gen)
        x = augment_batch(images[torch.cat([idx, idx])], cfg.augment, gen)
        if dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        _train_step(model, opt, x.split(batch), gen, autocast)

    return _time(step, warmup, steps, dev)


def reference_path(cfg, data, dev: torch.device, batch: int, warmup: int, steps: int, workers: int) -> float:
    """Seconds for ``steps`` steps of the published design: PIL per sample in workers, fp32, host -> device."""
    from coral_lab.inputs.reference_pipeline import PilPairDataset, reference_loader

    model, opt = _model(cfg, dev, fast=False)
    n = len(data.train.images)
    g = torch.Generator().manual_seed(0)
    idx1 = torch.randint(0, n, (batch * (warmup + steps + 1),), generator=g).numpy()
    idx2 = torch.randint(0, n, (len(idx1),), generator=g).numpy()
    ds = PilPairDataset(data.train.images, idx1, idx2, cfg.augment, cfg.model.image_size)
    loader = iter(reference_loader(ds, batch, num_workers=workers, pin_memory=dev.type == "cuda"))
    gen = torch.Generator(dev).manual_seed(0)
    fp32 = torch.autocast(dev.type, enabled=False)

    def step():
        views = [v.to(dev, non_blocking=True) for v in next(loader)]
        _train_step(model, opt, views, gen, fp32)

    return _time(step, warmup, steps, dev)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="default: the preset's batch size")
    p.add_argument("--paths", nargs="+", choices=["fast", "reference"], default=["fast", "reference"])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--reference-steps", type=int, default=None, help="timed steps of the reference path (default: --steps)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--workers", type=int, default=4, help="DataLoader workers of the reference path (published: 4)")
    p.add_argument("--compile", nargs="+", default=["none"],
                   choices=["none", *COMPILE_MODES],
                   help="torch.compile modes of the fast path to time (none = eager); default: none")
    p.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = p.parse_args()
    cfg = get_preset(args.preset)
    dev = resolve_device(args.device)
    data = make_trifeature(image_size=cfg.data.image_size, seed=0, renders_train=1, renders_test=1)
    sizes = args.batch_sizes or [cfg.train.batch_size]
    print(f"preset {cfg.preset}, {cfg.data.image_size} px, encoder {cfg.model.encoder}, device {describe_device(dev)}, "
          f"torch {torch.__version__}")
    def save(rows_so_far: list[dict]) -> None:
        """Write the JSON after every measurement, so a run stopped at a time limit keeps what it measured."""
        if not args.json:
            return
        from coral_lab.core.io import atomic_write_text
        from coral_lab.config.provenance import provenance

        info = provenance(command=" ".join(["python", "benchmarks/throughput.py", *sys.argv[1:]]),
                          preset=cfg.preset, seeds=[0], device=describe_device(dev))
        atomic_write_text(args.json, json.dumps({"provenance": info, "rows": rows_so_far}, indent=2))

    # eager paths first, compiled modes last: a run stopped at a time limit keeps the fast / reference ratio
    modes = [None if m == "none" else m for m in args.compile]
    runs = [("fast", None)] if "fast" in args.paths and None in modes else []
    runs += [("reference", None)] if "reference" in args.paths else []
    runs += [("fast", m) for m in modes if m is not None] if "fast" in args.paths else []
    rows = []
    for b in sizes:
        row = {"batch_size": b}
        for path, mode in runs:
            name = path if mode is None else f"fast+compile:{mode}"
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            steps = args.steps if path == "fast" else (args.reference_steps or args.steps)
            try:
                if path == "fast":
                    sec = fast_path(cfg, data, dev, b, args.warmup, steps, compile_mode=mode)
                else:
                    sec = reference_path(cfg, data, dev, b, args.warmup, steps, args.workers)
            except Exception as e:  # a compile mode that fails on this torch / device is reported, not fatal
                row[f"{name}_error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                print(f"batch {b:4d} {name}: failed ({row[f'{name}_error']})")
                save(rows + [row])
                continue
            row[f"{name}_pairs_per_s"] = steps * b / sec
            row[f"{name}_ms_per_step"] = 1000 * sec / steps
            row[f"{name}_warmup_s"] = WARMUP_SECONDS["last"]
            if dev.type == "cuda":
                row[f"{name}_peak_gpu_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
            mem = f", peak GPU memory {row[f'{name}_peak_gpu_mib']:.0f} MiB" if dev.type == "cuda" else ""
            print(f"batch {b:4d} {name:9s}: {row[f'{name}_pairs_per_s']:8.0f} pairs/s "
                  f"({row[f'{name}_ms_per_step']:.1f} ms/step, {steps} steps; warm-up {WARMUP_SECONDS['last']:.1f} s){mem}")
            save(rows + [row])
        fastest = max((k for k in row if k.startswith("fast") and k.endswith("_pairs_per_s")),
                      key=row.get, default=None)
        if fastest is not None:
            row["fastest"] = fastest[: -len("_pairs_per_s")]
        if fastest is not None and "reference_pairs_per_s" in row:
            row["speedup"] = row[fastest] / row["reference_pairs_per_s"]
            print(f"batch {b:4d} {row['fastest']} / reference: {row['speedup']:.1f}x")
        if fastest is not None:
            print(f"batch {b:4d} {row['fastest']} / published 157 pairs/s: {row[fastest] / PUBLISHED_PAIRS_PER_S:.1f}x"
                  + ("" if cfg.preset == "paper" else " (another preset: not comparable)"))
        rows.append(row)
    save(rows)


if __name__ == "__main__":
    main()
