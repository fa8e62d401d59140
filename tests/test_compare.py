"""coral_lab.experiments.compare: the method comparison table, the probe map from probe rows, the paper's pattern."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coral_lab.experiments import compare


def rows_of(method: str, r: float, u: float, s: float, seeds=(41, 42), subspaces=("fused",)) -> pd.DataFrame:
    """Rows as run_table1 writes them for a method (per seed, both pretrainings, Z and subspaces)."""
    out = []
    for seed in seeds:
        shift = seed - 41.5
        for train_set in ("unbiased", "biased"):
            for task in ("share", "unique1", "unique2", "synergy"):
                for feats in ("Z", *subspaces):
                    acc = {"share": r, "unique1": u, "unique2": u - 5, "synergy": s}[task] + shift
                    if feats != "Z":
                        acc -= 3
                    col = ""
                    if feats == "Z" and (train_set, task) in (("unbiased", "share"), ("unbiased", "unique1"),
                                                              ("biased", "synergy")):
                        col = {"share": "redundancy", "unique1": "uniqueness", "synergy": "synergy"}[task]
                    if train_set == "unbiased" and task == "synergy" or train_set == "biased" and task != "synergy":
                        acc = 33.0  # probes of the other pretraining: never in the table or the map
                    out.append({"method": method, "seed": seed, "train_set": train_set, "task": task,
                                "features": feats, "balanced_accuracy": acc, "column": col or None})
    return pd.DataFrame(out)


def test_comparison_table_is_the_seed_mean_beside_the_papers_row():
    rows = pd.concat([rows_of("clip", 99.0, 12.0, 50.0), rows_of("coral", 90.0, 60.0, 70.0)])
    table = compare.comparison_table(rows)
    got = table.set_index(["method", "column"])
    assert got.loc[("CLIP", "uniqueness"), "ours_mean"] == pytest.approx(12.0)
    assert got.loc[("CLIP", "uniqueness"), "paper_mean"] == 11.6
    assert got.loc[("COrAL", "synergy"), "ours_std"] == pytest.approx(np.std([69.5, 70.5]))  # ddof 0, as the paper
    assert got.loc[("COrAL", "redundancy"), "n_seeds"] == 2
    wide = compare.wide_table(table)
    assert list(wide.columns) == ["R held out", "R paper", "U held out", "U paper", "S held out", "S paper"]
    assert wide.loc["CLIP", "U paper"] == 11.6 and wide.loc["COrAL", "R held out"] == 90.0
    # the rows of two protocols are summarised apart and shown side by side, never averaged together
    both = pd.concat([rows, rows.assign(protocol="published", balanced_accuracy=rows["balanced_accuracy"] + 5)])
    both["protocol"] = both["protocol"].fillna("held_out")
    wide2 = compare.wide_table(compare.comparison_table(both))
    assert list(wide2.columns[:3]) == ["R held out", "R published protocol", "R paper"]
    assert wide2.loc["COrAL", "R held out"] == 90.0 and wide2.loc["COrAL", "R published protocol"] == 95.0
    with pytest.raises(ValueError, match="columns"):
        compare.comparison_table(rows.drop(columns=["method"]))
    with pytest.raises(ValueError, match="unknown method"):
        compare.comparison_table(rows.assign(method="simclr"))


def test_probe_map_reads_each_task_from_its_own_pretraining():
    rows = rows_of("factorcl", 90.0, 60.0, 70.0, seeds=(41,), subspaces=("shared", "unique1", "unique2"))
    table = compare.method_probe_map(rows, method="factorcl")
    assert list(table.index) == ["shape", "texture 1", "texture 2", "synergy"]
    assert list(table.columns) == ["shared", "unique1", "unique2", "Z"]
    assert table.loc["shape", "Z"] == pytest.approx(89.5)
    assert table.loc["synergy", "shared"] == pytest.approx(66.5)  # from the biased pretraining, not 33
    assert table.loc["texture 2", "unique1"] == pytest.approx(51.5)
    with pytest.raises(ValueError, match="per-subspace"):
        compare.method_probe_map(rows[rows["features"] == "Z"])


def test_paper_pattern_checks_each_claim():
    rows = pd.concat([
        rows_of("clip", 99.0, 12.0, 51.0), rows_of("factorcl", 99.0, 60.0, 52.0), rows_of("comm", 99.0, 80.0, 70.0),
        rows_of("infmasking", 99.0, 85.0, 72.0), rows_of("coral", 99.0, 90.0, 53.0),
    ])
    claims = compare.paper_pattern(compare.comparison_table(rows)).set_index("claim")["holds"]
    assert claims["CLIP near chance on uniqueness and synergy"]
    assert claims["FactorCL near chance on synergy"]
    assert claims["CoMM above chance on R, U and S"] and claims["InfMasking above chance on R, U and S"]
    assert not claims["COrAL above chance on R, U and S"]  # synergy 53 is within 5 points of chance
    assert claims["COrAL highest on uniqueness"]
    partial = compare.paper_pattern(compare.comparison_table(rows_of("clip", 99.0, 40.0, 50.0)))
    h = partial.set_index("claim")["holds"]
    assert h["CLIP near chance on uniqueness and synergy"] is False or not h["CLIP near chance on uniqueness and synergy"]
    assert h["COrAL highest on uniqueness"] is None


def test_load_or_run_reads_saved_results_of_the_same_config_only(ci_config, tmp_path):
    from coral_lab.experiments.units import unit_config
    from coral_lab.methods import with_method

    folder = tmp_path / "clip"
    folder.mkdir()
    rows_of("clip", 99.0, 12.0, 50.0, seeds=(41,)).to_csv(folder / "table1.csv", index=False)
    for train_set in ("unbiased", "biased"):
        unit_config(with_method(ci_config, "clip"), 41, train_set).to_json(folder / f"seed41-{train_set}" / "config.json")
    got = compare.load_or_run(ci_config, "clip", folder, seeds=(41,), device="cpu", progress=False)
    assert set(got["seed"]) == {41} and (got["method"] == "clip").all()
    with pytest.raises(ValueError, match="another configuration"):
        compare.load_or_run(ci_config.replace(train={"epochs": 5}), "clip", folder, seeds=(41,))
    with pytest.raises(ValueError, match="unknown method"):
        compare.load_or_run(ci_config, "simclr", folder)


def test_comparison_config_is_the_preset_itself():
    from coral_lab.config import get_preset

    for preset in ("ci", "quick", "long", "hour", "paper"):
        assert compare.comparison_config(preset) == get_preset(preset)
    # the committed quick comparison was made with that config: every method's folder loads (no training)
    root = Path(__file__).resolve().parents[1] / "results" / "baselines-quick"
    for method in ("coral", "clip", "comm", "infmasking", "factorcl"):
        rows = compare.load_or_run(compare.comparison_config("quick"), method, root / method, seeds=(41, 42, 43))
        assert set(rows["seed"]) == {41, 42, 43}
    # and the hour comparison was made with the hour preset's config
    root = root.parent / "baselines-hour"
    for method in ("coral", "clip", "comm"):
        rows = compare.load_or_run(compare.comparison_config("hour"), method, root / method, seeds=(41, 42, 43))
        assert set(rows["seed"]) == {41, 42, 43}
    # FactorCL's three seeds (two trained on another machine)
    rows = compare.load_or_run(compare.comparison_config("hour"), "factorcl", root / "factorcl", seeds=(41, 42, 43))
    assert set(rows["seed"]) == {41, 42, 43}


def test_write_comparison_merges_rows_and_provenance(tmp_path):
    import json

    from coral_lab.drawing import figures

    folders = {}
    for method, values in {"clip": (99.0, 12.0, 50.0), "coral": (90.0, 60.0, 70.0)}.items():
        folder = tmp_path / method
        folder.mkdir()
        rows_of(method, *values, seeds=(41,)).to_csv(folder / "table1.csv", index=False)
        info = {"command": f"coral-lab reproduce --method {method}", "preset": "quick", "seeds": [41],
                "device": "cpu", "commit": "abc", "date": f"2026-01-0{len(folders) + 1}"}
        (folder / "table1.provenance.json").write_text(json.dumps(info))
        folders[method] = folder
    csv, sidecar = compare.write_comparison(folders, tmp_path / "out" / "baselines_table1.csv")
    table, info = figures.read_result(csv, figures.FIGURES["baselines"].required)
    assert len(table) == 6 and set(table["method"]) == {"clip", "coral"}
    assert info["methods"] == ["clip", "coral"] and info["date"] == "2026-01-02"
    assert "coral-lab reproduce --method clip" in info["command"] and "runs" not in info
    several = [{"command": "coral-lab reproduce --method coral --seeds 41", "seeds": [41], "wall_minutes": 3.0}]
    coral = json.loads((folders["coral"] / "table1.provenance.json").read_text()) | {"runs": several}
    (folders["coral"] / "table1.provenance.json").write_text(json.dumps(coral))
    _, sidecar = compare.write_comparison(folders, tmp_path / "out" / "baselines_table1.csv")
    assert json.loads(sidecar.read_text())["runs"] == {"coral": several}  # a published method's runs travel
    bad = json.loads((folders["coral"] / "table1.provenance.json").read_text()) | {"preset": "ci"}
    (folders["coral"] / "table1.provenance.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="differ in preset"):
        compare.write_comparison(folders, tmp_path / "x.csv")
    with pytest.raises(FileNotFoundError, match="coral-lab reproduce --method comm"):
        compare.write_comparison({"comm": tmp_path / "none"}, tmp_path / "x.csv")


def test_merged_device_names_each_method_where_machines_differ():
    intel, amd = "cpu: Intel(R) Xeon(R) Processor (x86_64, AVX512)", "cpu: AMD EPYC (x86_64, AVX512)"
    assert compare.merged_device({"clip": intel, "coral": intel}) == intel
    merged = compare.merged_device({"clip": intel, "factorcl": amd})
    assert merged == f"cpu, per method: clip: {intel}; factorcl: {amd}"
    from coral_lab.drawing import figures

    assert "CPU" in figures.scale_note({"preset": "paper", "device": merged})  # still read as a CPU run
    with pytest.raises(ValueError, match="differ in device kind"):
        compare.merged_device({"clip": intel, "coral": "cuda: NVIDIA H100"})


def test_write_comparison_merges_methods_of_two_cpus(tmp_path):
    import json

    folders = {}
    for method, device in (("clip", "cpu: Intel"), ("factorcl", "cpu: AMD EPYC")):
        folder = tmp_path / method
        folder.mkdir()
        rows_of(method, 99.0, 12.0, 50.0, seeds=(41,)).to_csv(folder / "table1.csv", index=False)
        info = {"command": f"coral-lab reproduce --method {method}", "preset": "hour", "seeds": [41],
                "device": device, "commit": "abc", "date": "2026-01-01"}
        (folder / "table1.provenance.json").write_text(json.dumps(info))
        folders[method] = folder
    _, sidecar = compare.write_comparison(folders, tmp_path / "out" / "baselines_table1.csv")
    assert json.loads(sidecar.read_text())["device"] == "cpu, per method: clip: cpu: Intel; factorcl: cpu: AMD EPYC"
