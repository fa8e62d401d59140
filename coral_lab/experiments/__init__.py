"""Experiments built from the Table 1 protocol: the masking and loss-weight ablations (``ablations``),
learning-curve studies (``study``), COrAL beside its baselines (``compare``), and the notebooks'
trained units (``units``).

The applications layer, with ``multibench`` (Table 2).
"""
