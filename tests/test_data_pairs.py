"""Tests of the combination split and the bimodal pairs (coral_lab/data/cache.py, pairs.py)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from coral_lab.data.cache import TrifeatureSplit, make_trifeature, split_combinations
from coral_lab.data.pairs import (
    N_CLASSES,
    TASKS,
    PairSet,
    build_pairs,
    make_benchmark,
    pair_labels,
    pool_size,
    synergy_mapping,
)


@pytest.fixture(scope="module")
def data():
    return make_trifeature(image_size=16, seed=0)  # default counts: 800 x 3 train, 200 x 1 test


@pytest.fixture(scope="module")
def mapping():
    return synergy_mapping(0)


def _combos(split):
    return list(zip(split.shape.tolist(), split.texture.tolist(), split.color.tolist()))


def test_default_split_counts_and_disjoint_combinations(data):
    assert len(data.train) == 2400 and len(data.test) == 200
    assert data.train.images.shape == (2400, 16, 16, 3) and data.test.images.shape == (200, 16, 16, 3)
    train, test = Counter(_combos(data.train)), Counter(_combos(data.test))
    assert len(train) == 800 and set(train.values()) == {3}
    assert len(test) == 200 and set(test.values()) == {1}
    assert not set(train) & set(test)
    assert len(set(train) | set(test)) == 1000
    for split in (data.train, data.test):
        assert all(a.dtype == np.int64 for a in (split.shape, split.texture, split.color))


def test_split_is_seeded():
    a_train, a_test = split_combinations(np.random.default_rng(0))
    b_train, _ = split_combinations(np.random.default_rng(0))
    c_train, _ = split_combinations(np.random.default_rng(1))
    np.testing.assert_array_equal(a_train, b_train)
    assert not np.array_equal(a_train, c_train)
    assert a_train.shape == (800, 3) and a_test.shape == (200, 3)
    assert split_combinations(np.random.default_rng(0), 0.5)[0].shape == (500, 3)
    with pytest.raises(ValueError, match="train_fraction"):
        split_combinations(np.random.default_rng(0), 1.0)


def test_mapping_is_a_seeded_bijection():
    for seed in range(5):
        m = synergy_mapping(seed)
        assert m.dtype == np.int64 and sorted(m.tolist()) == list(range(10))
        np.testing.assert_array_equal(m, synergy_mapping(seed))
    assert len({tuple(synergy_mapping(s)) for s in range(5)}) > 1


def _brute_force(split, kind, m):
    """Every allowed ordered pair, by direct comparison of all (i, j)."""
    same = split.shape[:, None] == split.shape[None, :]
    if kind == "biased":
        same &= split.color[None, :] == m[split.texture][:, None]
    i, j = np.nonzero(same)
    return set(zip(i.tolist(), j.tolist()))


@pytest.mark.parametrize("kind", ["unbiased", "biased"])
def test_whole_pool_equals_brute_force_enumeration(data, mapping, kind):
    small = TrifeatureSplit(data.train.images[:150], *(a[:150] for a in (data.train.shape, data.train.texture,
                                                                         data.train.color)))
    want = _brute_force(small, kind, mapping)
    assert pool_size(small, kind, mapping) == len(want)
    pairs = build_pairs(small, len(want), kind, mapping, np.random.default_rng(0))
    got = list(zip(pairs.idx1.tolist(), pairs.idx2.tolist()))
    assert len(got) == len(set(got)) == len(want) and set(got) == want


def test_sampling_is_uniform_over_the_pool(data, mapping):
    small = TrifeatureSplit(data.train.images[:12], *(a[:12] for a in (data.train.shape, data.train.texture,
                                                                       data.train.color)))
    pool = sorted(_brute_force(small, "unbiased", mapping))
    rng = np.random.default_rng(1)
    counts = Counter()
    trials, k = 3000, 3
    for _ in range(trials):
        p = build_pairs(small, k, "unbiased", mapping, rng)
        counts.update(zip(p.idx1.tolist(), p.idx2.tolist()))
    expected = trials * k / len(pool)
    freq = np.array([counts[q] for q in pool])
    assert set(counts) == set(pool)
    assert np.abs(freq - expected).max() < 5 * np.sqrt(expected)


def test_unbiased_pairs_share_shape_are_distinct_and_rarely_synergistic(data, mapping):
    pairs = build_pairs(data.train, 10_000, "unbiased", mapping, np.random.default_rng(0))
    assert len(pairs) == 10_000 and pairs.idx1.dtype == np.int64
    np.testing.assert_array_equal(data.train.shape[pairs.idx1], data.train.shape[pairs.idx2])
    assert len(set(zip(pairs.idx1.tolist(), pairs.idx2.tolist()))) == 10_000
    syn = pair_labels(data.train, pairs, mapping)["synergy"]
    assert syn.mean() == pytest.approx(0.1, abs=0.015)
    # textures of the two images are (nearly) independent: not forced equal
    assert (data.train.texture[pairs.idx1] == data.train.texture[pairs.idx2]).mean() < 0.2


def test_biased_pairs_follow_the_mapping(data, mapping):
    pairs = build_pairs(data.train, 10_000, "biased", mapping, np.random.default_rng(0))
    tr = data.train
    np.testing.assert_array_equal(tr.shape[pairs.idx1], tr.shape[pairs.idx2])
    np.testing.assert_array_equal(tr.color[pairs.idx2], mapping[tr.texture[pairs.idx1]])
    assert len(set(zip(pairs.idx1.tolist(), pairs.idx2.tolist()))) == 10_000
    assert (pair_labels(tr, pairs, mapping)["synergy"] == 1).all()
    # every texture still occurs as image 1 (the biased set keeps uniqueness learnable)
    assert set(tr.texture[pairs.idx1].tolist()) == set(range(10))


def test_labels_match_an_independent_recomputation(data, mapping):
    pairs = build_pairs(data.train, 500, "unbiased", mapping, np.random.default_rng(2))
    labels = pair_labels(data.train, pairs, mapping)
    assert set(labels) == set(TASKS) and N_CLASSES == {"share": 10, "unique1": 10, "unique2": 10, "synergy": 2}
    tr = data.train
    for k, (i, j) in enumerate(zip(pairs.idx1.tolist(), pairs.idx2.tolist())):
        assert labels["share"][k] == tr.shape[i] == tr.shape[j]
        assert labels["unique1"][k] == tr.texture[i]
        assert labels["unique2"][k] == tr.texture[j]
        assert labels["synergy"][k] == int(int(tr.color[j]) == int(mapping[int(tr.texture[i])]))
    for name in TASKS:
        assert labels[name].dtype == np.int64 and labels[name].min() >= 0
        assert labels[name].max() < N_CLASSES[name]


def test_too_many_pairs_and_unknown_kind_raise(data, mapping):
    pool = pool_size(data.test, "unbiased", mapping)
    with pytest.raises(ValueError, match=f"only has {pool} allowed pairs"):
        build_pairs(data.test, pool + 1, "unbiased", mapping, np.random.default_rng(0))
    whole = build_pairs(data.test, pool + 1, "unbiased", mapping, np.random.default_rng(0), allow_fewer=True)
    assert len(whole) == pool == len(set(zip(whole.idx1.tolist(), whole.idx2.tolist())))
    with pytest.raises(ValueError, match="unbiased.*biased"):
        build_pairs(data.test, 5, "synergy", mapping, np.random.default_rng(0))
    with pytest.raises(ValueError, match="bijection"):
        build_pairs(data.test, 5, "biased", np.zeros(10, dtype=np.int64), np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-negative"):
        build_pairs(data.test, -1, "unbiased", mapping, np.random.default_rng(0))


def test_pair_labels_reject_pairs_of_different_shapes(data, mapping):
    i = 0
    j = int(np.flatnonzero(data.test.shape != data.test.shape[i])[0])
    with pytest.raises(ValueError, match="share its shape"):
        pair_labels(data.test, PairSet(np.array([i]), np.array([j])), mapping)
    with pytest.raises(ValueError, match="outside"):
        pair_labels(data.test, PairSet(np.array([0]), np.array([200])), mapping)


def test_benchmark_sets(data):
    bench = make_benchmark(data, seed=0)
    assert len(bench.train_unbiased) == len(bench.train_biased) == len(bench.probe_train) == 10_000
    test_pool = pool_size(data.test, "unbiased", bench.mapping)
    assert len(bench.probe_test) == min(4096, test_pool) and test_pool > 3000
    assert bench.probe_test.idx1.max() < len(data.test) and bench.probe_test.idx2.max() < len(data.test)
    np.testing.assert_array_equal(bench.mapping, synergy_mapping(0))
    labels = pair_labels(data.train, bench.train_biased, bench.mapping)
    assert labels["synergy"].all()
    again = make_benchmark(data, seed=0)
    np.testing.assert_array_equal(again.probe_train.idx1, bench.probe_train.idx1)
    other = make_benchmark(data, seed=1)
    assert not np.array_equal(other.train_unbiased.idx1, bench.train_unbiased.idx1)
    # the sets are drawn with separate generators: they are not copies of each other
    assert not np.array_equal(bench.train_unbiased.idx1, bench.probe_train.idx1)
