"""scripts/publish_results.py: a finished reproduce folder copied into results/ without checkpoints, with its runs."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "publish_results.py"
_spec = importlib.util.spec_from_file_location("publish_results", SCRIPT)
publish_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(publish_results)


def _run(seeds, minutes, command="coral-lab reproduce --method clip"):
    return {"command": command, "commit": "abc", "device": "cpu: AMD EPYC", "started": "2026-12-07T22:49:26Z",
            "ended": "2026-12-07T23:32:00Z", "wall_minutes": minutes, "seeds": seeds}


def _source(tmp_path, seeds=(41, 42)):
    src = tmp_path / "runs" / "clip"
    src.mkdir(parents=True)
    (src / "coral_lab_experiment.json").write_text(json.dumps({"coral_lab_experiment": 1, "kind": "reproduce"}))
    (src / "table1.csv").write_text("seed,column,balanced_accuracy\n41,redundancy,99.0\n")
    (src / "table1.txt").write_text("table\n")
    (src / "table1.provenance.json").write_text(json.dumps(
        {"command": "coral-lab reproduce --method clip --seeds 41 42", "seeds": list(seeds), "wall_minutes": 0.1,
         "device": "cpu: AMD EPYC"}))
    for seed in seeds:
        unit = src / f"seed{seed}-biased"
        unit.mkdir()
        for name in ("config.json", "coral_lab_run.json"):
            (unit / name).write_text("{}")
        for name in ("history.csv", "probe.csv", "probe_published.csv"):
            (unit / name).write_text("a,b\n1,2\n")
        (unit / "checkpoint.pt").write_bytes(b"\0" * 64)
        (unit / "checkpoint.pt.sha256").write_text("0" * 64)
        (unit / ".coral_lab.lock").write_text("123")
    return src


def test_publish_copies_tables_and_probes_but_no_checkpoint_lock_or_marker(tmp_path):
    src = _source(tmp_path)
    dest = tmp_path / "results" / "clip"
    runs = [_run([41], 40.2), _run([42], 41.0), _run([41, 42], 0.1)]
    written = publish_results.publish(src, dest, runs)
    names = {p.as_posix() for p in written}
    assert {"table1.csv", "table1.txt", "table1.provenance.json", "seed41-biased/probe_published.csv",
            "seed42-biased/history.csv", "seed42-biased/config.json"} <= names
    assert not list(dest.rglob("*.pt*")) and not list(dest.rglob(".coral_lab.lock"))
    assert not (dest / "coral_lab_experiment.json").exists()
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == sorted(names)
    info = json.loads((dest / "table1.provenance.json").read_text())
    assert info["wall_minutes"] == 81.3 and info["final_pass_wall_minutes"] == 0.1 and info["runs"] == runs
    assert info["command"] == "coral-lab reproduce --method clip --seeds 41 42"  # the final pass's, unchanged
    assert "final_pass_device" not in info and info["device"] == "cpu: AMD EPYC"  # every run on one machine


def test_seeds_trained_on_two_machines_name_both(tmp_path):
    # seeds 41-42 on one machine, seed 43 and the final pass on another: the table's device names each seed's
    src = _source(tmp_path, seeds=(41, 42, 43))
    info = json.loads((src / "table1.provenance.json").read_text()) | {"device": "cpu: Intel Xeon"}
    (src / "table1.provenance.json").write_text(json.dumps(info))
    intel = {"device": "cpu: Intel Xeon"}
    runs = [_run([41], 48.3), _run([42], 64.2), _run([41, 42], 0.1), _run([43], 54.2) | intel,
            _run([41, 42, 43], 0.1) | intel]
    publish_results.publish(src, tmp_path / "results" / "clip", runs)
    out = json.loads((tmp_path / "results" / "clip" / "table1.provenance.json").read_text())
    assert out["device"] == "cpu: AMD EPYC (seeds 41, 42); cpu: Intel Xeon (seed 43)"
    assert out["final_pass_device"] == "cpu: Intel Xeon" and out["wall_minutes"] == 166.9
    assert not (tmp_path / "results" / "clip.publishing").exists()


def test_publish_refuses_what_it_should_not_copy(tmp_path):
    src = _source(tmp_path)
    dest = tmp_path / "results" / "clip"
    with pytest.raises(ValueError, match=r"trains no run of seeds \[42\]"):
        publish_results.publish(src, dest, [_run([41], 40.2)])
    assert not dest.exists()
    with pytest.raises(ValueError, match="not a finished coral_lab reproduce folder"):
        publish_results.publish(tmp_path, dest, [_run([41, 42], 1.0)])
    publish_results.publish(src, dest, [_run([41, 42], 1.0)])
    with pytest.raises(ValueError, match="give --replace"):
        publish_results.publish(src, dest, [_run([41, 42], 2.0)])
    publish_results.publish(src, dest, [_run([41, 42], 2.0)], replace=True)
    assert json.loads((dest / "table1.provenance.json").read_text())["wall_minutes"] == 2.0
    (src / "table1.provenance.json").write_text("{not json")
    with pytest.raises(ValueError, match="not readable JSON"):
        publish_results.publish(src, dest, [_run([41, 42], 3.0)], replace=True)


def test_a_replaced_destination_keeps_what_was_written_beside_it(tmp_path):
    # the collapse check written into results/ after the first publish survives the next one; a published
    # unit the new source lacks stops it with the old results untouched
    src = _source(tmp_path)
    dest = tmp_path / "results" / "clip"
    publish_results.publish(src, dest, [_run([41, 42], 1.0)])
    (dest / "feature_variation.csv").write_text("run,variation_percent\nseed41-biased,12.5\n")
    (dest / "feature_variation.provenance.json").write_text("{}")
    written = publish_results.publish(src, dest, [_run([41, 42], 2.0)], replace=True)
    assert Path("feature_variation.csv") in written
    assert (dest / "feature_variation.csv").read_text() == "run,variation_percent\nseed41-biased,12.5\n"
    assert (dest / "feature_variation.provenance.json").read_text() == "{}"
    (dest / "seed44-biased").mkdir()
    before = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*"))
    with pytest.raises(ValueError, match=r"holds \['seed44-biased'\], which .* lacks"):
        publish_results.publish(src, dest, [_run([41, 42], 3.0)], replace=True)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == before
    assert not (tmp_path / "results" / "clip.publishing").exists()


def test_a_publish_killed_while_copying_keeps_the_old_results(tmp_path, monkeypatch):
    src = _source(tmp_path)
    dest = tmp_path / "results" / "clip"
    publish_results.publish(src, dest, [_run([41, 42], 1.0)])
    before = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    calls = []

    def dies_on_the_fourth(*args, **kwargs):
        calls.append(args)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = publish_results.shutil.copy2
    monkeypatch.setattr(publish_results.shutil, "copy2", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        publish_results.publish(src, dest, [_run([41, 42], 9.0)], replace=True)
    assert {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == before
    monkeypatch.setattr(publish_results.shutil, "copy2", real)
    publish_results.publish(src, dest, [_run([41, 42], 9.0)], replace=True)  # the next try cleans up and succeeds
    assert json.loads((dest / "table1.provenance.json").read_text())["wall_minutes"] == 9.0


@pytest.mark.parametrize("runs, message", [
    ("{bad", "cannot read the runs list"),
    ("[]", "non-empty JSON list"),
    ('[{"command": "x"}]', "lacks"),
    (json.dumps([_run([41], float("nan"))]), "wall_minutes"),
    (json.dumps([_run([41], -1.0)]), "wall_minutes"),
    (json.dumps([_run(41, 1.0)]), "seeds"),
    (json.dumps([_run([], 1.0)]), "seeds"),
    (json.dumps([_run(["41"], 1.0)]), "seeds"),
])
def test_the_runs_list_is_checked(tmp_path, runs, message):
    path = tmp_path / "runs.json"
    path.write_text(runs)
    with pytest.raises(ValueError, match=message):
        publish_results.read_runs(path)


def test_the_script_prints_one_line_on_bad_input(tmp_path):
    src = _source(tmp_path)
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps([_run([41, 42], 1.0)]))
    script = [sys.executable, str(SCRIPT)]
    ok = subprocess.run([*script, str(src), str(tmp_path / "out"), "--runs", str(runs)], capture_output=True, text=True)
    assert ok.returncode == 0 and "wrote" in ok.stdout
    bad = subprocess.run([*script, str(tmp_path / "nowhere"), str(tmp_path / "out2"), "--runs", str(runs)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and len(bad.stderr.strip().splitlines()) == 1


def test_a_published_folder_copied_back_trains_only_the_seeds_it_lacks(ci_cache, tmp_path, capsys):
    # the cross-session route of a long comparison: seed 41 published (no checkpoints), copied back into
    # runs/ later, and a run over seeds 41 and 42 trains seed 42 only
    import shutil

    import pandas as pd

    from coral_lab.cli import main

    base = ["reproduce", "--method", "clip", "--preset", "ci", "--device", "cpu", "--cache-dir", str(ci_cache),
            "--epochs", "1", "--no-progress"]
    assert main([*base, "--seeds", "41", "--out", str(tmp_path / "runs" / "a")]) == 0
    runs = [_run([41], 0.2)]
    publish_results.publish(tmp_path / "runs" / "a", tmp_path / "results" / "clip", runs)
    assert not list((tmp_path / "results").rglob("checkpoint.pt"))
    # the collapse check written beside the published tables (as for FactorCL) must not stop the copy-back
    variation = subprocess.run([sys.executable, str(ROOT / "scripts" / "feature_variation.py"), "--pairs", "20",
                                "--out", str(tmp_path / "results" / "clip" / "feature_variation.csv"),
                                str(tmp_path / "runs" / "a" / "seed41-unbiased")], capture_output=True, text=True)
    assert variation.returncode == 0, variation.stderr
    shutil.copytree(tmp_path / "results" / "clip", tmp_path / "runs" / "b")
    capsys.readouterr()
    assert main([*base, "--seeds", "41", "42", "--out", str(tmp_path / "runs" / "b")]) == 0, capsys.readouterr().err
    assert "seed 41 / unbiased done" in capsys.readouterr().out
    assert not (tmp_path / "runs" / "b" / "seed41-unbiased" / "checkpoint.pt").exists()  # not trained again
    assert (tmp_path / "runs" / "b" / "seed42-unbiased" / "checkpoint.pt").is_file()
    both = pd.read_csv(tmp_path / "runs" / "b" / "table1.csv")
    first = pd.read_csv(tmp_path / "results" / "clip" / "table1.csv")
    assert set(both["seed"]) == {41, 42}
    pd.testing.assert_frame_equal(both[both["seed"] == 41].reset_index(drop=True), first)
