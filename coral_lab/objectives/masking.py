"""Asymmetric masking of the shared pathway (paper section 4.1, eq. 5-6).

COrAL hides part of the shared pathway's tokens so that the two views can only agree on Z^SR by
using cross-modal dependencies (synergy) instead of redundant cues alone:

    Z^SR'  = T({M_m(E_i^SR(X'_i))}_{i in M1}, {E_j^SR(X'_j)}_{j in M2})      (eq. 6; eq. 5 for n = 2)
    Z^SR'' = T({E_i^SR(X''_i)}_{i in M1}, {M_m(E_j^SR(X''_j))}_{j in M2})

Masking is applied to the shared pathway only, after tokenisation and before the fusion
transformer T; never to the unique pathways, and never at inference ("neither data augmentation
nor masking is applied").

The helpers are pure functions that take an explicit ``torch.Generator``:

- ``mask_ratio_at(epoch, total_epochs, schedule)``: the ratio m for an epoch (paper: 5 -> 35 -> 55
  -> 75 % over the four quarters of training).
- ``split_modalities(n, generator)``: the partition (M1, M2) of the modalities for one batch.
- ``token_keep_mask(B, T, m, generator)``: which tokens survive M_m (per-token Bernoulli).
- ``apply_token_mask(tokens, keep)``: M_m itself (masked tokens are multiplied by zero).
- ``exact_keep_mask(B, L, k, generator)``: keep exactly k random tokens per row (the InfMasking baseline).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "PAPER_SCHEDULE",
    "SCHEDULE_WORDS",
    "check_mask_ratio",
    "mask_ratio_at",
    "split_modalities",
    "token_keep_mask",
    "apply_token_mask",
    "exact_keep_mask",
]

# (fraction of training at which the ratio starts, masking ratio m); paper section 5.6.1:
# 5 % -> 35 % -> 55 % -> 75 % over 25-epoch intervals of a 100-epoch run.
PAPER_SCHEDULE: tuple[tuple[float, float], ...] = ((0.0, 0.05), (0.25, 0.35), (0.5, 0.55), (0.75, 0.75))

# the schedule words, as a config stores them: the CLI's ``--mask-schedule`` and ``mask_ratio_at`` both read them here
SCHEDULE_WORDS: dict[str, str | None] = {"paper": "paper", "none": None}

_VALID_SCHEDULES = (
    "'paper' (0.05 / 0.35 / 0.55 / 0.75 per quarter of training), a ratio in [0, 1) as a float or a "
    "numeric string such as '0.5' (static masking), 0, None or 'none' (no masking), or a sequence of "
    "(start_fraction, ratio) pairs like coral_lab.objectives.masking.PAPER_SCHEDULE"
)

# epoch / total_epochs is compared with a start fraction; the tolerance makes e.g. 3 / 12 >= 0.25
# hold regardless of how the division rounds.
_FRACTION_TOL = 1e-9


def _is_int(x: object) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def check_mask_ratio(ratio: object, what: str = "mask_ratio") -> float:
    """A masking ratio m as a float in [0, 1); raise ValueError naming ``what`` otherwise: the one range
    check of a ratio (schedules, the model's forward, the lab's settings, the config's fields)."""
    if not _is_real(ratio):
        raise ValueError(f"{what} must be a real number in [0, 1), got {ratio!r} ({type(ratio).__name__})")
    ratio = float(ratio)  # type: ignore[arg-type]
    if not 0.0 <= ratio < 1.0:  # also rejects NaN
        raise ValueError(
            f"{what} must be in [0, 1) (the fraction of tokens masked; 1 would hide a modality "
            f"entirely), got {ratio!r}"
        )
    return ratio


def _ratio_from_pairs(fraction: float, pairs: Sequence, what: str) -> float:
    """The ratio of the last (start, ratio) pair whose start fraction has been reached."""
    if len(pairs) == 0:
        raise ValueError(f"{what} is an empty schedule; valid forms: {_VALID_SCHEDULES}")
    starts = []
    for k, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ValueError(f"{what}[{k}] must be a (start_fraction, ratio) pair, got {pair!r}")
        start, _ = pair
        if not _is_real(start) or not 0.0 <= float(start) < 1.0:
            raise ValueError(f"{what}[{k}] start fraction must be in [0, 1), got {start!r}")
        check_mask_ratio(pair[1], f"{what}[{k}] ratio")
        starts.append(float(start))
    if starts[0] != 0.0:
        raise ValueError(f"{what} must start at fraction 0.0 so every epoch has a ratio, got {starts[0]!r}")
    if any(b <= a for a, b in zip(starts, starts[1:])):
        raise ValueError(f"{what} start fractions must be strictly increasing, got {starts}")
    ratio = float(pairs[0][1])
    for start, r in pairs:
        if fraction + _FRACTION_TOL >= float(start):
            ratio = float(r)
    return ratio


def mask_ratio_at(epoch: int, total_epochs: int, schedule: object) -> float:
    """The masking ratio m of M_m (paper eq. 5-6) for a 0-based ``epoch`` of ``total_epochs``.

    Args:
        epoch: 0-based epoch index, 0 <= epoch < total_epochs.
        total_epochs: length of training, >= 1.
        schedule: one of
            - ``"paper"``: ``PAPER_SCHEDULE``, i.e. 0.05 / 0.35 / 0.55 / 0.75 on the four quarters
              (epochs 0-24, 25-49, 50-74, 75-99 of 100); for other lengths the stage is the last
              one whose start fraction s satisfies ``epoch / total_epochs >= s``.
            - a float in [0, 1) or a string that parses as one (``"0.5"`` from a CLI): static ratio.
            - ``None``, ``0`` or ``"none"``: no masking (0.0).
            - a sequence of ``(start_fraction, ratio)`` pairs, starting at 0.0: a custom schedule.

    Returns:
        m in [0, 1). The mask is applied to the shared pathway only, never to the unique
        pathways, never at inference.

    Raises:
        ValueError: epoch outside [0, total_epochs), total_epochs < 1, a ratio outside [0, 1), a
            bool, or any other schedule (the message lists the valid forms).
    """
    if not _is_int(total_epochs) or total_epochs < 1:
        raise ValueError(f"total_epochs must be an int >= 1, got {total_epochs!r}")
    if not _is_int(epoch) or not 0 <= epoch < total_epochs:
        raise ValueError(f"epoch must be an int in [0, total_epochs) = [0, {total_epochs}), got {epoch!r}")
    fraction = epoch / total_epochs

    if schedule is None:
        return 0.0
    if isinstance(schedule, bool):
        raise ValueError(f"mask schedule {schedule!r} is a bool, not a schedule; valid forms: {_VALID_SCHEDULES}")
    if isinstance(schedule, str):
        text = schedule.strip().lower()
        if text in SCHEDULE_WORDS:
            word = SCHEDULE_WORDS[text]
            return 0.0 if word is None else _ratio_from_pairs(fraction, PAPER_SCHEDULE, "PAPER_SCHEDULE")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"unknown mask schedule {schedule!r}; valid forms: {_VALID_SCHEDULES}") from None
        return check_mask_ratio(value, f"static mask ratio {schedule!r}")
    if _is_real(schedule):
        return check_mask_ratio(schedule, "static mask ratio")
    if isinstance(schedule, Sequence):
        return _ratio_from_pairs(fraction, schedule, "mask schedule")
    raise ValueError(
        f"unknown mask schedule {schedule!r} ({type(schedule).__name__}); valid forms: {_VALID_SCHEDULES}"
    )


def _check_generator(generator: object) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), "
            f"got {type(generator).__name__}"
        )
    return generator


def split_modalities(n_modalities: int, generator: torch.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Partition the modalities into (M1, M2) for one batch (paper eq. 6).

    View 1 masks the modalities in M1, view 2 masks those in M2. The halves are disjoint,
    non-empty, cover ``range(n_modalities)``, and their sizes differ by at most one. For
    n = 2 the result is always ``((0,), (1,))`` (eq. 5: modality 1 masked in view 1, modality 2 in
    view 2) and no randomness is drawn. For n >= 3 the split is ``torch.randperm`` on the CPU;
    for odd n a coin flip from the same generator decides which half gets the extra modality.

    Args:
        n_modalities: n >= 2.
        generator: a CPU ``torch.Generator`` (the split is a handful of integers used for Python
            indexing, so drawing it on the CPU avoids a device sync).

    Returns:
        (M1, M2), each a sorted tuple of 0-based modality indices.
    """
    if not _is_int(n_modalities) or n_modalities < 2:
        raise ValueError(f"n_modalities must be an int >= 2 (masking needs two halves), got {n_modalities!r}")
    _check_generator(generator)
    if generator.device.type != "cpu":
        raise ValueError(
            f"split_modalities needs a CPU torch.Generator (it returns Python ints), got one on "
            f"{generator.device}; keep a separate torch.Generator() for the modality split"
        )
    if n_modalities == 2:
        return (0,), (1,)
    perm = torch.randperm(n_modalities, generator=generator).tolist()
    n_first = n_modalities // 2
    if n_modalities % 2 == 1:
        n_first += int(torch.randint(0, 2, (1,), generator=generator).item())
    m1 = tuple(sorted(perm[:n_first]))
    m2 = tuple(sorted(perm[n_first:]))
    return m1, m2


def token_keep_mask(batch_size: int, n_tokens: int, ratio: float, generator: torch.Generator) -> Tensor:
    """Which tokens survive M_m (paper eq. 5-6): per-token Bernoulli keep with p = 1 - m.

    As in the released code, the number of masked tokens varies from sample to sample (it is
    Binomial(T, m), not exactly round(m T)). The mask is for the shared pathway only, never for
    the unique pathways, never at inference. The uniform draw is made for every ratio (including 0)
    so the generator advances the same way whatever the schedule; no host sync happens.

    Args:
        batch_size: B >= 1.
        n_tokens: T >= 1, tokens of one modality.
        ratio: m in [0, 1), e.g. from ``mask_ratio_at``.
        generator: a ``torch.Generator``; the mask is created on ``generator.device``.

    Returns:
        keep: bool tensor (B, T) on ``generator.device``; True where the token is kept.
    """
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not _is_int(n_tokens) or n_tokens < 1:
        raise ValueError(f"n_tokens must be an int >= 1, got {n_tokens!r}")
    ratio = check_mask_ratio(ratio, "mask ratio")
    _check_generator(generator)
    u = torch.rand((batch_size, n_tokens), generator=generator, device=generator.device)  # (B, T) in [0, 1)
    return u >= ratio  # P(keep) = 1 - m; m = 0 keeps every token


def apply_token_mask(tokens: Tensor, keep: Tensor) -> Tensor:
    """M_m of paper eq. 5-6: zero the masked tokens of one modality's shared-pathway sequence.

    As in the released code, masked tokens are multiplied by zero (apply it after the positional
    embedding is added, so that is zeroed too) and no attention mask is used. Shared pathway
    only, never the unique pathways, never at inference.

    Args:
        tokens: (B, T, D) token sequence E_i^SR(X_i) of one modality.
        keep: bool (B, T), True where the token is kept (from ``token_keep_mask``), on the same device.

    Returns:
        (B, T, D), ``tokens`` with masked tokens set to zero (their gradient is zero too).
    """
    if not isinstance(tokens, Tensor) or not isinstance(keep, Tensor):
        raise TypeError(
            f"tokens and keep must be tensors, got {type(tokens).__name__} and {type(keep).__name__}"
        )
    if tokens.dim() != 3:
        raise ValueError(f"tokens must have shape (B, T, D), got {tuple(tokens.shape)}")
    if keep.dtype != torch.bool:
        raise ValueError(f"keep must be a bool tensor (B, T) from token_keep_mask, got dtype {keep.dtype}")
    if tuple(keep.shape) != tuple(tokens.shape[:2]):
        raise ValueError(
            f"keep must have shape (B, T) = {tuple(tokens.shape[:2])} to match tokens {tuple(tokens.shape)}, "
            f"got {tuple(keep.shape)}"
        )
    if keep.device != tokens.device:
        raise ValueError(
            f"keep is on {keep.device} but tokens are on {tokens.device}; create the mask with a "
            f"generator on the tokens' device"
        )
    return tokens * keep.unsqueeze(-1).to(tokens.dtype)  # (B, T, D) * (B, T, 1)


def exact_keep_mask(batch_size: int, n_tokens: int, n_keep: int, generator: torch.Generator) -> Tensor:
    """Keep exactly ``n_keep`` of ``n_tokens`` tokens per row, chosen uniformly at random (InfMasking).

    Unlike ``token_keep_mask`` (COrAL's per-token Bernoulli), every row keeps the same number of tokens:
    InfMasking keeps ``floor(L (1 - ratio))`` of a modality's L tokens in each masked copy.

    Args:
        batch_size: B >= 1 (rows, e.g. samples x copies).
        n_tokens: L >= 1, tokens of one modality.
        n_keep: 0 <= n_keep <= L.
        generator: a ``torch.Generator``; the mask is created on ``generator.device``.

    Returns:
        keep: bool tensor (B, L) on ``generator.device``, exactly ``n_keep`` True per row.
    """
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not _is_int(n_tokens) or n_tokens < 1:
        raise ValueError(f"n_tokens must be an int >= 1, got {n_tokens!r}")
    if not _is_int(n_keep) or not 0 <= n_keep <= n_tokens:
        raise ValueError(f"n_keep must be an int in [0, n_tokens={n_tokens}], got {n_keep!r}")
    _check_generator(generator)
    u = torch.rand((batch_size, n_tokens), generator=generator, device=generator.device)  # (B, L)
    ranks = u.argsort(dim=1).argsort(dim=1)  # (B, L): each token's rank, a random permutation per row
    return ranks < n_keep
