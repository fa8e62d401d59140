#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs): install, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
python3 -m pytest -q "$@"
