"""coral_lab.evaluation.analysis: runs, probe maps, embedding frames, the joint UMAP and its figures.

Everything runs on a tiny untrained (or two-epoch) ci model. UMAP compiles with numba once per
process (~10 s), so all UMAP fits share one module-scoped fixture.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from coral_lab.evaluation import analysis as A
from coral_lab.experiments import units
from coral_lab.drawing import views
from coral_lab.data import COLOR_NAMES, COLORS, SHAPES, TASKS, pair_labels
from coral_lab.evaluation.probe import extract_features, probe_model
from coral_lab.core.io import CheckpointError
from coral_lab.models import CoralModel


@pytest.fixture(scope="module")
def model(ci_config):
    torch.manual_seed(0)
    return CoralModel(ci_config.model).eval()


@pytest.fixture(scope="module")
def probe_map(model, ci_benchmark, ci_config):
    return A.subspace_probe_map(model, ci_benchmark, probe_cfg=ci_config.probe, seed=3)


@pytest.fixture(scope="module")
def frame(model, ci_benchmark):
    return A.embedding_frame(model, ci_benchmark, n_pairs=60, seed=5)


@pytest.fixture(scope="module")
def projected(frame):
    """Two UMAP fits of the same frame with the same seed (determinism) and one with another seed."""
    return A.umap_projection(frame, seed=1), A.umap_projection(frame, seed=1), A.umap_projection(frame, seed=2)


# ---------------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------------


def test_repo_root_found_from_nested_folder_and_missing_raises(tmp_path):
    root = tmp_path / "checkout"
    (root / "coral_lab").mkdir(parents=True)
    (root / "coral_lab" / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text("")
    nested = root / "notebooks" / "deep"
    nested.mkdir(parents=True)
    assert units.repo_root(nested) == root.resolve()
    assert units.repo_root(root) == root.resolve()
    lonely = tmp_path / "elsewhere"
    lonely.mkdir()
    with pytest.raises(FileNotFoundError, match="checkout"):
        units.repo_root(lonely)


def test_unit_config_and_run_dir_follow_the_protocol(ci_config, tmp_path):
    u = units.unit_config(ci_config, 41, "biased")
    assert (u.train.seed, u.train.train_set) == (41, "biased")
    assert u.to_dict() == ci_config.replace(train={"seed": 41, "train_set": "biased"}).to_dict()
    assert ci_config.train.train_set == "unbiased"  # the input is not modified
    assert units.unit_run_dir(tmp_path, 41, "biased") == tmp_path / "seed41-biased"
    with pytest.raises(ValueError, match="train_set"):
        units.unit_config(ci_config, 41, "skewed")
    with pytest.raises(ValueError, match="seed"):
        units.unit_config(ci_config, -1, "unbiased")


def test_load_or_pretrain_resumes_then_loads_without_training(ci_config, ci_benchmark, tmp_path, monkeypatch):
    import coral_lab.training.pretrain as train_mod

    cfg = units.unit_config(ci_config, 7, "unbiased")
    run = tmp_path / "run"
    train_mod.pretrain(cfg, run, benchmark=ci_benchmark, device="cpu", progress=False, max_epochs_this_call=1)
    model, history = units.load_or_pretrain(cfg, run, device="cpu", benchmark=ci_benchmark, progress=False)
    assert list(history["epoch"]) == list(range(1, cfg.train.epochs + 1))  # resumed to the end
    assert not model.training

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run must be loaded, not trained")

    monkeypatch.setattr(train_mod, "pretrain", no_training)
    again, history2 = units.load_or_pretrain(cfg, run, device="cpu", progress=False)
    pd.testing.assert_frame_equal(history, history2)
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    # the same fields under another preset's name are the same unit: loaded, not trained
    renamed, history3 = units.load_or_pretrain(cfg.replace(preset="hour"), run, device="cpu", progress=False)
    pd.testing.assert_frame_equal(history, history3)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), renamed.state_dict().values()))
    monkeypatch.undo()
    other = cfg.replace(loss={"lambda_o": 3.0})
    with pytest.raises(CheckpointError, match="different configuration"):
        units.load_or_pretrain(other, run, device="cpu", benchmark=ci_benchmark, progress=False)
    with pytest.raises(TypeError, match="RunConfig"):
        units.load_or_pretrain(cfg.to_dict(), run, device="cpu")


def test_history_figure_plots_every_part_per_run():
    names = ["shared", "unique1", "unique2", "unique", "ortho_shared_unique1", "ortho_shared_unique2",
             "ortho_unique1_unique2", "orthogonal"]
    h = pd.DataFrame({"epoch": [1, 2, 3], "mask_ratio": [0.05, 0.35, 0.55], "loss": [3.0, 2.0, 1.0],
                      **{n: [0.1 * (i + 1)] * 3 for i, n in enumerate(names)}, "seconds": [1.0] * 3})
    fig = views.history_figure({"unbiased": h, "biased": h}, "t")
    per_run = 1 + 4 + 4 + 1  # loss; InfoNCE parts; orthogonality parts; mask ratio (not seconds)
    assert len(fig.data) == 2 * per_run
    shown = {tr.name: list(tr.y) for tr in fig.data}
    assert shown["biased: ortho_unique1_unique2"] == pytest.approx([0.7] * 3)
    assert shown["unbiased: mask_ratio"] == [0.05, 0.35, 0.55]
    with pytest.raises(ValueError, match="mask_ratio"):
        views.history_figure(h.drop(columns="mask_ratio"))
    with pytest.raises(TypeError):
        views.history_figure({})


def test_history_figure_draws_a_baseline_beside_coral():
    """A baseline's history (here CLIP's columns, as training.pretrain.pretrain writes them) shows its own parts."""
    coral = pd.DataFrame({"epoch": [1, 2], "mask_ratio": [0.05, 0.55], "loss": [3.0, 2.0], "shared": [1.0, 0.5],
                          "orthogonal": [0.1, 0.05], "seconds": [1.0, 1.0], "pairs_per_s": [9.0, 9.0]})
    clip = pd.DataFrame({"epoch": [1, 2], "mask_ratio": [0.0, 0.0], "loss": [4.0, 3.5], "clip": [4.0, 3.5],
                         "logit_scale": [2.66, 2.7], "seconds": [1.0, 1.0], "pairs_per_s": [9.0, 9.0]})
    fig = views.history_figure({"coral": coral, "clip": clip})
    shown = {tr.name: list(tr.y) for tr in fig.data}
    assert set(shown) == {"coral: loss", "coral: shared", "coral: orthogonal", "coral: mask_ratio",
                          "clip: loss", "clip: clip", "clip: logit_scale", "clip: mask_ratio"}
    assert shown["clip: logit_scale"] == pytest.approx([2.66, 2.7])


# ---------------------------------------------------------------------------------------------
# which subspace knows what
# ---------------------------------------------------------------------------------------------


def test_probe_map_shape_labels_and_range(probe_map):
    assert list(probe_map.index) == ["shape", "texture 1", "texture 2", "synergy"]
    assert list(probe_map.columns) == ["shared", "unique1", "unique2", "Z"]
    v = probe_map.to_numpy()
    assert np.isfinite(v).all() and (v >= 0).all() and (v <= 100).all()
    assert A.TASK_CHANCE == {"shape": 10.0, "texture 1": 10.0, "texture 2": 10.0, "synergy": 50.0}


def test_probe_map_equals_probe_model(probe_map, model, ci_benchmark, ci_config):
    rows = probe_model(model, ci_benchmark, tasks=("unique2", "synergy"), subspaces=("Z", "unique1"),
                       probe_cfg=ci_config.probe, seed=3)
    for _, r in rows.iterrows():
        assert probe_map.loc[A.TASK_LABELS[r["task"]], r["features"]] == pytest.approx(r["balanced_accuracy"], abs=1e-9)
    sub = A.subspace_probe_map(model, ci_benchmark, tasks=("synergy", "share"), subspaces=("unique2",),
                               probe_cfg=ci_config.probe, seed=3)
    assert list(sub.index) == ["synergy", "shape"] and list(sub.columns) == ["unique2"]
    assert sub.loc["shape", "unique2"] == pytest.approx(probe_map.loc["shape", "unique2"], abs=1e-9)


def test_probe_map_rejects_bad_names(model, ci_benchmark):
    with pytest.raises(ValueError, match="unknown task"):
        A.subspace_probe_map(model, ci_benchmark, tasks=("colour",))
    with pytest.raises(ValueError, match="unknown feature set"):
        A.subspace_probe_map(model, ci_benchmark, tasks=("share",), subspaces=("shared", "unique3"))
    with pytest.raises(ValueError, match="duplicates"):
        A.subspace_probe_map(model, ci_benchmark, subspaces=("Z", "Z"))


def test_probe_map_heatmap_annotates_values_and_chance(probe_map):
    fig = views.probe_map_heatmap(probe_map, "untrained")
    assert len(fig.axes) == 2  # the map and its colour bar
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{v:.1f}" for v in probe_map.to_numpy().ravel()]
    ylabels = [t.get_text() for t in ax.get_yticklabels()]
    assert ylabels[0] == "shape\n(chance 10 %)" and ylabels[-1] == "synergy\n(chance 50 %)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Z^SR", "Z_1^U", "Z_2^U", "Z (all)"]
    assert "untrained" in ax.get_title()
    bad = probe_map.rename(index={"shape": "form"})
    with pytest.raises(ValueError, match="row label"):
        views.probe_map_heatmap(bad, "x")
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        views.probe_map_heatmap(probe_map / 0.5, "x")


# ---------------------------------------------------------------------------------------------
# embeddings
# ---------------------------------------------------------------------------------------------


def test_embedding_frame_rows_labels_and_vectors(frame, model, ci_benchmark):
    n, subspaces = 60, ["shared", "unique1", "unique2"]
    assert len(frame) == 2 * n * len(subspaces)
    assert {"pair", "split", "subspace", *A.LABEL_COLUMNS, "embedding"} <= set(frame.columns)
    counts = frame.groupby(["split", "subspace"]).size()
    assert (counts == n).all() and len(counts) == 6
    for split_name, split, pairs in (("train", ci_benchmark.data.train, ci_benchmark.probe_train),
                                     ("test", ci_benchmark.data.test, ci_benchmark.probe_test)):
        labels = pair_labels(split, pairs, ci_benchmark.mapping)  # every pair of the set
        feats = extract_features(model, split, pairs)
        for name in subspaces:
            part = frame[(frame["split"] == split_name) & (frame["subspace"] == name)]
            k = part["pair"].to_numpy()
            assert len(np.unique(k)) == n and k.max() < len(pairs)
            np.testing.assert_array_equal(part["shape"], labels["share"][k])
            np.testing.assert_array_equal(part["texture1"], labels["unique1"][k])
            np.testing.assert_array_equal(part["texture2"], labels["unique2"][k])
            np.testing.assert_array_equal(part["synergy"], labels["synergy"][k])
            np.testing.assert_array_equal(part["color1"], split.color[pairs.idx1[k]])
            np.testing.assert_array_equal(part["color2"], split.color[pairs.idx2[k]])
            z = np.stack(part["embedding"].to_list())
            assert z.shape == (n, feats[name].shape[1])
            np.testing.assert_allclose(z, feats[name][k], rtol=1e-5, atol=1e-5)


def test_embedding_frame_sample_is_seeded_and_checked(model, ci_benchmark):
    a = A.embedding_frame(model, ci_benchmark, n_pairs=10, seed=1)
    b = A.embedding_frame(model, ci_benchmark, n_pairs=10, seed=1)
    c = A.embedding_frame(model, ci_benchmark, n_pairs=10, seed=2)
    assert a["pair"].tolist() == b["pair"].tolist() != c["pair"].tolist()
    too_many = len(ci_benchmark.probe_test) + 1
    with pytest.raises(ValueError, match="probe-test pairs"):
        A.embedding_frame(model, ci_benchmark, n_pairs=too_many)
    with pytest.raises(ValueError, match="positive int"):
        A.embedding_frame(model, ci_benchmark, n_pairs=0)


def test_joint_matrix_normalises_pads_and_keeps_cosines():
    rng = np.random.default_rng(0)
    wide, narrow = rng.normal(size=(4, 6)), rng.normal(size=(3, 3))
    df = pd.DataFrame({"subspace": ["shared"] * 4 + ["unique1"] * 3, "embedding": list(wide) + list(narrow)})
    x = A.joint_embedding_matrix(df)
    assert x.shape == (7, 6)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-6)
    assert (x[4:, 3:] == 0).all()
    cos = (narrow @ narrow.T) / np.outer(np.linalg.norm(narrow, axis=1), np.linalg.norm(narrow, axis=1))
    np.testing.assert_allclose(x[4:] @ x[4:].T, cos, rtol=1e-5, atol=1e-6)
    bad = df.copy()
    bad.loc[0, "embedding"] = np.array([np.nan] * 6)
    with pytest.raises(ValueError, match="NaN"):
        A.joint_embedding_matrix(bad)
    with pytest.raises(ValueError, match="embedding"):
        A.joint_embedding_matrix(df.drop(columns="embedding"))


# ---------------------------------------------------------------------------------------------
# UMAP (one module fixture: numba compiles once)
# ---------------------------------------------------------------------------------------------


def test_umap_projection_finite_and_deterministic(projected, frame):
    a, b, c = projected
    assert len(a) == len(frame) and list(a.columns) == [*frame.columns, "x", "y"]
    assert np.isfinite(a[["x", "y"]].to_numpy()).all()
    np.testing.assert_array_equal(a[["x", "y"]].to_numpy(), b[["x", "y"]].to_numpy())
    assert not np.allclose(a[["x", "y"]].to_numpy(), c[["x", "y"]].to_numpy())
    assert "x" not in frame.columns  # the input is not modified
    pd.testing.assert_frame_equal(a.drop(columns=["x", "y", "embedding"]), frame.drop(columns="embedding"))


def test_umap_projection_accepts_feature_dict_and_checks_arguments(projected):
    rng = np.random.default_rng(0)
    feats = {"shared": rng.normal(size=(20, 8)), "unique1": rng.normal(size=(20, 4))}
    out = A.umap_projection(feats, n_neighbors=5, seed=0)
    assert len(out) == 40 and out["subspace"].tolist() == ["shared"] * 20 + ["unique1"] * 20
    assert np.isfinite(out[["x", "y"]].to_numpy()).all()
    with pytest.raises(ValueError, match="n_neighbors"):
        A.umap_projection(feats, n_neighbors=40)
    with pytest.raises(ValueError, match="n_neighbors"):
        A.umap_projection(feats, n_neighbors=1)
    with pytest.raises(ValueError, match=r"\(P, D\)"):
        A.umap_projection({"shared": np.zeros(5)})
    with pytest.raises(TypeError):
        A.umap_projection(np.zeros((10, 3)))


def test_umap_scatter_colours_and_validation(projected):
    df = projected[0]
    for color_by in A.COLOR_BY:
        fig = views.umap_scatter(df, color_by)
        assert sum(len(t.x) for t in fig.data) == len(df)
        assert fig.layout.xaxis.title.text == "UMAP 1"
    fig = views.umap_scatter(df, "color2")
    rgb = {n: "rgb({:.0f},{:.0f},{:.0f})".format(*(255 * np.asarray(c))) for n, c in zip(COLOR_NAMES, COLORS)}
    for t in fig.data:
        colour_name = t.legendgroup.split(",")[0]
        assert colour_name in COLOR_NAMES and t.marker.color == rgb[colour_name]
    names = {t.legendgroup.split(",")[0] for t in views.umap_scatter(df, "shape").data}
    assert names <= set(SHAPES) and len(names) > 1
    with pytest.raises(ValueError, match="color_by"):
        views.umap_scatter(df, "colour")
    with pytest.raises(ValueError, match="lacks"):
        views.umap_scatter(df.drop(columns="x"))


def test_umap_density_figure_axes_and_legend(projected):
    df = projected[0]
    fig = views.umap_density_figure(df, "ci preset (CPU)")
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("UMAP 1", "UMAP 2", "ci preset (CPU)")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"{s} {split}" for s in ("Z^SR", "Z_1^U", "Z_2^U") for split in ("train", "test")]
    assert len(ax.collections) >= 6  # at least one contour set per subspace x split
    with pytest.raises(ValueError, match="split"):
        views.umap_density_figure(df.drop(columns="split"), "x")
    with pytest.raises(ValueError, match="at least 3"):
        views.umap_density_figure(df[(df["split"] == "train") | (df.index < 2)], "x")


def test_tasks_cover_every_probe_task():
    assert set(A.TASK_LABELS) == set(TASKS)


def test_umap_static_figure_panels(projected):
    df = projected[0]
    fig = views.umap_static_figure(df, "quick preset (CPU)", color_by=("subspace", "shape", "color2"))
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert [ax.get_title() for ax in visible] == ["coloured by subspace", "coloured by shape", "coloured by color2"]
    assert all(ax.get_xlabel() == "UMAP 1" for ax in visible)
    assert sum(len(c.get_offsets()) for c in visible[0].collections) == len(df)
    with pytest.raises(ValueError, match="color_by"):
        views.umap_static_figure(df, "x", color_by=("hue",))


def test_preset_note_names_preset_and_device():
    assert units.preset_note("quick", "cpu") == "quick preset (CPU), not the paper's scale"
    assert units.preset_note("paper", torch.device("cpu")).startswith("paper preset (CPU)")
    assert "ci preset" in units.preset_note("ci", "cpu")
    with pytest.raises(ValueError, match="preset"):
        units.preset_note("huge", "cpu")


def test_neighbour_agreement_against_brute_force():
    rng = np.random.default_rng(0)
    n = 60
    shape = rng.integers(0, 3, n)
    tex = rng.integers(0, 3, n)
    # "shared": points sit at their shape's corner (tiny jitter); "unique1": at their texture's corner
    corners = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    xy_s = corners[shape] + rng.normal(scale=0.01, size=(n, 2))
    xy_u = corners[tex] + rng.normal(scale=0.01, size=(n, 2))
    df = pd.DataFrame({
        "subspace": ["shared"] * n + ["unique1"] * n, "x": np.r_[xy_s[:, 0], xy_u[:, 0]],
        "y": np.r_[xy_s[:, 1], xy_u[:, 1]], "shape": np.r_[shape, shape], "texture1": np.r_[tex, tex],
    })
    k = 5
    table = A.neighbour_agreement(df, by=("shape", "texture1"), k=k)
    assert list(table.columns) == ["shared", "unique1", "chance"] and list(table.index) == ["shape", "texture1"]

    def brute(xy, lab):
        d = ((xy[:, None] - xy[None]) ** 2).sum(-1)
        np.fill_diagonal(d, np.inf)
        nn = np.argsort(d, axis=1)[:, :k]
        return 100 * (lab[nn] == lab[:, None]).mean()

    assert table.loc["shape", "shared"] == pytest.approx(brute(xy_s, shape))
    assert table.loc["texture1", "shared"] == pytest.approx(brute(xy_s, tex))
    assert table.loc["texture1", "unique1"] == pytest.approx(brute(xy_u, tex))
    assert table.loc["shape", "shared"] == pytest.approx(100.0)  # every class has > k members
    p = np.bincount(shape) / n
    assert table.loc["shape", "chance"] == pytest.approx(100 * (p**2).sum())
    with pytest.raises(ValueError, match="label column"):
        A.neighbour_agreement(df, by=("subspace",))
    with pytest.raises(ValueError, match="neighbours need more"):
        A.neighbour_agreement(df, by=("shape",), k=n)


def test_one_modality_probe_reads_each_modality_and_the_transfer(ci_config, ci_benchmark):
    import torch

    from coral_lab.evaluation.analysis import one_modality_probe
    from coral_lab.models import CoralModel

    torch.manual_seed(0)
    model = CoralModel(ci_config.model)
    table = one_modality_probe(model, ci_benchmark, probe_cfg=ci_config.probe)
    assert list(table["measure"]) == ["texture 1 | image 1 only", "color 2 | image 2 only",
                                      "transfer: color-2 probe on image 1 -> pi(texture 1)"]
    assert table["balanced_accuracy"].between(0, 100).all()
    # the function zeroes the other modality: with image 2 only, the fusion output cannot depend on image 1,
    # with image 1 only it does
    from coral_lab.evaluation.analysis import _shared_with_one_modality

    a = _shared_with_one_modality(model, ci_benchmark.data.test, ci_benchmark.probe_test, 1, None)
    swapped = type(ci_benchmark.probe_test)(ci_benchmark.probe_test.idx1[::-1].copy(), ci_benchmark.probe_test.idx2)
    b = _shared_with_one_modality(model, ci_benchmark.data.test, swapped, 1, None)
    assert np.allclose(a, b, atol=1e-5)
    c = _shared_with_one_modality(model, ci_benchmark.data.test, ci_benchmark.probe_test, 0, None)
    d = _shared_with_one_modality(model, ci_benchmark.data.test, swapped, 0, None)
    assert not np.allclose(c, d, atol=1e-3)
    with pytest.raises(TypeError, match="COrAL model"):
        one_modality_probe(torch.nn.Linear(2, 2), ci_benchmark)


def _probe_rows(scores: dict[tuple[str, str], tuple[float, float]]) -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame([{"task": t, "features": f, "balanced_accuracy": b, "roc_auc": a}
                         for (t, f), (b, a) in scores.items()])


def test_findings_table_reads_each_finding_from_its_unit():
    from coral_lab.evaluation import analysis

    rows = {
        "biased": _probe_rows({("synergy", "Z"): (61.0, 80.0)}),
        "biased-no-mask": _probe_rows({("synergy", "Z"): (50.0, 51.0)}),
        "unbiased": _probe_rows({("unique1", "unique1"): (40.0, 85.0), ("unique1", "shared"): (12.0, 60.0),
                                 ("unique1", "Z"): (45.0, 88.0)}),
        "unbiased-no-ortho": _probe_rows({("unique1", "unique1"): (30.0, 80.0), ("unique1", "shared"): (20.0, 70.0),
                                          ("unique1", "Z"): (42.0, 86.0)}),
    }
    table = analysis.findings_table(rows)
    assert len(table) == len(analysis.FINDINGS)
    got = {(r.unit, r.what.split(",")[0]): (r.balanced_accuracy, r.roc_auc, r.chance) for r in table.itertuples()}
    assert got[("biased", "synergy from Z")] == (61.0, 80.0, 50.0)
    assert got[("biased-no-mask", "synergy from Z")] == (50.0, 51.0, 50.0)
    assert got[("unbiased-no-ortho", "texture 1 from Z^SR")] == (20.0, 70.0, 10.0)
    assert got[("unbiased", "texture 1 from Z (Table 1's U)")] == (45.0, 88.0, 10.0)


def test_findings_table_names_what_is_missing():
    from coral_lab.evaluation import analysis

    with pytest.raises(ValueError, match="'biased-no-mask' unit"):
        analysis.findings_table({"biased": _probe_rows({("synergy", "Z"): (61.0, 80.0)})})
    rows = {k: _probe_rows({("synergy", "Z"): (50.0, 50.0)}) for k in ("biased", "biased-no-mask", "unbiased",
                                                                       "unbiased-no-ortho")}
    with pytest.raises(ValueError, match="task 'unique1' from 'unique1'"):
        analysis.findings_table(rows)


def test_feature_variation_is_the_between_sample_share_of_the_second_moment():
    from coral_lab.evaluation.analysis import feature_variation

    # hand-computed: rows (1, 0), (3, 0): mean (2, 0), variance 1 in dim 0, mean squared norm (1 + 9) / 2 = 5
    z = np.array([[1.0, 0.0], [3.0, 0.0]])
    rng = np.random.default_rng(0)
    table = feature_variation({
        "hand": z,
        "collapsed": np.tile([0.3, -1.2, 0.5], (50, 1)) + 1e-6 * rng.standard_normal((50, 3)),
        "centred": rng.standard_normal((4000, 8)),
    })
    assert table.loc["hand", "variation_percent"] == pytest.approx(20.0)
    assert table.loc["hand", "mean_norm"] == pytest.approx(2.0) and table.loc["hand", "dims"] == 2
    assert table.loc["collapsed", "variation_percent"] < 1e-6
    assert table.loc["centred", "variation_percent"] == pytest.approx(100.0, abs=1.0)
    # scale-free, and the same as 1 - ||mean||^2 / mean ||z||^2
    assert feature_variation({"x": 7.0 * z}).loc["x", "variation_percent"] == pytest.approx(20.0)
    assert np.isnan(feature_variation({"zero": np.zeros((3, 2))}).loc["zero", "variation_percent"])
    for bad in ({}, {"a": np.ones(3)}, {"a": np.ones((1, 3))}, {"a": np.array([[1.0, np.nan], [0.0, 1.0]])}, [z]):
        with pytest.raises(ValueError):
            feature_variation(bad)


def test_the_feature_variation_script_reads_run_folders(ci_config, tmp_path):
    # a one-epoch ci run, its variation table and sidecar; a folder that is not a run gives one line
    import json
    import subprocess
    import sys

    from coral_lab.training.pretrain import pretrain

    run = tmp_path / "seed41-unbiased"
    pretrain(ci_config.replace(train={"epochs": 1}), run, progress=False)
    script = [sys.executable, str(units.repo_root() / "scripts" / "feature_variation.py")]
    out = tmp_path / "res" / "feature_variation.csv"
    done = subprocess.run([*script, "--pairs", "40", "--out", str(out), str(run)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    assert list(table["subspace"]) == ["shared", "unique1", "unique2"] and set(table["pairs"]) == {40}
    assert table["variation_percent"].between(0, 100).all() and set(table["epochs_trained"]) == {1}
    info = json.loads(out.with_suffix(".provenance.json").read_text())
    assert info["preset"] == "ci" and info["seeds"] == [ci_config.train.seed] and info["pairs"] == 40
    bad = subprocess.run([*script, "--out", str(tmp_path / "x.csv"), str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and len(bad.stderr.strip().splitlines()) == 1

    # --append: a later session's run joins the table; the first command's rows and provenance are kept, a run
    # given again replaces its own rows, and a table without its sidecar is refused untouched
    import shutil

    shutil.copytree(run, tmp_path / "later" / "seed43-unbiased")
    first = table
    sidecar = out.with_suffix(".provenance.json")
    assert [r["run_folders"] for r in info["runs"]] == [[str(run)]]
    older = {k: v for k, v in info.items() if k != "run_folders"} | {"runs": [str(run)]}  # as written before --append
    sidecar.write_text(json.dumps(older))
    later = str(tmp_path / "later" / "seed43-unbiased")
    done = subprocess.run([*script, "--pairs", "40", "--append", "--out", str(out), later, str(run)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    grown = pd.read_csv(out)
    assert list(grown["run"]) == ["seed43-unbiased"] * 3 + ["seed41-unbiased"] * 3
    pd.testing.assert_frame_equal(grown.iloc[3:].reset_index(drop=True), first)  # same run, same pairs: same rows
    done = subprocess.run([*script, "--pairs", "40", "--append", "--out", str(out), str(run)], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    runs_kept = json.loads(sidecar.read_text())["runs"]
    assert [r["run_folders"] for r in runs_kept] == [[str(run)], [later, str(run)], [str(run)]]
    assert all("commit" in r and "device" in r and "command" in r for r in runs_kept)
    assert list(pd.read_csv(out)["run"]) == ["seed43-unbiased"] * 3 + ["seed41-unbiased"] * 3
    sidecar.unlink()
    refused = subprocess.run([*script, "--append", "--out", str(out), str(run)], capture_output=True, text=True)
    assert refused.returncode == 2 and "no provenance sidecar" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    pd.testing.assert_frame_equal(pd.read_csv(out), grown)
