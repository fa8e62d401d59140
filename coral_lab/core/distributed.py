"""Multi-process training with torch.distributed (launched by ``torchrun``).

The global batch of ``TrainConfig.batch_size`` pairs is split evenly over the ranks. Before the loss,
every rank gathers all ranks' projected embeddings *with their gradients* so that InfoNCE's
negatives span the global batch, exactly as in single-process training on the same batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from coral_lab.objectives.embeddings import Embeddings

__all__ = ["DistInfo", "LaunchError", "JOIN_TIMEOUT_S", "dist_info", "init_from_env", "gather_with_grad", "gather_embeddings", "broadcast_buffers", "cleanup"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def dist_info() -> DistInfo:
    """Rank and world size of the initialised process group (single process if none)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return DistInfo()


JOIN_TIMEOUT_S = 120  # how long a process waits for the others of a distributed launch (CORAL_LAB_DIST_TIMEOUT)


class LaunchError(RuntimeError):
    """The environment announces a distributed launch that does not come together."""


def init_from_env(device_type: str) -> DistInfo:
    """Initialise the process group from torchrun's environment (``WORLD_SIZE`` > 1); otherwise a no-op.

    A launch is what the process group says once it is formed, never an environment variable alone: a
    stray ``RANK`` without ``WORLD_SIZE`` > 1 is a single process (rank 0). The processes must find each
    other within ``CORAL_LAB_DIST_TIMEOUT`` seconds (default ``JOIN_TIMEOUT_S``), else ``LaunchError``
    with one line, before any folder is touched. Uses NCCL for CUDA and gloo for the CPU.
    """
    if dist.is_available() and dist.is_initialized():
        return dist_info()
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise LaunchError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number; unset it, or launch with "
                          "torchrun") from None
    if world <= 1:
        return DistInfo()
    missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise LaunchError(f"WORLD_SIZE={world} announces a distributed launch but {', '.join(missing)} "
                          "is not set; launch with torchrun --nproc_per_node N, or unset WORLD_SIZE")
    try:
        timeout = float(os.environ.get("CORAL_LAB_DIST_TIMEOUT", JOIN_TIMEOUT_S))
    except ValueError:
        raise LaunchError("CORAL_LAB_DIST_TIMEOUT must be a number of seconds") from None
    backend = "nccl" if device_type == "cuda" else "gloo"
    try:
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout))
    except Exception as e:  # the store's or the backend's timeout, refused connections, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise LaunchError(
            f"the distributed launch (WORLD_SIZE={world}, RANK={os.environ['RANK']}, "
            f"MASTER_ADDR={os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}) did not come together within "
            f"{timeout:g} s ({first}); start every process with torchrun --nproc_per_node N, or unset WORLD_SIZE "
            "for one process"
        ) from None
    info = dist_info()
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    return info


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """All-gather (B_local, D) from every rank into (world * B_local, D), keeping the autograd graph.

    The backward pass sums the incoming gradients over ranks and returns each rank its own slice, so
    with DDP's gradient averaging the parameter gradients equal those of one process on the global batch.
    """
    if not dist_info().enabled:
        return x
    return _GatherWithGrad.apply(x.contiguous())


class _GatherWithGrad(torch.autograd.Function):
    """all_gather forward; backward: sum the gradient over ranks, keep this rank's slice."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # (B_local, D) -> (world * B_local, D)
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x)
        ctx.rank, ctx.n = dist.get_rank(), x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def broadcast_buffers(module: torch.nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (BatchNorm running statistics) to every rank."""
    if dist_info().enabled:
        for b in module.buffers():
            dist.broadcast(b, src)


def gather_embeddings(emb: Embeddings) -> Embeddings:
    """``gather_with_grad`` applied to every subspace of one view's embeddings."""
    if not dist_info().enabled:
        return emb
    return Embeddings(gather_with_grad(emb.shared), tuple(gather_with_grad(u) for u in emb.unique))


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
