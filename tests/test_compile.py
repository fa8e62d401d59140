"""``train.compile``: torch.compile of the model's parts changes how a step runs, not what it computes."""

import pytest
import torch

from coral_lab.core.device import COMPILE_MODES, compile_parts
from coral_lab.objectives.losses import coral_loss
from coral_lab.models import CoralModel


def _step_outputs(model: CoralModel, views: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(3)
    model.zero_grad(set_to_none=True)
    e1, e2 = model(views[:2], views[2:], ((0,), (1,)), 0.5, gen)
    loss, _ = coral_loss(e1.float(), e2.float())
    loss.backward()
    return loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}


def test_compiled_parts_match_eager_and_keep_the_parameter_names(ci_config):
    """Dynamo traces every part (a graph break in a part would still run, so outputs are compared)."""
    torch.manual_seed(0)
    eager = CoralModel(ci_config.model).train()
    compiled = CoralModel(ci_config.model).train()
    compiled.load_state_dict(eager.state_dict())
    compile_parts(compiled, "default", backend="aot_eager")  # traced graphs, no C++ compiler needed
    assert list(compiled.state_dict()) == list(eager.state_dict())  # checkpoints stay interchangeable
    size = ci_config.model.image_size
    views = [torch.randn(8, 3, size, size, generator=torch.Generator().manual_seed(i)) for i in range(4)]
    loss_e, grads_e = _step_outputs(eager, views)
    loss_c, grads_c = _step_outputs(compiled, views)
    torch.testing.assert_close(loss_c, loss_e, rtol=1e-4, atol=1e-5)
    for name, g in grads_e.items():
        torch.testing.assert_close(grads_c[name], g, rtol=1e-3, atol=1e-4, msg=name)


def test_compile_parts_rejects_unknown_modes_and_none_is_a_no_op(ci_config):
    model = CoralModel(ci_config.model)
    before = [type(m) for m in model.modules()]
    assert compile_parts(model, None) is model
    assert [type(m) for m in model.modules()] == before
    with pytest.raises(ValueError, match="unknown compile mode 'max-autotune'"):
        compile_parts(model, "max-autotune")
    assert "reduce-overhead" in COMPILE_MODES


def test_train_compile_is_validated_and_is_not_part_of_the_experiment(ci_config):
    with pytest.raises(ValueError, match="train.compile"):
        ci_config.replace(train={"compile": "fastest"}).validate()
    compiled = ci_config.replace(train={"compile": "default"})
    compiled.validate()
    assert compiled.experiment_dict() == ci_config.experiment_dict()


def test_pretrain_compiles_the_parts_it_was_asked_to(ci_config, ci_benchmark, monkeypatch):
    import coral_lab.training.pretrain as train

    calls = []

    def traced(model, mode):
        calls.append(mode)
        return compile_parts(model, mode, backend="aot_eager")

    monkeypatch.setattr(train, "compile_parts", traced)
    cfg = ci_config.replace(train={"epochs": 1, "compile": "default"})
    res = train.pretrain(cfg, benchmark=ci_benchmark, device="cpu", progress=False)
    assert calls == ["default"]
    assert res.history["loss"].notna().all()
