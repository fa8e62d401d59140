"""coral_lab.drawing.lecture: the slide-ready figures show what the library computes, and are written with
provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

from coral_lab.drawing import lecture  # noqa: E402
from coral_lab.cli import main  # noqa: E402
from coral_lab.objectives.masking import PAPER_SCHEDULE, token_keep_mask  # noqa: E402
from coral_lab.config.provenance import SIDECAR_KEYS  # noqa: E402


def test_orthogonality_curves_are_the_hinge_and_the_square_of_the_cosine():
    curves = lecture.orthogonality_curves(n_angles=37)
    cos = np.cos(np.deg2rad(curves["angle_deg"].to_numpy()))
    np.testing.assert_allclose(curves["hinge"], np.maximum(0.0, cos), atol=1e-6)
    np.testing.assert_allclose(curves["squared"], cos**2, atol=1e-6)
    assert curves.loc[curves["angle_deg"] >= 90, "hinge"].max() <= 1e-6  # free beyond 90 degrees
    assert curves.loc[curves["angle_deg"] == 180, "squared"].item() == pytest.approx(1.0)  # squared is not


def test_mask_grid_shows_the_complementary_masks_the_training_step_draws():
    fig = lecture.mask_grid_figure((4, 4), seed=3)
    ratios = [r for _, r in PAPER_SCHEDULE]
    assert len(fig.axes) == 4 * len(ratios)
    g = torch.Generator().manual_seed(3)
    for row, r in enumerate(ratios):
        want_1 = ~token_keep_mask(1, 16, r, g)[0].numpy()  # masked tokens of modality 1 in view 1
        want_2 = ~token_keep_mask(1, 16, r, g)[0].numpy()  # of modality 2 in view 2
        panels = [np.asarray(ax.images[0].get_array()).astype(bool).ravel() for ax in fig.axes[4 * row:4 * row + 4]]
        np.testing.assert_array_equal(panels[0], want_1)
        np.testing.assert_array_equal(panels[3], want_2)
        assert not panels[1].any() and not panels[2].any()  # the other modality of each view is never masked


def test_architecture_figure_names_both_pathways_the_masks_and_every_loss_term():
    text = " ".join(t.get_text() for t in lecture.architecture_figure().axes[0].texts)
    for needed in ("$Z_1^U$", "$Z_2^U$", "$Z^{SR}$", "fusion", "view 1 hides modality 1", "view 2 hides modality 2",
                   "orthogonality", "InfoNCE on $Z^{SR\\prime}$", "eq. 3", "never see a mask"):
        assert needed in text, needed


def test_make_lecture_figures_writes_png_svg_and_a_sidecar_each(tmp_path):
    table = lecture.make_lecture_figures(tmp_path, command="test")
    assert sorted(set(table["figure"])) == sorted(lecture.LECTURE_FIGURES)
    for name in lecture.LECTURE_FIGURES:
        png, svg = tmp_path / f"{name}.png", tmp_path / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in svg.read_bytes()[:2000]
        info = json.loads((tmp_path / f"{name}.json").read_text())
        assert set(SIDECAR_KEYS) <= set(info) and info["figure"] == name and info["command"] == "test"


def test_figures_command_writes_the_lecture_figures_even_without_results(tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["figures", "--results", str(tmp_path / "nope"), "--out", str(out)]) == 2  # no results folder
    assert "lecture_architecture" in capsys.readouterr().out
    assert (out / "lecture" / "lecture_schedule.svg").is_file()
    main(["figures", "--results", str(tmp_path / "nope"), "--out", str(tmp_path / "other"), "--no-lecture"])
    assert not (tmp_path / "other" / "lecture").exists()


def test_the_students_scale_has_its_own_lecture_figures(tmp_path):
    from coral_lab.drawing.lecture import LECTURE_FIGURES, quick_schedule_figure

    assert {"lecture_mask_grid_quick", "lecture_schedule_quick"} <= set(LECTURE_FIGURES)
    line = quick_schedule_figure().axes[0].lines[0]
    assert list(line.get_ydata()) == [0.9] * 10  # the quick preset's fixed ratio, every epoch
