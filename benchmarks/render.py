"""Time the vectorised Trifeature renderer on the full data set (2,400 train + 200 test images).

    python -m benchmarks.render --size 224 --repeats 1      (from the repository root)
    python -m benchmarks.render --size 64 --repeats 3 --cache-dir /tmp

With ``--cache-dir`` it also times writing the cache and loading it back with full verification
(sha256 of every file). The published per-pixel generator takes about 390 s for the 224 px set.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from coral_lab.data import cache_path, load_or_render, make_trifeature


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=224, help="image side in pixels (default 224)")
    parser.add_argument("--repeats", type=int, default=1, help="timed renders of the full set (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="also time a cache write + verified load here")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        data = make_trifeature(image_size=args.size, seed=args.seed)
        times.append(time.perf_counter() - t0)
    n = len(data.train) + len(data.test)
    best, mean = min(times), statistics.mean(times)
    print(f"Trifeature {args.size}px: {n} images, torch threads {torch.get_num_threads()}")
    print(f"render wall time: best {best:.2f} s, mean {mean:.2f} s over {args.repeats} run(s)")
    print(f"throughput: {n / best:.0f} images/s (best), {n / mean:.0f} images/s (mean)")

    if args.cache_dir is not None:
        root = Path(tempfile.mkdtemp(prefix="render-bench-", dir=args.cache_dir if args.cache_dir.exists() else None))
        try:
            t0 = time.perf_counter()
            load_or_render(root, image_size=args.size, seed=args.seed, progress=False)
            t_write = time.perf_counter() - t0
            t0 = time.perf_counter()
            load_or_render(root, image_size=args.size, seed=args.seed, progress=False)
            t_load = time.perf_counter() - t0
            folder = cache_path(root, image_size=args.size, seed=args.seed)
            mb = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
            print(f"cache: render + atomic write {t_write:.2f} s; "
                  f"verified load (sha256) {t_load:.2f} s for {mb:.0f} MB")
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
