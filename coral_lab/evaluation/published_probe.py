"""The published Trifeature probe, as a named replica: its classifier, its C search, its crops and sizes.

The paper's Table 1 numbers were measured by the released COrAL script (``main_trifeature.py``,
``evaluation/linear_probe.py``, ``dataset/trifeatures.py``; ``../shared/design/reference-results.md``,
"The published Trifeature evaluation protocols"). coral_lab's default probe is held out
(``coral_lab.evaluation.probe.linear_probe``); this module rebuilds the published one piece by piece so that
the two can be compared on the same model (``ProbeConfig.protocol``):

- **classifier** (``LbfgsProbe``): a linear layer ``(F -> K)``, weights and bias started at zero,
  fitted full-batch by L-BFGS (strong Wolfe line search, ``max_iter`` 100 iterations in one
  ``step``) on the mean cross-entropy plus ``published_penalty``: ``(1 / C) * 0.5 * ||W||_2``, the
  *unsquared* Frobenius norm of the weights (bias not penalised); no class weights, features used as
  they are (not standardised);
- **C search** (``search_cost``): a coarse sweep over ``COARSE_COSTS`` (1e-6 ... 1e6, a factor of 100
  apart), then ``fine_costs``: 29 log-spaced costs over +-2 decades around the best, searched by
  halving (each round scores the costs at a quarter, half and three quarters of the interval and keeps
  the half, or middle half, around the best); the score is the macro accuracy (``macro_accuracy``) on
  the *validation* rows, which the published script takes from the test split;
- **final fit** on probe-train + validation rows (``combine_trainval=True``): the test pairs' first
  copy is part of the training set of the classifier that scores their second copy;
- **probe images** (``CROP_SCALE``): each image through a random resized crop of area 0.5-1 at the
  model's resolution and the model's normalisation, no flip, no colour change; the copy of the test
  pairs that is fitted and the copy that is scored are two independent crop draws;
- **sizes**: ``PROBE_PAIRS`` = 10,000 unbiased probe-train pairs and up to 10,000 test pairs (the
  published ``max_size``; the 200 test images have about 4,000 same-shape pairs, so all of them).

``MEMORISATION_CONTROL`` (the protocol name ``published_shuffled``) is the replica with the labels of
the fitted test copy permuted (in the C search and the final fit), scored against the true labels of
the other copy: what the replica scores when the test pairs' labels it memorises are wrong.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "COARSE_COSTS",
    "CROP_SCALE",
    "PROBE_PAIRS",
    "MAX_ITER",
    "published_penalty",
    "LbfgsProbe",
    "macro_accuracy",
    "fine_costs",
    "search_cost",
    "PublishedFit",
    "fit_published_probe",
]

COARSE_COSTS = (1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4, 1e6)  # the first sweep, in the published order
CROP_SCALE = (0.5, 1.0)  # RandomResizedCrop(scale=(0.5, 1.0)) of the published probe images
PROBE_PAIRS = 10_000  # max_size of the published probe data sets (probe-train; test: all, about 4,000)
MAX_ITER = 100  # L-BFGS iterations of one fit


def published_penalty(weight: torch.Tensor, C: float) -> torch.Tensor:
    """The published probe's regulariser: ``(1 / C) * 0.5 * ||W||_2`` (the norm, not its square).

    Args:
        weight: ``(K, F)`` the linear layer's weights (the bias is not penalised).
        C: the inverse regularisation strength, > 0.
    """
    _check_cost(C)
    return (1.0 / C) * 0.5 * weight.norm(p=2)


class LbfgsProbe:
    """The published classifier: ``Linear(F, K)`` from zero, one L-BFGS ``step`` of ``max_iter`` iterations.

    ``fit(x, y)`` takes float ``(N, F)`` features and int ``(N,)`` labels in ``0 .. K-1`` with
    ``K = len(unique(y))`` classes (as published); ``predict_proba(x)`` gives ``(M, K)`` softmax
    probabilities, ``predict(x)`` their argmax. Runs on the features' device, in float32.
    """

    def __init__(self, C: float, max_iter: int = MAX_ITER) -> None:
        self.C = _check_cost(C)
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
        self.max_iter = max_iter
        self.linear: torch.nn.Linear | None = None

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the current weights plus ``published_penalty``."""
        assert self.linear is not None
        return torch.nn.functional.cross_entropy(self.linear(x), y) + published_penalty(self.linear.weight, self.C)

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> "LbfgsProbe":
        x, y = _as_tensors(x, y)
        n_classes = int(torch.unique(y).numel())
        if n_classes < 2:
            raise ValueError("the probe's labels have a single class; use more probe pairs")
        if int(y.max()) >= n_classes:
            raise ValueError(f"labels must be 0 .. {n_classes - 1} (the published probe has one output per class "
                             f"present), got a label {int(y.max())}")
        with torch.enable_grad():
            self.linear = torch.nn.Linear(x.shape[1], n_classes).to(x.device)
            torch.nn.init.zeros_(self.linear.weight)
            torch.nn.init.zeros_(self.linear.bias)
            opt = torch.optim.LBFGS(self.linear.parameters(), line_search_fn="strong_wolfe", max_iter=self.max_iter)

            def closure() -> torch.Tensor:
                opt.zero_grad()
                value = self.loss(x, y)
                value.backward()
                return value

            opt.step(closure)
        return self

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        if self.linear is None:
            raise RuntimeError("fit the probe before predicting")
        return self.linear(_as_features(x)).softmax(dim=-1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict_proba(x).argmax(dim=-1)


def macro_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Mean per-class recall over the classes that occur in ``y_true`` or ``y_pred`` (torchmetrics'
    ``MulticlassAccuracy(average="macro")``, which the published script scores with).

    Equal to balanced accuracy when every predicted class occurs in ``y_true``; a class that is
    predicted but absent from ``y_true`` counts with recall 0 here (balanced accuracy ignores it).

    Args:
        y_true, y_pred: int ``(N,)`` in ``0 .. n_classes - 1``.
    Returns:
        a fraction in [0, 1].
    """
    y_true, y_pred = np.asarray(y_true).astype(np.int64), np.asarray(y_pred).astype(np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or y_true.size == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and of one shape (N,), got {y_true.shape} and {y_pred.shape}")
    if min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= n_classes:
        raise ValueError(f"labels must lie in 0 .. {n_classes - 1}")
    support = np.bincount(y_true, minlength=n_classes)
    predicted = np.bincount(y_pred, minlength=n_classes)
    hits = np.bincount(y_true[y_true == y_pred], minlength=n_classes)
    seen = (support + predicted) > 0
    recall = np.divide(hits, support, out=np.zeros(n_classes), where=support > 0)
    return float(recall[seen].mean())


def fine_costs(best: float) -> list[float]:
    """The second sweep's candidates: ``torch.logspace(log10(best) - 2, log10(best) + 2, 29)`` (float32, as
    published), kept within [1e-6, 1e6], as Python floats in increasing order."""
    _check_cost(best)
    costs = torch.logspace(math.log10(best) - 2, math.log10(best) + 2, 29)
    return costs[(costs >= 1e-6) & (costs <= 1e6)].tolist()


def search_cost(score_of: Callable[[float], float]) -> tuple[float, float, list[float]]:
    """The published C search: the coarse sweep, then halving over ``fine_costs`` of its best.

    ``score_of(C)`` fits a probe with cost C and returns its validation score. The coarse best is the
    first (smallest) cost with the top score. Each halving round scores the costs at positions
    ``n // 4``, ``n // 2`` and ``-n // 4`` of the ``n`` left (a cost scored before is not fitted again)
    and keeps the first half if the quarter one is the best of the three, else the second half if the
    three-quarter one is, else the middle half; it stops at one cost. The result is the first cost, in
    the order scored, with the top score of all.

    Returns:
        ``(best C, its score, every cost in the order it was fitted)``.
    """
    visited: list[float] = []

    def score(c: float) -> float:
        visited.append(c)
        return score_of(c)

    coarse = [score(c) for c in COARSE_COSTS]
    best_score = max(coarse)
    best = COARSE_COSTS[coarse.index(best_score)]
    costs = fine_costs(best)
    scores = {best: best_score}
    while len(costs) > 1:
        n = len(costs)
        quarter, half, three_quarter = costs[n // 4], costs[n // 2], costs[-n // 4]
        for c in (quarter, half, three_quarter):
            if c not in scores:
                scores[c] = score(c)
        top = max(scores[quarter], scores[half], scores[three_quarter])
        if top == scores[quarter]:
            costs = costs[: n // 2]
        elif top == scores[three_quarter]:
            costs = costs[n // 2 :]
        else:
            costs = costs[n // 4 : -n // 4]
    best, best_score = max(scores.items(), key=lambda kv: kv[1])
    return best, best_score, visited


@dataclass(frozen=True)
class PublishedFit:
    """One published-protocol probe: the classifier fitted on probe-train + validation rows with ``C``."""

    classifier: LbfgsProbe
    C: float
    val_score: float  # macro accuracy of the chosen C on the validation rows, in [0, 1]
    costs_fitted: tuple[float, ...]


def fit_published_probe(x_train: torch.Tensor, y_train: torch.Tensor, x_val: torch.Tensor, y_val: torch.Tensor,
                        max_iter: int = MAX_ITER) -> PublishedFit:
    """C chosen by ``search_cost`` on the validation rows, then the final fit on train + validation rows.

    Args:
        x_train: ``(N, F)`` probe-train features; y_train: ``(N,)`` labels.
        x_val: ``(M, F)`` validation features (in the published protocol: the test pairs, one crop
            draw); y_val: ``(M,)`` labels.
    """
    x_train, y_train = _as_tensors(x_train, y_train)
    x_val, y_val = _as_tensors(x_val, y_val)
    if x_train.shape[1] != x_val.shape[1]:
        raise ValueError(f"train and validation features differ in width: {x_train.shape[1]} and {x_val.shape[1]}")
    n_classes = int(torch.unique(y_train).numel())
    y_val_np = y_val.cpu().numpy()

    def score_of(c: float) -> float:
        pred = LbfgsProbe(c, max_iter).fit(x_train, y_train).predict(x_val).cpu().numpy()
        return macro_accuracy(y_val_np, pred, max(n_classes, int(y_val_np.max()) + 1))

    best, best_score, visited = search_cost(score_of)
    final = LbfgsProbe(best, max_iter).fit(torch.cat([x_train, x_val]), torch.cat([y_train, y_val]))
    return PublishedFit(final, float(best), float(best_score), tuple(visited))


def _check_cost(C: object) -> float:
    if isinstance(C, bool) or not isinstance(C, (int, float)) or not math.isfinite(C) or C <= 0:
        raise ValueError(f"C must be a positive finite number, got {C!r}")
    return float(C)


def _as_features(x: object) -> torch.Tensor:
    t = torch.as_tensor(x)
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"features must be a non-empty (N, F) array, got shape {tuple(t.shape)}")
    t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError("features contain NaN or inf; the model diverged (check the pretraining history)")
    return t


def _as_tensors(x: object, y: object) -> tuple[torch.Tensor, torch.Tensor]:
    xt = _as_features(x)
    yt = torch.as_tensor(y).to(device=xt.device, dtype=torch.int64)
    if yt.shape != (xt.shape[0],):
        raise ValueError(f"labels must be (N,) with N = {xt.shape[0]} feature rows, got shape {tuple(yt.shape)}")
    if int(yt.min()) < 0:
        raise ValueError("labels must be non-negative class indices")
    return xt, yt
