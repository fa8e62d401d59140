"""coral_lab.drawing.figures and `coral-lab figures`: figures from small synthetic result files written here."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest

from coral_lab.drawing import figures
from coral_lab.cli import main
from coral_lab.core.paper import PAPER_TABLE1, PAPER_TABLE3

matplotlib.use("Agg")

PROV = {
    "command": "coral-lab reproduce --preset quick --seeds 41 42 --out results/quick",
    "preset": "quick",
    "seeds": [41, 42],
    "device": "cpu: x86_64, 2 torch threads",
    "commit": "0123abc",
    "date": "2025-01-01T00:00:00+00:00",
}


def table1_rows(seed_values: dict[int, tuple[float, float, float]]) -> pd.DataFrame:
    """A table1.csv as run_table1 writes it: per seed 4 tasks x 2 pretrainings, 3 of them scored."""
    rows = []
    for seed, (r, u, s) in seed_values.items():
        for train_set, scored in (("unbiased", {"share": ("redundancy", r), "unique1": ("uniqueness", u)}),
                                  ("biased", {"synergy": ("synergy", s)})):
            for task in ("share", "unique1", "unique2", "synergy"):
                col, acc = scored.get(task, ("", 33.0))  # unscored rows must be ignored
                rows.append({"seed": seed, "train_set": train_set, "task": task, "features": "Z",
                             "balanced_accuracy": acc, "C": 1.0, "val_balanced_accuracy": acc, "column": col})
    return pd.DataFrame(rows)


def ablation_rows(study: str, values: dict[str, dict], seeds=(41, 42)) -> pd.DataFrame:
    rows = []
    for k, (variant, spec) in enumerate(values.items()):
        for seed in seeds:
            for col in ("redundancy", "uniqueness", "synergy"):
                rows.append({
                    "study": study, "variant": variant, "label": spec.get("label", variant), "seed": seed,
                    "column": col, "balanced_accuracy": spec[col] + (seed - 41.5) * 2.0,
                    "mask_schedule": spec.get("mask", "paper"), "lambda_s": spec.get("ls", 1.0),
                    "lambda_u": spec.get("lu", 1.0), "lambda_o": spec.get("lo", 1.0), "ortho_kind": "hinge",
                    "epochs": 2, "preset": "quick",
                })
    return pd.DataFrame(rows)


def test_table1_figure_and_its_sidecar_carry_the_results_provenance(tmp_path):
    rows = table1_rows({41: (90.0, 40.0, 60.0), 42: (94.0, 50.0, 64.0)})
    csv, side = figures.save_result(rows, tmp_path / "table1.csv", PROV)
    assert side.name == "table1.provenance.json"
    png, sidecar = figures.render_figure("table1", csv, tmp_path / "out" / "t1.png", command="coral-lab figures")
    assert png.is_file() and png.stat().st_size > 1000
    info = json.loads(sidecar.read_text())
    for key in ("command", "preset", "seeds", "device", "commit", "date"):
        assert info[key] == PROV[key]
    assert info["figure"]["command"] == "coral-lab figures"
    assert info["figure"]["source"] == str(csv)
    import hashlib

    assert info["figure"]["source_sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert "CPU preset 'quick'" in info["figure"]["scale_note"]


def test_table1_bars_are_the_seed_means_beside_the_papers():
    rows = table1_rows({41: (90.0, 40.0, 60.0), 42: (94.0, 50.0, 64.0), 43: (92.0, 45.0, 56.0)})
    fig = figures.table1_figure(rows, "t")
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights[:3], [92.0, 45.0, 60.0])  # means over the 3 seeds, unscored rows ignored
    np.testing.assert_allclose(heights[3:6], [PAPER_TABLE1["COrAL"][c][0] for c in figures.COLUMNS])


def test_titles_name_the_seeds_of_the_drawn_rows():
    info = {**PROV, "seeds": [41]}  # the sidecar of the last command that wrote the file
    assert figures.figure_title("x", info).endswith("seeds 41)")
    rows = pd.DataFrame({"variant": ["a", "a", "a", "b"], "seed": [41, 42, 43, 41]})
    assert figures.figure_title("x", info, rows).endswith("seeds 41, 42, 43, not all in every variant)")
    assert figures.figure_title("x", info, rows[rows["variant"] == "a"]).endswith("seeds 41, 42, 43)")
    assert figures.figure_title("x", info, rows.drop(columns="variant")).endswith("seeds 41, 42, 43)")


def test_titles_say_when_a_result_comes_from_a_cpu_preset(tmp_path):
    assert "CPU preset 'ci'" in figures.figure_title("x", {**PROV, "preset": "ci"})
    assert "CPU" in figures.scale_note({**PROV, "preset": "paper", "device": "cpu: x86_64"})
    assert figures.scale_note({**PROV, "preset": "paper", "device": "cuda: NVIDIA H100"}) == ""
    rows = table1_rows({41: (90.0, 40.0, 60.0)})
    csv, _ = figures.save_result(rows, tmp_path / "table1.csv", {**PROV, "preset": "ci"})
    png, _ = figures.render_figure("table1", csv, tmp_path / "t.png")
    # the title is drawn into the saved figure; rebuild it to read it back
    table, info = figures.read_result(csv, figures.FIGURES["table1"].required)
    fig = figures.table1_figure(table, figures.figure_title("T", info))
    assert "CPU preset 'ci'" in fig.axes[0].get_title()


def test_masking_figure_plots_ours_beside_paper_table3():
    values = {
        "increasing": {"redundancy": 80.0, "uniqueness": 30.0, "synergy": 60.0},
        "none": {"redundancy": 70.0, "uniqueness": 20.0, "synergy": 50.0},
        "static-50": {"redundancy": 75.0, "uniqueness": 25.0, "synergy": 65.0},
    }
    res = ablation_rows("masking", values)
    fig = figures.masking_figure(res, "m")
    for ax, col in zip(fig.axes[:3], figures.COLUMNS):
        heights = [p.get_height() for p in ax.patches]
        # seeds 41 / 42 add -1 / +1, so the mean is the spec value
        np.testing.assert_allclose(heights[:3], [values[v][col] for v in values])
        np.testing.assert_allclose(heights[3:6], [PAPER_TABLE3[v][col][0] for v in values])


def test_weights_figure_varies_one_lambda_at_a_time():
    values = {
        "default": {"redundancy": 80.0, "uniqueness": 30.0, "synergy": 60.0},
        "lambda_s-0.5": {"redundancy": 70.0, "uniqueness": 31.0, "synergy": 61.0, "ls": 0.5},
        "lambda_s-2": {"redundancy": 85.0, "uniqueness": 32.0, "synergy": 62.0, "ls": 2.0},
        "lambda_o-3": {"redundancy": 60.0, "uniqueness": 20.0, "synergy": 55.0, "lo": 3.0},
    }
    fig = figures.weights_figure(ablation_rows("weights", values), "w")
    ax_s, ax_u, ax_o = fig.axes[:3]
    red = ax_s.lines[0]  # the first curve of a panel is redundancy
    np.testing.assert_allclose(red.get_xdata(), [0.5, 1.0, 2.0])
    np.testing.assert_allclose(red.get_ydata(), [70.0, 80.0, 85.0])
    np.testing.assert_allclose(ax_o.lines[0].get_xdata(), [1.0, 3.0])
    np.testing.assert_allclose(ax_o.lines[0].get_ydata(), [80.0, 60.0])
    np.testing.assert_allclose(ax_u.lines[0].get_xdata(), [1.0])  # only the default has lambda_u = 1 and the rest
    assert "MultiBench" in fig.get_suptitle()


def test_probe_map_and_umap_figures_from_saved_analysis_results(tmp_path):
    table = pd.DataFrame(
        [[98.0, 20.0, 21.0, 99.0], [15.0, 90.0, 12.0, 91.0], [14.0, 11.0, 88.0, 89.0], [60.0, 52.0, 51.0, 62.0]],
        index=pd.Index(["shape", "texture 1", "texture 2", "synergy"], name="task"),
        columns=pd.Index(["shared", "unique1", "unique2", "Z"], name="features"),
    )
    csv, _ = figures.save_result(table, tmp_path / "probe_map.csv", PROV)
    assert list(pd.read_csv(csv).columns) == ["task", "shared", "unique1", "unique2", "Z"]
    png, _ = figures.render_figure("probe_map", csv, tmp_path / "pm.png")
    assert png.is_file()
    rng = np.random.default_rng(0)
    frames = []
    for k, sub in enumerate(("shared", "unique1", "unique2")):
        for split in ("train", "test"):
            xy = rng.normal(loc=3 * k, size=(25, 2))
            frames.append(pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "subspace": sub, "split": split, "shape": 0}))
    umap_df = pd.concat(frames, ignore_index=True)
    with pytest.raises(ValueError, match="holds arrays"):
        figures.save_result(umap_df.assign(embedding=[np.zeros(2)] * len(umap_df)), tmp_path / "umap.csv", PROV)
    csv, _ = figures.save_result(umap_df, tmp_path / "umap.csv", PROV)
    png, _ = figures.render_figure("umap", csv, tmp_path / "umap.png")
    assert png.is_file()


def test_missing_and_malformed_results_give_clear_errors(tmp_path):
    req = figures.FIGURES["table1"].required
    with pytest.raises(FileNotFoundError, match="not found; it is written by"):
        figures.render_figure("table1", tmp_path / "table1.csv", tmp_path / "x.png")
    rows = table1_rows({41: (90.0, 40.0, 60.0)})
    (tmp_path / "table1.csv").write_text(rows.to_csv(index=False))
    with pytest.raises(FileNotFoundError, match="no provenance sidecar table1.provenance.json"):
        figures.read_result(tmp_path / "table1.csv", req)
    side = figures.result_sidecar_path(tmp_path / "table1.csv")
    side.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        figures.read_result(tmp_path / "table1.csv", req)
    side.write_text(json.dumps({k: v for k, v in PROV.items() if k != "commit"}))
    with pytest.raises(ValueError, match=r"lacks \['commit'\]"):
        figures.read_result(tmp_path / "table1.csv", req)
    side.write_text(json.dumps(PROV))
    rows.drop(columns=["column"]).to_csv(tmp_path / "table1.csv", index=False)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['column'\]"):
        figures.read_result(tmp_path / "table1.csv", req)
    rows.assign(balanced_accuracy="high").to_csv(tmp_path / "table1.csv", index=False)
    with pytest.raises(ValueError, match="'balanced_accuracy' must hold finite numbers"):
        figures.render_figure("table1", tmp_path / "table1.csv", tmp_path / "x.png")
    (tmp_path / "table1.csv").write_text("")
    with pytest.raises(ValueError, match="not a readable CSV"):
        figures.read_result(tmp_path / "table1.csv", req)
    with pytest.raises(ValueError, match="unknown figure 'table9'"):
        figures.render_figure("table9", tmp_path / "table1.csv", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_make_all_figures_finds_results_one_level_down_and_reports_missing(tmp_path):
    res, out = tmp_path / "results", tmp_path / "figs"
    figures.save_result(table1_rows({41: (90.0, 40.0, 60.0)}), res / "table1.csv", PROV)
    figures.save_result(table1_rows({41: (91.0, 41.0, 61.0)}), res / "quick" / "table1.csv", PROV)
    values = {"increasing": {"redundancy": 80.0, "uniqueness": 30.0, "synergy": 60.0}}
    figures.save_result(ablation_rows("masking", values), res / "abl" / "ablation_masking.csv", PROV)
    # deeper files (an ablation's per-variant protocol runs) are not figures of their own
    figures.save_result(table1_rows({41: (1.0, 1.0, 1.0)}), res / "abl" / "runs" / "none" / "table1.csv", PROV)
    made = figures.make_all_figures(res, out, command="test")
    written = made[made["status"] == "written"]
    assert sorted(p.split("/")[-1] for p in written["path"]) == [
        "table1_bars.png", "table1_bars_quick.png", "table3_masking_abl.png"]
    assert set(made.loc[made["status"] == "missing", "figure"]) == {"weights", "probe_map", "umap", "baselines", "study",
                                                                    "audit"}
    assert (out / "table1_bars.json").is_file() and (out / "table3_masking_abl.json").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no result files in"):
        figures.make_all_figures(empty, out)
    with pytest.raises(FileNotFoundError, match="results folder"):
        figures.make_all_figures(tmp_path / "nope", out)


def test_figures_command(tmp_path, capsys):
    res, out = tmp_path / "results", tmp_path / "figs"
    figures.save_result(table1_rows({41: (90.0, 40.0, 60.0)}), res / "table1.csv", PROV)
    assert main(["figures", "--results", str(res), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "written" in text and "table1_bars.png" in text and "missing" in text
    assert json.loads((out / "table1_bars.json").read_text())["preset"] == "quick"
    (res / "table1.provenance.json").unlink()
    assert main(["figures", "--results", str(res), "--out", str(out)]) == 2
    assert "no provenance sidecar" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["figures", "--help"])
    assert e.value.code == 0


def test_baselines_figure_bars_are_each_methods_seed_mean_with_the_papers_ticks(tmp_path):
    rows = []
    for method, (r, u, s) in {"coral": (80.0, 50.0, 55.0), "clip": (99.0, 12.0, 50.0)}.items():
        for seed, shift in ((41, -1.0), (42, 1.0)):
            for col, v in (("redundancy", r), ("uniqueness", u), ("synergy", s)):
                rows.append({"method": method, "seed": seed, "column": col, "balanced_accuracy": v + shift})
    rows = pd.DataFrame(rows)
    fig = figures.baselines_figure(rows)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([80.0, 50.0, 55.0, 99.0, 12.0, 50.0])
    ticks = [c.get_offsets()[:, 1].tolist() for c in ax.collections if len(c.get_offsets()) == 3]
    assert [99.7, 96.4, 74.4] in ticks and [100.0, 11.6, 50.0] in ticks
    figures.save_result(rows, tmp_path / "res" / "b" / "baselines_table1.csv", PROV)
    made = figures.make_all_figures(tmp_path / "res", tmp_path / "figs", command="test")
    assert "baselines_table1_b.png" in " ".join(made["path"])
    with pytest.raises(ValueError, match="unknown method"):
        figures.baselines_figure(rows.assign(method="simclr"))


@pytest.mark.parametrize("flaw, message", [
    ("a NaN variant", "column 'variant' is empty on line"),
    ("a score of 130", "outside the 0-100 %"),
    ("an unknown column", "not a Table 1 column"),
    ("an unknown protocol", "not a probe protocol"),
])
def test_a_malformed_result_stops_naming_its_file(flaw, message, tmp_path):
    values = {"increasing": {"redundancy": 80.0, "uniqueness": 30.0, "synergy": 60.0},
              "none": {"redundancy": 70.0, "uniqueness": 20.0, "synergy": 50.0}}
    res = ablation_rows("masking", values)
    if flaw == "a NaN variant":
        res.loc[1, "variant"] = np.nan
    elif flaw == "a score of 130":
        res.loc[0, "balanced_accuracy"] = 130.0
    elif flaw == "an unknown column":
        res.loc[0, "column"] = "colour"
    else:
        res["protocol"] = "test_pairs"
    csv, _ = figures.save_result(res, tmp_path / "ablation_masking.csv", PROV)
    with pytest.raises(ValueError, match=message) as e:
        figures.render_figure("masking", csv, tmp_path / "m.png")
    assert str(csv) in str(e.value) and not (tmp_path / "m.png").exists()

