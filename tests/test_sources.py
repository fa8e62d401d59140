"""coral_lab.inputs.sources: the data sources' pretraining views, frozen features and probe data, for
Trifeature images and for feature data."""

import numpy as np
import pytest
import torch

from coral_lab.data import TASKS, pair_labels
from coral_lab.methods import build_model
from coral_lab.data.features import load_dataset
from coral_lab.config import FeatureAugmentConfig, get_preset
from coral_lab.multibench.probe import probe_feature_model
from coral_lab.inputs.sources import (
    FEATURE_TASK,
    FeatureSource,
    ProbeData,
    TrifeatureSource,
    feature_batches,
    feature_probe_data,
    feature_sets,
    frozen_features,
    trifeature_batches,
    trifeature_probe_data,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def coral_model(ci_config):
    torch.manual_seed(0)
    return build_model(ci_config)


def test_trifeature_source_gives_two_views_of_both_modalities(ci_config, ci_benchmark):
    pairs = ci_benchmark.train_unbiased
    images = torch.from_numpy(ci_benchmark.data.train.images)
    src = TrifeatureSource(images, torch.from_numpy(pairs.idx1), torch.from_numpy(pairs.idx2), ci_config.augment,
                           local_batch=4, rank=0, channels_last=False)
    assert src.n_samples == len(pairs)
    batch = torch.arange(4)
    v1, v2 = src.views(batch, True, torch.Generator().manual_seed(0))
    s = ci_config.model.image_size
    assert [tuple(x.shape) for x in v1 + v2] == [(4, 3, s, s)] * 4
    assert not torch.equal(v1[0], v2[0])  # two augmentations of the same images differ
    u1, u2 = src.views(batch, False, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip(u1, u2))  # un-augmented: the pair itself is both views
    assert not torch.equal(u1[0], u1[1])  # and its two modalities are two images


def test_trifeature_source_gives_each_rank_its_share_of_the_batch(ci_config, ci_benchmark):
    pairs = ci_benchmark.train_unbiased
    images = torch.from_numpy(ci_benchmark.data.train.images)
    args = (images, torch.from_numpy(pairs.idx1), torch.from_numpy(pairs.idx2), ci_config.augment)
    whole = TrifeatureSource(*args, local_batch=4, rank=0, channels_last=False).views(torch.arange(4), False, None)[0]
    half = TrifeatureSource(*args, local_batch=2, rank=1, channels_last=False).views(torch.arange(4), False, None)[0]
    assert torch.equal(half[0], whole[0][2:]) and torch.equal(half[1], whole[1][2:])


def test_feature_source_gives_two_augmented_views_of_the_rows(digits):
    xs = [torch.from_numpy(x) for x in digits.train.x]
    src = FeatureSource(xs, digits.modalities, FeatureAugmentConfig())
    assert src.n_samples == len(digits.train)
    batch = torch.tensor([3, 1, 4])
    v1, v2 = src.views(batch, True, torch.Generator().manual_seed(0))
    assert [tuple(x.shape) for x in v1] == [(3, *m.shape) for m in digits.modalities]
    assert any(not torch.equal(a, b) for a, b in zip(v1, v2))
    u1, u2 = src.views(batch, False, None)
    assert all(torch.equal(a, x[batch]) for a, x in zip(u1, xs)) and u1 is u2


def test_frozen_features_are_the_embed_parts_in_order_and_restore_the_mode(coral_model, ci_benchmark):
    split, pairs = ci_benchmark.data.test, ci_benchmark.probe_test
    batches = list(trifeature_batches(split, pairs, torch.device("cpu"), batch_size=7))
    assert sum(len(b[0]) for b in batches) == len(pairs)
    coral_model.train()
    feats = frozen_features(coral_model, batches)
    assert coral_model.training
    coral_model.eval()
    with torch.no_grad():  # independently: one embed of the first batch
        first = coral_model.embed(batches[0]).parts()
    assert list(feats) == list(first) == ["shared", "unique1", "unique2"]
    for k in feats:
        assert feats[k].dtype == np.float32 and len(feats[k]) == len(pairs)
        np.testing.assert_allclose(feats[k][:7], first[k].numpy(), rtol=1e-5, atol=1e-6)


def test_feature_sets_add_the_concatenation_z():
    f = {"a": np.ones((3, 2), np.float32), "b": np.zeros((3, 1), np.float32)}
    sets = feature_sets(f)
    assert list(sets) == ["a", "b", "Z"]
    np.testing.assert_array_equal(sets["Z"], [[1, 1, 0]] * 3)


def test_trifeature_probe_data_has_every_task_on_probe_train_and_probe_test(coral_model, ci_config, ci_benchmark):
    data = trifeature_probe_data(coral_model, ci_benchmark, augment_cfg=ci_config.augment)
    assert isinstance(data, ProbeData)
    assert list(data.features) == ["train", "test"] and list(data.labels) == list(TASKS)
    assert data.feature_names == ["shared", "unique1", "unique2", "Z"]
    assert len(data.features["train"]["Z"]) == len(ci_benchmark.probe_train)
    assert len(data.features["test"]["Z"]) == len(ci_benchmark.probe_test)
    y = pair_labels(ci_benchmark.data.test, ci_benchmark.probe_test, ci_benchmark.mapping)
    for task in TASKS:
        np.testing.assert_array_equal(data.labels[task]["test"], y[task])
    with pytest.raises(ValueError, match=r"unknown feature set\(s\) \['fused'\]; valid:"):
        data.check_feature_names(["Z", "fused"])


def test_feature_probe_data_has_the_data_sets_three_splits_and_its_label(digits):
    cfg = get_preset("ci", "digits")
    torch.manual_seed(0)
    model = build_model(cfg, digits.modalities)
    data = feature_probe_data(model, digits)
    assert list(data.features) == ["train", "valid", "test"] and list(data.labels) == [FEATURE_TASK]
    for name, split in digits.splits().items():
        np.testing.assert_array_equal(data.labels[FEATURE_TASK][name], split.y)
        assert len(data.features[name]["Z"]) == len(split)
    batches = list(feature_batches(digits.test, torch.device("cpu"), batch_size=100))
    np.testing.assert_allclose(feature_sets(frozen_features(model, batches))["Z"], data.features["test"]["Z"],
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"unknown feature set\(s\) \['fused'\]; valid: \['Z', 'shared'"):
        probe_feature_model(model, digits, subspaces=("Z", "fused"))  # stops before any fit
