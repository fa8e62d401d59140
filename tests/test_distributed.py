"""Two CPU processes with the gloo backend, as torchrun would start them."""

import os
import socket

import torch
import torch.multiprocessing as mp

from coral_lab.objectives.losses import info_nce


def _exit_worker() -> None:
    """End a worker without C++ static destructors: torch 2.13's gloo sometimes aborts ("terminate
    called without an active exception") at interpreter exit after the work is done and saved."""
    distributed_cleanup()
    os._exit(0)


def distributed_cleanup() -> None:
    from coral_lab.core import distributed

    distributed.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")


def _grad_worker(rank, world, port, x1, x2, out):
    _env(rank, world, port)
    from coral_lab.core import distributed

    torch.set_num_threads(1)
    distributed.init_from_env("cpu")
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(x1.shape[1], 5))
    n = len(x1) // world
    sl = slice(rank * n, (rank + 1) * n)
    z1 = distributed.gather_with_grad(model(x1[sl]))
    z2 = distributed.gather_with_grad(model(x2[sl]))
    assert z1.shape[0] == len(x1)
    info_nce(z1, z2, 0.1).backward()
    torch.save({n: p.grad for n, p in model.module.named_parameters()}, f"{out}/grad{rank}.pt")
    _exit_worker()


def test_gathered_infonce_gradients_equal_single_process(tmp_path):
    torch.manual_seed(1)
    x1, x2 = torch.randn(8, 4), torch.randn(8, 4)
    mp.spawn(_grad_worker, args=(2, _free_port(), x1, x2, str(tmp_path)), nprocs=2, join=True)
    torch.manual_seed(0)
    ref = torch.nn.Linear(4, 5)
    info_nce(ref(x1), ref(x2), 0.1).backward()
    for rank in (0, 1):
        grads = torch.load(tmp_path / f"grad{rank}.pt")
        for name, p in ref.named_parameters():
            torch.testing.assert_close(grads[name], p.grad, rtol=1e-5, atol=1e-6)


def _pretrain_worker(rank, world, port, cfg_dict, out):
    _env(rank, world, port)
    from coral_lab.config import RunConfig
    from coral_lab.training.pretrain import pretrain

    torch.set_num_threads(1)
    res = pretrain(RunConfig.from_dict(cfg_dict), f"{out}/run", device="cpu", progress=False)
    torch.save(res.model.state_dict(), f"{out}/model{rank}.pt")
    _exit_worker()


def test_two_process_pretraining_keeps_replicas_identical(ci_config, ci_benchmark, tmp_path):
    cfg = ci_config.replace(train={"epochs": 1})
    mp.spawn(_pretrain_worker, args=(2, _free_port(), cfg.to_dict(), str(tmp_path)), nprocs=2, join=True)
    a, b = torch.load(tmp_path / "model0.pt"), torch.load(tmp_path / "model1.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert ckpt["epoch"] == 1 and len(ckpt["rng"]["aug"]) == 2
    # the initial weights changed: training really happened
    from coral_lab.models import CoralModel

    torch.manual_seed(cfg.train.seed)
    init = CoralModel(cfg.model).state_dict()
    assert any(not torch.equal(init[k], a[k]) for k in a if a[k].is_floating_point())
