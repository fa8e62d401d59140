"""Tests of the Trifeature on-disk cache (coral_lab/data/cache.py)."""

from __future__ import annotations

import hashlib
import json
import os
import warnings

import numpy as np
import pytest

from coral_lab.data import cache as cache_mod
from coral_lab.data import trifeature
from coral_lab.data.cache import CacheError, CacheWarning, cache_path, load_or_render, make_trifeature

# small and fast: 16 px, one render per combination (800 + 200 images)
KW = dict(image_size=16, seed=3, renders_train=1, renders_test=1)


@pytest.fixture(scope="module")
def reference():
    return make_trifeature(**KW)


def _assert_same(a, b):
    for split in ("train", "test"):
        x, y = getattr(a, split), getattr(b, split)
        for name in ("images", "shape", "texture", "color"):
            np.testing.assert_array_equal(getattr(x, name), getattr(y, name))
    assert (a.image_size, a.seed) == (b.image_size, b.seed)


def _load(tmp_path, **extra):
    return load_or_render(tmp_path, progress=False, **KW, **extra)


def _no_render(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("rendered although a valid cache exists")

    monkeypatch.setattr(cache_mod, "make_trifeature", fail)


def test_cache_path_names_the_settings(tmp_path):
    v = trifeature.GENERATOR_VERSION
    assert cache_path(tmp_path) == tmp_path / f"trifeature-224px-seed0-r3x1-v{v}"
    assert cache_path(tmp_path, 32, 5, 2, 1, 0.7).name == f"trifeature-32px-seed5-r2x1-tf0.7-v{v}"


def test_round_trip_loads_without_rendering(tmp_path, reference, monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fresh cache is no reason to warn
        first = _load(tmp_path)
    _assert_same(first, reference)
    _no_render(monkeypatch)
    second = _load(tmp_path)
    _assert_same(second, reference)
    assert second.train.images.flags.writeable
    # only the finished folder remains: no temporary folders next to it
    assert os.listdir(tmp_path) == [cache_path(tmp_path, **KW).name]


def test_manifest_describes_the_files(tmp_path):
    _load(tmp_path)
    folder = cache_path(tmp_path, **KW)
    assert sorted(os.listdir(folder)) == ["labels.npz", "manifest.json", "test_images.npy", "train_images.npy"]
    m = json.loads((folder / "manifest.json").read_text())
    assert m["generator_version"] == trifeature.GENERATOR_VERSION
    assert (m["seed"], m["image_size"], m["renders_train"], m["renders_test"]) == (3, 16, 1, 1)
    assert (m["n_train"], m["n_test"]) == (800, 200)
    assert m["train_images_shape"] == [800, 16, 16, 3]
    assert m["coral_lab_version"] and m["created"].startswith("20")
    for name in ("train_images.npy", "test_images.npy", "labels.npz"):
        raw = (folder / name).read_bytes()
        assert m["files"][name] == {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}


def _flip_last_byte(path):
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))


def _truncate(path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def _edit_manifest(folder, **changes):
    m = json.loads((folder / "manifest.json").read_text())
    m.update(changes)
    (folder / "manifest.json").write_text(json.dumps(m))


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda f: _flip_last_byte(f / "train_images.npy"), "train_images.npy does not match its sha256"),
        (lambda f: _flip_last_byte(f / "labels.npz"), "labels.npz does not match its sha256"),
        (lambda f: _truncate(f / "test_images.npy"), "test_images.npy has .* bytes"),
        (lambda f: (f / "train_images.npy").unlink(), "train_images.npy is missing"),
        (lambda f: (f / "manifest.json").unlink(), "manifest.json is missing"),
        (lambda f: (f / "manifest.json").write_text("{not json"), "not valid JSON"),
        (lambda f: _edit_manifest(f, generator_version=trifeature.GENERATOR_VERSION - 1), "generator_version"),
        (lambda f: _edit_manifest(f, seed=4), "seed"),
    ],
    ids=["npy-byte", "labels-byte", "truncated", "missing-file", "no-manifest", "bad-json", "version", "seed"],
)
def test_damaged_cache_warns_and_is_rebuilt(tmp_path, reference, damage, match, monkeypatch):
    _load(tmp_path)
    folder = cache_path(tmp_path, **KW)
    damage(folder)
    with pytest.warns(CacheWarning, match=match):
        rebuilt = _load(tmp_path)
    _assert_same(rebuilt, reference)
    # the rebuilt folder is valid again: loads silently, without rendering
    _no_render(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _assert_same(_load(tmp_path), reference)
    assert os.listdir(tmp_path) == [folder.name]


def test_wrong_array_shape_with_matching_checksum_is_rejected(tmp_path, reference):
    _load(tmp_path)
    folder = cache_path(tmp_path, **KW)
    np.save(folder / "test_images.npy", np.zeros((200, 8, 8, 3), dtype=np.uint8))
    raw = (folder / "test_images.npy").read_bytes()  # a consistent manifest, but the wrong shape
    m = json.loads((folder / "manifest.json").read_text())
    m["files"]["test_images.npy"] = {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.warns(CacheWarning, match="shape"):
        _assert_same(_load(tmp_path), reference)


def test_cache_dir_that_is_a_file_raises(tmp_path):
    not_a_dir = tmp_path / "data"
    not_a_dir.write_text("x")
    with pytest.raises(CacheError, match="is a file"):
        load_or_render(not_a_dir, progress=False, **KW)


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    real = cache_mod._write_file

    def write_then_fail(path, write):
        if path.name == "labels.npz":
            raise OSError(28, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(cache_mod, "_write_file", write_then_fail)
    with pytest.raises(CacheError, match="No space left"):
        _load(tmp_path)
    assert os.listdir(tmp_path) == []


def test_different_settings_use_different_folders(tmp_path):
    a = _load(tmp_path)
    b = load_or_render(tmp_path, image_size=16, seed=4, renders_train=1, renders_test=1, progress=False)
    assert len(os.listdir(tmp_path)) == 2
    assert not np.array_equal(a.train.shape, b.train.shape)
