"""The teaching variant of the data set: fewer textures (and their pi-partner colors), beside the benchmark."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coral_lab.config import NEUTRAL_DEFAULTS, get_preset, runs
from coral_lab.data import attribute_subset, pair_labels, split_combinations, synergy_mapping
from coral_lab.data.cache import cache_path, load_or_render, make_trifeature
from coral_lab.training.pretrain import load_benchmark


def _all_combinations_in_the_old_order(seed: int) -> tuple[np.ndarray, np.ndarray]:
    # the benchmark's split as it was written before subsets existed: 1,000 digit-ordered rows, one permutation
    k = np.arange(1000)
    combos = np.stack([k // 100, (k // 10) % 10, k % 10], axis=1)[np.random.default_rng(seed).permutation(1000)]
    return combos[:800], combos[800:]


def test_the_benchmark_split_is_unchanged_by_the_subset_option():
    got = split_combinations(np.random.default_rng(3), 0.8, None, None)
    want = _all_combinations_in_the_old_order(3)
    assert all(np.array_equal(g, w) for g, w in zip(got, want))


def test_a_subset_splits_only_its_own_combinations():
    train, test = split_combinations(np.random.default_rng(0), 0.8, (0, 1, 2, 3), (1, 4, 7, 9))
    assert len(train) == 128 and len(test) == 32  # 10 shapes x 4 x 4 = 160, 80 / 20
    both = np.concatenate([train, test])
    assert set(both[:, 1]) == {0, 1, 2, 3} and set(both[:, 2]) == {1, 4, 7, 9} and set(both[:, 0]) == set(range(10))
    assert len({tuple(r) for r in both}) == 160  # every combination once, none on both sides


def test_attribute_subset_keeps_each_textures_partner_color():
    assert attribute_subset(10, 0) == (None, None)
    textures, colors = attribute_subset(4, 5)
    pi = synergy_mapping(5)
    assert textures == (0, 1, 2, 3) and set(colors) == {int(pi[t]) for t in textures}
    for bad in (1, 11, 4.0, True, "4"):
        with pytest.raises(ValueError, match="n_textures must be an int in 2..10"):
            attribute_subset(bad, 0)


@pytest.mark.parametrize("textures, colors", [((0,), None), ((0, 0, 1), None), (None, (3, 10)), ((1, 2), "12")])
def test_bad_subsets_are_refused(textures, colors):
    with pytest.raises(ValueError, match="at least 2 distinct indices in 0..9"):
        make_trifeature(16, 0, textures=textures, colors=colors)


def test_subset_cache_has_its_own_folder_and_verifies(tmp_path):
    plain = cache_path(tmp_path, 16, 0, 2, 2)
    sub = cache_path(tmp_path, 16, 0, 2, 2, 0.8, (0, 1), (2, 5))
    assert plain.name == "trifeature-16px-seed0-r2x2-v1" and sub.name == "trifeature-16px-seed0-r2x2-t01-c25-v1"
    data = load_or_render(tmp_path, 16, 0, 2, 2, progress=False, textures=(0, 1), colors=(2, 5))
    assert json.loads((sub / "manifest.json").read_text())["textures"] == [0, 1]
    again = load_or_render(tmp_path, 16, 0, 2, 2, progress=False, textures=(0, 1), colors=(2, 5))
    assert np.array_equal(data.train.images, again.train.images) and len(data.train) == 32 * 2  # 40 combos: 32 / 8
    assert set(data.test.texture) <= {0, 1} and set(data.test.color) <= {2, 5}


def test_the_teaching_variant_changes_the_config_hash_and_the_benchmark_keeps_its_own():
    cfg = get_preset("quick")
    assert ("data", "n_textures") in NEUTRAL_DEFAULTS
    assert "n_textures" not in cfg.experiment_dict()["data"]  # at 10: the identity every earlier run had
    teach = cfg.replace(data={"n_textures": 4})
    assert teach.experiment_dict()["data"]["n_textures"] == 4
    assert runs.config_hash(teach) != runs.config_hash(cfg)
    with pytest.raises(ValueError, match="data.n_textures must be in 2..10"):
        cfg.replace(data={"n_textures": 12}).validate()


def test_a_teaching_benchmark_has_n_classes_of_texture_and_one_positive_pair_in_n(tmp_path):
    cfg = get_preset("ci").replace(data={"n_textures": 4, "renders_train": 10, "renders_test": 8,
                                         "cache_dir": str(tmp_path)})
    bench = load_benchmark(cfg.validate(), progress=False)
    y = pair_labels(bench.data.test, bench.probe_test, bench.mapping)
    assert set(y["unique1"]) == {0, 1, 2, 3}
    assert 0.15 < y["synergy"].mean() < 0.35  # about 1 in 4 (1 in 10 on the benchmark)
    assert pair_labels(bench.data.train, bench.train_biased, bench.mapping)["synergy"].all()
