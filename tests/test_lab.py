"""coral_lab.teaching.lab: settings validation, synchronous and background trials, the widget wiring."""

from __future__ import annotations

import math
import threading

import pytest

from coral_lab.teaching import lab
from coral_lab.teaching.lab import LabSession, TrialSettings, build_lab_widgets, settings_from_controls

GOOD = dict(masking="paper", mask_ratio=0.5, lambda_s=1.0, lambda_u=1.0, lambda_o=1.0, ortho_kind="hinge", epochs=1)


@pytest.fixture(scope="module")
def session(ci_config, ci_benchmark):
    return LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=0)


def test_good_settings_and_their_schedule():
    s = settings_from_controls(**GOOD)
    assert s == TrialSettings("paper", 0.5, 1.0, 1.0, 1.0, "hinge", 1, "unbiased")
    assert s.mask_schedule == "paper"
    assert settings_from_controls(**{**GOOD, "masking": "none"}).mask_schedule is None
    assert settings_from_controls(**{**GOOD, "masking": "static", "mask_ratio": 0.25}).mask_schedule == 0.25
    assert settings_from_controls(**{**GOOD, "lambda_s": 0, "train_set": "biased"}).train_set == "biased"
    changed = s.with_changes(masking="none", lambda_o=3.0)
    assert (changed.masking, changed.lambda_o, changed.epochs) == ("none", 3.0, 1)
    with pytest.raises(ValueError, match="lambda_o must be >= 0"):
        s.with_changes(lambda_o=-2.0)  # validated again
    with pytest.raises(ValueError, match="unknown setting"):
        s.with_changes(temperature=0.2)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"masking": "half"}, "masking must be one of"),
        ({"mask_ratio": 1.0}, r"mask_ratio must be in \[0, 1\)"),
        ({"mask_ratio": -0.1}, r"mask_ratio must be in \[0, 1\)"),
        ({"mask_ratio": "0.5"}, "mask_ratio must be a finite number"),
        ({"masking": "static", "mask_ratio": 0.0}, "masking='none'"),
        ({"lambda_o": -1.0}, "lambda_o must be >= 0"),
        ({"lambda_u": math.nan}, "lambda_u must be a finite number"),
        ({"lambda_s": True}, "lambda_s must be a finite number"),
        ({"lambda_s": 0.0, "lambda_u": 0.0}, "no InfoNCE term"),
        ({"ortho_kind": "cube"}, "ortho_kind must be one of"),
        ({"epochs": 0}, "epochs must be an int >= 1"),
        ({"epochs": 2.5}, "epochs must be an int >= 1"),
        ({"train_set": "mixed"}, "train_set must be one of"),
    ],
)
def test_bad_settings_raise(change, match):
    with pytest.raises(ValueError, match=match):
        settings_from_controls(**{**GOOD, **change})


def test_config_for_applies_every_setting(session):
    s = settings_from_controls("static", 0.3, 0.5, 2.0, 3.0, "squared", 4, "biased")
    cfg = session.config_for(s)
    assert (cfg.train.mask_schedule, cfg.train.epochs, cfg.train.train_set) == (0.3, 4, "biased")
    assert (cfg.loss.lambda_s, cfg.loss.lambda_u, cfg.loss.lambda_o, cfg.loss.ortho_kind) == (0.5, 2.0, 3.0, "squared")
    assert cfg.model == session.cfg.model and cfg.data == session.cfg.data  # same model and data for every trial
    with pytest.raises(TypeError, match="TrialSettings"):
        session.config_for(GOOD)


def test_a_trial_adds_a_row_with_its_settings_and_finite_scores(session):
    before = len(session.trials)
    epochs_seen = []
    s = settings_from_controls(**{**GOOD, "masking": "static", "mask_ratio": 0.25, "lambda_o": 3.0})
    row = session.run_trial(s, on_epoch_end=lambda r: epochs_seen.append(r["epoch"]))
    assert epochs_seen == [1]
    table = session.trials
    assert len(table) == before + 1
    last = table.iloc[-1]
    assert last["trial"] == before + 1 == row["trial"]
    assert (last["masking"], last["mask_ratio"], last["lambda_o"], last["mask_schedule"]) == ("static", 0.25, 3.0, "0.25")
    for name in lab.SCORES:
        assert 0.0 <= last[name] <= 100.0
    assert math.isfinite(last["final_loss"]) and last["seconds"] > 0
    fig = session.scores_figure()
    assert list(fig.data[0].y) == pytest.approx([last[n] for n in lab.SCORES])


def test_background_trial_finishes_and_updates_the_table(session):
    before = len(session.trials)
    done = []
    s = settings_from_controls(**{**GOOD, "masking": "none", "ortho_kind": "squared"})
    thread = session.start_trial(s, on_done=done.append)
    assert isinstance(thread, threading.Thread)
    with pytest.raises(RuntimeError, match="still running"):
        session.start_trial(s)  # one trial at a time
    thread.join(timeout=120)
    assert not thread.is_alive() and not session.is_running and session.last_error is None
    assert len(done) == 1 and done[0]["trial"] == before + 1
    last = session.trials.iloc[-1]
    assert (last["masking"], last["ortho_kind"], last["mask_schedule"]) == ("none", "squared", "none")


def test_two_trials_with_different_settings_both_stay(ci_config, ci_benchmark):
    fresh = LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=0)
    fresh.run_trial(settings_from_controls(**GOOD))
    fresh.run_trial(settings_from_controls(**{**GOOD, "lambda_u": 2.0, "masking": "none"}))
    table = fresh.trials
    assert list(table["trial"]) == [1, 2]
    assert list(table["lambda_u"]) == [1.0, 2.0] and list(table["masking"]) == ["paper", "none"]
    fig = fresh.comparison_figure()
    assert [list(bar.y) for bar in fig.data] == [list(table[c]) for c in ("R", "U1", "S", lab.S_AUC)]
    assert all(0.0 <= v <= 100.0 for v in table[lab.S_AUC])
    assert list(fig.data[0].x) == ["#1", "#2"]
    first = fresh.scores_figure(1)
    assert list(first.data[0].y) == pytest.approx([table.iloc[0][n] for n in lab.SCORES])
    assert first.layout.title.text.startswith("trial 1: paper masking")


def test_a_failing_background_trial_is_reported(session, monkeypatch):
    def boom(settings, on_epoch_end=None):
        raise FloatingPointError("the loss became nan")

    monkeypatch.setattr(session, "run_trial", boom)
    errors = []
    thread = session.start_trial(settings_from_controls(**GOOD), on_error=errors.append)
    thread.join(timeout=10)
    assert isinstance(errors[0], FloatingPointError) and session.last_error is errors[0]


def test_empty_session_has_no_figures(ci_config, ci_benchmark):
    fresh = LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=0)
    assert fresh.trials.empty and list(fresh.trials.columns)[:2] == ["trial", "masking"]
    with pytest.raises(ValueError, match="no trials yet"):
        fresh.comparison_figure()
    with pytest.raises(ValueError, match="no UMAP yet"):
        fresh.umap_figure()
    with pytest.raises(ValueError, match="umap_pairs"):
        LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=-1)


def test_widgets_button_trains_in_the_background_and_fills_the_outputs(ci_config, ci_benchmark):
    fresh = LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=0)
    w = build_lab_widgets(fresh)
    assert w.mask_ratio.disabled  # the preset's schedule is the paper's: the static ratio is unused
    w.masking.value = "static"
    assert not w.mask_ratio.disabled
    w.mask_ratio.value = 0.5
    w.lambda_o.value = 2.0
    w.epochs.value = 1
    # a bad combination is refused in the status line, nothing starts
    w.lambda_s.value, w.lambda_u.value = 0.0, 0.0
    w.train_button.click()
    assert w.thread is None and "not started" in w.status.value and fresh.trials.empty
    w.lambda_s.value = 1.0
    w.train_button.click()
    assert w.thread is not None
    w.thread.join(timeout=120)
    table = fresh.trials
    assert len(table) == 1 and table.iloc[0]["lambda_o"] == 2.0 and table.iloc[0]["mask_ratio"] == 0.5
    assert w.progress.value == 1 and w.progress.bar_style == "success" and "trial 1 done" in w.status.value
    assert not w.train_button.disabled
    for out in (w.scores_out, w.comparison_out):
        (shown,) = out.outputs
        assert shown["data"]["application/vnd.plotly.v1+json"]["data"]  # the figure itself, not a repr
    (shown,) = w.table_out.outputs
    assert "lambda_o" in shown["data"]["text/html"]
    assert len(w.umap_out.outputs) == 0  # umap_pairs=0: no UMAP


@pytest.mark.slow
def test_trial_with_umap(ci_config, ci_benchmark):
    fresh = LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=30)
    fresh.run_trial(settings_from_controls(**GOOD))
    assert len(fresh.last_umap) == 2 * 30 * 3 and {"x", "y"} <= set(fresh.last_umap.columns)
    assert len(fresh.umap_figure("shape").data) > 0


def test_shipped_models_open_the_lab_as_trials(ci_config, ci_benchmark):
    from coral_lab.training import pretrained

    s = LabSession(ci_config.replace(train={"epochs": 1}), "cpu", benchmark=ci_benchmark, umap_pairs=0)
    added = s.add_shipped_trials()
    assert list(added["masking"]) == [s.default_settings().masking, "none"] and len(s.trials) == 2
    folder = pretrained.shipped_dir("ci")
    rows = pretrained.shipped_probe_rows(folder, "seed41-biased-no-mask")
    want = rows[(rows["features"] == "Z") & (rows["task"] == "synergy")]["balanced_accuracy"].iloc[0]
    assert s.trials["S"].iloc[1] == pytest.approx(want)
    want_auc = rows[(rows["features"] == "Z") & (rows["task"] == "synergy")]["roc_auc"].iloc[0]
    assert s.trials[lab.S_AUC].iloc[1] == pytest.approx(want_auc)
    assert list(s.trials["train_set"]) == ["biased", "biased"] and list(s.trials["trial"]) == [1, 2]
    other = LabSession(ci_config.replace(train={"lr": 5e-4}), "cpu", benchmark=ci_benchmark, umap_pairs=0)
    with pytest.raises(ValueError, match="not trained with this session's preset"):
        other.add_shipped_trials()


@pytest.mark.parametrize("preset", sorted(lab.TRIAL_EPOCHS))
def test_trial_config_trains_the_biased_pairs_for_the_presets_trial_length(preset):
    from coral_lab.config import get_preset

    base = get_preset(preset)
    cfg = lab.trial_config(base)
    assert cfg.train.train_set == "biased" and cfg.train.epochs == lab.TRIAL_EPOCHS[preset]
    # only those two fields change: the trial is the preset's model, data, masking and probe
    assert cfg.replace(train={"epochs": base.train.epochs, "train_set": base.train.train_set}) == base


def test_trial_config_refuses_a_preset_without_a_trial_length():
    from coral_lab.config import PRESETS, get_preset

    assert set(lab.TRIAL_EPOCHS) == set(PRESETS)  # every preset opens the lab

    with pytest.raises(ValueError, match="no lab trial length"):
        lab.trial_config(get_preset("ci").replace(preset="mine"))


def test_a_teaching_variant_session_marks_its_own_chance_levels(tmp_path):
    from coral_lab.config import get_preset

    cfg = get_preset("ci").replace(data={"cache_dir": str(tmp_path), "n_textures": 4})
    teach = LabSession(cfg, "cpu", umap_pairs=0)
    assert teach.chance == {"R": 10.0, "U1": 25.0, "U2": 25.0, "S": 50.0}
    assert "teaching variant (4 textures" in teach.data_label
    teach.run_trial(settings_from_controls(**GOOD))
    bars = teach.scores_figure()
    assert list(bars.data[1].y) == [10.0, 25.0, 25.0, 50.0]  # the chance markers
    lines = sorted(shape.y0 for shape in teach.comparison_figure().layout.shapes)
    assert lines == [10.0, 25.0, 50.0]  # chance R, chance U, chance S apart
    with pytest.raises(ValueError, match="trained on the Trifeature benchmark"):
        teach.add_shipped_trials()  # benchmark models are not trials of a teaching session
    bench = LabSession(get_preset("ci").replace(data={"cache_dir": str(tmp_path)}), "cpu", umap_pairs=0)
    assert bench.chance == {"R": 10.0, "U1": 10.0, "U2": 10.0, "S": 50.0} and bench.data_label == "Trifeature"


def test_trial_config_picks_the_benchmark_or_the_named_teaching_variant():
    from coral_lab.config import TEACHING_DATA, get_preset

    bench = lab.trial_config(get_preset("quick"))
    assert (bench.train.epochs, bench.train.train_set, bench.data) == (lab.TRIAL_EPOCHS["quick"], "biased",
                                                                        get_preset("quick").data)
    teach = lab.trial_config(get_preset("quick"), data="teaching")
    assert {k: getattr(teach.data, k) for k in TEACHING_DATA} == TEACHING_DATA == {
        "n_textures": 4, "renders_train": 19, "renders_test": 8}
    with pytest.raises(ValueError, match="data must be one of"):
        lab.trial_config(get_preset("quick"), data="mnist")


def test_a_shipped_trial_opens_from_its_files_and_any_other_trains(ci_config, ci_benchmark, tmp_path, monkeypatch):
    import pandas as pd

    from coral_lab.training import pretrained
    from coral_lab.config import runs
    from coral_lab.evaluation.probe import probe_model
    from coral_lab.training.pretrain import load_model, pretrain

    trainer = LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=0)
    settings = trainer.default_settings().with_changes(epochs=1)
    cfg = trainer.config_for(settings)
    folder = tmp_path / "runs" / "trial"
    pretrain(cfg, folder, benchmark=ci_benchmark, device="cpu", progress=False)
    model, _, history = load_model(folder)
    probe = probe_model(model, ci_benchmark, tasks=lab.TASKS, subspaces=("Z",), probe_cfg=cfg.probe,
                        augment_cfg=cfg.augment, seed=cfg.train.seed)
    probe["column"] = ""
    runs.write_table(folder, runs.PROBE, probe, cfg)
    pretrained.export_units({"my-trial": folder}, lab.lab_trials_dir(cfg.preset, tmp_path), {"command": "test"})

    session = LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=0, shipped_trials=True,
                         shipped_root=tmp_path)
    assert session.shipped_trial_name(cfg) == "my-trial"
    calls = []
    monkeypatch.setattr(lab, "pretrain", lambda *a, **k: calls.append(a) or pytest.fail("a shipped trial trained"))
    epochs = []
    row = session.run_trial(settings, on_epoch_end=epochs.append)
    want = dict(zip(probe["task"], probe["balanced_accuracy"]))
    assert row["R"] == pytest.approx(want["share"]) and row["S"] == pytest.approx(want["synergy"])
    assert [e["epoch"] for e in epochs] == list(history["epoch"])  # the curve replays the shipped history
    assert row["seconds"] == pytest.approx(float(history["seconds"].sum()))
    assert session.last_model is not None and not calls
    # a trial of another config trains (here: the stub, which fails the test if it is reached)
    with pytest.raises(pytest.fail.Exception, match="a shipped trial trained"):
        session.run_trial(settings.with_changes(lambda_o=2.0))
    # a shipped file changed after shipping is refused, naming the file
    model_pt = lab.lab_trials_dir(cfg.preset, tmp_path) / "my-trial" / "model.pt"
    data = bytearray(model_pt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_pt.write_bytes(bytes(data))
    with pytest.raises(pretrained.ShippedModelError, match="model.pt"):
        session.run_trial(settings)
    assert isinstance(session.trials, pd.DataFrame) and len(session.trials) == 1
    with pytest.raises(TypeError, match="shipped_trials"):
        LabSession(ci_config, "cpu", benchmark=ci_benchmark, umap_pairs=0, shipped_trials="yes")
