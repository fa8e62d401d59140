import numpy as np
import pandas as pd
import pytest
import torch

from coral_lab.core.io import CheckpointError
from coral_lab.training.pretrain import build_optimizer, load_model, pretrain


def _states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_ci_pretraining_writes_run_folder(ci_config, ci_benchmark, tmp_path):
    res = pretrain(ci_config, tmp_path / "run", benchmark=ci_benchmark, device="cpu", progress=False)
    h = res.history
    assert list(h["epoch"]) == [1, 2]
    for col in ("loss", "shared", "unique1", "unique2", "mask_ratio", "pairs_per_s"):
        assert col in h and np.isfinite(h[col]).all()
    # the paper schedule over 2 epochs: quarters start at epoch 0 and 0.5 * 2 = 1
    assert list(h["mask_ratio"]) == [0.05, 0.55]
    for f in ("config.json", "history.csv", "checkpoint.pt"):
        assert (tmp_path / "run" / f).is_file()
    csv = pd.read_csv(tmp_path / "run" / "history.csv")
    assert np.allclose(csv["loss"], h["loss"])
    model, cfg, hist = load_model(tmp_path / "run")
    assert cfg == ci_config and len(hist) == 2
    assert _states_equal(model.state_dict(), res.model.state_dict())


def test_training_lowers_the_loss(ci_config, ci_benchmark):
    cfg = ci_config.replace(train={"epochs": 6, "mask_schedule": None})
    h = pretrain(cfg, benchmark=ci_benchmark, device="cpu", progress=False).history
    assert h["loss"].iloc[-1] < h["loss"].iloc[0] - 0.1


def test_resume_is_exact(ci_config, ci_benchmark, tmp_path):
    cfg = ci_config.replace(train={"epochs": 3})
    full = pretrain(cfg, tmp_path / "full", benchmark=ci_benchmark, device="cpu", progress=False)
    part = pretrain(cfg, tmp_path / "split", benchmark=ci_benchmark, device="cpu", progress=False,
                    max_epochs_this_call=1)
    assert len(part.history) == 1
    rest = pretrain(cfg, tmp_path / "split", benchmark=ci_benchmark, device="cpu", progress=False)
    assert list(rest.history["epoch"]) == [1, 2, 3]
    assert _states_equal(full.model.state_dict(), rest.model.state_dict())
    assert np.allclose(full.history["loss"], rest.history["loss"])


def test_resume_refuses_a_different_config(ci_config, ci_benchmark, tmp_path):
    pretrain(ci_config, tmp_path / "run", benchmark=ci_benchmark, device="cpu", progress=False,
             max_epochs_this_call=1)
    other = ci_config.replace(loss={"lambda_o": 3.0})
    with pytest.raises(CheckpointError, match="different configuration"):
        pretrain(other, tmp_path / "run", benchmark=ci_benchmark, device="cpu", progress=False)
    # the existing checkpoint is untouched and still loads
    load_model(tmp_path / "run")


def test_resume_accepts_a_different_thread_count(ci_config, ci_benchmark, tmp_path):
    """CPU threads say how to run, not what to compute: a run started with 2 threads resumes with 1."""
    threads = torch.get_num_threads()
    try:
        cfg = ci_config.replace(train={"num_threads": 2})
        pretrain(cfg, tmp_path / "run", benchmark=ci_benchmark, device="cpu", progress=False,
                 max_epochs_this_call=1)
        rest = pretrain(cfg.replace(train={"num_threads": 1}), tmp_path / "run", benchmark=ci_benchmark,
                        device="cpu", progress=False)
        assert list(rest.history["epoch"]) == [1, 2]
        assert cfg.experiment_dict() == ci_config.experiment_dict() != cfg.to_dict()
    finally:
        torch.set_num_threads(threads)


def test_corrupted_checkpoint_is_reported(ci_config, ci_benchmark, tmp_path):
    run = tmp_path / "run"
    pretrain(ci_config, run, benchmark=ci_benchmark, device="cpu", progress=False, max_epochs_this_call=1)
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupted"):
        load_model(run)
    with pytest.raises(CheckpointError, match="corrupted"):
        pretrain(ci_config, run, benchmark=ci_benchmark, device="cpu", progress=False)
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nowhere")


def test_optimizer_skips_weight_decay_on_biases_and_norms(ci_config):
    from coral_lab.models import CoralModel

    model = CoralModel(ci_config.model)
    opt = build_optimizer(model, ci_config, torch.device("cpu"))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == ci_config.train.weight_decay and no_decay["weight_decay"] == 0
    assert all(p.ndim >= 2 for p in decay["params"]) and all(p.ndim < 2 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_bad_training_inputs_are_rejected(ci_config, ci_benchmark):
    with pytest.raises(ValueError, match="lambda_s"):
        pretrain(ci_config.replace(loss={"lambda_s": -1.0}), benchmark=ci_benchmark, device="cpu", progress=False)
    with pytest.raises(ValueError, match="fewer than one batch"):
        pretrain(ci_config.replace(train={"batch_size": 1024}), benchmark=ci_benchmark, device="cpu", progress=False)
    with pytest.raises(ValueError, match="unknown device"):
        pretrain(ci_config, benchmark=ci_benchmark, device="tpu", progress=False)


@pytest.mark.gpu
def test_ci_pretraining_on_cuda_with_bf16(ci_config, ci_benchmark, tmp_path):
    res = pretrain(ci_config, tmp_path / "run", benchmark=ci_benchmark, device="cuda", progress=False)
    assert np.isfinite(res.history["loss"]).all()
    assert next(res.model.parameters()).is_cuda
    model, _, _ = load_model(tmp_path / "run", device="cpu")
    assert not next(model.parameters()).is_cuda


def test_lr_schedules():
    import math

    from coral_lab.training.optimisation import lr_at

    assert [lr_at(s, 100, 0.1) for s in (0, 50, 99)] == [0.1, 0.1, 0.1]  # the paper: no schedule
    warm = [lr_at(s, 100, 0.1, "cosine") for s in range(5)]  # warm-up: ceil(5 % of 100) = 5 steps
    assert warm == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert lr_at(5, 100, 0.1, "cosine") == pytest.approx(0.05 * (1 + math.cos(math.pi / 96)))
    tail = [lr_at(s, 100, 0.1, "cosine") for s in range(5, 100)]
    assert all(a > b for a, b in zip(tail, tail[1:])) and 0 < tail[-1] < 1e-3
    with pytest.raises(ValueError, match="unknown lr schedule"):
        lr_at(0, 10, 0.1, "step")
    with pytest.raises(ValueError, match="step must be"):
        lr_at(10, 10, 0.1)


def test_cosine_schedule_sets_the_optimiser_rate_and_resumes_exactly(ci_config, ci_benchmark, tmp_path):
    from coral_lab.training.pretrain import pretrain

    cfg = ci_config.replace(train={"lr_schedule": "cosine", "epochs": 2, "num_threads": 1})
    whole = pretrain(cfg, tmp_path / "a", benchmark=ci_benchmark, device="cpu", progress=False)
    pretrain(cfg, tmp_path / "b", benchmark=ci_benchmark, device="cpu", progress=False, max_epochs_this_call=1)
    resumed = pretrain(cfg, tmp_path / "b", benchmark=ci_benchmark, device="cpu", progress=False)
    assert whole.history["loss"].tolist() == resumed.history["loss"].tolist()
    constant = pretrain(ci_config.replace(train={"epochs": 2, "num_threads": 1}), None, benchmark=ci_benchmark,
                        device="cpu", progress=False)
    assert whole.history["loss"].iloc[0] != constant.history["loss"].iloc[0]
    with pytest.raises(ValueError, match="lr_schedule"):
        ci_config.replace(train={"lr_schedule": "step"}).validate()
