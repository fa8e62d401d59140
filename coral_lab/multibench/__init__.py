"""The Table 2 application: COrAL and the baselines on real multimodal feature data (MultiBench).

The feature-data base sits below the applications, beside the Trifeature benchmark and the image encoders:
loaders in ``coral_lab.data.features``, augmentations in ``coral_lab.inputs.feature_augment``, encoders in
``coral_lab.models.feature_encoders``. This package holds only what Table 2 adds on top of them:

- ``pretrain``: feature tensors as a pretraining source of the one loop (``coral_lab.training.loop.fit``);
- ``finetune`` / ``supcon``: SupCon fine-tuning;
- ``probe`` / ``protocol``: linear probes on frozen features and the Table 2 protocol;
- ``cli``: ``coral-lab reproduce --dataset ...``;
- ``synthetic``: tiny files in the MultiBench layouts (not real data) for tests and the notebook.
"""
