"""CPU speed of the quick preset: the step against the machine's matmul rate, fp32 vs channels_last vs bf16
autocast, the real training loop against the bare step, and one process with N threads against N
one-thread processes side by side.

    python benchmarks/cpu_speed.py --steps 20 --json results/cpu-speed/cpu_speed.json

Measured in one run, on an otherwise idle machine:

- ``matmul``: GFLOP/s of a 2048 x 2048 fp32 matmul with 1 and with all threads (the machine's dense rate);
- ``step``: pairs/s of one training step (augmentation, forward, loss, backward, AdamW) at batch 64 for
  each memory format / precision, and its GFLOP/s from ``torch.utils.flop_counter`` as a fraction of
  the matmul rate;
- ``loop``: pairs/s of ``coral_lab.training.pretrain.pretrain`` itself over the same number of steps (one epoch,
  in memory), against the step of the same layout: the loop's overhead;
- ``layout``: the same step in P processes with T threads each, P x T = the cores, all at once: their
  summed pairs/s (what ``--jobs`` gets for the two pretrainings of a quickstart).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from contextlib import nullcontext

import torch

from coral_lab.inputs.augment import augment_batch
from coral_lab.config import get_preset, parse_value
from coral_lab.data import make_trifeature
from coral_lab.objectives.losses import coral_loss
from coral_lab.objectives.masking import split_modalities
from coral_lab.models import CoralModel
from coral_lab.training.pretrain import build_optimizer

MASK_RATIO = 0.55


def matmul_gflops(threads: int, n: int = 2048, reps: int = 8) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(2):
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def step_fn(cfg, images, channels_last: bool, bf16: bool, seed: int = 0):
    torch.manual_seed(seed)
    model = CoralModel(cfg.model)
    model.check_inputs = False
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = build_optimizer(model, cfg, torch.device("cpu"))
    gen = torch.Generator().manual_seed(seed)
    order = torch.Generator().manual_seed(seed)
    batch = cfg.train.batch_size
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()

    def step():
        idx = torch.randint(0, len(images), (2 * batch,), generator=gen)
        x = augment_batch(images[torch.cat([idx, idx])], cfg.augment, gen)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        v = x.split(batch)
        with autocast:
            e1, e2 = model([v[0], v[1]], [v[2], v[3]], split_modalities(2, order), MASK_RATIO, gen)
        loss, _ = coral_loss(e1.float(), e2.float(), check_finite=False)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def step_rate(cfg, images, threads: int, steps: int, warmup: int, channels_last: bool, bf16: bool) -> dict:
    torch.set_num_threads(threads)
    step = step_fn(cfg, images, channels_last, bf16)
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    sec = (time.perf_counter() - t0) / steps
    flops = counter.get_total_flops()
    return {"pairs_per_s": cfg.train.batch_size / sec, "ms_per_step": 1000 * sec, "gflop_per_step": flops / 1e9,
            "gflop_per_s": flops / sec / 1e9}


def loop_rate(cfg, bench, threads: int, steps: int, channels_last: bool) -> dict:
    """pairs/s of coral_lab.training.pretrain.pretrain over one in-memory epoch of ``steps`` batches."""
    from coral_lab.training.pretrain import pretrain

    cfg = cfg.replace(data={"n_train_pairs": steps * cfg.train.batch_size},
                      train={"epochs": 1, "num_threads": threads, "channels_last": channels_last})
    bench = _resize_pairs(bench, steps * cfg.train.batch_size)
    t0 = time.perf_counter()
    res = pretrain(cfg, None, benchmark=bench, device="cpu", progress=False)
    wall = time.perf_counter() - t0
    row = res.history.iloc[-1]
    return {"pairs_per_s": float(row["pairs_per_s"]), "epoch_seconds": float(row["seconds"]), "call_seconds": wall}


def _resize_pairs(bench, n: int):
    import dataclasses

    from coral_lab.data import PairSet

    def cut(p):
        return PairSet(p.idx1[:n], p.idx2[:n])

    return dataclasses.replace(bench, train_unbiased=cut(bench.train_unbiased), train_biased=cut(bench.train_biased))


def _layout_worker(args):
    cfg_dict, threads, steps, warmup, channels_last, start_at = args
    from coral_lab.config import RunConfig

    cfg = RunConfig.from_dict(cfg_dict)
    data = make_trifeature(image_size=cfg.data.image_size, seed=0, renders_train=1, renders_test=1)
    images = torch.from_numpy(data.train.images)
    torch.set_num_threads(threads)
    step = step_fn(cfg, images, channels_last, False)
    for _ in range(warmup):
        step()
    while time.time() < start_at:  # every process starts timing together
        time.sleep(0.01)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return cfg.train.batch_size * steps / (time.perf_counter() - t0)


def layout_rate(cfg, processes: int, threads: int, steps: int, warmup: int, channels_last: bool) -> dict:
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 20 + 5 * processes  # after every process has rendered and warmed up
    with ctx.Pool(processes) as pool:
        rates = pool.map(_layout_worker, [(cfg.to_dict(), threads, steps, warmup, channels_last, start_at)] * processes)
    return {"pairs_per_s": float(sum(rates)), "per_process": [float(r) for r in rates]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE", help="config changes")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--bf16-steps", type=int, default=2, help="timed bf16 steps (slow where the CPU lacks bf16 units)")
    p.add_argument("--skip", nargs="*", default=[], choices=["bf16", "loop", "layout"])
    p.add_argument("--json", default=None)
    args = p.parse_args()

    changes: dict = {}
    for item in args.set:
        key, value = item.split("=", 1)
        section, field = key.split(".", 1)
        changes.setdefault(section, {})[field] = parse_value(value)
    cfg = get_preset(args.preset).replace(**changes).validate()
    cores = os.cpu_count() or 1
    data = make_trifeature(image_size=cfg.data.image_size, seed=0, renders_train=1, renders_test=1)
    images = torch.from_numpy(data.train.images)
    out: dict = {"preset": cfg.preset, "changes": changes, "cores": cores, "torch": torch.__version__,
                 "cpu_capability": torch.backends.cpu.get_cpu_capability(), "batch_size": cfg.train.batch_size}

    def save():
        print(json.dumps(out, indent=1), flush=True)
        if args.json:
            from coral_lab.core.io import atomic_write_text
            from coral_lab.config.provenance import provenance

            info = provenance(command=" ".join(["python", "benchmarks/cpu_speed.py", *sys.argv[1:]]),
                              preset=cfg.preset, seeds=[0], device=f"cpu: {cores} cores, {out['cpu_capability']}")
            atomic_write_text(args.json, json.dumps({"provenance": info, **out}, indent=2))

    out["matmul_gflops"] = {str(t): matmul_gflops(t) for t in sorted({1, cores})}
    save()
    variants = [("fp32", False, False), ("channels_last", True, False)]
    if "bf16" not in args.skip:
        variants.append(("channels_last+bf16", True, True))
    out["step"] = {}
    for threads in sorted({1, cores}):
        for name, cl, bf16 in variants:
            steps = args.bf16_steps if bf16 else args.steps
            r = step_rate(cfg, images, threads, steps, 1 if bf16 else args.warmup, cl, bf16)
            r["fraction_of_matmul"] = r["gflop_per_s"] / out["matmul_gflops"][str(threads)]
            out["step"][f"{name}, {threads} thread(s)"] = r
            save()
    if "loop" not in args.skip:
        from coral_lab.data import make_benchmark

        bench = make_benchmark(data, n_train_pairs=args.steps * cfg.train.batch_size, n_probe_train_pairs=10,
                               n_probe_test_pairs=10, seed=0)
        out["loop"] = {}
        for threads in sorted({1, cores}):
            for name, cl in (("fp32", False), ("channels_last", True)):
                r = loop_rate(cfg, bench, threads, args.steps, cl)
                r["fraction_of_step"] = r["pairs_per_s"] / out["step"][f"{name}, {threads} thread(s)"]["pairs_per_s"]
                out["loop"][f"{name}, {threads} thread(s)"] = r
                save()
    if "layout" not in args.skip and cores > 1:
        out["layout"] = {f"{cores} processes x 1 thread": layout_rate(cfg, cores, 1, args.steps, args.warmup, True)}
        save()


if __name__ == "__main__":
    main()
