"""Tests for coral_lab.models: shapes, gradient flow, asymmetric masking, components, input validation."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
from torch import nn

from coral_lab.config import ModelConfig
from coral_lab.objectives.embeddings import Embeddings
from coral_lab.models import (
    ENCODERS,
    AlexNetFeatures,
    AttentionPool,
    CoralModel,
    FusionTransformer,
    LatentConverter,
    MultiHeadSelfAttention,
    ProjectionHead,
    SmallCNN,
    UniquePathway,
    build_encoder,
    sincos_pos_embed_2d,
)

B = 4
SIZE = 32


def small_cfg(n_modalities: int = 2, **kw) -> ModelConfig:
    base = dict(
        n_modalities=n_modalities,
        encoder="small_cnn",
        encoder_width=8,
        image_size=SIZE,
        embed_dim=32,
        n_heads=4,
        proj_hidden=32,
        proj_dim=16,
    )
    base.update(kw)
    return ModelConfig(**base)


def make_model(n_modalities: int = 2, seed: int = 0, **kw) -> CoralModel:
    torch.manual_seed(seed)
    return CoralModel(small_cfg(n_modalities, **kw))


def images(n_modalities: int, batch: int = B, seed: int = 1, size: int = SIZE) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, 3, size, size, generator=g) for _ in range(n_modalities)]


def gen(seed: int = 123) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def default_halves(n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return tuple(range(0, n, 2)), tuple(range(1, n, 2))


# ------------------------------------------------------------------------------------------ encoders


def test_alexnet_224_gives_256x6x6_map_and_36_tokens():
    enc = AlexNetFeatures(3)
    with torch.no_grad():
        out = enc(torch.randn(2, 3, 224, 224))
    assert out.shape == (2, 256, 6, 6)
    assert enc.out_channels == 256
    assert enc.feature_shape(224) == (6, 6)
    torch.manual_seed(0)
    model = CoralModel(ModelConfig(encoder="alexnet", image_size=224, embed_dim=32, n_heads=4,
                                   proj_hidden=32, proj_dim=16))
    assert model.n_tokens == (36, 36)
    model.eval()
    with torch.no_grad():
        e = model.embed(images(2, batch=1, size=224))
    assert e.shared.shape == (1, 32) and all(u.shape == (1, 16) for u in e.unique)


def _meta_feature_shape(encoder: nn.Module, size: int) -> tuple[int, int]:
    layers = copy.deepcopy(encoder.layers).to("meta")
    with torch.no_grad():
        out = layers(torch.empty(1, encoder.in_channels, size, size, device="meta"))
    return int(out.shape[2]), int(out.shape[3])


@pytest.mark.parametrize(
    "encoder, sizes",
    [
        (AlexNetFeatures(3), [63, 64, 67, 100, 127, 128, 224, 225, 256]),
        (SmallCNN(3, 8), [8, 9, 15, 16, 17, 31, 32, 33, 64, 100, 128]),
        (SmallCNN(1, 4), [8, 32, 48]),
    ],
)
def test_feature_shape_matches_a_real_forward(encoder, sizes):
    for size in sizes:
        assert encoder.feature_shape(size) == _meta_feature_shape(encoder, size), size


def test_feature_shape_of_non_square_image_is_per_axis():
    enc = SmallCNN(3, 8)
    assert enc.feature_shape((32, 64)) == (4, 8)
    out = enc(torch.randn(1, 3, 32, 64))
    assert out.shape[2:] == (4, 8)


def test_small_cnn_shapes_and_no_batchnorm():
    enc = SmallCNN(3, 8)
    assert enc.out_channels == 32
    assert enc(torch.randn(2, 3, 32, 32)).shape == (2, 32, 4, 4)
    assert enc.feature_shape(64) == (8, 8)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in enc.modules())


def test_alexnet_minimum_size_is_exact():
    enc = AlexNetFeatures(3)
    assert enc.min_image_size == 63
    assert _meta_feature_shape(enc, 63) == (1, 1)
    with pytest.raises(RuntimeError):  # one pixel less really is too small for the layers
        _meta_feature_shape(enc, 62)
    with pytest.raises(ValueError, match="63"):
        enc.feature_shape(62)
    with pytest.raises(ValueError, match="63"):
        enc(torch.randn(1, 3, 32, 32))


def test_build_encoder_registry():
    assert set(ENCODERS) == {"alexnet", "small_cnn"}
    assert isinstance(build_encoder(small_cfg()), SmallCNN)
    assert isinstance(build_encoder(ModelConfig(encoder="alexnet")), AlexNetFeatures)
    assert build_encoder(small_cfg(encoder_width=4)).out_channels == 16
    with pytest.raises(ValueError, match="alexnet.*small_cnn"):
        build_encoder(small_cfg(encoder="resnet"))


# -------------------------------------------------------------------------------------------- tokens


def test_sincos_reference_values():
    dim, h, w = 8, 2, 3
    pe = sincos_pos_embed_2d(dim, h, w)
    assert pe.shape == (h * w, dim) and pe.dtype == torch.float32
    # MAE: first half encodes the column, second half the row; each half is [sin(p*omega), cos(p*omega)]
    # with omega_k = 10000^(-k / (dim/4)), k = 0 .. dim/4 - 1  (here omega = [1, 0.01])
    omegas = [10000.0 ** (-k / (dim // 4)) for k in range(dim // 4)]
    for r in range(h):
        for c in range(w):
            expected = (
                [math.sin(c * o) for o in omegas]
                + [math.cos(c * o) for o in omegas]
                + [math.sin(r * o) for o in omegas]
                + [math.cos(r * o) for o in omegas]
            )
            assert torch.allclose(pe[r * w + c], torch.tensor(expected), atol=1e-6), (r, c)
    assert torch.equal(sincos_pos_embed_2d(4, 1, 1), torch.tensor([[0.0, 1.0, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_pos_embed_2d(6, 2, 2)


def test_latent_converter_tokens_positions_and_buffer():
    torch.manual_seed(0)
    conv = LatentConverter(5, 8, (2, 3))
    names = dict(conv.named_buffers())
    assert "pos_embed" in names
    assert not any("pos" in n for n, _ in conv.named_parameters())
    assert not conv.pos_embed.requires_grad
    assert torch.equal(conv.pos_embed[0], sincos_pos_embed_2d(8, 2, 3))
    x = torch.randn(2, 5, 2, 3)
    tokens = conv(x)
    assert tokens.shape == (2, 6, 8)
    # token r*w + c is the 1x1 projection of cell (r, c) plus its position
    weight = conv.proj.weight[:, :, 0, 0]  # (D, C)
    r, c = 1, 2
    expected = x[1, :, r, c] @ weight.T + conv.proj.bias + sincos_pos_embed_2d(8, 2, 3)[r * 3 + c]
    assert torch.allclose(tokens[1, r * 3 + c], expected, atol=1e-6)
    with pytest.raises(ValueError, match="feature_shape"):
        conv(torch.randn(2, 5, 3, 3))
    # the positional embedding of a model is a buffer too, never a parameter
    model = make_model()
    assert any(n.endswith("pos_embed") for n, _ in model.named_buffers())
    assert not any("pos_embed" in n for n, _ in model.named_parameters())


# -------------------------------------------------------------------------------------------- fusion


def test_multihead_attention_matches_manual_reference():
    torch.manual_seed(0)
    attn = MultiHeadSelfAttention(8, n_heads=2)
    x = torch.randn(3, 5, 8)
    q, k, v = attn.qkv(x).split(8, dim=-1)
    outs = []
    for head in range(2):
        sl = slice(4 * head, 4 * head + 4)
        scores = q[..., sl] @ k[..., sl].transpose(1, 2) / math.sqrt(4)
        outs.append(scores.softmax(-1) @ v[..., sl])
    expected = attn.out(torch.cat(outs, dim=-1))
    assert torch.allclose(attn(x), expected, atol=1e-5)


def test_fusion_returns_cls_and_is_per_sample_and_order_free():
    torch.manual_seed(0)
    fusion = FusionTransformer(16, n_heads=4, n_layers=2)
    assert len(fusion.blocks) == 2 and len(FusionTransformer(16, 4).blocks) == 1
    a, b = torch.randn(3, 4, 16), torch.randn(3, 6, 16)
    z = fusion([a, b])
    assert z.shape == (3, 16)
    # final LayerNorm (default affine = identity at init): zero mean, unit variance per sample
    assert torch.allclose(z.mean(-1), torch.zeros(3), atol=1e-5)
    # no mask, no modality embedding: concatenation order does not matter; samples do not mix
    assert torch.allclose(fusion([b, a]), z, atol=1e-5)
    assert torch.allclose(fusion([a[1:2], b[1:2]]), z[1:2], atol=1e-5)
    # the CLS output depends on the tokens
    assert not torch.allclose(fusion([a, b.flip(1) * 3.0]), z, atol=1e-3)
    with pytest.raises(ValueError, match="D=16"):
        fusion([a, torch.randn(3, 6, 8)])
    with pytest.raises(ValueError, match="B=3"):
        fusion([a, torch.randn(2, 6, 16)])
    with pytest.raises(TypeError):
        fusion(a)
    with pytest.raises(ValueError, match="divisible by n_heads"):
        FusionTransformer(18, n_heads=4)


# -------------------------------------------------------------------------------- unique pathway, heads


def test_attention_pool_weights_sum_to_one_and_match_reference():
    torch.manual_seed(0)
    pool = AttentionPool(6, "scaled")
    x = torch.randn(3, 5, 6)
    w = pool.attention_weights(x)
    assert w.shape == (3, 5)
    assert torch.allclose(w.sum(1), torch.ones(3), atol=1e-6)
    assert (w > 0).all()
    q = pool.query.detach()
    ref_w = torch.softmax((x * q).sum(-1) / math.sqrt(6), dim=1)
    assert torch.allclose(w, ref_w, atol=1e-6)
    ref = (ref_w[..., None] * x).sum(1)
    assert torch.allclose(pool(x), ref, atol=1e-6)
    with pytest.raises(ValueError, match="6"):
        pool(torch.randn(3, 5, 4))
    with pytest.raises(ValueError, match="unknown attention pool"):
        AttentionPool(6, "softmax")


def test_attention_pool_default_is_the_published_unscaled_pool():
    # published (modules/mmfusion.py): w = softmax_t(x_t . q), no 1/sqrt(d); q ~ N(0, 1)
    torch.manual_seed(0)
    pool = AttentionPool(6)
    x = torch.randn(3, 5, 6)
    q = pool.query.detach()
    ref_w = torch.exp((x * q).sum(-1))
    ref_w = ref_w / ref_w.sum(1, keepdim=True)
    assert torch.allclose(pool.attention_weights(x), ref_w, atol=1e-6)
    assert torch.allclose(pool(x), (ref_w[..., None] * x).sum(1), atol=1e-6)
    big = AttentionPool(4096).query.detach()
    assert 0.95 < big.std().item() < 1.05 and abs(big.mean().item()) < 0.05
    assert 0.018 < AttentionPool(4096, "scaled").query.detach().std().item() < 0.022
    torch.manual_seed(0)
    assert UniquePathway(SmallCNN(3, 4), LatentConverter(16, 16, (4, 4)), 16).pool.kind == "unscaled"


def test_quick_gelu_and_the_fusion_activation_choice():
    from coral_lab.models.fusion import QuickGELU, TransformerBlock

    x = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0], dtype=torch.float64)
    want = torch.tensor([v / (1 + math.exp(-1.702 * v)) for v in x.tolist()], dtype=torch.float64)
    assert torch.allclose(QuickGELU()(x), want)
    assert isinstance(TransformerBlock(16, 4).mlp[1], QuickGELU)  # published default
    assert isinstance(TransformerBlock(16, 4, activation="gelu").mlp[1], nn.GELU)
    with pytest.raises(ValueError, match="unknown fusion activation"):
        TransformerBlock(16, 4, activation="relu")


def test_fusion_published_init_draws_clip_normals_and_a_unit_cls():
    torch.manual_seed(0)
    f = FusionTransformer(512, 8, n_layers=1)
    assert 0.9 < f.cls_token.std().item() < 1.1  # N(0, 1)
    block = f.blocks[0]
    for weight, want in ((block.attn.qkv.weight, 512**-0.5), (block.attn.out.weight, 512**-0.5 / math.sqrt(2)),
                         (block.mlp[0].weight, 1024**-0.5), (block.mlp[2].weight, 512**-0.5 / math.sqrt(2))):
        assert weight.std().item() == pytest.approx(want, rel=0.02)
    assert not block.attn.qkv.bias.any() and not block.attn.out.bias.any()
    g = FusionTransformer(512, 8, init="independent")
    assert 0.018 < g.cls_token.std().item() < 0.022
    # PyTorch's default Linear init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std 1/sqrt(3 fan_in)
    assert g.blocks[0].attn.qkv.weight.std().item() == pytest.approx((3 * 512) ** -0.5, rel=0.02)
    with pytest.raises(ValueError, match="unknown init"):
        FusionTransformer(16, 4, init="xavier")


def test_published_init_starts_unique_pathways_as_copies_that_then_train_apart():
    cfg = ModelConfig(encoder="small_cnn", encoder_width=4, image_size=SIZE, embed_dim=16, n_heads=4,
                      proj_hidden=16, proj_dim=8)
    torch.manual_seed(0)
    model = CoralModel(cfg)
    for i in range(2):
        for part in ("encoder", "converter"):
            shared = getattr(model.shared_encoders[i], part).state_dict()
            unique = getattr(model.unique_paths[i], part).state_dict()
            assert all(torch.equal(shared[k], unique[k]) for k in shared)
    heads = [h.state_dict() for h in model.unique_heads]
    assert all(torch.equal(heads[0][k], heads[1][k]) for k in heads[0])
    # the two shared encoders are drawn independently; the copies are separate parameters
    w0, w1 = (model.shared_encoders[i].encoder.layers[0].weight for i in range(2))
    assert not torch.equal(w0, w1)
    assert model.unique_paths[0].encoder.layers[0].weight.data_ptr() != w0.data_ptr()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = [torch.randn(B, 3, SIZE, SIZE) for _ in range(4)]
    e1, e2 = model(x[:2], x[2:], ((0,), (1,)), 0.5, torch.Generator().manual_seed(0))
    from coral_lab.objectives.losses import coral_loss

    coral_loss(e1, e2)[0].backward()
    opt.step()
    assert not torch.equal(model.unique_paths[0].encoder.layers[0].weight, w0)
    # the named alternative draws every part on its own
    torch.manual_seed(0)
    other = CoralModel(dataclasses.replace(cfg, init="independent"))
    assert not torch.equal(other.unique_paths[0].encoder.layers[0].weight,
                           other.shared_encoders[0].encoder.layers[0].weight)


def test_unique_pathway_shape_and_structure():
    torch.manual_seed(0)
    enc = SmallCNN(3, 4)
    path = UniquePathway(enc, LatentConverter(enc.out_channels, 16, enc.feature_shape(32)), 16)
    z = path(torch.randn(2, 3, 32, 32))
    assert z.shape == (2, 8) and path.out_dim == 8
    kinds = [type(m) for m in path.mlp]
    assert kinds == [nn.Linear, nn.LayerNorm, nn.GELU, nn.Linear]
    assert path.mlp[0].weight.shape == (16, 16) and path.mlp[3].weight.shape == (8, 16)
    conv16 = LatentConverter(enc.out_channels, 16, (4, 4))
    with pytest.raises(ValueError, match="even"):
        UniquePathway(enc, conv16, 15)
    with pytest.raises(ValueError, match="produces 16"):
        UniquePathway(enc, conv16, 24)


def test_projection_head_layout_and_small_batch():
    head = ProjectionHead(8, hidden=12, out_dim=5)
    kinds = [type(m) for m in head.net]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert head(torch.randn(4, 8)).shape == (4, 5)
    with pytest.raises(ValueError, match="at least 2"):
        head(torch.randn(1, 8))
    head.eval()
    assert head(torch.randn(1, 8)).shape == (1, 5)
    with pytest.raises(ValueError, match=r"\(B, 8\)"):
        head(torch.randn(4, 7))


# --------------------------------------------------------------------------------------- CoralModel


@pytest.mark.parametrize("n", [2, 3])
def test_model_output_shapes(n):
    model = make_model(n)
    assert model.n_tokens == (16,) * n
    assert len(model.shared_encoders) == n and len(model.unique_paths) == n and len(model.unique_heads) == n
    # each unique pathway has its own encoder, distinct from the shared pathway's
    encoders = [m.encoder for m in model.shared_encoders] + [p.encoder for p in model.unique_paths]
    assert len({id(e) for e in encoders}) == 2 * n
    e1, e2 = model(images(n, seed=1), images(n, seed=2), default_halves(n), 0.5, gen())
    for e in (e1, e2):
        assert isinstance(e, Embeddings)
        assert e.shared.shape == (B, 16)
        assert len(e.unique) == n and all(u.shape == (B, 16) for u in e.unique)
    model.eval()
    with torch.no_grad():
        z = model.embed(images(n))
    assert z.shared.shape == (B, 32) and all(u.shape == (B, 16) for u in z.unique)
    assert z.concat().shape == (B, 32 + n * 16)


def test_parameter_counts_cover_the_model():
    model = make_model(3)
    counts = model.pathway_parameter_counts()
    assert set(counts) == {"shared_encoders", "fusion", "unique_paths", "heads"}
    assert sum(counts.values()) == sum(p.numel() for p in model.parameters())
    assert all(v > 0 for v in counts.values())
    assert counts["fusion"] == sum(p.numel() for p in model.fusion.parameters())


def test_gradients_reach_every_parameter():
    model = make_model(2)
    model.train()
    e1, e2 = model(images(2, seed=1), images(2, seed=2), ((0,), (1,)), 0.3, gen())
    g = torch.Generator().manual_seed(7)
    outputs = [e1.shared, *e1.unique, e2.shared, *e2.unique]
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() + o.square().sum() for o in outputs)
    loss.backward()
    groups = {
        "shared_encoders": model.shared_encoders,
        "fusion": model.fusion,
        "unique_paths": model.unique_paths,
        "heads": nn.ModuleList([model.shared_head, model.unique_heads]),
    }
    for group, module in groups.items():
        for name, p in module.named_parameters():
            assert p.grad is not None, f"{group}.{name} got no gradient"
            assert p.grad.abs().sum() > 0, f"{group}.{name} has an all-zero gradient"
            assert torch.isfinite(p.grad).all(), f"{group}.{name}"


def test_masking_changes_only_the_shared_output():
    model = make_model(2).eval()
    v1, v2 = images(2, seed=1), images(2, seed=2)
    with torch.no_grad():
        plain1, plain2 = model(v1, v2, ((0,), (1,)), 0.0)
        zero1, _ = model(v1, v2, ((0,), (1,)), 0.0, gen())  # masks drawn but keep every token
        mask1, mask2 = model(v1, v2, ((0,), (1,)), 0.6, gen())
        again1, _ = model(v1, v2, ((0,), (1,)), 0.6, gen())
    assert torch.equal(zero1.shared, plain1.shared)
    assert not torch.allclose(mask1.shared, plain1.shared, atol=1e-4)
    assert not torch.allclose(mask2.shared, plain2.shared, atol=1e-4)
    for a, b in zip(mask1.unique + mask2.unique, plain1.unique + plain2.unique):
        assert torch.equal(a, b)
    assert torch.equal(again1.shared, mask1.shared)  # same generator seed, same masks


class _Capture:
    """Forward hooks: each shared encoder's output tokens and the fusion transformer's input tokens."""

    def __init__(self, model: CoralModel) -> None:
        self.encoded: dict[int, torch.Tensor] = {}
        self.fused: list[torch.Tensor] = []
        self.handles = [
            enc.register_forward_hook(lambda m, inp, out, i=i: self.encoded.__setitem__(i, out.detach().clone()))
            for i, enc in enumerate(model.shared_encoders)
        ]
        self.handles.append(
            model.fusion.register_forward_pre_hook(lambda m, args: self.fused.extend(t.detach() for t in args[0]))
        )

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


@pytest.mark.parametrize("halves", [((0,), (1,)), ((1,), (0,)), ((0, 2), (1,)), ((1,), (0, 2))])
def test_masking_respects_halves(halves):
    n = 1 + max(max(h) for h in halves)
    model = make_model(n).eval()
    cap = _Capture(model)
    with torch.no_grad():
        model(images(n, seed=1), images(n, seed=2), halves, 0.5, gen())
    cap.remove()
    for i in range(n):
        enc, fused = cap.encoded[i], cap.fused[i]  # (2B, T, D): view 1 rows :B, view 2 rows B:
        masked_rows = slice(0, B) if i in halves[0] else slice(B, 2 * B)
        clean_rows = slice(B, 2 * B) if i in halves[0] else slice(0, B)
        assert torch.equal(fused[clean_rows], enc[clean_rows]), f"modality {i} masked in the wrong view"
        zeroed = (fused[masked_rows] == 0).all(-1)  # (B, T)
        kept = (fused[masked_rows] == enc[masked_rows]).all(-1)
        assert (zeroed | kept).all(), "a token is neither kept nor zeroed"
        frac = zeroed.float().mean().item()
        assert 0.2 < frac < 0.8, f"modality {i}: masked fraction {frac} for ratio 0.5"


def test_masked_token_positions_have_no_effect():
    model = make_model(2).eval()
    v1, v2 = images(2, seed=1), images(2, seed=2)
    halves = ((0,), (1,))
    cap = _Capture(model)
    with torch.no_grad():
        ref1, ref2 = model(v1, v2, halves, 0.5, gen())
    cap.remove()
    masked = (cap.fused[0][:B] == 0).all(-1)  # (B, T) positions of modality 0 masked in view 1
    assert masked.any() and (~masked).any()

    def perturbed(where: torch.Tensor) -> tuple[Embeddings, Embeddings]:
        noise = 10.0 * torch.randn(cap.encoded[0].shape, generator=torch.Generator().manual_seed(3))
        delta = torch.zeros_like(noise)
        delta[:B][where] = noise[:B][where]  # only view-1 rows of modality 0 (not a constant: LayerNorm)
        handle = model.shared_encoders[0].register_forward_hook(lambda m, inp, out: out + delta)
        with torch.no_grad():
            out = model(v1, v2, halves, 0.5, gen())
        handle.remove()
        return out

    p1, p2 = perturbed(masked)
    assert torch.allclose(p1.shared, ref1.shared, atol=1e-6)
    assert torch.equal(p2.shared, ref2.shared)
    q1, _ = perturbed(~masked)
    assert not torch.allclose(q1.shared, ref1.shared, atol=1e-3)


def test_embed_is_deterministic_and_equals_unmasked_pre_head_features():
    model = make_model(3)
    x = images(3, seed=5)
    with torch.no_grad():
        a = model.embed(x)  # train mode: still deterministic (no dropout, no BatchNorm before the heads)
        b = model.embed(x)
        f1, f2 = model.encode_views(x, x, ((1,), (0, 2)), 0.0, gen())
    for u, v in zip(a.parts().values(), b.parts().values()):
        assert torch.equal(u, v)
    for f in (f1, f2):
        assert torch.allclose(f.shared, a.shared, atol=1e-5)
        for u, v in zip(f.unique, a.unique):
            assert torch.allclose(u, v, atol=1e-5)
    assert model.training  # embed does not change the mode
    # per-sample independence: a sample's embedding does not depend on the rest of the batch
    with torch.no_grad():
        single = model.embed([t[2:3] for t in x])
    assert torch.allclose(single.concat(), a.concat()[2:3], atol=1e-5)


def test_heads_use_per_view_batch_statistics():
    model = make_model(2).train()
    v1, v2 = images(2, seed=1), images(2, seed=2)
    e1, e2 = model(v1, v2, ((0,), (1,)), 0.0)
    f1, f2 = model.encode_views(v1, v2, ((0,), (1,)), 0.0)
    p1, p2 = model.project(f1), model.project(f2)
    assert torch.allclose(e1.shared, p1.shared, atol=1e-5) and torch.allclose(e2.unique[1], p2.unique[1], atol=1e-5)
    joint = model.shared_head(torch.cat([f1.shared, f2.shared]))[:B]  # statistics over both views
    assert not torch.allclose(joint, e1.shared, atol=1e-3)


def test_check_inputs_flag_controls_the_finite_check():
    model = make_model(2).eval()
    bad = images(2)
    bad[1][0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.embed(bad)
    with pytest.raises(ValueError, match="NaN or Inf"):
        model(images(2), bad, ((0,), (1,)))
    inf = images(2)
    inf[0][1, 2, 3, 4] = float("inf")
    with pytest.raises(ValueError, match="NaN or Inf"):
        model(inf, images(2), ((0,), (1,)))
    model.check_inputs = False
    with torch.no_grad():
        out = model.embed(bad)
    assert torch.isnan(out.shared[0]).any()


@pytest.mark.parametrize(
    "case, error, match",
    [
        ("too_few", ValueError, "n_modalities=2"),
        ("too_many", ValueError, "n_modalities=2"),
        ("not_a_list", TypeError, "list of 2"),
        ("batch_across_modalities", ValueError, "same batch size"),
        ("batch_across_views", ValueError, "same batch size"),
        ("rank", ValueError, r"\(B, 3, 32, 32\)"),
        ("channels", ValueError, r"\(B, 3, 32, 32\)"),
        ("image_size", ValueError, r"\(B, 3, 32, 32\)"),
        ("integer_dtype", TypeError, "floating-point"),
        ("ratio_without_generator", ValueError, "generator"),
        ("ratio_one", ValueError, r"\[0, 1\)"),
        ("ratio_negative", ValueError, r"\[0, 1\)"),
        ("ratio_bool", ValueError, "real number"),
        ("generator_type", TypeError, "torch.Generator"),
        ("halves_same", ValueError, "disjoint"),
        ("halves_empty", ValueError, "non-empty"),
        ("halves_one", ValueError, "two disjoint"),
        ("halves_out_of_range", ValueError, "range"),
        ("halves_bool", ValueError, "modality indices"),
    ],
)
def test_bad_forward_inputs_raise(case, error, match):
    model = make_model(2)
    v1, v2 = images(2, seed=1), images(2, seed=2)
    halves, ratio, generator = ((0,), (1,)), 0.0, None
    if case == "too_few":
        v1 = v1[:1]
    elif case == "too_many":
        v1 = v1 + v1[:1]
    elif case == "not_a_list":
        v1 = torch.stack(v1)
    elif case == "batch_across_modalities":
        v1[1] = v1[1][:2]
    elif case == "batch_across_views":
        v2 = [t[:2] for t in v2]
    elif case == "rank":
        v1[0] = v1[0][0]
    elif case == "channels":
        v1[0] = v1[0][:, :1]
    elif case == "image_size":
        v1 = images(2, size=40)
    elif case == "integer_dtype":
        v1[0] = (v1[0] * 100).to(torch.uint8)
    elif case == "ratio_without_generator":
        ratio = 0.25
    elif case == "ratio_one":
        ratio, generator = 1.0, gen()
    elif case == "ratio_negative":
        ratio, generator = -0.1, gen()
    elif case == "ratio_bool":
        ratio, generator = True, gen()
    elif case == "generator_type":
        ratio, generator = 0.5, 123
    elif case == "halves_same":
        halves = ((0,), (0,))
    elif case == "halves_empty":
        halves = ((0, 1), ())
    elif case == "halves_one":
        halves = ((0, 1),)
    elif case == "halves_out_of_range":
        halves = ((0,), (2,))
    elif case == "halves_bool":
        halves = ((False,), (True,))
    with pytest.raises(error, match=match):
        model(v1, v2, halves, ratio, generator)


def test_halves_must_cover_every_modality():
    model = make_model(3)
    with pytest.raises(ValueError, match=r"range\(3\)"):
        model(images(3), images(3), ((0,), (1,)), 0.0)
    e1, _ = model(images(3), images(3), [[2], [0, 1]], 0.0)  # lists are fine
    assert e1.shared.shape == (B, 16)


def test_bad_embed_inputs_raise():
    model = make_model(2)
    with pytest.raises(ValueError, match="n_modalities=2"):
        model.embed(images(3))
    with pytest.raises(ValueError, match=r"\(B, 3, 32, 32\)"):
        model.embed(images(2, size=64))
    with pytest.raises(TypeError):
        model.embed(images(2)[0])


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(embed_dim=30), "divisible by 4"),
        (dict(embed_dim=36, n_heads=8), "divisible by n_heads"),
        (dict(n_modalities=1), ">= 2"),
        (dict(encoder="vit"), "valid encoders"),
        (dict(encoder="alexnet", image_size=32), "63x63"),
        (dict(image_size=4), "8x8"),
    ],
)
def test_bad_configs_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        CoralModel(small_cfg(**kw))
    with pytest.raises(TypeError, match="ModelConfig"):
        CoralModel({"n_modalities": 2})  # type: ignore[arg-type]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_forward_with_cuda_generator():
    model = make_model(2).cuda()
    v1 = [t.cuda() for t in images(2, seed=1)]
    v2 = [t.cuda() for t in images(2, seed=2)]
    g = torch.Generator(device="cuda").manual_seed(0)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        e1, e2 = model(v1, v2, ((0,), (1,)), 0.5, g)
    assert e1.shared.device.type == "cuda" and e1.shared.shape == (B, 16)
    loss = sum(o.float().square().sum() for o in [e1.shared, *e1.unique, e2.shared, *e2.unique])
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="generator is on cpu"):
        model(v1, v2, ((0,), (1,)), 0.5, gen())
    with pytest.raises(ValueError, match="model is on"):
        model(images(2), images(2), ((0,), (1,)))
    model.eval()
    with torch.no_grad():
        z_gpu = model.embed(v1).concat().cpu()
        z_cpu = model.cpu().embed(images(2, seed=1)).concat()
    assert torch.allclose(z_gpu, z_cpu, atol=1e-3)
