"""Run notebooks at the ci preset and keep the outputs of their pinned cells only (what nbval checks).

    python scripts/pin_outputs.py notebooks/04_losses.ipynb [more notebooks]

Every code cell whose first line is ``# NBVAL_CHECK_OUTPUT`` gets the text it printed when the whole
notebook ran under ``CORAL_LAB_PRESET=ci`` (from the notebooks/ folder, as nbval runs it); every other
cell's outputs are cleared. Run it after changing a pinned cell, then review the diff.
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

PIN = "# NBVAL_CHECK_OUTPUT"


def pin(path: Path, timeout: int) -> int:
    nb = nbformat.read(path, as_version=4)
    run = copy.deepcopy(nb)
    os.environ["CORAL_LAB_PRESET"] = "ci"
    NotebookClient(run, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    pinned = 0
    for cell, done in zip(nb.cells, run.cells):
        if cell.cell_type != "code":
            continue
        if cell.source.startswith(PIN):
            cell.outputs = [o for o in done.outputs if o.output_type == "stream"]
            cell.execution_count = done.execution_count
            pinned += 1
        else:
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return pinned


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("notebooks", nargs="+", type=Path)
    p.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = p.parse_args()
    for path in args.notebooks:
        print(f"{path}: {pin(path, args.timeout)} pinned cells")


if __name__ == "__main__":
    main()
