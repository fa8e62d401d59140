"""Partial information decomposition (PID) of small discrete distributions p(x1, x2, y).

The COrAL paper (section 3, eq. 1) splits what two modalities tell about a target,

    I(X1, X2; Y) = R + U1 + U2 + S,

into redundancy R (told by either modality), uniqueness U_i (told only by X_i) and synergy S
(told only by the two together). Eq. 1 alone does not fix the four atoms: a PID *measure* must
say how much is redundant (or unique), and the rest follows. Two measures are offered:

- ``"broja"`` (Bertschinger, Rauh, Olbrich, Jost & Ay, 2014): the unique information of X1 is
  ``min_{Q in Delta_P} I_Q(X1; Y | X2)``, where ``Delta_P`` holds the distributions with the same
  (X1, Y) and (X2, Y) marginals as p. Solved by ``dit`` as an exponential-cone program (ECOS; the
  method of Makkeh, Theis & Vicente, 2018).
- ``"imin"`` (Williams & Beer, 2010): R = I_min = sum_y p(y) min_i I(Y = y; X_i), the smaller
  *specific information* of the two sources about each outcome y.

The solvers are those of the library ``dit`` (``dit.pid.PID_BROJA``, ``dit.pid.PID_WB``);
:func:`decompose` validates ``p``, turns it into a ``dit.Distribution`` and reads the four atoms off
the two-source redundancy lattice. ``dit`` is imported on the first call (about 1.5 s).

Example distributions (each a float64 array ``p[x1, x2, y]``): :func:`copy_distribution`,
:func:`unique_distribution`, :func:`xor_distribution`, :func:`and_distribution` (in ``EXAMPLES``),
:func:`two_bit_copy_distribution` (where the two measures disagree) and :func:`mixture` (the
notebook's slider). :func:`trifeature_stand_ins` names the Trifeature attribute that plays each
atom in the benchmark of the paper's Table 1.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from coral_lab.data.pairs import N_CLASSES, TASKS

__all__ = [
    "ATOMS",
    "Measure",
    "MEASURES",
    "SUM_TOLERANCE",
    "decompose",
    "copy_distribution",
    "unique_distribution",
    "xor_distribution",
    "and_distribution",
    "or_distribution",
    "two_bit_copy_distribution",
    "EXAMPLES",
    "MIXTURE_MECHANISMS",
    "mixture",
    "trifeature_stand_ins",
]

ATOMS: tuple[str, ...] = ("redundancy", "unique1", "unique2", "synergy")
SUM_TOLERANCE = 1e-9  # |sum(p) - 1| allowed by decompose
# Both measures give non-negative atoms for two sources; an atom below -this means the solver failed.
_NEGATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Measure:
    """A PID measure computed by ``dit``: the class name in ``dit.pid``, its options and its source."""

    dit_class: str
    reference: str
    summary: str
    options: dict[str, Any] = field(default_factory=dict)


MEASURES: dict[str, Measure] = {
    "broja": Measure(
        dit_class="PID_BROJA",
        reference="Bertschinger, Rauh, Olbrich, Jost & Ay (2014), Entropy 16(4)",
        summary="U1 = min over Q in Delta_P of I_Q(X1; Y | X2) (same (Xi, Y) marginals as p)",
        # the exponential-cone solver: dit's default for small alphabets (SLSQP with random restarts)
        # returned negative atoms on random 2x2x2 and 3x3x3 distributions here, and was slower
        options={"method": "cone"},
    ),
    "imin": Measure(
        dit_class="PID_WB",
        reference="Williams & Beer (2010), arXiv:1004.2515",
        summary="R = I_min = sum_y p(y) min_i I(Y=y; Xi) (smallest specific information per outcome)",
    ),
}

# the atoms as nodes of dit's two-source redundancy lattice: {0}{1}, {0}, {1}, {01}
_LATTICE_NODES = {
    "redundancy": ((0,), (1,)),
    "unique1": ((0,),),
    "unique2": ((1,),),
    "synergy": ((0, 1),),
}


def _import_dit():
    try:
        import dit
        import dit.pid
    except ImportError as e:
        raise ImportError(
            f"coral_lab.teaching.pid needs the packages 'dit' and 'ecos' ({e}); install them with "
            "`pip install dit ecos`"
        ) from None
    return dit


def _as_distribution_array(p: Any) -> np.ndarray:
    """Validate ``p`` and return it as float64 ``(a, b, c)``, renormalised to sum to exactly 1."""
    if hasattr(p, "detach") and hasattr(p, "cpu"):  # a torch tensor, possibly on a GPU
        p = p.detach().cpu().numpy()
    try:
        arr = np.asarray(p)
    except Exception as e:  # ragged nested lists and the like
        raise TypeError(f"p must be array-like p[x1, x2, y] of probabilities; could not convert it ({e})") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"p must hold real numbers (probabilities), got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim != 3:
        raise ValueError(
            f"p must be 3-D, p[x1, x2, y], got {arr.ndim}-D with shape {arr.shape}; "
            "add size-1 axes for variables with one value"
        )
    if min(arr.shape) < 1:
        raise ValueError(f"every axis of p must have at least one value, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("p must be finite; it contains NaN or infinity")
    if np.any(arr < 0):
        raise ValueError(f"p must be non-negative; its smallest entry is {arr.min()!r}")
    total = float(arr.sum())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(
            f"p must sum to 1 (within {SUM_TOLERANCE}), it sums to {total!r}; divide it by its sum first"
        )
    return arr / total


def decompose(p: Any, measure: str = "broja") -> dict[str, float]:
    """Split I(X1, X2; Y) into redundancy, two unique informations and synergy (paper eq. 1).

    Args:
        p: joint probabilities ``p[x1, x2, y]``, array-like of shape ``(a, b, c)`` with
            ``a, b, c >= 1``: non-negative, finite, summing to 1 within ``SUM_TOLERANCE``.
            Zero entries are dropped (outcomes that never happen).
        measure: a key of ``MEASURES``: ``"broja"`` or ``"imin"``.

    Returns:
        ``{"redundancy": R, "unique1": U1, "unique2": U2, "synergy": S, "total": I(X1, X2; Y)}``
        in bits, with ``R + U1 + U2 + S == total`` (eq. 1; up to float rounding). The solvers are
        numerical: exact zeros can come back as about +-1e-8.

    Raises:
        ValueError: ``p`` is not a valid 3-D distribution, or ``measure`` is unknown.
        TypeError: ``p`` does not hold real numbers.
        RuntimeError: the solver returned an atom below ``-1e-6`` (both measures are non-negative).
    """
    if not isinstance(measure, str) or measure not in MEASURES:
        raise ValueError(f"unknown PID measure {measure!r}; valid measures: {sorted(MEASURES)}")
    arr = _as_distribution_array(p)
    dit = _import_dit()

    support = np.argwhere(arr > 0)  # (K, 3) outcomes (x1, x2, y) with p > 0
    outcomes = [tuple(int(v) for v in row) for row in support]
    probs = [float(arr[o]) for o in outcomes]
    dist = dit.Distribution(outcomes, probs)

    spec = MEASURES[measure]
    pid = getattr(dit.pid, spec.dit_class)(dist, [[0], [1]], [2], **spec.options)
    atoms = {name: float(pid.get_pi(node)) for name, node in _LATTICE_NODES.items()}
    atoms["total"] = float(pid.get_red(((0, 1),)))  # I_cap at the top of the lattice = I(X1, X2; Y)

    worst = min(atoms[a] for a in ATOMS)
    if worst < -_NEGATIVE_TOLERANCE:
        raise RuntimeError(
            f"the {measure!r} solver returned a negative atom ({atoms}); the measure is non-negative, "
            "so the optimisation failed. Check that 'ecos' is installed (pip install ecos)."
        )
    return atoms


# ----------------------------------------------------------------------------- example distributions


def _from_function(shape: tuple[int, int, int], f, p_x: np.ndarray) -> np.ndarray:
    """p[x1, x2, y] = p_x[x1, x2] for y = f(x1, x2), else 0."""
    p = np.zeros(shape)
    for x1 in range(shape[0]):
        for x2 in range(shape[1]):
            p[x1, x2, f(x1, x2)] += p_x[x1, x2]
    return p


def copy_distribution() -> np.ndarray:
    """Y = X1 = X2, one fair bit: pure redundancy (R = 1 bit). float64 ``(2, 2, 2)``."""
    return _from_function((2, 2, 2), lambda x1, x2: x1, np.eye(2) / 2)


def unique_distribution() -> np.ndarray:
    """Y = X1 with X2 an independent fair bit: pure uniqueness of X1 (U1 = 1 bit). ``(2, 2, 2)``."""
    return _from_function((2, 2, 2), lambda x1, x2: x1, np.full((2, 2), 0.25))


def xor_distribution() -> np.ndarray:
    """Y = X1 xor X2, independent fair bits: pure synergy (S = 1 bit). ``(2, 2, 2)``."""
    return _from_function((2, 2, 2), lambda x1, x2: x1 ^ x2, np.full((2, 2), 0.25))


def and_distribution() -> np.ndarray:
    """Y = X1 and X2, independent fair bits: total H(Y) = 0.811 bit, R = 0.311, S = 0.5. ``(2, 2, 2)``."""
    return _from_function((2, 2, 2), lambda x1, x2: x1 & x2, np.full((2, 2), 0.25))


def or_distribution() -> np.ndarray:
    """Y = X1 or X2, independent fair bits (the exercise of notebook 01: AND with every bit flipped). ``(2, 2, 2)``."""
    return _from_function((2, 2, 2), lambda x1, x2: x1 | x2, np.full((2, 2), 0.25))


def two_bit_copy_distribution() -> np.ndarray:
    """Y = (X1, X2) coded as ``2 X1 + X2``, independent fair bits. float64 ``(2, 2, 4)``.

    Each source tells a different bit of Y: BROJA gives U1 = U2 = 1 bit. I_min gives R = S = 1 bit
    instead, because it compares only *how much* each source tells about each outcome y (1 bit
    each), not *what* it tells (Harder, Salge & Polani, 2013).
    """
    return _from_function((2, 2, 4), lambda x1, x2: 2 * x1 + x2, np.full((2, 2), 0.25))


EXAMPLES = {
    "copy": copy_distribution,
    "unique": unique_distribution,
    "xor": xor_distribution,
    "and": and_distribution,
}

# ----------------------------------------------------------------------------- mixture (notebook slider)

# X1 = (a, b) and X2 = (a, c) with a, b, c independent fair bits, coded x1 = 2a + b, x2 = 2a + c.
# Each mechanism reads Y off these bits; alone, each puts exactly 1 bit into its atom.
MIXTURE_MECHANISMS = {
    "redundancy": "Y = a, the bit both sources carry",
    "unique1": "Y = b, the bit only X1 carries",
    "unique2": "Y = c, the bit only X2 carries",
    "synergy": "Y = b xor c, readable only from both sources together",
}


def _mechanism_outputs(x1: int, x2: int) -> dict[str, int]:
    a, b, c = x1 // 2, x1 % 2, x2 % 2  # x2 // 2 == a on the support
    return {"redundancy": a, "unique1": b, "unique2": c, "synergy": b ^ c}


def mixture(weights: dict[str, float]) -> np.ndarray:
    """p[x1, x2, y] where Y comes from a mechanism drawn at random with the given weights.

    The common input space: three independent fair bits a, b, c; X1 = (a, b) and X2 = (a, c),
    coded ``x1 = 2a + b`` and ``x2 = 2a + c`` (8 equally likely (x1, x2) pairs, whatever the
    weights). A hidden mechanism M is drawn with probability ``weights[M] / sum(weights)`` and
    sets the bit Y (see ``MIXTURE_MECHANISMS``): ``"redundancy"`` Y = a, ``"unique1"`` Y = b,
    ``"unique2"`` Y = c, ``"synergy"`` Y = b xor c. All weight on one mechanism gives exactly 1 bit
    of its atom and 0 of the others; in between, Y is a noisy mix and the atoms move with the
    weights (not linearly: with M hidden, Y carries less than 1 bit).

    Args:
        weights: ``{mechanism: weight}`` over keys of ``MIXTURE_MECHANISMS`` (missing keys weigh 0);
            non-negative finite numbers, at least one positive. Only their ratios matter.

    Returns:
        float64 ``(4, 4, 2)``, summing to 1.
    """
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be a dict {{mechanism: weight}}, got {type(weights).__name__}")
    unknown = set(weights) - set(MIXTURE_MECHANISMS)
    if unknown:
        raise ValueError(f"unknown mixture mechanism(s) {sorted(unknown)}; valid: {list(MIXTURE_MECHANISMS)}")
    for k, v in weights.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
            raise ValueError(f"weights[{k!r}] must be a finite number >= 0, got {v!r}")
    norm = float(sum(weights.values()))
    if norm <= 0:
        raise ValueError(f"at least one weight must be positive, got {weights}")
    w = {m: float(weights.get(m, 0.0)) / norm for m in MIXTURE_MECHANISMS}

    p = np.zeros((4, 4, 2))
    for a in range(2):
        for b in range(2):
            for c in range(2):
                x1, x2 = 2 * a + b, 2 * a + c
                for m, y in _mechanism_outputs(x1, x2).items():
                    p[x1, x2, y] += 0.125 * w[m]
    return p


# ----------------------------------------------------------------------------- Trifeature


def trifeature_stand_ins() -> pd.DataFrame:
    """Which attribute of the bimodal Trifeature benchmark plays each PID atom (paper section 5.2).

    Modality 1 is image 1, modality 2 is image 2 of a same-shape pair. Columns: ``atom`` (a key of
    :func:`decompose`'s result), ``symbol`` (eq. 1), ``stand_in`` (the attribute), ``how``
    (how the pairing creates it), ``task`` (the probe task in ``coral_lab.data.pairs.TASKS``),
    ``n_classes`` and ``chance`` (balanced accuracy of guessing).
    """
    rows = [
        ("redundancy", "R", "shape", "both images of a pair have the same shape", "share"),
        ("unique1", "U1", "texture of image 1", "textures are drawn independently per image", "unique1"),
        ("unique2", "U2", "texture of image 2", "textures are drawn independently per image", "unique2"),
        (
            "synergy",
            "S",
            "texture(image 1) -> color(image 2) mapping pi",
            "label 1 iff color(image 2) == pi(texture(image 1)); neither image alone tells it",
            "synergy",
        ),
    ]
    for *_, task in rows:
        if task not in TASKS:  # keeps this table honest if the data module renames a task
            raise RuntimeError(f"probe task {task!r} is not in coral_lab.data.pairs.TASKS {TASKS}")
    df = pd.DataFrame(rows, columns=["atom", "symbol", "stand_in", "how", "task"])
    df["n_classes"] = [N_CLASSES[t] for t in df["task"]]
    df["chance"] = 1.0 / df["n_classes"]
    return df
