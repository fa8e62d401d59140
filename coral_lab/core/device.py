"""Choosing the device and making runs reproducible."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch
from threadpoolctl import threadpool_limits

__all__ = [
    "resolve_device", "seed_everything", "cpu_name", "describe_device", "worker_threads", "set_cpu_threads", "compile_parts",
    "COMPILE_MODES",
]

# torch.compile modes ``TrainConfig.compile`` accepts ("max-autotune" is left out on purpose: on the lent
# GPUs it spent over 9 minutes autotuning); None runs eagerly
COMPILE_MODES: tuple[str, ...] = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")

_VALID = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is an error, not a fallback."""
    if isinstance(device, torch.device):
        return device
    name = str(device)
    base = name.split(":")[0]
    if base not in _VALID:
        raise ValueError(f"unknown device {device!r}; use one of {list(_VALID)} (or 'cuda:N')")
    if base == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if base == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu or auto")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch's global generators (the training loop also keeps its own)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker_threads(device: torch.device | str, jobs: int, threads: int | None = None) -> int | None:
    """Torch threads of each of ``jobs`` training processes: ``threads`` when given (``train.num_threads``),
    else on a CPU with several processes the cores divided among them (at least 1); None: torch's default."""
    if threads:
        return threads
    if torch.device(device).type == "cpu" and jobs > 1:
        return max(1, (os.cpu_count() or 1) // jobs)
    return None


def set_cpu_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in this process: torch's, and those of the OpenMP and BLAS pools that
    scikit-learn's probe and NumPy use (threadpoolctl).

    Limiting torch alone is not enough when several processes share the cores (``--jobs``): the probe's
    logistic regression then runs one OpenMP / OpenBLAS thread per core in every process, and threads
    that wait for a busy core spin. Measured on the 2-core machine, two processes fitting at once
    (``benchmarks/probe_threads.py``, ``results/cpu-speed/probe_threads.json``): one probe fit took 6.2 s
    with the libraries' default pools and 0.56 s limited to one thread.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)  # stays in force for the process (no with-block)


def cpu_name() -> str:
    """This machine's CPU: its model (``/proc/cpuinfo``'s model name, where there is one) with the
    architecture and the instruction set torch's CPU kernels use, e.g. ``Intel(R) Xeon(R) Processor @
    2.80GHz (x86_64, AVX512)``."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    model = model or platform.processor()
    isa = ", ".join(x for x in (platform.machine(), torch.backends.cpu.get_cpu_capability()) if x)
    return f"{model} ({isa})" if model else isa


def describe_device(device: torch.device, threads: int | None = None, jobs: int = 1) -> str:
    """A human-readable name for provenance sidecars, e.g. 'cuda: NVIDIA H100 80GB HBM3' or
    'cpu: AMD EPYC 9R14 (x86_64, AVX512), 2 torch threads'.

    A CPU is named by its model and the instruction set torch's kernels use (``cpu_name``): the same code
    and seed can give other numbers on another CPU (its matrix kernels sum in another order), so a result
    made on one machine is compared with a rerun on another knowing that.

    Args:
        device: the training device.
        threads: the torch CPU threads of each training process (``train.num_threads``); None: this
            process's current count.
        jobs: training processes working at once (``--jobs``); named when more than one.
    """
    if device.type == "cuda":
        text = f"cuda: {torch.cuda.get_device_name(device)}"
    else:
        n = worker_threads(device, jobs, threads) or torch.get_num_threads()
        text = f"cpu: {cpu_name()}, {n} torch thread{'' if n == 1 else 's'}"
    if jobs > 1:
        text += f" {'each ' if device.type == 'cpu' else ''}in {jobs} processes at once"
    return text


def compile_parts(model: torch.nn.Module, mode: str | None, backend: str = "inductor") -> torch.nn.Module:
    """``torch.compile`` each part of a model in place (``nn.Module.compile``); returns the model.

    The parts are the model's children, and the elements of children that are ``nn.ModuleList``s (one
    encoder per modality, ...). The code between them (drawing masks from a ``torch.Generator``,
    concatenating views) stays eager, so it never breaks a graph. ``Module.compile`` keeps the
    parameter names, so checkpoints are the same with and without compilation.

    Args:
        model: e.g. a ``CoralModel`` or a baseline from ``coral_lab.methods``.
        mode: None (eager, nothing is done) or one of ``COMPILE_MODES``; "reduce-overhead" adds CUDA
            graphs, which help when small kernels leave the GPU waiting for launches (batch 64).
        backend: torch.compile's backend; "inductor" generates kernels, "aot_eager" only traces
            (the tests use it: it checks the graphs in seconds, without a compiler).
    """
    if mode is None:
        return model
    if mode not in COMPILE_MODES:
        raise ValueError(f"unknown compile mode {mode!r}; use one of {list(COMPILE_MODES)} or None (eager)")
    for child in model.children():
        parts = list(child) if isinstance(child, torch.nn.ModuleList) else [child]
        for part in parts:
            if any(True for _ in part.parameters()) or any(True for _ in part.buffers()):
                if backend == "inductor":
                    part.compile(mode=mode, dynamic=False)
                else:  # other backends take no mode
                    part.compile(backend=backend, dynamic=False)
    return model
