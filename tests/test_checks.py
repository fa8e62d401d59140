"""The input checks every model shares (coral_lab.models.checks)."""

import pytest
import torch

from coral_lab.models.checks import check_finite, check_view, same_device

CPU = torch.device("cpu")
SHAPES = [(20, 5), (3,)]
NAMES = ["text", "tabular"]


def view(b: int = 4) -> list[torch.Tensor]:
    return [torch.zeros(b, 20, 5), torch.zeros(b, 3)]


def test_a_good_view_comes_back_as_a_list():
    v = view()
    out = check_view(tuple(v), "x", SHAPES, CPU, NAMES)
    assert isinstance(out, list) and all(a is b for a, b in zip(out, v))


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (torch.zeros(4, 20, 5), TypeError, r"list of 2 tensors, one per modality: text \(B, 20, 5\), tabular \(B, 3\)"),
        (view()[:1], ValueError, "n_modalities=2"),
        ([view()[0], "x"], TypeError, r"x\[1\] \(tabular\) must be a torch.Tensor"),
        ([view()[0], torch.zeros(4, 3, dtype=torch.long)], TypeError, "floating-point.*int64"),
        ([view()[0], torch.zeros(4, 4)], ValueError, r"x\[1\] \(tabular\) must have shape \(B, 3\), got \(4, 4\)"),
        ([view()[0], torch.zeros(4, 3, 1)], ValueError, r"must have shape \(B, 3\)"),
        ([torch.zeros(0, 20, 5), torch.zeros(0, 3)], ValueError, "empty batch"),
        ([view(4)[0], view(5)[1]], ValueError, r"same batch size, got \[4, 5\]"),
    ],
)
def test_bad_views_are_named_precisely(bad, error, match):
    with pytest.raises(error, match=match):
        check_view(bad, "x", SHAPES, CPU, NAMES)


def test_image_views_say_how_to_convert_uint8():
    with pytest.raises(TypeError, match="to_model_input"):
        check_view([torch.zeros(2, 3, 8, 8, dtype=torch.uint8)] * 2, "view1", [(3, 8, 8)] * 2, CPU)
    with pytest.raises(ValueError, match=r"view1\[0\] must have shape \(B, 3, 8, 8\)"):
        check_view([torch.zeros(2, 3, 9, 9)] * 2, "view1", [(3, 8, 8)] * 2, CPU)


def test_devices_and_finiteness():
    assert same_device(torch.device("cuda"), torch.device("cuda:1"))
    assert not same_device(torch.device("cuda:0"), torch.device("cuda:1"))
    assert not same_device(CPU, torch.device("cuda"))
    with pytest.raises(ValueError, match="is on cpu but the model is on meta"):
        check_view(view(), "x", SHAPES, torch.device("meta"), NAMES)
    check_finite(view())
    bad = view()
    bad[1][2, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf values in x"):
        check_finite(bad, "x")
