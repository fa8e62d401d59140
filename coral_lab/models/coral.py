"""The dual-path COrAL network with asymmetric masking (paper section 4.1, eq. 5-6; Figure 1).

For each modality i there are two pathways, each with its own encoder:

- shared: E_i^SR (encoder + latent converter) -> tokens ``(B, T_i, D)``; during pretraining the tokens of
  the modalities in M1 are masked in view 1 and those in M2 in view 2 (eq. 6); the tokens of all
  modalities go through the fusion transformer T -> Z^SR ``(B, D)``.
- unique: F_i^U (encoder + latent converter + per-token MLP + attention pooling) -> Z_i^U ``(B, D/2)``,
  never masked.

Pretraining (``forward``) passes Z^SR and every Z_i^U through projection heads and returns one
``Embeddings`` per view for the loss (eq. 3-4, 7-8); ``training_loss`` is the whole step of the method
contract (``coral_lab.objectives.contract``): modality halves, masked forward, ``coral_loss`` -> (total,
parts). Inference (``embed``) returns the representations before the heads, with no masking;
``embed(x).concat()`` is Z = (Z^SR, Z_1^U, ..., Z_n^U), the probe feature.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from coral_lab.core import distributed
from coral_lab.config import LossConfig, ModelConfig
from coral_lab.objectives.embeddings import Embeddings
from coral_lab.objectives.losses import coral_loss, loss_part_names
from coral_lab.objectives.masking import (
    apply_token_mask,
    check_mask_ratio,
    mask_ratio_at,
    split_modalities,
    token_keep_mask,
)
from coral_lab.models.checks import check_finite, check_view, same_device
from coral_lab.data.modalities import ModalitySpec, image_modalities, modality_names
from coral_lab.models.fusion import FusionTransformer
from coral_lab.models.heads import ProjectionHead
from coral_lab.models.token_encoders import build_token_encoder
from coral_lab.models.unique import UniquePathway
from coral_lab.config.sections import FeatureModelConfig
from coral_lab.objectives.contract import StepContext

__all__ = ["CoralModel", "tie_initial_weights"]

Halves = tuple[tuple[int, ...], tuple[int, ...]]


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_loss(loss: object) -> LossConfig:
    if loss is None:
        return LossConfig()
    if not isinstance(loss, LossConfig):
        raise TypeError(f"loss must be a coral_lab.config.LossConfig or None, got {type(loss).__name__}")
    return loss


def tie_initial_weights(model: nn.Module) -> None:
    """Start the unique pathways as the published code does (``modules/mmfusion.py``, ``modules/coral.py``).

    Each F_i^U's encoder and latent converter become copies of E_i^SR's (the released model deep-copies
    the shared encoders and input adapters into the unique ones), and every unique projection head a
    copy of the first. Only the starting values are copied; the parts train independently afterwards.
    The per-token MLP and the pooling query of each unique pathway keep their own draws.

    Args:
        model: a ``CoralModel`` (or one with the same ``shared_encoders`` / ``unique_paths`` /
            ``unique_heads`` parts, e.g. the feature-data model).
    """
    with torch.no_grad():
        for shared, unique in zip(model.shared_encoders, model.unique_paths):
            unique.encoder.load_state_dict(shared.encoder.state_dict())
            unique.converter.load_state_dict(shared.converter.state_dict())
        first = model.unique_heads[0].state_dict()
        for head in model.unique_heads[1:]:
            head.load_state_dict(first)


class CoralModel(nn.Module):
    """COrAL's dual-path network on n >= 2 modalities: images (a ``ModelConfig``) or feature data (a
    ``FeatureModelConfig`` and the data set's ``ModalitySpec`` s); each modality's encoders come from
    ``coral_lab.models.token_encoders`` by its kind, everything else is the same code.

    Attributes:
        shared_encoders: one E_i^SR per modality, ``nn.Sequential(encoder, converter)``:
            ``(B, *shape_i)`` (images ``(B, C, H, W)``) -> ``(B, T_i, D)``.
        fusion: T, ``FusionTransformer``: list of ``(B, T_i, D)`` -> Z^SR ``(B, D)``.
        unique_paths: one F_i^U per modality (``UniquePathway``, its own encoder): ``(B, *shape_i)`` ->
            Z_i^U ``(B, D/2)``.
        shared_head: ``ProjectionHead(D, proj_hidden, proj_dim)``.
        unique_heads: one ``ProjectionHead(D/2, proj_hidden, proj_dim)`` per modality.
        n_tokens: ``T_i`` for each modality.
        check_inputs: when True (default) ``forward`` / ``embed`` check that inputs are finite (one
            host sync); set it to False on the training hot path. Shape checks always run.
        loss_config: the ``LossConfig`` (lambda_s, lambda_u, lambda_o, temperature, ortho kind) that
            ``training_loss`` applies; not part of the weights.
    """

    uses_augmentation = True  # the method contract (coral_lab.objectives.contract): trained on augmented views
    progress_parts = ("loss", "shared", "unique", "orthogonal")

    @classmethod
    def from_config(cls, cfg, modalities: Sequence[ModalitySpec] | None = None) -> "CoralModel":
        """The model of a run config: ``CoralModel(cfg.model, loss=cfg.loss, modalities=modalities)``
        (Trifeature: images, no modalities; a feature data set: the data set's modalities)."""
        return cls(cfg.model, loss=cfg.loss, modalities=modalities)

    def __init__(self, cfg: ModelConfig | FeatureModelConfig, loss: LossConfig | None = None,
                 modalities: Sequence[ModalitySpec] | None = None) -> None:
        super().__init__()
        self.loss_config = _check_loss(loss)
        self.modalities = self.check_config(cfg, modalities)
        n = len(self.modalities)
        dim = cfg.embed_dim
        self.cfg = cfg
        self.n_modalities = n
        self.embed_dim = dim
        self.unique_dim = dim // 2
        self.check_inputs = True

        shared: list[nn.Module] = []
        unique: list[nn.Module] = []
        for i in range(n):
            shared.append(self.token_encoder(i))
            tokens = self.token_encoder(i)  # the unique pathway has its own encoder and converter
            unique.append(UniquePathway(tokens.encoder, tokens.converter, dim, cfg.attention_pool))
        self.shared_encoders = nn.ModuleList(shared)
        self.fusion = FusionTransformer.from_config(cfg)
        self.unique_paths = nn.ModuleList(unique)
        self.shared_head = ProjectionHead(dim, cfg.proj_hidden, cfg.proj_dim)
        self.unique_heads = nn.ModuleList(
            ProjectionHead(self.unique_dim, cfg.proj_hidden, cfg.proj_dim) for _ in range(n)
        )
        self.n_tokens = tuple(int(enc.n_tokens) for enc in shared)
        if cfg.init == "published":
            tie_initial_weights(self)

    # ------------------------------------------------------------------ the inputs: images or features

    def check_config(self, cfg: ModelConfig | FeatureModelConfig,
                     modalities: Sequence[ModalitySpec] | None) -> tuple[ModalitySpec, ...]:
        """Checks ``cfg`` (and the modalities) and returns the n modalities.

        Images (``ModelConfig``): n = ``cfg.n_modalities`` images of ``cfg.image_size`` px, no
        ``modalities`` given. Feature data (``FeatureModelConfig``): the data set's n >= 2 modalities.
        """
        if isinstance(cfg, ModelConfig):
            if modalities is not None:
                raise ValueError("CoralModel: modalities are for feature data (a FeatureModelConfig); an image "
                                 "model takes n_modalities and image_size from its ModelConfig")
            n = _positive_int(cfg.n_modalities, "model.n_modalities")
            if n < 2:
                raise ValueError(f"model.n_modalities must be >= 2 (masking splits modalities in two), got {n}")
            dim = _positive_int(cfg.embed_dim, "model.embed_dim")
            if dim % 4 != 0:
                raise ValueError(
                    f"model.embed_dim must be divisible by 4 (2-D sin-cos positions; unique width D/2), got {dim}"
                )
            return image_modalities(n, _positive_int(cfg.in_channels, "model.in_channels"),
                                    _positive_int(cfg.image_size, "model.image_size"))
        if isinstance(cfg, FeatureModelConfig):
            mods = tuple(modalities) if modalities is not None else ()
            if not all(isinstance(m, ModalitySpec) for m in mods):
                raise TypeError("CoralModel: modalities must be ModalitySpec s (FeatureDataset.modalities)")
            if len(mods) < 2:
                raise ValueError(f"COrAL needs n >= 2 modalities (masking splits them in two), got {len(mods)}")
            dim = cfg.embed_dim
            if dim % 2 or dim % cfg.n_heads:
                raise ValueError(f"embed_dim ({dim}) must be even and divisible by n_heads ({cfg.n_heads})")
            return mods
        raise TypeError(f"CoralModel expects a coral_lab.config.ModelConfig (images) or a FeatureModelConfig "
                        f"(feature data), got {type(cfg).__name__}")

    def token_encoder(self, i: int) -> nn.Module:
        """A fresh encoder + latent converter for modality i, ``nn.Sequential(encoder, converter)`` with
        ``n_tokens``: ``(B, *shape_i)`` -> ``(B, T_i, D)``, chosen by the modality's kind
        (``coral_lab.models.token_encoders``). Called twice per modality, for E_i^SR and for F_i^U's
        encoder and converter."""
        return build_token_encoder(self.modalities[i], self.cfg)

    # ----------------------------------------------------------------------------------- checks

    def _check_view(self, view: object, name: str) -> list[Tensor]:
        """Shape / type / device checks (no host sync); returns the view as a list."""
        device = self.shared_head.net[0].weight.device
        return check_view(view, name, [m.shape for m in self.modalities], device, modality_names(self.modalities))

    def _check_finite(self, tensors: Sequence[Tensor]) -> None:
        if not self.check_inputs:
            return
        check_finite(tensors)  # the one host sync

    def _check_halves(self, halves: object) -> Halves:
        n = self.n_modalities
        hint = (
            f"halves must be two disjoint, non-empty tuples of modality indices covering range({n}), "
            f"e.g. ((0,), (1,)) or coral_lab.objectives.masking.split_modalities(n, generator)"
        )
        if isinstance(halves, (str, bytes)) or not isinstance(halves, Sequence) or len(halves) != 2:
            raise ValueError(f"{hint}; got {halves!r}")
        out = []
        for half in halves:
            if isinstance(half, (str, bytes)) or not isinstance(half, Sequence) or len(half) == 0:
                raise ValueError(f"{hint}; got {halves!r}")
            if not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in half):
                raise ValueError(f"{hint}; got {halves!r}")
            out.append(tuple(int(i) for i in half))
        first, second = out
        everything = first + second
        if len(set(everything)) != len(everything) or set(everything) != set(range(n)):
            raise ValueError(f"{hint}; got {halves!r}")
        return first, second

    # --------------------------------------------------------------------------------- pathways

    def encode_views(
        self,
        view1: Sequence[Tensor],
        view2: Sequence[Tensor],
        halves: Halves,
        mask_ratio: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Embeddings, Embeddings]:
        """The pretraining pass up to, not including, the projection heads (paper eq. 5-6).

        Each modality's shared and unique encoders run once on both views concatenated (2B). The shared
        tokens of the modalities in ``halves[0]`` are masked in view 1 and those in ``halves[1]`` in view
        2 (``token_keep_mask`` + ``apply_token_mask``, one mask per modality, drawn in modality order);
        the unique pathways are never masked. When a generator is given the masks are drawn even at
        ratio 0 (they then keep every token), so the generator's stream does not depend on the schedule.

        Args:
            view1, view2: n tensors each, ``(B, *shape_i)`` (images ``(B, C, H, W)``), one per modality.
            halves: (M1, M2), a partition of ``range(n)`` into two non-empty tuples.
            mask_ratio: m in [0, 1).
            generator: ``torch.Generator`` on the inputs' device; required when ``mask_ratio > 0``.

        Returns:
            Pre-head ``Embeddings`` for view 1 and view 2: shared Z^SR ``(B, D)``, unique n x ``(B, D/2)``.
        """
        v1 = self._check_view(view1, "view1")
        v2 = self._check_view(view2, "view2")
        if v1[0].shape[0] != v2[0].shape[0]:
            raise ValueError(
                f"view1 and view2 must have the same batch size, got {v1[0].shape[0]} and {v2[0].shape[0]}"
            )
        first, second = self._check_halves(halves)
        ratio = check_mask_ratio(mask_ratio)
        if generator is not None:
            if not isinstance(generator, torch.Generator):
                raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
            if not same_device(generator.device, v1[0].device):
                raise ValueError(
                    f"generator is on {generator.device} but the inputs are on {v1[0].device}; "
                    f"use torch.Generator(device={str(v1[0].device)!r})"
                )
        elif ratio > 0:
            raise ValueError(
                f"mask_ratio={ratio} needs a torch.Generator to draw the token masks; pass generator=..."
            )
        self._check_finite(v1 + v2)

        batch = v1[0].shape[0]
        tokens: list[Tensor] = []
        unique: list[Tensor] = []
        for i in range(self.n_modalities):
            x = torch.cat([v1[i], v2[i]], dim=0)  # (2B, C, H, W): view 1 then view 2
            t = self.shared_encoders[i](x)  # (2B, T_i, D)
            if generator is not None:
                keep = token_keep_mask(batch, t.shape[1], ratio, generator)  # (B, T_i) for the masked view
                full = torch.ones_like(keep)
                # M1 is masked in view 1 (rows :B), M2 in view 2 (rows B:)
                keep = torch.cat([keep, full] if i in first else [full, keep], dim=0)  # (2B, T_i)
                t = apply_token_mask(t, keep)
            tokens.append(t)
            unique.append(self.unique_paths[i](x))  # (2B, D/2)
        shared = self.fusion(tokens)  # (2B, D)
        e1 = Embeddings(shared[:batch], tuple(u[:batch] for u in unique))
        e2 = Embeddings(shared[batch:], tuple(u[batch:] for u in unique))
        return e1, e2

    def project(self, e: Embeddings) -> Embeddings:
        """Apply the projection heads to ONE view's pre-head embeddings (BatchNorm statistics per view).

        Shapes: shared ``(B, D)`` -> ``(B, proj_dim)``; each unique ``(B, D/2)`` -> ``(B, proj_dim)``.
        """
        if not isinstance(e, Embeddings) or e.n_modalities != self.n_modalities:
            raise ValueError(f"project expects Embeddings with {self.n_modalities} unique parts")
        return Embeddings(
            self.shared_head(e.shared),
            tuple(head(u) for head, u in zip(self.unique_heads, e.unique)),
        )

    def forward(
        self,
        view1: Sequence[Tensor],
        view2: Sequence[Tensor],
        halves: Halves,
        mask_ratio: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> tuple[Embeddings, Embeddings]:
        """The pretraining pass (paper eq. 5-6): projected embeddings of both views for the loss (eq. 3).

        Args: as ``encode_views``.

        Returns:
            ``Embeddings`` for view 1 and view 2: shared ``(B, proj_dim)``, unique n x ``(B, proj_dim)``.
        """
        e1, e2 = self.encode_views(view1, view2, halves, mask_ratio, generator)
        return self.project(e1), self.project(e2)

    def embed(self, x: Sequence[Tensor]) -> Embeddings:
        """Inference representations (no masking, no heads): Z^SR ``(B, D)`` and Z_i^U ``(B, D/2)``.

        ``embed(x).concat()`` is the probe feature Z, ``(B, D + n * D/2)``. The train / eval mode is left
        as it is; wrap calls in ``model.eval()`` and ``torch.no_grad()``.

        Args:
            x: n tensors ``(B, *shape_i)`` (images ``(B, C, H, W)``), one per modality.
        """
        v = self._check_view(x, "x")
        self._check_finite(v)
        tokens = [enc(xi) for enc, xi in zip(self.shared_encoders, v)]  # n x (B, T_i, D)
        shared = self.fusion(tokens)  # (B, D)
        unique = tuple(path(xi) for path, xi in zip(self.unique_paths, v))  # n x (B, D/2)
        return Embeddings(shared, unique)

    # ----------------------------------------------------------------------- the method contract

    @property
    def loss_parts(self) -> tuple[str, ...]:
        """The named parts of ``training_loss`` (``coral_lab.objectives.losses.loss_part_names``), logged per epoch."""
        return tuple(loss_part_names(self.n_modalities))

    @classmethod
    def subspace_names(cls, n_modalities: int) -> tuple[str, ...]:
        """The probe representations of a model of ``n_modalities``: ``("shared", "unique1", ..., "unique{n}")``."""
        return ("shared", *(f"unique{i + 1}" for i in range(n_modalities)))

    @property
    def subspaces(self) -> tuple[str, ...]:
        """The probe representations of ``embed(x).parts()`` (``subspace_names``)."""
        return self.subspace_names(self.n_modalities)

    @staticmethod
    def mask_ratio_at(epoch: int, epochs: int, schedule) -> float:
        """This epoch's masking ratio under ``train.mask_schedule`` (``coral_lab.objectives.masking.mask_ratio_at``)."""
        return mask_ratio_at(epoch, epochs, schedule)

    def training_loss(self, view1: Sequence[Tensor], view2: Sequence[Tensor],
                      ctx: StepContext) -> tuple[Tensor, dict[str, Tensor]]:
        """One pretraining step's objective (paper eq. 3, 5-8): ``(total, parts)``.

        Draws the modality halves (M1, M2) from ``ctx.order_generator``, runs the masked forward at
        ``ctx.mask_ratio`` under ``ctx.autocast()`` (token masks from ``ctx.generator``), gathers both
        views' projected embeddings across processes when distributed (the other ranks' samples are
        negatives too) and applies ``coral_loss`` in fp32 with ``loss_config``.
        """
        halves = split_modalities(self.n_modalities, ctx.order_generator)
        with ctx.autocast():
            e1, e2 = self(view1, view2, halves, ctx.mask_ratio, ctx.generator)
        e1 = distributed.gather_embeddings(e1.float())
        e2 = distributed.gather_embeddings(e2.float())
        lc = self.loss_config
        return coral_loss(e1, e2, lambda_s=lc.lambda_s, lambda_u=lc.lambda_u, lambda_o=lc.lambda_o,
                          temperature=lc.temperature, ortho_kind=lc.ortho_kind, check_finite=False)

    def pathway_parameter_counts(self) -> dict[str, int]:
        """Number of parameters in each part: shared encoders (E^SR), fusion (T), unique paths (F^U), heads."""

        def count(*modules: nn.Module) -> int:
            return sum(p.numel() for m in modules for p in m.parameters())

        return {
            "shared_encoders": count(self.shared_encoders),
            "fusion": count(self.fusion),
            "unique_paths": count(self.unique_paths),
            "heads": count(self.shared_head, self.unique_heads),
        }
