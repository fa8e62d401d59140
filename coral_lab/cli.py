"""The ``coral-lab`` command line: data, pretrain, probe, reproduce, quickstart, compare, ablate, study, figures.

Every command takes ``--preset ci|quick|long|hour|paper`` and ``--device auto|cpu|cuda``; any config field can
be changed with ``--set section.field=value`` (e.g. ``--set loss.lambda_o=3``). Output goes to one
run folder (config, history, checkpoint, result CSVs, provenance sidecar).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from coral_lab.core import distributed
from coral_lab.config import runs
from coral_lab.experiments.ablations import format_ablation, results_path, run_ablation, summarize_ablation
from coral_lab.experiments.ablations import ablation_variants
from coral_lab.config import (
    CLI_FLAGS,
    DATA_SOURCES,
    PRESETS,
    TRIFEATURE,
    TRIFEATURE_ONLY_FLAGS,
    RunConfig,
    get_preset,
    overrides_from_args,
)
from coral_lab.data import PAIR_KINDS, CacheError, cache_path, load_or_render
from coral_lab.core.device import describe_device, resolve_device
from coral_lab.evaluation.probe import probe_model
from coral_lab.core.io import CheckpointError, atomic_write_text
from coral_lab.objectives.losses import ORTHO_KINDS
from coral_lab.methods import METHODS, check_config, display_name, subspaces, with_method
from coral_lab.multibench.cli import reproduce_features
from coral_lab.core.paper import PAPER_SEEDS, scale_of
from coral_lab.evaluation.protocol import format_table1, run_table1
from coral_lab.config.provenance import RUN_KEYS, earlier_runs, mark_start, provenance, write_sidecar
from coral_lab.config import HELD_OUT, PROTOCOL_LABELS, PROTOCOLS
from coral_lab.experiments.compare import comparison_table, paper_pattern, wide_table, write_comparison
from coral_lab.experiments.study import STUDY_TABLES, collect_curves, final_scores, run_study, study_variants
from coral_lab.training.pretrain import load_benchmark, load_model, pretrain

__all__ = ["main", "build_parser"]


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """The preset of ``--preset`` for ``--dataset`` (default Trifeature, ``config.get_preset``) with the
    command line's method and overrides applied, validated; a bad value stops with one line.

    Every flag of ``config.CLI_FLAGS`` sets its field on every data source, except the Trifeature-only
    ones (``TRIFEATURE_ONLY_FLAGS``, and ``--seed`` where the Table 2 protocol takes ``--seeds``);
    ``--data-path`` and ``--finetune`` apply to feature data sets only.
    """
    dataset = getattr(args, "dataset", None) or TRIFEATURE
    trifeature = dataset == TRIFEATURE
    if trifeature and (getattr(args, "data_path", None) or getattr(args, "finetune", False)):
        raise SystemExit("error: --data-path and --finetune apply to feature data sets (--dataset mosi, ..., digits)")
    if not trifeature:
        for flag in TRIFEATURE_ONLY_FLAGS:
            if getattr(args, flag, None) is not None:
                raise SystemExit(f"error: --{flag.replace('_', '-')} applies to Trifeature only, not --dataset {dataset}")
    try:
        cfg = get_preset(args.preset, dataset)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None
    method = getattr(args, "method", None)
    if method is not None:
        cfg = with_method(cfg, method)  # at Trifeature's paper preset also the method's published lr / wd
    if getattr(args, "finetune", False) and cfg.method != "coral":
        raise SystemExit(f"error: --finetune (SupCon, paper 5.6.5) is COrAL-only; drop it for --method {cfg.method}")
    flags = CLI_FLAGS if trifeature else {f: v for f, v in CLI_FLAGS.items() if f not in (*TRIFEATURE_ONLY_FLAGS, "seed")}
    changes = overrides_from_args(args, flags, nested=True,
                                  example="loss.lambda_o=3" if trifeature else "finetune.mask_ratio=0.3")
    if getattr(args, "data_path", None):
        changes.setdefault("data", {})["path"] = args.data_path
    try:
        # the config's own checks, then the method registry's (a known method, each method's settings)
        return check_config(cfg.replace(**changes).validate())
    except ValueError as e:
        raise SystemExit(f"error: {e}") from None


def _common(p: argparse.ArgumentParser, device: bool = True) -> None:
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS),
                   help="ci: seconds (tests); quick: minutes on a 2-core CPU; paper: the published scale, for a GPU")
    if device:
        p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu or cuda")
    p.add_argument("--cache-dir", help="where rendered images are cached (default: ./data)")
    p.add_argument("--image-size", type=int, help="render and train at this resolution (pixels)")
    p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE",
                   help="change any config field, e.g. --set loss.lambda_o=3 (repeatable)")


def _training(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--mask-schedule", help="'paper' (5/35/55/75 %% per quarter), a ratio such as 0.5, or 'none'")
    p.add_argument("--lambda-s", type=float, help="weight of the shared InfoNCE (eq. 3)")
    p.add_argument("--lambda-u", type=float, help="weight of the unique InfoNCE terms (eq. 3)")
    p.add_argument("--lambda-o", type=float, help="weight of the orthogonality loss (eq. 3, 8)")
    p.add_argument("--ortho-kind", choices=list(ORTHO_KINDS), help="hinge = paper eq. 7; squared = released code")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=_jobs_value, default="auto",
                   help="(seed, pretraining) units trained at once, each in its own process on the same device "
                        "(a GPU is mostly idle with one run at batch 64); default auto: on a CPU one process per "
                        "core with one torch thread each (measured fastest, see docs/measured.md), up to the number of "
                        "units; on a GPU 1")


def _jobs_value(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--jobs takes a positive int or 'auto', got {text!r}") from None


def resolve_jobs(jobs: int | str, device, n_units: int) -> int:
    """``--jobs``: an int as given; ``"auto"``: on a CPU min(cores, units) one-thread processes, else 1."""
    if jobs != "auto":
        return jobs
    if torch.device(device).type == "cpu" and (os.cpu_count() or 1) >= 2 and n_units >= 2:
        return min(os.cpu_count() or 1, n_units)
    return 1


# the probe protocols a command scores under unless --protocol says otherwise: both, so that every number
# printed beside a paper number has its like-for-like companion
DEFAULT_PROTOCOLS = ("held_out", "published")


def _protocol(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", nargs="+", choices=list(PROTOCOLS), default=None,
                   help="probe protocol(s), each scored and saved on its own: held_out (coral_lab's: C on a split of "
                        "probe-train, fit on probe-train, test pairs used once), published (a replica of the released "
                        "COrAL script: C searched on the test pairs, fit on probe-train + a crop copy of them), "
                        "published_shuffled (its memorisation control). Default: held_out published")


def protocols_from_args(args: argparse.Namespace, cfg: RunConfig) -> tuple[str, ...]:
    """``--protocol`` (default ``DEFAULT_PROTOCOLS`` on Trifeature, ``held_out`` on feature data); the
    protocol of a probe is chosen here, not with ``--set probe.protocol``."""
    if any(item.split("=", 1)[0].strip() == "probe.protocol" for item in getattr(args, "set", None) or []):
        raise SystemExit("error: choose the probe protocols with --protocol (e.g. --protocol held_out published), "
                         "not --set probe.protocol")
    chosen = getattr(args, "protocol", None)
    if not cfg.is_trifeature:
        if chosen and set(chosen) != {HELD_OUT}:
            raise SystemExit(f"error: --protocol {' '.join(chosen)}: the published protocol replicates the released "
                             "Trifeature script; a feature data set is probed held out only")
        return (HELD_OUT,)
    return tuple(dict.fromkeys(chosen or DEFAULT_PROTOCOLS))


def _method(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=list(METHODS), default=None,
                   help="pretraining method (default coral); the baselines of the paper's Table 1 use the same "
                        "encoders; at --preset paper each takes its published lr / weight decay")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coral-lab", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error (by default: one line that says what to do)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="render the Trifeature images into the cache")
    _common(p, device=False)
    p.add_argument("--out", help="cache folder (same as --cache-dir)")
    p.set_defaults(func=cmd_data)

    p = sub.add_parser("pretrain", help="pretrain one COrAL (or baseline, --method) model")
    _common(p)
    _training(p)
    _method(p)
    p.add_argument("--out", required=True, help="run folder (resumes if it holds a checkpoint of the same config)")
    p.add_argument("--train-set", choices=list(PAIR_KINDS))
    p.add_argument("--seed", type=int)
    p.add_argument("--no-resume", action="store_true", help="start over even if --out holds a checkpoint")
    p.set_defaults(func=cmd_pretrain)

    p = sub.add_parser("probe", help="linear-probe a pretrained run")
    p.add_argument("--run", required=True, help="run folder written by `coral-lab pretrain`")
    p.add_argument("--device", default="auto")
    p.add_argument("--features", nargs="+", default=["Z"],
                   help="feature sets: Z (concatenation) and the method's subspaces (COrAL: shared, unique1, "
                        "unique2; CLIP: modality1, modality2; CoMM / InfMasking: fused; FactorCL: shared, "
                        "unique1, unique2)")
    _protocol(p)
    p.set_defaults(func=cmd_probe)

    for name, helptext in (
        ("reproduce", "run the Table 1 protocol over seeds (two pretrainings per seed); resumable"),
        ("quickstart", "render, pretrain (both pair sets), probe and print the R / U / S table beside the paper's"),
    ):
        p = sub.add_parser(name, help=helptext)
        _common(p)
        _training(p)
        _jobs(p)
        _method(p)
        _protocol(p)
        p.add_argument("--out", default=None,
                       help="output folder (default: reproduce runs/reproduce-<preset>, quickstart runs/<preset> "
                            "(the folder notebooks 05, 06 and 08 train into and read); runs/<command>-<method>-<preset> "
                            "for a baseline)")
        p.add_argument("--seeds", type=int, nargs="+", default=None,
                       help="seeds (default: 41..45 for reproduce, 41 for quickstart)")
        p.add_argument("--probe-subspaces", action="store_true",
                       help="also probe every task from each subspace of the method alone (its probe map, in "
                            "table1.csv); always on for a baseline")
        if name == "reproduce":
            p.add_argument("--dataset", default=TRIFEATURE, choices=list(DATA_SOURCES),
                           help="trifeature: Table 1; MultiBench sets (your files) or the offline digits set: Table 2")
            p.add_argument("--data-path", help="MultiBench file or its folder (default: $CORAL_LAB_MULTIBENCH_DIR)")
            p.add_argument("--finetune", action="store_true",
                           help="feature data sets: also fine-tune with SupCon (paper 5.6.5) and probe again")
        p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("compare", help="COrAL beside its baselines (Table 1): each method's Table 1 protocol in its "
                                        "own folder, then one comparison table; resumable")
    _common(p)
    _training(p)
    _jobs(p)
    _protocol(p)
    p.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                   help=f"the methods (default: all, {' '.join(METHODS)}); each probes Z and its subspaces")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 41..45)")
    p.add_argument("--out", default=None, help="comparison folder: <out>/<method>/ per method and "
                                               "<out>/baselines_table1.csv (default: runs/compare-<preset>)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("ablate", help="run an ablation study (paper Table 3 masking / Figure 4 loss weights); resumable")
    _common(p)
    _training(p)
    _jobs(p)
    p.add_argument("--study", required=True, choices=["masking", "weights"],
                   help="masking: none / static 25, 50, 75 %% / the increasing schedule (Table 3); "
                        "weights: halve / double lambda_s and lambda_u, lambda_o = 3, 5 (Figure 4)")
    p.add_argument("--variants", nargs="+", default=None, help="run only these variants (default: all of the study)")
    p.add_argument("--out", default=None, help="study folder (default: runs/ablate-<study>-<preset>)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: 41..45)")
    _protocol(p)
    p.set_defaults(func=cmd_ablate)

    p = sub.add_parser("study", help="a learning-curve study (coral_lab.experiments.study): variants x units x "
                                     "seeds, probed at checkpoints against wall time; resumable")
    _common(p)
    _training(p)
    _jobs(p)
    p.add_argument("--name", required=True, help="the study (a key of coral_lab.experiments.study.STUDIES, "
                                                        "e.g. screen)")
    p.add_argument("--variants", nargs="+", default=None, help="run only these variants (default: all of the study)")
    p.add_argument("--units", nargs="+", default=None,
                   help="train these unit kinds of every variant instead of its own (unbiased, unbiased-no-ortho, "
                        "biased, biased-no-mask)")
    p.add_argument("--seeds", type=int, nargs="+", default=[41], help="training seeds (default: 41)")
    p.add_argument("--probe-every", type=int, default=2, help="probe every N epochs and at the last (default 2)")
    p.add_argument("--out", default=None, help="study folder (default: runs/study-<name>-<preset>)")
    p.add_argument("--results", default=None,
                   help="also copy curves.csv and its provenance sidecar here after every finished unit")
    _protocol(p)
    p.set_defaults(func=cmd_study)

    p = sub.add_parser("figures", help="redraw every figure from saved result files (no training), and the "
                                        "lecture figures")
    p.add_argument("--results", default="results", help="folder with result files and their provenance sidecars")
    p.add_argument("--out", default="figures", help="folder for the figures and their sidecars")
    p.add_argument("--no-lecture", action="store_true",
                   help="skip the slide-ready lecture figures (<out>/lecture/: architecture, token masks, "
                        "orthogonality penalties, schedule; PNG and SVG)")
    p.set_defaults(func=cmd_figures)
    return parser


def cmd_data(args: argparse.Namespace) -> int:
    if args.out:
        args.cache_dir = args.out
    cfg = config_from_args(args)
    d = cfg.data
    t0 = time.perf_counter()
    data = load_or_render(d.cache_dir, image_size=d.image_size, seed=d.seed, renders_train=d.renders_train,
                          renders_test=d.renders_test, train_fraction=d.train_fraction, progress=True)
    path = cache_path(d.cache_dir, image_size=d.image_size, seed=d.seed, renders_train=d.renders_train,
                      renders_test=d.renders_test, train_fraction=d.train_fraction)
    print(f"Trifeature {d.image_size} px: {len(data.train)} train + {len(data.test)} test images in {path} "
          f"({time.perf_counter() - t0:.1f} s)")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    res = pretrain(cfg, args.out, device=args.device, progress=not args.no_progress, resume=not args.no_resume)
    last = res.history.iloc[-1]
    print(f"done: {len(res.history)} epochs, final loss {last['loss']:.4f}; run folder {args.out}")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    model, cfg, _ = load_model(args.run, device=_device(args.device))
    protocols = protocols_from_args(args, cfg)
    bench = load_benchmark(cfg)
    frames = []
    for protocol in protocols:
        pcfg = cfg.replace(probe={"protocol": protocol})
        df = probe_model(model, bench, subspaces=args.features, probe_cfg=pcfg.probe, augment_cfg=cfg.augment,
                         seed=cfg.train.seed)
        with runs.RunLock(args.run):
            path = runs.write_table(args.run, runs.probe_table(protocol, runs.PROBE_COMMAND), df, pcfg)
        print(f"{protocol} probe rows written to {path}")
        frames.append(df)
    print(pd.concat(frames, ignore_index=True).to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    protocols = protocols_from_args(args, cfg)
    if not cfg.is_trifeature:
        return reproduce_features(args, cfg)

    seeds = args.seeds or (list(PAPER_SEEDS) if args.command == "reproduce" else [41])
    tag = "" if cfg.method == "coral" else f"{cfg.method}-"
    # quickstart's COrAL units go where notebooks 05, 06 and 08 look for a student's own runs (runs/<preset>/)
    default = f"runs/{cfg.preset}" if args.command == "quickstart" and not tag else f"runs/{args.command}-{tag}{cfg.preset}"
    out = Path(args.out or default)
    device = resolve_device(args.device)
    args.jobs = resolve_jobs(args.jobs, device, 2 * len(seeds))
    # a baseline's probe.csv also records the probe of each of its subspaces (its probe map); COrAL's
    # runs probe Z only, as they always have, unless --probe-subspaces
    probe_all = cfg.method != "coral" or getattr(args, "probe_subspaces", False)
    text = table1_of_method(cfg, out, seeds=seeds, device=device, jobs=args.jobs, protocols=protocols,
                            probe_subspaces=probe_all, progress=not args.no_progress)
    print(text)
    return 0


def table1_of_method(cfg: RunConfig, out: Path, *, seeds: list[int], device: torch.device, jobs: int,
                     protocols: tuple[str, ...], probe_subspaces: bool, progress: bool) -> str:
    """Run (or resume) the Table 1 protocol of ``cfg``'s method in ``out`` and write ``table1.txt`` and
    ``table1.provenance.json`` beside the tables ``run_table1`` writes; returns the printed text."""
    t0 = time.perf_counter()
    probed = ("Z", *subspaces(cfg)) if probe_subspaces else ("Z",)
    _, table = run_table1(cfg, out, seeds=seeds, device=str(device), progress=progress,
                          subspaces=probed, jobs=jobs, protocols=protocols)
    minutes = (time.perf_counter() - t0) / 60
    where = describe_device(device, cfg.train.num_threads, jobs)
    scale = scale_of(cfg.preset)
    name = display_name(cfg.method)
    text = format_table1(table, title=f"Trifeature Table 1, {name} ({scale}; seeds {seeds})", method=name)
    with runs.RunLock(out):
        write_sidecar(out / "table1.provenance.json",
                      provenance(preset=cfg.preset, seeds=seeds, device=where,
                                 extra={"method": cfg.method, "protocols": list(protocols),
                                        "wall_minutes": round(minutes, 2), "config": cfg.to_dict()}))
        atomic_write_text(out / "table1.txt", text + "\n")
    return f"{text}\nwall time {minutes:.1f} min on {where}; results in {out}/"


def cmd_compare(args: argparse.Namespace) -> int:
    if any(item.split("=", 1)[0].strip().startswith("settings.") for item in args.set or []):
        raise SystemExit("error: compare trains every method with its own default settings; train a method with "
                         "other settings with `coral-lab reproduce --method <m> --set settings.<name>=...`")
    seeds = args.seeds or list(PAPER_SEEDS)
    device = resolve_device(args.device)
    args.jobs = resolve_jobs(args.jobs, device, 2 * len(seeds))
    configs = {}
    for method in dict.fromkeys(args.methods):
        args.method = method
        configs[method] = config_from_args(args)  # every method's config checked before anything trains
    protocols = protocols_from_args(args, configs[next(iter(configs))])
    out = runs.claim_experiment(args.out or f"runs/compare-{args.preset}", "compare")  # a foreign folder: refused
    print(f"COrAL beside its baselines, preset {args.preset}, seeds {seeds}: {', '.join(configs)}, in {out}/",
          flush=True)
    for method, cfg in configs.items():
        print(table1_of_method(cfg, out / method, seeds=seeds, device=device, jobs=args.jobs, protocols=protocols,
                               probe_subspaces=True, progress=not args.no_progress), flush=True)
    with runs.RunLock(out):
        path, _ = write_comparison({m: out / m for m in configs}, out / "baselines_table1.csv")
    table = comparison_table(pd.read_csv(path))
    print(f"\nthe comparison ({', '.join(PROTOCOL_LABELS[p] for p in protocols)}, beside the paper's Table 1; "
          "balanced accuracy %, mean over seeds):")
    print(wide_table(table).to_string(float_format=lambda v: f"{v:.1f}"))
    for protocol in protocols:
        pattern = paper_pattern(table, protocol=protocol)
        print(f"\nthe paper's pattern, {PROTOCOL_LABELS[protocol]}:")
        for r in pattern.itertuples():
            mark = {True: "holds", False: "does not hold", None: "not measured"}[r.holds]
            print(f"  {r.claim}: {mark} ({r.detail})")
    print(f"\nresults in {path} (coral-lab figures draws it)")
    return 0


# the config fields each study sets per variant; a flag for them would be overridden, so it is refused
_ABLATION_FIELDS = {"masking": ("mask_schedule",), "weights": ("lambda_s", "lambda_u", "lambda_o")}


def cmd_ablate(args: argparse.Namespace) -> int:
    varied = _ABLATION_FIELDS[args.study]
    for flag in varied:
        if getattr(args, flag, None) is not None:
            raise SystemExit(f"error: the {args.study} study sets {flag} per variant; drop --{flag.replace('_', '-')}")
    for item in args.set or []:
        if item.split("=", 1)[0].split(".")[-1] in varied:
            raise SystemExit(f"error: the {args.study} study sets {', '.join(varied)} per variant; drop --set {item}")
    cfg = config_from_args(args)
    seeds = args.seeds or list(PAPER_SEEDS)
    out = Path(args.out or f"runs/ablate-{args.study}-{cfg.preset}")
    device = resolve_device(args.device)
    names = args.variants or list(ablation_variants(args.study, cfg))
    args.jobs = resolve_jobs(args.jobs, device, 2 * len(names) * len(seeds))
    print(f"{args.study} study, preset {cfg.preset}, seeds {seeds}: {len(names)} variants x {len(seeds)} seeds "
          f"x 2 pretrainings, in {out}/")
    t0 = time.perf_counter()
    rows = run_ablation(args.study, cfg, out, seeds=seeds, device=str(device), variants=args.variants,
                        progress=not args.no_progress, jobs=args.jobs, protocols=protocols_from_args(args, cfg),
                        on_variant_end=lambda v, _: print(f"  done: {v.label}", flush=True))
    scale = scale_of(cfg.preset)
    text = format_ablation(summarize_ablation(rows), title=f"{args.study} ablation ({scale}; seeds {seeds})")
    print(text)
    with runs.RunLock(out):
        atomic_write_text(out / f"ablation_{args.study}.txt", text + "\n")
    print(f"wall time {(time.perf_counter() - t0) / 60:.1f} min on "
          f"{describe_device(device, cfg.train.num_threads, args.jobs)}; "
          f"results in {results_path(out, args.study)}")
    return 0


def cmd_study(args: argparse.Namespace) -> int:
    cfg = config_from_args(args)
    protocols = protocols_from_args(args, cfg)
    variants = study_variants(args.name)
    out = Path(args.out or f"runs/study-{args.name}-{cfg.preset}")
    device = resolve_device(args.device)
    chosen = args.variants or list(variants)
    n_units = sum(len(args.units or variants[v].units) for v in chosen if v in variants) * len(args.seeds)
    args.jobs = resolve_jobs(args.jobs, device, n_units)
    where = describe_device(device, cfg.train.num_threads, args.jobs)
    t0 = time.perf_counter()
    # a study folder grown over several commands keeps each one's provenance (refused here if unreadable)
    earlier = earlier_runs(out / "curves.provenance.json")

    def record(curves) -> None:
        # the study folder always holds its curves and their provenance; --results gets a copy of both.
        # Top level: this command, and the seeds the curves hold; runs: every command that wrote the folder
        info = provenance(preset=cfg.preset, seeds=args.seeds, device=where,
                          extra={"study": args.name, "variants": chosen, "units": args.units,
                                 "protocols": list(protocols),
                                 "probe_every": args.probe_every,
                                 "wall_minutes": round((time.perf_counter() - t0) / 60, 2), "config": cfg.to_dict()})
        info["runs"] = earlier + [{k: info[k] for k in RUN_KEYS if k in info}]
        if "seed" in curves and len(curves):
            info["seeds"] = sorted({int(s) for s in curves["seed"]} | set(args.seeds))
        tables = {"curves": curves, **{Path(name).stem: make(curves, cfg) for name, make in STUDY_TABLES.get(args.name, [])}}
        for folder in [out] + ([Path(args.results)] if args.results else []):
            for stem, table in tables.items():
                atomic_write_text(folder / f"{stem}.csv", table.to_csv(index=False))
                write_sidecar(folder / f"{stem}.provenance.json", info)

    def unit_done(variant: str, seed: int, unit: str, rows) -> None:
        last = rows[rows["epoch"] == rows["epoch"].max()]
        scores = ", ".join(f"{r.task}/{r.features}/{r.protocol} {r.balanced_accuracy:.1f} (AUC {r.roc_auc:.1f})"
                           for r in last.itertuples())
        print(f"  done: {variant} seed {seed} {unit}: epoch {int(last['epoch'].iloc[0])}: {scores}", flush=True)
        record(collect_curves(out))

    print(f"study {args.name}, preset {cfg.preset}, seeds {args.seeds}: variants {chosen}, in {out}/")
    curves = run_study(args.name, cfg, out, seeds=args.seeds, every=args.probe_every, variants=args.variants,
                       units=args.units, device=str(device), jobs=args.jobs, on_unit_end=unit_done,
                       protocols=protocols)
    with runs.RunLock(out):
        record(curves)
    for protocol in protocols:
        table = final_scores(curves, protocol=protocol)
        print(f"probe protocol: {protocol}")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"wall time {(time.perf_counter() - t0) / 60:.1f} min on {where}")
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    # lazy: coral_lab.drawing.figures needs matplotlib (the optional notebooks extra); no other command does
    from coral_lab.drawing.figures import make_all_figures
    from coral_lab.drawing.lecture import make_lecture_figures

    if not args.no_lecture:  # drawn from the library alone, so they come first and need no result file
        for row in make_lecture_figures(Path(args.out) / "lecture").drop_duplicates("figure").itertuples():
            print(f"{'written':8s} {row.figure:28s} {Path(row.path).with_suffix('')}.png, .svg  ({row.what})")
    made = make_all_figures(args.results, args.out)
    for row in made.itertuples():
        print(f"{row.status:8s} {row.figure:28s} {row.path}  ({row.detail})")
    return 0


def _device(name: str) -> str:
    return str(resolve_device(name))


def error_line(e: BaseException, *expected: type) -> str:
    """The one line the CLI prints for an exception: its message, with what to do where it lacks one."""
    text = " ".join(str(e).split()) if str(e).strip() else type(e).__name__  # one line, however long
    if isinstance(e, KeyboardInterrupt):
        return ("interrupted; the finished epochs and units are saved: run the same command again to resume "
                "where it stopped")
    if isinstance(e, (ValueError, FileNotFoundError, runs.RunBusyError, *expected)):
        return text  # coral_lab's own messages already say what to do
    if isinstance(e, RuntimeError) and any(m in text for m in ("unexpected pos", "PytorchStreamWriter", "file write failed")):
        # torch.save's message when a write stops short, as on a full disk
        return (f"a file could not be written completely ({text[:160]}); is the disk full? Free some space and run the "
                "same command again (the last complete checkpoint is kept)")
    if isinstance(e, FloatingPointError):
        return f"{text} (the training diverged; try a lower --lr)"
    if isinstance(e, ModuleNotFoundError):
        return (f"{text}; install the optional packages with `bash scripts/install.sh notebooks` "
                "(plotting, UMAP, notebooks)")
    if isinstance(e, PermissionError):
        return f"{text}; choose a folder you can write, or fix its permissions"
    if isinstance(e, OSError):
        return f"{text} (a file could not be read or written: check the path and the free disk space)"
    if isinstance(e, (RuntimeError, TypeError, KeyError)) and ("state_dict" in text or "size mismatch" in text):
        return (f"the saved weights do not fit the model of this config ({text}); the folder was written by "
                "another config or version: retrain it in a new folder")
    return f"{type(e).__name__}: {text} (run again with --debug for the traceback)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    mark_start()  # sidecars name the commit this command started from
    try:
        code = args.func(args)
    except BaseException as e:  # every failure: one line that says what to do (--debug: the traceback)
        if args.debug or isinstance(e, SystemExit):
            raise
        print(f"error: {error_line(e, CheckpointError, CacheError, distributed.LaunchError)}", file=sys.stderr)
        code = 130 if isinstance(e, KeyboardInterrupt) else 2
    if distributed.dist_info().enabled:
        # under torchrun: leave without C++ static destructors, at which torch's gloo backend can
        # abort ("terminate called without an active exception") after all work is saved
        distributed.cleanup()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
