"""FactorCL baseline (self-supervised variant): factorised shared and unique representations.

Liang et al., "Factorized Contrastive Learning: Going Beyond Multi-view Redundancy", NeurIPS 2023
(formulation in ``../shared/design/baselines.md``). Bimodal.

Each modality i has one encoder f_i (COrAL's CNN + latent converter + a one-modality fusion
transformer, ``VectorEncoder``, (B, D)) and five small MLP heads (Linear(D, D) -> ReLU -> Linear(D, D)),
one per information term. X' is the second augmented view (the self-supervised stand-in for the task).
Critics are "concat critics" T(a, b) = MLP([a, b]) -> H -> H -> 1 (H = 512 published). For a batch of
B pairs with scores T(a_k, b_l):

    I_NCE(a; b)  = mean_k T(a_k, b_k) - mean_k [ logsumexp_l T(a_k, b_l) - log B ]   (lower bound)
    I_CLUB(a; b) = mean_k T(a_k, b_k) - mean_{k,l} T(a_k, b_l)                       (NCE-CLUB upper bound)

The encoders and heads minimise (h^s: shared heads, h^c: CLUB heads, h^u: unique heads, h^cn / h^cc:
conditional NCE / CLUB heads; [a, a'] concatenates a sample's two views)

    L = - I_NCE(h^s_1(X_1); h^s_2(X_2)) + I_CLUB(h^c_1(X_1); h^c_2(X_2))
        - I_NCE(h^u_1(X_1); h^u_1(X_1')) - I_NCE(h^u_2(X_2); h^u_2(X_2'))
        - I_NCE([h^cn_1(X_1), h^cn_1(X_1')]; [h^cn_2(X_2), h^cn_2(X_2')])
        + I_CLUB([h^cc_1(X_1), h^cc_1(X_1')]; [h^cc_2(X_2), h^cc_2(X_2')])

i.e. shared  S = I(X_1; X_2) - I(X_1; X_2 | X')  and unique  U_i = I(X_i; X_i') - I(X_1; X_2) + I(X_1; X_2 | X').
The two CLUB critics are not moved by L (their parameters enter L detached); they are trained on
their own objective, -I_NCE of the same scores on detached features, in the same optimiser step
(the published code alternates one critic step per encoder step with a second optimiser; here both
updates use the gradients of the same batch). Probe features: all ten heads; ``shared`` = the heads of
S (h^s, h^cc of both modalities), ``unique<i>`` = the heads of U_i (h^u_i, h^c_i, h^cn_i).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call

from coral_lab.config import RunConfig, require
from coral_lab.data.modalities import ModalitySpec
from coral_lab.methods.base import BaselineModel, Representation, VectorEncoder
from coral_lab.methods.spec import Method

__all__ = ["Settings", "ConcatCritic", "nce_lower_bound", "club_upper_bound", "FactorCLModel", "METHOD"]

HEADS = ("shared", "club", "unique", "cond_nce", "cond_club")


@dataclass
class Settings:
    """FactorCL's own settings (``RunConfig.settings`` of a FactorCL run: ``--set settings.critic_hidden=256``)."""

    # the hidden width H of the concat critics T(a, b); None = model.proj_hidden (512 at the paper's scale,
    # the published width; smaller in the CPU presets, where B^2 critic calls per batch dominate)
    critic_hidden: int | None = None

    def check(self) -> None:
        require(self.critic_hidden is None or self.critic_hidden >= 1,
                "settings.critic_hidden must be None or a positive int", self.critic_hidden)


def _check_scores(scores: object) -> Tensor:
    if not isinstance(scores, Tensor) or scores.dim() != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise ValueError(
            f"scores must be a square (B, B) matrix of critic values T(a_k, b_l) with B >= 2, "
            f"got {getattr(scores, 'shape', type(scores).__name__)}"
        )
    return scores


def nce_lower_bound(scores: Tensor) -> Tensor:
    """I_NCE from the (B, B) critic scores T(a_k, b_l): mean diag - (mean_k logsumexp_l - log B)."""
    s = _check_scores(scores).float()
    b = s.shape[0]
    return s.diagonal().mean() - (s.logsumexp(dim=1).mean() - math.log(b))


def club_upper_bound(scores: Tensor) -> Tensor:
    """I_CLUB (NCE-CLUB) from the (B, B) critic scores: mean of the diagonal - mean of all entries."""
    s = _check_scores(scores).float()
    return s.diagonal().mean() - s.mean()


class ConcatCritic(nn.Module):
    """T(a, b) = MLP([a, b]) -> H -> ReLU -> H -> ReLU -> 1, evaluated on all B x B pairs.

    The first layer is split, W [a; b] = W_a a + W_b b, so the B^2 pairs cost one broadcast sum
    instead of B^2 products of width dim_a + dim_b (the result is the same function).

    Shapes: a (B, dim_a), b (B, dim_b) -> scores (B, B), entry (k, l) = T(a_k, b_l).
    """

    def __init__(self, dim_a: int, dim_b: int, hidden: int) -> None:
        super().__init__()
        self.dim_a, self.dim_b = dim_a, dim_b
        self.first_a = nn.Linear(dim_a, hidden)
        self.first_b = nn.Linear(dim_b, hidden, bias=False)
        self.rest = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        if a.dim() != 2 or b.dim() != 2 or a.shape[1] != self.dim_a or b.shape[1] != self.dim_b or a.shape[0] != b.shape[0]:
            raise ValueError(f"ConcatCritic expects (B, {self.dim_a}) and (B, {self.dim_b}), got {tuple(a.shape)}, {tuple(b.shape)}")
        h = self.first_a(a)[:, None, :] + self.first_b(b)[None, :, :]  # (B, B, H)
        return self.rest(h).squeeze(-1)  # (B, B)


def _head(dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))


def _detached_call(module: nn.Module, *args: Tensor) -> Tensor:
    """``module(*args)`` with its parameters detached: gradients reach the inputs, not the module."""
    params = {k: v.detach() for k, v in module.named_parameters()}
    return functional_call(module, params, args)


class FactorCLModel(BaselineModel):
    """Two ``VectorEncoder`` s, five heads per modality, six concat critics (two of them CLUB critics)."""

    name = "factorcl"
    loss_parts = ("factorcl", "nce_shared", "club_shared", "nce_unique1", "nce_unique2", "nce_cond", "club_cond",
                  "critic")
    progress_parts = ("loss", "nce_shared", "nce_cond")
    subspaces = ("shared", "unique1", "unique2")

    def __init__(self, cfg: RunConfig, modalities: Sequence[ModalitySpec] | None = None) -> None:
        super().__init__(cfg, modalities)
        if self.n_modalities != 2:
            raise ValueError(f"FactorCL is bimodal; model.n_modalities must be 2, got {self.n_modalities}")
        m = cfg.model
        d = m.embed_dim
        hidden = METHOD.read_settings(cfg).critic_hidden or m.proj_hidden
        self.encoders = nn.ModuleList(VectorEncoder(m, self.token_encoder(i)) for i in range(2))
        # heads[name][i]: modality i's head for one information term
        self.heads = nn.ModuleDict({name: nn.ModuleList(_head(d) for _ in range(2)) for name in HEADS})
        self.critics = nn.ModuleDict({
            "shared": ConcatCritic(d, d, hidden),
            "club": ConcatCritic(d, d, hidden),
            "unique1": ConcatCritic(d, d, hidden),
            "unique2": ConcatCritic(d, d, hidden),
            "cond_nce": ConcatCritic(2 * d, 2 * d, hidden),
            "cond_club": ConcatCritic(2 * d, 2 * d, hidden),
        })

    def forward(self, view1, view2, progress: float = 0.0, generator: torch.Generator | None = None):
        """The encoder objective L plus the CLUB critics' own -I_NCE (see the module docstring).

        Args:
            view1: [X_1, X_2], each (B, C, H, W); view2: [X_1', X_2'], the other augmented view.

        Returns:
            (loss, parts): the bounds' values (``nce_*`` lower bounds, ``club_*`` upper bounds), the
            encoder objective ``factorcl`` and the critics' loss ``critic``.
        """
        v1, v2 = self.check_views(view1, view2)
        self.check_progress(progress)
        batch = v1[0].shape[0]
        e = [enc(torch.cat([a, b])) for enc, a, b in zip(self.encoders, v1, v2)]  # 2 x (2B, D): X then X'
        x = [t[:batch] for t in e]  # f_i(X_i)
        xa = [t[batch:] for t in e]  # f_i(X_i')
        h = self.heads
        c = self.critics

        def pair(name):  # a modality's head on X_i and on X_i', concatenated: (B, 2D)
            return [torch.cat([h[name][i](x[i]), h[name][i](xa[i])], dim=1) for i in range(2)]

        nce_shared = nce_lower_bound(c["shared"](h["shared"][0](x[0]), h["shared"][1](x[1])))
        club_a, club_b = h["club"][0](x[0]), h["club"][1](x[1])
        club_shared = club_upper_bound(_detached_call(c["club"], club_a, club_b))
        nce_u = [nce_lower_bound(c[f"unique{i + 1}"](h["unique"][i](x[i]), h["unique"][i](xa[i]))) for i in range(2)]
        nce_cond = nce_lower_bound(c["cond_nce"](*pair("cond_nce")))
        cc_a, cc_b = pair("cond_club")
        club_cond = club_upper_bound(_detached_call(c["cond_club"], cc_a, cc_b))
        objective = -nce_shared + club_shared - nce_u[0] - nce_u[1] - nce_cond + club_cond
        # the CLUB critics learn to maximise I_NCE of their own scores, on features that do not move
        critic = -(nce_lower_bound(c["club"](club_a.detach(), club_b.detach()))
                   + nce_lower_bound(c["cond_club"](cc_a.detach(), cc_b.detach())))
        total = objective + critic
        parts = {"factorcl": objective, "nce_shared": nce_shared, "club_shared": club_shared,
                 "nce_unique1": nce_u[0], "nce_unique2": nce_u[1], "nce_cond": nce_cond, "club_cond": club_cond,
                 "critic": critic}
        return total, parts

    def embed(self, x: Sequence[Tensor]) -> Representation:
        """``shared`` (B, 4D) = [h^s_1, h^cc_1, h^s_2, h^cc_2]; ``unique<i>`` (B, 3D) = [h^u_i, h^c_i, h^cn_i]."""
        v = self.check_view(x, "x")
        f = [enc(xi) for enc, xi in zip(self.encoders, v)]
        h = self.heads
        shared = torch.cat([h[name][i](f[i]) for i in range(2) for name in ("shared", "cond_club")], dim=1)
        unique = {f"unique{i + 1}": torch.cat([h[name][i](f[i]) for name in ("unique", "club", "cond_nce")], dim=1)
                  for i in range(2)}
        return Representation({"shared": shared, **unique})


# lr 1e-4, no weight decay: as the COrAL paper (section 5.3) quotes FactorCL's Trifeature settings
METHOD = Method("factorcl", "FactorCL", FactorCLModel, published_optimiser=(1e-4, 0.0),
                settings=Settings)
