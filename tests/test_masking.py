"""Tests for coral_lab.objectives.masking (paper eq. 5-6, schedule of section 5.6.1)."""

from __future__ import annotations

import pytest
import torch

from coral_lab.objectives.masking import (
    PAPER_SCHEDULE,
    apply_token_mask,
    mask_ratio_at,
    split_modalities,
    token_keep_mask,
)

STAGES = (0.05, 0.35, 0.55, 0.75)

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# ---------------------------------------------------------------------------------------------
# mask_ratio_at
# ---------------------------------------------------------------------------------------------


def test_paper_schedule_constant():
    assert PAPER_SCHEDULE == ((0.0, 0.05), (0.25, 0.35), (0.5, 0.55), (0.75, 0.75))


@pytest.mark.parametrize(
    "epoch, expected",
    [(0, 0.05), (24, 0.05), (25, 0.35), (49, 0.35), (50, 0.55), (74, 0.55), (75, 0.75), (99, 0.75)],
)
def test_paper_schedule_quarter_boundaries_100_epochs(epoch, expected):
    assert mask_ratio_at(epoch, 100, "paper") == expected


def test_paper_schedule_8_epochs():
    assert [mask_ratio_at(e, 8, "paper") for e in range(8)] == [0.05, 0.05, 0.35, 0.35, 0.55, 0.55, 0.75, 0.75]


@pytest.mark.parametrize("total", list(range(1, 31)) + [100, 101, 333])
def test_paper_schedule_matches_integer_rule(total):
    # epoch / total >= k / 4  <=>  floor(4 * epoch / total) >= k, exact in integers
    for epoch in range(total):
        expected = STAGES[min(4 * epoch // total, 3)]
        assert mask_ratio_at(epoch, total, "paper") == expected, (epoch, total)


def test_paper_schedule_is_case_and_space_insensitive():
    assert mask_ratio_at(80, 100, " Paper ") == 0.75


@pytest.mark.parametrize("schedule, expected", [(0.5, 0.5), (0.0, 0.0), (0, 0.0), (0.75, 0.75), ("0.5", 0.5),
                                                (" 0.25 ", 0.25), ("0", 0.0), (None, 0.0), ("none", 0.0),
                                                ("None", 0.0)])
def test_static_and_none_schedules(schedule, expected):
    for epoch in (0, 3, 9):
        out = mask_ratio_at(epoch, 10, schedule)
        assert isinstance(out, float)
        assert out == expected


def test_custom_pair_schedule():
    sched = [[0.0, 0.1], [0.5, 0.6]]  # as read back from JSON
    assert [mask_ratio_at(e, 4, sched) for e in range(4)] == [0.1, 0.1, 0.6, 0.6]


@pytest.mark.parametrize("schedule", [1.0, 1.5, -0.1, float("nan"), "1.0", "-0.2", "nan"])
def test_ratio_out_of_range_raises(schedule):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        mask_ratio_at(0, 10, schedule)


@pytest.mark.parametrize("schedule", ["linear", "", "papers", True, False, {"a": 1}, [], [(0.1, 0.5)],
                                      [(0.0, 0.5), (0.0, 0.6)], [(0.0, 0.5, 1.0)], torch.tensor(0.5)])
def test_unknown_schedule_raises(schedule):
    with pytest.raises(ValueError):
        mask_ratio_at(0, 10, schedule)


def test_unknown_schedule_message_lists_valid_forms():
    with pytest.raises(ValueError, match="paper") as info:
        mask_ratio_at(0, 10, "cosine")
    assert "none" in str(info.value).lower() and "float" in str(info.value)


@pytest.mark.parametrize("epoch, total", [(-1, 10), (10, 10), (11, 10), (0, 0), (0, -5), (1.0, 10), (True, 10),
                                          (0, 10.0)])
def test_bad_epoch_or_total_raises(epoch, total):
    with pytest.raises(ValueError):
        mask_ratio_at(epoch, total, "paper")


# ---------------------------------------------------------------------------------------------
# split_modalities
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(2, 8))
def test_split_modalities_properties(n):
    g = torch.Generator().manual_seed(123)
    seen = set()
    larger_first = 0
    for _ in range(200):
        m1, m2 = split_modalities(n, g)
        assert isinstance(m1, tuple) and isinstance(m2, tuple)
        assert all(isinstance(i, int) for i in m1 + m2)
        assert len(m1) > 0 and len(m2) > 0
        assert set(m1).isdisjoint(m2)
        assert sorted(m1 + m2) == list(range(n))
        assert abs(len(m1) - len(m2)) <= 1
        assert list(m1) == sorted(m1) and list(m2) == sorted(m2)
        seen.add((m1, m2))
        larger_first += len(m1) > len(m2)
    if n == 2:
        assert seen == {((0,), (1,))}
    else:
        assert len(seen) > 1  # random across draws
    if n % 2 == 1:
        assert 0 < larger_first < 200  # either half may hold the extra modality


def test_split_modalities_n2_draws_no_randomness():
    g = torch.Generator().manual_seed(5)
    state = g.get_state()
    assert split_modalities(2, g) == ((0,), (1,))
    assert torch.equal(g.get_state(), state)


@pytest.mark.parametrize("n", [3, 4, 7])
def test_split_modalities_deterministic_given_seed(n):
    g1 = torch.Generator().manual_seed(7)
    g2 = torch.Generator().manual_seed(7)
    assert [split_modalities(n, g1) for _ in range(20)] == [split_modalities(n, g2) for _ in range(20)]
    g3 = torch.Generator().manual_seed(8)
    g1 = torch.Generator().manual_seed(7)
    assert [split_modalities(n, g1) for _ in range(20)] != [split_modalities(n, g3) for _ in range(20)]


@pytest.mark.parametrize("n", [1, 0, -2, 2.0, True])
def test_split_modalities_bad_n_raises(n):
    with pytest.raises(ValueError, match=">= 2"):
        split_modalities(n, torch.Generator())


def test_split_modalities_needs_generator():
    with pytest.raises(TypeError, match="torch.Generator"):
        split_modalities(3, 0)


@needs_cuda
@pytest.mark.gpu
def test_split_modalities_rejects_cuda_generator():
    with pytest.raises(ValueError, match="CPU"):
        split_modalities(3, torch.Generator(device="cuda"))


# ---------------------------------------------------------------------------------------------
# token_keep_mask
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [0.05, 0.35, 0.55, 0.75])
def test_token_keep_mask_fraction(ratio):
    g = torch.Generator().manual_seed(0)
    keep = token_keep_mask(1000, 500, ratio, g)
    assert keep.shape == (1000, 500) and keep.dtype == torch.bool
    # 5e5 Bernoulli draws: std of the mean <= 7.1e-4, so 0.004 is > 5 sigma
    assert abs(keep.float().mean().item() - (1 - ratio)) < 0.004
    # per-row Bernoulli: the number of masked tokens varies between samples
    assert keep.sum(dim=1).unique().numel() > 1


def test_token_keep_mask_deterministic_per_seed():
    a = token_keep_mask(8, 49, 0.5, torch.Generator().manual_seed(3))
    b = token_keep_mask(8, 49, 0.5, torch.Generator().manual_seed(3))
    c = token_keep_mask(8, 49, 0.5, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_token_keep_mask_ratio_zero_keeps_all():
    keep = token_keep_mask(16, 49, 0.0, torch.Generator().manual_seed(0))
    assert keep.shape == (16, 49) and bool(keep.all())


def test_token_keep_mask_advances_generator_the_same_for_every_ratio():
    g1 = torch.Generator().manual_seed(1)
    g2 = torch.Generator().manual_seed(1)
    token_keep_mask(4, 10, 0.0, g1)
    token_keep_mask(4, 10, 0.6, g2)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_token_keep_mask_higher_ratio_masks_a_superset():
    # same uniforms, higher threshold: every token masked at 0.35 is also masked at 0.75
    low = token_keep_mask(32, 64, 0.35, torch.Generator().manual_seed(2))
    high = token_keep_mask(32, 64, 0.75, torch.Generator().manual_seed(2))
    assert bool((high <= low).all()) and high.sum() < low.sum()


@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5, float("nan"), True, "0.5", None])
def test_token_keep_mask_bad_ratio_raises(ratio):
    with pytest.raises(ValueError):
        token_keep_mask(2, 3, ratio, torch.Generator())


@pytest.mark.parametrize("b, t", [(0, 3), (2, 0), (-1, 3), (2.0, 3), (2, True)])
def test_token_keep_mask_bad_sizes_raise(b, t):
    with pytest.raises(ValueError):
        token_keep_mask(b, t, 0.5, torch.Generator())


def test_token_keep_mask_needs_generator():
    with pytest.raises(TypeError, match="torch.Generator"):
        token_keep_mask(2, 3, 0.5, None)


@needs_cuda
@pytest.mark.gpu
def test_token_keep_mask_on_cuda_generator():
    g = torch.Generator(device="cuda").manual_seed(0)
    keep = token_keep_mask(256, 256, 0.75, g)
    assert keep.device.type == "cuda" and keep.dtype == torch.bool
    assert abs(keep.float().mean().item() - 0.25) < 0.01
    tokens = torch.randn(256, 256, 8, device="cuda")
    out = apply_token_mask(tokens, keep)
    assert torch.equal(out[~keep], torch.zeros_like(out[~keep]))


# ---------------------------------------------------------------------------------------------
# apply_token_mask
# ---------------------------------------------------------------------------------------------


def test_apply_token_mask_zeroes_exactly_the_masked_tokens():
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(4, 10, 6, generator=g) + 3.0  # no token is zero by chance
    keep = token_keep_mask(4, 10, 0.5, g)
    assert 0 < keep.sum() < keep.numel()
    out = apply_token_mask(tokens, keep)
    assert out.shape == tokens.shape and out.dtype == tokens.dtype
    for b in range(4):
        for t in range(10):
            if keep[b, t]:
                assert torch.equal(out[b, t], tokens[b, t])
            else:
                assert torch.equal(out[b, t], torch.zeros(6))


def test_apply_token_mask_gradient_only_through_kept_tokens():
    tokens = torch.randn(2, 5, 3, requires_grad=True)
    keep = torch.tensor([[True, False, True, False, True], [False, False, True, True, True]])
    apply_token_mask(tokens, keep).sum().backward()
    expected = keep.unsqueeze(-1).float().expand(2, 5, 3)
    assert torch.equal(tokens.grad, expected)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_apply_token_mask_keeps_dtype(dtype):
    tokens = torch.ones(2, 3, 4, dtype=dtype)
    keep = torch.tensor([[True, False, True], [False, True, True]])
    out = apply_token_mask(tokens, keep)
    assert out.dtype == dtype
    assert torch.equal(out.sum(dim=-1), keep.to(dtype) * 4)


def test_apply_token_mask_bad_input_raises():
    tokens = torch.randn(2, 5, 3)
    keep = torch.ones(2, 5, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"\(B, T, D\)"):
        apply_token_mask(tokens[0], keep)
    with pytest.raises(ValueError, match="shape"):
        apply_token_mask(tokens, keep[:, :4])
    with pytest.raises(ValueError, match="shape"):
        apply_token_mask(tokens, keep.unsqueeze(-1))
    with pytest.raises(ValueError, match="bool"):
        apply_token_mask(tokens, keep.float())
    with pytest.raises(TypeError):
        apply_token_mask(tokens.numpy(), keep)
