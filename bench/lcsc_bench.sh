#!/bin/sh
# lcsc_bench.sh - the LCSC measurements of bench/lcsc_results.md on the
# shared Fashion-MNIST trajectory (12 F16 checkpoints, read in place from
# ../shared; never copied into the repository):
#   1. combination speed against a plain copy of the same bytes (host, Vulkan:
#      end to end, and the kernel alone against device copies, GPU-timed)
#   2. the coefficient search (FD at 6 NFE on search seed 1)
#   3. the honest evaluation on disjoint seeds (1000000) at several NFE
#   4. the plot
# usage: bench/lcsc_bench.sh BUILD_DIR [OUT_DIR] [speed]   (OUT_DIR default bench/;
#        "speed": step 1 only, a few seconds; on a GPU machine this is the check)
# Sized for a busy 2-core CPU (about an hour); scale --n / --budget up on
# a bigger machine. OMP_NUM_THREADS=1: on an oversubscribed machine one
# thread per process beats OpenMP's barriers by ~5x.
set -eu
BUILD=${1:?usage: lcsc_bench.sh BUILD_DIR [OUT_DIR]}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$HERE}
TRAJ=${LEAP_LCSC_TRAJ:-$HERE/../../shared/fixtures/fmnist-dit-traj}
LEAP="$BUILD/leap"
CK=$(ls "$TRAJ"/traj_*.safetensors)
N=$(echo "$CK" | wc -l)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LAST=$(i=1; while [ $i -lt "$N" ]; do printf '0,'; i=$((i+1)); done; printf 1)

# 1. combination speed (best of 5 alternating runs each; device-only best of 10)
for backend in cpu vulkan; do
  "$LEAP" lcsc combine --ckpt $CK --coef "$LAST" --dtype f16 --out "$TMP/c.safetensors" \
    --backend $backend --measure --json | tee -a "$OUT/lcsc_combine_speed.txt"
done
[ "${3:-}" = speed ] && exit 0

# 2. search (resumes from the log if it exists)
"$LEAP" lcsc search --ckpt $CK --budget 40 --population 8 --elite 2 --sigma 0.1 \
  --n 100 --steps 6 --seed 1 --threads 1 --log "$OUT/lcsc_fmnist_search.jsonl" \
  --work "$TMP/work.safetensors" | tee "$OUT/lcsc_fmnist_search.txt"

# 3. evaluation on disjoint seeds: the search used seed 1 (images 0..99)
"$LEAP" lcsc eval --ckpt $CK --from-log "$OUT/lcsc_fmnist_search.jsonl" \
  --nfe 4,6,8,10,12,15 --n 128 --seed 1000000 --threads 1 --json \
  --work "$TMP/eval" > "$OUT/lcsc_fmnist_eval.jsonl"

# 4. plot
python3 "$HERE/lcsc_plot.py" "$OUT/lcsc_fmnist_fd_nfe.png" "$OUT/lcsc_fmnist_eval.jsonl"
