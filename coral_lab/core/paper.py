"""The paper's facts in one place: its tables, seeds and chance levels.

Every number here is copied from the COrAL paper (``shared/paper/coral-paper.txt``) or, where the paper
is silent, from the published code (named beside the value); nothing here is measured by coral_lab.
The rest of the package imports these names from here, so a corrected value is corrected once.

- ``PAPER_TABLE1``: Trifeature linear probes, balanced accuracy % (mean, std over 5 seeds), per method
  and Table 1 column (``TABLE1_COLUMNS``: redundancy R, uniqueness U, synergy S).
- ``PAPER_TABLE1_PROTOCOLS``: how each of those rows was measured (the code that produced it).
- ``PAPER_TABLE2``: MultiBench linear probes, accuracy % (mean, std), per method and data set.
- ``PAPER_TABLE3``: COrAL's masking ablation on Trifeature, keyed by ``coral_lab.experiments.ablations``' variants.
- ``PAPER_FINETUNE``: section 5.6.5, SupCon fine-tuning on MOSI.
- ``CHANCE``: each Table 1 column's chance level in balanced accuracy % (10 classes for R and U, two
  for S); ``chance_percent(k)`` for any k-class task.
- ``PAPER_SEEDS``, ``SEED_STD_DDOF`` / ``SPREAD_NOTE``: the seeds and the spread statistic of the tables.

The tables are keyed by the names they print, which are the methods' display names
(``coral_lab.methods.display_name``); each method's published optimiser settings sit beside its class
(``coral_lab.methods.METHODS``).
"""

from __future__ import annotations

__all__ = [
    "TABLE1_COLUMNS",
    "PAPER_TABLE1",
    "PAPER_TABLE1_PROTOCOLS",
    "PAPER_TABLE2",
    "TABLE2_DATASETS",
    "PAPER_TABLE3",
    "PAPER_FINETUNE",
    "CHANCE",
    "chance_percent",
    "PAPER_SEEDS",
    "scale_of",
    "SEED_STD_DDOF",
    "SPREAD_NOTE",
]

# Table 1 / Table 3 columns, in the paper's order: redundancy R, uniqueness U, synergy S
TABLE1_COLUMNS = ("redundancy", "uniqueness", "synergy")

# Table 1: Trifeature, linear probe, balanced accuracy % (mean, std over seeds; None where not given)
PAPER_TABLE1: dict[str, dict[str, tuple[float, float | None]]] = {
    "CLIP": {"redundancy": (100.0, None), "uniqueness": (11.6, None), "synergy": (50.0, None)},
    "FactorCL": {"redundancy": (99.8, None), "uniqueness": (62.5, None), "synergy": (46.5, None)},
    "CoMM": {"redundancy": (99.9, None), "uniqueness": (87.8, None), "synergy": (71.9, None)},
    "InfMasking": {"redundancy": (99.9, 0.09), "uniqueness": (90.6, 2.31), "synergy": (77.0, 4.22)},
    "COrAL": {"redundancy": (99.7, 0.08), "uniqueness": (96.4, 1.08), "synergy": (74.4, 2.92)},
}

# how each Table 1 row was measured by the code that produced it (reference-results.md, "The published
# Trifeature evaluation protocols"); coral_lab's tables print it beside the row they compare with
PAPER_TABLE1_PROTOCOLS: dict[str, str] = {
    "COrAL": "the released COrAL script: C searched on the test pairs, final fit on probe-train + a random-crop "
             "copy of the test pairs, scored on another crop copy (coral_lab's 'published' protocol)",
    "CoMM": "CoMM's own script (Duplums/CoMM): C chosen on a 60/40 split of probe-train, fit on probe-train, "
            "scored on the test pairs",
    "CLIP": "CoMM's runs of CLIP (Duplums/CoMM), scored as CoMM's row",
    "InfMasking": "InfMasking's script (brightest66/InfMasking): the checkpoint kept and training early-stopped "
                  "by the probe's accuracy on the test pairs",
    "FactorCL": "the FactorCL Trifeature script (Duplums/FactorCL): (target, prediction) passed to torchmetrics' "
                "(preds, target), i.e. macro precision, not accuracy",
}

# Table 2: MultiBench, linear probe on Z, accuracy % (mean, std over seeds 41-45)
TABLE2_DATASETS = ("mimic", "mosei", "mosi", "humor", "sarcasm")
PAPER_TABLE2: dict[str, dict[str, tuple[float, float]]] = {
    model: dict(zip(TABLE2_DATASETS, cells))
    for model, cells in {
        "CLIP": ((66.0, 0.39), (64.2, 0.45), (50.6, 0.75), (57.4, 1.25), (65.5, 2.71)),
        "FactorCL": ((65.1, 0.21), (71.7, 1.38), (52.5, 1.74), (59.8, 0.77), (54.2, 2.40)),
        "CoMM": ((65.7, 0.42), (69.2, 0.48), (66.0, 1.67), (63.0, 1.08), (65.3, 2.21)),
        "InfMasking": ((67.7, 0.37), (69.7, 0.23), (67.2, 1.00), (62.8, 1.22), (65.5, 0.62)),
        "COrAL": ((67.4, 0.22), (70.4, 0.21), (67.9, 0.70), (63.5, 1.04), (64.4, 1.76)),
    }.items()
}

# Table 3: COrAL on Trifeature, 100 epochs, mean, std over 5 seeds; keyed by the variant names of
# coral_lab.experiments.ablations' masking study
PAPER_TABLE3: dict[str, dict[str, tuple[float, float]]] = {
    "increasing": {"redundancy": (99.7, 0.08), "uniqueness": (96.4, 1.08), "synergy": (74.4, 2.92)},
    "none": {"redundancy": (99.6, 0.22), "uniqueness": (93.9, 2.70), "synergy": (50.7, 0.38)},
    "static-25": {"redundancy": (99.7, 0.14), "uniqueness": (96.6, 1.39), "synergy": (74.8, 1.25)},
    "static-50": {"redundancy": (99.5, 0.08), "uniqueness": (97.4, 0.63), "synergy": (75.5, 1.09)},
    "static-75": {"redundancy": (98.6, 0.74), "uniqueness": (96.3, 0.64), "synergy": (76.9, 1.99)},
}

# section 5.6.5: SupCon fine-tuning on MOSI, accuracy % (mean, std)
PAPER_FINETUNE: dict[str, tuple[float, float]] = {"mosi": (75.3, 0.73)}


def chance_percent(n_classes: int) -> float:
    """The balanced accuracy % of a constant (or random) guess on a ``n_classes``-class task: 100 / k."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"a classification task has an int >= 2 classes, got {n_classes!r}")
    return 100.0 / n_classes


# R and U are read from 10-class tasks (shape, texture 1), S from a two-class one
CHANCE: dict[str, float] = {"redundancy": chance_percent(10), "uniqueness": chance_percent(10),
                            "synergy": chance_percent(2)}

# the seeds the paper's tables average over
PAPER_SEEDS = (41, 42, 43, 44, 45)

# The spread over seeds is the population std, np.std(ddof=0), as the published scripts compute it
# (Caro-Ci/COrAL main_trifeature.py), so that coral_lab's +- and the paper's are the same statistic
SEED_STD_DDOF = 0
SPREAD_NOTE = "+- is the std over seeds, np.std (ddof 0), as the paper's"


def scale_of(preset: str) -> str:
    """How a table's title names its scale: "the paper's scale" for the ``paper`` preset, else e.g.
    "the reduced 'quick' preset, not the paper's scale"."""
    return "the paper's scale" if preset == "paper" else f"the reduced '{preset}' preset, not the paper's scale"
