"""The Trifeature data set (80/20 split of the 1,000 attribute combinations) and its on-disk cache.

``make_trifeature`` renders the set in memory; ``load_or_render`` keeps it in a versioned folder

    <cache_dir>/trifeature-<S>px-seed<seed>-r<train>x<test>[-tf<fraction>][-t<textures>-c<colors>]-v<GENERATOR_VERSION>/
        train_images.npy   uint8 (N_train, S, S, 3)
        test_images.npy    uint8 (N_test, S, S, 3)
        labels.npz         train_/test_ shape, texture, color: int64 (N,)
        manifest.json      what was rendered, with the sha256 and byte size of every file (written last)

that is written atomically (a temporary folder next to it, fsynced, then ``os.replace``) and checked
completely on every load (settings, sizes, sha256, array shapes, labels). A cache that fails any check is
reported with a :class:`CacheWarning` saying what was wrong, then rendered again and replaced; a partial
or corrupt cache is never used. Hashing costs about 0.5 s per GB here (0.2 s for the 224 px set).
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coral_lab import __version__
from coral_lab.data import trifeature
from coral_lab.core.io import sha256_file

__all__ = [
    "TrifeatureSplit",
    "TrifeatureData",
    "CacheError",
    "CacheWarning",
    "N_COMBINATIONS",
    "split_combinations",
    "make_trifeature",
    "cache_path",
    "load_or_render",
]

N_COMBINATIONS = 1000  # 10 shapes x 10 textures x 10 colors
_DEFAULT_TRAIN_FRACTION = 0.8
_MANIFEST_FORMAT = "coral_lab.trifeature-cache"
_IMAGE_FILES = ("train_images.npy", "test_images.npy")
_LABEL_FILE = "labels.npz"
_MANIFEST = "manifest.json"
_ATTRIBUTES = ("shape", "texture", "color")


class CacheError(RuntimeError):
    """The cache cannot be used or written at all (e.g. ``cache_dir`` is a file or not writable)."""


class CacheWarning(UserWarning):
    """A cache folder failed verification and is being rendered again."""


@dataclass
class TrifeatureSplit:
    """Images and their attribute labels (indices into ``SHAPES``, ``TEXTURES``, ``COLOR_NAMES``).

    Attributes:
        images: uint8 ``(N, H, W, 3)``.
        shape, texture, color: int64 ``(N,)``.
    """

    images: np.ndarray
    shape: np.ndarray
    texture: np.ndarray
    color: np.ndarray

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 (N, H, W, 3), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        n = self.images.shape[0]
        for name in _ATTRIBUTES:
            labels = getattr(self, name)
            if labels.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},) like the images, got {tuple(labels.shape)}")

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass
class TrifeatureData:
    """The rendered benchmark: training and test images of disjoint attribute combinations."""

    train: TrifeatureSplit
    test: TrifeatureSplit
    image_size: int
    seed: int


# --------------------------------------------------------------------------------------------------
# the split and the rendering


def _n_train_combinations(train_fraction: float, n_combinations: int = N_COMBINATIONS) -> int:
    """``round(n_combinations * train_fraction)``, checked to leave both sides of the split non-empty."""
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, (int, float)):
        raise TypeError(f"train_fraction must be a float in (0, 1), got {type(train_fraction).__name__}")
    n_train = round(n_combinations * train_fraction)
    if not 1 <= n_train <= n_combinations - 1:
        raise ValueError(
            f"train_fraction must leave at least one combination on each side of the split "
            f"(0.001 .. 0.999), got {train_fraction!r}"
        )
    return n_train


def check_subset(values: object, name: str) -> tuple[int, ...] | None:
    """``None`` (all 10 values of the attribute) or a tuple of at least 2 distinct indices in 0..9, sorted."""
    if values is None:
        return None
    ok = isinstance(values, (tuple, list)) and len(values) >= 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 9 for v in values)
    if not ok or len(set(values)) != len(values):
        raise ValueError(f"{name} must be None (all 10) or at least 2 distinct indices in 0..9, got {values!r}")
    return tuple(sorted(int(v) for v in values))


def _n_combinations(textures: tuple[int, ...] | None, colors: tuple[int, ...] | None) -> int:
    return 10 * (len(textures) if textures else 10) * (len(colors) if colors else 10)


def _check_settings(image_size: int, seed: int, renders_train: int, renders_test: int, train_fraction: float,
                    textures: tuple[int, ...] | None = None, colors: tuple[int, ...] | None = None) -> None:
    trifeature._check_image_size(image_size)
    for name, value, low in (("seed", seed, 0), ("renders_train", renders_train, 1), ("renders_test", renders_test, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    _n_train_combinations(train_fraction, _n_combinations(check_subset(textures, "textures"),
                                                          check_subset(colors, "colors")))


def split_combinations(
    rng: np.random.Generator,
    train_fraction: float = 0.8,
    textures: tuple[int, ...] | None = None,
    colors: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle all (shape, texture, color) combinations; the first ``round(n * fraction)`` train.

    Args:
        rng: the data set's generator (``np.random.default_rng(seed)``); one ``permutation`` is drawn.
        train_fraction: fraction of combinations used for training (0.8: 800 / 200).
        textures, colors: None (the benchmark: all 10 of each, n = 1,000), or the indices kept (a teaching
            variant with fewer textures and colors; all 10 shapes stay): n = 10 x len(textures) x len(colors).

    Returns:
        ``(train, test)`` int64 arrays ``(n_train, 3)`` and ``(n - n_train, 3)`` of
        ``(shape, texture, color)`` rows; no row occurs in both.
    """
    textures, colors = check_subset(textures, "textures"), check_subset(colors, "colors")
    k = np.arange(N_COMBINATIONS, dtype=np.int64)
    combos = np.stack([k // 100, (k // 10) % 10, k % 10], axis=1)  # (1000, 3), row k = digits of k
    if textures is not None:
        combos = combos[np.isin(combos[:, 1], textures)]
    if colors is not None:
        combos = combos[np.isin(combos[:, 2], colors)]
    n_train = _n_train_combinations(train_fraction, len(combos))
    combos = combos[rng.permutation(len(combos))]
    return combos[:n_train], combos[n_train:]


def _split_labels(seed: int, renders_train: int, renders_test: int, train_fraction: float,
                  textures: tuple[int, ...] | None = None, colors: tuple[int, ...] | None = None) -> dict[str, np.ndarray]:
    """The labels ``make_trifeature`` gives each image: ``{"train_shape": (N_train,), ...}`` int64.

    Combination ``k`` of a split is rendered ``renders`` times in a row (images ``k * renders + r``).
    """
    rng = np.random.default_rng(seed)
    train, test = split_combinations(rng, train_fraction, textures, colors)
    out = {}
    for split, combos, renders in (("train", train, renders_train), ("test", test, renders_test)):
        rows = np.repeat(combos, renders, axis=0)
        for j, name in enumerate(_ATTRIBUTES):
            out[f"{split}_{name}"] = np.ascontiguousarray(rows[:, j])
    return out


def make_trifeature(
    image_size: int = 224,
    seed: int = 0,
    renders_train: int = 3,
    renders_test: int = 1,
    train_fraction: float = 0.8,
    progress: bool = False,
    textures: tuple[int, ...] | None = None,
    colors: tuple[int, ...] | None = None,
) -> TrifeatureData:
    """Render the bimodal Trifeature images in memory (no cache; see :func:`load_or_render`).

    ``np.random.default_rng(seed)`` shuffles the 1,000 combinations (first 80 % train), then renders
    the training images (each combination ``renders_train`` times) and the test images
    (``renders_test`` times each), in that order, so the same arguments give identical arrays.
    ``textures`` / ``colors`` keep only those attribute values (a teaching variant, ``split_combinations``).

    Returns:
        :class:`TrifeatureData`; at the defaults 2,400 training and 200 test images of 224 px
        (uint8 ``(N, 224, 224, 3)``, about 360 MB and 30 MB).
    """
    _check_settings(image_size, seed, renders_train, renders_test, train_fraction, textures, colors)
    rng = np.random.default_rng(seed)
    train_combos, test_combos = split_combinations(rng, train_fraction, textures, colors)
    splits = []
    for combos, renders in ((train_combos, renders_train), (test_combos, renders_test)):
        rows = np.repeat(combos, renders, axis=0)  # (N, 3): combination k at images k * renders + r
        shape, texture, color = (np.ascontiguousarray(rows[:, j]) for j in range(3))
        images = trifeature.render_images(shape, texture, color, image_size, rng, progress=progress)
        splits.append(TrifeatureSplit(images, shape, texture, color))
    return TrifeatureData(train=splits[0], test=splits[1], image_size=int(image_size), seed=int(seed))


# --------------------------------------------------------------------------------------------------
# the cache


def cache_path(
    cache_dir: str | os.PathLike,
    image_size: int = 224,
    seed: int = 0,
    renders_train: int = 3,
    renders_test: int = 1,
    train_fraction: float = 0.8,
    textures: tuple[int, ...] | None = None,
    colors: tuple[int, ...] | None = None,
) -> Path:
    """The folder that holds (or will hold) this data set under ``cache_dir``.

    Example: ``<cache_dir>/trifeature-224px-seed0-r3x1-v1``; a train fraction other than 0.8 adds
    ``-tf<fraction>`` before the version (``...-r3x1-tf0.7-v1``), an attribute subset its indices
    (``...-r18x8-t0123-c1259-v1``).
    """
    _check_settings(image_size, seed, renders_train, renders_test, train_fraction, textures, colors)
    name = f"trifeature-{int(image_size)}px-seed{int(seed)}-r{int(renders_train)}x{int(renders_test)}"
    if train_fraction != _DEFAULT_TRAIN_FRACTION:
        name += f"-tf{float(train_fraction):g}"
    for tag, values in (("t", check_subset(textures, "textures")), ("c", check_subset(colors, "colors"))):
        if values is not None:
            name += f"-{tag}{''.join(map(str, values))}"
    name += f"-v{trifeature.GENERATOR_VERSION}"
    return Path(cache_dir) / name


class _Invalid(Exception):
    """A cache folder failed a check; the message says which."""


def _read_checked(folder: Path, name: str, files: dict) -> bytearray:
    """The bytes of ``folder/name`` after checking its size and sha256 against the manifest."""
    meta = files.get(name)
    if not isinstance(meta, dict) or "sha256" not in meta or "bytes" not in meta:
        raise _Invalid(f"manifest.json has no sha256 / bytes entry for {name}")
    path = folder / name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise _Invalid(f"{name} is missing") from None
    if size != meta["bytes"]:
        raise _Invalid(f"{name} has {size} bytes, the manifest says {meta['bytes']} (truncated or replaced?)")
    buf = bytearray(size)
    with open(path, "rb") as f:
        if f.readinto(buf) != size:
            raise _Invalid(f"{name} could not be read completely")
    if hashlib.sha256(buf).hexdigest() != meta["sha256"]:
        raise _Invalid(f"{name} does not match its sha256 checksum (corrupted on disk?)")
    return buf


def _npy_from_buffer(buf: bytearray, name: str) -> np.ndarray:
    """Parse an .npy file held in ``buf`` without copying the data (the array shares ``buf``)."""
    bio = io.BytesIO(buf)
    try:
        version = np.lib.format.read_magic(bio)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(bio)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(bio)
    except ValueError as e:
        raise _Invalid(f"{name} is not a valid .npy file ({e})") from None
    if fortran or dtype != np.uint8:
        raise _Invalid(f"{name} holds {dtype} (fortran_order={fortran}); expected C-ordered uint8")
    count = int(np.prod(shape))
    if bio.tell() + count != len(buf):
        raise _Invalid(f"{name} has {len(buf) - bio.tell()} data bytes for an array of shape {shape}")
    return np.frombuffer(buf, dtype=np.uint8, count=count, offset=bio.tell()).reshape(shape)


def _expected_manifest(
    image_size: int, seed: int, renders_train: int, renders_test: int, train_fraction: float,
    textures: tuple[int, ...] | None = None, colors: tuple[int, ...] | None = None,
) -> dict:
    textures, colors = check_subset(textures, "textures"), check_subset(colors, "colors")
    n_all = _n_combinations(textures, colors)
    n_train = _n_train_combinations(train_fraction, n_all)
    subset = {k: list(v) for k, v in (("textures", textures), ("colors", colors)) if v is not None}
    return {
        "format": _MANIFEST_FORMAT,
        "generator_version": trifeature.GENERATOR_VERSION,
        "image_size": int(image_size),
        "seed": int(seed),
        "renders_train": int(renders_train),
        "renders_test": int(renders_test),
        "train_fraction": float(train_fraction),
        "n_train": n_train * int(renders_train),
        "n_test": (n_all - n_train) * int(renders_test),
        **subset,  # only a teaching subset names its values, so the benchmark's manifests stay as they were
    }


def _load_verified(folder: Path, expected: dict, labels_expected: dict[str, np.ndarray]) -> TrifeatureData:
    """Load a cache folder, checking everything; raise ``_Invalid`` with the first problem found."""
    if not folder.is_dir():
        raise _Invalid("it is not a folder")
    try:
        manifest = json.loads((folder / _MANIFEST).read_text())
    except FileNotFoundError:
        raise _Invalid("manifest.json is missing (an interrupted or foreign write)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _Invalid(f"manifest.json is not valid JSON ({e})") from None
    if not isinstance(manifest, dict):
        raise _Invalid("manifest.json does not hold a JSON object")
    for key, value in expected.items():
        if manifest.get(key) != value:
            raise _Invalid(f"manifest.json says {key}={manifest.get(key)!r}, expected {value!r}")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise _Invalid("manifest.json has no 'files' table")

    s = expected["image_size"]
    images = {}
    for name, split in zip(_IMAGE_FILES, ("train", "test")):
        arr = _npy_from_buffer(_read_checked(folder, name, files), name)
        want = (expected[f"n_{split}"], s, s, 3)
        if arr.shape != want:
            raise _Invalid(f"{name} has shape {arr.shape}, expected {want}")
        images[split] = arr
    try:
        with np.load(io.BytesIO(_read_checked(folder, _LABEL_FILE, files))) as npz:
            labels = {k: npz[k] for k in npz.files}
    except (ValueError, OSError) as e:
        raise _Invalid(f"labels.npz cannot be read ({e})") from None
    for key, want in labels_expected.items():
        got = labels.get(key)
        if got is None or got.dtype != np.int64 or not np.array_equal(got, want):
            raise _Invalid(f"labels.npz entry {key!r} differs from the split this seed gives")
    splits = {
        split: TrifeatureSplit(images[split], *(labels[f"{split}_{a}"] for a in _ATTRIBUTES))
        for split in ("train", "test")
    }
    return TrifeatureData(train=splits["train"], test=splits["test"], image_size=s, seed=expected["seed"])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, write) -> dict:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


STALE_SECONDS = 3600.0  # a cache write takes seconds to minutes; older temporaries belong to a killed writer


def sweep_stale_temporaries(folder: Path, max_age_s: float = STALE_SECONDS) -> list[Path]:
    """Delete the ``.<cache>.tmp-*`` / ``.<cache>.old-*`` siblings a killed writer left, once they are
    older than ``max_age_s`` (a live writer's folder is younger). Returns what was removed."""
    removed = []
    now = time.time()
    for pattern in (f".{folder.name}.tmp-*", f".{folder.name}.old-*"):
        for path in folder.parent.glob(pattern):
            try:
                old = now - path.stat().st_mtime > max_age_s
            except OSError:
                continue
            if old:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _write_atomic(folder: Path, data: TrifeatureData, expected: dict) -> None:
    """Write the cache into a temporary sibling folder, fsync it, then move it into place.

    A folder already at ``folder`` (a bad cache) is first moved aside and deleted after the swap, since
    ``os.replace`` cannot replace a non-empty folder. If another process installed the same cache in
    the meantime, its copy is kept and ours is dropped.
    """
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=parent))
    try:
        files = {
            "train_images.npy": _write_file(tmp / "train_images.npy", lambda f: np.save(f, data.train.images)),
            "test_images.npy": _write_file(tmp / "test_images.npy", lambda f: np.save(f, data.test.images)),
        }
        labels = {f"{split}_{a}": getattr(getattr(data, split), a) for split in ("train", "test") for a in _ATTRIBUTES}
        files[_LABEL_FILE] = _write_file(tmp / _LABEL_FILE, lambda f: np.savez(f, **labels))
        manifest = dict(expected)
        manifest.update(
            {
                "coral_lab_version": __version__,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "train_images_shape": list(data.train.images.shape),
                "test_images_shape": list(data.test.images.shape),
                "files": files,
            }
        )
        _write_file(tmp / _MANIFEST, lambda f: f.write((json.dumps(manifest, indent=2) + "\n").encode()))
        _fsync_dir(tmp)

        trash = None
        if folder.exists() or folder.is_symlink():
            trash = parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(folder, trash)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not folder.is_dir():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race; keep its cache
        _fsync_dir(parent)
        if trash is not None:
            if trash.is_dir() and not trash.is_symlink():
                shutil.rmtree(trash, ignore_errors=True)
            else:
                trash.unlink(missing_ok=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load_or_render(
    cache_dir: str | os.PathLike,
    image_size: int = 224,
    seed: int = 0,
    renders_train: int = 3,
    renders_test: int = 1,
    train_fraction: float = 0.8,
    progress: bool = True,
    textures: tuple[int, ...] | None = None,
    colors: tuple[int, ...] | None = None,
) -> TrifeatureData:
    """The Trifeature data set from ``cache_path(cache_dir, ...)``, rendered and cached if needed.

    A cache that fails verification (missing or unparsable manifest, other generator version, seed,
    size or counts, a missing, truncated or altered file, wrong array shapes or labels) raises a
    :class:`CacheWarning` naming the problem, is rendered again and atomically replaced.

    Returns:
        :class:`TrifeatureData`, identical to ``make_trifeature(image_size, seed, ...)``.

    Raises:
        CacheError: ``cache_dir`` is not a folder or cannot be written.
    """
    folder = cache_path(cache_dir, image_size, seed, renders_train, renders_test, train_fraction, textures, colors)
    parent = folder.parent
    if parent.exists() and not parent.is_dir():
        raise CacheError(
            f"cache_dir {str(parent)!r} is a file, not a folder; pass a folder path (DataConfig.cache_dir)"
        )
    expected = _expected_manifest(image_size, seed, renders_train, renders_test, train_fraction, textures, colors)
    if folder.exists() or folder.is_symlink():
        try:
            labels = _split_labels(seed, renders_train, renders_test, train_fraction, textures, colors)
            return _load_verified(folder, expected, labels)
        except _Invalid as e:
            warnings.warn(f"Trifeature cache {str(folder)!r} is invalid: {e}; rendering it again", CacheWarning, 2)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CacheError(f"cannot create cache_dir {str(parent)!r} ({e}); pass a writable folder") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CacheError(f"cache_dir {str(parent)!r} is not writable; pass a writable folder (DataConfig.cache_dir)")
    data = make_trifeature(image_size, seed, renders_train, renders_test, train_fraction, progress=progress,
                           textures=textures, colors=colors)
    try:
        _write_atomic(folder, data, expected)
    except OSError as e:
        raise CacheError(f"writing the Trifeature cache to {str(folder)!r} failed ({e}); "
                         f"check free space and permissions of cache_dir") from None
    return data
