"""Feature encoders, augmentations and COrAL (CoralModel) on feature data."""

import pytest
import torch

from coral_lab.objectives.losses import coral_loss
from coral_lab.inputs.feature_augment import augment_sequences, augment_tabular
from coral_lab.config import FeatureAugmentConfig, get_preset
from coral_lab.data.modalities import ModalitySpec
from coral_lab.models.feature_encoders import FeatureTokenizer, GRUEncoder, SequenceTransformer, TabularEncoder
from coral_lab.models import CoralModel


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_feature_tokenizer_matches_the_formula():
    tok = FeatureTokenizer(3, 4)
    x = torch.randn(2, 3)
    expected = x[:, :, None] * tok.weight[None] + tok.bias[None]
    torch.testing.assert_close(tok(x), expected)


def test_encoder_shapes_and_errors():
    assert SequenceTransformer(20, 8, 1, 2, 0.0)(torch.randn(3, 7, 20)).shape == (3, 7, 8)
    assert GRUEncoder(12, 6)(torch.randn(3, 24, 12)).shape == (3, 24, 6)
    assert TabularEncoder(5, 4, 8)(torch.randn(3, 5)).shape == (3, 4, 8)
    with pytest.raises(ValueError, match=r"expects \(B, T, F\) with F=20"):
        SequenceTransformer(20, 8, 1, 2)(torch.randn(3, 7, 21))
    with pytest.raises(ValueError, match="divisible by heads"):
        SequenceTransformer(20, 9, 1, 2)


def test_sequence_augmentation_drops_whole_steps_and_is_seeded():
    cfg = FeatureAugmentConfig(drop_p=1.0, drop_max=0.8, noise_p=0.0)
    x = torch.rand(64, 10, 3) + 1.0  # no zeros to begin with
    out = augment_sequences(x, cfg, torch.Generator().manual_seed(0))
    zero_steps = (out == 0).all(dim=2)
    assert ((out == 0).any(dim=2) == zero_steps).all()  # a step is dropped whole or not at all
    assert 0 < zero_steps.float().mean() < 0.8
    torch.testing.assert_close(out[~zero_steps], x[~zero_steps])
    again = augment_sequences(x, cfg, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, again)
    noisy = augment_sequences(x, FeatureAugmentConfig(drop_p=0.0, noise_p=1.0, noise_std=0.1), torch.Generator().manual_seed(1))
    assert 0.05 < (noisy - x).std() < 0.15


def test_tabular_corruption_takes_values_from_the_same_column():
    cfg = FeatureAugmentConfig(corrupt_rate=0.5, noise_p=0.0)
    x = torch.arange(40.0).view(8, 5)  # every value is unique to its column
    out = augment_tabular(x, cfg, torch.Generator().manual_seed(0))
    for j in range(5):
        assert set(out[:, j].tolist()) <= set(x[:, j].tolist())
    assert (out != x).any()


@pytest.mark.parametrize("mods", [
    (ModalitySpec("vision", "sequence", (6, 20)), ModalitySpec("text", "sequence", (6, 300))),
    (ModalitySpec("static", "tabular", (5,)), ModalitySpec("series", "timeseries", (24, 12))),
    (ModalitySpec("a", "sequence", (4, 8)), ModalitySpec("b", "sequence", (4, 8)), ModalitySpec("c", "tabular", (3,))),
])
def test_feature_model_shapes_masking_and_gradients(mods):
    cfg = get_preset("ci", "mosi").model
    model = CoralModel(cfg, modalities=mods)
    view = [torch.randn(4, *m.shape) for m in mods]
    view2 = [v + 0.1 for v in view]
    n = len(mods)
    halves = ((0,), tuple(range(1, n)))
    e1, e2 = model(view, view2, halves, 0.5, torch.Generator().manual_seed(0))
    assert e1.shared.shape == (4, cfg.proj_dim) and len(e1.unique) == n
    loss, _ = coral_loss(e1, e2)
    loss.backward()
    for part in (model.shared_encoders, model.unique_paths, model.fusion):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in part.parameters() if p.requires_grad)
    model.eval()
    z = model.embed(view)
    assert z.concat().shape == (4, cfg.embed_dim + n * cfg.embed_dim // 2)
    with pytest.raises(ValueError, match=rf"must have shape \(B, {', '.join(map(str, mods[0].shape))}\)"):
        model.embed([torch.randn(4, 99)] + view[1:])
    with pytest.raises(ValueError, match="NaN"):
        model.embed([view[0].clone().fill_(float("nan"))] + view[1:])


def test_masking_reaches_only_the_shared_pathway():
    mods = (ModalitySpec("a", "sequence", (6, 8)), ModalitySpec("b", "sequence", (6, 8)))
    model = CoralModel(get_preset("ci", "digits").replace(model={"encoder": {"dropout": 0.0}}).model, modalities=mods).eval()
    x = [torch.randn(3, 6, 8), torch.randn(3, 6, 8)]
    with torch.no_grad():
        a1, _ = model.encode_views(x, x, ((0,), (1,)), 0.0, torch.Generator().manual_seed(0))
        b1, _ = model.encode_views(x, x, ((0,), (1,)), 0.9, torch.Generator().manual_seed(0))
    for u, v in zip(a1.unique, b1.unique):
        torch.testing.assert_close(u, v)  # unique pathways never masked
    assert not torch.allclose(a1.shared, b1.shared)


@pytest.mark.parametrize("preset", ["ci", "quick", "paper"])
def test_every_preset_validates_and_round_trips_json(preset, tmp_path):
    from coral_lab.config import RunConfig
    from coral_lab.data.features import DATASETS

    for name in DATASETS:
        cfg = get_preset(preset, name).validate()
        cfg.to_json(tmp_path / f"{name}.json")
        assert RunConfig.from_json(tmp_path / f"{name}.json").to_dict() == cfg.to_dict()
    paper = get_preset("paper", "mosi")
    assert (paper.model.embed_dim, paper.model.encoder.layers, paper.model.encoder.heads) == (40, 5, 5)
    assert (paper.train.lr, paper.train.weight_decay, paper.train.batch_size, paper.train.epochs) == (1e-4, 1e-3, 64, 100)
    assert paper.finetune.mask_ratio == 0.2
    with pytest.raises(ValueError, match="unknown field train.epoch;"):
        paper.replace(train={"epoch": 3})
    with pytest.raises(ValueError, match="unknown data set 'iemocap'"):
        get_preset(preset, "iemocap")
