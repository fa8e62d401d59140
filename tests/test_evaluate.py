import numpy as np
import pandas as pd
import pytest

from coral_lab.config import ProbeConfig
from coral_lab.core.paper import PAPER_TABLE1
from coral_lab.evaluation.probe import (
    extract_features,
    feature_sets,
    linear_probe,
    probe_model,
    roc_auc,
    seed_std,
    summarize,
)


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
    assert list(df.columns) == ["task", "features", "balanced_accuracy", "C", "val_balanced_accuracy", "roc_auc", "protocol"]
    assert set(df["protocol"]) == {"held_out"}
    assert len(df) == 4 and df["balanced_accuracy"].between(0, 100).all() and df["roc_auc"].between(0, 100).all()
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
    assert t.loc["synergy", "ours_std"] == pytest.approx(5.0)  # np.std([70, 80]) with ddof 0, as the paper
    assert t.loc["synergy", "paper_mean"] == PAPER_TABLE1["COrAL"]["synergy"][0]
    assert t.loc["synergy", "chance"] == 50 and t.loc["redundancy", "chance"] == 10
    with pytest.raises(ValueError, match="columns"):
        summarize(rows.drop(columns="seed"))


# --------------------------------------------------------------------- the published probe's fit


def _weak_signal(n, rng, shift=0.5, positives=0.1, dim=8):
    """10 %-positive labels; the positives' first feature is shifted by ``shift`` standard deviations."""
    y = (rng.random(n) < positives).astype(int)
    x = rng.normal(size=(n, dim))
    x[:, 0] += shift * y
    return x, y


def _published_probe_predictions(x_train, y_train, x_test, cost):
    """An independent re-statement of the published probe's fit (COrAL / InfMasking code,
    evaluation/logistic_regression.py): a linear layer started at zero, L-BFGS with strong Wolfe line
    search, loss = mean cross-entropy + (1 / C) * 0.5 * ||W||_2, no class weights, no standardisation."""
    import torch

    xt = torch.as_tensor(x_train, dtype=torch.float64)
    yt = torch.as_tensor(y_train)
    layer = torch.nn.Linear(xt.shape[1], int(yt.max()) + 1).double()
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    opt = torch.optim.LBFGS(layer.parameters(), line_search_fn="strong_wolfe", max_iter=100)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(xt), yt) + 0.5 * layer.weight.norm(p=2) / cost
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return layer(torch.as_tensor(x_test, dtype=torch.float64)).argmax(1).numpy()


def _balanced(y, pred):
    return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))


def test_default_probe_is_the_published_unweighted_fit_on_a_weak_signal():
    # a weak signal for a rare class: the published fit predicts (almost) only the majority class and
    # scores ~50 % balanced accuracy; a class-balanced fit moves its threshold and reads ~58-60 %
    rng = np.random.default_rng(3)
    x, y = _weak_signal(12_000, rng)
    x_tr, y_tr, x_te, y_te = x[:8000], y[:8000], x[8000:], y[8000:]
    published = np.mean([_balanced(y_te, _published_probe_predictions(x_tr, y_tr, x_te, c)) for c in (1e-2, 1, 1e2)])
    ours = linear_probe(x_tr, y_tr, x_te, y_te, ProbeConfig(C_grid=(0.01, 1.0, 100.0)))
    balanced = linear_probe(x_tr, y_tr, x_te, y_te, ProbeConfig(C_grid=(0.01, 1.0, 100.0), class_weight="balanced"))
    assert ProbeConfig().class_weight is None
    assert 0.49 <= published <= 0.52
    assert abs(ours.balanced_accuracy - published) < 0.02
    assert 0.55 <= balanced.balanced_accuracy <= 0.63
    # the threshold-free ROC-AUC sees the signal in both fits (a 0.5 sd shift: AUC = Phi(0.5 / sqrt 2) ~ 0.64)
    assert 0.60 < ours.roc_auc < 0.68 and 0.60 < balanced.roc_auc < 0.68


def _auc_by_ranks(y, score):
    """The Mann-Whitney statistic: P(score of a positive > score of a negative), ties counting 1/2."""
    pos, neg = score[y == 1], score[y == 0]
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return greater + 0.5 * ties


def test_roc_auc_matches_the_rank_statistic_binary_and_one_vs_rest():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 300)
    p1 = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    proba = np.stack([1 - p1, p1], axis=1)
    assert roc_auc(y, proba, np.array([0, 1])) == pytest.approx(_auc_by_ranks(y, p1))
    y3 = rng.integers(0, 3, 300)
    proba3 = rng.dirichlet(np.ones(3), 300)
    proba3[np.arange(300), y3] += 0.2
    want = np.mean([_auc_by_ranks((y3 == c).astype(int), proba3[:, c]) for c in range(3)])
    assert roc_auc(y3, proba3, np.arange(3)) == pytest.approx(want)
    # classes absent from the test labels are left out; a single class has no AUC
    assert roc_auc(y3[y3 > 0], proba3[y3 > 0], np.arange(3)) == pytest.approx(
        np.mean([_auc_by_ranks((y3[y3 > 0] == c).astype(int), proba3[y3 > 0, c]) for c in (1, 2)]))
    assert np.isnan(roc_auc(np.zeros(5, int), proba[:5], np.array([0, 1])))


def test_seed_std_is_the_population_std_as_published():
    assert seed_std([70.0, 80.0]) == pytest.approx(np.std([70.0, 80.0]))  # ddof 0
    assert np.isnan(seed_std([70.0]))


def test_probe_config_rejects_unknown_class_weight_and_bad_grid():
    from coral_lab.config import get_preset

    for field, value, match in (("class_weight", "weighted", "class_weight"), ("C_grid", (), "C_grid"),
                                ("C_grid", (0.0, 1.0), "C_grid"), ("max_iter", -1, "max_iter")):
        with pytest.raises(ValueError, match=match):
            get_preset("ci").replace(probe={field: value}).validate()


def test_choose_C_scores_each_C_on_the_validation_rows_and_breaks_ties_towards_regularisation():
    from coral_lab.evaluation.probe import choose_C, fit_probe

    rng = np.random.default_rng(0)
    x, y = _blobs(300, 3, 5, rng)
    cfg = ProbeConfig(C_grid=(0.01, 1.0, 100.0), max_iter=200)
    best, score, clf = choose_C(x[:200], y[:200], x[200:], y[200:], cfg, lambda t, p: 0.5)  # every C ties
    assert best == 0.01 and score == 0.5
    np.testing.assert_array_equal(clf.predict(x), fit_probe(x[:200], y[:200], 0.01, 200).predict(x))
    calls = []
    best, _, _ = choose_C(x[:200], y[:200], x[200:], y[200:], cfg, lambda t, p: calls.append(1) or len(calls))
    assert best == 100.0 and len(calls) == 3  # the last C scored highest here


def test_the_feature_data_probe_is_the_trifeature_probe_with_the_given_validation_split():
    from coral_lab.evaluation.probe import fit_probe
    from coral_lab.multibench.probe import probe_splits
    from sklearn.metrics import accuracy_score

    rng = np.random.default_rng(1)
    x, y = _blobs(300, 2, 4, rng, sep=1.0)
    xs = {"train": x[:150], "valid": x[150:225], "test": x[225:]}
    ys = {"train": y[:150], "valid": y[150:225], "test": y[225:]}
    cfg = ProbeConfig(C_grid=(0.001, 1.0), max_iter=200)
    r = probe_splits(xs, ys, cfg)
    clf = fit_probe(xs["train"], ys["train"], r["C"], 200)  # fitted on train alone, no refit
    assert r["accuracy"] == pytest.approx(100 * accuracy_score(ys["test"], clf.predict(xs["test"])))
