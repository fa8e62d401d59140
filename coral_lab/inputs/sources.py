"""Data sources: the one place where Trifeature images and feature data differ.

Everything else (the methods, the loop ``coral_lab.training.loop.fit``, the probe ``coral_lab.evaluation.probe``) sees
lists of n modality tensors and NumPy feature arrays. A data source produces three things:

- **pretraining views**, a ``coral_lab.training.loop.PretrainSource``: ``TrifeatureSource`` (pairs of uint8
  images on the training device, augmented there by ``coral_lab.inputs.augment``) and ``FeatureSource``
  (feature tensors, augmented by ``coral_lab.inputs.feature_augment``);
- **frozen features** for the probe, from ``model.embed`` in eval mode, without augmentation or
  masking (paper: "during inference, neither data augmentation nor masking is applied"):
  ``frozen_features`` over the source's batches (``trifeature_batches`` / ``feature_batches``);
- **probe data**, a ``ProbeData``: per split the feature sets (each subspace and their concatenation
  Z, eq. 2) and per task the labels: ``trifeature_probe_data`` (probe-train / probe-test pairs, the
  four tasks of ``coral_lab.data.TASKS``) and ``feature_probe_data`` (the data set's train / valid /
  test splits, its one label).

How each protocol scores the probe data (C chosen on a split of probe-train and balanced accuracy on
Trifeature; C chosen on the data set's own validation split and accuracy on feature data) is
``coral_lab.evaluation.probe``'s; which tasks form which table is the protocols'.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from coral_lab.inputs.augment import augment_batch, normalize, random_resized_crop, to_model_input
from coral_lab.config import AugmentConfig
from coral_lab.data import TASKS, PairSet, TrifeatureBenchmark, TrifeatureSplit, pair_labels
from coral_lab.inputs.feature_augment import augment_modalities
from coral_lab.data.features import FeatureDataset, FeatureSplit

__all__ = [
    "TrifeatureSource",
    "FeatureSource",
    "ProbeData",
    "frozen_features",
    "model_device",
    "feature_sets",
    "trifeature_batches",
    "CropDraw",
    "feature_batches",
    "trifeature_probe_data",
    "feature_probe_data",
    "FEATURE_TASK",
]

# the task name of a feature data set's one label (its classes: FeatureDataset.n_classes)
FEATURE_TASK = "label"


# ------------------------------------------------------------------------------ pretraining views


class TrifeatureSource:
    """Trifeature pairs as ``coral_lab.training.loop.PretrainSource``: uint8 images on the training device.

    ``views(batch)``: this rank's share of the global batch of pair indices; both modalities and both
    views in one augmentation call, ``(4B, H, W, 3)`` -> ``(4B, 3, S, S)`` split into
    ``[x_1', x_2'], [x_1'', x_2'']``; un-augmented (CLIP), the pair itself is both views.
    """

    def __init__(self, images, idx1, idx2, augment_cfg, local_batch: int, rank: int, channels_last: bool) -> None:
        self.images, self.idx1, self.idx2 = images, idx1, idx2
        self.augment_cfg = augment_cfg
        self.local_batch, self.rank, self.channels_last = local_batch, rank, channels_last
        self.n_samples = len(idx1)

    def views(self, batch, augment: bool, generator):
        batch = batch[self.rank * self.local_batch : (self.rank + 1) * self.local_batch]
        i1, i2 = self.idx1[batch], self.idx2[batch]
        if augment:
            x = augment_batch(self.images[torch.cat([i1, i2, i1, i2])], self.augment_cfg, generator)
        else:  # the un-augmented pair, (2B, 3, S, S); both "views" are the same images
            x = to_model_input(self.images[torch.cat([i1, i2])], self.augment_cfg)
            x = torch.cat([x, x])
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        v = x.split(self.local_batch)
        return [v[0], v[1]], [v[2], v[3]]


class FeatureSource:
    """Feature tensors as ``coral_lab.training.loop.PretrainSource``: the train split's n modalities on the device.

    ``views(batch)``: the rows ``batch`` of every modality, augmented twice
    (``coral_lab.inputs.feature_augment``: view 1 then view 2, from one generator); un-augmented (CLIP),
    the rows themselves are both views.
    """

    def __init__(self, xs: list[torch.Tensor], modalities, augment_cfg) -> None:
        self.xs, self.modalities, self.augment_cfg = xs, tuple(modalities), augment_cfg
        self.n_samples = len(xs[0])

    def views(self, batch, augment: bool, generator):
        rows = [x[batch] for x in self.xs]
        if not augment:
            return rows, rows
        v1 = augment_modalities(rows, self.modalities, self.augment_cfg, generator)
        v2 = augment_modalities(rows, self.modalities, self.augment_cfg, generator)
        return v1, v2


# ------------------------------------------------------------------------------ frozen features


@torch.no_grad()
def frozen_features(model: torch.nn.Module, batches: Iterable[list[torch.Tensor]]) -> dict[str, np.ndarray]:
    """``model.embed`` of every batch in eval mode, per subspace, concatenated over the batches.

    Args:
        batches: each a list of n modality tensors on the model's device (un-augmented, unmasked).

    Returns:
        ``{subspace: (N, F)}`` float32 NumPy arrays, e.g. COrAL's ``{"shared": (N, D), "unique1":
        (N, D/2), ...}``; the model's training mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    out: dict[str, list[np.ndarray]] = {}
    try:
        for xs in batches:
            for name, z in model.embed(xs).parts().items():
                out.setdefault(name, []).append(z.float().cpu().numpy())
    finally:
        model.train(was_training)
    return {k: np.concatenate(v) for k, v in out.items()}


def feature_sets(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The probe inputs: each subspace alone and their concatenation ``"Z"`` (eq. 2)."""
    sets = dict(features)
    sets["Z"] = np.concatenate([features[k] for k in features], axis=1)
    return sets


def trifeature_batches(split: TrifeatureSplit, pairs: PairSet, device: torch.device,
                       augment_cfg: AugmentConfig | None = None, batch_size: int = 256, *,
                       crops: CropDraw | None = None) -> Iterator[list[torch.Tensor]]:
    """The pairs' two images, ``[x_1, x_2]`` each ``(B, 3, S, S)`` on ``device``, normalised as the
    model's input (``augment.to_model_input``), in pair order.

    ``crops``: None (the inference path: no augmentation) or a ``CropDraw``, which passes every image
    through its own random resized crop first (the published probe's images,
    ``coral_lab.evaluation.published_probe``); the draws follow the pair order, image 1 then image 2 per batch.
    """
    images = torch.from_numpy(split.images)
    for start in range(0, len(pairs), batch_size):
        sl = slice(start, start + batch_size)
        batch = [images[torch.from_numpy(idx[sl])].to(device) for idx in (pairs.idx1, pairs.idx2)]
        yield [to_model_input(x, augment_cfg) if crops is None else crops.apply(x, augment_cfg) for x in batch]


@dataclass
class CropDraw:
    """Random resized crops at the images' own size (area ``scale``, aspect 3/4 - 4/3, no flip, no colour
    change) from one ``generator``: the published probe's image transform (``RandomResizedCrop`` +
    normalisation). ``apply`` takes uint8 ``(B, S, S, 3)`` and returns the normalised ``(B, 3, S, S)``."""

    generator: torch.Generator
    scale: tuple[float, float] = (0.5, 1.0)

    def apply(self, images: torch.Tensor, augment_cfg: AugmentConfig | None = None) -> torch.Tensor:
        cfg = augment_cfg if augment_cfg is not None else AugmentConfig()
        x = to_model_input(images, AugmentConfig(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)))  # (B, 3, S, S) in [0, 1]
        x = random_resized_crop(x, x.shape[-1], self.scale, (3 / 4, 4 / 3), 0.0, self.generator)
        return normalize(x, cfg.mean, cfg.std).contiguous()


def feature_batches(split: FeatureSplit, device: torch.device, batch_size: int = 512) -> Iterator[list[torch.Tensor]]:
    """The split's rows, n modality tensors ``(B, *shape_i)`` on ``device``, in row order."""
    for start in range(0, len(split), batch_size):
        yield [torch.from_numpy(x[start : start + batch_size]).to(device) for x in split.x]


# ------------------------------------------------------------------------------ probe data


@dataclass
class ProbeData:
    """What a probe reads, whatever the data.

    Attributes:
        features: split -> feature set ("Z", "shared", "unique1", ...) -> ``(N_split, F)`` float32.
            Trifeature: "train" (probe-train pairs) and "test" (probe-test pairs); feature data:
            "train", "valid" and "test".
        labels: task -> split -> ``(N_split,)`` int64.
    """

    features: dict[str, dict[str, np.ndarray]]
    labels: dict[str, dict[str, np.ndarray]]

    @property
    def feature_names(self) -> list[str]:
        return list(self.features["train"])

    def check_feature_names(self, names: Iterable[str]) -> list[str]:
        """``names`` as a list; an unknown feature set stops with the valid ones."""
        names = list(names)
        unknown = set(names) - set(self.features["train"])
        if unknown:
            raise ValueError(f"unknown feature set(s) {sorted(unknown)}; valid: {sorted(self.features['train'])}")
        return names


def model_device(model: torch.nn.Module, device: str | torch.device | None = None) -> torch.device:
    """``device`` as a ``torch.device``, or where ``model``'s parameters are when it is None."""
    return torch.device(device) if device is not None else next(model.parameters()).device


def trifeature_probe_data(model: torch.nn.Module, bench: TrifeatureBenchmark, *,
                          augment_cfg: AugmentConfig | None = None,
                          device: str | torch.device | None = None) -> ProbeData:
    """Frozen features of the probe-train ("train") and probe-test ("test") pairs, and the labels of
    every task of ``coral_lab.data.TASKS`` (share, unique1, unique2, synergy; ``data.pair_labels``)."""
    dev = model_device(model, device)
    features = {
        "train": feature_sets(frozen_features(model, trifeature_batches(bench.data.train, bench.probe_train, dev, augment_cfg))),
        "test": feature_sets(frozen_features(model, trifeature_batches(bench.data.test, bench.probe_test, dev, augment_cfg))),
    }
    y_tr = pair_labels(bench.data.train, bench.probe_train, bench.mapping)
    y_te = pair_labels(bench.data.test, bench.probe_test, bench.mapping)
    return ProbeData(features, {task: {"train": y_tr[task], "test": y_te[task]} for task in TASKS})


def feature_probe_data(model: torch.nn.Module, data: FeatureDataset, *,
                       device: str | torch.device | None = None) -> ProbeData:
    """Frozen features of the data set's train / valid / test splits and its one label (``FEATURE_TASK``)."""
    dev = model_device(model, device)
    splits = data.splits()
    features = {k: feature_sets(frozen_features(model, feature_batches(s, dev))) for k, s in splits.items()}
    return ProbeData(features, {FEATURE_TASK: {k: s.y for k, s in splits.items()}})
