#!/usr/bin/env bash
# Build the rendered site of the notebooks (Jupyter Book 1) into site/_build/html, then check its links.
#   bash scripts/build_site.sh            # at the quick preset: notebooks 05, 06 and 08 open on the shipped models
#   CORAL_LAB_PRESET=ci bash scripts/build_site.sh   # seconds of training per notebook (what CI builds)
# Needs the site extra: bash scripts/install.sh notebooks,site
# Steps: run every notebook of site/_toc.yml in a fresh kernel (scripts/execute_notebooks.py; why not
# Jupyter Book's own executor: see its docstring) into a staging copy, build the book from that copy
# without executing again, then check every internal link, image and #fragment offline.
set -euo pipefail
cd "$(dirname "$0")/.."
export CORAL_LAB_PRESET="${CORAL_LAB_PRESET:-quick}"
# plotly figures carry an HTML copy with plotly.js inline (their JSON alone is not drawn by Jupyter Book,
# and the site must work offline); JupyterLab still uses the JSON
export PLOTLY_RENDERER="${PLOTLY_RENDERER:-plotly_mimetype+notebook}"
stage=site/_build/stage
rm -rf site/_build
mkdir -p "$stage/site"
cp site/_config.yml site/_toc.yml site/index.md "$stage/site/"
# the reference pages (docs/*.md of the table of contents; the instructor's guide is not one)
mkdir -p "$stage/docs"
grep -o "docs/[a-z-]*" site/_toc.yml | while read -r page; do cp "$page.md" "$stage/$page.md"; done
python3 scripts/execute_notebooks.py --toc site/_toc.yml --out "$stage"
# --toc is read relative to the book folder, --config relative to here
jupyter-book build "$stage" --config "$stage/site/_config.yml" --toc site/_toc.yml --path-output site \
  --warningiserror --keep-going
python3 scripts/check_site.py site/_build/html
echo "[site] site/_build/html/index.html ($CORAL_LAB_PRESET preset)"
