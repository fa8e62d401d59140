"""coral_lab.teaching.pid: published PID values, eq. 1, independent references for I_min and BROJA, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from coral_lab.teaching import pid
from coral_lab.data.pairs import N_CLASSES, TASKS

MEASURES = sorted(pid.MEASURES)
TOL = 1e-6


# ----------------------------------------------------------------------------- independent references


def _h(p: np.ndarray) -> float:
    """Shannon entropy in bits of any array of probabilities."""
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _mi_joint(p: np.ndarray) -> float:
    """I(X1, X2; Y) = H(X1, X2) + H(Y) - H(X1, X2, Y) for p[x1, x2, y]."""
    return _h(p.sum(axis=2)) + _h(p.sum(axis=(0, 1))) - _h(p)


def _mi_single(p: np.ndarray, source: int) -> float:
    """I(X_source; Y) for source 0 (X1) or 1 (X2)."""
    pxy = p.sum(axis=1 - source)  # (|X_i|, |Y|)
    return _h(pxy.sum(axis=1)) + _h(pxy.sum(axis=0)) - _h(pxy)


def _imin_reference(p: np.ndarray) -> dict[str, float]:
    """Williams-Beer PID written out: R = sum_y p(y) min_i sum_x p(x|y) log2(p(y|x) / p(y))."""
    py = p.sum(axis=(0, 1))
    specific = []
    for source in (0, 1):
        pxy = p.sum(axis=1 - source)  # (|X_i|, |Y|)
        px = pxy.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(pxy > 0, pxy / py * np.log2(pxy / px / py), 0.0)  # p(x|y) log p(y|x)/p(y)
        specific.append(terms.sum(axis=0))  # (|Y|,) I(Y=y; X_i)
    red = float(sum(py[y] * min(specific[0][y], specific[1][y]) for y in range(len(py)) if py[y] > 0))
    i1, i2, tot = _mi_single(p, 0), _mi_single(p, 1), _mi_joint(p)
    return {"redundancy": red, "unique1": i1 - red, "unique2": i2 - red, "synergy": tot - i1 - i2 + red, "total": tot}


def _broja_binary_reference(p: np.ndarray) -> dict[str, float]:
    """BROJA for binary X1, X2 by direct search over Delta_P.

    For each y, Q(x1, x2 | y) with fixed marginals Q(x1 | y), Q(x2 | y) has one free number,
    t_y = Q(0, 0 | y) in [max(0, a + b - 1), min(a, b)]. A grid over (t_0, ..., t_{c-1}) then a
    bounded local polish minimises the convex I_Q(X1, X2; Y); the atoms follow from the minimum m:
    S = I - m, U1 = m - I(X2; Y), U2 = m - I(X1; Y), R = I(X1; Y) + I(X2; Y) - m.
    """
    assert p.shape[:2] == (2, 2)
    py = p.sum(axis=(0, 1))
    ys = [y for y in range(p.shape[2]) if py[y] > 0]
    a = np.array([p[0, :, y].sum() / py[y] for y in ys])  # Q(x1 = 0 | y)
    b = np.array([p[:, 0, y].sum() / py[y] for y in ys])  # Q(x2 = 0 | y)
    lo, hi = np.maximum(0, a + b - 1), np.minimum(a, b)

    def joint(t: np.ndarray) -> np.ndarray:
        q = np.zeros((2, 2, p.shape[2]))
        for k, y in enumerate(ys):
            q[:, :, y] = py[y] * np.array([[t[k], a[k] - t[k]], [b[k] - t[k], 1 - a[k] - b[k] + t[k]]])
        return np.clip(q, 0, None)

    def objective(u: np.ndarray) -> float:
        return _mi_joint(joint(lo + np.clip(u, 0, 1) * (hi - lo)))

    grid = np.linspace(0, 1, 41)
    starts = np.stack(np.meshgrid(*[grid] * len(ys), indexing="ij"), -1).reshape(-1, len(ys))
    best = min(starts, key=objective)
    res = minimize(objective, best, bounds=[(0, 1)] * len(ys), method="L-BFGS-B", options={"ftol": 1e-14})
    m = min(res.fun, objective(best))
    i1, i2, tot = _mi_single(p, 0), _mi_single(p, 1), _mi_joint(p)
    return {"redundancy": i1 + i2 - m, "unique1": m - i2, "unique2": m - i1, "synergy": tot - m, "total": tot}


def _random_distribution(shape, seed: int, sparsity: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.random(shape) * (rng.random(shape) >= sparsity)
    p.flat[0] += 1e-3  # never all zero
    return p / p.sum()


def _atoms(r: dict) -> np.ndarray:
    return np.array([r[k] for k in pid.ATOMS])


# ----------------------------------------------------------------------------- known values


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize(
    "name, expected",
    [
        ("xor", {"redundancy": 0, "unique1": 0, "unique2": 0, "synergy": 1, "total": 1}),
        ("copy", {"redundancy": 1, "unique1": 0, "unique2": 0, "synergy": 0, "total": 1}),
        ("unique", {"redundancy": 0, "unique1": 1, "unique2": 0, "synergy": 0, "total": 1}),
        # AND: total = H(Y) with P(Y=1) = 1/4; R = 0.311, S = 0.5 (Bertschinger et al. 2014; Williams & Beer 2010)
        ("and", {"redundancy": 0.311278, "unique1": 0, "unique2": 0, "synergy": 0.5, "total": 0.811278}),
    ],
)
def test_published_values(name, expected, measure):
    got = pid.decompose(pid.EXAMPLES[name](), measure)
    assert set(got) == set(pid.ATOMS) | {"total"}
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-5), (name, measure, key, got)


def test_and_total_is_binary_entropy_of_one_quarter():
    h = -(0.25 * np.log2(0.25) + 0.75 * np.log2(0.75))
    assert pid.decompose(pid.and_distribution())["total"] == pytest.approx(h, abs=1e-9)


def test_examples_are_distributions_of_the_documented_functions():
    for name, f in pid.EXAMPLES.items():
        p = f()
        assert p.shape == (2, 2, 2) and p.sum() == pytest.approx(1.0) and (p >= 0).all(), name
    xor, and_ = pid.xor_distribution(), pid.and_distribution()
    for x1 in (0, 1):
        for x2 in (0, 1):
            assert xor[x1, x2, x1 ^ x2] == 0.25 and and_[x1, x2, x1 & x2] == 0.25
    assert pid.copy_distribution()[0, 0, 0] == pid.copy_distribution()[1, 1, 1] == 0.5


def test_measures_disagree_on_two_bit_copy():
    # Y = (X1, X2) with independent fair bits. X1 tells the first bit of Y, X2 the second: different
    # information, so BROJA (which compares what the sources tell, through Delta_P) finds U1 = U2 = 1
    # bit. I_min only compares how much each source tells about each outcome y: 1 bit each, so it
    # calls 1 bit redundant, and eq. 1 then forces S = 1 bit (Harder, Salge & Polani 2013).
    p = pid.two_bit_copy_distribution()
    broja, imin = pid.decompose(p, "broja"), pid.decompose(p, "imin")
    assert broja["total"] == pytest.approx(2.0, abs=1e-9) and imin["total"] == pytest.approx(2.0, abs=1e-9)
    assert _atoms(broja) == pytest.approx([0, 1, 1, 0], abs=1e-5)
    assert _atoms(imin) == pytest.approx([1, 0, 0, 1], abs=1e-5)
    assert abs(broja["redundancy"] - imin["redundancy"]) > 0.99


# ----------------------------------------------------------------------------- eq. 1 and references


RANDOM_CASES = [((2, 2, 2), 0), ((3, 3, 3), 1), ((2, 3, 4), 2), ((4, 2, 3), 3), ((1, 3, 2), 4), ((3, 3, 1), 5)]


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize("shape, seed", RANDOM_CASES)
def test_atoms_sum_to_independent_mutual_information(shape, seed, measure):
    p = _random_distribution(shape, seed, sparsity=0.3)
    got = pid.decompose(p, measure)
    assert got["total"] == pytest.approx(_mi_joint(p), abs=1e-9)  # plain numpy entropy, not dit
    assert _atoms(got).sum() == pytest.approx(got["total"], abs=TOL)  # eq. 1
    assert (_atoms(got) > -TOL).all()  # both measures are non-negative for two sources
    # U_i + R = I(X_i; Y) for every PID (the lattice's consistency equations)
    assert got["unique1"] + got["redundancy"] == pytest.approx(_mi_single(p, 0), abs=1e-5)
    assert got["unique2"] + got["redundancy"] == pytest.approx(_mi_single(p, 1), abs=1e-5)


@pytest.mark.parametrize("shape, seed", [((2, 2, 2), 10), ((3, 2, 4), 11), ((3, 3, 3), 12)])
def test_imin_matches_written_out_formula(shape, seed):
    p = _random_distribution(shape, seed)
    got, ref = pid.decompose(p, "imin"), _imin_reference(p)
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=1e-9), key


@pytest.mark.parametrize("shape, seed", [((2, 2, 2), 20), ((2, 2, 2), 21), ((2, 2, 3), 22)])
def test_broja_matches_direct_search_on_binary_sources(shape, seed):
    p = _random_distribution(shape, seed)
    got, ref = pid.decompose(p, "broja"), _broja_binary_reference(p)
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=2e-5), (key, got, ref)


@pytest.mark.parametrize("seed", [30, 31])
def test_broja_synergy_is_at_least_what_any_feasible_q_shows(seed):
    # S = I_P(X1,X2;Y) - min_{Q in Delta_P} I_Q(X1,X2;Y), so every Q in Delta_P gives a lower bound.
    rng = np.random.default_rng(seed)
    p = _random_distribution((3, 3, 3), seed)
    s = pid.decompose(p, "broja")["synergy"]
    py = p.sum(axis=(0, 1))
    q0 = p.sum(axis=1)[:, None, :] * p.sum(axis=0)[None, :, :] / py  # p(y) p(x1|y) p(x2|y), in Delta_P
    candidates = [q0]
    for _ in range(20):
        # a direction that keeps both (Xi, Y) marginals: double-centred per y
        d = rng.normal(size=p.shape)
        d -= d.mean(axis=0, keepdims=True)
        d -= d.mean(axis=1, keepdims=True)
        base = candidates[rng.integers(len(candidates))]
        with np.errstate(divide="ignore"):
            step = np.min(np.where(d < 0, base / -d, np.inf))
        q = base + rng.uniform(0, 1) * step * d
        assert np.allclose(q.sum(axis=1), p.sum(axis=1)) and np.allclose(q.sum(axis=0), p.sum(axis=0))
        candidates.append(np.clip(q, 0, None))
    total = _mi_joint(p)
    assert s >= max(total - _mi_joint(q) for q in candidates) - TOL


@pytest.mark.parametrize("measure", MEASURES)
def test_swapping_sources_swaps_unique_atoms(measure):
    p = _random_distribution((2, 3, 2), 40)
    a, b = pid.decompose(p, measure), pid.decompose(p.transpose(1, 0, 2), measure)
    assert a["unique1"] == pytest.approx(b["unique2"], abs=1e-5)
    assert a["unique2"] == pytest.approx(b["unique1"], abs=1e-5)
    assert a["redundancy"] == pytest.approx(b["redundancy"], abs=1e-5)
    assert a["synergy"] == pytest.approx(b["synergy"], abs=1e-5)


def test_accepts_lists_and_tensors():
    xor = pid.xor_distribution()
    assert pid.decompose(xor.tolist(), "imin")["synergy"] == pytest.approx(1.0)
    assert pid.decompose(torch.tensor(xor), "imin")["synergy"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- mixture


@pytest.mark.parametrize("measure", MEASURES)
def test_mixture_single_mechanism_gives_one_bit_of_its_atom(measure):
    for mech in pid.MIXTURE_MECHANISMS:
        got = pid.decompose(pid.mixture({mech: 2.0}), measure)
        expected = np.array([1.0 if a == mech else 0.0 for a in pid.ATOMS])
        assert _atoms(got) == pytest.approx(expected, abs=1e-5), mech


def test_mixture_keeps_the_input_space_fixed():
    w1 = pid.mixture({"redundancy": 1.0})
    w2 = pid.mixture({"redundancy": 0.2, "unique1": 0.3, "unique2": 0.1, "synergy": 0.4})
    assert w1.shape == w2.shape == (4, 4, 2) and w2.sum() == pytest.approx(1.0)
    # p(x1, x2) is uniform on the 8 pairs with equal first bits, whatever the weights
    np.testing.assert_allclose(w1.sum(axis=2), w2.sum(axis=2))
    expected = np.array([[0.125 if x1 // 2 == x2 // 2 else 0.0 for x2 in range(4)] for x1 in range(4)])
    np.testing.assert_allclose(w2.sum(axis=2), expected)
    # only ratios matter
    np.testing.assert_allclose(pid.mixture({"synergy": 1, "unique2": 3}), pid.mixture({"synergy": 10, "unique2": 30}))


@pytest.mark.parametrize("measure", MEASURES)
def test_more_xor_weight_gives_more_synergy(measure):
    ws = np.linspace(0.0, 1.0, 6)
    syn, red = [], []
    for w in ws:
        got = pid.decompose(pid.mixture({"redundancy": 0.5, "unique1": 0.5, "synergy": float(w)}), measure)
        syn.append(got["synergy"])
        red.append(got["redundancy"])
    assert np.all(np.diff(syn) > 1e-3), syn
    assert np.all(np.diff(red) < 0), red  # the redundant share of Y shrinks
    assert syn[0] == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize(
    "weights, error",
    [
        ({"copy": 1.0}, ValueError),
        ({"synergy": -1.0}, ValueError),
        ({"synergy": float("nan")}, ValueError),
        ({"synergy": 0.0}, ValueError),
        ({}, ValueError),
        ({"synergy": True}, ValueError),
        ([("synergy", 1.0)], TypeError),
    ],
)
def test_mixture_rejects_bad_weights(weights, error):
    with pytest.raises(error):
        pid.mixture(weights)


# ----------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    "p, match",
    [
        (np.array([[[0.5, 0.5]], [[0.25, -0.25]]]), "non-negative"),
        (np.full((2, 2, 2), 0.1), "sum to 1"),
        (pid.xor_distribution() * (1 + 1e-8), "sum to 1"),
        (np.where(pid.xor_distribution() > 0, np.nan, 0.0), "finite"),
        (np.array([[[np.inf, 0.0]]]), "finite"),
        (np.full((2, 2), 0.25), "3-D"),
        (np.full((2, 2, 2, 1), 0.125), "3-D"),
        (np.zeros((0, 2, 2)), "at least one value"),
    ],
)
@pytest.mark.parametrize("measure", MEASURES)
def test_bad_distributions_raise(p, match, measure):
    with pytest.raises(ValueError, match=match):
        pid.decompose(p, measure)


def test_non_numeric_input_raises_type_error():
    with pytest.raises(TypeError, match="real numbers"):
        pid.decompose(np.ones((1, 1, 1), dtype=bool))
    with pytest.raises(TypeError, match="real numbers"):
        pid.decompose(np.array([[["a"]]]))


def test_unknown_measure_lists_valid_ones():
    with pytest.raises(ValueError, match="broja.*imin"):
        pid.decompose(pid.xor_distribution(), "ccs")


def test_almost_one_within_tolerance_is_accepted():
    p = pid.xor_distribution() * (1 + 5e-10)
    assert pid.decompose(p)["synergy"] == pytest.approx(1.0, abs=1e-6)


# ----------------------------------------------------------------------------- Trifeature stand-ins


def test_trifeature_stand_ins():
    df = pid.trifeature_stand_ins()
    assert list(df["atom"]) == list(pid.ATOMS)
    assert list(df["task"]) == list(TASKS)  # one probe task per atom, in the data module's order
    assert dict(zip(df["atom"], df["symbol"])) == {"redundancy": "R", "unique1": "U1", "unique2": "U2", "synergy": "S"}
    stand = dict(zip(df["atom"], df["stand_in"]))
    assert stand["redundancy"] == "shape" and "texture" in stand["unique1"] and "pi" in stand["synergy"]
    assert list(df["n_classes"]) == [N_CLASSES[t] for t in TASKS]
    np.testing.assert_allclose(df["chance"], [0.1, 0.1, 0.1, 0.5])
