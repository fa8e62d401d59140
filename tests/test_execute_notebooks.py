"""scripts/execute_notebooks.py: the rendered site's executor (the notebooks of the toc, run in a fresh
kernel, copies written elsewhere, one line for a failing cell, one plotly.js per page)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import execute_notebooks as ex  # noqa: E402  (a script, not a package module)


def test_the_toc_lists_every_numbered_notebook_in_order():
    paths = ex.toc_notebooks(ROOT / "site" / "_toc.yml")
    names = [p.name for p in paths]
    assert names == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _html(text):
    return nbformat.v4.new_output("display_data", data={"text/html": text, "text/plain": "x"})


def test_only_the_first_plotly_library_output_is_kept():
    lib = "<script>/**\n* plotly.js v4.1.1\n*/ window.Plotly = Plotly;</script>"
    chart = '<div class="plotly-graph-div" id="a"></div><script>Plotly.newPlot("a")</script>'
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("text"),
        nbformat.v4.new_code_cell("a", outputs=[_html(lib), _html(chart)]),
        nbformat.v4.new_code_cell("b", outputs=[_html(lib), _html(chart), _html("<table></table>")]),
    ])
    assert ex.drop_repeated_plotly_init(nb) == 1
    kept = [["".join(o["data"]["text/html"]) for o in c.outputs] for c in nb.cells if c.cell_type == "code"]
    assert kept == [[lib, chart], [chart, "<table></table>"]]
    assert ex.drop_repeated_plotly_init(nb) == 0


def test_a_notebook_runs_into_a_copy_and_a_failing_cell_stops_with_one_line(tmp_path):
    source = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]), source)
    before = source.read_text()
    seconds = ex.execute(source, tmp_path / "out" / "nb.ipynb", timeout=120)
    assert seconds > 0 and source.read_text() == before  # the source is never written
    done = nbformat.read(tmp_path / "out" / "nb.ipynb", as_version=4)
    assert done.cells[0].outputs[0]["text"] == "42\n"

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), source)
    with pytest.raises(SystemExit, match="ZeroDivisionError"):
        ex.execute(source, tmp_path / "out2" / "nb.ipynb", timeout=120)
    assert not (tmp_path / "out2").exists()


def test_paths_outside_the_checkout_are_refused(tmp_path):
    stray = tmp_path / "x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), stray)
    r = subprocess.run([sys.executable, "scripts/execute_notebooks.py", str(stray), "--out", str(tmp_path / "o")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "not a notebook inside" in r.stderr
