"""Learning-curve studies: where, at CPU scale, the paper's findings appear, measured against wall time.

A study is a named list of ``Variant`` s (config changes on top of a preset). Each variant is trained as
the *units* it names, per seed, and every unit is probed at a few checkpoint epochs, so a result is a
learning curve (score against epochs, pairs and training seconds), not an end point:

- ``unbiased``: the unbiased pairs, probed on redundancy (``share``) and uniqueness (``unique1``,
  ``unique2``) -> R, U;
- ``unbiased-no-ortho``: the same with lambda_o = 0 -> U without the orthogonality loss;
- ``biased``: the biased pairs, the variant's masking, probed on synergy -> S, and on what its shared
  pathway makes of one modality alone (``coral_lab.evaluation.analysis.one_modality_probe``: texture 1, color 2,
  and the texture -> color transfer that synergy needs);
- ``biased-no-mask``: the same with no masking -> S without masking (the paper's Table 3 contrast).

Every probe is the configured linear probe under each requested protocol (``coral_lab.evaluation.probe.probe_model``;
``held_out``: the unweighted fit, C chosen on a validation split of the probe-train pairs; ``published``:
the replica of the released script, on the scored tasks from Z) and records the validation score (to
choose settings on), the test score, the ROC-AUC and the protocol. Settings are chosen on the held-out
validation column; the test column is reported, never tuned on.

Layout of a study folder ``<out>/``: one unit folder ``<variant>/seed<S>-<unit>/`` (config, history,
checkpoint, ``curve.csv``) and ``curves.csv``, every unit's rows together. A unit resumes from its
checkpoint and keeps the probes it has, so an interrupted study continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from coral_lab.config import runs
from coral_lab.evaluation.analysis import one_modality_probe
from coral_lab.config import TEACHING_DATA, WHOLE_MODALITY_M16, RunConfig, require_trifeature
from coral_lab.evaluation.probe import probe_model, protocol_rows, with_protocol
from coral_lab.core.device import worker_threads
from coral_lab.core.io import atomic_write_text, load_checkpoint
from coral_lab.evaluation.protocol import check_protocols, check_seeds, unit_probe_plan
from coral_lab.config import HELD_OUT
from coral_lab.training.pretrain import load_benchmark, pretrain
from coral_lab.experiments.units import unit_config
from coral_lab.core.workers import run_with_threads, unit_pool

__all__ = [
    "UNIT_KINDS",
    "UNIT_TASKS",
    "CURVE_COLUMNS",
    "Variant",
    "STUDIES",
    "study_variants",
    "probe_epochs",
    "variant_unit_config",
    "run_curve_unit",
    "run_study",
    "collect_curves",
    "final_scores",
    "AUDIT_TABLE",
    "AUDIT_SCORES",
    "audit_table",
    "STUDY_TABLES",
]

# unit kind -> (pair set, config changes on top of the variant's)
UNIT_KINDS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "unbiased": ("unbiased", {}),
    "unbiased-no-ortho": ("unbiased", {"loss": {"lambda_o": 0.0}}),
    "biased": ("biased", {}),
    "biased-no-mask": ("biased", {"train": {"mask_schedule": None}}),
}
# the probes of each pair set, (task, feature set): unbiased -> R, U from Z; biased -> S from Z and from
# the shared subspace Z^SR alone (where synergy should live)
UNIT_TASKS = {
    "unbiased": (("share", "Z"), ("unique1", "Z"), ("unique2", "Z")),
    "biased": (("synergy", "Z"), ("synergy", "shared")),
}
CURVE_COLUMNS = ["variant", "unit", "seed", "epoch", "pairs_seen", "train_seconds", "probe_seconds", "protocol",
                 "task", "features", "balanced_accuracy", "val_balanced_accuracy", "roc_auc", "C"]
ONE_MODALITY = "shared, one modality"  # the features of coral_lab.evaluation.analysis.one_modality_probe's rows
CURVE = "curve.csv"
CURVES = "curves.csv"


@dataclass(frozen=True)
class Variant:
    """One setting of a study: ``changes`` go to ``RunConfig.replace``; ``units`` are the unit kinds trained."""

    name: str
    label: str
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    units: tuple[str, ...] = ("unbiased", "biased", "biased-no-mask")

    def __post_init__(self) -> None:
        unknown = set(self.units) - set(UNIT_KINDS)
        if unknown:
            raise ValueError(f"unknown unit kind(s) {sorted(unknown)}; valid: {list(UNIT_KINDS)}")
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"a variant name must be a plain folder name, got {self.name!r}")


# the quick preset as it was when the screen ran (4 x 4 tokens, the paper's schedule), on today's quick preset
SCREEN_BASE: dict[str, dict[str, Any]] = {"model": {"encoder_stem_stride": 1}, "train": {"mask_schedule": "paper"}}


def _on(base: dict[str, dict[str, Any]], changes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``changes`` on top of ``base``, section by section."""
    out = {k: dict(v) for k, v in base.items()}
    for section, values in changes.items():
        out.setdefault(section, {}).update(values)
    return out


def _screen() -> list[Variant]:
    """One factor at a time against the quick preset as it was before the study (``SCREEN_BASE``: 4 x 4
    tokens, the paper's schedule), on what can matter at small scale; one seed, 10 epochs.

    Run it as it ran: ``coral-lab study --name screen --preset quick --set
    "probe.C_grid=(0.001,0.01,0.1,1.0,10.0)"`` (the probe grid of that time).
    """
    stem2 = {"model": {"encoder_stem_stride": 2}}  # 32 px -> 2 x 2 tokens per modality
    s90 = {"train": {"mask_schedule": 0.9}}
    variants = [
        ("base", "the quick preset before the study (4 x 4 tokens, paper schedule)", {},
         ("unbiased", "unbiased-no-ortho", "biased", "biased-no-mask")),
        ("static90", "static 90 % masking", s90, ("biased",)),
        ("s90-lr3e-3", "static 90 %, lr 3e-3", _on(s90, {"train": {"lr": 3e-3}}), ("biased",)),
        ("px64-stem2", "64 px, stride-2 stem (4 x 4 tokens)", {"data": {"image_size": 64}, **stem2}, ("biased",)),
        ("s90-px64-stem2", "static 90 %, 64 px, stride-2 stem", _on(s90, {"data": {"image_size": 64}, **stem2}),
         ("biased",)),
        ("px32-stem2", "stride-2 stem (2 x 2 tokens)", stem2, ("unbiased", "biased", "biased-no-mask")),
        ("s90-px32-stem2", "static 90 %, 2 x 2 tokens", _on(s90, stem2), ("biased", "unbiased")),
        ("s95-px32-stem2", "static 95 %, 2 x 2 tokens", _on({"train": {"mask_schedule": 0.95}}, stem2), ("biased",)),
        ("s90-px32-stem2-d128", "static 90 %, 2 x 2 tokens, D = 128",
         _on(s90, {"model": {"encoder_stem_stride": 2, "embed_dim": 128, "proj_hidden": 256, "proj_dim": 128}}),
         ("biased",)),
        ("s90-px32-stem2-cos", "static 90 %, 2 x 2 tokens, cosine lr",
         _on(s90, {"train": {"lr_schedule": "cosine"}, **stem2}), ("biased",)),
        ("px32-stem2-cos", "2 x 2 tokens, cosine lr", _on({"train": {"lr_schedule": "cosine"}}, stem2), ("unbiased",)),
        ("s90-px32-stem2-b32", "static 90 %, 2 x 2 tokens, batch 32", _on(s90, {"train": {"batch_size": 32}, **stem2}),
         ("biased",)),
        ("px32-stem2-b32", "2 x 2 tokens, batch 32", _on({"train": {"batch_size": 32}}, stem2), ("unbiased",)),
    ]
    return [Variant(name, label, _on(SCREEN_BASE, changes), units) for name, label, changes, units in variants]


def _confirm() -> list[Variant]:
    """A preset as it is, over seeds: R, U (lambda_o = 1 and 0), S with the preset's masking, without
    masking, and with the paper's increasing schedule."""
    return [
        Variant("preset", "the preset as it is", {}, ("unbiased", "unbiased-no-ortho", "biased", "biased-no-mask")),
        Variant("paper-schedule", "the paper's increasing schedule 5 -> 35 -> 55 -> 75 %",
                {"train": {"mask_schedule": "paper"}}, ("biased",)),
    ]


def _levers() -> list[Variant]:
    """One factor at a time against today's quick preset, on what the screen did not vary (issue 12 part 2):
    encoder width, D, the crop scale, the color-destroying augmentations (hue jitter and grayscale act on
    the color that synergy needs), the batch size and twice the epochs, two of them together, and the
    teaching variant of the data (``DataConfig.n_textures``). Run as results/study-levers-quick/README.md says."""
    variants = [
        ("preset", "the quick preset as it is", {}),
        ("crop50", "crop scale 0.5-1 (preset: 0.25-1)", {"augment": {"crop_scale": (0.5, 1.0)}}),
        ("crop80", "crop scale 0.8-1 (preset: 0.25-1)", {"augment": {"crop_scale": (0.8, 1.0)}}),
        ("keep-color", "no hue jitter, no grayscale", {"augment": {"hue": 0.0, "grayscale_p": 0.0}}),
        ("width32", "encoder width 32 (preset: 16)", {"model": {"encoder_width": 32}}),
        ("d128", "D = 128, heads 256 -> 128 (preset: 64, 128 -> 64)",
         {"model": {"embed_dim": 128, "proj_hidden": 256, "proj_dim": 128}}),
        ("b32", "batch 32 (preset: 64), same pairs", {"train": {"batch_size": 32}}),
        ("e20", "20 epochs (preset: 10)", {"train": {"epochs": 20}}),
        ("crop80-width32", "crop scale 0.8-1 and encoder width 32 (the two that helped, together)",
         {"augment": {"crop_scale": (0.8, 1.0)}, "model": {"encoder_width": 32}}),
    ]
    out = [Variant(name, label, changes, ("unbiased", "biased")) for name, label, changes in variants]
    # the teaching variant (never the benchmark): config.TEACHING_DATA
    teach = {"data": dict(TEACHING_DATA)}
    out.append(Variant("teach4", "teaching variant: 4 textures, their 4 partner colors", teach,
                       ("unbiased", "biased", "biased-no-mask")))
    out.append(Variant("teach4-crop80", "teaching variant with crop scale 0.8-1",
                       _on(teach, {"augment": {"crop_scale": (0.8, 1.0)}}), ("unbiased", "biased", "biased-no-mask")))
    return out


# the widths of the audit study: D (tokens, fusion), the projection heads' hidden and output widths; Z has
# D + 2 * D / 2 = 2 D dimensions (the paper's D = 512 gives its Z of 1,024, with its heads 512 -> 256)
AUDIT_WIDTHS = {64: (128, 64), 128: (256, 128), 256: (512, 256), 512: (512, 256)}


def _audit() -> list[Variant]:
    """Where the gap between the two probe protocols comes from, and what synergy needs (issue 24 part 3):
    the quick preset with one factor changed at a time, every unit kind (R, U with lambda_o = 1 and 0,
    S with and without masking), run with ``--protocol held_out published published_shuffled``:

    - the embedding width D = 64 (the preset), 128, 256 and 512 (the paper's Z of 1,024 dimensions);
    - the image size and tokens: 32 px with a stride-1 stem (4 x 4 tokens, as the long preset) and 64 px
      with the stride-2 stem (4 x 4 tokens), against the preset's 32 px 2 x 2; and both with the mask
      ratio (``WHOLE_MODALITY_M16``) that hides a whole modality as often as 90 % does with 2 x 2 tokens
      (``-m974``: is it the hidden modality, not the token count, that synergy needs?);
    - the budget: 30 and 100 epochs of the 10,000 pairs (100 x 10,000 is the paper's), probed along the
      way (``--probe-every``) for learning curves; at 30 epochs R / U and S units only, at 100 every kind
      (U with lambda_o = 0 and S without masking as well);
    - the candidates for Table 1 under the published protocol within an hour a pretraining, probed along the
      way: 4 x 4 tokens (the long preset's) for 80 epochs, and the 64 px, 97.4 % model for 60 epochs.
    """
    variants = []
    for d, (hidden, proj) in AUDIT_WIDTHS.items():
        changes = {} if d == 64 else {"model": {"embed_dim": d, "proj_hidden": hidden, "proj_dim": proj}}
        variants.append(Variant(f"d{d}", f"D = {d} (Z of {2 * d} dimensions)", changes, tuple(UNIT_KINDS)))
    # 4 x 4 tokens per image two ways, each also with the mask that hides a whole modality as often as the
    # preset's 90 % does with 2 x 2 tokens (WHOLE_MODALITY_M16)
    inputs = (("tokens4x4", "32 px, 4 x 4 tokens", " (stride-1 stem, as the long preset)",
               {"model": {"encoder_stem_stride": 1}}),
              ("px64", "64 px, 4 x 4 tokens", " (stride-2 stem)", {"data": {"image_size": 64}}))
    for name, label, stem, changes in inputs:
        variants.append(Variant(name, label + stem, changes, tuple(UNIT_KINDS)))
    for name, label, _, changes in inputs:
        masked = _on(changes, {"train": {"mask_schedule": WHOLE_MODALITY_M16}})
        variants.append(Variant(f"{name}-m974", f"{label}, static 97.4 % masking (a modality hidden as often as "
                                "90 % hides one of 2 x 2)", masked, ("biased", "unbiased")))
    variants.append(Variant("e30", "30 epochs (preset: 10)", {"train": {"epochs": 30}}, ("unbiased", "biased")))
    variants.append(Variant("e100", "100 epochs (preset: 10)", {"train": {"epochs": 100}}, tuple(UNIT_KINDS)))
    # the strongest R / U of the earlier studies (the long preset's 4 x 4 tokens) at the most epochs that fit
    # the 60 minutes a pretraining may take on the 2-core machine (about 0.65 min an epoch, one thread)
    variants.append(Variant("tokens4x4-e80", "32 px, 4 x 4 tokens, 80 epochs",
                            {"model": {"encoder_stem_stride": 1}, "train": {"epochs": 80}}, ("unbiased", "biased")))
    # the nearest a 10-epoch unit came to Table 1's R (64 px, 4 x 4 tokens, 97.4 % mask: held out R 98.8) at
    # the most epochs that fit the hour (about 0.94 min an epoch, one thread, two units at once), with the
    # biased unit unmasked as well for Table 3's contrast (S with masking against S without)
    px64_m974 = _on(inputs[1][3], {"train": {"mask_schedule": WHOLE_MODALITY_M16, "epochs": 60}})
    variants.append(Variant("px64-m974-e60", "64 px, 4 x 4 tokens, static 97.4 % masking, 60 epochs", px64_m974,
                            ("unbiased", "biased", "biased-no-mask")))
    return variants


AUDIT_TABLE = "protocol_audit.csv"
# the audit's Table 1 scores: name -> (unit kind, task), all read from Z
AUDIT_SCORES = {"R": ("unbiased", "share"), "U": ("unbiased", "unique1"),
                "U (lambda_o = 0)": ("unbiased-no-ortho", "unique1"), "S": ("biased", "synergy"),
                "S (no masking)": ("biased-no-mask", "synergy")}
AUDIT_COLUMNS = ["variant", "label", "z_dim", "image_size", "stem_stride", "epochs", "epoch", "pairs_seen", "unit",
                 "seed", "protocol", "score", "balanced_accuracy", "roc_auc"]


def audit_table(curves: pd.DataFrame, cfg: RunConfig) -> pd.DataFrame:
    """The audit study's tidy result (``AUDIT_TABLE``): every Table 1 score (``AUDIT_SCORES``) of every
    probed epoch, unit, seed and protocol, with the factors of its variant (Z's dimension, image size,
    stem stride, epochs) read from the unit's config on top of ``cfg`` (the preset the study ran on)."""
    variants = study_variants("audit")
    rows = with_protocol(curves)
    rows = rows[(rows["features"] == "Z") & rows["variant"].isin(list(variants))]
    out = []
    for score, (unit, task) in AUDIT_SCORES.items():
        sel = rows[(rows["unit"] == unit) & (rows["task"] == task)]
        for r in sel.itertuples():
            ucfg = variant_unit_config(cfg, variants[r.variant], int(r.seed), unit)
            out.append({"variant": r.variant, "label": variants[r.variant].label, "z_dim": 2 * ucfg.model.embed_dim,
                        "image_size": ucfg.data.image_size, "stem_stride": ucfg.model.encoder_stem_stride,
                        "epochs": ucfg.train.epochs, "epoch": int(r.epoch), "pairs_seen": int(r.pairs_seen),
                        "unit": unit, "seed": int(r.seed), "protocol": r.protocol, "score": score,
                        "balanced_accuracy": float(r.balanced_accuracy), "roc_auc": float(r.roc_auc)})
    return pd.DataFrame(out, columns=AUDIT_COLUMNS)


# a study's extra result tables: study name -> [(file name, table of its curves and preset config)]
STUDY_TABLES: dict[str, list[tuple[str, Callable[[pd.DataFrame, RunConfig], pd.DataFrame]]]] = {
    "audit": [(AUDIT_TABLE, audit_table)],
}


# study name -> its variants (a function, so every call builds fresh ones)
STUDIES: dict[str, Callable[[], list[Variant]]] = {"screen": _screen, "confirm": _confirm, "levers": _levers,
                                                   "audit": _audit}


def study_variants(name: str) -> dict[str, Variant]:
    """The variants of study ``name`` by variant name; an unknown study lists the valid ones."""
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; valid studies: {sorted(STUDIES)}")
    variants = STUDIES[name]()
    return {v.name: v for v in variants}


def probe_epochs(epochs: int, every: int) -> list[int]:
    """The checkpoint epochs probed: ``every``, ``2 every``, ..., and always the last epoch."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"probe every must be a positive int (epochs between probes), got {every!r}")
    return sorted({*range(every, epochs + 1, every), epochs})


def variant_unit_config(cfg: RunConfig, variant: Variant, seed: int, unit: str) -> RunConfig:
    """The validated config of one unit of a study: the preset, the variant's changes, the unit kind's
    changes, then the Table 1 unit's seed and pair set (``coral_lab.experiments.units.unit_config``)."""
    if unit not in UNIT_KINDS:
        raise ValueError(f"unknown unit kind {unit!r}; valid: {list(UNIT_KINDS)}")
    train_set, unit_changes = UNIT_KINDS[unit]
    return unit_config(cfg.replace(**variant.changes).replace(**unit_changes), seed, train_set).validate()


def _read_curve(unit_dir: Path, ucfg: RunConfig | None = None) -> pd.DataFrame:
    """A unit's curve rows if they were written for its current training and config (``runs.read_table``;
    ``ucfg`` None: the config the unit folder records), else none: rows of another training or config
    are never read as this unit's."""
    try:
        saved = RunConfig.from_json(unit_dir / runs.CONFIG)
    except (OSError, ValueError):
        return pd.DataFrame(columns=CURVE_COLUMNS)
    ucfg = saved if ucfg is None else ucfg
    rows = runs.read_table(unit_dir, CURVE, ucfg)
    if rows is None:
        rows = _legacy_curve(unit_dir, saved, ucfg)
    if rows is None:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return with_protocol(rows)[CURVE_COLUMNS]  # rows from before the replica are held out


def _legacy_curve(unit_dir: Path, saved: RunConfig, ucfg: RunConfig) -> pd.DataFrame | None:
    """A curve.csv written before curves were tied to their training (no run_id / config_hash columns): a
    study only ever probed the training of its own folder, so the rows are that training's, and they are
    read while the folder's config is ``ucfg`` (their earlier epochs cannot be probed again)."""
    try:
        rows = pd.read_csv(unit_dir / CURVE)
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    if set(runs.TABLE_KEYS) & set(rows.columns) or saved.experiment_dict() != ucfg.experiment_dict():
        return None
    return rows


def _probe_plan(protocol: str, train_set: str) -> tuple[list[str], list[str]]:
    """(tasks, feature sets) probed at a checkpoint: held out, the unit's ``UNIT_TASKS``; the published
    protocol and its control, as the released script, the tasks the unit is scored on, from Z only."""
    if protocol == HELD_OUT:
        pairs = UNIT_TASKS[train_set]
        return list(dict.fromkeys(t for t, _ in pairs)), list(dict.fromkeys(f for _, f in pairs))
    tasks, feats = unit_probe_plan(protocol, train_set, ("Z",))
    return list(tasks), list(feats)


def run_curve_unit(
    cfg: RunConfig,
    variant: Variant,
    seed: int,
    unit: str,
    out_dir: str | Path,
    *,
    every: int,
    device: str = "cpu",
    progress: bool = False,
    benchmark=None,
    protocols: Sequence[str] = (HELD_OUT,),
) -> pd.DataFrame:
    """Train one unit epoch block by epoch block, probing at ``probe_epochs`` under each of
    ``protocols``; returns its curve rows.

    Rows already in the unit's ``curve.csv`` are kept (a unit whose last epoch is probed under every
    protocol is not run again); the checkpoint makes the training resume exactly. A protocol added
    later is probed at the epochs still ahead and at the checkpoint's own epoch (the weights of earlier
    epochs are gone).
    """
    ucfg = variant_unit_config(cfg, variant, seed, unit)
    protocols = check_protocols(protocols)
    unit_dir = runs.unit_dir(Path(out_dir) / variant.name, seed, unit)
    rows = _read_curve(unit_dir, ucfg)
    marks = probe_epochs(ucfg.train.epochs, every)
    done = set(zip(rows["epoch"].astype(int), rows["protocol"])) if len(rows) else set()
    if all((e, p) in done for e in marks for p in protocols):
        return rows
    bench = benchmark if benchmark is not None else load_benchmark(ucfg, progress=progress)
    frames = [rows] if len(rows) else []
    checkpoint = unit_dir / runs.CHECKPOINT
    # the epochs the checkpoint holds (the run's commit point: history.csv may lag it after a kill)
    trained = int(load_checkpoint(checkpoint)["epoch"]) if checkpoint.is_file() else 0
    for mark in marks:
        missing = [p for p in protocols if (mark, p) not in done]
        if not missing or mark < trained:  # probed, or passed before a probe could run: weights are gone
            continue
        res = pretrain(ucfg, unit_dir, benchmark=bench, device=device, progress=progress,
                       max_epochs_this_call=mark - trained)
        history = res.history
        trained = len(history)
        if trained != mark:  # never probe weights under another epoch's label
            raise RuntimeError(f"{unit_dir} holds epoch {trained} where the study expected {mark}; rerun the study")
        for protocol in missing:
            t0 = time.perf_counter()
            tasks, feats = _probe_plan(protocol, ucfg.train.train_set)
            pcfg = ucfg.replace(probe={"protocol": protocol}).probe
            block = probe_model(res.model, bench, tasks=tasks, subspaces=feats, probe_cfg=pcfg,
                                augment_cfg=ucfg.augment, seed=seed)
            if protocol == HELD_OUT:
                keep = set(UNIT_TASKS[ucfg.train.train_set])
                block = block[[(t, f) in keep for t, f in zip(block["task"], block["features"])]]
            new = block.to_dict("records")
            if protocol == HELD_OUT and ucfg.train.train_set == "biased":
                # the mechanism: does Z^SR map texture t where color pi(t) lands?
                for r in one_modality_probe(res.model, bench, probe_cfg=ucfg.probe, augment_cfg=ucfg.augment,
                                            seed=seed).itertuples():
                    new.append({"task": r.measure, "features": ONE_MODALITY, "balanced_accuracy": r.balanced_accuracy,
                                "val_balanced_accuracy": float("nan"), "roc_auc": float("nan"), "C": float("nan"),
                                "protocol": protocol})
            block = pd.DataFrame(new)
            block.insert(0, "probe_seconds", time.perf_counter() - t0)
            block.insert(0, "train_seconds", float(history["seconds"].sum()))
            block.insert(0, "pairs_seen", mark * (ucfg.data.n_train_pairs // ucfg.train.batch_size) * ucfg.train.batch_size)
            block.insert(0, "epoch", mark)
            block.insert(0, "seed", seed)
            block.insert(0, "unit", unit)
            block.insert(0, "variant", variant.name)
            frames.append(block[CURVE_COLUMNS])
            rows = pd.concat(frames, ignore_index=True)
            runs.write_table(unit_dir, CURVE, rows, ucfg)  # tied to this training and config
            done.add((mark, protocol))
    return rows


def collect_curves(out_dir: str | Path) -> pd.DataFrame:
    """Every unit's curve rows under a study folder, in one tidy frame (``CURVE_COLUMNS``)."""
    out_dir = Path(out_dir)
    frames = [_read_curve(p.parent) for p in sorted(out_dir.glob(f"*/{runs.UNIT_GLOB}/{CURVE}"))]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def run_study(
    name: str,
    cfg: RunConfig,
    out_dir: str | Path,
    *,
    seeds: Sequence[int],
    every: int,
    variants: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    device: str = "cpu",
    jobs: int = 1,
    on_unit_end: Callable[[str, int, str, pd.DataFrame], None] | None = None,
    protocols: Sequence[str] = (HELD_OUT,),
) -> pd.DataFrame:
    """Run (or resume) a study's units; ``curves.csv`` is rewritten after every finished unit.

    Args:
        name: a key of ``STUDIES``.
        cfg: the preset config every variant starts from.
        seeds: training seeds, each unit once per seed.
        every: probe every this many epochs (and at the last).
        variants: run only these variant names (default: all of the study).
        units: train these unit kinds of every chosen variant instead of the variant's own.
        jobs: units trained at once, each in its own process with ``cpu_count // jobs`` torch threads.
        protocols: the probe protocols of every checkpoint probe (each row names its own).
    """
    require_trifeature(cfg, "a learning-curve study")
    protocols = check_protocols(protocols)
    table = study_variants(name)
    chosen = list(table) if variants is None else list(variants)
    unknown = [v for v in chosen if v not in table]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown} of study {name!r}; valid: {list(table)}")
    seeds = check_seeds(seeds)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    probe_epochs(cfg.train.epochs, every)  # checks every
    if units is not None and set(units) - set(UNIT_KINDS):
        raise ValueError(f"unknown unit kind(s) {sorted(set(units) - set(UNIT_KINDS))}; valid: {list(UNIT_KINDS)}")
    units = [(table[v], seed, unit) for v in chosen for seed in seeds
             for unit in (table[v].units if units is None else units)]
    for variant, seed, unit in units:  # every unit's config is valid before anything trains
        variant_unit_config(cfg, variant, seed, unit)
    out_dir = runs.claim_experiment(out_dir, "study")
    with runs.RunLock(out_dir):  # one command writes the study's tables at a time
        return _run_units(units, cfg, out_dir, every, device, jobs, on_unit_end, protocols)


def _run_units(units, cfg, out_dir, every, device, jobs, on_unit_end, protocols) -> pd.DataFrame:

    def finished(variant: Variant, seed: int, unit: str, rows: pd.DataFrame) -> None:
        atomic_write_text(out_dir / CURVES, collect_curves(out_dir).to_csv(index=False))
        if on_unit_end is not None:
            on_unit_end(variant.name, seed, unit, rows)

    if jobs == 1:
        for variant, seed, unit in units:
            finished(variant, seed, unit, run_curve_unit(cfg, variant, seed, unit, out_dir, every=every, device=device,
                                                         protocols=protocols))
    else:
        threads = (worker_threads(device, jobs, cfg.train.num_threads) or 0) if device == "cpu" else 0
        # render every data set the units need (sizes, teaching subsets) once, before the workers start
        datasets = {}
        for v, s, u in units:
            ucfg = variant_unit_config(cfg, v, s, u)
            datasets.setdefault(dataclasses.astuple(ucfg.data), ucfg)
        for ucfg in datasets.values():
            load_benchmark(ucfg, progress=False)
        with unit_pool(jobs) as pool:
            futures = {pool.submit(run_with_threads, threads, run_curve_unit, cfg, v, s, u, str(out_dir), every=every,
                                       device=device, protocols=protocols): (v, s, u)
                       for v, s, u in units}
            for fut in as_completed(futures):
                v, s, u = futures[fut]
                try:
                    rows = fut.result()
                except Exception as e:
                    for other in futures:
                        other.cancel()
                    raise RuntimeError(
                        f"unit {v.name} / seed {s} / {u} failed in its worker ({type(e).__name__}: {e}); finished "
                        f"probes are kept in {out_dir} and the study resumes when the command is repeated"
                    ) from e
                finished(v, s, u, rows)
    curves = collect_curves(out_dir)
    atomic_write_text(out_dir / CURVES, curves.to_csv(index=False))
    return curves


# which (unit, task) gives each Table 1 column of a study's final scores
FINAL_COLUMNS = {
    "R": ("unbiased", "share"),
    "U": ("unbiased", "unique1"),
    "U (lambda_o = 0)": ("unbiased-no-ortho", "unique1"),
    "S": ("biased", "synergy"),
    "S (no masking)": ("biased-no-mask", "synergy"),
}


def final_scores(curves: pd.DataFrame, column: str = "balanced_accuracy", protocol: str = HELD_OUT) -> pd.DataFrame:
    """Per variant: the mean over seeds, at each unit's last probed epoch, of every ``FINAL_COLUMNS`` score
    under one probe ``protocol``.

    ``column`` picks the score (``balanced_accuracy`` on the test pairs, ``val_balanced_accuracy``,
    ``roc_auc``). Also the mean training seconds of the variant's units and the number of seeds.
    """
    curves = protocol_rows(curves, protocol)
    if curves.empty:
        return pd.DataFrame()
    last = curves.loc[curves.groupby(["variant", "unit", "seed"])["epoch"].transform("max") == curves["epoch"]]
    out = []
    for variant, g in last.groupby("variant", sort=False):
        row: dict[str, Any] = {"variant": variant, "protocol": protocol}
        for name, (unit, task) in FINAL_COLUMNS.items():
            sel = g[(g["unit"] == unit) & (g["task"] == task) & (g["features"] == "Z")]
            row[name] = sel[column].mean() if len(sel) else float("nan")
        row["train_seconds"] = g.drop_duplicates(["unit", "seed"])["train_seconds"].mean()
        row["n_seeds"] = g["seed"].nunique()
        out.append(row)
    return pd.DataFrame(out)
