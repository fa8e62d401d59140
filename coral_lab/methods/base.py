"""What every baseline method shares: the interface the training loop and the probe use, input
checks, and the per-modality token / vector encoders built from COrAL's own components.

A baseline is an ``nn.Module`` subclass of ``BaselineModel``:

- ``forward(view1, view2, progress, generator)`` -> ``(total loss, {part name: 0-dim tensor})``: one
  pretraining step's objective for two augmented views (n tensors ``(B, *shape_i)`` each); the
  names are ``loss_parts`` (logged per epoch in ``history.csv``; ``progress_parts`` go in the bar).
- ``embed(x)`` -> ``Representation``: named inference representations (no augmentation, no masking,
  no projection heads) whose concatenation the linear probe reads; ``subspaces`` lists the names.
- ``uses_augmentation``: False for CLIP (it is trained on the un-augmented pair; the loop then passes
  the same images as both views).
- the rest of the method contract that COrAL's model shares (``coral_lab.objectives.contract``):
  ``training_loss(view1, view2, ctx)`` (this class: ``forward`` under ``ctx.autocast()`` with
  ``ctx.progress`` and ``ctx.generator``), ``mask_ratio_at(epoch, epochs, schedule)`` (the baseline's
  own fixed ``mask_ratio``) and ``from_config(cfg, modalities=None)``.

The inputs: a Trifeature ``RunConfig`` gives ``cfg.model.n_modalities`` images; a feature data set's
``RunConfig`` with the data set's ``ModalitySpec`` s gives feature data (``check_config`` returns the modalities).
The encoders are COrAL's: ``token_encoder(i)`` is the shared pathway's E_i for modality i, chosen by
its kind (``coral_lab.models.token_encoders``: the configured CNN + latent converter for images, the
feature encoder + token converter for feature data; ``(B, *shape_i)`` -> ``(B, T_i, D)`` tokens), and
``VectorEncoder`` adds a one-modality fusion transformer (CLS output, ``(B, D)``) for the methods that
need one vector per modality. Nothing else in a baseline depends on the kind of input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from coral_lab.config import RunConfig
from coral_lab.data.modalities import ModalitySpec, image_modalities, modality_names
from coral_lab.models.checks import check_finite, check_view
from coral_lab.models.encoders import TokenEncoder
from coral_lab.models.fusion import FusionTransformer
from coral_lab.models.token_encoders import build_token_encoder
from coral_lab.objectives.contract import StepContext

__all__ = ["Representation", "BaselineModel", "TokenEncoder", "VectorEncoder"]


class Representation:
    """Named inference representations of one batch, e.g. ``{"fused": (B, D)}``.

    The same two methods as ``coral_lab.objectives.embeddings.Embeddings``, so ``coral_lab.evaluation.probe`` probes any
    method alike: ``parts()`` (the subspaces by name, in a fixed order) and ``concat()`` (all of them
    along features, the probe's Z).
    """

    def __init__(self, parts: Mapping[str, Tensor]) -> None:
        if not parts:
            raise ValueError("a Representation needs at least one named part")
        batch = {int(t.shape[0]) for t in parts.values()}
        if len(batch) != 1 or any(t.dim() != 2 for t in parts.values()):
            raise ValueError(
                f"every part must be (B, D_k) with one B; got {[tuple(t.shape) for t in parts.values()]}"
            )
        self._parts = dict(parts)

    def parts(self) -> dict[str, Tensor]:
        return dict(self._parts)

    def concat(self) -> Tensor:
        """All parts along features: (B, sum_k D_k)."""
        return torch.cat(list(self._parts.values()), dim=1)

    def detach(self) -> "Representation":
        return Representation({k: v.detach() for k, v in self._parts.items()})


class VectorEncoder(nn.Module):
    """One modality to one vector: a token encoder then a fusion transformer over its tokens alone.

    Shapes: ``(B, C, H, W)`` -> ``(B, D)`` (the final-LayerNorm CLS output). ``tokens`` is the token
    encoder (any module mapping one modality's input to ``(B, T_i, D)``); default ``TokenEncoder(cfg)``.
    """

    def __init__(self, cfg, tokens: nn.Module | None = None) -> None:
        super().__init__()
        self.tokens = TokenEncoder(cfg) if tokens is None else tokens
        self.fusion = FusionTransformer.from_config(cfg)

    def forward(self, x: Tensor) -> Tensor:
        return self.fusion([self.tokens(x)])


class BaselineModel(nn.Module):
    """Base class of the baselines: configuration, input checks and the common interface."""

    name: str = ""
    loss_parts: tuple[str, ...] = ()
    progress_parts: tuple[str, ...] = ()
    subspaces: tuple[str, ...] = ()
    uses_augmentation: bool = True
    mask_ratio: float = 0.0  # logged in the history's mask_ratio column

    def __init__(self, cfg: RunConfig, modalities: Sequence[ModalitySpec] | None = None) -> None:
        super().__init__()
        self.modalities = self.check_config(cfg, modalities)
        self.n_modalities = len(self.modalities)
        self.cfg = cfg
        self.temperature = float(cfg.loss.temperature)
        self.check_inputs = True

    # ------------------------------------------------------------------ the inputs: images or features

    def check_config(self, cfg: RunConfig,
                     modalities: Sequence[ModalitySpec] | None) -> tuple[ModalitySpec, ...]:
        """Checks ``cfg`` (and the modalities) and returns the n modalities.

        Trifeature: ``cfg.model.n_modalities`` images, no ``modalities`` given. A feature data set: its
        n >= 2 ``ModalitySpec`` s (``FeatureDataset.modalities``).
        """
        name = type(self).__name__
        if not isinstance(cfg, RunConfig):
            raise TypeError(f"{name} expects a coral_lab.config.RunConfig, got {type(cfg).__name__}")
        if cfg.is_trifeature:
            if modalities is not None:
                raise TypeError(f"{name}: modalities are for feature data; pass a feature data set's config with "
                                "them, or a Trifeature config (images) without")
            m = cfg.model
            if isinstance(m.n_modalities, bool) or not isinstance(m.n_modalities, int) or m.n_modalities < 2:
                raise ValueError(f"model.n_modalities must be an int >= 2, got {m.n_modalities!r}")
            if m.embed_dim % 4 != 0:
                raise ValueError(f"model.embed_dim must be divisible by 4 (2-D sin-cos positions), got {m.embed_dim}")
            return image_modalities(m.n_modalities, m.in_channels, m.image_size)
        mods = tuple(modalities) if modalities is not None else ()
        if len(mods) < 2 or not all(isinstance(m, ModalitySpec) for m in mods):
            raise ValueError(f"{name} needs n >= 2 ModalitySpec s, got {modalities!r}")
        return mods

    def token_encoder(self, i: int) -> nn.Module:
        """A fresh E_i for modality i: input -> tokens ``(B, T_i, D)``, with ``n_tokens`` = T_i, chosen by
        the modality's kind (``coral_lab.models.token_encoders``: the CNN + latent converter for images,
        the feature encoder + token converter for feature data)."""
        return build_token_encoder(self.modalities[i], self.cfg.model)

    # ------------------------------------------------------------------------------------ checks

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def check_view(self, view: object, name: str) -> list[Tensor]:
        """n floating-point tensors ``(B, *shape_i)`` (images ``(B, C, H, W)``) of one batch size, on the
        model's device, finite (the finite check is one host sync and is skipped when ``check_inputs`` is
        False)."""
        v = check_view(view, name, [m.shape for m in self.modalities], self._device(),
                       modality_names(self.modalities))
        if self.check_inputs:
            check_finite(v, name)
        return v

    def check_views(self, view1: object, view2: object) -> tuple[list[Tensor], list[Tensor]]:
        v1 = self.check_view(view1, "view1")
        v2 = self.check_view(view2, "view2")
        if v1[0].shape[0] != v2[0].shape[0]:
            raise ValueError(f"view1 and view2 must have the same batch size, got {v1[0].shape[0]} and {v2[0].shape[0]}")
        if v1[0].shape[0] < 2:
            raise ValueError("a contrastive loss needs a batch of at least 2 (the other samples are the negatives)")
        return v1, v2

    @staticmethod
    def check_progress(progress: object) -> float:
        if isinstance(progress, bool) or not isinstance(progress, (int, float)) or not 0.0 <= float(progress) <= 1.0:
            raise ValueError(f"progress (the fraction of training done) must be in [0, 1], got {progress!r}")
        return float(progress)

    # --------------------------------------------------------------------------------- interface

    @classmethod
    def subspace_names(cls, n_modalities: int) -> tuple[str, ...]:
        """The probe representations of a model of ``n_modalities``: the class's ``subspaces``, or one per
        modality (``modality1`` ...) for a method that names none (CLIP)."""
        return tuple(cls.subspaces) or tuple(f"modality{i + 1}" for i in range(n_modalities))

    @classmethod
    def from_config(cls, cfg, modalities: Sequence[ModalitySpec] | None = None) -> "BaselineModel":
        """The model of a run config (Trifeature: images; a feature data set: with the data set's
        modalities)."""
        return cls(cfg, modalities)

    def mask_ratio_at(self, epoch: int, epochs: int, schedule: object = None) -> float:
        """The ratio logged for every epoch: the baseline's own ``mask_ratio`` (COrAL's schedule is ignored)."""
        return self.mask_ratio

    def training_loss(self, view1, view2, ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        """``forward(view1, view2, ctx.progress, ctx.generator)`` under ``ctx.autocast()``.

        A baseline's negatives are its process's own batch (no gather across processes).
        """
        with ctx.autocast():
            return self(view1, view2, ctx.progress, ctx.generator)

    def forward(self, view1, view2, progress: float = 0.0, generator: torch.Generator | None = None):
        raise NotImplementedError

    def embed(self, x: Sequence[Tensor]) -> Representation:
        raise NotImplementedError
