"""coral_lab: a teaching and analysis toolkit for COrAL (Orthogonalized Multimodal Contrastive
Learning with Asymmetric Masking)."""

__version__ = "0.1.0"
