#!/bin/bash
# bench/gpu_run.sh - every check that needs a real GPU, as one script for a short lease of the
# device machine (an NVIDIA card reached through Vulkan; ../shared/GPU-NOTES.md). Run from the
# repository root there; results go to $OUT (default ./gpu-out).
#
# Prepared here (Debian 12), carried there:
#   .gl/      libvulkan1 + libglvnd .debs, unpacked to / (GPU-NOTES.md)
#   .gpudeb/  leap's run-time libraries (OpenBLAS-OpenMP, LAPACKE, libpng, libgfortran,
#             vulkan-validationlayers): unpacked to /tmp/root, never to /
#   .gpubin/  leap, leap_tests (Release builds from this machine)
#   .gpudata/ fmnist/t10k-*.gz (FD reference), traj_006000.safetensors, lcsc/*.safetensors
# Stages (each under its own timeout, so one slow stage cannot eat the lease):
#   1. the Catch2 suite on the GPU under the validation layer (beside stage 6, quality only)
#   2. sampling throughput (leap bench sample) beside PyTorch eager fp32/bf16 on the same card
#   3. per-op Vulkan timings of one batch-256 job (LEAP_VK_PROFILE=1)
#   (LCSC combination speed: bench/lcsc_bench.sh ... speed, see bench/lcsc_results.md)
#   5. ERTACache bench on the default model and traj_006000 (Vulkan, large n)
#   6. LCSC honest evaluation of pre-combined models (FD vs NFE, large n)
set -u
here=$(pwd)
OUT=${OUT:-$here/gpu-out}
mkdir -p "$OUT"
LOG=$OUT/log.txt
exec > >(tee -a "$LOG") 2>&1

. bench/gpu_env.sh
BIN=.gpubin
LEAP=$BIN/leap
TRAJ=.gpudata/traj_006000.safetensors
DEF=models/default/leap-fmnist.safetensors
T0=$(date +%s)
DEADLINE=${DEADLINE:-330} # seconds for the whole script; each stage gets what is left
stage() { echo; echo "=== $* (t+$(( $(date +%s) - T0 )) s) ==="; }
# t MAX: a timeout of MAX seconds or what is left before the deadline, whichever is less
t() { local left=$(( DEADLINE - ($(date +%s) - T0) )); [ "$left" -gt 2 ] || left=1; echo $(( $1 < left ? $1 : left )); }

stage "machine"
date -u; nvidia-smi -L 2>/dev/null; nproc
timeout $(t 30) $LEAP devices || echo "leap devices failed: $?"

stage "1a. the GPU-facing tests ([vulkan],[dit],[cache],[sample],[lcsc]), validation layer on"
LEAP_VALIDATION=1 timeout $(t 90) $BIN/leap_tests "[vulkan],[dit],[cache],[sample],[lcsc]" > "$OUT/tests_gpu.txt" 2>&1
echo "rc=$?"; tail -n 4 "$OUT/tests_gpu.txt"; echo "validation messages: $(grep -c 'VUID\|Validation Error' "$OUT/tests_gpu.txt")"


stage "2. sampling throughput: leap (Vulkan) and PyTorch (CUDA), traj_006000, 50 Euler steps, cfg 3"
timeout $(t 90) $LEAP bench sample --model $TRAJ --backend vulkan --batch 1,16,256 --repeat 5 --json | tee /tmp/bs_traj.jsonl
timeout $(t 60) $LEAP bench sample --model $DEF --backend vulkan --batch 1,16,256 --repeat 5 --json | tee /tmp/bs_def.jsonl
# Seconds per image of a 50-step guided run at batch 256 (the last line), for sizing stages 5-6.
per_image() { python3 -c "import json,sys; r=[json.loads(l) for l in open('$1') if l.startswith('{')]; print(r[-1]['best_s']/r[-1]['batch'] if r else 0.05)" 2>/dev/null || echo 0.05; }
# n such that about 14 full-compute runs (bench erta's rows) fit in BUDGET seconds, in [LO, HI]
size_n() { python3 -c "print(int(max($3, min($4, $2 / (14 * $1 * 1.2)) // 100 * 100)))"; }
PI_TRAJ=$(per_image /tmp/bs_traj.jsonl); PI_DEF=$(per_image /tmp/bs_def.jsonl)
N_ERTA_DEF=${N_ERTA_DEF:-$(size_n $PI_DEF ${T_ERTA_DEF:-70} 200 2000)}
N_ERTA_TRAJ=${N_ERTA_TRAJ:-$(size_n $PI_TRAJ ${T_ERTA_TRAJ:-100} 200 2000)}
# LCSC: 4 models x (4+6+8+10+12+15 = 55 steps) ~ 4.4 full 50-step runs
N_LCSC=${N_LCSC:-$(python3 -c "print(int(max(200, min(2000, ${T_LCSC:-100} / (4.4 * $PI_TRAJ * 1.3)) // 100 * 100)))")}
echo "seconds per image at batch 256: traj $PI_TRAJ, default $PI_DEF -> n: erta default $N_ERTA_DEF, erta traj $N_ERTA_TRAJ, lcsc $N_LCSC"
timeout $(t 90) python3 bench/torch_gpu_bench.py --model $TRAJ --batch 1,16,256 --repeat 5
timeout $(t 60) python3 bench/torch_gpu_bench.py --model $TRAJ --batch 1,16,256 --repeat 5 --dtype bf16

stage "3. per-op timings, batch 256"
LEAP_VK_PROFILE=1 timeout $(t 60) $LEAP sample --model $TRAJ --backend vulkan --n 256 --steps 5 --out /tmp/p.png --quiet 2>&1 | tail -n 40

stage "5. ERTACache (Vulkan): default model, n=$N_ERTA_DEF"
timeout $(t $(( ${T_ERTA_DEF:-70} + 40 ))) bench/erta.sh $LEAP $DEF $N_ERTA_DEF vulkan | tee "$OUT/erta_default.md"
stage "5b. ERTACache (Vulkan): traj_006000, n=$N_ERTA_TRAJ"
timeout $(t $(( ${T_ERTA_TRAJ:-100} + 50 ))) bench/erta.sh $LEAP $TRAJ $N_ERTA_TRAJ vulkan | tee "$OUT/erta_traj.md"

stage "1b. the whole test suite on the GPU, validation layer on (in the background, beside stage 6)"
( LEAP_VALIDATION=1 OMP_NUM_THREADS=4 timeout $(t ${T_TESTS:-200}) $BIN/leap_tests --order lex \
    > "$OUT/tests.txt" 2>&1; echo "leap_tests rc=$?" >> "$OUT/tests.txt" ) &
TESTS=$!
stage "6. LCSC honest evaluation (seed 1000000, n=$N_LCSC)"
for m in .gpudata/lcsc/eval_*.safetensors; do
  [ -f "$m" ] || continue
  timeout $(t 90) $LEAP eval --model "$m" --n $N_LCSC --steps ${NFE_LCSC:-4,6,8,10,12,15} --cfg 3 \
    --seed 1000000 --backend vulkan --batch $N_LCSC --json --quiet | grep '^{' |
    sed "s|^{|{\"file\": \"$(basename "$m")\", |" >> "$OUT/lcsc_eval.jsonl"
done
cat "$OUT/lcsc_eval.jsonl" 2>/dev/null
wait $TESTS
tail -n 6 "$OUT/tests.txt"; echo "validation messages: $(grep -c 'VUID\|Validation Error' "$OUT/tests.txt")"
stage "done"
