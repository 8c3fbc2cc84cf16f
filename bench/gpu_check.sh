#!/bin/bash
# bench/gpu_check.sh - a short device-machine check (about 2 minutes): the
# whole test suite on the GPU under the validation layer, and per-op Vulkan
# timings of 50-step guided sampling with and without an ERTACache profile
# (where a cached run's time goes). Carry .gl, .gpudeb, .gpudata and
# build-gpu (a Release build made here); see gpu_run.sh.
set -u
OUT=${OUT:-$(pwd)/gpu-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
. bench/gpu_env.sh
B=build-gpu
DEF=models/default/leap-fmnist.safetensors
N=${N:-2000}
echo "=== per-op timings, default model, $N images, 50 Euler steps, cfg 3"
rm -f /tmp/p.json
timeout 30 $B/leap profile --model $DEF --backend vulkan --images 20 --seed 1000 --steps 50 --cfg 3 \
  --computed 25 --out /tmp/p.json --quiet
for c in "" "--cache /tmp/p.json"; do
  echo "--- leap sample $c"
  LEAP_VK_PROFILE=1 timeout 30 $B/leap sample --model $DEF --backend vulkan --n $N --steps 50 $c \
    --out /tmp/s.png --quiet 2>&1 | head -n 32
done
echo "=== the test suite on the GPU, validation layer on"
LEAP_VALIDATION=1 OMP_NUM_THREADS=8 timeout ${T_TESTS:-120} $B/tests/leap_tests > "$OUT/tests.txt" 2>&1
echo "leap_tests rc=$?"
tail -n 4 "$OUT/tests.txt"
echo "static TLS failures: $(grep -c 'static TLS' "$OUT/tests.txt"); validation messages: $(grep -c 'VUID\|Validation Error' "$OUT/tests.txt")"
grep -A3 "^---" "$OUT/tests.txt" | grep -v "^---\|^\.\.\.\|^/work\|^--$" | sort -u | head -30
