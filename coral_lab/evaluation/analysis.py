"""What a trained COrAL model learned, as numbers: probe maps per subspace, embeddings and their UMAP.

Computing only (``coral_lab.experiments.units`` finds, loads and trains the notebooks' units;
``coral_lab.drawing.views`` draws what is computed here):

- "which subspace knows what": ``subspace_probe_map`` (balanced accuracy of a linear probe of every
  task from every subspace Z^SR, Z_1^U, Z_2^U and Z, via ``coral_lab.evaluation.probe.probe_model``),
  ``probe_map_from_rows`` (the same table from saved probe rows), ``findings_table`` (the paper's two
  findings from a pair of units) and ``one_modality_probe`` (what Z^SR makes of one modality alone);
- the paper's Figure 5 for Trifeature: ``embedding_frame`` (inference embeddings with their labels),
  ``joint_embedding_matrix`` and ``umap_projection`` (shared and unique embeddings projected together;
  umap-learn is imported there) and ``neighbour_agreement`` (how much each label organises each
  subspace's cloud);
- collapse: ``feature_variation`` (how much of each subspace's second moment varies between samples;
  0 % when every sample gets the same vector, the dead end a contrastive objective can fall into).
"""

from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.neighbors import NearestNeighbors

from coral_lab.inputs.augment import to_model_input
from coral_lab.config import AugmentConfig, ProbeConfig
from coral_lab.data import (
    COLOR_NAMES,
    N_CLASSES,
    SHAPES,
    TASKS,
    TEXTURES,
    PairSet,
    TrifeatureBenchmark,
    derived_rng,
    pair_labels,
)
from coral_lab.evaluation.probe import extract_features, linear_probe, probe_model, protocol_rows
from coral_lab.config import HELD_OUT
from coral_lab.core.paper import chance_percent

__all__ = [
    "TASK_LABELS",
    "TASK_CHANCE",
    "SUBSPACES",
    "LABEL_COLUMNS",
    "LABEL_NAMES",
    "COLOR_BY",
    "subspace_label",
    "probe_map_from_rows",
    "FINDINGS",
    "findings_table",
    "subspace_probe_map",
    "one_modality_probe",
    "embedding_frame",
    "joint_embedding_matrix",
    "umap_projection",
    "neighbour_agreement",
    "check_umap_frame",
    "feature_variation",
]

# probe task -> readable row label of the probe map, and chance level (balanced accuracy %) per label
TASK_LABELS = {"share": "shape", "unique1": "texture 1", "unique2": "texture 2", "synergy": "synergy"}
TASK_CHANCE = {TASK_LABELS[t]: chance_percent(N_CLASSES[t]) for t in TASKS}
SUBSPACES = ("shared", "unique1", "unique2")  # the bimodal model's Z^SR, Z_1^U, Z_2^U
# embedding_frame's label columns (integer indices into SHAPES / TEXTURES / COLOR_NAMES; synergy 0 / 1)
LABEL_COLUMNS = ("shape", "texture1", "texture2", "color1", "color2", "synergy")
COLOR_BY = ("subspace", "split", *LABEL_COLUMNS)  # what umap_scatter can colour by
LABEL_NAMES = {"shape": SHAPES, "texture1": TEXTURES, "texture2": TEXTURES, "color1": COLOR_NAMES, "color2": COLOR_NAMES}


def subspace_label(name: str) -> str:
    """The paper's symbol for a subspace name: shared -> Z^SR, unique2 -> Z_2^U, Z -> Z (all)."""
    m = re.fullmatch(r"unique(\d+)", name)
    if m:
        return f"Z_{m.group(1)}^U"
    return {"shared": "Z^SR", "Z": "Z (all)"}.get(name, name)


def probe_map_from_rows(rows: pd.DataFrame, subspaces: Sequence[str] = ("shared", "unique1", "unique2", "Z"),
                        tasks: Sequence[str] = TASKS) -> pd.DataFrame:
    """``subspace_probe_map``'s table (rows = task labels, columns = feature sets) from saved probe rows
    (the held-out probe's; rows of another protocol are left out)."""
    need = {"task", "features", "balanced_accuracy"}
    if not need <= set(rows.columns):
        raise ValueError(f"probe rows need the columns {sorted(need)}; got {list(rows.columns)}")
    rows = protocol_rows(rows, HELD_OUT)
    missing = {(t, f) for t in tasks for f in subspaces} - set(zip(rows["task"], rows["features"]))
    if missing:
        raise ValueError(f"the probe rows lack (task, features) {sorted(missing)}; probe those feature sets first")
    table = rows.pivot_table(index="task", columns="features", values="balanced_accuracy").loc[list(tasks), list(subspaces)]
    table.index = pd.Index([TASK_LABELS[t] for t in tasks], name="task")
    table.columns = pd.Index(list(subspaces), name="features")
    return table


# The paper's two findings a pair of units can show (Table 3 and Table 1 / section 5.6.3), as
# (finding, unit kind, task, features, what the row is). Unit kinds are those of
# ``coral_lab.training.pretrained.SHIPPED_UNITS``; each finding compares a unit with the one that lacks the cause.
FINDINGS: tuple[tuple[str, str, str, str, str], ...] = (
    ("masking buys synergy", "biased", "synergy", "Z", "synergy from Z, with the preset's masking"),
    ("masking buys synergy", "biased-no-mask", "synergy", "Z", "synergy from Z, no masking"),
    ("the unique pathways keep texture", "unbiased", "unique1", "unique1", "texture 1 from Z_1^U, lambda_o = 1"),
    ("the unique pathways keep texture", "unbiased-no-ortho", "unique1", "unique1", "texture 1 from Z_1^U, lambda_o = 0"),
    ("the unique pathways keep texture", "unbiased", "unique1", "shared", "texture 1 from Z^SR, lambda_o = 1"),
    ("the unique pathways keep texture", "unbiased-no-ortho", "unique1", "shared", "texture 1 from Z^SR, lambda_o = 0"),
    ("the unique pathways keep texture", "unbiased", "unique1", "Z", "texture 1 from Z (Table 1's U), lambda_o = 1"),
    ("the unique pathways keep texture", "unbiased-no-ortho", "unique1", "Z", "texture 1 from Z (Table 1's U), lambda_o = 0"),
)


def findings_table(rows_by_kind: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The ``FINDINGS`` rows from the probe rows of each unit kind (``unit_probe_rows``' first value).

    Returns one row per finding line: finding, unit, what, balanced accuracy %, ROC-AUC % (a
    threshold-free diagnostic the paper does not report) and chance %. A kind missing from
    ``rows_by_kind``, or a (task, features) its rows lack, raises ``ValueError`` naming it.
    """
    out = []
    for finding, kind, task, features, what in FINDINGS:
        if kind not in rows_by_kind:
            raise ValueError(f"findings_table needs the probe rows of the {kind!r} unit; got {sorted(rows_by_kind)}")
        rows = rows_by_kind[kind]
        sel = rows[(rows["task"] == task) & (rows["features"] == features)]
        if len(sel) != 1:
            raise ValueError(f"the {kind!r} unit's probe rows have {len(sel)} rows for task {task!r} from "
                             f"{features!r} (need 1); probe that feature set first")
        auc = sel["roc_auc"].iloc[0] if "roc_auc" in sel else float("nan")
        out.append({"finding": finding, "unit": kind, "what": what,
                    "balanced_accuracy": float(sel["balanced_accuracy"].iloc[0]), "roc_auc": float(auc),
                    "chance": TASK_CHANCE[TASK_LABELS[task]]})
    return pd.DataFrame(out)


def subspace_probe_map(
    model: torch.nn.Module,
    bench: TrifeatureBenchmark,
    *,
    tasks: Sequence[str] = TASKS,
    subspaces: Sequence[str] = ("shared", "unique1", "unique2", "Z"),
    probe_cfg: ProbeConfig | None = None,
    augment_cfg: AugmentConfig | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Balanced accuracy (%) of a linear probe of every task from every subspace.

    One ``coral_lab.evaluation.probe.probe_model`` call (frozen features, no augmentation or masking, C chosen
    on a validation split of the probe-train pairs, scored on the probe-test pairs), reshaped.
    Disentanglement in the paper's sense shows as: shape (redundancy) and synergy read from Z^SR,
    texture i (uniqueness) from Z_i^U, and little of each elsewhere.

    Returns:
        A DataFrame, rows = tasks by readable label (``TASK_LABELS``: shape, texture 1, texture 2,
        synergy; index name "task"), columns = ``subspaces`` (``"Z"`` is their concatenation, eq. 2),
        values = balanced accuracy in [0, 100]. Chance per row: ``TASK_CHANCE``.
    """
    tasks, subspaces = list(tasks), list(subspaces)
    if not tasks or not subspaces:
        raise ValueError("give at least one task and one subspace")
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {sorted(unknown)}; valid tasks: {list(TASKS)}")
    for name, values in (("tasks", tasks), ("subspaces", subspaces)):
        if len(set(values)) != len(values):
            raise ValueError(f"{name} has duplicates: {values}")
    rows = probe_model(
        model, bench, tasks=tasks, subspaces=subspaces, probe_cfg=probe_cfg, augment_cfg=augment_cfg, seed=seed
    )
    table = rows.pivot(index="task", columns="features", values="balanced_accuracy").loc[tasks, subspaces]
    table.index = pd.Index([TASK_LABELS[t] for t in tasks], name="task")
    table.columns = pd.Index(subspaces, name="features")
    return table


@torch.no_grad()
def _shared_with_one_modality(model: torch.nn.Module, split, pairs: PairSet, keep: int, augment_cfg,
                              batch_size: int = 256) -> np.ndarray:
    """Z^SR of every pair with every token of the other modality set to zero (as a fully masked modality)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    images = torch.from_numpy(split.images)
    out = []
    try:
        for start in range(0, len(pairs), batch_size):
            sl = slice(start, start + batch_size)
            xs = [to_model_input(images[torch.from_numpy(idx[sl])].to(device), augment_cfg)
                  for idx in (pairs.idx1, pairs.idx2)]
            tokens = [enc(x) for enc, x in zip(model.shared_encoders, xs)]
            tokens = [t if i == keep else torch.zeros_like(t) for i, t in enumerate(tokens)]
            out.append(model.fusion(tokens).float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out)


def one_modality_probe(
    model: torch.nn.Module,
    bench: TrifeatureBenchmark,
    *,
    probe_cfg: ProbeConfig | None = None,
    augment_cfg: AugmentConfig | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """What the shared pathway makes of ONE modality: the mechanism behind synergy, measured.

    Z^SR is computed with every token of the other modality zeroed (what a fully masked modality
    looks like to the fusion transformer). Linear probes (``coral_lab.evaluation.probe.linear_probe``, balanced
    accuracy %, chance 10) then read, on the probe-test pairs:

    - ``texture 1 | image 1 only``: does the shared pathway encode texture 1 at all? Synergy needs it;
    - ``color 2 | image 2 only``: and color 2;
    - ``transfer``: a probe fitted on (image 2 only -> color 2), applied to (image 1 only) and scored
      against pi(texture 1). High only if the shared pathway maps texture t where it maps color pi(t):
      the cross-modal correspondence that asymmetric masking has to teach a model trained on biased pairs.

    Returns:
        One row per measure: measure, balanced_accuracy.
    """
    if not hasattr(model, "shared_encoders") or not hasattr(model, "fusion"):
        raise TypeError("one_modality_probe needs a COrAL model (shared_encoders and a fusion transformer)")
    d = bench.data
    feats = {(name, keep): _shared_with_one_modality(model, split, pairs, keep, augment_cfg)
             for name, split, pairs in (("train", d.train, bench.probe_train), ("test", d.test, bench.probe_test))
             for keep in (0, 1)}
    tex1 = {n: s.texture[p.idx1] for n, s, p in (("train", d.train, bench.probe_train), ("test", d.test, bench.probe_test))}
    col2 = {n: s.color[p.idx2] for n, s, p in (("train", d.train, bench.probe_train), ("test", d.test, bench.probe_test))}
    rows = [
        ("texture 1 | image 1 only", linear_probe(feats["train", 0], tex1["train"], feats["test", 0], tex1["test"],
                                                   probe_cfg, seed=seed).balanced_accuracy),
        ("color 2 | image 2 only", linear_probe(feats["train", 1], col2["train"], feats["test", 1], col2["test"],
                                                 probe_cfg, seed=seed).balanced_accuracy),
        # fitted on image 2's colors, scored on image 1's textures mapped through pi
        ("transfer: color-2 probe on image 1 -> pi(texture 1)",
         linear_probe(feats["train", 1], col2["train"], feats["test", 0], bench.mapping[tex1["test"]],
                      probe_cfg, seed=seed).balanced_accuracy),
    ]
    return pd.DataFrame({"measure": [r[0] for r in rows], "balanced_accuracy": [100 * r[1] for r in rows]})


def embedding_frame(
    model: torch.nn.Module,
    bench: TrifeatureBenchmark,
    *,
    n_pairs: int = 500,
    seed: int = 0,
    augment_cfg: AugmentConfig | None = None,
) -> pd.DataFrame:
    """Inference embeddings of ``n_pairs`` probe-train and ``n_pairs`` probe-test pairs, with labels.

    Features come from ``coral_lab.evaluation.probe.extract_features``: frozen model, no augmentation, no
    masking, before the projection heads. The pairs are a seeded sample without replacement
    (``derived_rng(seed, "embedding_frame-<split>")``) of ``bench.probe_train`` and
    ``bench.probe_test``, kept in their original order.

    Returns:
        One row per (pair, subspace), ``2 * n_pairs * (1 + n_modalities)`` rows, with columns
        ``pair`` (index into ``bench.probe_train`` or ``bench.probe_test``), ``split`` ("train" /
        "test"), ``subspace`` ("shared", "unique1", "unique2"), the label columns ``LABEL_COLUMNS``
        (int indices into SHAPES / TEXTURES / COLOR_NAMES; ``synergy`` 0 / 1, as ``pair_labels``),
        and ``embedding``: each row's feature vector as a float32 NumPy array of shape (D,) for
        "shared" and (D/2,) for the unique subspaces (an object column, since the widths differ).
    """
    if not isinstance(bench, TrifeatureBenchmark):
        raise TypeError("bench must be a TrifeatureBenchmark (coral_lab.training.pretrain.load_benchmark), "
                        f"got {type(bench).__name__}")
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, numbers.Integral) or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive int, got {n_pairs!r}")
    frames = []
    for split_name, split, pairs in (
        ("train", bench.data.train, bench.probe_train),
        ("test", bench.data.test, bench.probe_test),
    ):
        if n_pairs > len(pairs):
            raise ValueError(
                f"n_pairs={n_pairs} but the benchmark has only {len(pairs)} probe-{split_name} pairs; "
                f"ask for at most min(len(bench.probe_train), len(bench.probe_test))"
            )
        chosen = np.sort(derived_rng(seed, f"embedding_frame-{split_name}").choice(len(pairs), n_pairs, replace=False))
        sub = PairSet(pairs.idx1[chosen], pairs.idx2[chosen])
        feats = extract_features(model, split, sub, augment_cfg=augment_cfg)  # {name: (n_pairs, D_name)}
        y = pair_labels(split, sub, bench.mapping)
        labels = {
            "shape": y["share"],
            "texture1": y["unique1"],
            "texture2": y["unique2"],
            "color1": split.color[sub.idx1].astype(np.int64),
            "color2": split.color[sub.idx2].astype(np.int64),
            "synergy": y["synergy"],
        }
        for name, z in feats.items():
            frames.append(
                pd.DataFrame({"pair": chosen, "split": split_name, "subspace": name, **labels, "embedding": list(z)})
            )
    return pd.concat(frames, ignore_index=True)


def joint_embedding_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The rows' embeddings in one common space, for a joint UMAP of subspaces of different widths.

    Each vector is L2-normalised (the losses only see directions: InfoNCE and the orthogonality
    penalty are cosine-based) and zero-padded to the widest subspace, so Z^SR (D) and Z_i^U (D/2) share
    one (N, D) matrix. Padding puts Z_i^U into the first D/2 coordinates: distances *between*
    subspaces are therefore partly a convention, distances *within* a subspace are exact cosines.

    Returns:
        float32 (N, D_max), one row per frame row.
    """
    if not isinstance(frame, pd.DataFrame) or "embedding" not in frame.columns:
        raise ValueError("frame must be a DataFrame with an 'embedding' column (from embedding_frame)")
    if len(frame) == 0:
        raise ValueError("frame has no rows")
    vecs = [np.asarray(v, dtype=np.float32) for v in frame["embedding"]]
    if any(v.ndim != 1 or v.size == 0 for v in vecs):
        raise ValueError("every embedding must be a non-empty 1-D array")
    width = max(v.size for v in vecs)
    out = np.zeros((len(vecs), width), dtype=np.float32)  # (N, D_max)
    for i, v in enumerate(vecs):
        out[i, : v.size] = v
    if not np.isfinite(out).all():
        raise ValueError("embeddings contain NaN or inf; the model diverged (check its pretraining history)")
    norms = np.linalg.norm(out, axis=1, keepdims=True)  # (N, 1)
    return out / np.maximum(norms, 1e-12)


def umap_projection(
    frame_or_features: pd.DataFrame | Mapping[str, np.ndarray],
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    """Shared and unique embeddings projected together to 2-D by UMAP (McInnes et al., 2018).

    All rows are embedded by one UMAP fit on ``joint_embedding_matrix`` (L2-normalised, zero-padded to
    the widest subspace; Euclidean distance there is a monotone function of the cosine). With
    ``random_state=seed`` umap-learn runs single-threaded and the result is reproducible.

    Args:
        frame_or_features: an ``embedding_frame`` DataFrame, or ``{subspace: (P, D_k) array}`` (e.g.
            ``extract_features``'s output; becomes a frame with columns pair, subspace, embedding).
        n_neighbors, min_dist: UMAP's size of the local neighbourhood and minimum point spacing.
        seed: UMAP's random state.

    Returns:
        A copy of the frame with two more float columns, ``x`` and ``y``.
    """
    if isinstance(frame_or_features, pd.DataFrame):
        frame = frame_or_features.copy()
    elif isinstance(frame_or_features, Mapping):
        parts = []
        for name, z in frame_or_features.items():
            z = np.asarray(z)
            if z.ndim != 2:
                raise ValueError(f"features[{name!r}] must be (P, D), got shape {z.shape}")
            parts.append(pd.DataFrame({"pair": np.arange(len(z)), "subspace": name, "embedding": list(z)}))
        if not parts:
            raise ValueError("features is empty")
        frame = pd.concat(parts, ignore_index=True)
    else:
        raise TypeError(
            f"frame_or_features must be a DataFrame (embedding_frame) or a {{name: array}} mapping, "
            f"got {type(frame_or_features).__name__}"
        )
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral) or n_neighbors < 2:
        raise ValueError(f"n_neighbors must be an int >= 2, got {n_neighbors!r}")
    if not 0 <= min_dist:
        raise ValueError(f"min_dist must be >= 0, got {min_dist!r}")
    x = joint_embedding_matrix(frame)  # (N, D_max)
    if len(x) <= n_neighbors:
        raise ValueError(f"UMAP needs more rows ({len(x)}) than n_neighbors ({n_neighbors}); embed more pairs")
    import umap

    reducer = umap.UMAP(
        n_components=2, n_neighbors=int(n_neighbors), min_dist=float(min_dist), metric="euclidean",
        random_state=int(seed), n_jobs=1,
    )
    with warnings.catch_warnings():
        # umap-learn says "n_jobs value 1 overridden to 1 by setting random_state" even for n_jobs=1
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        xy = reducer.fit_transform(x)  # (N, 2)
    frame["x"] = xy[:, 0].astype(np.float64)
    frame["y"] = xy[:, 1].astype(np.float64)
    return frame


def neighbour_agreement(
    df: pd.DataFrame, *, by: Sequence[str] = ("shape", "texture1", "texture2"), k: int = 10
) -> pd.DataFrame:
    """How much a UMAP picture is organised by each label, per subspace: a number for what the eye sees.

    For every row, its ``k`` nearest neighbours in (x, y) among the rows of the same subspace (both
    splits; the point itself excluded); the score is the share (%) of neighbours with the same label.
    A subspace that encodes an attribute puts equal labels together (near 100 %); one that ignores it
    scores about the chance level ``100 * sum_c p_c^2`` (about 10 % for ten balanced classes).

    Returns:
        A DataFrame, rows = ``by`` (index name "label"), columns = the subspaces in order of
        appearance, then ``chance``.
    """
    by = list(by)
    if not by:
        raise ValueError("by must name at least one label column")
    bad = [c for c in by if c not in LABEL_COLUMNS]
    if bad:
        raise ValueError(f"unknown label column(s) {bad}; valid: {list(LABEL_COLUMNS)}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    check_umap_frame(df, ["x", "y", "subspace", *by])
    out: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(df["subspace"]):
        part = df[df["subspace"] == name]
        if len(part) <= k:
            raise ValueError(f"subspace {name!r} has {len(part)} rows; k={k} neighbours need more")
        idx = NearestNeighbors(n_neighbors=k).fit(part[["x", "y"]].to_numpy()).kneighbors(return_distance=False)
        out[name] = {}
        for col in by:
            lab = part[col].to_numpy()
            out[name][col] = 100.0 * float((lab[idx] == lab[:, None]).mean())  # idx: (N, k), self excluded
    table = pd.DataFrame(out).loc[by]
    freq = {col: df[col].value_counts(normalize=True).to_numpy() for col in by}
    table["chance"] = [100.0 * float((freq[col] ** 2).sum()) for col in by]
    table.index.name = "label"
    return table


def check_umap_frame(df: Any, need: Sequence[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame (from umap_projection), got {type(df).__name__}")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks the columns {missing}; build it with embedding_frame, then umap_projection")
    if len(df) == 0:
        raise ValueError("df has no rows")
    return df


def feature_variation(features: Mapping[str, Any]) -> pd.DataFrame:
    """How much of each subspace's features varies between samples: a collapse check.

    For a subspace's (N, d) features z, with mean vector m over the N samples,

        variation = sum_j Var_i(z_ij) / mean_i ||z_i||^2 = 1 - ||m||^2 / mean_i ||z_i||^2      (in [0, 1])

    i.e. the share of the features' second moment that differs between samples. It is scale-free: 1
    (100 %) for features centred on zero, 0 when every sample gets the same vector (a collapsed encoder:
    every contrastive score matrix is then constant, its InfoNCE and CLUB bounds are 0 and their gradients
    cancel, so training cannot leave that state).

    Args:
        features: subspace name -> (N, d) array of N >= 2 samples (``extract_features``' output).

    Returns:
        One row per subspace (index ``subspace``): ``dims`` (d), ``mean_norm`` (mean_i ||z_i||) and
        ``variation_percent`` (the ratio above, in %; NaN for all-zero features).
    """
    if not isinstance(features, Mapping) or not features:
        raise ValueError("features must be a non-empty mapping of subspace name -> (N, d) array")
    rows = []
    for name, z in features.items():
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 1:
            raise ValueError(f"features[{name!r}] must be (N, d) with N >= 2 samples, got shape {z.shape}")
        if not np.isfinite(z).all():
            raise ValueError(f"features[{name!r}] holds NaN or inf; the model's weights are not finite")
        second = float((z ** 2).sum(axis=1).mean())
        between = float(z.var(axis=0).sum())
        rows.append({"subspace": name, "dims": z.shape[1], "mean_norm": float(np.linalg.norm(z, axis=1).mean()),
                     "variation_percent": 100.0 * between / second if second > 0 else float("nan")})
    return pd.DataFrame(rows).set_index("subspace")
