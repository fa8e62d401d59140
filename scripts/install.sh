#!/usr/bin/env bash
# Install coral_lab and its dependencies into the current Python environment.
#   bash scripts/install.sh            # the package (torch, numpy, scikit-learn, pandas, tqdm)
#   bash scripts/install.sh dev        # + the test tools
#   bash scripts/install.sh dev,notebooks
#   bash scripts/install.sh dev,notebooks,browser   # + playwright and Debian's chromium (browser tests)
# torch: an installed torch is kept (GPU users keep their CUDA build). Otherwise, with an NVIDIA
# GPU (nvidia-smi works) pip's default torch build is installed; without one, the CPU build
# torch==2.13.0 is installed explicitly, because an unpinned `torch` can pull a multi-GB CUDA build.
# On a CPU-only machine whose package index serves CUDA builds by default, point pip at PyTorch's
# CPU wheel index first (PIP_EXTRA_INDEX_URL), as PyTorch's install selector shows.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
pip_install() { "$PY" -m pip install --quiet --disable-pip-version-check "$@"; }

if "$PY" -c "import torch" 2>/dev/null; then
  echo "[install] keeping torch $("$PY" -c 'import torch; print(torch.__version__)')"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  echo "[install] NVIDIA GPU found: installing torch with CUDA"
  pip_install "torch>=2.3"
else
  echo "[install] no GPU: installing the CPU build torch==2.13.0"
  pip_install "torch==2.13.0"
fi

target="."
[ -n "$extras" ] && target=".[${extras}]"
pip_install -c constraints.txt -e "$target"
"$PY" -c "import coral_lab, torch; print(f'[install] coral_lab {coral_lab.__version__}, torch {torch.__version__}')"

# The browser tests drive the system's Chromium with Playwright; Playwright's own browser download
# (`playwright install`) is never used. Debian's package is installed where we can (root + apt-get).
if [[ ",$extras," == *",browser,"* ]]; then
  if [ -x /usr/bin/chromium ] || [ -n "${CORAL_LAB_CHROMIUM:-}" ]; then
    echo "[install] chromium: ${CORAL_LAB_CHROMIUM:-/usr/bin/chromium}"
  elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    echo "[install] installing Debian's chromium (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt_chromium() { apt-get install -y -q chromium >/dev/null; }
    apt_chromium || { apt-get update -q >/dev/null && apt_chromium; } \
      || echo "[install] WARNING: apt-get could not install chromium; the browser tests will skip"
  else
    echo "[install] WARNING: no /usr/bin/chromium and no root apt-get to install it; the browser tests will skip" \
         "(install Debian's chromium, or set CORAL_LAB_CHROMIUM to a Chromium binary)"
  fi
fi
