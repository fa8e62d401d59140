"""coral_lab.training.pretrained: shipped models, their manifest's checksums, and the notebooks' load-or-train."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from coral_lab.evaluation import analysis
from coral_lab.training import pretrained
from coral_lab.experiments import units
from coral_lab.evaluation.protocol import run_unit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shipped(ci_config, ci_benchmark, tmp_path_factory):
    """A shipped folder (root/pretrained/ci) with the seed-41 unbiased unit, exported from a trained run."""
    runs = tmp_path_factory.mktemp("runs")
    run_unit(ci_config, 41, "unbiased", runs, device="cpu", progress=False, benchmark=ci_benchmark)
    root = tmp_path_factory.mktemp("root")
    folder = pretrained.shipped_dir("ci", root)
    info = {"command": "test", "preset": "ci", "seeds": [41], "device": "cpu", "commit": "x", "date": "today"}
    pretrained.export_units({"seed41-unbiased": runs / "seed41-unbiased"}, folder, info)
    return root, folder, runs


def test_export_writes_weights_only_files_and_a_manifest(shipped):
    root, folder, runs = shipped
    manifest = json.loads((folder / pretrained.MANIFEST).read_text())
    assert set(manifest["files"]) == {f"seed41-unbiased/{f}" for f in pretrained.FILES}
    assert manifest["provenance"]["preset"] == "ci"
    state = torch.load(folder / "seed41-unbiased" / "model.pt", weights_only=True)  # tensors only, no pickle code
    ckpt = torch.load(runs / "seed41-unbiased" / "checkpoint.pt", weights_only=False)
    assert state.keys() == ckpt["model"].keys() and all(torch.equal(state[k], ckpt["model"][k]) for k in state)
    assert pretrained.shipped_units(folder) == ["seed41-unbiased"]
    assert pretrained.shipped_units(folder.parent / "nothing") == []


def test_load_shipped_gives_the_trained_model(shipped, ci_benchmark):
    _, folder, runs = shipped
    from coral_lab.training.pretrain import load_model

    model, cfg, history = pretrained.load_shipped(folder, "seed41-unbiased")
    ref, ref_cfg, ref_history = load_model(runs / "seed41-unbiased")
    assert cfg == ref_cfg and not model.training
    pd.testing.assert_frame_equal(history, ref_history, check_dtype=False)
    x = [torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)]
    with torch.no_grad():
        assert torch.equal(model.embed(x).concat(), ref.embed(x).concat())
    rows = pretrained.shipped_probe_rows(folder, "seed41-unbiased")
    assert set(rows["column"]) >= {"redundancy", "uniqueness"}


def test_a_changed_file_is_refused_naming_it(shipped, tmp_path):
    import shutil

    _, folder, _ = shipped
    copy = tmp_path / "ci"
    shutil.copytree(folder, copy)
    weights = copy / "seed41-unbiased" / "model.pt"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0x01  # one flipped bit in a weight
    weights.write_bytes(bytes(data))
    with pytest.raises(pretrained.ShippedModelError, match="model.pt does not match its checksum"):
        pretrained.load_shipped(copy, "seed41-unbiased")
    weights.write_bytes((folder / "seed41-unbiased" / "model.pt").read_bytes())  # restored
    pretrained.verify_shipped(copy)
    (copy / "seed41-unbiased" / "history.csv").unlink()
    with pytest.raises(pretrained.ShippedModelError, match="history.csv is missing"):
        pretrained.verify_shipped(copy)
    with pytest.raises(pretrained.ShippedModelError, match="ships no unit"):
        pretrained.verify_shipped(folder, ["seed41-biased"])
    (copy / pretrained.MANIFEST).write_text("{not json")
    with pytest.raises(pretrained.ShippedModelError, match="not a valid manifest"):
        pretrained.shipped_units(copy)
    with pytest.raises(pretrained.ShippedModelError, match="not found"):
        pretrained.verify_shipped(tmp_path / "empty")


def test_export_refuses_an_unfinished_or_unprobed_run(ci_config, ci_benchmark, tmp_path):
    from coral_lab.training.pretrain import pretrain

    pretrain(ci_config, tmp_path / "half", benchmark=ci_benchmark, device="cpu", progress=False,
             max_epochs_this_call=1)
    with pytest.raises(pretrained.ShippedModelError, match="stopped at epoch 1"):
        pretrained.export_units({"seed41-unbiased": tmp_path / "half"}, tmp_path / "out", {})
    pretrain(ci_config, tmp_path / "half", benchmark=ci_benchmark, device="cpu", progress=False)
    with pytest.raises(pretrained.ShippedModelError, match="no probe.csv"):
        pretrained.export_units({"seed41-unbiased": tmp_path / "half"}, tmp_path / "out", {})


def test_load_unit_prefers_the_shipped_model_only_for_its_own_config(shipped, ci_config, ci_benchmark, tmp_path):
    root, folder, _ = shipped
    model, history, source = units.load_unit(ci_config, tmp_path / "runs", 41, "unbiased", device="cpu",
                                                benchmark=ci_benchmark, progress=False, shipped_root=root)
    assert source.startswith("shipped") and not (tmp_path / "runs").exists()
    # retrain=True, another config, or a unit that is not shipped: trained in runs/
    for kwargs, cfg, kind in (({"retrain": True}, ci_config, "unbiased"),
                              ({}, ci_config.replace(train={"lr": 5e-4}), "unbiased"),
                              ({}, ci_config, "biased-no-mask")):
        _, _, source = units.load_unit(cfg, tmp_path / f"runs-{len(kwargs)}-{cfg.train.lr}", 41, kind,
                                          device="cpu", benchmark=ci_benchmark, progress=False, shipped_root=root,
                                          **kwargs)
        assert source.startswith("run"), (kwargs, kind)
    with pytest.raises(ValueError, match="unknown shipped unit"):
        units.load_unit(ci_config, tmp_path, 41, "sideways", shipped_root=root)


def test_unit_probe_rows_from_shipped_rows_or_probed_and_kept(shipped, ci_config, ci_benchmark, tmp_path):
    root, folder, _ = shipped
    rows, source = units.unit_probe_rows(ci_config, tmp_path / "runs", 41, "unbiased", subspaces=("Z",),
                                            device="cpu", benchmark=ci_benchmark, progress=False, shipped_root=root)
    assert source.startswith("shipped") and set(rows["features"]) == {"Z"}
    # the shipped unit was probed on Z only: asking for the subspaces probes it here, once
    rows, source = units.unit_probe_rows(ci_config, tmp_path / "runs", 41, "unbiased", device="cpu",
                                            benchmark=ci_benchmark, progress=False, shipped_root=root)
    assert source.startswith("run") and set(rows["features"]) == {"Z", "shared", "unique1", "unique2"}
    kept = tmp_path / "runs" / "seed41-unbiased" / "probe_subspaces.csv"
    stamp = kept.stat().st_mtime_ns
    again, _ = units.unit_probe_rows(ci_config, tmp_path / "runs", 41, "unbiased", device="cpu",
                                        benchmark=ci_benchmark, progress=False, shipped_root=root)
    assert kept.stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(again, rows)
    table = analysis.probe_map_from_rows(rows)
    assert list(table.index) == ["shape", "texture 1", "texture 2", "synergy"]
    assert list(table.columns) == ["shared", "unique1", "unique2", "Z"]
    with pytest.raises(ValueError, match="lack"):
        analysis.probe_map_from_rows(rows[rows["features"] == "Z"])


def test_the_repository_ships_checksummed_models_of_todays_presets():
    # pretrained/<preset>/ must match what scripts/ship_models.py would train now, file for file
    from coral_lab.config import PRESETS, get_preset

    root = pretrained.shipped_dir("ci").parent
    presets = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.endswith("-lab"))
    assert "ci" in presets and set(presets) <= set(PRESETS)
    for preset in presets:
        folder = root / preset
        manifest = pretrained.verify_shipped(folder)
        assert sum(f["bytes"] for f in manifest["files"].values()) < 12 * 2**20  # the whole set stays small
        assert set(pretrained.shipped_units(folder)) == {pretrained.unit_name(41, k) for k in pretrained.SHIPPED_UNITS}
        for kind, (train_set, changes) in pretrained.SHIPPED_UNITS.items():
            want = units.unit_config(get_preset(preset), 41, train_set).replace(**changes)
            got = pretrained.shipped_config(folder, pretrained.unit_name(41, kind))
            assert got.experiment_dict() == want.experiment_dict(), (
                f"pretrained/{preset}/{pretrained.unit_name(41, kind)} was trained with another config than the "
                f"{preset} preset's; re-run `python scripts/ship_models.py --preset {preset}`")


def test_the_shipped_lab_trials_are_notebook_09s_trials_of_todays_presets():
    # pretrained/<preset>-lab/ holds exactly the trials notebook 09 runs, trained with today's configs
    from coral_lab.teaching import lab
    from coral_lab.config import PRESETS

    root = pretrained.shipped_dir("ci").parent
    for folder in sorted(root.glob("*-lab")):
        preset = folder.name[: -len("-lab")]
        assert preset in PRESETS, folder
        manifest = pretrained.verify_shipped(folder)
        assert sum(f["bytes"] for f in manifest["files"].values()) < 8 * 2**20
        assert set(pretrained.shipped_units(folder)) == set(lab.NOTEBOOK_TRIALS)
        for name in lab.NOTEBOOK_TRIALS:
            got = pretrained.shipped_config(folder, name)
            assert got.pretrain_dict() == lab.notebook_trial_config(preset, name).pretrain_dict(), (
                f"{folder / name} was trained with another config than notebook 09's {name} trial; re-run "
                f"`python scripts/ship_models.py --preset {preset} --lab-trials`")


def test_a_shipped_unit_gains_a_published_probe_table_listed_and_checked_by_its_manifest(shipped, ci_config,
                                                                                          ci_benchmark, tmp_path):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(shipped[0], root)
    folder = pretrained.shipped_dir("ci", root)
    name = "seed41-unbiased"
    assert pretrained.shipped_probe_rows(folder, name, "published") is None  # none shipped yet
    # without a shipped table, the published rows are probed here and kept beside the unit's run folder
    rows, source = units.unit_probe_rows(ci_config, tmp_path / "runs", 41, "unbiased", protocol="published",
                                         device="cpu", benchmark=ci_benchmark, progress=False, shipped_root=root)
    assert source.startswith("run") and set(rows["protocol"]) == {"published"}
    assert sorted(zip(rows["task"], rows["features"], rows["column"])) == [("share", "Z", "redundancy"),
                                                                          ("unique1", "Z", "uniqueness")]
    assert (tmp_path / "runs" / name / "probe_subspaces_published.csv").is_file()
    pretrained.add_probe_table(folder, name, "published", rows, {"command": "test"})
    manifest = json.loads((folder / pretrained.MANIFEST).read_text())
    assert f"{name}/probe_published.csv" in manifest["files"] and manifest["probe_tables"]
    shipped_rows, source = units.unit_probe_rows(ci_config, tmp_path / "other", 41, "unbiased", protocol="published",
                                                 device="cpu", benchmark=ci_benchmark, progress=False,
                                                 shipped_root=root)
    assert source.startswith("shipped")
    pd.testing.assert_frame_equal(shipped_rows.reset_index(drop=True), rows.reset_index(drop=True), check_dtype=False)
    held, _ = units.unit_probe_rows(ci_config, tmp_path / "other", 41, "unbiased", subspaces=("Z",), device="cpu",
                                    benchmark=ci_benchmark, progress=False, shipped_root=root)
    assert set(held["protocol"]) == {"held_out"}  # the held-out rows are never the published ones
    table = folder / name / "probe_published.csv"
    table.write_text(table.read_text().replace("unique1", "unique2"))
    with pytest.raises(pretrained.ShippedModelError, match="does not match its checksum"):
        pretrained.shipped_probe_rows(folder, name, "published")
    with pytest.raises(ValueError, match="held out is the unit's probe.csv"):
        pretrained.add_probe_table(folder, name, "held_out", rows, {})


@pytest.mark.parametrize("tamper", ["unlisted model.pt", "entry is a string", "no sha256", "files is a list",
                                    "binary bytes", "not json", "path outside"])
def test_a_tampered_manifest_is_refused_in_one_line(tamper, tmp_path, ci_config):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(pretrained.shipped_dir("ci"), pretrained.shipped_dir("ci", root))
    folder = pretrained.shipped_dir("ci", root)
    path = folder / pretrained.MANIFEST
    manifest = json.loads(path.read_text())
    key = "seed41-unbiased/model.pt"
    if tamper == "unlisted model.pt":  # and then a flipped byte in the file nobody checks any more
        del manifest["files"][key]
        data = bytearray((folder / key).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / key).write_bytes(bytes(data))
    elif tamper == "entry is a string":
        manifest["files"][key] = "6f3f7d5c"
    elif tamper == "no sha256":
        del manifest["files"][key]["sha256"]
    elif tamper == "files is a list":
        manifest["files"] = list(manifest["files"])
    elif tamper == "path outside":
        manifest["files"]["../etc/passwd"] = manifest["files"][key]
    if tamper == "binary bytes":
        path.write_bytes(b"\x80\xff\x00garbage")
    elif tamper == "not json":
        path.write_text("{files: nope")
    else:
        path.write_text(json.dumps(manifest))
    with pytest.raises(pretrained.ShippedModelError) as e:
        units.load_unit(ci_config, tmp_path / "runs", 41, "unbiased", device="cpu", progress=False, shipped_root=root)
    assert "\n" not in str(e.value) and "MANIFEST.json" in str(e.value)
    assert not (tmp_path / "runs").exists()  # refused, not silently retrained
