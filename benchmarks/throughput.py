"""Training throughput of a preset: pairs per second of full COrAL steps (augmentation included).

    python benchmarks/throughput.py --preset quick --device cpu --steps 30
    python benchmarks/throughput.py --preset paper --device cuda --steps 100

Times ``--steps`` optimiser steps after ``--warmup`` steps, each on a fresh batch drawn from the
device-resident data set, with the preset's augmentation and masking at ratio 0.55.
"""

from __future__ import annotations

import argparse
import time

import torch

from coral_lab.augment import augment_batch
from coral_lab.config import get_preset
from coral_lab.data import make_trifeature
from coral_lab.device import describe_device, resolve_device
from coral_lab.losses import coral_loss
from coral_lab.models import CoralModel
from coral_lab.train import build_optimizer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args()
    cfg = get_preset(args.preset)
    if args.batch_size:
        cfg = cfg.replace(train={"batch_size": args.batch_size})
    dev = resolve_device(args.device)
    b = cfg.train.batch_size
    data = make_trifeature(image_size=cfg.data.image_size, seed=0, renders_train=1, renders_test=1)
    images = torch.from_numpy(data.train.images).to(dev)
    torch.manual_seed(0)
    model = CoralModel(cfg.model).to(dev)
    model.check_inputs = False
    opt = build_optimizer(model, cfg, dev)
    gen = torch.Generator(dev).manual_seed(0)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)

    def step():
        idx = torch.randint(0, len(images), (2 * b,), device=dev, generator=gen)
        x = augment_batch(images[torch.cat([idx, idx])], cfg.augment, gen)
        v = x.split(b)
        with amp:
            e1, e2 = model([v[0], v[1]], [v[2], v[3]], ((0,), (1,)), 0.55, gen)
        loss, _ = coral_loss(e1, e2, check_finite=False)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    print(f"preset {cfg.preset}, batch {b}, {cfg.data.image_size} px, encoder {cfg.model.encoder}, "
          f"device {describe_device(dev)}")
    print(f"{args.steps} steps in {sec:.2f} s: {args.steps * b / sec:.0f} pairs/s "
          f"({1000 * sec / args.steps:.1f} ms/step); published code: 157 pairs/s on an H100 at 224 px")


if __name__ == "__main__":
    main()
