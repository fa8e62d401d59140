"""Input checks shared by every image model (COrAL's ``CoralModel`` and the baselines of ``coral_lab.methods``).

They raise before any computation, with a message that says what was expected and how to fix it, and
none of them synchronises with the GPU except ``check_finite`` (one host sync, skipped on the hot path).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["same_device", "check_view", "check_finite"]


def same_device(a: torch.device, b: torch.device) -> bool:
    """Equal devices, treating a missing index (``cuda``) as matching any index of that type."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def check_view(
    view: object,
    name: str,
    shapes: Sequence[tuple[int, ...]],
    device: torch.device,
    modality_names: Sequence[str] | None = None,
) -> list[Tensor]:
    """Check one view: one floating-point tensor ``(B, *shapes[i])`` per modality, one batch size, on ``device``.

    Args:
        view: what the caller passed, e.g. ``[x1, x2]``.
        name: its name in messages ("view1", "x").
        shapes: each modality's sample shape, e.g. ``(C, H, W)`` for images, ``(T, F)`` for sequences.
        device: the model's device.
        modality_names: names for messages (e.g. "text", "vision"); None for images.

    Returns:
        The view as a list.
    """
    n = len(shapes)
    names = list(modality_names) if modality_names is not None else None

    def shape_text(i: int) -> str:
        return "(B, " + ", ".join(map(str, shapes[i])) + ")"

    def label(i: int) -> str:
        return f"{name}[{i}]" + (f" ({names[i]})" if names else "")

    expected = ", ".join(f"{names[i]} {shape_text(i)}" for i in range(n)) if names else f"{shape_text(0)} each"
    if isinstance(view, (Tensor, str, bytes)) or not isinstance(view, Sequence):
        raise TypeError(f"{name} must be a list of {n} tensors, one per modality: {expected}; got {type(view).__name__}")
    if len(view) != n:
        raise ValueError(
            f"{name} has {len(view)} tensors but the model has n_modalities={n}; pass a list of {n} tensors, "
            f"one per modality: {expected}"
        )
    for i, x in enumerate(view):
        if not isinstance(x, Tensor):
            raise TypeError(f"{label(i)} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            hint = "" if names else (
                "; convert uint8 images with coral_lab.inputs.augment.to_model_input "
                "(or .float() / 255 and normalise them)"
            )
            raise TypeError(f"{label(i)} must be a floating-point tensor, got dtype {x.dtype}{hint}")
        if tuple(x.shape[1:]) != tuple(shapes[i]) or x.dim() != 1 + len(shapes[i]):
            raise ValueError(f"{label(i)} must have shape {shape_text(i)}, got {tuple(x.shape)}")
        if x.shape[0] < 1:
            raise ValueError(f"{label(i)} is an empty batch")
        if x.shape[0] != view[0].shape[0]:
            raise ValueError(
                f"all modalities of {name} must have the same batch size, got {[int(t.shape[0]) for t in view]}"
            )
        if not same_device(x.device, device):
            raise ValueError(f"{label(i)} is on {x.device} but the model is on {device}; move it with .to()")
    return list(view)


def check_finite(tensors: Sequence[Tensor], name: str = "inputs") -> None:
    """Raise if any tensor holds NaN or Inf (one host sync for all of them)."""
    if not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
        raise ValueError(f"NaN or Inf values in {name}; check the data pipeline and augmentation")
