"""Tiny synthetic files in exactly the MultiBench layouts, for tests and for the notebook.

They are NOT real data: random features with a planted label signal, so that code paths can be run end to
end when a user has no MultiBench files. Labels follow the real files' conventions (sentiment scores in
[-3, 3] for MOSI / MOSEI, 0/1 for UR-FUNNY / MUsTARD; ICD-9 0/1 columns for MIMIC).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from coral_lab.core.io import atomic_write
from coral_lab.data.features import DATASETS, VISION_DIM

__all__ = ["synthetic_affect", "synthetic_mimic", "write_synthetic"]


def synthetic_affect(dataset: str, n: int = 48, seq_len: int = 50, seed: int = 0, audio_dim: int = 5) -> dict:
    """``{'train'|'valid'|'test': {'vision', 'audio', 'text', 'labels', 'id'}}`` with ``n`` samples per split.

    Text is zero-padded at the front (a random number of leading rows is zero); the label's sign is
    carried by the mean of the text and vision features.
    """
    rng = np.random.default_rng(seed)
    dv = VISION_DIM[dataset]
    out = {}
    for split in ("train", "valid", "test"):
        sign = rng.choice([-1.0, 1.0], size=n)
        text = rng.normal(size=(n, seq_len, 300)) * 0.5 + 0.5 * sign[:, None, None]
        vision = rng.normal(size=(n, seq_len, dv)) * 0.5 + 0.3 * sign[:, None, None]
        pad = rng.integers(0, seq_len // 2, size=n)
        for i, p in enumerate(pad):
            text[i, :p] = 0.0
            vision[i, :p] = 0.0
        if dataset in ("mosi", "mosei"):
            labels = sign * rng.uniform(0.2, 3.0, size=n)
        else:
            labels = (sign > 0).astype(float)
        out[split] = {"vision": vision.astype(np.float32), "audio": rng.normal(size=(n, seq_len, audio_dim)).astype(np.float32),
                      "text": text.astype(np.float32), "labels": labels.reshape(n, 1, 1), "id": np.arange(n)}
    return out


def synthetic_mimic(n: int = 200, seed: int = 0) -> dict:
    """``{'ep_tdata': (n, 24, 12), 'adm_features_all': (n, 5), 'adm_labels_all': (n,), 'y_icd9': (n, 20)}``; some NaNs."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    series = rng.normal(size=(n, 24, 12)) + 0.8 * y[:, None, None]
    static = rng.normal(size=(n, 5)) + 0.5 * y[:, None]
    series[rng.random(series.shape) < 0.01] = np.nan  # real files have missing values; the loader zeroes them
    icd = rng.integers(0, 2, size=(n, 20))
    icd[:, 7] = y
    return {"ep_tdata": series, "adm_features_all": static, "adm_labels_all": rng.integers(0, 2, size=n), "y_icd9": icd}


def write_synthetic(folder: str | Path, dataset: str, **kwargs) -> Path:
    """Write the synthetic file for ``dataset`` under its MultiBench name in ``folder``; returns its path."""
    if dataset not in DATASETS or DATASETS[dataset].filename is None:
        raise ValueError(f"no MultiBench file layout for {dataset!r}; valid: mosi, mosei, humor, sarcasm, mimic")
    obj = synthetic_mimic(**kwargs) if dataset == "mimic" else synthetic_affect(dataset, **kwargs)
    path = Path(folder) / DATASETS[dataset].filename

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            pickle.dump(obj, f)

    return atomic_write(path, write)
