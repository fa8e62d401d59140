"""Bimodal pairs of Trifeature images and their labels (CoMM's bimodal Trifeature, used by COrAL Table 1).

A pair ``(i, j)`` of images from one split is modality 1 = image ``i`` and modality 2 = image ``j``:

- redundancy: both images have the same shape (every allowed pair), task ``share`` = the shape;
- uniqueness: task ``unique1`` = texture of image 1, ``unique2`` = texture of image 2;
- synergy: with a seeded bijection ``pi`` from textures to colors, task ``synergy`` = 1 iff
  ``color(j) == pi(texture(i))`` (about 1 pair in 10 among unbiased pairs).

Pair sets are sampled without replacement from the allowed ordered pairs (``i == j`` allowed):
``"unbiased"`` allows every same-shape pair, ``"biased"`` only same-shape pairs that follow ``pi``.
The pool is never materialised: allowed pairs form one block per key (shape, or shape and color),
so flat pair numbers are sampled and decoded with index arithmetic.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from coral_lab.data.cache import TrifeatureData, TrifeatureSplit

__all__ = [
    "TASKS",
    "N_CLASSES",
    "task_classes",
    "PAIR_KINDS",
    "synergy_mapping",
    "attribute_subset",
    "derived_rng",
    "PairSet",
    "pool_size",
    "build_pairs",
    "pair_labels",
    "TrifeatureBenchmark",
    "make_benchmark",
]

TASKS = ("share", "unique1", "unique2", "synergy")
N_CLASSES = {"share": 10, "unique1": 10, "unique2": 10, "synergy": 2}
PAIR_KINDS = ("unbiased", "biased")
_N_VALUES = 10  # values per attribute


def derived_rng(seed: int, purpose: str) -> np.random.Generator:
    """An independent generator for one use of ``seed``: ``default_rng([seed, crc32(purpose)])``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng([int(seed), zlib.crc32(purpose.encode())])


def synergy_mapping(seed: int) -> np.ndarray:
    """The synergy bijection pi: texture index -> color index, drawn from ``seed``.

    Returns:
        int64 ``(10,)``, a permutation of 0..9: ``pi[t]`` is the color that texture ``t`` asks for.
    """
    return derived_rng(seed, "synergy_mapping").permutation(_N_VALUES).astype(np.int64)


def attribute_subset(n_textures: int, seed: int) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """The textures and colors a data set keeps: ``(None, None)`` for the benchmark (``n_textures == 10``),
    else a teaching variant's first ``n_textures`` textures and, for each, its partner color ``pi[t]``.

    Keeping each texture's partner keeps pi a bijection on the subset, so the synergy task stays defined
    and 1 unbiased pair in ``n_textures`` follows it (``DataConfig.n_textures``).
    """
    if _check_n_textures(n_textures) == _N_VALUES:
        return None, None
    textures = tuple(range(n_textures))
    colors = tuple(sorted(int(c) for c in synergy_mapping(seed)[list(textures)]))
    return textures, colors


def _check_n_textures(n_textures: object) -> int:
    if isinstance(n_textures, bool) or not isinstance(n_textures, int) or not 2 <= n_textures <= _N_VALUES:
        raise ValueError(f"n_textures must be an int in 2..{_N_VALUES} (10: the benchmark), got {n_textures!r}")
    return n_textures


def task_classes(n_textures: int = _N_VALUES) -> dict[str, int]:
    """Classes per task of a data set with ``n_textures`` textures: ``N_CLASSES`` for the benchmark (10);
    a teaching variant's texture tasks (``unique1``, ``unique2``) have ``n_textures`` classes, shape and
    synergy keep theirs. Chance in balanced accuracy is 100 / classes (``paper.chance_percent``)."""
    n = _check_n_textures(n_textures)
    return {**N_CLASSES, "unique1": n, "unique2": n}


def _check_mapping(mapping: np.ndarray) -> np.ndarray:
    m = np.asarray(mapping)
    if m.shape != (_N_VALUES,) or not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"mapping must be an int array (10,) (see synergy_mapping), got {m.dtype} {m.shape}")
    if not np.array_equal(np.sort(m), np.arange(_N_VALUES)):
        raise ValueError(f"mapping must be a bijection of 0..9 (a permutation), got {m.tolist()}")
    return m.astype(np.int64)


@dataclass
class PairSet:
    """Ordered pairs of images of one split: modality 1 = ``idx1[k]``, modality 2 = ``idx2[k]``.

    Attributes:
        idx1, idx2: int64 ``(P,)`` indices into the same :class:`TrifeatureSplit`.
    """

    idx1: np.ndarray
    idx2: np.ndarray

    def __post_init__(self) -> None:
        if self.idx1.ndim != 1 or self.idx1.shape != self.idx2.shape:
            raise ValueError(f"idx1 and idx2 must be 1-D of equal length, got {self.idx1.shape} and {self.idx2.shape}")

    def __len__(self) -> int:
        return int(self.idx1.shape[0])


def _pair_keys(split: TrifeatureSplit, kind: str, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Keys such that ``(i, j)`` is allowed iff ``key1[i] == key2[j]``: two int64 ``(N,)`` and the key count."""
    if kind == "unbiased":
        return split.shape, split.shape, _N_VALUES
    if kind == "biased":
        m = _check_mapping(mapping)
        # same shape, and color(j) == pi(texture(i))
        return split.shape * _N_VALUES + m[split.texture], split.shape * _N_VALUES + split.color, _N_VALUES**2
    raise ValueError(f"unknown pair kind {kind!r}; valid kinds: {PAIR_KINDS}")


def _blocks(split: TrifeatureSplit, kind: str, mapping: np.ndarray):
    key1, key2, n_keys = _pair_keys(split, kind, mapping)
    count1 = np.bincount(key1, minlength=n_keys)  # (K,) images that can be modality 1 under each key
    count2 = np.bincount(key2, minlength=n_keys)  # (K,) ... modality 2
    block = count1 * count2  # (K,) allowed pairs per key
    return key1, key2, count1, count2, block


def pool_size(split: TrifeatureSplit, kind: str, mapping: np.ndarray) -> int:
    """Number of allowed ordered pairs of ``kind`` in ``split`` (``sum_shape n_shape^2`` if unbiased)."""
    return int(_blocks(split, kind, mapping)[4].sum())


def build_pairs(
    split: TrifeatureSplit,
    n_pairs: int,
    kind: str,
    mapping: np.ndarray,
    rng: np.random.Generator,
    *,
    allow_fewer: bool = False,
) -> PairSet:
    """Sample ``n_pairs`` distinct allowed ordered pairs of images of ``split``, uniformly.

    Args:
        split: the images to pair (both images of a pair come from it).
        n_pairs: number of pairs P.
        kind: ``"unbiased"`` (same shape) or ``"biased"`` (same shape and ``color[j] == mapping[texture[i]]``).
        mapping: the synergy bijection pi, int ``(10,)`` (see :func:`synergy_mapping`).
        rng: source of the sample.
        allow_fewer: if the pool holds fewer than ``n_pairs`` pairs, return the whole pool (in random
            order) instead of raising.

    Returns:
        :class:`PairSet` of P pairs (fewer only with ``allow_fewer``), in random order.
    """
    if not isinstance(split, TrifeatureSplit):
        raise TypeError(f"split must be a TrifeatureSplit, got {type(split).__name__}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)) or n_pairs < 0:
        raise ValueError(f"n_pairs must be a non-negative int, got {n_pairs!r}")
    key1, key2, count1, count2, block = _blocks(split, kind, mapping)
    pool = int(block.sum())
    if n_pairs > pool:
        if not allow_fewer:
            raise ValueError(
                f"asked for {n_pairs} {kind} pairs but the split only has {pool} allowed pairs; "
                f"ask for at most {pool} or pass allow_fewer=True"
            )
        flat = rng.permutation(pool)
    else:
        flat = rng.choice(pool, size=int(n_pairs), replace=False)  # (P,) distinct pair numbers
    flat = flat.astype(np.int64)
    # decode pair number -> (key, position of image 1 in its key group, position of image 2)
    block_end = np.cumsum(block)  # (K,)
    key = np.searchsorted(block_end, flat, side="right")  # (P,)
    local = flat - (block_end[key] - block[key])
    pos1, pos2 = local // count2[key], local % count2[key]
    order1, order2 = np.argsort(key1, kind="stable"), np.argsort(key2, kind="stable")  # images grouped by key
    start1, start2 = np.cumsum(count1) - count1, np.cumsum(count2) - count2  # (K,) group starts
    idx1 = order1[start1[key] + pos1].astype(np.int64)
    idx2 = order2[start2[key] + pos2].astype(np.int64)
    return PairSet(idx1, idx2)


def pair_labels(split: TrifeatureSplit, pairs: PairSet, mapping: np.ndarray) -> dict[str, np.ndarray]:
    """The labels of every task in ``TASKS`` for each pair.

    Returns:
        ``{"share": shape, "unique1": texture[idx1], "unique2": texture[idx2],
        "synergy": color[idx2] == mapping[texture[idx1]]}``, each int64 ``(P,)``.
    """
    m = _check_mapping(mapping)
    n = len(split)
    for name, idx in (("idx1", pairs.idx1), ("idx2", pairs.idx2)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"pairs.{name} indexes outside the split of {n} images; were they built from it?")
    shape1, shape2 = split.shape[pairs.idx1], split.shape[pairs.idx2]
    if not np.array_equal(shape1, shape2):
        raise ValueError("every pair must share its shape (redundancy); build pairs with build_pairs")
    return {
        "share": shape1.astype(np.int64),
        "unique1": split.texture[pairs.idx1].astype(np.int64),
        "unique2": split.texture[pairs.idx2].astype(np.int64),
        "synergy": (split.color[pairs.idx2] == m[split.texture[pairs.idx1]]).astype(np.int64),
    }


@dataclass
class TrifeatureBenchmark:
    """The pair sets of one benchmark seed.

    ``train_unbiased``, ``train_biased`` and ``probe_train`` index ``data.train``; ``probe_test``
    indexes ``data.test``. ``train_unbiased`` pretrains the redundancy + uniqueness model,
    ``train_biased`` the synergy model; the probe sets are unbiased. ``seed`` is the benchmark seed the
    sets were drawn from (``make_benchmark``), so another probe's pairs can be drawn the same way
    (``probe_pairs``).
    """

    data: TrifeatureData
    mapping: np.ndarray
    train_unbiased: PairSet
    train_biased: PairSet
    probe_train: PairSet
    probe_test: PairSet
    seed: int = 0

    def probe_pairs(self, n_pairs: int) -> tuple[PairSet, PairSet]:
        """Unbiased probe pairs drawn as ``make_benchmark`` draws ``probe_train`` / ``probe_test``, with
        ``n_pairs`` of each (the test split's whole pool where it holds fewer): the probe sets a probe
        with other sizes reads (``coral_lab.evaluation.published_probe.PROBE_PAIRS``). With the benchmark's own
        sizes they are its ``probe_train`` and ``probe_test``."""
        train = build_pairs(self.data.train, n_pairs, "unbiased", self.mapping, derived_rng(self.seed, "probe_train"))
        test = build_pairs(self.data.test, n_pairs, "unbiased", self.mapping, derived_rng(self.seed, "probe_test"),
                           allow_fewer=True)
        return train, test


def make_benchmark(
    data: TrifeatureData,
    n_train_pairs: int = 10_000,
    n_probe_train_pairs: int = 10_000,
    n_probe_test_pairs: int = 4_096,
    seed: int = 0,
) -> TrifeatureBenchmark:
    """Draw the synergy mapping and the four pair sets from ``seed``.

    Each set has its own generator (``derived_rng(seed, name)``), so changing one size leaves the
    others unchanged. The probe-train pairs are drawn independently of the pretraining pairs (the
    two may share pairs). ``probe_test`` is drawn with ``allow_fewer=True``: with 200 test images
    (about 20 per shape) the pool ``sum_shape n_shape^2`` can fall just under 4,096, and then all of
    it is used.
    """
    if not isinstance(data, TrifeatureData):
        raise TypeError(f"data must be TrifeatureData (make_trifeature / load_or_render), got {type(data).__name__}")
    mapping = synergy_mapping(seed)
    return TrifeatureBenchmark(
        data=data,
        mapping=mapping,
        train_unbiased=build_pairs(data.train, n_train_pairs, "unbiased", mapping, derived_rng(seed, "train_unbiased")),
        train_biased=build_pairs(data.train, n_train_pairs, "biased", mapping, derived_rng(seed, "train_biased")),
        probe_train=build_pairs(data.train, n_probe_train_pairs, "unbiased", mapping, derived_rng(seed, "probe_train")),
        probe_test=build_pairs(
            data.test, n_probe_test_pairs, "unbiased", mapping, derived_rng(seed, "probe_test"), allow_fewer=True
        ),
        seed=seed,
    )
