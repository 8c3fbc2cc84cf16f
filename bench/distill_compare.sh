#!/usr/bin/env bash
# DMD against DisBack (a long and a short degradation path) on the default
# model, the same budget and evaluation for every run, seeds 0..SEEDS-1,
# two runs at a time with one thread each; then the FD-vs-iteration table
# and plot (bench/distill_plot.py). What bench/RESULTS.md's "One-step
# distillation" section ran:
#   bench/distill_compare.sh OUT_DIR          (env: LEAP, SEEDS=3, ITERS=300)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: bench/distill_compare.sh OUT_DIR}"
leap="${LEAP:-$here/../build/leap}"
seeds="${SEEDS:-3}"
iters="${ITERS:-300}"
mkdir -p "$out"
cd "$out"
common=(--batch 16 --iters "$iters" --lr 1e-4 --lr-fake 1e-4 --fake-updates 5 --cfg 3
        --eval-every 50 --eval-n 1000 --eval-seed 1000000 --threads 1 --quiet)
declare -A how=(
  [dmd]="--method dmd"
  [disback]="--method disback --path-checkpoints 4 --path-iters 200 --switch interval --interval 40"
  [disbackshort]="--method disback --path-checkpoints 4 --path-iters 50 --switch interval --interval 15"
)
runs=()
for s in $(seq 0 $((seeds - 1))); do
  for m in dmd disback disbackshort; do runs+=("$m:$s"); done
done
for r in "${runs[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  m="${r%%:*}" s="${r##*:}"
  # shellcheck disable=SC2086
  "$leap" distill ${how[$m]} --seed "$s" "${common[@]}" --out "${m}_s$s" >"${m}_s$s.log" 2>&1 &
done
wait
dirs=()
for r in "${runs[@]}"; do dirs+=("${r%%:*}_s${r##*:}"); done
python3 "$here/distill_plot.py" distill_fd_iters.png "${dirs[@]}"
