"""coral_lab.experiments.study: learning-curve units probed at checkpoints, resumable; the study table and figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from coral_lab.experiments import study
from coral_lab.experiments.study import Variant, collect_curves, final_scores, probe_epochs, run_curve_unit, run_study

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def tiny(ci_config):
    # 3 epochs of 64 pairs: every code path of a unit in seconds
    return ci_config.replace(data={"n_train_pairs": 64}, train={"epochs": 3})


def test_probe_epochs_include_the_last():
    assert probe_epochs(10, 4) == [4, 8, 10]
    assert probe_epochs(3, 1) == [1, 2, 3]
    assert probe_epochs(2, 5) == [2]
    with pytest.raises(ValueError, match="positive int"):
        probe_epochs(10, 0)


def test_unit_kinds_change_what_they_name(tiny):
    v = Variant("v", "v", {"train": {"mask_schedule": 0.5}})
    assert study.variant_unit_config(tiny, v, 41, "biased").train.mask_schedule == 0.5
    assert study.variant_unit_config(tiny, v, 41, "biased-no-mask").train.mask_schedule is None
    assert study.variant_unit_config(tiny, v, 41, "unbiased-no-ortho").loss.lambda_o == 0.0
    assert study.variant_unit_config(tiny, v, 42, "unbiased").train.train_set == "unbiased"
    assert study.variant_unit_config(tiny, v, 42, "unbiased").train.seed == 42
    with pytest.raises(ValueError, match="unknown unit kind"):
        Variant("w", "w", units=("biased", "sideways"))
    with pytest.raises(ValueError, match="plain folder name"):
        Variant("../x", "x")


def test_a_unit_is_probed_at_its_checkpoints_and_resumes_without_repeating(tiny, ci_benchmark, tmp_path):
    v = Variant("v", "v")
    # stop after epoch 2 by making the first call's config think it has only 2 epochs to probe at
    rows = run_curve_unit(tiny, v, 41, "biased", tmp_path, every=2, benchmark=ci_benchmark)
    assert sorted(rows["epoch"].unique()) == [2, 3]
    assert set(zip(rows["task"], rows["features"])) == {("synergy", "Z"), ("synergy", "shared")} | {
        (m, study.ONE_MODALITY) for m in ("texture 1 | image 1 only", "color 2 | image 2 only",
                                          "transfer: color-2 probe on image 1 -> pi(texture 1)")}
    assert list(rows.columns) == study.CURVE_COLUMNS
    assert (rows.groupby("epoch")["train_seconds"].first().diff().dropna() > 0).all()
    assert rows["pairs_seen"].max() == 3 * 64
    z = rows[rows["features"] != study.ONE_MODALITY]
    assert rows["balanced_accuracy"].between(0, 100).all() and z["roc_auc"].between(0, 100).all()
    # run again: nothing is trained or probed twice
    again = run_curve_unit(tiny, v, 41, "biased", tmp_path, every=2, benchmark=ci_benchmark)
    pd.testing.assert_frame_equal(again, rows)
    # a longer schedule of the same config is a different run: the checkpoint refuses it
    from coral_lab.core.io import CheckpointError

    with pytest.raises(CheckpointError, match="different configuration"):
        run_curve_unit(tiny.replace(train={"epochs": 4}), v, 41, "biased", tmp_path, every=2, benchmark=ci_benchmark)


def test_an_interrupted_unit_keeps_its_probes_and_trains_on(tiny, ci_benchmark, tmp_path):
    from coral_lab.training.pretrain import pretrain

    v = Variant("v", "v")
    ucfg = study.variant_unit_config(tiny, v, 41, "unbiased")
    unit_dir = tmp_path / "v" / "seed41-unbiased"
    # killed after epoch 2, before any probe: epoch 1's weights are gone, epoch 2's are the checkpoint
    pretrain(ucfg, unit_dir, benchmark=ci_benchmark, device="cpu", progress=False, max_epochs_this_call=2)
    rows = run_curve_unit(tiny, v, 41, "unbiased", tmp_path, every=1, benchmark=ci_benchmark)
    assert sorted(rows["epoch"].unique()) == [2, 3]
    assert set(rows["task"]) == {"share", "unique1", "unique2"}


def test_run_study_collects_every_unit_and_the_final_table(tiny, ci_benchmark, tmp_path, monkeypatch):
    variants = [Variant("a", "A", {}, ("unbiased", "biased")), Variant("b", "B", {"loss": {"lambda_o": 3.0}}, ("biased",))]
    monkeypatch.setitem(study.STUDIES, "tiny", lambda: variants)
    seen = []
    curves = run_study("tiny", tiny, tmp_path, seeds=[41], every=3, device="cpu",
                       on_unit_end=lambda v, s, u, rows: seen.append((v, s, u)))
    assert seen == [("a", 41, "unbiased"), ("a", 41, "biased"), ("b", 41, "biased")]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "curves.csv"), curves)
    pd.testing.assert_frame_equal(collect_curves(tmp_path), curves)
    table = final_scores(curves).set_index("variant")
    a = curves[(curves["variant"] == "a") & (curves["task"] == "share")]
    assert table.loc["a", "R"] == pytest.approx(a["balanced_accuracy"].iloc[0])
    assert pd.isna(table.loc["b", "R"]) and table.loc["b", "n_seeds"] == 1
    with pytest.raises(ValueError, match="unknown variant"):
        run_study("tiny", tiny, tmp_path, seeds=[41], every=1, variants=["c"])
    with pytest.raises(ValueError, match="unknown study"):
        run_study("nope", tiny, tmp_path, seeds=[41], every=1)
    with pytest.raises(ValueError, match="unknown unit kind"):
        run_study("tiny", tiny, tmp_path, seeds=[41], every=1, units=["sideways"])
    # units= replaces each variant's own: b's unbiased unit is trained too
    seen.clear()
    run_study("tiny", tiny, tmp_path, seeds=[41], every=3, variants=["b"], units=["unbiased"],
              on_unit_end=lambda v, s, u, rows: seen.append((v, s, u)))
    assert seen == [("b", 41, "unbiased")]


def test_study_figure_draws_masked_and_unmasked_curves(tmp_path):
    from coral_lab.drawing.figures import study_figure

    rows = []
    for unit, task, acc in (("biased", "synergy", 70.0), ("biased-no-mask", "synergy", 50.0),
                            ("unbiased", "unique1", 60.0), ("unbiased-no-ortho", "unique1", 55.0),
                            ("unbiased", "share", 80.0)):
        for epoch in (1, 2):
            rows.append({"variant": "v", "unit": unit, "seed": 41, "epoch": epoch, "train_seconds": 60.0 * epoch,
                         "task": task, "features": "Z", "balanced_accuracy": acc + epoch})
    fig = study_figure(pd.DataFrame(rows))
    s, u, r = fig.axes
    assert len(s.lines) == 3 and len(u.lines) == 3 and len(r.lines) == 2  # two curves + chance, one + chance
    assert list(s.lines[0].get_ydata()) == [71.0, 72.0] and list(s.lines[0].get_xdata()) == [1.0, 2.0]
    assert s.lines[1].get_linestyle() == "--"


def test_run_study_with_two_workers_matches_one_process(tiny, ci_benchmark, tmp_path, monkeypatch):
    # two units in two spawned worker processes (one torch thread each, as here) give the same curves as
    # the same units trained one after the other in this process
    variants = [Variant("a", "A", {}, ("unbiased",)), Variant("b", "B", {"loss": {"lambda_o": 3.0}}, ("unbiased",))]
    monkeypatch.setitem(study.STUDIES, "tiny", lambda: variants)
    seen = []
    serial = run_study("tiny", tiny, tmp_path / "serial", seeds=[41], every=3, device="cpu")
    parallel = run_study("tiny", tiny, tmp_path / "parallel", seeds=[41], every=3, device="cpu", jobs=2,
                         on_unit_end=lambda v, s, u, rows: seen.append((v, s, u)))
    assert sorted(seen) == [("a", 41, "unbiased"), ("b", 41, "unbiased")]
    key = ["variant", "seed", "unit", "epoch", "task", "features"]
    cols = key + ["balanced_accuracy"]
    pd.testing.assert_frame_equal(serial[cols].sort_values(key).reset_index(drop=True),
                                  parallel[cols].sort_values(key).reset_index(drop=True))
    with pytest.raises(ValueError, match="jobs must be a positive int"):
        run_study("tiny", tiny, tmp_path / "x", seeds=[41], every=3, jobs=0)


def test_a_unit_is_probed_under_each_protocol_and_a_protocol_added_later_reads_the_checkpoint(
        tiny, ci_benchmark, tmp_path, monkeypatch):
    import coral_lab.evaluation.probe as evaluate

    monkeypatch.setattr(evaluate, "PROBE_PAIRS", 300)  # the published 10,000 pairs take a while at test scale
    v = Variant("v", "v")
    held = run_curve_unit(tiny, v, 41, "unbiased", tmp_path, every=2, benchmark=ci_benchmark)
    assert set(held["protocol"]) == {"held_out"} and sorted(held["epoch"].unique()) == [2, 3]
    both = run_curve_unit(tiny, v, 41, "unbiased", tmp_path, every=2, benchmark=ci_benchmark,
                          protocols=("held_out", "published"))
    pub = both[both["protocol"] == "published"]
    # epoch 2's weights are gone: the published probe reads the checkpoint (epoch 3), on the scored tasks from Z
    assert sorted(pub["epoch"].unique()) == [3]
    assert sorted(zip(pub["task"], pub["features"])) == [("share", "Z"), ("unique1", "Z")]
    pd.testing.assert_frame_equal(both[both["protocol"] == "held_out"].reset_index(drop=True), held)
    table = final_scores(both, protocol="published").set_index("variant")
    assert table.loc["v", "R"] == pytest.approx(pub.loc[pub["task"] == "share", "balanced_accuracy"].iloc[0])
    assert table.loc["v", "protocol"] == "published"
    again = run_curve_unit(tiny, v, 41, "unbiased", tmp_path, every=2, benchmark=ci_benchmark,
                           protocols=("published",))
    pd.testing.assert_frame_equal(again, both)  # nothing probed twice


def test_the_audit_table_and_figure_hold_every_score_per_protocol():
    from coral_lab.config import get_preset
    from coral_lab.drawing.figures import audit_figure

    rows = []
    for variant, epochs in (("d64", (10,)), ("d512", (10,)), ("e30", (10, 20, 30)), ("px64", (10,)),
                            ("px64-m974", (10,))):
        for unit, task in (("unbiased", "share"), ("unbiased", "unique1"), ("biased", "synergy"),
                           ("biased-no-mask", "synergy")):
            for epoch in epochs:
                for protocol, shift in (("held_out", 0.0), ("published", 10.0)):
                    rows.append({"variant": variant, "unit": unit, "seed": 41, "epoch": epoch, "pairs_seen": 0,
                                 "train_seconds": 1.0, "probe_seconds": 1.0, "protocol": protocol, "task": task,
                                 "features": "Z", "balanced_accuracy": 50.0 + shift + epoch / 10, "val_balanced_accuracy": 0.0,
                                 "roc_auc": 60.0, "C": 1.0})
    curves = pd.DataFrame(rows)
    table = study.audit_table(curves, get_preset("quick"))
    assert set(table["score"]) == {"R", "U", "S", "S (no masking)"}
    d512 = table[(table["variant"] == "d512") & (table["score"] == "R")].set_index("protocol")
    assert d512.loc["published", "z_dim"] == 1024 and d512.loc["published", "balanced_accuracy"] == 61.0
    assert set(table.loc[table["variant"] == "px64", "image_size"]) == {64}
    assert set(table.loc[table["variant"] == "e30", "epochs"]) == {30}
    fig = audit_figure(table)
    r_width, r_budget = fig.axes[0], fig.axes[3]
    assert len(r_width.lines) >= 2 and len(r_budget.lines) >= 2  # one line per protocol
    held = next(line for line in r_width.lines if list(line.get_xdata()) == [128.0, 1024.0])
    assert list(held.get_ydata()) == [51.0, 51.0]
    # the input row: the five inputs in their order, the ones not run left as gaps
    r_input = fig.axes[6]
    assert [t.get_text().split("\n")[0] for t in r_input.get_xticklabels()] == ["32 px"] * 2 + ["64 px", "32 px", "64 px"]
    held = r_input.lines[0]
    assert list(held.get_xdata()) == [0, 1, 2, 3, 4]
    assert np.isnan(held.get_ydata()[[1, 3]]).all() and list(held.get_ydata()[[0, 2, 4]]) == [51.0] * 3

    # the budget row: the preset's curves solid, the 60-epoch candidate's dash-dot, one per protocol
    e60 = [rr for rr in rows if rr["variant"] == "px64-m974"]
    extra = [{**rr, "variant": "px64-m974-e60", "epoch": e, "balanced_accuracy": rr["balanced_accuracy"] + (e - 10) / 10}
             for rr in e60 if rr["unit"] != "biased-no-mask" for e in (10, 60)]
    fig = audit_figure(study.audit_table(pd.concat([curves, pd.DataFrame(extra)]), get_preset("quick")))
    dashdot = [line for line in fig.axes[3].lines if line.get_linestyle() == "-."]
    assert len(dashdot) == 2 and sorted(line.get_color() for line in dashdot) == sorted(
        {line.get_color() for line in fig.axes[3].lines if line.get_linestyle() == "-"})
    assert [list(line.get_xdata()) for line in dashdot] == [[10.0, 60.0]] * 2
    assert sorted(float(line.get_ydata()[1]) for line in dashdot) == [56.0, 66.0]
    # S: the candidate's unmasked unit beside its masked one, dash-dot too, told apart by the marker
    unmasked = [{**rr, "variant": "px64-m974-e60", "epoch": e, "balanced_accuracy": 50.0}
                for rr in rows if rr["variant"] == "px64-m974" and rr["unit"] == "biased-no-mask" for e in (10, 60)]
    fig = audit_figure(study.audit_table(pd.concat([curves, pd.DataFrame(extra + unmasked)]), get_preset("quick")))
    s_dashdot = [line for line in fig.axes[5].lines if line.get_linestyle() == "-."]
    assert sorted(line.get_marker() for line in s_dashdot) == ["^", "^", "v", "v"]
    assert all(list(line.get_ydata()) == [50.0, 50.0] for line in s_dashdot if line.get_marker() == "v")
    assert len([line for line in fig.axes[3].lines if line.get_linestyle() == "-."]) == 2  # R has no unmasked unit


def test_the_audit_budget_row_counts_a_seed_once_where_two_variants_probed_it():
    """d64's last epoch is e100's tenth: seed 41 probed by both must enter the epoch-10 mean once, beside
    seed 42 (probed by d64 only)."""
    from coral_lab.drawing.figures import audit_figure

    rows = []
    for variant, epochs, seed, value in (("d64", 10, 41, 50.0), ("e100", 100, 41, 50.0), ("d64", 10, 42, 70.0)):
        for epoch in sorted({10, epochs}):
            rows.append({"variant": variant, "label": variant, "z_dim": 128, "image_size": 32, "stem_stride": 2,
                         "epochs": epochs, "epoch": epoch, "pairs_seen": 0, "unit": "unbiased", "seed": seed,
                         "protocol": "held_out", "score": "R", "balanced_accuracy": value + (epoch - 10) / 10,
                         "roc_auc": 60.0})
    fig = audit_figure(pd.DataFrame(rows))
    budget = fig.axes[3].lines[0]
    assert list(budget.get_xdata()) == [10.0, 100.0]
    assert list(budget.get_ydata()) == [60.0, 59.0]  # (50 + 70) / 2, not (50 + 50 + 70) / 3


def test_the_audit_mask_variants_hide_a_whole_modality_as_often_as_the_preset():
    """tokens4x4-m974 and px64-m974 are their 4 x 4 siblings with one change: a static ratio m whose 16
    tokens are all masked (m^16) as often as the preset's 4 tokens at 90 % (0.9^4)."""
    from coral_lab.config import get_preset

    cfg, table = get_preset("quick"), study.study_variants("audit")
    preset_tokens = 4  # 32 px through the quick preset's stride-2 stem: 2 x 2 tokens
    for name in ("tokens4x4", "px64"):
        base = study.variant_unit_config(cfg, table[name], 41, "biased")
        masked = study.variant_unit_config(cfg, table[f"{name}-m974"], 41, "biased")
        assert masked.replace(train={"mask_schedule": base.train.mask_schedule}) == base
        m = masked.train.mask_schedule
        assert abs(m ** 16 - cfg.train.mask_schedule ** preset_tokens) < 1e-3 and m != base.train.mask_schedule
        assert set(table[f"{name}-m974"].units) == {"biased", "unbiased"}


def test_the_audit_60_epoch_candidate_is_the_64_px_97_percent_model_trained_longer():
    """px64-m974-e60 differs from px64-m974 in the epochs alone, for both of px64-m974's units; its third unit
    is the biased one unmasked (Table 3's contrast), which differs from the biased unit in the mask alone."""
    from coral_lab.config import get_preset

    cfg, table = get_preset("quick"), study.study_variants("audit")
    for unit in ("biased", "unbiased"):
        short = study.variant_unit_config(cfg, table["px64-m974"], 41, unit)
        long = study.variant_unit_config(cfg, table["px64-m974-e60"], 41, unit)
        assert long.train.epochs == 60 and short.train.epochs == cfg.train.epochs == 10
        assert long.replace(train={"epochs": short.train.epochs}) == short
    assert set(table["px64-m974-e60"].units) == {"biased", "unbiased", "biased-no-mask"}
    masked = study.variant_unit_config(cfg, table["px64-m974-e60"], 41, "biased")
    unmasked = study.variant_unit_config(cfg, table["px64-m974-e60"], 41, "biased-no-mask")
    assert masked.train.mask_schedule == 0.974 and unmasked.train.mask_schedule is None
    assert unmasked.replace(train={"mask_schedule": 0.974}) == masked


def test_the_hour_preset_is_the_audit_60_epoch_candidate():
    """The hour preset (issue 24 part 4: the nearest configuration to Table 1 made a preset) trains every unit
    exactly as the audit's px64-m974-e60 variant of the quick preset did, so its committed curves are the
    preset's; only the preset's name differs."""
    from coral_lab.config import get_preset
    from coral_lab.experiments.units import unit_config

    quick, hour = get_preset("quick"), get_preset("hour")
    variant = study.study_variants("audit")["px64-m974-e60"]
    for unit in ("unbiased", "biased", "biased-no-mask", "unbiased-no-ortho"):
        train_set, changes = study.UNIT_KINDS[unit]
        from_study = study.variant_unit_config(quick, variant, 41, unit)
        from_preset = unit_config(hour.replace(**changes), 41, train_set).validate()
        assert from_study.preset == "quick" and from_preset.preset == "hour"
        assert from_study.replace(preset="hour") == from_preset
    assert (hour.data.image_size, hour.train.epochs, hour.train.mask_schedule) == (64, 60, 0.974)
    assert hour.model.encoder_stem_stride == 2  # 64 px through the stride-2 stem: 4 x 4 tokens per image
