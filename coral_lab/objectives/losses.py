"""The COrAL objective (paper section 4.2, eq. 3, 4, 7, 8) as pure functions.

- ``info_nce(z1, z2, t)``: the SimCLR / NT-Xent loss, -I_NCE of eq. 4 up to a constant.
- ``orthogonality_loss(a, b, kind)``: the cosine embedding loss CEL of eq. 7 (``"hinge"``) or the
  released code's squared cosine (``"squared"``).
- ``coral_loss(view1, view2, ...)``: eq. 3 = lambda_s L_shared + lambda_u L_unique
  + lambda_o L_orthogonal, for any number of modalities n, returning the total and every named
  (unweighted) part so each term can be logged or plotted on its own.

All inputs are the projection-head outputs of two augmented views, shape (N, D). Nothing here
calls ``.item()``; the only host sync is the optional finite check (``check_finite=False`` turns
it off for the training hot path). The arithmetic runs in float32 (autocast is disabled inside)
because the logits / temperature of InfoNCE are too coarse in bf16.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from coral_lab.objectives.embeddings import Embeddings

__all__ = [
    "ORTHO_KINDS",
    "info_nce",
    "orthogonality_loss",
    "coral_loss",
    "loss_part_names",
    "check_matrix",
    "check_pair",
    "check_temperature",
]

ORTHO_KINDS: tuple[str, ...] = ("hinge", "squared")

# ||x|| is clamped to at least this before dividing, so a zero vector has cosine 0 with anything
# (and finite gradients) instead of NaN.
_NORM_EPS = 1e-8


# ---------------------------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------------------------


def check_matrix(x: object, name: str) -> Tensor:
    """``x`` itself, once it is a floating-point tensor of shape (N, D); otherwise a TypeError or
    ValueError that names ``name`` and says what was expected."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, D), got {type(x).__name__}")
    if x.dim() != 2:
        raise ValueError(f"{name} must be 2-D (N, D), got shape {tuple(x.shape)}; flatten features first")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    return x


def check_pair(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Check that a (N, D) and b (N, D) can be compared row by row: same N, same D, same device.

    A ValueError names both tensors (``name_a``, ``name_b``) and the mismatch.
    """
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"batch sizes differ: {name_a} has N={a.shape[0]} rows, {name_b} has N={b.shape[0]}; "
            f"both views must hold the same samples in the same order"
        )
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"feature dims differ: {name_a} has D={a.shape[1]}, {name_b} has D={b.shape[1]}; they are "
            f"compared by cosine, so give both projection heads the same output size"
        )
    if a.device != b.device:
        raise ValueError(f"{name_a} is on {a.device} but {name_b} is on {b.device}; move them to one device")


def _check_all_finite(tensors: Sequence[Tensor], names: Sequence[str]) -> None:
    """One host sync for all tensors; on failure, name the offending ones."""
    flags = torch.stack([torch.isfinite(t).all() for t in tensors])
    if not bool(flags.all()):
        bad = [n for n, ok in zip(names, flags.tolist()) if not ok]
        raise ValueError(
            f"non-finite values (NaN or inf) in {bad}; the model diverged or the input is broken "
            f"(lower the learning rate, check the data, or pass check_finite=False to skip this check)"
        )


def check_temperature(temperature: object) -> float:
    """The InfoNCE temperature tau of eq. 4 as a float; a TypeError / ValueError unless it is a
    positive, finite real number (bools are refused)."""
    if not isinstance(temperature, numbers.Real) or isinstance(temperature, bool):
        raise TypeError(f"temperature must be a positive real number, got {temperature!r}")
    temperature = float(temperature)
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be > 0 and finite (the paper uses 0.1), got {temperature!r}")
    return temperature


def _check_kind(kind: object) -> str:
    if kind not in ORTHO_KINDS:
        raise ValueError(
            f"unknown orthogonality kind {kind!r}; valid kinds: {list(ORTHO_KINDS)} "
            f"('hinge' = paper eq. 7, 'squared' = released code)"
        )
    return kind  # type: ignore[return-value]


def _check_weight(value: object, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number >= 0, got {value!r}")
    value = float(value)
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be >= 0 and finite (the paper uses 1.0), got {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# unchecked kernels (inputs already validated)
# ---------------------------------------------------------------------------------------------


def _unit_rows(x: Tensor) -> Tensor:
    """(N, D) -> (N, D) float32 rows of unit length (zero rows stay zero)."""
    return F.normalize(x.float(), p=2.0, dim=1, eps=_NORM_EPS)


def _info_nce(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    n = z1.shape[0]
    with torch.autocast(device_type=z1.device.type, enabled=False):
        z = torch.cat([_unit_rows(z1), _unit_rows(z2)], dim=0)  # (2N, D)
        logits = z @ z.T / temperature  # (2N, 2N) cosine similarity / t
        self_pairs = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        logits = logits.masked_fill(self_pairs, float("-inf"))  # a row is never its own negative
        # row k < N has its positive at k + N (the other view), row k >= N at k - N
        targets = torch.arange(2 * n, device=z.device).roll(n)  # (2N,)
        return F.cross_entropy(logits, targets)


def _cosine_rows(a: Tensor, b: Tensor) -> Tensor:
    """(N, D), (N, D) -> (N,) cos(a_i, b_i), 0 where either row is zero."""
    return (_unit_rows(a) * _unit_rows(b)).sum(dim=1)


def _orthogonality(a: Tensor, b: Tensor, kind: str) -> Tensor:
    with torch.autocast(device_type=a.device.type, enabled=False):
        cos = _cosine_rows(a, b)  # (N,)
        if kind == "hinge":
            # relu, not clamp_min: its gradient at cos == 0 is 0, so a zero row (cos 0 by the eps
            # clamp) gets no 1/eps-sized gradient
            return F.relu(cos).mean()
        return cos.square().mean()


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def info_nce(z1: Tensor, z2: Tensor, temperature: float = 0.1, *, check_finite: bool = True) -> Tensor:
    """SimCLR / NT-Xent contrastive loss between two views; -I_NCE of paper eq. 4 up to a constant.

    The 2N L2-normalised embeddings are stacked; row k's logits are cos(z_k, z_l) / t for all
    l != k. Its positive is its partner in the other view; the other 2N - 2 rows (same-view and
    cross-view) are negatives. The loss is the mean cross-entropy over the 2N rows, so it is
    symmetric in (z1, z2) and invariant to the scale of each row. Landmarks: it tends to 0 when
    partners coincide and distinct samples are orthogonal (small t), and equals log(2N - 1) when
    all 2N embeddings are identical (collapse).

    Args:
        z1: (N, D) embeddings of view 1 (e.g. Z^SR'), N >= 2.
        z2: (N, D) embeddings of view 2 (e.g. Z^SR''), row i the same sample as z1's row i.
        temperature: t > 0 (paper: 0.1).
        check_finite: raise ValueError on NaN / inf inputs (one host sync); turn off in hot loops.

    Returns:
        scalar float32 tensor.
    """
    z1 = check_matrix(z1, "z1")
    z2 = check_matrix(z2, "z2")
    check_pair(z1, z2, "z1", "z2")
    if z1.shape[0] < 2:
        raise ValueError(f"InfoNCE needs N >= 2 samples (the other samples are the negatives), got N={z1.shape[0]}")
    temperature = check_temperature(temperature)
    if check_finite:
        _check_all_finite([z1, z2], ["z1", "z2"])
    return _info_nce(z1, z2, temperature)


def orthogonality_loss(a: Tensor, b: Tensor, kind: str = "hinge", *, check_finite: bool = True) -> Tensor:
    """Row-wise orthogonality penalty between two embeddings of the same samples.

    - ``"hinge"``: the cosine embedding loss of paper eq. 7, CEL(A, B) = mean_i max(0, cos(a_i, b_i));
      angles of 90 degrees or more cost nothing.
    - ``"squared"``: mean_i cos(a_i, b_i)^2 (the released code); only exact orthogonality is free.

    The cosine is safe: a zero row has cosine 0 with anything and receives zero gradient (not NaN).

    Args:
        a: (N, D), e.g. Z_i^U'.
        b: (N, D), e.g. Z^SR'; row i the same sample as a's row i.
        kind: ``"hinge"`` or ``"squared"``.
        check_finite: raise ValueError on NaN / inf inputs (one host sync).

    Returns:
        scalar float32 tensor in [0, 1].
    """
    a = check_matrix(a, "a")
    b = check_matrix(b, "b")
    check_pair(a, b, "a", "b")
    if a.shape[0] < 1:
        raise ValueError("orthogonality_loss needs at least one row, got N=0")
    kind = _check_kind(kind)
    if check_finite:
        _check_all_finite([a, b], ["a", "b"])
    return _orthogonality(a, b, kind)


def loss_part_names(n_modalities: int) -> list[str]:
    """The keys of ``coral_loss``'s parts dict, in a stable order for logging.

    ``["shared", "unique1", ..., "unique{n}", "unique", "ortho_shared_unique1", ...,
    "ortho_shared_unique{n}", "ortho_unique1_unique2", ..., "ortho_unique{n-1}_unique{n}", "orthogonal"]``
    """
    if not isinstance(n_modalities, numbers.Integral) or isinstance(n_modalities, bool) or n_modalities < 1:
        raise ValueError(f"n_modalities must be an int >= 1, got {n_modalities!r}")
    n = int(n_modalities)
    names = ["shared"]
    names += [f"unique{i}" for i in range(1, n + 1)]
    names.append("unique")
    names += [f"ortho_shared_unique{i}" for i in range(1, n + 1)]
    names += [f"ortho_unique{i}_unique{j}" for i in range(1, n + 1) for j in range(i + 1, n + 1)]
    names.append("orthogonal")
    return names


def _check_views(view1: object, view2: object) -> int:
    """Validate two views for eq. 3-8; return n."""
    for name, view in (("view1", view1), ("view2", view2)):
        if not isinstance(view, Embeddings):
            raise TypeError(f"{name} must be a coral_lab.objectives.embeddings.Embeddings, got {type(view).__name__}")
    n = view1.n_modalities
    if n != view2.n_modalities:
        raise ValueError(
            f"the views have different numbers of modalities: view1 has {n} unique embeddings, "
            f"view2 has {view2.n_modalities}; both must come from the same model"
        )
    if n < 1:
        raise ValueError("the views have no unique embeddings (Z_i^U); COrAL needs one per modality")
    for name, view in (("view1", view1), ("view2", view2)):
        check_matrix(view.shared, f"{name}.shared")
        for i, u in enumerate(view.unique, start=1):
            check_matrix(u, f"{name}.unique[{i - 1}] (Z_{i}^U)")
    s1 = view1.shared
    # the same samples everywhere, and the dims that eq. 4 and 8 compare must agree
    check_pair(s1, view2.shared, "view1.shared", "view2.shared")
    for i in range(n):
        tag = f"unique[{i}] (Z_{i + 1}^U)"
        check_pair(view1.unique[i], view2.unique[i], f"view1.{tag}", f"view2.{tag}")
        check_pair(view1.unique[i], s1, f"view1.{tag}", "view1.shared")
    if s1.shape[0] < 2:
        raise ValueError(f"InfoNCE needs N >= 2 samples (the other samples are the negatives), got N={s1.shape[0]}")
    return n


def coral_loss(
    view1: Embeddings,
    view2: Embeddings,
    lambda_s: float = 1.0,
    lambda_u: float = 1.0,
    lambda_o: float = 1.0,
    temperature: float = 0.1,
    ortho_kind: str = "hinge",
    *,
    check_finite: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The COrAL objective, paper eq. 3: lambda_s L_shared + lambda_u L_unique + lambda_o L_orthogonal.

    With view1 = (Z^SR', Z_1^U', ..., Z_n^U') and view2 = (Z^SR'', Z_1^U'', ..., Z_n^U''), all (N, D):

    - ``"shared"``  = info_nce(Z^SR', Z^SR'')                                 (eq. 4, L_shared)
    - ``"unique{i}"`` = info_nce(Z_i^U', Z_i^U''), ``"unique"`` = sum_i        (eq. 4, L_unique)
    - ``"ortho_shared_unique{i}"`` = CEL(Z_i^U', Z^SR') + CEL(Z_i^U'', Z^SR'')  (eq. 8, U_i vs SR)
    - ``"ortho_unique{i}_unique{j}"`` (i < j) = CEL(Z_i^U', Z_j^U') + CEL(Z_i^U'', Z_j^U'')
                                                                              (eq. 8, U_i vs U_j)
    - ``"orthogonal"`` = the sum of all ortho terms                           (eq. 8, L_orthogonal)

    Indices in the names are 1-based, as in the paper. The parts are unweighted and the
    aggregates ``"unique"`` / ``"orthogonal"`` overlap their terms, so do not sum the dict; use the
    returned total. Every value is a 0-dim tensor (no ``.item()``; the caller decides when to sync).

    Args:
        view1, view2: ``Embeddings`` of the two augmented views (projection-head outputs), same n,
            same N; Z^SR and every Z_i^U must share one feature size D (they are compared by cosine).
        lambda_s, lambda_u, lambda_o: weights >= 0 (paper: 1, 1, 1).
        temperature: InfoNCE temperature t > 0 (paper: 0.1).
        ortho_kind: ``"hinge"`` (paper eq. 7) or ``"squared"`` (released code).
        check_finite: raise ValueError on NaN / inf inputs (one host sync for all tensors).

    Returns:
        (total, parts): total a scalar float32 tensor; parts keyed as ``loss_part_names(n)``.
    """
    n = _check_views(view1, view2)
    lambda_s = _check_weight(lambda_s, "lambda_s")
    lambda_u = _check_weight(lambda_u, "lambda_u")
    lambda_o = _check_weight(lambda_o, "lambda_o")
    temperature = check_temperature(temperature)
    kind = _check_kind(ortho_kind)
    if check_finite:
        tensors = [view1.shared, *view1.unique, view2.shared, *view2.unique]
        names = [f"view{v}.{k}" for v, view in ((1, view1), (2, view2)) for k in view.parts()]
        _check_all_finite(tensors, names)

    s1, s2 = view1.shared, view2.shared  # Z^SR', Z^SR''  (N, D)
    u1, u2 = view1.unique, view2.unique  # Z_i^U', Z_i^U''  each (N, D)

    parts: dict[str, Tensor] = {"shared": _info_nce(s1, s2, temperature)}
    unique_terms = [_info_nce(u1[i], u2[i], temperature) for i in range(n)]
    parts.update({f"unique{i + 1}": term for i, term in enumerate(unique_terms)})
    parts["unique"] = torch.stack(unique_terms).sum()

    ortho_terms = []
    for i in range(n):
        term = _orthogonality(u1[i], s1, kind) + _orthogonality(u2[i], s2, kind)
        parts[f"ortho_shared_unique{i + 1}"] = term
        ortho_terms.append(term)
    for i in range(n):
        for j in range(i + 1, n):
            term = _orthogonality(u1[i], u1[j], kind) + _orthogonality(u2[i], u2[j], kind)
            parts[f"ortho_unique{i + 1}_unique{j + 1}"] = term
            ortho_terms.append(term)
    parts["orthogonal"] = torch.stack(ortho_terms).sum()

    total = lambda_s * parts["shared"] + lambda_u * parts["unique"] + lambda_o * parts["orthogonal"]
    # the same order as loss_part_names(n), for logging
    return total, {name: parts[name] for name in loss_part_names(n)}
