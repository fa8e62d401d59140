"""A/B of the channels_last memory format on the CPU: the quick step, alternated, repeated.

    python benchmarks/ab_channels_last.py --repeats 6 --steps 10 [--set model.encoder_stem_stride=2]

Alternates fp32 (contiguous) and channels_last blocks of ``--steps`` timed steps, one torch thread,
``--repeats`` times each, so that a slow period of a shared machine hits both; prints the median
pairs/s of each and their ratio, and writes them to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from coral_lab.config import get_preset, parse_value
from coral_lab.data import make_trifeature
from coral_lab.core.io import atomic_write_text
from coral_lab.config.provenance import provenance

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling cpu_speed.py
from cpu_speed import step_fn  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=6)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[])
    p.add_argument("--json", default=None)
    args = p.parse_args()

    changes: dict = {}
    for item in args.set:
        key, value = item.split("=", 1)
        section, field = key.split(".", 1)
        changes.setdefault(section, {})[field] = parse_value(value)
    cfg = get_preset("quick").replace(**changes).validate()
    torch.set_num_threads(args.threads)
    data = make_trifeature(image_size=cfg.data.image_size, seed=0, renders_train=1, renders_test=1)
    images = torch.from_numpy(data.train.images)
    steps = {cl: step_fn(cfg, images, cl, False) for cl in (False, True)}
    for step in steps.values():
        for _ in range(2):
            step()
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.repeats):
        for cl, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[cl].append(cfg.train.batch_size * args.steps / (time.perf_counter() - t0))
    out = {"changes": changes, "threads": args.threads, "fp32": rates[False], "channels_last": rates[True],
           "median_fp32": statistics.median(rates[False]), "median_channels_last": statistics.median(rates[True])}
    out["ratio"] = out["median_channels_last"] / out["median_fp32"]
    print(json.dumps(out, indent=1))
    if args.json:

        info = provenance(command=" ".join(["python", "benchmarks/ab_channels_last.py", *sys.argv[1:]]),
                          preset="quick", seeds=[0], device=f"cpu, {args.threads} torch thread(s)")
        atomic_write_text(args.json, json.dumps({"provenance": info, **out}, indent=2))


if __name__ == "__main__":
    main()
