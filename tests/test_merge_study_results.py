"""scripts/merge_study_results.py: units trained later, in another folder, join a study published in results/."""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from coral_lab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "merge_study_results.py"
_spec = importlib.util.spec_from_file_location("merge_study_results", SCRIPT)
merge_study_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(merge_study_results)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
KEY = ["variant", "seed", "unit"]


@pytest.fixture(scope="module")
def two_studies(ci_cache, tmp_path_factory):
    """Two audit-study folders of the ci preset, one unit each (seed 41's unbiased, seed 42's biased), and
    the first published as a results/ folder holds it (tables and sidecars, no units, no marker)."""
    root = tmp_path_factory.mktemp("studies")
    for name, unit, seed in (("a", "unbiased", "41"), ("b", "biased", "42")):
        assert main(["study", "--name", "audit", "--preset", "ci", "--variants", "d64", "--units", unit, "--seeds", seed,
                     "--probe-every", "1", "--device", "cpu", "--cache-dir", str(ci_cache), "--no-progress",
                     "--protocol", "held_out", "published", "--out", str(root / name)]) == 0
    return root


def _published(two_studies, tmp_path):
    dest = tmp_path / "results" / "study-audit-ci"
    dest.mkdir(parents=True)
    for name in ("curves.csv", "curves.provenance.json", "protocol_audit.csv", "protocol_audit.provenance.json"):
        shutil.copy2(two_studies / "a" / name, dest / name)
    return dest


def _sorted(frame):
    return frame.sort_values([*KEY, "epoch", "protocol", "score"] if "score" in frame else
                             [*KEY, "epoch", "protocol", "task", "features"]).reset_index(drop=True)


def test_units_from_another_folder_join_the_published_study(two_studies, tmp_path):
    dest = _published(two_studies, tmp_path)
    merge_study_results.merge(two_studies / "b", dest, note="a test")
    for table in ("curves.csv", "protocol_audit.csv"):  # each study's own rows, nothing else
        both = pd.concat([pd.read_csv(two_studies / s / table) for s in ("a", "b")], ignore_index=True)
        pd.testing.assert_frame_equal(_sorted(pd.read_csv(dest / table)), _sorted(both))
    audit = pd.read_csv(dest / "protocol_audit.csv")
    assert set(zip(audit["unit"], audit["seed"])) == {("unbiased", 41), ("biased", 42)}
    info = json.loads((dest / "curves.provenance.json").read_text())
    a_runs = json.loads((two_studies / "a" / "curves.provenance.json").read_text())["runs"]
    b_runs = json.loads((two_studies / "b" / "curves.provenance.json").read_text())["runs"]
    assert info["runs"] == a_runs + [r | {"code_note": "a test"} for r in b_runs]
    assert info["seeds"] == [41, 42] and info["protocols"] == ["held_out", "published"]
    assert info["command"] == json.loads((two_studies / "a" / "curves.provenance.json").read_text())["command"]
    assert set(info["merged_by"]) == {"command", "commit", "date"}
    assert json.loads((dest / "protocol_audit.provenance.json").read_text())["runs"] == info["runs"]

    # merging the same folder again changes no row and adds no run (so a killed merge is repaired by a rerun)
    curves = (dest / "curves.csv").read_text()
    merge_study_results.merge(two_studies / "b", dest, note="a test")
    assert (dest / "curves.csv").read_text() == curves
    assert json.loads((dest / "curves.provenance.json").read_text())["runs"] == info["runs"]


def test_a_unit_merged_again_replaces_its_rows(two_studies, tmp_path):
    dest = _published(two_studies, tmp_path)
    source = tmp_path / "again"
    shutil.copytree(two_studies / "a", source)
    rows = pd.read_csv(source / "curves.csv")
    rows["balanced_accuracy"] = 12.5  # as if the unit had been retrained
    rows.to_csv(source / "curves.csv", index=False)
    merge_study_results.merge(source, dest)
    merged = pd.read_csv(dest / "curves.csv")
    assert len(merged) == len(rows) and set(merged["balanced_accuracy"]) == {12.5}


@pytest.mark.parametrize("spoil, message", [
    ("marker", "not a coral_lab study folder"),
    ("preset", "merge a study only into the same study and preset"),
    ("config", "another preset config"),
    ("dest-marker", "not a published one"),
    ("sidecar", "not readable JSON"),
    ("unfinished", "is probed to epoch 1 of 2: let its study finish"),
])
def test_what_must_not_be_merged_is_refused_with_one_line_and_nothing_written(two_studies, tmp_path, spoil, message):
    dest = _published(two_studies, tmp_path)
    source = tmp_path / "src"
    shutil.copytree(two_studies / "b", source)
    side = source / "curves.provenance.json"
    info = json.loads(side.read_text())
    if spoil == "marker":
        (source / "coral_lab_experiment.json").unlink()
    elif spoil == "preset":
        side.write_text(json.dumps(info | {"preset": "quick"}))
    elif spoil == "config":
        info["config"]["train"]["lr"] = 0.5
        side.write_text(json.dumps(info))
    elif spoil == "unfinished":  # as a study's curves hold a unit still training when another one finished
        rows = pd.read_csv(source / "curves.csv")
        rows[rows["epoch"] < rows["epoch"].max()].to_csv(source / "curves.csv", index=False)
    elif spoil == "dest-marker":
        shutil.copy2(source / "coral_lab_experiment.json", dest / "coral_lab_experiment.json")
    else:
        (dest / "curves.provenance.json").write_text("{not json")
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    done = subprocess.run([sys.executable, str(SCRIPT), str(source), str(dest)], capture_output=True, text=True)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert done.stderr.startswith("error:") and len(done.stderr.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
