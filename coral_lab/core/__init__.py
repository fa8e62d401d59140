"""Plumbing every layer uses, and the paper's facts: atomic files and checkpoints (``io``), the device
and reproducibility (``device``), worker processes (``workers``), torch.distributed (``distributed``),
the paper's tables, seeds and chance levels (``paper``).

The bottom layer with ``data`` and ``objectives``: it imports no other coral_lab package.
"""
