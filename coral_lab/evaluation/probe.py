"""Linear-probe evaluation on frozen features and the Table 1 protocol.

Protocol (``../shared/design/trifeature.md`` and reference-results.md):

- features are extracted from the frozen model *without* augmentation or masking (paper: "during
  inference, neither data augmentation nor masking is applied"): Z = (Z^SR, Z_1^U, Z_2^U), eq. 2;
- the probe is scikit-learn's ``LogisticRegression`` on standardised features, fitted without class
  weights as the published probe (``evaluation/logistic_regression.py`` of the COrAL code: plain
  cross-entropy); ``ProbeConfig.class_weight="balanced"`` is the named alternative, which reweights
  the rare synergy positives and reads a weak signal as a higher balanced accuracy. Its inverse
  regularisation C is chosen on a validation split carved out of the probe-train pairs, then the
  probe is refitted on all probe-train pairs with that C;
- the probe-test pairs are used once, for the score: balanced accuracy (macro mean of per-class
  recall; chance is 10 % for shape / texture and 50 % for synergy), and beside it the test ROC-AUC
  (binary tasks: of P(y = 1); 10-class tasks: macro one-vs-rest), a threshold-free diagnostic that
  the paper does not report: a balanced accuracy of 50 with a ROC-AUC well above 50 means the
  features carry the signal but too weakly to move the unweighted fit's decisions.

The published Trifeature script chose C on the test pairs, fitted its final classifier on them and
used random-crop features at probe time; coral_lab's default does none of it. That protocol is
selectable by name, ``ProbeConfig.protocol = "published"`` (``coral_lab.evaluation.published_probe``: its
classifier, C search, crops and sizes), and ``probe_model`` follows the config's protocol, so one model
can be scored both ways and each row names its protocol.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from coral_lab.config import AugmentConfig, ProbeConfig
from coral_lab.data import TASKS, PairSet, TrifeatureBenchmark, TrifeatureSplit, derived_rng, pair_labels
from coral_lab.core.paper import CHANCE, PAPER_TABLE1, SEED_STD_DDOF
from coral_lab.config import HELD_OUT, MEMORISATION_CONTROL, PROTOCOLS
from coral_lab.evaluation.published_probe import (
    CROP_SCALE,
    MAX_ITER,
    PROBE_PAIRS,
    fit_published_probe,
    macro_accuracy,
)
from coral_lab.inputs.sources import (
    CropDraw,
    ProbeData,
    feature_sets,
    frozen_features,
    model_device,
    trifeature_batches,
    trifeature_probe_data,
)

__all__ = [
    "TABLE1_TASKS",
    "ProbeResult",
    "choose_C",
    "fit_probe",
    "extract_features",
    "feature_sets",
    "linear_probe",
    "probe_model",
    "published_probe_model",
    "roc_auc",
    "seed_std",
    "summarize",
    "with_protocol",
    "protocol_rows",
]

# Table 1 column -> probe task
TABLE1_TASKS = {"redundancy": "share", "uniqueness": "unique1", "synergy": "synergy"}


def seed_std(values) -> float:
    """The spread over seeds of ``values`` (np.std, ddof ``SEED_STD_DDOF``); NaN for fewer than 2 values."""
    v = np.asarray(values, dtype=float)
    return float(np.std(v, ddof=SEED_STD_DDOF)) if len(v) > 1 else float("nan")


@dataclass(frozen=True)
class ProbeResult:
    balanced_accuracy: float  # on the probe-test pairs, in [0, 1]
    C: float  # the regularisation chosen on the validation split
    val_balanced_accuracy: float
    roc_auc: float  # on the probe-test pairs, in [0, 1]: binary of P(y=1), else macro one-vs-rest


def roc_auc(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Test ROC-AUC of predicted class probabilities ``proba`` ``(M, K)`` (columns in ``classes`` order).

    Two classes: the AUC of the second class's probability; more: the macro mean of one-vs-rest AUCs
    over the classes present in ``y``. NaN when ``y`` holds a single class (the AUC is undefined).
    """
    present = np.unique(y)
    if len(present) < 2:
        return float("nan")
    if len(classes) == 2:
        return float(roc_auc_score(y == classes[1], proba[:, 1]))
    cols = np.searchsorted(classes, present)
    return float(np.mean([roc_auc_score(y == c, proba[:, j]) for c, j in zip(present, cols)]))


def extract_features(
    model: torch.nn.Module,
    split: TrifeatureSplit,
    pairs: PairSet,
    *,
    augment_cfg: AugmentConfig | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 256,
) -> dict[str, np.ndarray]:
    """Frozen inference embeddings of every pair, per subspace, without augmentation or masking
    (``coral_lab.inputs.sources.frozen_features`` of the pairs' batches).

    Returns:
        ``{"shared": (P, D), "unique1": (P, D/2), "unique2": (P, D/2)}`` as float32 NumPy arrays.
    """
    return frozen_features(model, trifeature_batches(split, pairs, model_device(model, device), augment_cfg, batch_size))


def linear_probe(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    cfg: ProbeConfig | None = None,
    seed: int = 0,
) -> ProbeResult:
    """Fit a standardised multinomial logistic regression; C chosen on a split of the training rows.

    The fit is unweighted (the published probe) unless ``cfg.class_weight == "balanced"``; the score is
    the balanced accuracy of its predictions on the test rows, with the test ROC-AUC beside it.

    Args:
        x_train: (N, F) probe-train features; y_train: (N,) integer labels.
        x_test: (M, F) probe-test features; y_test: (M,) integer labels.
    """
    cfg = cfg or ProbeConfig()
    x_train, x_test = np.asarray(x_train), np.asarray(x_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if x_train.ndim != 2 or x_test.ndim != 2 or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(f"features must be (N, F) and (M, F) with the same F; got {x_train.shape} and {x_test.shape}")
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise ValueError("features and labels must have the same number of rows")
    if not (np.isfinite(x_train).all() and np.isfinite(x_test).all()):
        raise ValueError("features contain NaN or inf; the model diverged (check the pretraining history)")
    if len(np.unique(y_train)) < 2:
        raise ValueError("the probe-train labels have a single class; use more probe-train pairs")
    strat = y_train if np.bincount(y_train).min() >= 2 else None
    x_fit, x_val, y_fit, y_val = train_test_split(
        x_train, y_train, test_size=cfg.val_fraction, random_state=seed, stratify=strat
    )
    best_c, val_score, _ = choose_C(x_fit, y_fit, x_val, y_val, cfg, balanced_accuracy_score)
    clf = fit_probe(x_train, y_train, best_c, cfg.max_iter, cfg.class_weight)  # refit on every probe-train row
    return ProbeResult(
        float(balanced_accuracy_score(y_test, clf.predict(x_test))),
        float(best_c),
        float(val_score),
        roc_auc(y_test, clf.predict_proba(x_test), clf.classes_),
    )


def fit_probe(x: np.ndarray, y: np.ndarray, C: float, max_iter: int = 1000, class_weight: str | None = None):
    """The probe: a fitted ``StandardScaler + LogisticRegression(C)`` pipeline (unweighted by default,
    as the published probe; convergence warnings silenced, ``max_iter`` bounds the fit).

    The fit runs on one thread: at probe sizes (thousands of rows, a few hundred features) the OpenMP /
    BLAS pools cost more than they give. Measured on the 2-core machine, one fit on the shipped quick
    model's features: 0.40 s on one thread, 3.0 s with the default two, 9 s with two processes fitting at
    once (``benchmarks/probe_threads.py``, ``results/cpu-speed/probe_threads.json``).
    """
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, class_weight=class_weight))
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(x, y)


def choose_C(x_fit: np.ndarray, y_fit: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, cfg: ProbeConfig,
             score: Callable[[np.ndarray, np.ndarray], float]):
    """The C of ``cfg.C_grid`` whose probe fitted on ``x_fit`` scores best on the validation rows.

    Ties go to the smaller C (stronger regularisation). Returns ``(C, its validation score, its fitted
    probe)``; ``score(y_true, y_pred)`` is the validation metric (balanced accuracy on Trifeature,
    accuracy on MultiBench).
    """
    fits = {c: fit_probe(x_fit, y_fit, c, cfg.max_iter, cfg.class_weight) for c in cfg.C_grid}
    scores = {c: score(y_val, f.predict(x_val)) for c, f in fits.items()}
    best = max(cfg.C_grid, key=lambda c: (scores[c], -c))
    return best, scores[best], fits[best]


def probe_model(
    model: torch.nn.Module,
    bench: TrifeatureBenchmark,
    *,
    tasks: Sequence[str] = TASKS,
    subspaces: Iterable[str] = ("Z",),
    probe_cfg: ProbeConfig | None = None,
    augment_cfg: AugmentConfig | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Probe ``tasks`` from the given feature sets ("Z", "shared", "unique1", ...) under the protocol of
    ``probe_cfg.protocol``: ``held_out`` (the default: ``linear_probe`` on un-augmented features) or the
    published replica and its control (``published_probe_model``).

    Returns:
        A tidy DataFrame with columns task, features, balanced_accuracy (%), C, val_balanced_accuracy (%),
        roc_auc (%), protocol.
    """
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {sorted(unknown)}; valid tasks: {list(TASKS)}")
    probe_cfg = probe_cfg or ProbeConfig()
    if probe_cfg.protocol != HELD_OUT:
        return published_probe_model(model, bench, tasks=tasks, subspaces=subspaces, augment_cfg=augment_cfg,
                                     device=device, seed=seed, shuffle_fitted_labels=probe_cfg.protocol == MEMORISATION_CONTROL)
    data = trifeature_probe_data(model, bench, augment_cfg=augment_cfg, device=device)
    subspaces = data.check_feature_names(subspaces)
    tr, te = data.features["train"], data.features["test"]
    rows = []
    for task in tasks:
        for feats in subspaces:
            y = data.labels[task]
            r = linear_probe(tr[feats], y["train"], te[feats], y["test"], probe_cfg, seed=seed)
            rows.append(
                {
                    "task": task,
                    "features": feats,
                    "balanced_accuracy": 100 * r.balanced_accuracy,
                    "C": r.C,
                    "val_balanced_accuracy": 100 * r.val_balanced_accuracy,
                    "roc_auc": 100 * r.roc_auc,
                    "protocol": HELD_OUT,
                }
            )
    return pd.DataFrame(rows)


def published_probe_model(
    model: torch.nn.Module,
    bench: TrifeatureBenchmark,
    *,
    tasks: Sequence[str] = TASKS,
    subspaces: Iterable[str] = ("Z",),
    augment_cfg: AugmentConfig | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    shuffle_fitted_labels: bool = False,
    batch_size: int = 256,
    n_pairs: int | None = None,
    crop_scale: tuple[float, float] | None = CROP_SCALE,
    standardise: bool = False,
    max_iter: int = MAX_ITER,
) -> pd.DataFrame:
    """The published Trifeature protocol on ``model`` (``coral_lab.evaluation.published_probe``), per task:

    1. ``n_pairs`` (None: the published 10,000, ``PROBE_PAIRS``) probe-train pairs and as many test pairs, or
       every test pair where there are fewer (``bench.probe_pairs``);
    2. three independent crop draws (``sources.CropDraw``, area ``CROP_SCALE``): the probe-train pairs,
       the test pairs' fitted copy and their scored copy (a task's draws come from ``seed`` and the
       task's name, so every feature set of a task reads the same images);
    3. per feature set, C searched on the fitted copy and the final L-BFGS fit on probe-train + fitted
       copy (``fit_published_probe``), scored on the scored copy.

    ``shuffle_fitted_labels`` is the memorisation control (``published_shuffled``): the fitted copy's
    labels are permuted before the search and the fit; the score uses the true labels.

    Three knobs take the replica apart (``benchmarks/protocol_parts.py``; the protocol is the defaults):
    ``crop_scale=None`` probes un-augmented images (the fitted and the scored copy are then the same
    features), ``standardise=True`` scales every feature by the probe-train rows' mean and std before the
    fit (as coral_lab's held-out probe does), ``max_iter`` sets the L-BFGS iterations (published: 100).

    Returns:
        The columns of ``probe_model``: balanced_accuracy is the scored copy's macro accuracy (%),
        val_balanced_accuracy the chosen C's macro accuracy on the fitted copy, roc_auc the scored copy's.
    """
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {sorted(unknown)}; valid tasks: {list(TASKS)}")
    dev = model_device(model, device)
    pairs_train, pairs_test = bench.probe_pairs(PROBE_PAIRS if n_pairs is None else n_pairs)
    y_tr = pair_labels(bench.data.train, pairs_train, bench.mapping)
    y_te = pair_labels(bench.data.test, pairs_test, bench.mapping)
    protocol = MEMORISATION_CONTROL if shuffle_fitted_labels else "published"

    def features(split: TrifeatureSplit, pairs: PairSet, purpose: str) -> dict[str, np.ndarray]:
        gen = torch.Generator(device=dev)
        gen.manual_seed(int(derived_rng(seed, purpose).integers(2**62)))
        crops = None if crop_scale is None else CropDraw(gen, crop_scale)
        return feature_sets(frozen_features(model, trifeature_batches(split, pairs, dev, augment_cfg, batch_size,
                                                                      crops=crops)))

    rows, names = [], None
    for task in tasks:
        tr = features(bench.data.train, pairs_train, f"published_probe/{task}/train")
        fitted = features(bench.data.test, pairs_test, f"published_probe/{task}/fitted")
        scored = features(bench.data.test, pairs_test, f"published_probe/{task}/scored")
        if names is None:
            names = ProbeData({"train": tr}, {}).check_feature_names(subspaces)
        y_fit = y_te[task]
        if shuffle_fitted_labels:
            y_fit = derived_rng(seed, f"published_probe/{task}/shuffle").permutation(y_fit)
        for feats in names:
            x_tr, x_fit, x_score = tr[feats], fitted[feats], scored[feats]
            if standardise:
                mean, std = x_tr.mean(0), x_tr.std(0) + 1e-8
                x_tr, x_fit, x_score = ((x - mean) / std for x in (x_tr, x_fit, x_score))
            fit = fit_published_probe(x_tr, y_tr[task], x_fit, y_fit, max_iter=max_iter)
            proba = fit.classifier.predict_proba(torch.from_numpy(np.ascontiguousarray(x_score))).numpy()
            n_classes = proba.shape[1]
            y = y_te[task]
            rows.append(
                {
                    "task": task,
                    "features": feats,
                    "balanced_accuracy": 100 * macro_accuracy(y, proba.argmax(1), max(n_classes, int(y.max()) + 1)),
                    "C": fit.C,
                    "val_balanced_accuracy": 100 * fit.val_score,
                    "roc_auc": 100 * roc_auc(y, proba, np.arange(n_classes)),
                    "protocol": protocol,
                }
            )
    return pd.DataFrame(rows)


def with_protocol(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with a ``protocol`` column: a table written before the published replica existed holds
    held-out rows only, and says so now."""
    return rows if "protocol" in rows.columns else rows.assign(protocol=HELD_OUT)


def protocol_rows(rows: pd.DataFrame, protocol: str = HELD_OUT) -> pd.DataFrame:
    """The rows of one probe protocol (``config.PROTOCOLS``); a table without a ``protocol``
    column is all held out. Rows of two protocols are never averaged together."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown probe protocol {protocol!r}; valid: {list(PROTOCOLS)}")
    rows = with_protocol(rows)
    return rows[rows["protocol"] == protocol]


def summarize(results: pd.DataFrame, method: str = "COrAL") -> pd.DataFrame:
    """Mean +- std over seeds of the Table 1 columns, per probe protocol, beside the paper's numbers.

    Args:
        results: tidy rows with columns seed, column (redundancy / uniqueness / synergy), balanced_accuracy
            and protocol (missing: all held out).

    Returns:
        One row per (protocol, column), protocols in ``PROTOCOLS`` order: protocol, column, ours_mean,
        ours_std, n_seeds, paper_mean, paper_std, chance.
    """
    need = {"seed", "column", "balanced_accuracy"}
    if not need <= set(results.columns):
        raise ValueError(f"results need the columns {sorted(need)}; got {list(results.columns)}")
    results = with_protocol(results)
    rows = []
    for protocol in PROTOCOLS:
        mine = results[results["protocol"] == protocol]
        for col in TABLE1_TASKS:
            vals = mine.loc[mine["column"] == col, "balanced_accuracy"]
            if vals.empty:
                continue
            paper_mean, paper_std = PAPER_TABLE1.get(method, {}).get(col, (None, None))
            rows.append(
                {
                    "protocol": protocol,
                    "column": col,
                    "ours_mean": vals.mean(),
                    "ours_std": seed_std(vals),
                    "n_seeds": len(vals),
                    "paper_mean": paper_mean,
                    "paper_std": paper_std,
                    "chance": CHANCE[col],
                }
            )
    return pd.DataFrame(rows, columns=["protocol", "column", "ours_mean", "ours_std", "n_seeds", "paper_mean",
                                       "paper_std", "chance"])
