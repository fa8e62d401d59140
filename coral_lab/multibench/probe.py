"""Linear probes on frozen features of a feature-data model (the Table 2 protocol's evaluation).

Features are the inference representations (no augmentation, no masking, before the heads):
Z = (Z^SR, Z_1^U, ..., Z_n^U), eq. 2. The probe is ``coral_lab.evaluation.probe``'s (``fit_probe``, C from
``choose_C``),
but these data sets come with their own validation split, so C is chosen on it (accuracy), the probe is
fitted on the train split only, and the test split is used once.
Table 2 reports accuracy; balanced accuracy is reported beside it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from coral_lab.config import ProbeConfig
from coral_lab.evaluation.probe import choose_C
from coral_lab.data.features import FeatureDataset, FeatureSplit
from coral_lab.inputs.sources import FEATURE_TASK, feature_batches, feature_probe_data, frozen_features, model_device

__all__ = ["extract_embeddings", "probe_splits", "probe_feature_model", "raw_features"]


def extract_embeddings(model: torch.nn.Module, split: FeatureSplit, batch_size: int = 512) -> dict[str, np.ndarray]:
    """``{"shared": (N, D), "unique1": (N, D/2), ...}`` from ``model.embed`` in eval mode, no augmentation
    (``coral_lab.inputs.sources.frozen_features`` of the split's batches)."""
    return frozen_features(model, feature_batches(split, model_device(model), batch_size))


def raw_features(split: FeatureSplit) -> np.ndarray:
    """The inputs flattened and concatenated, ``(N, sum_i prod(shape_i))``: a no-learning reference probe."""
    return np.concatenate([x.reshape(len(x), -1) for x in split.x], axis=1)


def probe_splits(
    x: dict[str, np.ndarray], y: dict[str, np.ndarray], cfg: ProbeConfig | None = None
) -> dict[str, float]:
    """C chosen by validation accuracy, fit on train, scored on test.

    Args:
        x, y: per split ("train", "valid", "test") features ``(N, F)`` and labels ``(N,)``.

    Returns:
        ``{"accuracy", "balanced_accuracy", "val_accuracy", "C"}``, accuracies in %.
    """
    cfg = cfg or ProbeConfig(class_weight=None)
    for k in ("train", "valid", "test"):
        if not np.isfinite(x[k]).all():
            raise ValueError(f"{k} features contain NaN or inf; the model diverged (check the pretraining history)")
    if len(np.unique(y["train"])) < 2:
        raise ValueError("the train labels have a single class; a probe needs at least two")
    # the data set's own validation split chooses C; the probe fitted on train alone is scored
    best, val, clf = choose_C(x["train"], y["train"], x["valid"], y["valid"], cfg, accuracy_score)
    pred = clf.predict(x["test"])
    return {
        "accuracy": 100 * accuracy_score(y["test"], pred),
        "balanced_accuracy": 100 * balanced_accuracy_score(y["test"], pred),
        "val_accuracy": 100 * val,
        "C": float(best),
    }


def probe_feature_model(
    model: torch.nn.Module,
    data: FeatureDataset,
    *,
    subspaces: Iterable[str] | None = ("Z",),
    probe_cfg: ProbeConfig | None = None,
) -> pd.DataFrame:
    """Probe the data set's task from each feature set ("Z", "shared", "unique1", ...); one row per set.

    ``subspaces=None`` probes every part ``model.embed(xs).parts()`` returns, then "Z" (their concatenation).
    """
    probe_data = feature_probe_data(model, data)
    feats, labels = probe_data.features, probe_data.labels[FEATURE_TASK]
    if subspaces is None:
        subspaces = ["Z", *[k for k in feats["train"] if k != "Z"]]
    rows = []
    for name in probe_data.check_feature_names(subspaces):
        r = probe_splits({k: f[name] for k, f in feats.items()}, labels, probe_cfg)
        rows.append({"features": name, **r})
    return pd.DataFrame(rows)
