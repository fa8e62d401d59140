"""The experiment folders above the units (reproduce, study, ablate): claimed and marked, locked, their tables
tied to the config that made them, merged rather than replaced, and foreign files refused."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from coral_lab.experiments import ablations
from coral_lab.config import runs
from coral_lab.cli import main
from coral_lab.evaluation.protocol import run_table1

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def tiny(ci_config):
    return ci_config.replace(data={"n_train_pairs": 64}, train={"epochs": 1})


@pytest.mark.parametrize("command, own", [
    (["reproduce"], "table1.txt"), (["reproduce"], "table1.csv"),
    (["study", "--name", "confirm", "--variants", "paper-schedule"], "curves.csv"),
    (["ablate", "--study", "masking", "--variants", "none"], "ablation_masking.csv"),
    (["compare", "--methods", "clip"], "baselines_table1.csv"),
])
def test_a_folder_holding_the_users_own_files_is_refused_untouched(command, own, ci_cache, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / own).write_text("the user's own notes\n")
    argv = [*command, "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache), "--seeds", "41",
            "--no-progress", "--out", str(out)]
    assert main(argv) == 2
    assert "not a coral_lab experiment folder" in capsys.readouterr().err
    assert (out / own).read_text() == "the user's own notes\n" and [p.name for p in out.iterdir()] == [own]


def test_an_experiment_folder_is_marked_and_refuses_another_kind_and_a_run_folder(tiny, tmp_path):
    out = runs.claim_experiment(tmp_path / "exp", "reproduce")
    assert (out / runs.EXPERIMENT_MARKER).is_file() and runs.claim_experiment(out, "reproduce") == out
    with pytest.raises(runs.RunFolderError, match="holds a coral_lab reproduce experiment, not a study"):
        runs.claim_experiment(out, "study")
    unit = runs.claim(tmp_path / "unit")
    (unit / "config.json").write_text("{}")
    with pytest.raises(runs.RunFolderError, match="run folder"):
        runs.claim_experiment(unit, "reproduce")
    with pytest.raises(ValueError, match="unknown experiment kind"):
        runs.claim_experiment(tmp_path / "x", "sweep")


def test_an_older_unmarked_experiment_folder_is_adopted(tiny, ci_benchmark, tmp_path):
    run_table1(tiny, tmp_path / "old", seeds=[41], device="cpu", progress=False)
    (tmp_path / "old" / runs.EXPERIMENT_MARKER).unlink()  # as an older coral_lab left it
    rows, _ = run_table1(tiny, tmp_path / "old", seeds=[41], device="cpu", progress=False)
    assert (tmp_path / "old" / runs.EXPERIMENT_MARKER).is_file() and len(rows)


def test_a_seed_given_twice_is_refused_before_anything_runs(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"seed\(s\) \[41\] given more than once"):
        run_table1(tiny, tmp_path / "r", seeds=[41, 41], device="cpu", progress=False)
    with pytest.raises(ValueError, match="given more than once"):
        ablations.run_ablation("masking", tiny, tmp_path / "a", seeds=[41, 41], device="cpu", progress=False)
    assert not (tmp_path / "r").exists() and not (tmp_path / "a").exists()


def test_reproduce_merges_seeds_and_probes_again_for_more_feature_sets(tiny, ci_benchmark, tmp_path):
    out = tmp_path / "r"
    run_table1(tiny, out, seeds=[41], device="cpu", progress=False)
    run_table1(tiny, out, seeds=[42], device="cpu", progress=False)
    table = pd.read_csv(out / "table1.csv")
    assert sorted(set(table["seed"])) == [41, 42]  # seed 41's rows were kept, not replaced
    summary = pd.read_csv(out / "table1_summary.csv")
    assert set(summary["n_seeds"]) == {1}  # the summary is this command's seeds
    # Z only first, then the probe map: the unit is probed again with every feature set, no row lost
    rows, _ = run_table1(tiny, out, seeds=[42], device="cpu", progress=False,
                         subspaces=("Z", "shared", "unique1", "unique2"))
    assert set(rows["features"]) == {"Z", "shared", "unique1", "unique2"}
    table = pd.read_csv(out / "table1.csv")
    assert set(table.loc[table["seed"] == 42, "features"]) == {"Z", "shared", "unique1", "unique2"}
    # a seed whose units were trained with another config is not merged into this config's table
    run_table1(tiny.replace(loss={"lambda_o": 3.0}), tmp_path / "other", seeds=[43], device="cpu", progress=False)
    for name in ("seed43-unbiased", "seed43-biased"):
        (tmp_path / "other" / name).rename(out / name)
    run_table1(tiny, out, seeds=[41], device="cpu", progress=False)
    assert 43 not in set(pd.read_csv(out / "table1.csv")["seed"])


def test_an_ablation_run_on_some_variants_keeps_the_other_variants_rows(tiny, ci_benchmark, tmp_path):
    out = tmp_path / "abl"
    kw = dict(seeds=[41], device="cpu", progress=False)
    ablations.run_ablation("masking", tiny, out, variants=["none", "static-25"], **kw)
    ablations.run_ablation("masking", tiny, out, variants=["none"], **kw)
    res = pd.read_csv(ablations.results_path(out, "masking"))
    assert list(dict.fromkeys(res["variant"])) == ["none", "static-25"]  # merged, in the study's order
    # under another base config the saved variants' rows are stale: dropped, never shown as this config's
    ablations.run_ablation("masking", tiny.replace(train={"lr": 2e-3}), out, variants=["static-50"], **kw)
    res = pd.read_csv(ablations.results_path(out, "masking"))
    assert list(dict.fromkeys(res["variant"])) == ["static-50"]


def test_a_study_rerun_with_another_config_never_prints_the_old_scores(ci_cache, tmp_path, capsys):
    argv = ["study", "--name", "confirm", "--variants", "paper-schedule", "--preset", "ci", "--device", "cpu",
            "--cache-dir", str(ci_cache), "--seeds", "41", "--probe-every", "1", "--jobs", "1", "--epochs", "1",
            "--protocol", "held_out", "--no-progress", "--out", str(tmp_path / "s")]
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--set", "train.lr=0.05"]) == 2
    err = capsys.readouterr()
    assert "different configuration" in err.err and "synergy" not in err.out


def test_a_feature_data_run_on_another_file_is_neither_resumed_nor_read(synthetic_mosi_folder, tmp_path, monkeypatch,
                                                                         capsys):
    from coral_lab.multibench.synthetic import write_synthetic

    other = tmp_path / "other"
    other.mkdir()
    write_synthetic(other, "mosi", seed=7)  # a second file under the same name, with other contents
    argv = ["reproduce", "--dataset", "mosi", "--preset", "ci", "--device", "cpu", "--seeds", "41", "--no-progress",
            "--out", str(tmp_path / "m")]
    monkeypatch.setenv("CORAL_LAB_MULTIBENCH_DIR", str(synthetic_mosi_folder))
    assert main(argv) == 0
    first = pd.read_csv(tmp_path / "m" / "table2.csv")
    capsys.readouterr()
    monkeypatch.setenv("CORAL_LAB_MULTIBENCH_DIR", str(other))
    assert main(argv) == 2  # A's unit is not taken for C's: its checkpoint is another run's
    assert "different configuration" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "m" / "table2.csv"), first)  # nothing overwritten


def test_a_curve_written_before_curves_were_tied_to_their_training_is_still_read(tiny, ci_benchmark, tmp_path):
    from coral_lab.experiments import study
    from coral_lab.experiments.study import Variant, collect_curves, run_curve_unit

    v = Variant("v", "v")
    rows = run_curve_unit(tiny, v, 41, "biased", tmp_path, every=1, benchmark=ci_benchmark)
    path = tmp_path / "v" / "seed41-biased" / study.CURVE
    legacy = pd.read_csv(path).drop(columns=list(runs.TABLE_KEYS))  # as an older coral_lab wrote it
    legacy.to_csv(path, index=False)
    pd.testing.assert_frame_equal(collect_curves(tmp_path), rows)  # its earlier epochs cannot be probed again
    again = run_curve_unit(tiny, v, 41, "biased", tmp_path, every=1, benchmark=ci_benchmark)
    pd.testing.assert_frame_equal(again, rows)  # nothing retrained or probed twice


def test_a_study_folder_keeps_the_provenance_of_every_command_that_wrote_it(ci_cache, tmp_path, capsys):
    """Two commands into one study folder (seed 41, then 42): the sidecar's runs name both, each with its
    own seeds, and its seeds are the union the curves hold; a damaged sidecar stops the next command before
    anything trains and is left as it was."""
    out = tmp_path / "s"
    argv = ["study", "--name", "confirm", "--variants", "paper-schedule", "--preset", "ci", "--device", "cpu",
            "--cache-dir", str(ci_cache), "--probe-every", "1", "--jobs", "1", "--epochs", "1",
            "--protocol", "held_out", "--no-progress", "--out", str(out)]
    assert main([*argv, "--seeds", "41"]) == 0
    assert main([*argv, "--seeds", "42"]) == 0
    capsys.readouterr()
    side = json.loads((out / "curves.provenance.json").read_text())
    assert [r["seeds"] for r in side["runs"]] == [[41], [42]]
    assert all(r["wall_minutes"] >= 0 and r["commit"] and r["command"] for r in side["runs"])
    assert side["seeds"] == [41, 42] == sorted(pd.read_csv(out / "curves.csv")["seed"].unique().tolist())
    (out / "curves.provenance.json").write_text('{"runs": [')
    curves = (out / "curves.csv").read_bytes()
    assert main([*argv, "--seeds", "43"]) == 2
    err = capsys.readouterr().err
    assert "curves.provenance.json is not readable JSON" in err and "move it aside" in err
    assert (out / "curves.provenance.json").read_text() == '{"runs": ['
    assert (out / "curves.csv").read_bytes() == curves and not list(out.glob("*/seed43*"))
