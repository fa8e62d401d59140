"""What a batch becomes before the model sees it: image augmentation (``augment``), feature-data
augmentation (``feature_augment``), the data sources that turn batch indices into two views
(``sources``), and the released code's per-sample input pipeline, rebuilt for speed comparisons
(``reference_pipeline``).

The layer of inputs and models, with ``models``.
"""
