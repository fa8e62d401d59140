"""COrAL on real multimodal feature data: MultiBench loaders and encoders, SupCon fine-tuning, Table 2.

- ``datasets``: validated loaders for the MultiBench affect pickles (MOSI, MOSEI, UR-FUNNY, MUsTARD) and
  MIMIC's ``im.pk`` (found via a path or ``$CORAL_LAB_MULTIBENCH_DIR``), and the offline ``digits`` set.
- ``encoders``: Transformer, GRU and MLP + feature-tokenizer encoders (every method of ``coral_lab.methods.METHODS``
  takes its E_i for a feature modality from here, via ``coral_lab.models.token_encoders``).
- ``augment``: time-step drop + noise for sequences, SCARF corruption + noise for tabular rows.
- ``pretrain``: feature tensors as a pretraining source of the one loop (``coral_lab.loop.fit``); ``finetune`` / ``supcon``: SupCon fine-tuning.
- ``probe`` / ``protocol``: linear probes on frozen features and the Table 2 protocol.
- ``synthetic``: tiny files in the MultiBench layouts (not real data) for tests and the notebook.
"""

from coral_lab.multibench.datasets import DATASETS, ENV_VAR, DataFileError, FeatureDataset, load_dataset

__all__ = ["DATASETS", "ENV_VAR", "DataFileError", "FeatureDataset", "load_dataset"]
