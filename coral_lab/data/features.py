"""Feature data sets: the MultiBench files users bring, and an offline real data set.

Nothing is downloaded. The MultiBench files (``../shared/design/multibench.md``) are found by

1. an explicit path (``--data-path`` / ``data_path=``): the file itself or the folder holding it;
2. else the environment variable ``CORAL_LAB_MULTIBENCH_DIR``: a folder holding the files under their
   MultiBench names (``mosi_data.pkl``, ``mosei_senti_data.pkl``, ``humor.pkl``, ``sarcasm.pkl``, ``im.pk``).

Each file is checked against the layout it should have (splits, modality keys, shapes, label ranges,
NaNs) and a file that does not match stops with a ``DataFileError`` naming the file, what is wrong and
where the data set can be obtained.

``digits`` is the offline real data set: scikit-learn's bundled copy of the UCI optical handwritten
digits (1,797 images of 8 x 8 pixels, 10 classes). It is NOT natively multimodal: coral_lab splits each
image into two views, the top four pixel rows and the bottom four, each a sequence of 4 rows x 8 pixels.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from coral_lab.data.modalities import ModalitySpec
from coral_lab.core.io import sha256_file

__all__ = [
    "ENV_VAR",
    "DATASETS",
    "VISION_DIM",
    "DataFileError",
    "ModalitySpec",
    "DatasetSpec",
    "FeatureSplit",
    "FeatureDataset",
    "resolve_data_file",
    "load_dataset",
    "load_affect",
    "load_mimic",
    "load_digits_halves",
]

ENV_VAR = "CORAL_LAB_MULTIBENCH_DIR"
SPLITS = ("train", "valid", "test")


class DataFileError(ValueError):
    """A data file is missing, unreadable or does not have the expected layout."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str  # the paper's column name
    filename: str | None
    source: str  # where to get it
    n_classes: int = 2


_AFFECT_SOURCE = (
    "the MultiBench affect pickles (https://github.com/pliang279/MultiBench, 'Affective computing' data links); "
    "coral_lab never downloads them"
)
DATASETS: dict[str, DatasetSpec] = {
    "mosi": DatasetSpec("mosi", "MOSI", "mosi_data.pkl", "CMU-MOSI from " + _AFFECT_SOURCE),
    "mosei": DatasetSpec("mosei", "MOSEI", "mosei_senti_data.pkl", "CMU-MOSEI from " + _AFFECT_SOURCE),
    "humor": DatasetSpec("humor", "UR-FUNNY", "humor.pkl", "UR-FUNNY from " + _AFFECT_SOURCE),
    "sarcasm": DatasetSpec("sarcasm", "MUsTARD", "sarcasm.pkl", "MUsTARD from " + _AFFECT_SOURCE),
    "mimic": DatasetSpec(
        "mimic", "MIMIC", "im.pk",
        "MIMIC-III needs credentialed PhysioNet access (https://physionet.org/content/mimiciii/); MultiBench's "
        "README explains how to request its preprocessed im.pk once you are credentialed",
    ),
    "digits": DatasetSpec("digits", "digits (2 views)", None, "bundled with scikit-learn (sklearn.datasets.load_digits)", 10),
}
# The vision feature size (per time step) of each affect data set in MultiBench's pickles; text is
# always 300-d GloVe. multibench.synthetic builds its stand-in files with the same sizes.
VISION_DIM = {"mosi": 20, "mosei": 35, "humor": 371, "sarcasm": 371}
_TEXT_DIM = 300


@dataclass
class FeatureSplit:
    """One split: ``x`` holds one float32 array per modality, ``(N, *shape_i)``; ``y`` int64 labels ``(N,)``."""

    x: tuple[np.ndarray, ...]
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class FeatureDataset:
    spec: DatasetSpec
    modalities: tuple[ModalitySpec, ...]
    train: FeatureSplit
    valid: FeatureSplit
    test: FeatureSplit
    path: str | None = None
    notes: str = ""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sha256(self) -> str | None:
        """The SHA-256 of the file the data set was read from (None: the bundled digits set, built in code).

        Part of a feature-data run's identity (``FeatureDataConfig.sha256``): a run trained on one file is
        never resumed, or its scores read, for another file under the same name.
        """
        if self.path is None:
            return None
        return sha256_file(self.path)

    @property
    def n_classes(self) -> int:
        return self.spec.n_classes

    def splits(self) -> dict[str, FeatureSplit]:
        return {"train": self.train, "valid": self.valid, "test": self.test}

    def summary(self) -> str:
        mods = ", ".join(f"{m.name} {m.kind} {m.shape}" for m in self.modalities)
        sizes = " / ".join(f"{k} {len(s)}" for k, s in self.splits().items())
        return f"{self.spec.title}: {mods}; {sizes}; {self.n_classes} classes"


# ------------------------------------------------------------------------------------------ file access


def resolve_data_file(dataset: str, path: str | os.PathLike | None = None) -> Path:
    """The file for ``dataset`` from ``path`` (file or folder) or ``$CORAL_LAB_MULTIBENCH_DIR``."""
    spec = _spec(dataset)
    if spec.filename is None:
        raise ValueError(f"data set {dataset!r} is bundled and has no file")
    if path is None:
        env = os.environ.get(ENV_VAR)
        if not env:
            raise DataFileError(
                f"no file for {spec.title}: pass --data-path (the {spec.filename} file or its folder) or set "
                f"{ENV_VAR} to the folder holding {spec.filename}. Get it from {spec.source}."
            )
        path = env
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / spec.filename
    if not p.is_file():
        raise DataFileError(
            f"{p} not found: {spec.title} is expected as {spec.filename} (a file, or a folder holding it, via "
            f"--data-path or {ENV_VAR}). Get it from {spec.source}."
        )
    return p


# What a MultiBench pickle holds besides dicts, lists, strings and numbers: numpy arrays, their dtypes and
# scalars (numpy 1 and 2 spell the module differently), and what Python 2 / protocol 2 pickles need for
# bytes and ordered dicts. Anything else would be code run by the unpickling: refused.
SAFE_PICKLE_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"), ("collections", "OrderedDict"),
})


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asks for something other than the data a MultiBench file holds."""


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in SAFE_PICKLE_GLOBALS:
            raise UnsafePickleError(f"{module}.{name}")
        return super().find_class(module, name)


def _read_pickle(path: Path, spec: DatasetSpec) -> object:
    """The pickle's data, read by an unpickler that builds nothing but ``SAFE_PICKLE_GLOBALS`` (numpy
    arrays, dicts, lists, scalars): a file whose unpickling would run code is refused, not run."""
    try:
        with open(path, "rb") as f:
            # MultiBench's pickles date from Python 2 for some sets
            return _DataUnpickler(f, encoding="latin1").load()
    except UnsafePickleError as e:
        raise DataFileError(
            f"{path} is not a plain data pickle: it asks to load {e}, which a MultiBench file never holds, so it was "
            f"refused unread (unpickling it could run code). Get {spec.title}'s {spec.filename} from {spec.source}."
        ) from None
    except Exception as e:  # truncated or garbage files raise several types
        raise DataFileError(
            f"{path} could not be read as a pickle ({type(e).__name__}: {e}); the file is truncated or not "
            f"{spec.title}'s {spec.filename}. Get a fresh copy from {spec.source}."
        ) from None


def _spec(dataset: str) -> DatasetSpec:
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; valid: {sorted(DATASETS)}")
    return DATASETS[dataset]


def _fail(path: Path, spec: DatasetSpec, what: str) -> DataFileError:
    return DataFileError(f"{path} is not a valid {spec.title} file ({spec.filename}): {what}. Get it from {spec.source}.")


def _array(obj: object, path: Path, spec: DatasetSpec, where: str) -> np.ndarray:
    try:
        a = np.asarray(obj, dtype=np.float32)  # float32 throughout: MOSEI's text alone is ~1 GB in float64
    except (TypeError, ValueError) as e:
        raise _fail(path, spec, f"{where} is not a numeric array ({e})") from None
    return a


# ------------------------------------------------------------------------------------------- affect


def load_affect(dataset: str, path: str | os.PathLike | None = None) -> FeatureDataset:
    """CMU-MOSI / CMU-MOSEI / UR-FUNNY / MUsTARD, vision + text features, the binary task of the paper.

    Expected file: ``{'train'|'valid'|'test': {'vision': (N, T, dv), 'text': (N, T, 300), 'labels': (N,) or
    (N, 1[, 1]), ...}}`` ('audio' and 'id' may be there; COrAL uses vision + text only). Preprocessing as
    published: samples whose text is all zero are dropped; each sample's leading padding (before the first
    non-zero text row) is moved to the end, so sequences start at step 0 and are zero-padded at the end
    (length T kept); no normalisation. Labels: ``y > 0`` (positive sentiment / humour / sarcasm); MOSI and
    MOSEI labels must lie in [-3, 3], UR-FUNNY / MUsTARD labels in {-1, 0, 1}.

    Returns:
        ``FeatureDataset`` with modalities vision ``(T, dv)`` and text ``(T, 300)``, binary labels.
    """
    spec = _spec(dataset)
    if dataset not in VISION_DIM:
        raise ValueError(f"{dataset!r} is not an affect data set; valid: {sorted(VISION_DIM)}")
    file = resolve_data_file(dataset, path)
    raw = _read_pickle(file, spec)
    if not isinstance(raw, dict):
        raise _fail(file, spec, f"expected a dict with keys {list(SPLITS)}, got {type(raw).__name__}")
    missing = [s for s in SPLITS if s not in raw]
    if missing:
        raise _fail(file, spec, f"split(s) {missing} missing (found keys {sorted(map(str, raw))})")
    dv = VISION_DIM[dataset]
    splits = {}
    seq_len = None
    for name in SPLITS:
        part = raw[name]
        if not isinstance(part, dict):
            raise _fail(file, spec, f"split '{name}' must be a dict of arrays, got {type(part).__name__}")
        need = [k for k in ("vision", "text", "labels") if k not in part]
        if need:
            raise _fail(file, spec, f"split '{name}' has no key(s) {need} (found {sorted(map(str, part))})")
        vision = _array(part["vision"], file, spec, f"{name}/vision")
        text = _array(part["text"], file, spec, f"{name}/text")
        labels = _array(part["labels"], file, spec, f"{name}/labels")
        n = len(text)
        for key, a, feat in (("vision", vision, dv), ("text", text, _TEXT_DIM)):
            if a.ndim != 3 or a.shape[2] != feat or a.shape[0] != n:
                raise _fail(file, spec, f"{name}/{key} must have shape (N={n}, T, {feat}), got {a.shape}")
        if vision.shape[1] != text.shape[1]:
            raise _fail(file, spec, f"{name}/vision has {vision.shape[1]} steps but {name}/text has {text.shape[1]}")
        if seq_len is not None and text.shape[1] != seq_len:
            raise _fail(file, spec, f"splits have different sequence lengths ({seq_len} and {text.shape[1]})")
        seq_len = text.shape[1]
        if labels.size != n:
            raise _fail(file, spec, f"{name}/labels has {labels.size} values for {n} samples (expected shape (N,) or (N, 1))")
        labels = labels.reshape(n)
        for key, a in (("vision", vision), ("text", text), ("labels", labels)):
            if not np.isfinite(a).all():
                bad = int((~np.isfinite(a)).any(axis=tuple(range(1, a.ndim))).sum()) if a.ndim > 1 else int((~np.isfinite(a)).sum())
                raise _fail(file, spec, f"{name}/{key} holds NaN or inf values in {bad} sample(s)")
        if dataset in ("mosi", "mosei"):
            if labels.min(initial=0) < -3 or labels.max(initial=0) > 3:
                raise _fail(file, spec, f"{name}/labels must be sentiment scores in [-3, 3], got range "
                                        f"[{labels.min():.3g}, {labels.max():.3g}]")
        elif not np.isin(labels, (-1, 0, 1)).all():
            raise _fail(file, spec, f"{name}/labels must be 0/1 (or -1/1), got values {np.unique(labels)[:10].tolist()}")
        splits[name] = _affect_preprocess(vision, text, labels)
        if len(splits[name]) < 2:
            raise _fail(file, spec, f"split '{name}' has fewer than 2 samples with non-zero text")
    assert seq_len is not None
    mods = (ModalitySpec("vision", "sequence", (seq_len, dv)), ModalitySpec("text", "sequence", (seq_len, _TEXT_DIM)))
    return FeatureDataset(spec, mods, splits["train"], splits["valid"], splits["test"], path=str(file),
                          notes="vision + text; all-zero-text samples dropped; leading padding moved to the end")


def _affect_preprocess(vision: np.ndarray, text: np.ndarray, labels: np.ndarray) -> FeatureSplit:
    nonzero_rows = np.abs(text).sum(axis=2) > 0  # (N, T)
    keep = nonzero_rows.any(axis=1)
    vision, text, labels, nonzero_rows = vision[keep], text[keep], labels[keep], nonzero_rows[keep]
    start = nonzero_rows.argmax(axis=1)  # first non-zero text row per sample
    t = text.shape[1]
    # shift each sample left by its start: new[i, j] = old[i, j + start_i] for j + start_i < T, else 0
    src = np.arange(t)[None, :] + start[:, None]  # (N, T)
    valid = src < t
    src = np.minimum(src, t - 1)
    rows = np.arange(len(text))[:, None]
    text = np.where(valid[..., None], text[rows, src], 0.0)
    vision = np.where(valid[..., None], vision[rows, src], 0.0)
    y = (labels > 0).astype(np.int64)
    return FeatureSplit((vision.astype(np.float32), text.astype(np.float32)), y)


# -------------------------------------------------------------------------------------------- MIMIC


def load_mimic(path: str | os.PathLike | None = None, split_seed: int = 0) -> FeatureDataset:
    """MIMIC-III as MultiBench ships it (``im.pk``), the paper's ICD-9 group 7 task (codes 460-519).

    Expected file: a dict with ``'ep_tdata'`` (N, 24, 12) hourly series, ``'adm_features_all'`` (N, 5)
    static features and ``'y_icd9'`` (N, 20) 0/1 ICD-9 group labels (``'adm_labels_all'`` may be there).
    Preprocessing as published: NaN / inf in the features -> 0, then a global z-score per feature (over all
    samples). Label: ``y_icd9[:, 7]``. Split: a shuffle seeded by ``split_seed``, first 10 % validation,
    next 10 % test, the rest train (the same proportions as MultiBench, not its exact permutation).

    Returns:
        ``FeatureDataset`` with modalities static ``(5,)`` (tabular) and series ``(24, 12)`` (GRU).
    """
    spec = _spec("mimic")
    file = resolve_data_file("mimic", path)
    raw = _read_pickle(file, spec)
    if not isinstance(raw, dict):
        raise _fail(file, spec, f"expected a dict with keys ep_tdata, adm_features_all, y_icd9, got {type(raw).__name__}")
    need = [k for k in ("ep_tdata", "adm_features_all", "y_icd9") if k not in raw]
    if need:
        raise _fail(file, spec, f"key(s) {need} missing (found {sorted(map(str, raw))})")
    series = _array(raw["ep_tdata"], file, spec, "ep_tdata")
    static = _array(raw["adm_features_all"], file, spec, "adm_features_all")
    icd = _array(raw["y_icd9"], file, spec, "y_icd9")
    n = len(static)
    if series.ndim != 3 or series.shape != (n, 24, 12):
        raise _fail(file, spec, f"ep_tdata must have shape (N={n}, 24, 12), got {series.shape}")
    if static.ndim != 2 or static.shape[1] != 5:
        raise _fail(file, spec, f"adm_features_all must have shape (N, 5), got {static.shape}")
    if icd.ndim != 2 or icd.shape[0] != n or icd.shape[1] < 8:
        raise _fail(file, spec, f"y_icd9 must have shape (N={n}, 20) (column 7 = ICD-9 460-519), got {icd.shape}")
    y = icd[:, 7]
    if not np.isfinite(y).all() or not np.isin(y, (0, 1)).all():
        raise _fail(file, spec, f"y_icd9[:, 7] must hold 0/1 labels, got values {np.unique(y[np.isfinite(y)])[:10].tolist()} "
                                f"and {int((~np.isfinite(y)).sum())} NaN / inf")
    if n < 10:
        raise _fail(file, spec, f"only {n} samples; the 10 % / 10 % / 80 % split needs at least 10")

    def zscore(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
        a = np.where(np.isfinite(a), a, 0.0)
        mean, std = a.mean(axis=axes, keepdims=True), a.std(axis=axes, keepdims=True)
        return ((a - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)

    static, series = zscore(static, (0,)), zscore(series, (0, 1))
    perm = np.random.default_rng(split_seed).permutation(n)
    n10 = n // 10
    idx = {"valid": perm[:n10], "test": perm[n10 : 2 * n10], "train": perm[2 * n10 :]}
    splits = {k: FeatureSplit((static[i], series[i]), y[i].astype(np.int64)) for k, i in idx.items()}
    mods = (ModalitySpec("static", "tabular", (5,)), ModalitySpec("series", "timeseries", (24, 12)))
    return FeatureDataset(spec, mods, splits["train"], splits["valid"], splits["test"], path=str(file),
                          notes=f"ICD-9 group 7; NaN/inf -> 0, global z-score; split seed {split_seed}")


# ------------------------------------------------------------------------------------------- digits


def load_digits_halves(split_seed: int = 0) -> FeatureDataset:
    """scikit-learn's bundled UCI handwritten digits, each 8 x 8 image split into two views (offline).

    View 1 ("top") is pixel rows 0-3, view 2 ("bottom") rows 4-7; each is a sequence of 4 rows of 8
    pixels scaled to [0, 1]. The digit (10 classes) needs both halves: this is a real data set cut into
    two views, not a natively multimodal one. Split: stratified 60 / 20 / 20 % seeded by ``split_seed``.
    """
    d = load_digits()
    images = (d.images / 16.0).astype(np.float32)  # (1797, 8, 8)
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, rest = train_test_split(idx, test_size=0.4, random_state=split_seed, stratify=y)
    va, te = train_test_split(rest, test_size=0.5, random_state=split_seed, stratify=y[rest])
    splits = {k: FeatureSplit((images[i, :4], images[i, 4:]), y[i]) for k, i in (("train", tr), ("valid", va), ("test", te))}
    mods = (ModalitySpec("top", "sequence", (4, 8)), ModalitySpec("bottom", "sequence", (4, 8)))
    return FeatureDataset(DATASETS["digits"], mods, splits["train"], splits["valid"], splits["test"],
                          notes="sklearn load_digits split into top / bottom image halves (two views of one image)")


def load_dataset(dataset: str, path: str | os.PathLike | None = None, split_seed: int = 0) -> FeatureDataset:
    """Any data set by name: ``mosi``, ``mosei``, ``humor``, ``sarcasm``, ``mimic`` or ``digits``."""
    _spec(dataset)
    if dataset == "digits":
        return load_digits_halves(split_seed)
    if dataset == "mimic":
        return load_mimic(path, split_seed)
    return load_affect(dataset, path)
