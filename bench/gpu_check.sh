#!/bin/bash
# bench/gpu_check.sh - a short device-machine check (about 5 minutes):
# per-op Vulkan timings of 50-step guided sampling with and without an
# ERTACache profile (where a step's time goes, host rows included), sampling
# throughput at batch 1, 16, 256 (against the H200 numbers of 2026-11-27 in
# bench/RESULTS.md, taken before a step became one program), ERTACache's
# table on the default model (wall-clock speedups and the cache's own
# cost), and the whole test suite under the validation layer. Carry .gl,
# .gpudeb, .gpudata and build-gpu (a Release build made here); see
# gpu_run.sh.
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
echo "=== sampling throughput (leap bench sample), 50 Euler steps, cfg 3"
for M in .gpudata/traj_006000.safetensors $DEF; do
  timeout 60 $B/leap bench sample --model $M --backend vulkan --batch 1,16,256 --steps 50 --repeat 5 --json
done
echo "=== ERTACache, default model, n=$N (bench/erta.sh)"
timeout ${T_ERTA:-150} bench/erta.sh $B/leap $DEF $N vulkan
echo "=== the test suite on the GPU, validation layer on"
LEAP_VALIDATION=1 OMP_NUM_THREADS=8 timeout ${T_TESTS:-120} $B/tests/leap_tests > "$OUT/tests.txt" 2>&1
echo "leap_tests rc=$?"
tail -n 4 "$OUT/tests.txt"
echo "static TLS failures: $(grep -c 'static TLS' "$OUT/tests.txt"); validation messages: $(grep -c 'VUID\|Validation Error' "$OUT/tests.txt")"
grep -A3 "^---" "$OUT/tests.txt" | grep -v "^---\|^\.\.\.\|^/work\|^--$" | sort -u | head -30
