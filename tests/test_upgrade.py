"""coral_lab.config.upgrade and scripts/upgrade_run_folders.py: older run folders brought to today's config layout."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from coral_lab.config import RunConfig, experiment_dict, get_preset, moved_fields, runs
from coral_lab.config.upgrade import run_folders_under, upgrade_run_folder
from coral_lab.methods import with_method

ROOT = Path(__file__).resolve().parents[1]


def _old_layout(cfg: RunConfig) -> dict:
    """A feature-data config as coral_lab wrote it before the one run config (independently spelled out)."""
    d = cfg.to_dict()
    d["train"] = {k: v for k, v in d["train"].items()
                  if k not in ("train_set", "lr_schedule", "amp", "compile", "channels_last")}
    d["train"]["method"] = d.pop("method")
    data = d.pop("data")
    d["data_path"], d["split_seed"] = data["path"], data["split_seed"]
    return d


def _old_feature_folder(tmp_path: Path) -> tuple[Path, RunConfig, str]:
    """A claimed run folder with an old-layout config.json and a probe table written for it."""
    cfg = get_preset("ci", "digits").replace(method="comm")
    folder = runs.claim(tmp_path / "old")
    old = _old_layout(cfg)
    (folder / runs.CONFIG).write_text(json.dumps(old, indent=2) + "\n")
    runs.new_run_id(folder, "r1")
    old_hash = runs.config_hash(experiment_dict(old))
    rows = pd.DataFrame({"features": ["Z", "fused"], "accuracy": [91.25, 88.5]})
    rows.assign(run_id="r1", config_hash=old_hash).to_csv(folder / runs.PROBE, index=False)
    pd.DataFrame({"x": [1]}).assign(run_id="r1", config_hash="0" * 16).to_csv(folder / "other.csv", index=False)
    return folder, cfg, old_hash


def test_an_old_feature_folder_is_upgraded_and_its_scores_read_as_current(tmp_path):
    folder, cfg, old_hash = _old_feature_folder(tmp_path)
    assert old_hash != runs.config_hash(cfg)  # the layout changed the hash
    assert runs.read_table(folder, runs.PROBE, cfg) is None  # read as stale before the upgrade
    other_before = (folder / "other.csv").read_text()

    assert upgrade_run_folder(folder, dry_run=True) != [] and runs.read_table(folder, runs.PROBE, cfg) is None
    lines = upgrade_run_folder(folder)
    assert [line.split(":")[0] for line in lines] == [str(folder / runs.PROBE), str(folder / runs.CONFIG)]
    rows = runs.read_table(folder, runs.PROBE, cfg)
    assert rows is not None and list(rows["accuracy"]) == [91.25, 88.5]
    assert (folder / "other.csv").read_text() == other_before  # written for another config: left alone
    saved = json.loads((folder / runs.CONFIG).read_text())
    assert RunConfig.from_dict(saved) == cfg and moved_fields(saved) == [] and "data_path" not in saved
    assert upgrade_run_folder(folder) == []  # idempotent


def _with_shared_baseline(d: dict, method: str) -> dict:
    """A config dict as coral_lab wrote it before the methods' own settings: the shared ``baseline`` section of
    that day, every method's settings named ``<method>_<setting>`` (independently spelled out)."""
    out = {k: v for k, v in d.items() if k != "settings"}
    out["method"] = method
    out["baseline"] = {"clip_logit_scale_init": math.log(1 / 0.07), "clip_logit_scale_max": math.log(100.0),
                       "infmasking_views": 6, "infmasking_ratio": 0.7, "infmasking_lambda": 1.0,
                       "infmasking_total": "mean", "factorcl_critic_hidden": None}
    return out


def test_an_old_trifeature_folder_with_the_shared_baseline_section_is_upgraded(tmp_path):
    """Its config takes the run's method's own settings, and both probe tables (held out, and the published
    replica's, written for the config probed under that protocol) keep their scores as current."""
    cfg = with_method(get_preset("ci"), "infmasking")
    folder = runs.claim(tmp_path / "tri")
    old = _with_shared_baseline(cfg.to_dict(), "infmasking")
    (folder / runs.CONFIG).write_text(json.dumps(old))
    runs.new_run_id(folder, "r1")
    published = {**old, "probe": {**old["probe"], "protocol": "published"}}
    tables = {runs.PROBE: (old, cfg), "probe_published.csv": (published, cfg.replace(probe={"protocol": "published"}))}
    for name, (old_dict, _) in tables.items():
        pd.DataFrame({"features": ["Z"], "accuracy": [71.5]}).assign(
            run_id="r1", config_hash=runs.config_hash(experiment_dict(old_dict))).to_csv(folder / name, index=False)
    assert all(runs.read_table(folder, name, today) is None for name, (_, today) in tables.items())  # stale
    lines = upgrade_run_folder(folder)
    assert len(lines) == 3 and lines[-1].startswith(str(folder / runs.CONFIG))
    for name, (_, today) in tables.items():
        rows = runs.read_table(folder, name, today)
        assert rows is not None and list(rows["accuracy"]) == [71.5]
    saved = json.loads((folder / runs.CONFIG).read_text())
    assert "baseline" not in saved and saved["settings"] == {"views": 6, "ratio": 0.7, "lam": 1.0, "total": "mean"}
    assert RunConfig.from_dict(saved) == cfg and upgrade_run_folder(folder) == []


def test_a_trifeature_folder_and_the_committed_results_are_already_current(tmp_path):
    cfg = get_preset("ci")
    folder = runs.claim(tmp_path / "tri")
    old = json.dumps({k: v for k, v in cfg.to_dict().items() if k != "dataset"})  # as written before the field
    (folder / runs.CONFIG).write_text(old)
    assert upgrade_run_folder(folder) == [] and (folder / runs.CONFIG).read_text() == old
    for root in ("results", "pretrained"):
        assert all(upgrade_run_folder(f, dry_run=True) == [] for f in run_folders_under(ROOT / root))


def test_bad_folders_stop_with_one_line_and_nothing_is_written(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no config.json; it is not a run folder"):
        upgrade_run_folder(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        upgrade_run_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"dataset": "cifar"}))
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        upgrade_run_folder(tmp_path)
    with pytest.raises(NotADirectoryError, match="is not a folder"):
        run_folders_under(tmp_path / "missing")


def test_the_script_checks_then_upgrades(tmp_path):
    folder, cfg, _ = _old_feature_folder(tmp_path)
    shutil.copytree(folder, tmp_path / "tree" / "a" / "seed1")
    script = [sys.executable, str(ROOT / "scripts" / "upgrade_run_folders.py")]
    check = subprocess.run([*script, "--check", str(tmp_path / "tree")], capture_output=True, text=True)
    assert check.returncode == 1 and "out of date:" in check.stdout
    done = subprocess.run([*script, str(tmp_path / "tree")], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.count("upgraded:") == 2
    again = subprocess.run([*script, "--check", str(tmp_path / "tree")], capture_output=True, text=True)
    assert again.returncode == 0 and "every run folder is in today's layout" in again.stdout
    bad = subprocess.run([*script, str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and len(bad.stderr.strip().splitlines()) == 1
