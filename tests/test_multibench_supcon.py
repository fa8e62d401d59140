"""SupCon against an independent NumPy computation, and its landmarks."""

import numpy as np
import pytest
import torch

from coral_lab.objectives.embeddings import Embeddings
from coral_lab.objectives.losses import info_nce
from coral_lab.multibench.supcon import supcon_coral_loss, supcon_loss


def _numpy_supcon(z1, z2, y, t, positives):
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    yy = np.concatenate([y, y])
    m = len(z)
    n = m // 2
    losses = []
    for k in range(m):
        partner = (k + n) % m
        if positives == "class":
            pos = [p for p in range(m) if p != k and yy[p] == yy[k]]
            cand = [a for a in range(m) if a != k]
        else:
            pos = [partner]
            cand = [a for a in range(m) if a != k and (yy[a] != yy[k] or a == partner)]
        denom = np.log(sum(np.exp(z[k] @ z[a] / t) for a in cand))
        losses.append(-np.mean([z[k] @ z[p] / t - denom for p in pos]))
    return np.mean(losses)


@pytest.mark.parametrize("positives", ["class", "self"])
def test_supcon_matches_numpy(positives):
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    y = np.array([0, 1, 0, 2, 1, 0])
    got = supcon_loss(torch.tensor(z1), torch.tensor(z2), torch.tensor(y), 0.5, positives)
    assert abs(float(got) - _numpy_supcon(z1, z2, y, 0.5, positives)) < 1e-5


@pytest.mark.parametrize("positives", ["class", "self"])
def test_supcon_with_distinct_labels_is_info_nce(positives):
    z1, z2 = torch.randn(5, 3), torch.randn(5, 3)
    got = supcon_loss(z1, z2, torch.arange(5), 0.1, positives)
    torch.testing.assert_close(got, info_nce(z1, z2, 0.1))


def test_supcon_rewards_class_clusters_and_rejects_bad_input():
    y = torch.tensor([0, 0, 1, 1])
    clustered = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    mixed = torch.tensor([[1.0, 0], [0, 1], [1, 0], [0, 1]])
    assert supcon_loss(clustered, clustered, y) < supcon_loss(mixed, mixed, y)
    with pytest.raises(ValueError, match="unknown positives"):
        supcon_loss(clustered, clustered, y, positives="all")
    with pytest.raises(ValueError, match=r"labels must be \(N=4,\)"):
        supcon_loss(clustered, clustered, y[:3])


def test_supcon_coral_loss_combines_the_terms():
    g = torch.Generator().manual_seed(0)
    e = [Embeddings(torch.randn(6, 4, generator=g), (torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)))
         for _ in range(2)]
    y = torch.tensor([0, 1, 0, 1, 2, 2])
    total, parts = supcon_coral_loss(e[0], e[1], y, lambda_s=2.0, lambda_u=0.5, lambda_o=3.0)
    torch.testing.assert_close(total, 2 * parts["shared"] + 0.5 * parts["unique"] + 3 * parts["orthogonal"])
    torch.testing.assert_close(parts["shared"], supcon_loss(e[0].shared, e[1].shared, y))
