"""scripts/check_site.py finds broken internal links, images and fragments of a built site, offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/check_site.py", str(site)], cwd=ROOT, capture_output=True, text=True)


def test_a_clean_site_passes_and_each_kind_of_break_is_named(tmp_path):
    site = tmp_path / "html"
    (site / "notebooks").mkdir(parents=True)
    (site / "_static").mkdir()
    (site / "_static" / "fig.png").write_bytes(b"\x89PNG")
    # a theme's Jinja fragment among its assets is not a page: its unrendered links are not checked
    (site / "_static" / "webpack-macros.html").write_text('<script src="{{ pathto(\'x.js\', 1) }}"></script>')
    (site / "index.html").write_text('<a href="notebooks/a.html#sec">a</a><img src="_static/fig.png">'
                                     '<a href="https://example.org/x">out</a><a href="#top" id="top">top</a>')
    (site / "notebooks" / "a.html").write_text('<h2 id="sec">s</h2><a href="../index.html">home</a>')
    ok = run(site)
    assert ok.returncode == 0, ok.stdout
    assert "2 pages, 4 internal references checked, 0 broken; 1 external URLs not fetched (example.org)" in ok.stdout
    (site / "notebooks" / "a.html").write_text('<a href="../missing.html">x</a><img src="../_static/none.png">'
                                               '<a href="../index.html#nope">y</a><a href="../../outside.html">z</a>')
    bad = run(site)
    assert bad.returncode == 1
    for needed in ("missing.html': no such file", "none.png': no such file", "no element with id 'nope'",
                   "points outside the site"):
        assert needed in bad.stdout, (needed, bad.stdout)
    (site / "index.html").unlink()
    assert "has no index.html" in run(site).stdout
