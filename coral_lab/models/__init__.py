"""The COrAL network and its components (paper section 4.1).

- ``CoralModel``: the dual-path network (shared pathway with asymmetric masking + unique pathways).
- encoders: ``AlexNetFeatures``, ``SmallCNN``, the ``ENCODERS`` registry and ``build_encoder``.
- tokens: ``LatentConverter`` and ``sincos_pos_embed_2d``.
- fusion: ``FusionTransformer`` (T).
- unique: ``UniquePathway`` (F_i^U) and ``AttentionPool``.
- heads: ``ProjectionHead``.
"""

from coral_lab.models.coral import CoralModel
from coral_lab.models.encoders import ENCODERS, AlexNetFeatures, SmallCNN, TokenEncoder, build_encoder
from coral_lab.models.fusion import FusionTransformer, MultiHeadSelfAttention, TransformerBlock
from coral_lab.models.heads import ProjectionHead
from coral_lab.models.tokens import LatentConverter, sincos_pos_embed_1d, sincos_pos_embed_2d
from coral_lab.models.unique import AttentionPool, UniquePathway

__all__ = [
    "CoralModel",
    "ENCODERS",
    "AlexNetFeatures",
    "SmallCNN",
    "build_encoder",
    "TokenEncoder",
    "FusionTransformer",
    "MultiHeadSelfAttention",
    "TransformerBlock",
    "ProjectionHead",
    "LatentConverter",
    "sincos_pos_embed_1d",
    "sincos_pos_embed_2d",
    "AttentionPool",
    "UniquePathway",
]
