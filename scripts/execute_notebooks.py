"""Execute notebooks and write the executed copies elsewhere (the rendered site's first step).

    python scripts/execute_notebooks.py --toc site/_toc.yml --out site/_build/stage
    python scripts/execute_notebooks.py notebooks/01_pid_concepts.ipynb --out /tmp/executed

Each notebook runs in a fresh kernel from its own folder (so ``units.repo_root`` finds the checkout,
as under nbval and JupyterLab), with the preset of ``CORAL_LAB_PRESET``; the executed copy, outputs
included, goes to ``<out>/<its path in the repository>``; the sources are never
written. A cell error stops with one line naming the notebook and the error.

Widget state is not stored (``--widget-state`` stores it): a page would need the widget manager from a
CDN to draw it, which an offline reader does not have, and the lab's stored state holds a copy of
plotly.js per chart (notebook 09's page was 34 MB with it, measured 2026-12-04). Widgets need a running
kernel in any case; the site's index page says so.

Why not Jupyter Book's own executor: nbclient waits for the kernel's messages on asyncio ZMQ sockets,
and on a loaded machine a message that has already arrived is sometimes not noticed until the wait's
timeout ends. Measured 2026-12-04 on this project's 2-core CPU with a training job beside it: notebook
08 (ci preset) stalled at its widget cell for exactly the cell timeout (400 s, then it went on), twice
in a row, with the kernel idle and the reply already sent (the kernel's history had the cell). Waiting
in one-second slices (``SlicedChannel``) picks the message up within a second: the same notebook then
ran in 25-35 s each time under the same load. Nothing else about nbclient changes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat
import yaml
from jupyter_client import AsyncKernelManager
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from traitlets import Type

ROOT = Path(__file__).resolve().parents[1]
SLICE_S = 1.0


class SlicedChannel(AsyncZMQSocketChannel):
    """A kernel channel whose waits are one-second polls, repeated until the caller's timeout."""

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = SLICE_S if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await super().get_msg(timeout=min(SLICE_S, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedChannel)
    iopub_channel_class = Type(SlicedChannel)
    stdin_channel_class = Type(SlicedChannel)
    control_channel_class = Type(SlicedChannel)


class SlicedKernelManager(AsyncKernelManager):
    client_factory = Type(SlicedClient)


def toc_notebooks(toc: Path) -> list[Path]:
    """The notebooks a Jupyter Book table of contents lists (``file:`` entries with an .ipynb), in order."""
    try:
        data = yaml.safe_load(toc.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SystemExit(f"cannot read the table of contents {toc}: {err}") from None
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").is_file()]


def drop_repeated_plotly_init(nb: nbformat.NotebookNode) -> int:
    """Keep only the first of a notebook's plotly.js outputs; returns how many were dropped.

    With an HTML plotly renderer (``PLOTLY_RENDERER``, set by ``scripts/build_site.sh``) plotly displays
    its 4.8 MB library as an output of its own, again for some later figures (notebook 09 had seven
    copies, a 34 MB page); the first copy defines ``window.Plotly`` for every chart below it.
    """
    seen, dropped = False, 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            html = out.get("data", {}).get("text/html", "")
            html = "".join(html) if isinstance(html, list) else html
            if "* plotly.js v" in html and "plotly-graph-div" not in html:
                if seen:
                    dropped += 1
                    continue
                seen = True
            kept.append(out)
        cell.outputs = kept
    return dropped


def execute(path: Path, out: Path, timeout: int, widget_state: bool = False) -> float:
    """Run ``path`` top to bottom in a fresh kernel, write the executed copy to ``out``; seconds taken."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", kernel_manager_class=SlicedKernelManager,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.monotonic()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
        shown = path.relative_to(ROOT) if ROOT in path.parents else path
        what = f"{err.ename}: {err.evalue}" if isinstance(err, CellExecutionError) else f"{type(err).__name__}: {err}"
        raise SystemExit(f"{shown}: a cell failed ({what.splitlines()[0] if what else ''}); run the notebook in "
                         "JupyterLab to see the traceback") from None
    drop_repeated_plotly_init(nb)
    if not widget_state:  # dropped after the run: nbclient 0.11 fails on output widgets with store_widget_state=False
        nb.metadata.pop("widgets", None)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: those of --toc)")
    parser.add_argument("--toc", type=Path, default=ROOT / "site" / "_toc.yml", help="Jupyter Book table of contents")
    parser.add_argument("--out", type=Path, required=True, help="folder for the executed copies (repository layout)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds one cell may run")
    parser.add_argument("--widget-state", action="store_true", help="store the widgets' state in the copies")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or toc_notebooks(args.toc)
    if not paths:
        raise SystemExit(f"no notebooks to run: give paths, or a --toc that lists .ipynb files (read {args.toc})")
    for p in paths:
        if not p.is_file() or p.suffix != ".ipynb" or ROOT not in p.parents:
            raise SystemExit(f"{p}: not a notebook inside {ROOT}")
    total = 0.0
    for p in paths:
        rel = p.relative_to(ROOT)
        seconds = execute(p, args.out / rel, args.timeout, args.widget_state)
        total += seconds
        print(f"[execute] {rel}: {seconds:.1f} s", flush=True)
    print(f"[execute] {len(paths)} notebooks in {total:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
