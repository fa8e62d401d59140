"""Training: the one pretraining loop of every method and data source (``loop``), the pretraining entry
point and loaders (``pretrain``), what every loop shares (``optimisation``: AdamW, the lr schedule,
seeds) and the trained models shipped in the repository (``pretrained``).
"""
