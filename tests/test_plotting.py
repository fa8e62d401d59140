"""Tests for coral_lab.drawing.plotting: each figure shows exactly the data it was given (Agg backend)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from coral_lab.drawing import plotting  # noqa: E402
from coral_lab.inputs.augment import normalize  # noqa: E402
from coral_lab.config import AugmentConfig  # noqa: E402
from coral_lab.objectives.masking import mask_ratio_at, token_keep_mask  # noqa: E402
from coral_lab.config.provenance import provenance  # noqa: E402


def _images(*shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)


# ---------------------------------------------------------------------------------------------
# image_grid
# ---------------------------------------------------------------------------------------------


def test_image_grid_shows_each_image_in_row_major_order_with_labels():
    imgs = _images(2, 3, 8, 8)  # (R, C, H, W, 3)
    fig = plotting.image_grid(imgs, row_labels=["a", "b"], col_labels=["x", "y", "z"],
                              captions=[["1", "2", "3"], ["4", "5", "6"]], title="t")
    assert len(fig.axes) == 6
    for k, ax in enumerate(fig.axes):
        r, c = divmod(k, 3)
        assert len(ax.images) == 1
        np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), imgs[r, c])
        assert ax.get_ylabel() == (["a", "b"][r] if c == 0 else "")
        assert ax.get_title() == (["x", "y", "z"][c] if r == 0 else "")
        assert ax.get_xlabel() == str(k + 1)
    assert fig._suptitle.get_text() == "t"


def test_image_grid_flat_input_fills_rows_and_hides_spare_cells():
    imgs = _images(5, 6, 6)
    fig = plotting.image_grid(imgs, ncols=3)
    assert len(fig.axes) == 6
    assert [ax.get_visible() for ax in fig.axes] == [True] * 5 + [False]
    np.testing.assert_array_equal(np.asarray(fig.axes[4].images[0].get_array()), imgs[4])


def test_image_grid_accepts_float_images_and_tensors():
    imgs = torch.rand(1, 2, 4, 4, 3)
    fig = plotting.image_grid(imgs)
    np.testing.assert_allclose(np.asarray(fig.axes[1].images[0].get_array()), imgs[0, 1].numpy())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"images": np.zeros((2, 3, 8, 8), np.uint8), "ncols": 2}, "channel-last"),
        ({"images": np.full((1, 1, 4, 4, 3), 1.5)}, r"\[0, 1\]"),
        ({"images": np.zeros((4, 8, 8, 3), np.uint8)}, "ncols"),
        ({"images": np.zeros((1, 2, 8, 8, 3), np.uint8), "ncols": 2}, "ncols is only"),
        ({"images": np.zeros((1, 2, 8, 8, 3), np.uint8), "col_labels": ["one"]}, "col_labels"),
        ({"images": np.zeros((1, 2, 8, 8, 3), np.uint8), "captions": [["a"]]}, "captions"),
        ({"images": np.zeros((8, 8, 3), np.uint8)}, "must be"),
    ],
)
def test_image_grid_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plotting.image_grid(**kwargs)


def test_image_grid_rejects_integer_images_other_than_uint8():
    with pytest.raises(TypeError, match="uint8"):
        plotting.image_grid(np.zeros((1, 1, 4, 4, 3), dtype=np.int64))


def test_plotting_leaves_pyplot_state_alone():
    before = plt.get_fignums()
    plotting.image_grid(_images(1, 1, 4, 4))
    plotting.schedule_figure([0.1, 0.2])
    assert plt.get_fignums() == before


# ---------------------------------------------------------------------------------------------
# denormalize_images
# ---------------------------------------------------------------------------------------------


def test_denormalize_inverts_augment_normalize():
    cfg = AugmentConfig()
    x = torch.rand(3, 3, 5, 7, generator=torch.Generator().manual_seed(0))  # (B, 3, H, W) in [0, 1]
    out = plotting.denormalize_images(normalize(x, cfg.mean, cfg.std), cfg.mean, cfg.std)
    assert out.shape == (3, 5, 7, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, x.permute(0, 2, 3, 1).numpy(), atol=1e-6)


def test_denormalize_clips_to_unit_range():
    out = plotting.denormalize_images(np.full((1, 3, 2, 2), 10.0, np.float32), (0.5,) * 3, (0.5,) * 3)
    assert out.max() == 1.0


@pytest.mark.parametrize("x, err", [(np.zeros((2, 4, 4, 3), np.float32), ValueError),
                                    (np.zeros((2, 3, 4, 4), np.uint8), TypeError)])
def test_denormalize_rejects_bad_input(x, err):
    with pytest.raises(err):
        plotting.denormalize_images(x)


# ---------------------------------------------------------------------------------------------
# token_mask_grid
# ---------------------------------------------------------------------------------------------


def test_token_mask_grid_draws_masked_tokens_where_the_mask_says():
    g = torch.Generator().manual_seed(3)
    keep = token_keep_mask(6, 16, 0.5, g).reshape(2, 3, 16)  # (R, C, T)
    fig = plotting.token_mask_grid(keep, (4, 4), row_labels=["r0", "r1"], col_labels=["a", "b", "c"])
    assert len(fig.axes) == 6
    for k, ax in enumerate(fig.axes):
        r, c = divmod(k, 3)
        shown = np.asarray(ax.images[0].get_array())
        expected = (~keep[r, c]).numpy().reshape(4, 4).astype(np.uint8)
        np.testing.assert_array_equal(shown, expected)
        assert ax.get_xlabel() == f"{int(expected.sum())}/16 masked"
        assert len(ax.texts) == 16  # token indices


def test_token_mask_grid_is_row_major_on_a_non_square_grid():
    h, w = 2, 3
    keep = np.ones((1, 1, h * w), dtype=bool)
    keep[0, 0, 1 * w + 2] = False  # token r * w + c with r = 1, c = 2
    shown = np.asarray(plotting.token_mask_grid(keep, (h, w)).axes[0].images[0].get_array())
    expected = np.zeros((h, w), np.uint8)
    expected[1, 2] = 1
    np.testing.assert_array_equal(shown, expected)


def test_token_mask_grid_without_annotation_and_with_one_row():
    keep = np.array([[True, False, True, True], [False, False, True, True]])  # (C, T)
    fig = plotting.token_mask_grid(keep, (2, 2), annotate=False)
    assert len(fig.axes) == 2 and all(len(ax.texts) == 0 for ax in fig.axes)
    assert [ax.get_xlabel() for ax in fig.axes] == ["1/4 masked", "2/4 masked"]


@pytest.mark.parametrize(
    "keep, grid, err",
    [
        (np.ones((1, 1, 16), bool), (4, 3), ValueError),
        (np.ones((1, 1, 16), np.uint8), (4, 4), TypeError),
        (np.ones((16,), bool), (4, 4), ValueError),
        (np.ones((1, 1, 16), bool), (4, 0), ValueError),
    ],
)
def test_token_mask_grid_rejects_bad_input(keep, grid, err):
    with pytest.raises(err):
        plotting.token_mask_grid(keep, grid)


# ---------------------------------------------------------------------------------------------
# schedule, curves, bars
# ---------------------------------------------------------------------------------------------


def test_schedule_figure_plots_the_ratios_and_marks_each_stage():
    ratios = [mask_ratio_at(e, 100, "paper") for e in range(100)]
    fig = plotting.schedule_figure(ratios, title="paper")
    (ax,) = fig.axes
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(100))
    np.testing.assert_array_equal(line.get_ydata(), ratios)
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["5% from epoch 0", "35% from epoch 25", "55% from epoch 50", "75% from epoch 75"]


@pytest.mark.parametrize("ratios", [[], [0.1, 1.0], [[0.1]], [float("nan")]])
def test_schedule_figure_rejects_bad_ratios(ratios):
    with pytest.raises(ValueError):
        plotting.schedule_figure(ratios)


def test_curves_figure_draws_curves_then_reference_lines():
    x = np.logspace(-2, 1, 7)
    curves = {"a": x**2, "b": torch.tensor(np.sin(x))}
    fig = plotting.curves_figure(x, curves, xlabel="t", ylabel="loss", logx=True,
                                 hlines={"h": 1.5}, vlines={"v": 0.3})
    (ax,) = fig.axes
    assert len(ax.lines) == 4
    np.testing.assert_allclose(ax.lines[0].get_ydata(), x**2)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), np.sin(x))
    assert ax.lines[2].get_ydata()[0] == 1.5 and ax.lines[3].get_xdata()[0] == 0.3
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "h", "v"]


@pytest.mark.parametrize(
    "x, curves, kwargs",
    [
        (np.arange(3.0), {"a": np.arange(4.0)}, {}),
        (np.arange(3.0), {}, {}),
        (np.arange(3.0), {"a": np.arange(3.0)}, {"logx": True}),  # x contains 0
        (np.arange(1.0), {"a": np.arange(1.0)}, {}),
    ],
)
def test_curves_figure_rejects_bad_input(x, curves, kwargs):
    with pytest.raises(ValueError):
        plotting.curves_figure(x, curves, xlabel="x", ylabel="y", **kwargs)


def test_bar_figure_bar_widths_are_the_values_in_order():
    values = {"shared": torch.tensor(3.4), "unique": 6.8, "orthogonal": 0.25}
    fig = plotting.bar_figure(values, xlabel="loss", reference={"log(2N-1)": 4.1})
    (ax,) = fig.axes
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [3.4, 6.8, 0.25], rtol=1e-6)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(values)
    assert ax.lines[0].get_xdata()[0] == 4.1


def test_bar_figure_rejects_non_finite_values():
    with pytest.raises(ValueError, match="finite"):
        plotting.bar_figure({"a": float("inf")}, xlabel="x")


# ---------------------------------------------------------------------------------------------
# label_balance_figure
# ---------------------------------------------------------------------------------------------


def test_label_balance_bar_heights_are_class_fractions():
    rng = np.random.default_rng(0)
    labels = {
        "train": {"share": rng.integers(0, 10, 50), "synergy": (rng.random(50) < 0.1).astype(np.int64)},
        "test": {"share": rng.integers(0, 10, 30), "synergy": (rng.random(30) < 0.1).astype(np.int64)},
    }
    fig = plotting.label_balance_figure(labels, {"share": 10, "synergy": 2})
    assert [ax.get_title() for ax in fig.axes] == ["share", "synergy"]
    for ax, task, k in zip(fig.axes, ("share", "synergy"), (10, 2)):
        heights = [p.get_height() for p in ax.patches]
        assert len(heights) == 2 * k
        for s, name in enumerate(("train", "test")):
            y = labels[name][task]
            expected = [np.sum(y == c) / len(y) for c in range(k)]  # independent of bincount
            np.testing.assert_allclose(heights[s * k:(s + 1) * k], expected)
        assert ax.lines[0].get_ydata()[0] == pytest.approx(1 / k)


@pytest.mark.parametrize(
    "labels, n_classes",
    [
        ({"a": {"share": np.array([0, 1])}, "b": {"synergy": np.array([0, 1])}}, {"share": 10, "synergy": 2}),
        ({"a": {"share": np.array([0, 10])}}, {"share": 10}),
        ({"a": {"share": np.array([0, 1])}}, {}),
        ({"a": {"share": np.array([0.0, 1.0])}}, {"share": 10}),
        ({}, {}),
    ],
)
def test_label_balance_rejects_bad_input(labels, n_classes):
    with pytest.raises(ValueError):
        plotting.label_balance_figure(labels, n_classes)


# ---------------------------------------------------------------------------------------------
# save_figure
# ---------------------------------------------------------------------------------------------


def test_save_figure_writes_image_and_provenance_sidecar(tmp_path):
    fig = plotting.schedule_figure([0.05, 0.35])
    info = provenance(preset="ci", seeds=[0], device="cpu", command="pytest")
    image, sidecar = plotting.save_figure(fig, tmp_path / "figs" / "schedule.png", info)
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sidecar == tmp_path / "figs" / "schedule.json"
    saved = json.loads(sidecar.read_text())
    assert {k: saved[k] for k in plotting.SIDECAR_KEYS} == {k: info[k] for k in plotting.SIDECAR_KEYS}
    assert sorted(p.name for p in image.parent.iterdir()) == ["schedule.json", "schedule.png"]  # no temp files


def test_an_identical_redraw_leaves_both_files_alone_and_a_change_rewrites_them(tmp_path):
    path = tmp_path / "schedule.png"
    info = provenance(preset="ci", seeds=[0], device="cpu", command="pytest")
    plotting.save_figure(plotting.schedule_figure([0.05, 0.35]), path, info)
    first_image, first_sidecar = path.read_bytes(), path.with_suffix(".json").read_text()
    later = {**info, "date": "2099-01-01T00:00:00+00:00", "commit": "f" * 40,
             "figure": {"date": "2099-01-01T00:00:00+00:00", "command": "redrawn with other flags"}}
    info_with_figure = {**info, "figure": {"date": "2000-01-01T00:00:00+00:00"}}
    plotting.save_figure(plotting.schedule_figure([0.05, 0.35]), path, info_with_figure)  # new key: rewritten
    assert json.loads(path.with_suffix(".json").read_text())["figure"] == {"date": "2000-01-01T00:00:00+00:00"}
    kept = path.with_suffix(".json").read_text()
    plotting.save_figure(plotting.schedule_figure([0.05, 0.35]), path, later)  # same picture, only when differs
    assert path.read_bytes() == first_image and path.with_suffix(".json").read_text() == kept
    plotting.save_figure(plotting.schedule_figure([0.05, 0.55]), path, later)  # another picture
    assert path.read_bytes() != first_image and json.loads(path.with_suffix(".json").read_text())["commit"] == "f" * 40
    plotting.save_figure(plotting.schedule_figure([0.05, 0.55]), path, {**later, "seeds": [1]})  # other provenance
    assert json.loads(path.with_suffix(".json").read_text())["seeds"] == [1]
    plotting.save_figure(plotting.schedule_figure([0.05, 0.55]), path, {**later, "seeds": [1], "command": "other"})
    assert json.loads(path.with_suffix(".json").read_text())["command"] == "other"  # the result's own command counts
    assert first_sidecar != kept


def test_save_figure_requires_full_provenance_and_a_known_format(tmp_path):
    fig = plotting.schedule_figure([0.05])
    with pytest.raises(ValueError, match="lacks"):
        plotting.save_figure(fig, tmp_path / "a.png", {"preset": "ci"})
    info = provenance(preset="ci", seeds=[0], device="cpu", command="pytest")
    with pytest.raises(ValueError, match=r"\.png"):
        plotting.save_figure(fig, tmp_path / "a.jpg", info)
    with pytest.raises(TypeError):
        plotting.save_figure("not a figure", tmp_path / "a.png", info)
    assert not any(tmp_path.iterdir())
