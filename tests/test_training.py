"""coral_lab.objectives.contract and coral_lab.training.optimisation: the one method contract every method
follows, in both stacks, and the shared pieces of the training loops (optimiser groups, seeds, progress)."""

import pytest
import torch

from coral_lab.config import get_preset
from coral_lab.methods import METHODS, build_model, get_method
from coral_lab.data.features import load_dataset
from coral_lab.multibench.pretrain import build_feature_model
from coral_lab.objectives.contract import StepContext
from coral_lab.training.optimisation import TrainingStep, adamw, augmentation_seed, progress_at

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _image_views(cfg, batch=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = cfg.model
    shape = (batch, m.in_channels, m.image_size, m.image_size)
    return [[torch.randn(shape, generator=g) for _ in range(2)] for _ in range(2)]


def _check_contract(model, view1, view2, embed_input):
    ratio = model.mask_ratio_at(0, 4, 0.5)
    assert 0.0 <= ratio < 1.0
    ctx = StepContext(mask_ratio=ratio, progress=0.0, generator=torch.Generator().manual_seed(1),
                      order_generator=torch.Generator().manual_seed(2))
    model.train()
    total, parts = TrainingStep(model)(view1, view2, ctx)
    assert total.dim() == 0 and torch.isfinite(total)
    assert tuple(parts) == tuple(model.loss_parts)  # every part logged, in the logged order
    assert all(p.dim() == 0 for p in parts.values())
    assert set(model.progress_parts) <= {"loss", *parts}
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval()
    with torch.no_grad():
        names = tuple(model.embed(embed_input).parts())
    assert names == tuple(model.subspaces)


@pytest.mark.parametrize("name", list(METHODS))
def test_every_image_method_follows_the_contract(name):
    cfg = get_preset("ci").replace(method=name)
    model = build_model(cfg)
    assert type(model) is METHODS[name].model
    assert [m.kind for m in model.modalities] == ["image"] * cfg.model.n_modalities
    v1, v2 = _image_views(cfg)
    _check_contract(model, v1, v2, v1)


@pytest.mark.parametrize("name", list(METHODS))
def test_every_feature_method_follows_the_contract(name):
    data = load_dataset("digits")
    cfg = get_preset("ci", "digits").replace(method=name)
    model = build_feature_model(cfg, data)
    assert type(model) is METHODS[name].model and model.modalities == data.modalities
    batch = [torch.from_numpy(x[:6]) for x in data.train.x]
    _check_contract(model, batch, [b + 0.01 for b in batch], batch)


def test_the_schedule_is_coral_s_and_a_baseline_logs_its_own_ratio():
    cfg = get_preset("ci")
    coral = build_model(cfg)
    assert [coral.mask_ratio_at(e, 4, "paper") for e in range(4)] == [0.05, 0.35, 0.55, 0.75]
    infmasking = build_model(cfg.replace(method="infmasking"))
    assert infmasking.mask_ratio_at(0, 4, "paper") == get_method("infmasking").settings().ratio == 0.7


def test_coral_training_loss_uses_its_loss_config():
    cfg = get_preset("ci")
    v1, v2 = _image_views(cfg)

    def total(c):
        torch.manual_seed(0)
        model = build_model(c)
        ctx = StepContext(0.0, 0.0, torch.Generator().manual_seed(1), torch.Generator().manual_seed(2))
        return model.training_loss(v1, v2, ctx)

    base, parts = total(cfg)
    doubled, _ = total(cfg.replace(loss={"lambda_o": 3.0}))
    expected = parts["shared"] + parts["unique"] + 3.0 * parts["orthogonal"]
    assert doubled.item() == pytest.approx(expected.item(), rel=1e-5)
    assert base.item() == pytest.approx((parts["shared"] + parts["unique"] + parts["orthogonal"]).item(), rel=1e-5)


def test_training_step_holds_no_parameters_of_its_own():
    model = build_model(get_preset("ci"))
    step = TrainingStep(model)
    assert sum(p.numel() for p in step.parameters()) == sum(p.numel() for p in model.parameters())
    assert set(step.state_dict()) == {f"method.{k}" for k in model.state_dict()}


def test_adamw_leaves_one_dimensional_parameters_undecayed():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    net[2].weight.requires_grad_(False)
    opt = adamw(net.parameters(), lr=0.1, weight_decay=0.5)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.5 and no_decay["weight_decay"] == 0.0
    assert [p.shape for p in decay["params"]] == [torch.Size([4, 3])]
    assert [p.shape for p in no_decay["params"]] == [torch.Size([4]), torch.Size([4]), torch.Size([4]),
                                                    torch.Size([2])]
    assert opt.defaults["lr"] == 0.1


def test_seeds_and_progress():
    seeds = {augmentation_seed(41, r) for r in range(8)} | {augmentation_seed(42, r) for r in range(8)}
    assert len(seeds) == 16 and 41 not in seeds
    assert augmentation_seed(41) == 41 * 1_000_003 + 7919  # the value every committed run used
    assert [progress_at(e, 5) for e in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert progress_at(0, 1) == 1.0


def test_a_feature_checkpoint_in_the_earlier_format_still_resumes_exactly(tmp_path):
    from coral_lab.core.io import atomic_torch_save, load_checkpoint
    from coral_lab.multibench.pretrain import pretrain_features

    data = load_dataset("digits")
    cfg = get_preset("ci", "digits").replace(train={"epochs": 2})
    full = pretrain_features(cfg, data, tmp_path / "full")
    pretrain_features(cfg, data, tmp_path / "split", max_epochs_this_call=1)
    ckpt = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    ckpt["rng"]["aug"] = ckpt["rng"]["aug"][0]  # the feature loop's own format before the one loop: one state
    atomic_torch_save(ckpt, tmp_path / "split" / "checkpoint.pt")
    rest = pretrain_features(cfg, data, tmp_path / "split")
    a, b = full.model.state_dict(), rest.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert list(rest.history["epoch"]) == [1, 2]


def test_one_pretrain_entry_point_for_both_kinds_of_data(tmp_path):
    from coral_lab.multibench.pretrain import pretrain_features
    from coral_lab.training.pretrain import pretrain

    data = load_dataset("digits")
    cfg = get_preset("ci", "digits")
    given = pretrain(cfg, tmp_path / "given", data=data, device="cpu", progress=False)
    loaded = pretrain(cfg, tmp_path / "loaded", device="cpu", progress=False)  # loads cfg.dataset itself
    wrapper = pretrain_features(cfg, data)
    for other in (loaded, wrapper):
        a, b = given.model.state_dict(), other.model.state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert list(other.history["loss"]) == list(given.history["loss"])
    assert given.config is cfg and (tmp_path / "given" / "checkpoint.pt").is_file()
    with pytest.raises(ValueError, match="a digits config takes data="):
        pretrain(cfg, benchmark=object())
    with pytest.raises(ValueError, match="a Trifeature config takes benchmark="):
        pretrain(get_preset("ci"), data=data)
    with pytest.raises(TypeError, match="pretrain expects a coral_lab.config.RunConfig, got dict"):
        pretrain({"preset": "ci"})
    with pytest.raises(TypeError, match="pretrain_features expects a feature data set's RunConfig"):
        pretrain_features(get_preset("ci"), data)
