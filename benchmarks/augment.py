"""Time ``coral_lab.inputs.augment.augment_batch`` against the equivalent kornia pipeline.

Both get the same uint8 ``(B, H, W, 3)`` batch (how the data set is stored) and return normalised
float ``(B, 3, S, S)`` views; kornia's time includes the uint8 -> float conversion it needs. One
training pair needs 4 augmented images (2 views x 2 modalities), so pairs/s = images/s / 4.

    python benchmarks/augment.py                      # CPU, batch 64 at 32, 64, 224 px
    python benchmarks/augment.py --device cuda        # on a GPU
    python benchmarks/augment.py --sizes 32 --repeats 50 --json results/bench_augment.json

Times are the median over ``--repeats`` calls after ``--warmup`` calls (the median resists other
processes on a shared machine; the spread is printed as the interquartile range).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from coral_lab.inputs.augment import REFERENCE_SIZE, augment_batch  # noqa: E402
from coral_lab.config import AugmentConfig  # noqa: E402

IMAGES_PER_PAIR = 4  # 2 views x 2 modalities


def kornia_pipeline(cfg: AugmentConfig, size: int, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """kornia 0.9's equivalent of the paper's per-view pipeline, uint8 (B, H, W, 3) in, (B, 3, S, S) out."""
    import kornia.augmentation as K

    lo, hi = (s * size / REFERENCE_SIZE for s in cfg.blur_sigma)
    kernel = 2 * max(1, math.ceil(3 * hi)) + 1  # the same kernel size augment.gaussian_blur uses
    pipe = torch.nn.Sequential(
        K.RandomResizedCrop((size, size), scale=cfg.crop_scale, ratio=cfg.crop_ratio),
        K.ColorJitter(cfg.brightness, cfg.contrast, cfg.saturation, cfg.hue, p=cfg.jitter_p),
        K.RandomGrayscale(p=cfg.grayscale_p),
        K.RandomGaussianBlur(kernel, (lo, hi), p=cfg.blur_p),
        K.RandomHorizontalFlip(p=cfg.flip_p),
        K.Normalize(mean=torch.tensor(cfg.mean), std=torch.tensor(cfg.std)),
    ).to(device)

    def run(images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        return pipe(x)

    return run


def time_calls(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> list[float]:
    """Wall-clock seconds of each of ``repeats`` calls (after ``warmup``), synchronising on CUDA."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def summarise(times: list[float], batch: int) -> dict[str, float]:
    q1, med, q3 = statistics.quantiles(times, n=4) if len(times) >= 2 else (times[0],) * 3
    return {
        "ms_per_call": 1e3 * med,
        "ms_iqr": 1e3 * (q3 - q1),
        "images_per_s": batch / med,
        "pairs_per_s": batch / med / IMAGES_PER_PAIR,
    }


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 224])
    ap.add_argument("--repeats", type=int, default=None,
                    help="timed calls per size (default: 20; 5 at >= 128 px on the CPU)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--no-kornia", action="store_true", help="time only coral_lab")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda given but torch.cuda.is_available() is False")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = AugmentConfig()
    env = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    try:
        import kornia

        env["kornia"] = kornia.__version__
    except ImportError:
        kornia = None
    print(json.dumps(env))
    print(f"{'size':>5} {'pipeline':>10} {'ms/call':>9} {'iqr ms':>8} {'images/s':>9} {'pairs/s':>9}")

    rows = []
    for size in args.sizes:
        repeats = args.repeats or (5 if size >= 128 and device.type == "cpu" else 20)
        data_gen = torch.Generator().manual_seed(size)
        images = torch.randint(0, 256, (args.batch, size, size, 3), dtype=torch.uint8, generator=data_gen).to(device)
        gen = torch.Generator(device=device).manual_seed(0)
        pipelines = {"coral_lab": lambda: augment_batch(images, cfg, gen)}
        if kornia is not None and not args.no_kornia:
            torch.manual_seed(0)
            run_kornia = kornia_pipeline(cfg, size, device)
            pipelines["kornia"] = lambda: run_kornia(images)
        for name, fn in pipelines.items():
            out = fn()
            assert out.shape == (args.batch, 3, size, size), out.shape
            times = time_calls(fn, device, args.warmup, repeats)
            row = {"size": size, "pipeline": name, **summarise(times, args.batch)}
            rows.append(row)
            print(f"{size:>5} {name:>10} {row['ms_per_call']:>9.2f} {row['ms_iqr']:>8.2f} "
                  f"{row['images_per_s']:>9.0f} {row['pairs_per_s']:>9.0f}")
    result = {"env": env, "rows": rows}
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
