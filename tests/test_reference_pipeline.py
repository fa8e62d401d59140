"""The published-style PIL input pipeline used as the speed baseline of benchmarks/throughput.py."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from coral_lab.config import AugmentConfig
from coral_lab.inputs.reference_pipeline import PilPairDataset, augment_pil, reference_loader

IDENTITY = AugmentConfig(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter_p=0.0, grayscale_p=0.0,
                         blur_p=0.0, flip_p=0.0)


def _images(n=4, size=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_identity_settings_only_normalise():
    img = _images(1)[0]
    out = augment_pil(img, IDENTITY, np.random.default_rng(0), out_size=16)
    mean = np.array(IDENTITY.mean, dtype=np.float32)[:, None, None]
    std = np.array(IDENTITY.std, dtype=np.float32)[:, None, None]
    expected = (img.transpose(2, 0, 1).astype(np.float32) / 255 - mean) / std
    assert out.shape == (3, 16, 16) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_flip_and_grayscale_when_certain():
    img = _images(1)[0]
    rng = np.random.default_rng(0)
    flipped = augment_pil(img, replace(IDENTITY, flip_p=1.0), rng, out_size=16)
    plain = augment_pil(img, IDENTITY, rng, out_size=16)
    torch.testing.assert_close(flipped, plain.flip(-1))
    gray = augment_pil(img, replace(IDENTITY, grayscale_p=1.0), rng, out_size=16)
    std = torch.tensor(IDENTITY.std).view(3, 1, 1)
    mean = torch.tensor(IDENTITY.mean).view(3, 1, 1)
    raw = gray * std + mean  # back to [0, 1]: the three channels are one gray image
    torch.testing.assert_close(raw[0], raw[1], atol=1e-5, rtol=0)
    torch.testing.assert_close(raw[1], raw[2], atol=1e-5, rtol=0)


def test_full_pipeline_output_and_determinism():
    img = _images(1, size=32)[0]
    cfg = AugmentConfig()
    a = augment_pil(img, cfg, np.random.default_rng(7), out_size=24)
    b = augment_pil(img, cfg, np.random.default_rng(7), out_size=24)
    c = augment_pil(img, cfg, np.random.default_rng(8), out_size=24)
    assert a.shape == (3, 24, 24) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)


def test_bad_image_is_rejected():
    with pytest.raises(ValueError, match="uint8"):
        augment_pil(np.zeros((8, 8, 3), np.float32), IDENTITY, np.random.default_rng(0), 8)
    with pytest.raises(ValueError, match="idx1 and idx2"):
        PilPairDataset(_images(), np.arange(3), np.arange(2), IDENTITY, 8)


def test_dataset_items_and_loader_batches():
    images = _images(6)
    ds = PilPairDataset(images, np.arange(6), np.arange(6)[::-1].copy(), IDENTITY, out_size=16)
    x1, x2, y1, y2 = ds[0]
    torch.testing.assert_close(x1, y1)  # identity settings: both views of a modality agree
    torch.testing.assert_close(x2, augment_pil(images[5], IDENTITY, np.random.default_rng(0), 16))
    batches = list(reference_loader(ds, batch_size=4, num_workers=0))
    assert len(batches) == 1 and all(v.shape == (4, 3, 16, 16) for v in batches[0])
