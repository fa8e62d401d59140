"""coral_lab.data.modalities and coral_lab.models.token_encoders: each input's ModalitySpec, and the one
registry that picks a modality's token encoder E_i by its kind."""

import pytest
import torch

from coral_lab.config import get_preset
from coral_lab.data.modalities import (
    FEATURE_KINDS,
    IMAGE,
    MODALITY_KINDS,
    ModalitySpec,
    image_modalities,
    modality_names,
)
from coral_lab.models import CoralModel, TokenEncoder
from coral_lab.models.token_encoders import TOKEN_ENCODERS, build_token_encoder
from coral_lab.models.feature_encoders import FeatureTokenEncoder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_modality_kind_has_one_builder():
    assert tuple(TOKEN_ENCODERS) == MODALITY_KINDS == (IMAGE, *FEATURE_KINDS)


def test_image_modalities_and_their_names():
    mods = image_modalities(3, 3, 32)
    assert [m.name for m in mods] == ["image1", "image2", "image3"]
    assert all(m.kind == IMAGE and m.shape == (3, 32, 32) for m in mods)
    assert modality_names(mods) is None  # images are numbered in messages
    text = (ModalitySpec("text", "sequence", (4, 8)), ModalitySpec("row", "tabular", (5,)))
    assert modality_names(text) == ["text", "row"]


def test_an_image_modality_gets_the_cnn_tokens():
    cfg = get_preset("ci").model
    torch.manual_seed(0)
    enc = build_token_encoder(image_modalities(2, cfg.in_channels, cfg.image_size)[0], cfg)
    assert type(enc) is TokenEncoder
    x = torch.randn(3, cfg.in_channels, cfg.image_size, cfg.image_size)
    assert enc(x).shape == (3, enc.n_tokens, cfg.embed_dim)


@pytest.mark.parametrize("kind, shape, tokens", [("sequence", (4, 8), 4), ("timeseries", (6, 3), 6), ("tabular", (5,), None)])
def test_a_feature_modality_gets_its_feature_encoder(kind, shape, tokens):
    cfg = get_preset("ci", "digits").model
    enc = build_token_encoder(ModalitySpec("m", kind, shape), cfg)
    assert type(enc) is FeatureTokenEncoder
    out = enc(torch.randn(2, *shape))
    assert out.shape == (2, enc.n_tokens, cfg.embed_dim)
    assert enc.n_tokens == (tokens if tokens is not None else cfg.encoder.tabular_hidden)


def test_a_model_section_of_the_other_kind_or_an_unknown_kind_stops():
    image_cfg, feature_cfg = get_preset("ci").model, get_preset("ci", "digits").model
    with pytest.raises(TypeError, match="an image modality needs a coral_lab.config.ModelConfig, got FeatureModelConfig"):
        build_token_encoder(ModalitySpec("image1", "image", (3, 32, 32)), feature_cfg)
    with pytest.raises(TypeError, match="a sequence modality needs a FeatureModelConfig, got ModelConfig"):
        build_token_encoder(ModalitySpec("text", "sequence", (4, 8)), image_cfg)
    with pytest.raises(ValueError, match=r"unknown modality kind 'audio' for 'a'; valid: \['image', 'sequence'"):
        build_token_encoder(ModalitySpec("a", "audio", (4, 8)), feature_cfg)
    with pytest.raises(TypeError, match="expects a ModalitySpec, got tuple"):
        build_token_encoder(("a", "sequence", (4, 8)), feature_cfg)


def test_coral_takes_its_modalities_from_the_kind_of_config():
    image_cfg, feature_cfg = get_preset("ci").model, get_preset("ci", "digits").model
    mods = (ModalitySpec("top", "sequence", (4, 8)), ModalitySpec("bottom", "sequence", (4, 8)))
    assert [m.kind for m in CoralModel(image_cfg).modalities] == ["image", "image"]
    assert CoralModel(feature_cfg, modalities=mods).modalities == mods
    with pytest.raises(ValueError, match="modalities are for feature data"):
        CoralModel(image_cfg, modalities=mods)
    with pytest.raises(ValueError, match="COrAL needs n >= 2 modalities"):
        CoralModel(feature_cfg)
    with pytest.raises(TypeError, match="must be ModalitySpec s"):
        CoralModel(feature_cfg, modalities=[("top", "sequence", (4, 8))] * 2)
    with pytest.raises(TypeError, match="expects a coral_lab.config.ModelConfig"):
        CoralModel({"embed_dim": 64})
