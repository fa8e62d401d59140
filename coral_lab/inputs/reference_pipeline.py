"""The published code's input pipeline, rebuilt for speed comparisons: per-sample PIL augmentation in
DataLoader worker processes, fp32 batches copied to the device every step.

coral_lab trains with the whole data set on the device and augments a batch at once there
(``coral_lab.inputs.augment``). The published COrAL code instead augments each image on the CPU with PIL in
4 data-loader workers and trains in fp32 (157 pairs/s on an H100, reference-results.md). To measure
what coral_lab's design buys on the same GPU and the same model, ``benchmarks/throughput.py`` times
both; this module is the reference side. It applies the same SimCLR-style operations with the same
parameters (``AugmentConfig``), one image at a time:

random resized crop (scale, ratio) -> horizontal flip (p) -> colour jitter (p: brightness, contrast,
saturation, hue in random order) -> grayscale (p) -> Gaussian blur (p, sigma scaled with the image
size) -> float tensor normalised with the ImageNet mean / std.

It is a speed baseline, not a training path: the statistics of the views match coral_lab's, the
exact pixels do not.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter

from coral_lab.config import AugmentConfig

__all__ = ["augment_pil", "PilPairDataset", "reference_loader"]


def _crop_box(rng: np.random.Generator, w: int, h: int, scale, ratio) -> tuple[int, int, int, int]:
    """A random (left, top, right, bottom) box of area fraction ``scale`` and aspect ``ratio`` (10 tries)."""
    area = w * h
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_r))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            left = int(rng.integers(0, w - cw + 1))
            top = int(rng.integers(0, h - ch + 1))
            return left, top, left + cw, top + ch
    side = min(w, h)  # fallback: the central square
    left, top = (w - side) // 2, (h - side) // 2
    return left, top, left + side, top + side


def _shift_hue(img: Image.Image, shift: float) -> Image.Image:
    """Rotate the hue of an RGB image by ``shift`` turns (in [-0.5, 0.5])."""
    hsv = np.array(img.convert("HSV"))
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(round(shift * 255))) % 256).astype(np.uint8)
    return Image.fromarray(hsv, "HSV").convert("RGB")


def augment_pil(image: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, out_size: int) -> torch.Tensor:
    """One augmented view of one image.

    Args:
        image: (H, W, 3) uint8.
        cfg: the augmentation parameters (the same fields coral_lab's batched augmentation uses).
        rng: the random source of this view.
        out_size: side of the output in pixels.

    Returns:
        (3, out_size, out_size) float32, normalised with ``cfg.mean`` / ``cfg.std``.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    img = Image.fromarray(image, "RGB")
    box = _crop_box(rng, img.width, img.height, cfg.crop_scale, cfg.crop_ratio)
    img = img.resize((out_size, out_size), Image.BILINEAR, box=box)
    if rng.random() < cfg.flip_p:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    if rng.random() < cfg.jitter_p:
        for op in rng.permutation(4):
            if op == 0 and cfg.brightness > 0:
                img = ImageEnhance.Brightness(img).enhance(rng.uniform(1 - cfg.brightness, 1 + cfg.brightness))
            elif op == 1 and cfg.contrast > 0:
                img = ImageEnhance.Contrast(img).enhance(rng.uniform(1 - cfg.contrast, 1 + cfg.contrast))
            elif op == 2 and cfg.saturation > 0:
                img = ImageEnhance.Color(img).enhance(rng.uniform(1 - cfg.saturation, 1 + cfg.saturation))
            elif op == 3 and cfg.hue > 0:
                img = _shift_hue(img, rng.uniform(-cfg.hue, cfg.hue))
    if rng.random() < cfg.grayscale_p:
        img = img.convert("L").convert("RGB")
    if rng.random() < cfg.blur_p:
        sigma = rng.uniform(*cfg.blur_sigma) * out_size / 224
        img = img.filter(ImageFilter.GaussianBlur(radius=sigma))
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(cfg.mean).view(3, 1, 1)
    std = torch.tensor(cfg.std).view(3, 1, 1)
    return (x - mean) / std


class PilPairDataset(torch.utils.data.Dataset):
    """Pretraining pairs as the published code loads them: two augmented views of both images.

    Item ``i`` is ``(x1', x2', x1'', x2'')``, each (3, S, S) float32: view 1 and view 2 of modality 1
    (``images[idx1[i]]``) and modality 2 (``images[idx2[i]]``).
    """

    def __init__(self, images: np.ndarray, idx1: np.ndarray, idx2: np.ndarray, cfg: AugmentConfig,
                 out_size: int, seed: int = 0):
        if images.ndim != 4 or images.shape[3] != 3:
            raise ValueError(f"images must be (N, H, W, 3), got {images.shape}")
        if len(idx1) != len(idx2):
            raise ValueError(f"idx1 and idx2 differ in length: {len(idx1)} vs {len(idx2)}")
        self.images, self.idx1, self.idx2 = images, np.asarray(idx1), np.asarray(idx2)
        self.cfg, self.out_size, self.seed = cfg, int(out_size), int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.idx1)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        rng = np.random.default_rng((self.seed, self.epoch, int(i)))
        a, b = self.images[self.idx1[i]], self.images[self.idx2[i]]
        return tuple(augment_pil(img, self.cfg, rng, self.out_size) for img in (a, b, a, b))


def reference_loader(dataset: PilPairDataset, batch_size: int, num_workers: int = 4,
                     pin_memory: bool = False) -> torch.utils.data.DataLoader:
    """A shuffling DataLoader as in the published code (4 workers, last partial batch dropped)."""
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers, drop_last=True,
        pin_memory=pin_memory, persistent_workers=num_workers > 0,
    )
