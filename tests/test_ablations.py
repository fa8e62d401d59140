"""coral_lab.experiments.ablations and `coral-lab ablate`: variants, tidy results, resumability, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coral_lab.experiments import ablations
from coral_lab.cli import main
from coral_lab.config import get_preset
from coral_lab.objectives.masking import PAPER_SCHEDULE, mask_ratio_at


def test_masking_study_is_paper_table3():
    cfg = get_preset("ci").replace(train={"epochs": 8})
    variants = ablations.ablation_variants("masking", cfg)
    assert list(variants) == ["increasing", "none", "static-25", "static-50", "static-75"]
    ratios = {}
    for name, v in variants.items():
        vcfg = ablations.variant_config(cfg, v)
        ratios[name] = [mask_ratio_at(e, 8, vcfg.train.mask_schedule) for e in range(8)]
        assert vcfg.loss == cfg.loss  # only the schedule changes
    assert ratios["none"] == [0.0] * 8
    assert ratios["static-25"] == [0.25] * 8 and ratios["static-75"] == [0.75] * 8
    expected = [r for _, r in PAPER_SCHEDULE for _ in range(2)]  # 8 epochs: two per quarter
    assert ratios["increasing"] == pytest.approx(expected)


def test_masking_study_adds_the_presets_own_static_ratio():
    quick = ablations.ablation_variants("masking", get_preset("quick"))
    assert list(quick)[-1] == "static-90" and "quick preset" in quick["static-90"].label
    assert ablations.variant_config(get_preset("quick"), quick["static-90"]).train.mask_schedule == 0.9
    # a preset already on a Table 3 ratio, or on the schedule, gets no extra variant
    for cfg in (get_preset("paper"), get_preset("ci").replace(train={"mask_schedule": 0.5})):
        assert list(ablations.ablation_variants("masking", cfg)) == ["increasing", "none", "static-25", "static-50",
                                                                   "static-75"]


def test_weights_study_changes_one_lambda_at_a_time_around_the_base():
    cfg = get_preset("ci").replace(loss={"lambda_s": 2.0, "lambda_u": 1.0, "lambda_o": 1.0})
    variants = ablations.ablation_variants("weights", cfg)
    assert list(variants) == ["default", "lambda_s-1", "lambda_s-4", "lambda_u-0.5", "lambda_u-2",
                              "lambda_o-3", "lambda_o-5"]
    base = {"lambda_s": 2.0, "lambda_u": 1.0, "lambda_o": 1.0}
    for name, v in variants.items():
        loss = ablations.variant_config(cfg, v).loss
        got = {k: getattr(loss, k) for k in base}
        changed = {k for k in base if got[k] != base[k]}
        if name == "default":
            assert not changed
        else:
            param, value = name.rsplit("-", 1)
            assert changed == {param} and got[param] == float(value)
    # a base lambda_o of 3 is the default already: no duplicate variant
    names = ablations.ablation_variants("weights", cfg.replace(loss={"lambda_o": 3.0}))
    assert "lambda_o-3" not in names and "lambda_o-5" in names


def test_bad_study_or_variant_is_an_error(tmp_path):
    cfg = get_preset("ci")
    with pytest.raises(ValueError, match="unknown ablation study 'heads'"):
        ablations.ablation_variants("heads", cfg)
    with pytest.raises(ValueError, match="valid: \\['increasing'"):
        ablations.run_ablation("masking", cfg, tmp_path, seeds=[1], device="cpu", variants=["static-60"])
    with pytest.raises(ValueError, match="at least one seed"):
        ablations.run_ablation("masking", cfg, tmp_path, seeds=[], device="cpu")


def test_run_ablation_writes_tidy_results_and_provenance(tmp_path, monkeypatch):
    """The protocol itself is stubbed: this checks what the study hands it and what it writes."""
    import coral_lab.evaluation.protocol

    calls = []

    def fake_run_table1(cfg, out_dir, *, seeds, device, progress, jobs=1, protocols=("held_out",)):
        calls.append((cfg, out_dir, list(seeds)))
        rows = []
        for seed in seeds:
            acc = 100 * (cfg.train.mask_schedule or 0.0) + seed  # a value the test can recompute
            for col, train_set in (("redundancy", "unbiased"), ("uniqueness", "unbiased"), ("", "unbiased"),
                                   ("synergy", "biased")):
                rows.append({"seed": seed, "train_set": train_set, "task": "t", "features": "Z",
                             "balanced_accuracy": acc, "column": col})
        return pd.DataFrame(rows), None

    monkeypatch.setattr(coral_lab.evaluation.protocol, "run_table1", fake_run_table1)
    cfg = get_preset("ci")
    seen = []
    ablations.run_ablation("masking", cfg, tmp_path, seeds=[1, 2], device="cpu", variants=["none", "static-50"],
                                command="coral-lab ablate test", on_variant_end=lambda v, t: seen.append(v.name))
    assert seen == ["none", "static-50"]
    assert [c[1] for c in calls] == [tmp_path / "runs" / "none", tmp_path / "runs" / "static-50"]
    assert [c[0].train.mask_schedule for c in calls] == [None, 0.5]
    on_disk = pd.read_csv(ablations.results_path(tmp_path, "masking"))
    assert list(on_disk.columns) == list(ablations.RESULT_COLUMNS)
    assert len(on_disk) == 2 * 2 * 3  # variants x seeds x scored columns (the unscored row is dropped)
    expected = np.where(on_disk["variant"] == "none", 0.0, 50.0) + on_disk["seed"]
    np.testing.assert_allclose(on_disk["balanced_accuracy"], expected)
    assert set(on_disk.loc[on_disk["variant"] == "static-50", "mask_schedule"].astype(str)) == {"0.5"}
    assert set(on_disk.loc[on_disk["variant"] == "none", "mask_schedule"]) == {"none"}
    side = json.loads((tmp_path / "ablation_masking.provenance.json").read_text())
    assert side["command"] == "coral-lab ablate test" and side["seeds"] == [1, 2] and side["preset"] == "ci"
    assert side["finished_variants"] == ["none", "static-50"] and side["study"] == "masking"
    for key in ("device", "commit", "date"):
        assert side[key]


def test_summarize_ablation_reference_values():
    df = pd.DataFrame({
        "variant": ["b", "b", "a", "a", "b"], "label": ["B", "B", "A", "A", "B"],
        "column": ["synergy", "synergy", "synergy", "synergy", "redundancy"],
        "seed": [1, 2, 1, 2, 1], "balanced_accuracy": [50.0, 60.0, 70.0, 74.0, 90.0],
    })
    s = ablations.summarize_ablation(df)
    assert list(zip(s["variant"], s["column"])) == [("b", "redundancy"), ("b", "synergy"), ("a", "synergy")]
    np.testing.assert_allclose(s["mean"], [90.0, 55.0, 72.0])
    np.testing.assert_allclose(s["std"].iloc[1:], [np.std([50, 60]), np.std([70, 74])])  # ddof 0, as the paper
    assert np.isnan(s["std"].iloc[0]) and list(s["n_seeds"]) == [1, 2, 2]
    text = ablations.format_ablation(s, "T")
    assert "72.0 +- 2.00" in text and "55.0 +- 5.00" in text and "ddof 0" in text
    with pytest.raises(ValueError, match="missing \\['label'\\]"):
        ablations.summarize_ablation(df.drop(columns=["label"]))


def test_ablate_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["ablate", "--help"])
    assert e.value.code == 0
    assert "usage: coral-lab ablate" in capsys.readouterr().out


def test_ablate_refuses_flags_that_the_study_varies(tmp_path):
    with pytest.raises(SystemExit, match="drop --mask-schedule"):
        main(["ablate", "--study", "masking", "--preset", "ci", "--out", str(tmp_path), "--mask-schedule", "0.5"])
    with pytest.raises(SystemExit, match="drop --lambda-o"):
        main(["ablate", "--study", "weights", "--preset", "ci", "--out", str(tmp_path), "--lambda-o", "3"])
    with pytest.raises(SystemExit, match="drop --set loss.lambda_s=2"):
        main(["ablate", "--study", "weights", "--preset", "ci", "--out", str(tmp_path), "--set", "loss.lambda_s=2"])
    assert main(["ablate", "--study", "masking", "--preset", "ci", "--device", "cpu", "--out", str(tmp_path),
                 "--variants", "static-60"]) == 2  # unknown variant: an error message, no traceback


def test_ablate_end_to_end_and_resume(ci_cache, tmp_path, capsys):
    out = tmp_path / "abl"
    argv = ["ablate", "--study", "masking", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache),
            "--epochs", "1", "--seeds", "41", "--variants", "none", "static-50", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "static 50 %" in text and "not the paper's scale" in text
    res = pd.read_csv(out / "ablation_masking.csv")
    assert len(res) == 2 * 3 * 2  # variants x Table 1 columns x the two default probe protocols
    assert res.groupby("protocol").size().to_dict() == {"held_out": 6, "published": 6}
    assert "probe protocol: held out" in text and "probe protocol: published protocol" in text
    assert res["balanced_accuracy"].between(0, 100).all()
    assert (out / "runs" / "static-50" / "seed41-biased" / "checkpoint.pt").is_file()
    assert (out / "ablation_masking.txt").read_text().startswith("masking ablation")
    ckpt = out / "runs" / "none" / "seed41-unbiased" / "checkpoint.pt"
    before = ckpt.stat().st_mtime_ns
    assert main(argv) == 0  # every unit is done: nothing is trained again
    assert ckpt.stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(pd.read_csv(out / "ablation_masking.csv"), res)


def test_load_or_run_reads_complete_results_and_runs_otherwise(tmp_path, monkeypatch):
    import coral_lab.evaluation.protocol

    calls = []

    def fake_run_table1(cfg, out_dir, *, seeds, device, progress, jobs=1, protocols=("held_out",)):
        calls.append(out_dir.name)
        rows = [{"seed": s, "train_set": "unbiased", "task": "t", "features": "Z", "balanced_accuracy": 42.0,
                 "column": c} for s in seeds for c in ("redundancy", "uniqueness", "synergy")]
        return pd.DataFrame(rows), None

    monkeypatch.setattr(coral_lab.evaluation.protocol, "run_table1", fake_run_table1)
    cfg = get_preset("ci")
    kw = dict(seeds=[41], device="cpu", variants=["none", "static-25"], progress=False)
    first = ablations.load_or_run_ablation("masking", cfg, tmp_path, **kw)
    assert calls == ["none", "static-25"]
    again = ablations.load_or_run_ablation("masking", cfg, tmp_path, **kw)
    assert calls == ["none", "static-25"]  # complete: read, not run
    pd.testing.assert_frame_equal(first, again)
    ablations.load_or_run_ablation("masking", cfg, tmp_path, **{**kw, "seeds": [41, 42]})
    assert calls[2:] == ["none", "static-25"]  # a missing seed: run (the protocol resumes finished units)
    ablations.load_or_run_ablation("masking", cfg.replace(train={"epochs": 3}), tmp_path, **kw)
    assert len(calls) == 6  # another config: its saved rows do not count


def test_complete_results_is_none_unless_every_variant_and_seed_matches(tmp_path, monkeypatch):
    import coral_lab.evaluation.protocol

    def fake_run_table1(cfg, out_dir, *, seeds, device, progress, jobs=1, protocols=("held_out",)):
        rows = [{"seed": s, "train_set": "unbiased", "task": "t", "features": "Z", "balanced_accuracy": 50.0,
                 "column": c} for s in seeds for c in ("redundancy", "uniqueness", "synergy")]
        return pd.DataFrame(rows), None

    monkeypatch.setattr(coral_lab.evaluation.protocol, "run_table1", fake_run_table1)
    cfg = get_preset("ci")
    assert ablations.complete_results("masking", cfg, tmp_path, seeds=[41]) is None  # no file yet
    ablations.run_ablation("masking", cfg, tmp_path, seeds=[41], device="cpu", variants=["none"], progress=False)
    rows = ablations.complete_results("masking", cfg, tmp_path, seeds=[41], variants=["none"])
    assert rows is not None and set(rows["variant"]) == {"none"} and set(rows["seed"]) == {41}
    assert len(rows) == 3  # R, U, S of one seed
    assert ablations.complete_results("masking", cfg, tmp_path, seeds=[41]) is None  # other variants missing
    assert ablations.complete_results("masking", cfg, tmp_path, seeds=[41, 42], variants=["none"]) is None
    assert ablations.complete_results("masking", cfg.replace(train={"epochs": 3}), tmp_path, seeds=[41],
                                      variants=["none"]) is None  # saved with other settings
    # a file written before rows named their protocol holds held-out rows: complete for held out only
    csv = ablations.results_path(tmp_path, "masking")
    pd.read_csv(csv).drop(columns=["protocol"]).to_csv(csv, index=False)
    legacy = ablations.complete_results("masking", cfg, tmp_path, seeds=[41], variants=["none"])
    assert legacy is not None and set(legacy["protocol"]) == {"held_out"}
    assert ablations.complete_results("masking", cfg, tmp_path, seeds=[41], variants=["none"],
                                      protocols=["held_out", "published"]) is None


def _fake_protocol(monkeypatch) -> list[str]:
    """Replace run_table1 by one that scores 42 for every unit and records the variant folders it ran."""
    import coral_lab.evaluation.protocol

    calls: list[str] = []

    def fake_run_table1(cfg, out_dir, *, seeds, device, progress, jobs=1, protocols=("held_out",)):
        calls.append(out_dir.name)
        rows = [{"seed": s, "train_set": "unbiased", "task": "t", "features": "Z", "balanced_accuracy": 42.0,
                 "column": c} for s in seeds for c in ("redundancy", "uniqueness", "synergy")]
        return pd.DataFrame(rows), None

    monkeypatch.setattr(coral_lab.evaluation.protocol, "run_table1", fake_run_table1)
    return calls


@pytest.mark.parametrize("change", [{"train": {"lr": 3e-3}}, {"train": {"batch_size": 16}},
                                    {"data": {"n_train_pairs": 512}}, {"model": {"embed_dim": 64}}])
def test_saved_rows_of_another_lr_batch_pairs_or_width_are_not_reused(tmp_path, monkeypatch, change):
    # issue: the reuse check compared only preset, epochs, masking, lambdas and ortho_kind
    _fake_protocol(monkeypatch)
    cfg = get_preset("ci")
    kw = dict(seeds=[41], device="cpu", variants=["none"], progress=False)
    ablations.load_or_run_ablation("masking", cfg, tmp_path, **kw)
    assert ablations.complete_results("masking", cfg, tmp_path, seeds=[41], variants=["none"]) is not None
    assert ablations.complete_results("masking", cfg.replace(**change), tmp_path, seeds=[41], variants=["none"]) is None
    # a run-time field (threads) is not part of the experiment: still reused
    assert ablations.complete_results("masking", cfg.replace(train={"num_threads": 2}), tmp_path, seeds=[41],
                                      variants=["none"]) is not None


def test_results_written_before_rows_carried_their_config_hash_are_not_reused(tmp_path, monkeypatch):
    _fake_protocol(monkeypatch)
    cfg = get_preset("ci")
    ablations.run_ablation("masking", cfg, tmp_path, seeds=[41], device="cpu", variants=["none"], progress=False)
    path = ablations.results_path(tmp_path, "masking")
    pd.read_csv(path).drop(columns=["config_hash"]).to_csv(path, index=False)
    assert ablations.complete_results("masking", cfg, tmp_path, seeds=[41], variants=["none"]) is None


def test_the_synergy_roc_auc_is_carried_into_the_summary_and_the_text(tmp_path, monkeypatch):
    import coral_lab.evaluation.protocol

    def fake_run_table1(cfg, out_dir, *, seeds, device, progress, jobs=1, protocols=("held_out",)):
        auc = 80.0 if cfg.train.mask_schedule is not None else 52.0
        rows = [{"seed": s, "train_set": "unbiased", "task": "t", "features": "Z", "balanced_accuracy": 50.0,
                 "roc_auc": auc + s - 41, "column": c} for s in seeds for c in ("redundancy", "uniqueness", "synergy")]
        return pd.DataFrame(rows), None

    monkeypatch.setattr(coral_lab.evaluation.protocol, "run_table1", fake_run_table1)
    res = ablations.run_ablation("masking", get_preset("ci"), tmp_path, seeds=[41, 42], device="cpu",
                                 variants=["none", "static-50"], progress=False)
    summary = ablations.summarize_ablation(res)
    syn = summary[summary["column"] == "synergy"].set_index("variant")["auc_mean"]
    assert syn.to_dict() == {"none": 52.5, "static-50": 80.5}
    text = ablations.format_ablation(summary)
    assert "synergy AUC" in text and "80.5" in text and "52.5" in text
