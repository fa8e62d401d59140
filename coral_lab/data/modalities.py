"""What a model knows about its inputs: one ``ModalitySpec`` per modality.

A data source describes each of its n modalities by a name, a kind and one sample's shape; the methods
build each modality's token encoder E_i from the kind (``coral_lab.models.token_encoders``) and check
their inputs against the shape. Kinds:

- ``"image"``: ``(C, H, W)`` images (Trifeature), E_i = the configured CNN + latent converter;
- ``"sequence"``: ``(T, F)`` feature sequences (MultiBench text / vision / audio, digits' pixel rows),
  E_i = 1x1 Conv1d + Transformer encoder;
- ``"timeseries"``: ``(T, F)`` time series (MIMIC), E_i = a GRU;
- ``"tabular"``: ``(F,)`` rows (MIMIC's static features), E_i = MLP + feature tokenizer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModalitySpec", "IMAGE", "FEATURE_KINDS", "MODALITY_KINDS", "image_modalities", "modality_names"]

IMAGE = "image"
FEATURE_KINDS: tuple[str, ...] = ("sequence", "timeseries", "tabular")
MODALITY_KINDS: tuple[str, ...] = (IMAGE, *FEATURE_KINDS)


@dataclass(frozen=True)
class ModalitySpec:
    """One modality: ``kind`` is one of ``MODALITY_KINDS``; ``shape`` is one sample's shape, ``(C, H, W)``
    for images, ``(T, F)`` for sequences and time series, ``(F,)`` for tabular rows."""

    name: str
    kind: str
    shape: tuple[int, ...]


def image_modalities(n: int, in_channels: int, image_size: int) -> tuple[ModalitySpec, ...]:
    """n image modalities ``image1 .. image<n>``, each ``(in_channels, image_size, image_size)``."""
    return tuple(ModalitySpec(f"image{i + 1}", IMAGE, (in_channels, image_size, image_size)) for i in range(n))


def modality_names(modalities: tuple[ModalitySpec, ...]) -> list[str] | None:
    """The names input checks print (``models.checks.check_view``): None for images, which are
    numbered there ("view1[0]"), else each modality's name ("text", "vision")."""
    return None if all(m.kind == IMAGE for m in modalities) else [m.name for m in modalities]
