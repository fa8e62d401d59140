"""Drawing, never computing: shared static figures (``plotting``), notebook views of what
``evaluation.analysis`` computed (``views``), the paper's figures from result files (``figures``) and
slide-ready figures of COrAL's ideas (``lecture``).

The drawing and teaching layer, with ``teaching``.
"""
