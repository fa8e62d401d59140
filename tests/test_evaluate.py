import numpy as np
import pandas as pd
import pytest

from coral_lab.config import ProbeConfig
from coral_lab.evaluate import PAPER_TABLE1, extract_features, feature_sets, linear_probe, probe_model, summarize


def _blobs(n, n_classes, dim, rng, sep=4.0):
    centers = rng.normal(size=(n_classes, dim)) * sep
    y = rng.integers(0, n_classes, size=n)
    return centers[y] + rng.normal(size=(n, dim)), y


def test_probe_separates_separable_classes_and_is_at_chance_on_noise():
    rng = np.random.default_rng(0)
    x, y = _blobs(1200, 10, 16, rng)
    r = linear_probe(x[:1000], y[:1000], x[1000:], y[1000:], ProbeConfig(C_grid=(0.1, 1.0)))
    assert r.balanced_accuracy > 0.95 and r.C in (0.1, 1.0)
    noise = rng.normal(size=(1200, 16))
    r = linear_probe(noise[:1000], y[:1000], noise[1000:], y[1000:], ProbeConfig(C_grid=(0.1,)))
    assert r.balanced_accuracy < 0.25  # chance is 0.10


def test_balanced_accuracy_is_reported_for_rare_positives():
    # 10 % positives, uninformative features: plain accuracy would be ~90 %, balanced must be ~50 %
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 8))
    y = (rng.random(3000) < 0.1).astype(int)
    r = linear_probe(x[:2000], y[:2000], x[2000:], y[2000:], ProbeConfig(C_grid=(1.0,)))
    assert 0.4 < r.balanced_accuracy < 0.6


def test_the_probe_never_looks_at_test_labels():
    # C is chosen on a split of the training rows: shuffling the test labels must not change it
    rng = np.random.default_rng(2)
    x, y = _blobs(900, 5, 30, rng, sep=0.6)
    cfg = ProbeConfig(C_grid=(0.001, 0.01, 0.1, 1.0, 10.0))
    a = linear_probe(x[:600], y[:600], x[600:], y[600:], cfg)
    b = linear_probe(x[:600], y[:600], x[600:], rng.permutation(y[600:]), cfg)
    assert a.C == b.C and a.val_balanced_accuracy == b.val_balanced_accuracy


def test_linear_probe_rejects_bad_input():
    x = np.zeros((10, 3))
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match="same F"):
        linear_probe(x, y, np.zeros((5, 4)), y[:5])
    with pytest.raises(ValueError, match="NaN"):
        linear_probe(np.full((10, 3), np.nan), y, x, y)
    with pytest.raises(ValueError, match="single class"):
        linear_probe(x, np.zeros(10, int), x, y)
    with pytest.raises(ValueError, match="same number of rows"):
        linear_probe(x, y[:5], x, y)


def test_extract_features_is_deterministic_and_has_subspace_widths(ci_config, ci_benchmark):
    import torch

    from coral_lab.models import CoralModel

    torch.manual_seed(0)
    model = CoralModel(ci_config.model).train()
    f1 = extract_features(model, ci_benchmark.data.test, ci_benchmark.probe_test, batch_size=64)
    f2 = extract_features(model, ci_benchmark.data.test, ci_benchmark.probe_test, batch_size=50)
    d = ci_config.model.embed_dim
    n = len(ci_benchmark.probe_test)
    assert f1["shared"].shape == (n, d) and f1["unique1"].shape == (n, d // 2) and f1["unique2"].shape == (n, d // 2)
    for k in f1:
        np.testing.assert_allclose(f1[k], f2[k], rtol=1e-5, atol=1e-5)
    assert model.training  # the caller's mode is restored
    assert feature_sets(f1)["Z"].shape == (n, 2 * d)


def test_probe_model_table(ci_config, ci_benchmark):
    import torch

    from coral_lab.models import CoralModel

    torch.manual_seed(0)
    model = CoralModel(ci_config.model)
    df = probe_model(model, ci_benchmark, tasks=("share", "synergy"), subspaces=("Z", "shared"),
                     probe_cfg=ci_config.probe)
    assert list(df.columns) == ["task", "features", "balanced_accuracy", "C", "val_balanced_accuracy"]
    assert len(df) == 4 and df["balanced_accuracy"].between(0, 100).all()
    with pytest.raises(ValueError, match="unknown task"):
        probe_model(model, ci_benchmark, tasks=("colour",))
    with pytest.raises(ValueError, match="unknown feature set"):
        probe_model(model, ci_benchmark, tasks=("share",), subspaces=("unique7",))


def test_summarize_means_and_paper_columns():
    rows = pd.DataFrame({
        "seed": [41, 42, 41, 42],
        "column": ["redundancy", "redundancy", "synergy", "synergy"],
        "balanced_accuracy": [99.0, 98.0, 70.0, 80.0],
    })
    t = summarize(rows).set_index("column")
    assert t.loc["redundancy", "ours_mean"] == pytest.approx(98.5)
    assert t.loc["synergy", "ours_std"] == pytest.approx(np.std([70.0, 80.0], ddof=1))
    assert t.loc["synergy", "paper_mean"] == PAPER_TABLE1["COrAL"]["synergy"][0]
    assert t.loc["synergy", "chance"] == 50 and t.loc["redundancy", "chance"] == 10
    with pytest.raises(ValueError, match="columns"):
        summarize(rows.drop(columns="seed"))
