import pandas as pd
import pytest

from coral_lab.cli import build_parser, main


@pytest.mark.parametrize("command", ["data", "pretrain", "probe", "reproduce", "quickstart"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    assert "usage: coral-lab " + command in capsys.readouterr().out


def test_unknown_preset_and_bad_overrides_stop_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["pretrain", "--preset", "huge", "--out", str(tmp_path)])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="lambda_o must be >= 0"):
        main(["pretrain", "--preset", "ci", "--out", str(tmp_path), "--lambda-o", "-1"])
    with pytest.raises(SystemExit, match="section.field=value"):
        main(["pretrain", "--preset", "ci", "--out", str(tmp_path), "--set", "lambda_o=3"])
    with pytest.raises(SystemExit, match="unknown field loss.lambda_x"):
        main(["pretrain", "--preset", "ci", "--out", str(tmp_path), "--set", "loss.lambda_x=3"])
    with pytest.raises(SystemExit, match="mask"):
        main(["pretrain", "--preset", "ci", "--out", str(tmp_path), "--mask-schedule", "1.5"])


def test_overrides_reach_the_config():
    from coral_lab.cli import config_from_args

    args = build_parser().parse_args(
        ["pretrain", "--preset", "ci", "--out", "x", "--mask-schedule", "0.5", "--lambda-o", "3",
         "--set", "loss.ortho_kind=squared", "--set", "train.mask_schedule=none"]
    )
    cfg = config_from_args(args)
    assert cfg.loss.lambda_o == 3 and cfg.loss.ortho_kind == "squared"
    assert cfg.train.mask_schedule == 0.5  # the explicit flag wins over --set


def test_quickstart_then_probe_end_to_end(ci_cache, tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache),
                 "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    for word in ("redundancy", "uniqueness", "synergy", "paper (COrAL)", "99.7", "not the paper's scale"):
        assert word in text
    # three columns side by side: held out, the published protocol, the paper
    header = next(line for line in text.splitlines() if "paper (COrAL)" in line and "chance" in line)
    assert header.index("held out") < header.index("published protocol") < header.index("paper (COrAL)")
    rows = pd.read_csv(out / "table1.csv")
    assert set(rows["train_set"]) == {"unbiased", "biased"}
    assert set(rows["protocol"]) == {"held_out", "published"}
    summary = pd.read_csv(out / "table1_summary.csv")
    assert sorted(zip(summary["protocol"], summary["column"])) == sorted(
        (p, c) for p in ("held_out", "published") for c in ("redundancy", "uniqueness", "synergy"))
    assert (out / "table1.provenance.json").is_file() and (out / "table1_summary.csv").is_file()
    # a second call resumes: every unit is already done, so it only re-reads the results
    assert main(["quickstart", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache),
                 "--out", str(out), "--no-progress"]) == 0
    run = out / "seed41-unbiased"
    assert main(["probe", "--run", str(run), "--device", "cpu", "--features", "Z", "shared",
                 "--protocol", "held_out"]) == 0
    probe = pd.read_csv(run / "probe_cli.csv")  # its own file: the unit's protocol probe.csv stays
    assert set(probe["features"]) == {"Z", "shared"} and set(probe["protocol"]) == {"held_out"}
    assert not (run / "probe_cli_published.csv").exists()


def test_the_protocol_is_chosen_with_protocol_not_set(ci_cache, tmp_path, capsys):
    base = ["reproduce", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache), "--out", str(tmp_path / "r")]
    with pytest.raises(SystemExit, match="--protocol"):
        main([*base, "--set", "probe.protocol=published"])
    with pytest.raises(SystemExit, match="held out only"):
        main(["reproduce", "--dataset", "digits", "--preset", "ci", "--protocol", "published", "--out",
              str(tmp_path / "d")])
    with pytest.raises(SystemExit):
        main([*base, "--protocol", "test_pairs"])
    assert "invalid choice: 'test_pairs'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()  # refused before anything ran


def test_quickstart_writes_the_units_notebooks_05_to_07_load(ci_cache, tmp_path, monkeypatch, capsys):
    """A student who ran the README's quickstart is not made to train again by notebook 05."""
    from coral_lab.experiments import units
    from coral_lab.config import get_preset

    monkeypatch.chdir(tmp_path)
    assert main(["quickstart", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache), "--no-progress"]) == 0
    runs_dir = tmp_path / "runs" / "ci"  # notebooks 05, 06 and 08: RUNS = ROOT / "runs" / PRESET
    assert "results in runs/ci/" in capsys.readouterr().out
    checkpoint = runs_dir / "seed41-unbiased" / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    for kind in ("unbiased", "biased"):
        _, history, source = units.load_unit(get_preset("ci"), runs_dir, 41, kind, retrain=True, device="cpu",
                                             progress=False)
        assert source == f"run {runs_dir / f'seed41-{kind}'}" and len(history) == get_preset("ci").train.epochs
    assert checkpoint.stat().st_mtime_ns == stamp  # loaded, not trained again


def test_probe_of_a_missing_or_corrupted_run_is_an_error(tmp_path, capsys):
    assert main(["probe", "--run", str(tmp_path / "none")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "checkpoint.pt").write_bytes(b"garbage")
    assert main(["probe", "--run", str(tmp_path / "bad")]) == 2
    assert "corrupted" in capsys.readouterr().err


def test_reproduce_a_baseline_end_to_end(ci_cache, tmp_path, capsys):
    out = tmp_path / "clip"
    assert main(["reproduce", "--method", "clip", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache),
                 "--seeds", "41", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    for word in ("Trifeature Table 1, CLIP", "paper (CLIP)", "11.6", "frozen CLIP representation"):
        assert word in text
    rows = pd.read_csv(out / "table1.csv")
    assert set(rows["method"]) == {"clip"}
    # the probe map of the method's subspaces is recorded beside the scored Z rows
    assert set(rows["features"]) == {"Z", "modality1", "modality2"}
    assert set(rows.loc[rows["column"].notna(), "features"]) == {"Z"}
    # the published protocol scores what the released script scores: the three Table 1 tasks from Z
    pub = rows[rows["protocol"] == "published"]
    assert set(pub["features"]) == {"Z"} and sorted(pub["column"]) == ["redundancy", "synergy", "uniqueness"]
    import json

    info = json.loads((out / "table1.provenance.json").read_text())
    assert info["method"] == "clip" and info["config"]["method"] == "clip"
    assert json.loads((out / "seed41-unbiased" / "config.json").read_text())["method"] == "clip"
    with pytest.raises(SystemExit):
        main(["reproduce", "--method", "simclr", "--preset", "ci"])
    assert "invalid choice: 'simclr'" in capsys.readouterr().err


def test_compare_runs_each_method_then_one_comparison_and_resumes(ci_cache, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", "--methods", "coral", "clip", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache),
            "--seeds", "41", "--epochs", "1", "--protocol", "held_out", "--jobs", "1", "--out", str(out),
            "--no-progress"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    for words in ("Trifeature Table 1, COrAL", "Trifeature Table 1, CLIP", "R held out", "R paper",
                  "CLIP near chance on uniqueness and synergy", "baselines_table1.csv"):
        assert words in text
    merged = pd.read_csv(out / "baselines_table1.csv")
    assert set(merged["method"]) == {"coral", "clip"} and set(merged["protocol"]) == {"held_out"}
    assert len(merged) == 2 * 3  # methods x Table 1 columns, seed 41
    for method in ("coral", "clip"):  # each method's folder is what `reproduce --method` writes
        rows = pd.read_csv(out / method / "table1.csv")
        assert set(rows["method"]) == {method} and len(set(rows["features"])) > 1  # Z and its subspaces
        assert (out / method / "table1.provenance.json").is_file() and (out / method / "table1.txt").is_file()
    import json

    info = json.loads((out / "baselines_table1.provenance.json").read_text())
    assert info["methods"] == ["coral", "clip"]
    ckpt = out / "clip" / "seed41-biased" / "checkpoint.pt"
    before = ckpt.stat().st_mtime_ns
    assert main(argv) == 0  # every unit is done: read, not trained again
    assert ckpt.stat().st_mtime_ns == before
    pd.testing.assert_frame_equal(pd.read_csv(out / "baselines_table1.csv"), merged)
    capsys.readouterr()
    with pytest.raises(SystemExit, match="its own default settings"):
        main([*argv, "--set", "settings.views=4"])
    with pytest.raises(SystemExit):
        main(["compare", "--methods", "simclr", "--preset", "ci"])
    assert "invalid choice: 'simclr'" in capsys.readouterr().err


def test_jobs_auto_is_one_process_per_core_on_a_cpu(monkeypatch):
    import argparse
    import os

    from coral_lab.cli import _jobs_value, resolve_jobs

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert resolve_jobs("auto", "cpu", 2) == 2 and resolve_jobs("auto", "cpu", 10) == 2
    assert resolve_jobs("auto", "cpu", 1) == 1 and resolve_jobs(3, "cpu", 2) == 3
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert resolve_jobs("auto", "cpu", 4) == 1
    assert _jobs_value("auto") == "auto" and _jobs_value("2") == 2
    with pytest.raises(argparse.ArgumentTypeError, match="positive int or 'auto'"):
        _jobs_value("many")
