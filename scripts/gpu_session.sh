#!/usr/bin/env bash
# The prepared GPU check of issue 4: one device call measures the training speed and runs as much of
# the paper-preset Table 1 protocol as fits, and leaves everything worth keeping in $OUT.
#
#   bash scripts/gpu_session.sh [TOTAL_SECONDS] [JOBS]      (defaults: 540 s, 4 units at once)
#
# 0. the tests marked gpu (CUDA generators, bf16, channels_last, fused AdamW)
# 1. throughput (benchmarks/throughput.py, paper preset): the fast path eagerly and with torch.compile
#    (default, reduce-overhead) at batch 64, eagerly at batch 256, and the published-style reference
#    path (PIL in 4 DataLoader workers, fp32) at batch 64 -> $OUT/throughput.json
# 2. the Table 1 protocol (coral-lab reproduce --preset paper, seeds 41-45, JOBS units at once) until
#    TOTAL_SECONDS are nearly spent, every unit probed under both probe protocols (held out and the
#    published replica, `--protocol held_out published`) -> $OUT/table1-paper.tar.gz with every unit's
#    config, history, probe.csv and probe_published.csv (checkpoints stay behind: they are too large for
#    the transfer, so a unit that has not finished is lost, but its history still records its speed)
# 3. $OUT/gpu_session.log: everything printed, and nvidia-smi before and after.
#
# The device's python3 has torch, scikit-learn, pandas, tqdm, seaborn and pillow; coral_lab's training,
# probes and benchmarks need nothing else, so the package is used from the working tree (PYTHONPATH).
set -uo pipefail
TOTAL=${1:-540}
JOBS=${2:-4}
PRESET=${GPU_SESSION_PRESET:-paper}   # a dry run here: GPU_SESSION_PRESET=ci GPU_SESSION_DEVICE=cpu
DEVICE=${GPU_SESSION_DEVICE:-cuda}
COMPILE=${GPU_SESSION_COMPILE:-none default reduce-overhead}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
START=$(date +%s)
left() { echo $((TOTAL - ($(date +%s) - START))); }
exec > >(tee -a "$OUT/gpu_session.log") 2>&1

echo "== $(date -u +%FT%TZ) commit $(git rev-parse HEAD 2>/dev/null || echo unknown), budget ${TOTAL} s, jobs ${JOBS}"
smi() { command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu="$1" --format=csv; }
smi name,memory.total,memory.used,driver_version
python3 -c "import torch, sklearn; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'sklearn', sklearn.__version__)"

echo "== the CUDA tests ($(left) s left)"
timeout 150 python3 -m pytest -q -m gpu -p no:cacheprovider tests/test_train.py tests/test_models.py \
    tests/test_losses.py tests/test_masking.py tests/test_augment.py 2>&1 | tail -15

echo "== throughput ($(left) s left)"
timeout 240 python3 benchmarks/throughput.py --preset "$PRESET" --device "$DEVICE" --batch-sizes 64 \
    --compile $COMPILE --steps 60 --reference-steps 20 --warmup 5 \
    --json "$OUT/throughput.json"
timeout 60 python3 benchmarks/throughput.py --preset "$PRESET" --device "$DEVICE" --batch-sizes 256 --paths fast \
    --steps 30 --warmup 3 --json "$OUT/throughput-b256.json"

echo "== render the $PRESET-preset cache once ($(left) s left)"
python3 -m coral_lab.cli data --preset "$PRESET"

RUN=runs/reproduce-$PRESET
budget=$(( $(left) - 45 ))
echo "== reproduce --preset $PRESET for at most ${budget} s"
if [ "$budget" -gt 60 ]; then
    timeout "$budget" python3 -m coral_lab.cli reproduce --preset "$PRESET" --device "$DEVICE" --jobs "$JOBS" \
        --protocol held_out published --no-progress --out "$RUN"
    echo "reproduce exit status $? (124: stopped at the budget; finished units are kept)"
fi
smi name,memory.used,utilization.gpu
tar czf "$OUT/table1-$PRESET.tar.gz" --exclude='checkpoint.pt' --exclude='*.tmp' "$RUN" 2>/dev/null
ls -la "$OUT"
echo "== done in $(( $(date +%s) - START )) s"
