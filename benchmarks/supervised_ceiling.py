"""What the preset's encoder can read off one image when it is *told* the labels: a supervised ceiling.

The self-supervised scores R (shape) and U (texture) are linear probes on features an encoder learned
without labels. This script trains the same encoder (``cfg.model``: kind, width, stem stride, image size)
with labels instead, on the same training images, the same augmentation and the same number of encoder
passes as one pathway of a pretraining (steps x 2 views x batch), and scores linear heads on the test images
(combinations never seen in training) with balanced accuracy. If the supervised encoder itself cannot read
texture at 32 px, no self-supervised objective on that encoder will: the study's R / U targets are then out
of reach of the preset's image size and encoder, whatever the loss.

    python benchmarks/supervised_ceiling.py --preset quick --json results/supervised-ceiling/ceiling.json
    python benchmarks/supervised_ceiling.py --preset quick --set data.image_size=64 --label px64 --json ...

Each call appends one row (its label, the settings, the three scores, the seconds) to the JSON file and
rewrites its provenance sidecar, so several settings are measured into one table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from sklearn.metrics import balanced_accuracy_score
from torch import nn

from coral_lab.inputs.augment import augment_batch, to_model_input
from coral_lab.config import get_preset, overrides_from_args
from coral_lab.data import load_or_render
from coral_lab.models import build_encoder
from coral_lab.config.provenance import provenance, write_sidecar

ATTRIBUTES = ("shape", "texture", "color")


class Supervised(nn.Module):
    """The preset's encoder, its (B, C, h, w) map flattened, one linear head per attribute (10 classes)."""

    def __init__(self, cfg) -> None:
        super().__init__()
        self.encoder = build_encoder(cfg.model)
        c, (h, w) = self.encoder.out_channels, self.encoder.feature_shape(cfg.model.image_size)
        self.heads = nn.ModuleDict({a: nn.Linear(c * h * w, 10) for a in ATTRIBUTES})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encoder(x).flatten(1)  # (B, C h w)
        return {a: head(z) for a, head in self.heads.items()}


def run(cfg, steps: int, batch: int, seed: int) -> dict[str, float]:
    d = cfg.data
    data = load_or_render(d.cache_dir, image_size=d.image_size, seed=d.seed, renders_train=d.renders_train,
                          renders_test=d.renders_test, train_fraction=d.train_fraction, progress=False)
    torch.manual_seed(seed)
    model = Supervised(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    gen = torch.Generator().manual_seed(seed)
    images = torch.from_numpy(data.train.images)  # uint8 (N, H, W, 3)
    labels = {a: torch.from_numpy(getattr(data.train, a)) for a in ATTRIBUTES}
    t0 = time.perf_counter()
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(images), (batch,), generator=gen)
        out = model(augment_batch(images[idx], cfg.augment, gen))
        loss = sum(nn.functional.cross_entropy(out[a], labels[a][idx]) for a in ATTRIBUTES)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        out = model(to_model_input(torch.from_numpy(data.test.images), cfg.augment))
    scores = {a: 100 * balanced_accuracy_score(getattr(data.test, a), out[a].argmax(1).numpy()) for a in ATTRIBUTES}
    return {**scores, "train_seconds": round(seconds, 1), "n_test_images": len(data.test)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--set", nargs="*", default=[], metavar="SECTION.FIELD=VALUE", help="config overrides")
    ap.add_argument("--steps", type=int, default=None,
                    help="optimiser steps (default: the preset's pretraining steps, epochs x pairs / batch)")
    ap.add_argument("--seed", type=int, default=41)
    ap.add_argument("--label", default="preset", help="the row's name in the JSON file")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", default=None, help="append the row to this JSON file (and write its sidecar)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = get_preset(args.preset).replace(**overrides_from_args(args, {})).validate()
    steps = args.steps or cfg.train.epochs * (cfg.data.n_train_pairs // cfg.train.batch_size)
    batch = 2 * cfg.train.batch_size  # one pathway's encoder sees two views of every pair per step
    row = {"label": args.label, "preset": args.preset, "set": args.set, "steps": steps, "batch": batch,
           "image_size": cfg.data.image_size, **run(cfg, steps, batch, args.seed)}
    print(json.dumps(row))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = json.loads(path.read_text()) if path.exists() else []
        rows = [r for r in rows if r["label"] != args.label] + [row]
        path.write_text(json.dumps(rows, indent=1) + "\n")
        write_sidecar(path.with_suffix(".provenance.json"),
                      provenance(preset=args.preset, seeds=[args.seed], device=f"cpu, {torch.get_num_threads()} threads",
                                 extra={"rows": [r["label"] for r in rows]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
