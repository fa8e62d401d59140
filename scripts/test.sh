#!/usr/bin/env bash
# The project's test command (the README's, and what CI runs): install, then run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev,notebooks,browser
# a browser is installed now: the browser tests must run (fail, not skip) unless none could be installed
if [ -z "${CORAL_LAB_REQUIRE_BROWSER:-}" ] && { [ -x /usr/bin/chromium ] || [ -n "${CORAL_LAB_CHROMIUM:-}" ]; }; then
  export CORAL_LAB_REQUIRE_BROWSER=1
fi
CORAL_LAB_PRESET="${CORAL_LAB_PRESET:-ci}" python3 -m pytest -q --nbval-lax "$@"
