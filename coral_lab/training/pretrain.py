"""COrAL pretraining (paper section 4.2 and 5.3).

One epoch is one pass over the pretraining pairs in a seeded random order, in batches of
``TrainConfig.batch_size`` (the last partial batch is dropped: InfoNCE's number of negatives stays
fixed). Per batch:

1. gather the two images of each pair from the device-resident uint8 data set by index;
2. augment every image twice (views X' and X''), each sample with its own random parameters;
3. the method's ``training_loss(view1, view2, ctx)`` (``coral_lab.objectives.contract``'s method contract); for
   COrAL: draw the modality halves (M1, M2), run the dual-path model with asymmetric masking at the
   ratio ``mask_ratio_at(epoch)`` (eq. 5-6), ``coral_loss`` (eq. 3, 4, 8);
4. AdamW step.

The run folder holds ``config.json``, ``history.csv`` (one row per epoch: every loss part, the mask
ratio, time and throughput) and ``checkpoint.pt`` (model, optimiser, epoch, history and every random
generator's state), all written atomically after each epoch, so an interrupted run resumes exactly
where it stopped and finishes with the same weights as an uninterrupted one.

``cfg.method`` selects the objective (``coral_lab.methods.METHODS``); the loop treats every method
alike: it sums and logs the named parts ``training_loss`` returns (``model.loss_parts``), and passes
the un-augmented pair as both views to a method with ``uses_augmentation = False`` (CLIP).
"""

from __future__ import annotations

import functools
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from coral_lab.core import distributed
from coral_lab.config import RunConfig, require_trifeature
from coral_lab.data import TrifeatureBenchmark, attribute_subset, load_or_render, make_benchmark
from coral_lab.core.device import compile_parts, resolve_device, set_cpu_threads
from coral_lab.config import runs
from coral_lab.core.io import load_checkpoint
from coral_lab.methods import BaselineModel, build_model, check_config
from coral_lab.models import CoralModel
from coral_lab.training.loop import fit
from coral_lab.data.features import FeatureDataset, load_dataset
from coral_lab.inputs.sources import FeatureSource, TrifeatureSource
from coral_lab.training.optimisation import TrainingStep, adamw, augmentation_seed

__all__ = ["PretrainResult", "load_benchmark", "build_optimizer", "pretrain", "load_model"]

CHECKPOINT, CONFIG, HISTORY = runs.CHECKPOINT, runs.CONFIG, runs.HISTORY


@dataclass
class PretrainResult:
    """A pretraining's trained model (eval mode), its per-epoch history, its folder and its config."""

    model: CoralModel | BaselineModel
    history: pd.DataFrame
    run_dir: Path | None
    config: RunConfig


def load_benchmark(cfg: RunConfig, progress: bool = True) -> TrifeatureBenchmark:
    """Render (or load from the cache) the Trifeature images and build the pair sets of ``cfg.data``."""
    d = require_trifeature(cfg, "the Trifeature benchmark").data
    textures, colors = attribute_subset(d.n_textures, d.seed)
    data = load_or_render(
        d.cache_dir,
        image_size=d.image_size,
        seed=d.seed,
        renders_train=d.renders_train,
        renders_test=d.renders_test,
        train_fraction=d.train_fraction,
        progress=progress,
        textures=textures,
        colors=colors,
    )
    return make_benchmark(
        data,
        n_train_pairs=d.n_train_pairs,
        n_probe_train_pairs=d.n_probe_train_pairs,
        n_probe_test_pairs=d.n_probe_test_pairs,
        seed=d.seed,
    )


def build_optimizer(model: torch.nn.Module, cfg: RunConfig, device: torch.device) -> torch.optim.AdamW:
    """``coral_lab.training.optimisation.adamw`` of ``cfg.train`` (fused on CUDA): no weight decay on 1-D parameters."""
    return adamw(model.parameters(), cfg.train.lr, cfg.train.weight_decay, fused=device.type == "cuda")


def load_model(
    run_dir: str | Path, device: str | torch.device = "cpu"
) -> tuple[CoralModel | BaselineModel, RunConfig, pd.DataFrame]:
    """The model of a finished (or interrupted) run folder, in eval mode, with its config and history.

    The model is the one of the run's ``method`` (``coral_lab.methods.build_model``).
    """
    run_dir = Path(run_dir)
    ckpt = load_checkpoint(run_dir / CHECKPOINT)
    cfg = RunConfig.from_dict(ckpt["config"])
    model = build_model(cfg)
    model.load_state_dict(ckpt["model"])
    model.to(resolve_device(device)).eval()
    return model, cfg, pd.DataFrame(ckpt["history"])


def pretrain(
    cfg: RunConfig,
    run_dir: str | Path | None = None,
    *,
    benchmark: TrifeatureBenchmark | None = None,
    data: FeatureDataset | None = None,
    device: str | torch.device = "auto",
    progress: bool = True,
    resume: bool = True,
    on_epoch_end: Callable[[dict], None] | None = None,
    max_epochs_this_call: int | None = None,
) -> PretrainResult:
    """Pretrain the method a config names on its data: the one entry point for both kinds of data.

    A Trifeature config trains on the ``cfg.train.train_set`` pairs of the benchmark
    (``sources.TrifeatureSource``; torchrun applies here); a feature data set's config on the train split
    of its data (``sources.FeatureSource``). Both run ``coral_lab.training.loop.fit`` with the same ``train``
    section (bf16 autocast on CUDA when ``train.amp``, ``torch.compile``, CPU threads).

    Args:
        cfg: the run's configuration (validated here).
        run_dir: folder for config, history and checkpoint; None keeps everything in memory.
        benchmark: Trifeature only: pre-built data and pairs (else rendered / loaded from
            ``cfg.data.cache_dir``).
        data: feature data only: the loaded data set (else ``multibench.load_dataset`` of
            ``cfg.dataset``, ``cfg.data.path``, ``cfg.data.split_seed``).
        device: "auto", "cpu" or "cuda".
        resume: continue from ``run_dir/checkpoint.pt`` if it exists (its config must equal ``cfg`` but
            for the probe section and the run-time fields, ``RunConfig.pretrain_dict``).
        on_epoch_end: called with each epoch's history row (a dict), e.g. to update a notebook plot.
        max_epochs_this_call: stop after this many epochs (the run stays resumable); for tests and
            for splitting a long run across sessions.

    Returns:
        The trained model (eval mode), the per-epoch history and the run folder.

    ``run_dir`` must be new, empty or a coral_lab run folder (``coral_lab.config.runs.claim``), and is locked
    against a second writer while this runs (``coral_lab.config.runs.RunLock``).
    """
    if not isinstance(cfg, RunConfig):
        raise TypeError(f"pretrain expects a coral_lab.config.RunConfig, got {type(cfg).__name__}")
    cfg.validate()
    # a known method and every one of its settings filled and checked, before a folder is claimed or a file
    # written (the config saved, hashed and trained is the filled one)
    cfg = check_config(cfg)
    if cfg.is_trifeature:
        if data is not None:
            raise ValueError("pretrain: data is a feature data set; a Trifeature config takes benchmark=")
        train = functools.partial(_pretrain, benchmark=benchmark)
    else:
        if benchmark is not None:
            raise ValueError(f"pretrain: benchmark is the Trifeature pairs; a {cfg.dataset} config takes data=")
        data = data if data is not None else load_dataset(cfg.dataset, cfg.data.path, cfg.data.split_seed)
        train = functools.partial(_pretrain_features, data=data)
    # a distributed launch is what the formed process group says (a stray RANK is not one), and it is
    # formed before the folder is claimed, so a launch that never comes together holds nothing
    info = distributed.init_from_env(resolve_device(device).type) if cfg.is_trifeature else distributed.DistInfo()
    if run_dir is None or not info.is_main:
        return train(cfg, run_dir, device=device, progress=progress, resume=resume,
                     on_epoch_end=on_epoch_end, max_epochs_this_call=max_epochs_this_call)
    folder = runs.claim(run_dir)
    with runs.RunLock(folder):
        return train(cfg, folder, device=device, progress=progress, resume=resume,
                     on_epoch_end=on_epoch_end, max_epochs_this_call=max_epochs_this_call)


def _pretrain(cfg, run_dir, *, benchmark, device, progress, resume, on_epoch_end, max_epochs_this_call):
    """``pretrain`` of a ``RunConfig`` once its folder is claimed and locked (the main process) or not
    its to write."""
    dev = resolve_device(device)
    info = distributed.init_from_env(dev.type)
    if info.enabled and dev.type == "cuda":
        dev = torch.device("cuda", info.local_rank)
    if cfg.train.num_threads:
        set_cpu_threads(cfg.train.num_threads)
    tc = cfg.train
    if tc.batch_size % info.world_size:
        raise ValueError(f"train.batch_size {tc.batch_size} must be divisible by the number of processes {info.world_size}")
    local_batch = tc.batch_size // info.world_size

    run_dir = Path(run_dir) if run_dir is not None else None
    bench = benchmark if benchmark is not None else load_benchmark(cfg, progress=progress and info.is_main)
    pairs = bench.train_unbiased if tc.train_set == "unbiased" else bench.train_biased
    n_pairs = len(pairs)
    steps_per_epoch = n_pairs // tc.batch_size
    if steps_per_epoch < 1:
        raise ValueError(f"{n_pairs} pretraining pairs are fewer than one batch of {tc.batch_size}")

    images = torch.from_numpy(bench.data.train.images).to(dev)  # (N, H, W, 3) uint8, stays on the device
    idx1 = torch.from_numpy(pairs.idx1).to(dev)
    idx2 = torch.from_numpy(pairs.idx2).to(dev)

    torch.manual_seed(tc.seed)  # model initialisation, identical on every rank
    model = build_model(cfg).to(dev)
    channels_last = dev.type == "cuda" if tc.channels_last is None else tc.channels_last
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    compile_parts(model, tc.compile)  # after loading below the compiled parts see the loaded weights
    optimizer = build_optimizer(model, cfg, dev)
    order_gen = torch.Generator().manual_seed(tc.seed)  # batch order and modality halves (CPU)
    aug_gen = torch.Generator(dev).manual_seed(augmentation_seed(tc.seed, info.rank))  # views, masks

    n_mod = cfg.model.n_modalities
    if n_mod != 2:
        raise ValueError(f"the Trifeature benchmark is bimodal; model.n_modalities must be 2, not {n_mod}")
    train_model: torch.nn.Module = TrainingStep(model)  # forward = model.training_loss
    if info.enabled:
        train_model = torch.nn.parallel.DistributedDataParallel(
            train_model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    source = TrifeatureSource(images, idx1, idx2, cfg.augment, local_batch, info.rank, channels_last)
    history = fit(
        model, source, cfg, run_dir, optimizer=optimizer, order_gen=order_gen, aug_gen=aug_gen,
        resume_key=_pretrain_key, device=dev, train_model=train_model, autocast=_autocast(dev, tc.amp),
        resume=resume, progress=progress, on_epoch_end=on_epoch_end, max_epochs_this_call=max_epochs_this_call,
        resume_hint="use a new --out folder (with `coral-lab pretrain`, --no-resume starts this one over; its old "
                    "scores are then never read as current)",
    )
    # BatchNorm statistics are per rank; every rank keeps the main rank's (the saved) model
    distributed.broadcast_buffers(model)
    model.check_inputs = True
    model.eval()
    return PretrainResult(model=model, history=pd.DataFrame(history), run_dir=run_dir, config=cfg)


def _autocast(device: torch.device, amp: bool) -> Callable:
    """The forward's mixed-precision context factory: bf16 autocast on CUDA when ``train.amp``, else none."""
    if device.type == "cuda" and amp:
        return lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext


def _pretrain_key(config: dict) -> dict:
    """What must match for a checkpoint to resume: the config as ``RunConfig`` reads it (a field added
    later takes its default, an older layout is read in today's), less the probe and fine-tuning sections and
    the run-time fields (``pretrain_dict``)."""
    return RunConfig.from_dict(config).pretrain_dict()


def _pretrain_features(cfg, run_dir, *, data, device, progress, resume, on_epoch_end, max_epochs_this_call):
    """``pretrain`` of a feature data set's config once its folder is claimed and locked."""
    tc = cfg.train
    dev = resolve_device(device)
    if tc.num_threads:
        set_cpu_threads(tc.num_threads)
    n = len(data.train)
    if n // tc.batch_size < 1:
        raise ValueError(f"{data.spec.title} has {n} training samples, fewer than one batch of {tc.batch_size}; "
                         "lower train.batch_size")
    xs = [torch.from_numpy(x).to(dev) for x in data.train.x]

    torch.manual_seed(tc.seed)  # model initialisation
    model = build_model(cfg, data.modalities).to(dev)
    compile_parts(model, tc.compile)
    optimizer = build_optimizer(model, cfg, dev)
    order_gen = torch.Generator().manual_seed(tc.seed)
    aug_gen = torch.Generator(dev).manual_seed(augmentation_seed(tc.seed))
    run_dir = Path(run_dir) if run_dir is not None else None
    history = fit(model, FeatureSource(xs, data.modalities, cfg.augment), cfg, run_dir, optimizer=optimizer,
                  order_gen=order_gen, aug_gen=aug_gen, resume_key=_pretrain_key, device=dev, resume=resume,
                  autocast=_autocast(dev, tc.amp),  # the feature presets leave amp off (config._feature_paper)
                  progress=progress, on_epoch_end=on_epoch_end, max_epochs_this_call=max_epochs_this_call,
                  resume_hint="use a new folder")
    model.check_inputs = True
    model.eval()
    return PretrainResult(model=model, history=pd.DataFrame(history), run_dir=run_dir, config=cfg)
