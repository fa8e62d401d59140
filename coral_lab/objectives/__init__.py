"""COrAL's objective and its inputs: InfoNCE and the orthogonality loss (``losses``, paper eq. 1-5),
complementary asymmetric masking and its schedule (``masking``), the container the model returns and the
losses take (``embeddings``: Z^SR and Z_i^U), and the method contract every method follows (``contract``).

The bottom layer, with ``core`` and ``data``.
"""
