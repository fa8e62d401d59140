"""Tests for coral_lab.objectives.losses (paper eq. 3, 4, 7, 8), against references written here."""

from __future__ import annotations

import math

import pytest
import torch

from coral_lab.objectives.embeddings import Embeddings
from coral_lab.objectives.losses import loss_part_names, ORTHO_KINDS, coral_loss, info_nce, orthogonality_loss

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# ---------------------------------------------------------------------------------------------
# independent references (plain Python floats, loops over rows)
# ---------------------------------------------------------------------------------------------


def _rows(x: torch.Tensor) -> list[list[float]]:
    return x.detach().double().tolist()


def _cos(u: list[float], v: list[float]) -> float:
    nu = math.sqrt(sum(a * a for a in u))
    nv = math.sqrt(sum(b * b for b in v))
    return sum(a * b for a, b in zip(u, v)) / (nu * nv)


def ref_nt_xent(z1: torch.Tensor, z2: torch.Tensor, t: float) -> float:
    """SimCLR NT-Xent over the 2N rows: positive = partner in the other view, 2N - 2 negatives."""
    zs = _rows(z1) + _rows(z2)
    n = len(zs) // 2
    total = 0.0
    for k in range(2 * n):
        pos = k + n if k < n else k - n
        den = sum(math.exp(_cos(zs[k], zs[m]) / t) for m in range(2 * n) if m != k)
        total += -(_cos(zs[k], zs[pos]) / t - math.log(den))
    return total / (2 * n)


def ref_cel(a: torch.Tensor, b: torch.Tensor, kind: str) -> float:
    cs = [_cos(u, v) for u, v in zip(_rows(a), _rows(b))]
    if kind == "hinge":
        return sum(max(0.0, c) for c in cs) / len(cs)
    return sum(c * c for c in cs) / len(cs)


def _randn(*shape, seed):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _views(n_mod: int, n: int = 6, d: int = 5, seed: int = 0, requires_grad: bool = False):
    g = torch.Generator().manual_seed(seed)

    def mk():
        t = torch.randn(n, d, generator=g)
        return t.requires_grad_(requires_grad)

    v1 = Embeddings(mk(), tuple(mk() for _ in range(n_mod)))
    v2 = Embeddings(mk(), tuple(mk() for _ in range(n_mod)))
    return v1, v2


# ---------------------------------------------------------------------------------------------
# info_nce
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("n, d", [(2, 3), (5, 7), (9, 4)])
def test_info_nce_matches_loop_reference(n, d, t):
    z1, z2 = _randn(n, d, seed=n), _randn(n, d, seed=100 + d)
    out = info_nce(z1, z2, t)
    assert out.dim() == 0 and out.dtype == torch.float32
    assert out.item() == pytest.approx(ref_nt_xent(z1, z2, t), rel=1e-5, abs=1e-5)


def test_info_nce_aligned_orthonormal_rows_is_near_zero():
    z = torch.eye(6, 8)  # orthonormal rows; partner identical, others orthogonal
    # exact: log(1 + (2N - 2) e^{-1/t}) = log(1 + 10 e^{-100}), about 4e-43
    assert info_nce(z, z.clone(), 0.01).item() < 1e-6


@pytest.mark.parametrize("n", [2, 6, 32])
def test_info_nce_collapse_equals_log_2n_minus_1(n):
    z = torch.ones(n, 4) * torch.tensor([0.3, -1.0, 2.0, 0.5])  # every sample the same embedding
    assert info_nce(z, z.clone(), 0.1).item() == pytest.approx(math.log(2 * n - 1), rel=1e-5)


def test_info_nce_symmetric():
    a, b = _randn(7, 5, seed=1), _randn(7, 5, seed=2)
    assert info_nce(a, b).item() == pytest.approx(info_nce(b, a).item(), rel=1e-6)


def test_info_nce_scale_invariant():
    a, b = _randn(7, 5, seed=3), _randn(7, 5, seed=4)
    scale_a = torch.rand(7, 1, generator=torch.Generator().manual_seed(5)) * 10 + 0.1
    scale_b = torch.rand(7, 1, generator=torch.Generator().manual_seed(6)) * 10 + 0.1
    assert info_nce(a * scale_a, b * scale_b).item() == pytest.approx(info_nce(a, b).item(), rel=1e-5)


def test_info_nce_increases_with_temperature_when_positives_win():
    # if each row's positive is its most similar other row, every per-row term
    # log(1 + sum_neg exp((s_neg - s_pos) / t)) grows with t
    z1 = _randn(10, 16, seed=7)
    z2 = z1 + 0.1 * _randn(10, 16, seed=8)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T
    sim.fill_diagonal_(-2.0)
    assert torch.equal(sim.argmax(dim=1), torch.arange(20).roll(10))  # the premise holds
    losses = [info_nce(z1, z2, t).item() for t in (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)]
    assert all(a < b for a, b in zip(losses, losses[1:])), losses


def test_info_nce_goes_down_with_adam():
    torch.manual_seed(0)
    z1 = torch.randn(16, 8, requires_grad=True)
    z2 = torch.randn(16, 8, requires_grad=True)
    opt = torch.optim.Adam([z1, z2], lr=0.05)
    first = info_nce(z1, z2, 0.1).item()
    for _ in range(60):
        opt.zero_grad()
        loss = info_nce(z1, z2, 0.1)
        loss.backward()
        opt.step()
    last = info_nce(z1, z2, 0.1).item()
    assert last < 0.5 * first, (first, last)


def test_info_nce_gradients_finite_and_nonzero():
    z1 = _randn(6, 4, seed=9).requires_grad_(True)
    z2 = _randn(6, 4, seed=10).requires_grad_(True)
    info_nce(z1, z2).backward()
    for g in (z1.grad, z2.grad):
        assert g is not None and bool(torch.isfinite(g).all()) and g.abs().sum() > 0


def test_info_nce_under_bf16_autocast_is_float32_and_close():
    z1, z2 = _randn(8, 16, seed=11), _randn(8, 16, seed=12)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = info_nce(z1, z2, 0.1)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(ref_nt_xent(z1, z2, 0.1), rel=1e-5)


def test_info_nce_float64_input():
    z1, z2 = _randn(5, 3, seed=13).double(), _randn(5, 3, seed=14).double()
    assert info_nce(z1, z2, 0.2).item() == pytest.approx(ref_nt_xent(z1, z2, 0.2), rel=1e-5)


def test_info_nce_bad_input_raises():
    a = _randn(4, 3, seed=0)
    with pytest.raises(ValueError, match="2-D"):
        info_nce(a.flatten(), a.flatten())
    with pytest.raises(ValueError, match="2-D"):
        info_nce(a.unsqueeze(0), a.unsqueeze(0))
    with pytest.raises(ValueError, match="batch sizes differ"):
        info_nce(a, a[:3])
    with pytest.raises(ValueError, match="feature dims differ"):
        info_nce(a, a[:, :2])
    with pytest.raises(ValueError, match="N >= 2"):
        info_nce(a[:1], a[:1])
    with pytest.raises(ValueError, match="temperature"):
        info_nce(a, a, 0.0)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(a, a, -0.1)
    with pytest.raises(ValueError, match="temperature"):
        info_nce(a, a, float("inf"))
    with pytest.raises(TypeError):
        info_nce(a.numpy(), a)
    with pytest.raises(TypeError):
        info_nce(a.long(), a.long())


def test_info_nce_non_finite_raises_and_check_can_be_skipped():
    a, b = _randn(4, 3, seed=0), _randn(4, 3, seed=1)
    b[2, 1] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        info_nce(a, b)
    a_inf = a.clone()
    a_inf[0, 0] = float("inf")
    with pytest.raises(ValueError, match="z1"):
        info_nce(a_inf, a)
    assert torch.isnan(info_nce(a, b, check_finite=False))  # skipped: the NaN propagates


# ---------------------------------------------------------------------------------------------
# orthogonality_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ORTHO_KINDS)
def test_orthogonality_reference_angles(kind):
    e1 = torch.tensor([[2.0, 0.0, 0.0]])
    assert orthogonality_loss(e1, torch.tensor([[0.0, 3.0, 0.0]]), kind).item() == pytest.approx(0.0, abs=1e-7)
    assert orthogonality_loss(e1, torch.tensor([[5.0, 0.0, 0.0]]), kind).item() == pytest.approx(1.0, rel=1e-6)
    anti = orthogonality_loss(e1, torch.tensor([[-1.0, 0.0, 0.0]]), kind).item()
    assert anti == pytest.approx(0.0 if kind == "hinge" else 1.0, abs=1e-6)
    c45 = math.cos(math.pi / 4)
    deg45 = orthogonality_loss(e1, torch.tensor([[1.0, 1.0, 0.0]]), kind).item()
    assert deg45 == pytest.approx(c45 if kind == "hinge" else c45**2, rel=1e-6)
    deg135 = orthogonality_loss(e1, torch.tensor([[-1.0, 1.0, 0.0]]), kind).item()
    assert deg135 == pytest.approx(0.0 if kind == "hinge" else c45**2, abs=1e-6)


@pytest.mark.parametrize("kind", ORTHO_KINDS)
def test_orthogonality_matches_row_reference(kind):
    a, b = _randn(12, 6, seed=20), _randn(12, 6, seed=21)
    assert orthogonality_loss(a, b, kind).item() == pytest.approx(ref_cel(a, b, kind), rel=1e-5, abs=1e-7)


def test_orthogonality_hinge_never_above_abs_and_squared_bounds():
    a, b = _randn(50, 4, seed=22), _randn(50, 4, seed=23)
    h = orthogonality_loss(a, b, "hinge").item()
    s = orthogonality_loss(a, b, "squared").item()
    assert 0.0 < h < 1.0 and 0.0 < s < 1.0
    assert orthogonality_loss(a, -b, "squared").item() == pytest.approx(s, rel=1e-6)  # sign-blind
    assert orthogonality_loss(a, -b, "hinge").item() != pytest.approx(h, rel=1e-3)  # sign-aware


@pytest.mark.parametrize("kind", ORTHO_KINDS)
def test_orthogonality_zero_rows_are_safe(kind):
    a = torch.zeros(3, 4, requires_grad=True)
    b = _randn(3, 4, seed=24).requires_grad_(True)
    out = orthogonality_loss(a, b, kind)
    out.backward()
    assert out.item() == 0.0
    assert bool(torch.isfinite(a.grad).all()) and bool(torch.isfinite(b.grad).all())
    # cos is undefined at a zero row: no (1 / eps)-sized push in any direction
    assert torch.equal(a.grad, torch.zeros_like(a)) and torch.equal(b.grad, torch.zeros_like(b))


@pytest.mark.parametrize("kind", ORTHO_KINDS)
def test_orthogonality_goes_down_with_adam(kind):
    torch.manual_seed(1)
    a = (torch.randn(8, 4) + 2.0).requires_grad_(True)  # start mostly aligned
    b = (torch.randn(8, 4) + 2.0).requires_grad_(True)
    opt = torch.optim.Adam([a, b], lr=0.05)
    first = orthogonality_loss(a, b, kind).item()
    for _ in range(50):
        opt.zero_grad()
        orthogonality_loss(a, b, kind).backward()
        opt.step()
    assert orthogonality_loss(a, b, kind).item() < 0.2 * first


def test_orthogonality_bad_input_raises():
    a = _randn(4, 3, seed=0)
    with pytest.raises(ValueError, match="valid kinds") as info:
        orthogonality_loss(a, a, "cosine")
    assert "hinge" in str(info.value) and "squared" in str(info.value)
    with pytest.raises(ValueError, match="feature dims differ"):
        orthogonality_loss(a, a[:, :2])
    with pytest.raises(ValueError, match="batch sizes differ"):
        orthogonality_loss(a, a[:2])
    with pytest.raises(ValueError, match="2-D"):
        orthogonality_loss(a[0], a[0])
    bad = a.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        orthogonality_loss(a, bad)


# ---------------------------------------------------------------------------------------------
# coral_loss
# ---------------------------------------------------------------------------------------------

EXPECTED_NAMES_2 = [
    "shared", "unique1", "unique2", "unique",
    "ortho_shared_unique1", "ortho_shared_unique2", "ortho_unique1_unique2", "orthogonal",
]
EXPECTED_NAMES_3 = [
    "shared", "unique1", "unique2", "unique3", "unique",
    "ortho_shared_unique1", "ortho_shared_unique2", "ortho_shared_unique3",
    "ortho_unique1_unique2", "ortho_unique1_unique3", "ortho_unique2_unique3", "orthogonal",
]


def test_loss_part_names():
    assert loss_part_names(2) == EXPECTED_NAMES_2
    assert loss_part_names(3) == EXPECTED_NAMES_3
    assert loss_part_names(1) == ["shared", "unique1", "unique", "ortho_shared_unique1", "orthogonal"]
    n = 5
    pairs = [k for k in loss_part_names(n) if k.startswith("ortho_unique")]
    assert len(pairs) == n * (n - 1) // 2
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError):
            loss_part_names(bad)


@pytest.mark.parametrize("n_mod, expected", [(2, EXPECTED_NAMES_2), (3, EXPECTED_NAMES_3)])
def test_coral_loss_part_names(n_mod, expected):
    v1, v2 = _views(n_mod)
    total, parts = coral_loss(v1, v2)
    assert list(parts) == expected
    assert all(isinstance(p, torch.Tensor) and p.dim() == 0 for p in parts.values())
    assert isinstance(total, torch.Tensor) and total.dim() == 0


@pytest.mark.parametrize("kind", ORTHO_KINDS)
@pytest.mark.parametrize("n_mod", [2, 3])
def test_coral_loss_parts_and_total_match_references(n_mod, kind):
    v1, v2 = _views(n_mod, n=5, d=4, seed=n_mod)
    ls, lu, lo, t = 0.5, 2.0, 3.0, 0.2
    total, parts = coral_loss(v1, v2, ls, lu, lo, temperature=t, ortho_kind=kind)

    shared = ref_nt_xent(v1.shared, v2.shared, t)
    uniques = [ref_nt_xent(v1.unique[i], v2.unique[i], t) for i in range(n_mod)]
    ortho = {}
    for i in range(n_mod):
        ortho[f"ortho_shared_unique{i + 1}"] = (ref_cel(v1.unique[i], v1.shared, kind)
                                                + ref_cel(v2.unique[i], v2.shared, kind))
        for j in range(i + 1, n_mod):
            ortho[f"ortho_unique{i + 1}_unique{j + 1}"] = (ref_cel(v1.unique[i], v1.unique[j], kind)
                                                           + ref_cel(v2.unique[i], v2.unique[j], kind))
    assert parts["shared"].item() == pytest.approx(shared, rel=1e-5)
    for i, u in enumerate(uniques):
        assert parts[f"unique{i + 1}"].item() == pytest.approx(u, rel=1e-5)
    assert parts["unique"].item() == pytest.approx(sum(uniques), rel=1e-5)
    for k, v in ortho.items():
        assert parts[k].item() == pytest.approx(v, rel=1e-5, abs=1e-6)
    assert parts["orthogonal"].item() == pytest.approx(sum(ortho.values()), rel=1e-5, abs=1e-6)
    expected_total = ls * shared + lu * sum(uniques) + lo * sum(ortho.values())
    assert total.item() == pytest.approx(expected_total, rel=1e-5)
    # and consistent with the public building blocks
    assert parts["shared"].item() == pytest.approx(info_nce(v1.shared, v2.shared, t).item(), rel=1e-6)
    assert parts["ortho_shared_unique1"].item() == pytest.approx(
        orthogonality_loss(v1.unique[0], v1.shared, kind).item()
        + orthogonality_loss(v2.unique[0], v2.shared, kind).item(), rel=1e-6, abs=1e-7)


def test_coral_loss_defaults_are_the_paper_values():
    v1, v2 = _views(2, seed=4)
    total, _ = coral_loss(v1, v2)
    explicit, _ = coral_loss(v1, v2, 1.0, 1.0, 1.0, temperature=0.1, ortho_kind="hinge")
    assert total.item() == explicit.item()


def test_coral_loss_lambda_o_zero_removes_orthogonality():
    v1, v2 = _views(3, seed=5)
    total, parts = coral_loss(v1, v2, lambda_s=1.5, lambda_u=0.5, lambda_o=0.0)
    assert parts["orthogonal"].item() > 0  # the term exists, it is just not counted
    assert total.item() == pytest.approx(1.5 * parts["shared"].item() + 0.5 * parts["unique"].item(), rel=1e-6)
    total_o1, _ = coral_loss(v1, v2, lambda_s=1.5, lambda_u=0.5, lambda_o=1.0)
    assert total_o1.item() == pytest.approx(total.item() + parts["orthogonal"].item(), rel=1e-6)


@pytest.mark.parametrize("kind", ORTHO_KINDS)
@pytest.mark.parametrize("n_mod", [2, 3])
def test_coral_loss_gradients_reach_every_input(n_mod, kind):
    v1, v2 = _views(n_mod, seed=6, requires_grad=True)
    total, _ = coral_loss(v1, v2, ortho_kind=kind)
    total.backward()
    for view in (v1, v2):
        for name, t in view.parts().items():
            assert t.grad is not None, name
            assert bool(torch.isfinite(t.grad).all()), name
            assert t.grad.abs().sum() > 0, name


def test_coral_loss_only_orthogonality_gradient_when_others_off():
    # lambda_s = lambda_u = 0: only eq. 8 drives the gradient, and it must reach every tensor
    v1, v2 = _views(3, seed=7, requires_grad=True)
    total, parts = coral_loss(v1, v2, 0.0, 0.0, 1.0, ortho_kind="squared")
    assert total.item() == pytest.approx(parts["orthogonal"].item(), rel=1e-6)
    total.backward()
    for view in (v1, v2):
        for name, t in view.parts().items():
            assert t.grad.abs().sum() > 0, name


def test_coral_loss_goes_down_with_adam():
    torch.manual_seed(2)
    v1, v2 = _views(2, n=16, d=8, seed=8, requires_grad=True)
    params = [*v1.parts().values(), *v2.parts().values()]
    opt = torch.optim.Adam(params, lr=0.05)
    first, first_parts = coral_loss(v1, v2)
    for _ in range(60):
        opt.zero_grad()
        coral_loss(v1, v2)[0].backward()
        opt.step()
    last, last_parts = coral_loss(v1, v2)
    assert last.item() < 0.5 * first.item()
    assert last_parts["orthogonal"].item() < first_parts["orthogonal"].item()


def test_coral_loss_bad_input_raises():
    v1, v2 = _views(2)
    with pytest.raises(TypeError, match="Embeddings"):
        coral_loss((v1.shared, v1.unique), v2)
    v3, _ = _views(3)
    with pytest.raises(ValueError, match="numbers of modalities"):
        coral_loss(v1, v3)
    short = Embeddings(v2.shared[:4], tuple(u[:4] for u in v2.unique))
    with pytest.raises(ValueError, match="batch sizes differ"):
        coral_loss(v1, short)
    mixed = Embeddings(v2.shared, (v2.unique[0], v2.unique[1][:4]))
    with pytest.raises(ValueError, match="batch sizes differ"):
        coral_loss(v1, mixed)
    narrow = Embeddings(v1.shared, (v1.unique[0][:, :3], v1.unique[1]))
    narrow2 = Embeddings(v2.shared, (v2.unique[0][:, :3], v2.unique[1]))
    with pytest.raises(ValueError, match="feature dims differ"):
        coral_loss(narrow, narrow2)  # Z_1^U (D=3) cannot be compared with Z^SR (D=5)
    flat = Embeddings(v1.shared.flatten(), v1.unique)
    with pytest.raises(ValueError, match="2-D"):
        coral_loss(flat, v2)
    one = Embeddings(v1.shared[:1], tuple(u[:1] for u in v1.unique))
    one2 = Embeddings(v2.shared[:1], tuple(u[:1] for u in v2.unique))
    with pytest.raises(ValueError, match="N >= 2"):
        coral_loss(one, one2)
    for kw in ({"lambda_s": -1.0}, {"lambda_u": -0.1}, {"lambda_o": -2.0}, {"lambda_o": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            coral_loss(v1, v2, **kw)
    with pytest.raises(ValueError, match="temperature"):
        coral_loss(v1, v2, temperature=0.0)
    with pytest.raises(ValueError, match="valid kinds"):
        coral_loss(v1, v2, ortho_kind="l2")
    empty = Embeddings(v1.shared, ())
    with pytest.raises(ValueError):
        coral_loss(empty, Embeddings(v2.shared, ()))


def test_coral_loss_non_finite_names_the_tensor_and_can_be_skipped():
    v1, v2 = _views(2)
    bad_u2 = v2.unique[1].clone()
    bad_u2[0, 0] = float("inf")
    bad = Embeddings(v2.shared, (v2.unique[0], bad_u2))
    with pytest.raises(ValueError, match="view2.unique2"):
        coral_loss(v1, bad)
    total, _ = coral_loss(v1, bad, check_finite=False)
    assert not torch.isfinite(total)


@needs_cuda
@pytest.mark.gpu
def test_coral_loss_on_cuda_matches_cpu_and_under_bf16_autocast():
    v1, v2 = _views(3, n=32, d=16, seed=9)
    cpu_total, cpu_parts = coral_loss(v1, v2)
    c1 = Embeddings(v1.shared.cuda(), tuple(u.cuda() for u in v1.unique))
    c2 = Embeddings(v2.shared.cuda(), tuple(u.cuda() for u in v2.unique))
    total, parts = coral_loss(c1, c2, check_finite=False)
    assert total.device.type == "cuda"
    assert total.item() == pytest.approx(cpu_total.item(), rel=1e-4)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        amp_total, _ = coral_loss(c1, c2)
    assert amp_total.dtype == torch.float32
    assert amp_total.item() == pytest.approx(cpu_total.item(), rel=1e-4)
