"""Supervised contrastive loss for fine-tuning a pretrained COrAL model (paper section 5.6.5).

``supcon_loss`` is SupCon's L_out (Khosla et al., NeurIPS 2020, eq. 2) on two views: the 2N L2-normalised
embeddings are stacked and, for anchor k with positives P(k) and candidate set A(k) (everything but k),

    l_k = -1/|P(k)| sum_{p in P(k)} log( exp(z_k . z_p / t) / sum_{a in A(k)} exp(z_k . z_a / t) ).

- ``positives="class"``: P(k) = every other row with k's label (its own other view included).
- ``positives="self"``: P(k) = only k's other view; the other same-class rows are removed from A(k)
  (neutral: neither positive nor negative), as the paper's option for heterogeneous classes.

With all labels distinct both modes equal ``coral_lab.objectives.losses.info_nce``. ``supcon_coral_loss`` replaces
the InfoNCE terms of eq. 3 by this loss and keeps the orthogonality term with its own weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from coral_lab.objectives.embeddings import Embeddings
from coral_lab.objectives.losses import orthogonality_loss

__all__ = ["POSITIVES", "supcon_loss", "supcon_coral_loss"]

POSITIVES = ("class", "self")


def supcon_loss(z1: Tensor, z2: Tensor, labels: Tensor, temperature: float = 0.1, positives: str = "class") -> Tensor:
    """SupCon L_out on two views.

    Args:
        z1, z2: ``(N, D)`` embeddings of view 1 and view 2 (row i: the same sample), N >= 2.
        labels: ``(N,)`` integer class labels.
        temperature: t > 0.
        positives: ``"class"`` or ``"self"`` (see the module docstring).

    Returns:
        scalar float32 tensor.
    """
    if positives not in POSITIVES:
        raise ValueError(f"unknown positives {positives!r}; valid: {list(POSITIVES)}")
    if z1.dim() != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise ValueError(f"z1 and z2 must both be (N >= 2, D), got {tuple(z1.shape)} and {tuple(z2.shape)}")
    if labels.dim() != 1 or labels.shape[0] != z1.shape[0]:
        raise ValueError(f"labels must be (N={z1.shape[0]},), got {tuple(labels.shape)}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = z1.shape[0]
    with torch.autocast(device_type=z1.device.type, enabled=False):
        z = F.normalize(torch.cat([z1, z2]).float(), dim=1)  # (2N, D)
        logits = z @ z.T / temperature  # (2N, 2N)
        eye = torch.eye(2 * n, dtype=torch.bool, device=z.device)
        y = torch.cat([labels, labels])  # (2N,)
        same = (y[:, None] == y[None, :]) & ~eye  # (2N, 2N)
        partner = torch.zeros_like(eye)
        partner[torch.arange(2 * n), torch.arange(2 * n).roll(n)] = True  # k's other view
        if positives == "class":
            pos, candidates = same | partner, ~eye
        else:
            pos, candidates = partner, ~eye & ~(same & ~partner)
        log_denominator = torch.logsumexp(logits.masked_fill(~candidates, float("-inf")), dim=1, keepdim=True)
        log_prob = (logits - log_denominator).masked_fill(~pos, 0.0)  # only positives contribute
        return (-log_prob.sum(dim=1) / pos.sum(dim=1)).mean()


def supcon_coral_loss(
    view1: Embeddings,
    view2: Embeddings,
    labels: Tensor,
    *,
    lambda_s: float = 1.0,
    lambda_u: float = 1.0,
    lambda_o: float = 1.0,
    temperature: float = 0.1,
    ortho_kind: str = "hinge",
    positives: str = "class",
) -> tuple[Tensor, dict[str, Tensor]]:
    """Fine-tuning objective: lambda_s SupCon(Z^SR) + lambda_u sum_i SupCon(Z_i^U) + lambda_o L_orthogonal (eq. 8).

    Args:
        view1, view2: projected ``Embeddings`` of two augmented views, shared and unique ``(N, D)``.
        labels: ``(N,)`` class labels.

    Returns:
        (total, parts) with parts ``shared``, ``unique``, ``orthogonal`` (unweighted).
    """
    n = view1.n_modalities
    shared = supcon_loss(view1.shared, view2.shared, labels, temperature, positives)
    unique = torch.stack([supcon_loss(view1.unique[i], view2.unique[i], labels, temperature, positives) for i in range(n)]).sum()
    ortho = []
    for v in (view1, view2):
        ortho += [orthogonality_loss(u, v.shared, ortho_kind, check_finite=False) for u in v.unique]
        ortho += [orthogonality_loss(v.unique[i], v.unique[j], ortho_kind, check_finite=False)
                  for i in range(n) for j in range(i + 1, n)]
    orthogonal = torch.stack(ortho).sum()
    total = lambda_s * shared + lambda_u * unique + lambda_o * orthogonal
    return total, {"shared": shared, "unique": unique, "orthogonal": orthogonal}
