#!/bin/bash
# One sampling job, three implementations, the same noise: PyTorch (bench/torch_dit.py),
# `leap sample --backend cpu` and `leap sample --backend vulkan`. Prints a markdown table of
# wall times and how far leap's samples are from PyTorch's.
#
# usage: bench/sample_bench.sh            (from the repository root or anywhere)
# env:   LEAP    leap CLI (default build/leap)       MODEL  checkpoint (default the step-6000 FMNIST DiT)
#        N STEPS CFG SEED THREADS LABELS             (defaults: 30 30 3 0 2 0-9)
#        PYTHON  (default /usr/bin/python3: Debian's torch 1.13, not the pyenv python on PATH)
#        WORK    folder for noise/samples (default a fresh temp dir)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
LEAP="${LEAP:-$root/build/leap}"
MODEL="${MODEL:-$root/../shared/fixtures/fmnist-dit-traj/traj_006000.safetensors}"
PYTHON="${PYTHON:-/usr/bin/python3}"
N="${N:-30}" STEPS="${STEPS:-30}" CFG="${CFG:-3}" SEED="${SEED:-0}" THREADS="${THREADS:-2}" LABELS="${LABELS:-0-9}"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"

[ -f "$MODEL" ] || { echo "model not found: $MODEL" >&2; exit 1; }
[ -x "$LEAP" ] || { echo "leap CLI not found: $LEAP (set LEAP=...)" >&2; exit 1; }

# Timed commands run with the thread count pinned, so every implementation gets the same cores.
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"

wall() {  # wall <result-var> <command...>: seconds the command took, fail loudly if it fails
    local var="$1"; shift
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$WORK/$var.log" 2>&1 || { echo "FAILED: $*" >&2; cat "$WORK/$var.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    printf -v "$var" '%s' "$(echo "$t1 - $t0" | bc -l)"
}

noise="$WORK/noise.safetensors"
"$PYTHON" "$here/torch_dit.py" --model "$MODEL" --make-noise "$N" --seed "$SEED" --out "$noise"

echo "job: $N images x $STEPS Euler steps, cfg $CFG, labels $LABELS cycled, $THREADS threads, model $(basename "$MODEL")" >&2
echo "running PyTorch..." >&2
wall t_torch "$PYTHON" "$here/torch_dit.py" --model "$MODEL" --labels "$LABELS" --n "$N" --steps "$STEPS" \
    --cfg "$CFG" --seed "$SEED" --noise "$noise" --raw-out "$WORK/torch.safetensors" --threads "$THREADS" --time
torch_loop=$("$PYTHON" -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["seconds"])' \
    <"$WORK/t_torch.log")

leap_run() {  # leap_run <backend>
    "$LEAP" sample --model "$MODEL" --labels "$LABELS" --n "$N" --steps "$STEPS" --sampler euler --cfg "$CFG" \
        --seed "$SEED" --noise "$noise" --threads "$THREADS" --backend "$1" --raw-out "$WORK/leap_$1.safetensors" \
        --out "$WORK/leap_$1.png" --quiet
}
echo "running leap cpu..." >&2
wall t_cpu leap_run cpu
echo "running leap vulkan..." >&2
wall t_vulkan leap_run vulkan

row() {  # row <impl> <seconds>
    awk -v impl="$1" -v s="$2" -v n="$N" -v ref="$t_torch" \
        'BEGIN { printf "| %s | %.2f | %.3f | %.2fx |\n", impl, s, n / s, ref / s }'
}
echo
echo "| impl | seconds (wall) | images/s | speed vs PyTorch |"
echo "| --- | --- | --- | --- |"
row "PyTorch $("$PYTHON" -c 'import torch; print(torch.__version__)') (CPU, eager)" "$t_torch"
row "leap --backend cpu" "$t_cpu"
row "leap --backend vulkan" "$t_vulkan"
echo
echo "Wall time includes process start and model load; PyTorch's sampling loop alone took ${torch_loop} s."
echo
echo "| leap vs PyTorch samples | max abs | rel L2 |"
echo "| --- | --- | --- |"
for backend in cpu vulkan; do
    "$PYTHON" "$here/compare_raw.py" --row "$backend" "$WORK/leap_$backend.safetensors" "$WORK/torch.safetensors"
done
echo
echo "files in $WORK" >&2
