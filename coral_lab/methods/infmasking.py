"""InfMasking baseline: CoMM plus many heavily masked copies aligned with the unmasked view.

Wen et al., "InfMasking: unleashing synergistic information by contrastive multimodal interactions",
NeurIPS 2025 (formulation in ``../shared/design/baselines.md``).

The network is CoMM's (``CoMMModel``) plus a learnable mask token. For each augmented view, T masked
copies of the full multimodal input are made (T = 6 on Trifeature): in every modality exactly
floor(L (1 - r)) of its L tokens are kept, at random (r = 0.7), the others are replaced by the mask
token; every copy goes through the same fusion transformer and head. Per view, with q (B, P) the
L2-normalised full embedding and k_1..k_T (B, T, P) the normalised masked embeddings,

    mu = 1/T sum_t k_t,   Sigma = 1/T sum_t (k_t - mu)(k_t - mu)^T,   Sigma' = Sigma lambda_e / tau,

where lambda_e ramps linearly from 0 (first epoch) to lambda (last epoch). Sample b's logits are

    positive:   q_b . (mu_b + 1/2 Sigma'_b q_b)
    negatives:  q_b . k_{c,t} for every other sample c and copy t,   q_b . q_c for every c != b

and L_mask = CE(logits / tau, positive) + 1/2 mean_b (q_b^T Sigma'_b q_b) / tau. (The positive is
the expectation over infinitely many masked copies of a Gaussian model of k, hence the name.)

Total loss, as published (``losses/infmasking_loss.py`` of the InfMasking code; ``settings.total = "mean"``): the mean of the n + 3 terms {L_mask', L_mask'', L_full, L_1, ..., L_n}, i.e. for n = 2
modalities (3 L_CoMM + L_mask' + L_mask'') / 5 with L_CoMM the mean of CoMM's n + 1 terms. The named
alternative ``"comm_plus_half"`` is L_CoMM + 1/2 (L_mask' + L_mask'') (coral_lab's first version, from the
paper's description). Probe feature: the fusion output, as CoMM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coral_lab.config import RunConfig, require
from coral_lab.data.modalities import ModalitySpec
from coral_lab.objectives.losses import check_temperature
from coral_lab.objectives.masking import check_mask_ratio, exact_keep_mask
from coral_lab.methods.comm import CoMMModel
from coral_lab.methods.spec import Method

__all__ = ["INFMASKING_TOTALS", "Settings", "infmasking_loss", "infmasking_total", "lambda_at", "InfMaskingModel", "METHOD"]

# InfMasking's total (``settings.total``): "mean", the published mean of its five terms, or
# "comm_plus_half", L_CoMM + 1/2 (L_mask' + L_mask''), coral_lab's first version
INFMASKING_TOTALS: tuple[str, ...] = ("mean", "comm_plus_half")


@dataclass
class Settings:
    """InfMasking's own settings (``RunConfig.settings`` of an InfMasking run: ``--set settings.views=4``)."""

    views: int = 6  # T masked copies per augmented view
    ratio: float = 0.7  # r, the fraction of each modality's tokens masked in a copy
    lam: float = 1.0  # lambda, the final weight of the covariance term (ramped from 0)
    # the total: "mean" (published: the mean of its five terms L_mask', L_mask'', L_1, L_2, L_full) or
    # "comm_plus_half" (L_CoMM + 1/2 (L_mask' + L_mask''), coral_lab's first version)
    total: str = "mean"

    def check(self) -> None:
        require(self.views >= 2, "settings.views must be >= 2 (mean and covariance over the copies)", self.views)
        check_mask_ratio(self.ratio, "settings.ratio")
        require(self.lam >= 0, "settings.lam must be >= 0", self.lam)
        require(self.total in INFMASKING_TOTALS, f"settings.total must be one of {list(INFMASKING_TOTALS)}",
                self.total)


def infmasking_total(comm: Tensor, mask1: Tensor, mask2: Tensor, n_modalities: int, kind: str = "mean") -> Tensor:
    """InfMasking's total loss from L_CoMM (the mean of CoMM's n + 1 terms) and the two views' L_mask.

    ``kind="mean"`` (published): the mean of all n + 3 terms, ((n + 1) L_CoMM + L_mask' + L_mask'') / (n + 3);
    ``kind="comm_plus_half"``: L_CoMM + 1/2 (L_mask' + L_mask'').
    """
    if kind == "mean":
        return ((n_modalities + 1) * comm + mask1 + mask2) / (n_modalities + 3)
    if kind == "comm_plus_half":
        return comm + 0.5 * (mask1 + mask2)
    raise ValueError(f"unknown InfMasking total {kind!r}; valid: {list(INFMASKING_TOTALS)}")


def lambda_at(progress: float, final: float) -> float:
    """lambda_e: the covariance weight ramped linearly from 0 at the start to ``final`` at the end.

    Args:
        progress: the fraction of training done, in [0, 1] (epoch / (epochs - 1) in ``pretrain``).
        final: lambda (1 on Trifeature).
    """
    if not 0.0 <= progress <= 1.0:
        raise ValueError(f"progress must be in [0, 1], got {progress!r}")
    return float(final) * float(progress)


def infmasking_loss(q: Tensor, k: Tensor, lam: float, temperature: float = 0.1) -> Tensor:
    """L_mask of one view.

    Args:
        q: (B, P) full (unmasked) embeddings; normalised here.
        k: (B, T, P) the T masked copies' embeddings; normalised here. T >= 2.
        lam: lambda_e >= 0, the current covariance weight.
        temperature: tau > 0.

    Returns:
        CE(logits / tau, positive) + 1/2 mean_b(q_b^T Sigma'_b q_b) / tau, a float32 scalar.
    """
    if not isinstance(q, Tensor) or not isinstance(k, Tensor) or q.dim() != 2 or k.dim() != 3:
        raise ValueError(f"q must be (B, P) and k (B, T, P); got {getattr(q, 'shape', q)} and {getattr(k, 'shape', k)}")
    b, n_copies, p = k.shape
    if q.shape != (b, p) or b < 2 or n_copies < 2:
        raise ValueError(f"q {tuple(q.shape)} and k {tuple(k.shape)} must be (B, P) and (B, T, P) with B >= 2, T >= 2")
    if not (isinstance(lam, (int, float)) and lam >= 0 and math.isfinite(lam)):
        raise ValueError(f"lam (lambda_e) must be a finite number >= 0, got {lam!r}")
    tau = check_temperature(temperature)
    with torch.autocast(device_type=q.device.type, enabled=False):
        q = F.normalize(q.float(), dim=-1, eps=1e-8)  # (B, P)
        k = F.normalize(k.float(), dim=-1, eps=1e-8)  # (B, T, P)
        mu = k.mean(dim=1)  # (B, P)
        dev = (k - mu[:, None]) @ q[:, :, None]  # (B, T, 1): (k_t - mu) . q
        q_sigma_q = dev.squeeze(-1).square().mean(dim=1)  # (B,) q^T Sigma q, Sigma with 1/T
        q_sigma1_q = lam / tau * q_sigma_q  # q^T Sigma' q
        positive = (q * mu).sum(dim=1) + 0.5 * q_sigma1_q  # (B,)
        eye = torch.eye(b, dtype=torch.bool, device=q.device)
        qk = (q @ k.reshape(b * n_copies, p).T).masked_fill(eye.repeat_interleave(n_copies, dim=1), float("-inf"))
        qq = (q @ q.T).masked_fill(eye, float("-inf"))  # (B, B)
        logits = torch.cat([positive[:, None], qk, qq], dim=1) / tau  # (B, 1 + B T + B)
        targets = torch.zeros(b, dtype=torch.long, device=q.device)
        return F.cross_entropy(logits, targets) + 0.5 * q_sigma1_q.mean() / tau


class InfMaskingModel(CoMMModel):
    """``CoMMModel`` plus a learnable mask token and T masked copies per view."""

    name = "infmasking"

    def __init__(self, cfg: RunConfig, modalities: Sequence[ModalitySpec] | None = None) -> None:
        super().__init__(cfg, modalities)
        s = METHOD.read_settings(cfg)  # checked: views >= 2, ratio in [0, 1), a known total
        self.n_copies = int(s.views)
        self.mask_ratio = float(s.ratio)
        self.final_lambda = float(s.lam)
        self.total_kind = s.total
        self.n_keep = tuple(int(math.floor(t * (1 - self.mask_ratio))) for t in self.n_tokens)
        self.mask_token = nn.Parameter(torch.zeros(cfg.model.embed_dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.loss_parts = ("comm", *self.comm_parts, "masked", "lambda_e")
        self.progress_parts = ("loss", "full", "masked")

    def masked_copies(self, tokens: list[Tensor], generator: torch.Generator) -> list[Tensor]:
        """T masked copies of every row: n x (R, T_i, D) -> n x (T R, T_i, D), copy-major.

        In each modality exactly ``floor(T_i (1 - r))`` tokens are kept per row; the others become the
        mask token.
        """
        out = []
        for t, n_keep in zip(tokens, self.n_keep):
            rows, n_tok, _ = t.shape
            keep = exact_keep_mask(self.n_copies * rows, n_tok, n_keep, generator)  # (T R, T_i)
            copies = t.repeat(self.n_copies, 1, 1)  # (T R, T_i, D), copy c = rows [c R, (c+1) R)
            out.append(torch.where(keep[..., None], copies, self.mask_token.to(t.dtype)))
        return out

    def forward(self, view1, view2, progress: float = 0.0, generator: torch.Generator | None = None):
        """InfMasking's total (``settings.total``) of one batch of two augmented views.

        Args:
            view1, view2: n tensors (B, C, H, W) each.
            progress: the fraction of training done, in [0, 1] (sets lambda_e).
            generator: a ``torch.Generator`` on the inputs' device, for the token masks (required).

        Returns:
            (loss, {"comm", "full", "only<i>", "masked": 1/2 (L_mask' + L_mask''), "lambda_e"}).
        """
        v1, v2 = self.check_views(view1, view2)
        progress = self.check_progress(progress)
        if not isinstance(generator, torch.Generator):
            raise TypeError("InfMasking draws random token masks; pass generator=torch.Generator(device=...)")
        if generator.device.type != v1[0].device.type:
            raise ValueError(f"generator is on {generator.device} but the inputs are on {v1[0].device}")
        batch = v1[0].shape[0]
        tokens = self.view_tokens(v1, v2)  # n x (2B, T_i, D)
        comm, parts, (q1, q2) = self.comm_terms(tokens, batch)
        masked = self.fusion(self.masked_copies(tokens, generator))  # (T 2B, D), copy-major
        masked = masked.view(self.n_copies, 2 * batch, -1)
        lam = lambda_at(progress, self.final_lambda)
        losses = []
        for q, rows in ((q1, slice(0, batch)), (q2, slice(batch, 2 * batch))):
            k = self.head(masked[:, rows].reshape(self.n_copies * batch, -1))  # (T B, P), BatchNorm per view
            k = k.view(self.n_copies, batch, -1).transpose(0, 1)  # (B, T, P)
            losses.append(infmasking_loss(q, k, lam, self.temperature))
        mask_term = 0.5 * (losses[0] + losses[1])
        total = infmasking_total(comm, losses[0], losses[1], self.n_modalities, self.total_kind)
        lam_t = torch.tensor(lam, device=total.device)
        return total, {"comm": comm, **parts, "masked": mask_term, "lambda_e": lam_t}


# lr 3e-4, weight decay 1e-4: as the COrAL paper (section 5.3) quotes InfMasking's Trifeature settings
METHOD = Method("infmasking", "InfMasking", InfMaskingModel, published_optimiser=(3e-4, 1e-4),
                settings=Settings)
