"""The published Trifeature probe as a replica (coral_lab.evaluation.published_probe) and its place beside the
held-out probe."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from coral_lab.config import ProbeConfig, get_preset, runs
from coral_lab.evaluation.probe import linear_probe, probe_model, protocol_rows, published_probe_model, with_protocol
from coral_lab.evaluation.published_probe import (
    COARSE_COSTS,
    LbfgsProbe,
    fine_costs,
    fit_published_probe,
    macro_accuracy,
    published_penalty,
    search_cost,
)
from coral_lab.inputs.sources import CropDraw

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------------ the pieces, by hand


def test_the_penalty_is_half_the_unsquared_norm_over_C():
    w = torch.tensor([[3.0, 0.0], [0.0, 4.0]])  # ||W||_2 = 5, ||W||^2 = 25
    assert published_penalty(w, 2.0).item() == pytest.approx(0.25 * 5.0)
    assert published_penalty(w, 0.5).item() == pytest.approx(1.0 * 5.0)
    assert published_penalty(w, 2.0).item() != pytest.approx(0.25 * 25.0)  # not the square
    for bad in (0, -1.0, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="C must be"):
            published_penalty(w, bad)


def test_the_classifier_starts_at_zero_and_its_loss_is_cross_entropy_plus_the_penalty():
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 1])
    probe = LbfgsProbe(C=1.0, max_iter=1)
    probe.linear = torch.nn.Linear(2, 2)
    torch.nn.init.zeros_(probe.linear.weight)
    torch.nn.init.zeros_(probe.linear.bias)
    assert probe.loss(x, y).item() == pytest.approx(math.log(2))  # uniform softmax, no penalty at W = 0
    probe.loss(x, y).backward()  # the norm's gradient at W = 0 is finite
    assert torch.isfinite(probe.linear.weight.grad).all()
    with torch.no_grad():
        probe.linear.weight.copy_(torch.tensor([[0.6, 0.0], [0.0, 0.8]]))  # ||W|| = 1
    logits = x @ probe.linear.weight.T
    expected = torch.nn.functional.cross_entropy(logits, y).item() + 0.5 * 1.0
    assert probe.loss(x, y).item() == pytest.approx(expected, rel=1e-6)


def test_the_classifier_fits_a_separable_problem_and_has_one_output_per_class_present():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=gen)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()  # 4 classes
    probe = LbfgsProbe(C=1e4).fit(x, y)
    assert probe.linear.weight.shape == (4, 5)
    assert (probe.predict(x) == y).float().mean().item() > 0.95
    assert probe.predict_proba(x).sum(1).allclose(torch.ones(200))
    with pytest.raises(ValueError, match="single class"):
        LbfgsProbe(1.0).fit(x, torch.zeros(200, dtype=torch.long))
    with pytest.raises(ValueError, match="labels must be 0 .. 1"):
        LbfgsProbe(1.0).fit(x, torch.where(y > 0, 3, 0))  # two classes present, labelled 0 and 3
    with pytest.raises(ValueError, match="NaN"):
        LbfgsProbe(1.0).fit(x.masked_fill(x > 2, float("nan")), y)
    with pytest.raises(ValueError, match="labels must be"):
        LbfgsProbe(1.0).fit(x, y[:10])
    with pytest.raises(RuntimeError, match="fit the probe"):
        LbfgsProbe(1.0).predict(x)


def test_macro_accuracy_is_balanced_accuracy_and_counts_a_predicted_absent_class_as_zero():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, 4, 300))
    assert macro_accuracy(y, pred, 4) == pytest.approx(balanced_accuracy_score(y, pred))
    # class 2 never occurs but is predicted once: torchmetrics' macro mean counts it with recall 0
    y2, p2 = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    assert macro_accuracy(y2, p2, 3) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    with pytest.raises(ValueError, match="one shape"):
        macro_accuracy(y2, p2[:3], 3)
    with pytest.raises(ValueError, match="lie in"):
        macro_accuracy(y2, p2, 2)


def test_fine_costs_are_29_float32_log_steps_over_four_decades_kept_inside_the_range():
    costs = fine_costs(1e2)
    assert len(costs) == 29 and costs == sorted(costs)
    assert np.allclose(np.log10(costs), np.linspace(0, 4, 29), atol=1e-6)
    assert costs[14] == 100.0  # 10^2 is exact in float32, so the coarse best is not fitted again
    assert len(fine_costs(1e6)) == 15 and max(fine_costs(1e6)) <= 1e6  # the upper half is cut
    assert len(fine_costs(1e-6)) == 15 and min(fine_costs(1e-6)) == pytest.approx(1e-6)  # the lower half is cut


def test_the_cost_search_visits_costs_in_the_published_order():
    # score peaks at C = 1e3; worked by hand: the coarse sweep ties 1e2 and 1e4 (both -1) and keeps the first,
    # then the halving rounds over 10^(0 .. 4) in steps of 1/7 decade
    visited = search_cost(lambda c: -abs(math.log10(c) - 3))[2]
    expected = [*COARSE_COSTS, 1e1, 1e3, 10 ** (2 + 3 / 7), 10 ** (2 + 11 / 7), 10 ** (2 + 5 / 7),
                10 ** (2 + 9 / 7), 10 ** (2 + 6 / 7), 10 ** (2 + 8 / 7)]
    assert len(visited) == len(expected)
    assert np.allclose(np.log10(visited), np.log10(expected), atol=1e-5)
    best, score, _ = search_cost(lambda c: -abs(math.log10(c) - 3))
    assert best == pytest.approx(1e3, rel=1e-5) and score == pytest.approx(0.0, abs=1e-5)
    # a flat score: the first coarse cost wins and the halving keeps the first half each round
    flat_best, _, flat_visited = search_cost(lambda c: 0.5)
    assert flat_best == 1e-6 and flat_visited[:7] == list(COARSE_COSTS)


# ------------------------------------------------------------------------------ the protocol on features


def _codes(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_features_that_carry_a_per_pair_code_score_far_above_chance_only_under_the_published_protocol():
    # every pair has its own random code and a random label: nothing generalises from probe-train to
    # test, but the test pairs' fitted copy carries their labels to the scored copy (a second "crop" = noise)
    rng = np.random.default_rng(1)
    x_tr, y_tr = _codes(600, 512, 2), rng.integers(0, 10, 600)
    code, y_te = _codes(300, 512, 3), rng.integers(0, 10, 300)
    fitted = code + 0.1 * _codes(300, 512, 4)
    scored = code + 0.1 * _codes(300, 512, 5)
    held_out = linear_probe(x_tr, y_tr, scored, y_te, ProbeConfig(C_grid=(0.01, 1.0)), seed=0).balanced_accuracy
    fit = fit_published_probe(x_tr, y_tr, fitted, y_te)
    published = macro_accuracy(y_te, fit.classifier.predict(torch.from_numpy(scored)).numpy(), 10)
    shuffled_fit = fit_published_probe(x_tr, y_tr, fitted, rng.permutation(y_te))
    shuffled = macro_accuracy(y_te, shuffled_fit.classifier.predict(torch.from_numpy(scored)).numpy(), 10)
    assert held_out < 0.2  # chance is 0.1
    assert published > 0.8  # memorised
    assert shuffled < 0.25  # the memorisation control: wrong labels memorised, chance against the true ones
    assert fit.costs_fitted[:7] == COARSE_COSTS


def test_features_that_carry_the_label_score_alike_under_both_protocols():
    rng = np.random.default_rng(6)
    centres = _codes(10, 32, 7) * 3
    y_tr, y_te = rng.integers(0, 10, 800), rng.integers(0, 10, 300)
    x_tr = centres[y_tr] + _codes(800, 32, 8)
    fitted, scored = centres[y_te] + _codes(300, 32, 9), centres[y_te] + _codes(300, 32, 10)
    held_out = linear_probe(x_tr, y_tr, scored, y_te, ProbeConfig(), seed=0).balanced_accuracy
    fit = fit_published_probe(x_tr, y_tr, fitted, y_te)
    published = macro_accuracy(y_te, fit.classifier.predict(torch.from_numpy(scored)).numpy(), 10)
    assert held_out > 0.9 and abs(published - held_out) < 0.05


# ------------------------------------------------------------------------------ the protocol on a model


def test_crop_draws_repeat_with_their_seed_differ_between_draws_and_a_full_crop_is_the_plain_input():
    images = torch.randint(0, 256, (6, 16, 16, 3), dtype=torch.uint8)
    a = CropDraw(torch.Generator().manual_seed(1)).apply(images)
    b = CropDraw(torch.Generator().manual_seed(1)).apply(images)
    c = CropDraw(torch.Generator().manual_seed(2)).apply(images)
    assert a.shape == (6, 3, 16, 16) and torch.equal(a, b) and not torch.allclose(a, c)
    from coral_lab.inputs.augment import to_model_input

    full = CropDraw(torch.Generator().manual_seed(1), scale=(1.0, 1.0)).apply(images)  # aspect 1 only fits
    assert torch.allclose(full, to_model_input(images), atol=1e-5)


@pytest.fixture(scope="module")
def tiny_model(ci_config):
    from coral_lab.models import CoralModel

    torch.manual_seed(0)
    return CoralModel(ci_config.model)


def test_the_published_probe_of_a_model_names_its_protocol_and_reads_two_crop_copies(tiny_model, ci_benchmark):
    df = published_probe_model(tiny_model, ci_benchmark, tasks=("share", "synergy"), subspaces=("Z", "shared"),
                               seed=41, n_pairs=300)
    assert list(df["protocol"]) == ["published"] * 4
    assert list(zip(df["task"], df["features"])) == [("share", "Z"), ("share", "shared"), ("synergy", "Z"),
                                                     ("synergy", "shared")]
    assert df["balanced_accuracy"].between(0, 100).all() and (df["C"] > 0).all()
    again = published_probe_model(tiny_model, ci_benchmark, tasks=("share",), subspaces=("Z",), seed=41, n_pairs=300)
    assert again["balanced_accuracy"].iloc[0] == df["balanced_accuracy"].iloc[0]  # the crops come from the seed
    control = published_probe_model(tiny_model, ci_benchmark, tasks=("share",), subspaces=("Z",), seed=41,
                                    n_pairs=300, shuffle_fitted_labels=True)
    assert list(control["protocol"]) == ["published_shuffled"]
    with pytest.raises(ValueError, match="unknown task"):
        published_probe_model(tiny_model, ci_benchmark, tasks=("colour",), n_pairs=300)
    with pytest.raises(ValueError, match="unknown feature set"):
        published_probe_model(tiny_model, ci_benchmark, tasks=("share",), subspaces=("W",), n_pairs=300)


def test_probe_model_follows_the_configs_protocol(tiny_model, ci_benchmark, monkeypatch):
    import coral_lab.evaluation.probe as evaluate

    monkeypatch.setattr(evaluate, "PROBE_PAIRS", 300)  # the published 10,000 pairs take a while at test scale
    held = probe_model(tiny_model, ci_benchmark, tasks=("share",), probe_cfg=ProbeConfig())
    pub = probe_model(tiny_model, ci_benchmark, tasks=("share",), probe_cfg=ProbeConfig(protocol="published"))
    assert list(held["protocol"]) == ["held_out"] and list(pub["protocol"]) == ["published"]
    direct = published_probe_model(tiny_model, ci_benchmark, tasks=("share",), n_pairs=300)
    assert pub["balanced_accuracy"].iloc[0] == direct["balanced_accuracy"].iloc[0] and pub["C"].iloc[0] == direct["C"].iloc[0]
    assert held["C"].iloc[0] in ProbeConfig().C_grid


def test_the_bench_draws_the_published_pair_sets_as_its_own(ci_benchmark):
    n_train, n_test = len(ci_benchmark.probe_train), len(ci_benchmark.probe_test)
    tr, te = ci_benchmark.probe_pairs(n_train)
    assert np.array_equal(tr.idx1, ci_benchmark.probe_train.idx1)
    tr, te = ci_benchmark.probe_pairs(10_000)
    assert len(tr) == 10_000 and len(te) >= n_test  # the test split's whole pool (fewer than 10,000 pairs)
    shapes = ci_benchmark.data.test.shape
    assert np.array_equal(shapes[te.idx1], shapes[te.idx2])
    assert len(set(zip(te.idx1, te.idx2))) == len(te)  # distinct pairs


# ------------------------------------------------------------------------------ protocols in tables and folders


def test_rows_without_a_protocol_are_held_out_and_protocols_are_never_mixed():
    old = pd.DataFrame({"column": ["redundancy"], "balanced_accuracy": [60.0]})
    assert list(with_protocol(old)["protocol"]) == ["held_out"]
    rows = pd.concat([with_protocol(old), old.assign(protocol="published", balanced_accuracy=90.0)])
    assert list(protocol_rows(rows, "published")["balanced_accuracy"]) == [90.0]
    with pytest.raises(ValueError, match="unknown probe protocol"):
        protocol_rows(rows, "leaky")


def test_each_protocol_has_its_own_table_and_a_held_out_config_keeps_its_identity():
    assert runs.probe_table("held_out") == "probe.csv"
    assert runs.probe_table("published") == "probe_published.csv"
    assert runs.probe_table("published", runs.PROBE_COMMAND) == "probe_cli_published.csv"
    with pytest.raises(ValueError, match="unknown probe protocol"):
        runs.probe_table("test")
    cfg = get_preset("quick")
    assert "protocol" not in cfg.experiment_dict()["probe"]  # the default is neutral: old hashes hold
    assert runs.config_hash(cfg) != runs.config_hash(cfg.replace(probe={"protocol": "published"}))
    assert cfg.pretrain_dict() == cfg.replace(probe={"protocol": "published"}).pretrain_dict()
    with pytest.raises(ValueError, match="probe.protocol must be one of"):
        cfg.replace(probe={"protocol": "leaky"}).validate()
    with pytest.raises(ValueError, match="feature data set is probed"):
        get_preset("ci", "digits").replace(probe={"protocol": "published"}).validate()


def test_a_unit_keeps_each_protocols_rows_in_its_own_file_and_reuses_its_checkpoint(ci_config, tmp_path):
    from coral_lab.evaluation.protocol import run_unit

    cfg = ci_config.replace(train={"epochs": 1})
    held = run_unit(cfg, 41, "biased", tmp_path, device="cpu", progress=False)
    unit = runs.unit_dir(tmp_path, 41, "biased")
    ckpt = (unit / runs.CHECKPOINT).stat().st_mtime_ns
    probe_csv = (unit / runs.PROBE).read_bytes()
    both = run_unit(cfg, 41, "biased", tmp_path, device="cpu", progress=False, protocols=("held_out", "published"))
    assert (unit / runs.CHECKPOINT).stat().st_mtime_ns == ckpt  # probed again, not trained again
    assert (unit / runs.PROBE).read_bytes() == probe_csv  # the held-out rows were read, not rewritten
    assert (unit / "probe_published.csv").is_file()
    pub = both[both["protocol"] == "published"]
    # the published protocol probes what the released script scores: synergy, from Z, for a biased unit
    assert list(zip(pub["task"], pub["features"], pub["column"])) == [("synergy", "Z", "synergy")]
    pd.testing.assert_frame_equal(both[both["protocol"] == "held_out"].reset_index(drop=True),
                                  held.reset_index(drop=True))
    again = run_unit(cfg, 41, "biased", tmp_path, device="cpu", progress=False, protocols=("published",))
    pd.testing.assert_frame_equal(again.reset_index(drop=True), pub.reset_index(drop=True))
    with pytest.raises(ValueError, match="unknown probe protocol"):
        run_unit(cfg, 41, "biased", tmp_path, device="cpu", progress=False, protocols=("test_pairs",))
