"""Loaders for the MultiBench files (synthetic files in the exact layout) and the offline digits set."""

import pickle

import numpy as np
import pytest

from coral_lab.data.features import ENV_VAR, DataFileError, load_affect, load_dataset, load_mimic
from coral_lab.multibench.synthetic import synthetic_affect, synthetic_mimic, write_synthetic


def _dump(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    return path


@pytest.mark.parametrize("name,dv", [("mosi", 20), ("mosei", 35), ("humor", 371), ("sarcasm", 371)])
def test_affect_files_load_with_the_papers_binary_task(tmp_path, name, dv):
    write_synthetic(tmp_path, name, n=12, seq_len=10)
    data = load_affect(name, tmp_path)  # a folder holding the file under its MultiBench name
    raw = synthetic_affect(name, n=12, seq_len=10)
    assert [m.shape for m in data.modalities] == [(10, dv), (10, 300)]
    for split in ("train", "valid", "test"):
        s = getattr(data, split)
        assert s.x[0].dtype == np.float32 and s.x[0].shape == (12, 10, dv)
        np.testing.assert_array_equal(s.y, (raw[split]["labels"].reshape(-1) > 0).astype(int))


def test_affect_leading_padding_moves_to_the_end_and_empty_text_is_dropped(tmp_path):
    obj = synthetic_affect("mosi", n=4, seq_len=6)
    text = np.zeros((4, 6, 300), np.float32)
    text[0, 2:] = np.arange(1, 5)[:, None]  # rows 2..5 non-zero -> rows 0..3 after the shift
    text[1] = 1.0
    text[3, 5] = 7.0
    vision = np.arange(4 * 6 * 20, dtype=np.float32).reshape(4, 6, 20)
    obj["train"].update(text=text, vision=vision)  # sample 2 has all-zero text
    data = load_affect("mosi", _dump(tmp_path / "mosi_data.pkl", obj))
    v, t = data.train.x
    assert len(data.train) == 3  # sample 2 dropped
    np.testing.assert_array_equal(t[0, :4, 0], [1, 2, 3, 4])
    assert (t[0, 4:] == 0).all()
    np.testing.assert_array_equal(v[0, :4], vision[0, 2:])  # vision shifted by the same amount
    assert (v[0, 4:] == 0).all()
    np.testing.assert_array_equal(v[1], vision[1])  # no padding: unchanged
    np.testing.assert_array_equal(v[2, 0], vision[3, 5])  # the last sample's one row moves to step 0
    assert (t[2, 1:] == 0).all()


def test_path_from_the_environment_variable(tmp_path, monkeypatch):
    write_synthetic(tmp_path, "sarcasm", n=6, seq_len=5)
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert len(load_dataset("sarcasm").test) == 6
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(DataFileError, match=rf"--data-path .*{ENV_VAR}.*MultiBench"):
        load_dataset("sarcasm")
    with pytest.raises(DataFileError, match="mosei_senti_data.pkl.*not found|not found.*mosei_senti_data.pkl"):
        load_dataset("mosei", tmp_path)


def _broken(obj, what):
    obj = {k: dict(v) for k, v in obj.items()}
    if what == "split":
        del obj["valid"]
    elif what == "key":
        del obj["test"]["vision"]
    elif what == "shape":
        obj["train"]["text"] = obj["train"]["text"][:, :, :200]
    elif what == "nan":
        obj["valid"]["vision"] = obj["valid"]["vision"].copy()
        obj["valid"]["vision"][1, 2, 3] = np.nan
    elif what == "labels":
        obj["train"]["labels"] = obj["train"]["labels"] * 10
    elif what == "count":
        obj["train"]["labels"] = obj["train"]["labels"][:-1]
    return obj


@pytest.mark.parametrize(
    "what,message",
    [("split", r"split\(s\) \['valid'\] missing"), ("key", r"split 'test' has no key\(s\) \['vision'\]"),
     ("shape", r"train/text must have shape \(N=8, T, 300\)"), ("nan", r"valid/vision holds NaN or inf values in 1 sample"),
     ("labels", r"labels must be sentiment scores in \[-3, 3\]"), ("count", "7 values for 8 samples")],
)
def test_malformed_affect_files_are_rejected_with_the_file_and_the_source(tmp_path, what, message):
    path = _dump(tmp_path / "mosi_data.pkl", _broken(synthetic_affect("mosi", n=8, seq_len=5), what))
    with pytest.raises(DataFileError, match=message) as e:
        load_affect("mosi", path)
    assert str(path) in str(e.value) and "MultiBench" in str(e.value)


def test_truncated_and_foreign_pickles_are_rejected(tmp_path):
    path = write_synthetic(tmp_path, "humor", n=6, seq_len=5)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataFileError, match="could not be read as a pickle.*truncated"):
        load_affect("humor", path)
    _dump(path, [1, 2, 3])
    with pytest.raises(DataFileError, match="expected a dict with keys"):
        load_affect("humor", path)
    bad = synthetic_affect("humor", n=6, seq_len=5)
    bad["test"]["labels"] = bad["test"]["labels"] + 2
    with pytest.raises(DataFileError, match="labels must be 0/1"):
        load_affect("humor", _dump(path, bad))


def test_mimic_task_split_and_preprocessing(tmp_path):
    raw = synthetic_mimic(n=100)
    data = load_mimic(write_synthetic(tmp_path, "mimic", n=100), split_seed=3)
    assert (len(data.train), len(data.valid), len(data.test)) == (80, 10, 10)
    assert [m.kind for m in data.modalities] == ["tabular", "timeseries"]
    static = np.concatenate([data.train.x[0], data.valid.x[0], data.test.x[0]])
    series = np.concatenate([data.train.x[1], data.valid.x[1], data.test.x[1]])
    assert np.isfinite(series).all()  # NaN -> 0 before the z-score
    np.testing.assert_allclose(static.mean(0), 0, atol=1e-5)  # a global z-score per feature
    np.testing.assert_allclose(static.std(0), 1, atol=1e-4)
    labels = np.concatenate([data.train.y, data.valid.y, data.test.y])
    assert sorted(labels) == sorted(raw["y_icd9"][:, 7])  # ICD-9 group 7 (460-519)
    again = load_mimic(tmp_path, split_seed=3)
    np.testing.assert_array_equal(again.test.x[1], data.test.x[1])  # the split is seeded


def test_malformed_mimic_files(tmp_path):
    raw = synthetic_mimic(n=30)
    path = tmp_path / "im.pk"
    with pytest.raises(DataFileError, match=r"key\(s\) \['y_icd9'\] missing.*physionet"):
        load_mimic(_dump(path, {k: v for k, v in raw.items() if k != "y_icd9"}))
    with pytest.raises(DataFileError, match=r"ep_tdata must have shape \(N=30, 24, 12\)"):
        load_mimic(_dump(path, {**raw, "ep_tdata": raw["ep_tdata"][:, :12]}))
    icd = raw["y_icd9"].astype(float)
    icd[0, 7] = np.nan
    with pytest.raises(DataFileError, match=r"y_icd9\[:, 7\] must hold 0/1 labels"):
        load_mimic(_dump(path, {**raw, "y_icd9": icd}))


def test_digits_are_two_halves_of_real_images():
    from sklearn.datasets import load_digits

    data = load_dataset("digits")
    assert (len(data.train), len(data.valid), len(data.test)) == (1078, 359, 360)
    top, bottom = data.test.x
    assert top.shape[1:] == (4, 8) and bottom.shape[1:] == (4, 8)
    images = load_digits().images / 16.0
    first = np.concatenate([top[0], bottom[0]])
    assert np.isclose(images, first).all(axis=(1, 2)).any()  # the two views reassemble a real image
    assert set(np.unique(data.train.y)) == set(range(10))


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", ["command", "builtins eval"])
def test_a_pickle_whose_unpickling_runs_code_is_refused_unread(tmp_path, payload):
    import builtins
    import pickle

    from coral_lab.data.features import DataFileError, load_dataset

    marker = tmp_path / "ran"
    evil = _RunsACommand(marker) if payload == "command" else type(
        "E", (), {"__reduce__": lambda self: (builtins.eval, (f"open({str(marker)!r}, 'w')",))})()
    (tmp_path / "mosi_data.pkl").write_bytes(pickle.dumps({"train": {"vision": evil}}))
    with pytest.raises(DataFileError, match="not a plain data pickle"):
        load_dataset("mosi", tmp_path)
    assert not marker.exists()
