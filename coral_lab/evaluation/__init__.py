"""Evaluation of frozen representations: the linear probe (``probe``), the published probe's replica
(``published_probe``), the Table 1 protocol over seeds and probe protocols (``protocol``), and what a
trained model learned as numbers: probe maps per subspace, embeddings, UMAP (``analysis``).
"""
