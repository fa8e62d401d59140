#!/usr/bin/env bash
# Build the rendered site of the notebooks (Jupyter Book 1) into site/_build/html, then check its links.
#   bash scripts/build_site.sh            # at the quick preset: notebooks 05, 06 and 08 open on the shipped models
#   CORAL_LAB_PRESET=ci bash scripts/build_site.sh   # seconds of training per notebook (what a smoke test uses)
# Needs the site extra: bash scripts/install.sh notebooks,site
set -euo pipefail
cd "$(dirname "$0")/.."
export CORAL_LAB_PRESET="${CORAL_LAB_PRESET:-quick}"
rm -rf site/_build
jupyter-book build . --config site/_config.yml --toc site/_toc.yml --path-output site --warningiserror --keep-going
python3 scripts/check_site.py site/_build/html
