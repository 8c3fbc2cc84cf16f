#!/bin/bash
# Training throughput of `leap train` against PyTorch (bench/torch_train.py) on the CPU: the same
# DiT shape, batch and objective (flow_v) on Fashion-MNIST, run one after the other in one go.
#
# usage: bench/train_bench.sh
# env:   LEAP (default build/leap)  HIDDEN DEPTH HEADS PATCH BATCH STEPS THREADS
#        (defaults 128 6 4 4 128 10 2)  PYTHON (default /usr/bin/python3)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
LEAP="${LEAP:-$root/build/leap}" PYTHON="${PYTHON:-/usr/bin/python3}"
HIDDEN="${HIDDEN:-128}" DEPTH="${DEPTH:-6}" HEADS="${HEADS:-4}" PATCH="${PATCH:-4}"
BATCH="${BATCH:-128}" STEPS="${STEPS:-10}" THREADS="${THREADS:-2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"
shape=(--hidden "$HIDDEN" --depth "$DEPTH" --heads "$HEADS" --patch "$PATCH" --batch "$BATCH")

echo "job: DiT hidden $HIDDEN depth $DEPTH heads $HEADS patch $PATCH, batch $BATCH, flow_v, $STEPS steps, $THREADS threads" >&2
torch=$("$PYTHON" "$here/torch_train.py" "${shape[@]}" --steps "$STEPS" --threads "$THREADS" | tail -1)
torch_sps=$(echo "$torch" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["samples_per_s"])')
# leap reports its own samples/s over its steps (data loading excluded, the first step and the
# final checkpoint write included); the extra step matches the work of PyTorch's warm-up.
"$LEAP" train "${shape[@]}" --objective flow_v --steps $((STEPS + 1)) --save-every 100000 \
    --threads "$THREADS" --out "$work/dit" >"$work/leap.log"
leap_sps=$(sed -n 's/.* s: \([0-9.]*\) samples\/s.*/\1/p' "$work/leap.log" | tail -1)
echo
echo "| trainer | samples/s | vs PyTorch |"
echo "| --- | --- | --- |"
awk -v t="$torch_sps" -v l="$leap_sps" -v v="$("$PYTHON" -c 'import torch; print(torch.__version__)')" 'BEGIN {
  printf "| PyTorch %s (CPU, eager, AdamW) | %.1f | 1.00x |\n", v, t
  printf "| leap train | %.1f | %.2fx |\n", l, l / t }'
