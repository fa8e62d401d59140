#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs): install, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev,notebooks
CORAL_LAB_PRESET="${CORAL_LAB_PRESET:-ci}" python3 -m pytest -q --nbval-lax "$@"
