#!/bin/sh
# bench/erta.sh - ERTACache against full compute and the baselines (issue 4):
# profile the model on calibration seed 1000 (20 images, 50 Euler steps,
# cfg 3; settings at 33, 25 and 17 computed steps = about 1.5x, 2x, 3x fewer
# evaluations), then `leap bench erta` on evaluation seed 1 (disjoint).
# The profile tries rectification at shrinkages 0.25, 0.5, 1 besides off
# (one calibration pass each per setting) and keeps it per setting only when
# 5-fold cross-validation of the final calibration images finds a gain
# beyond one standard error; the "+ rect." rows say which (shrink s, or
# "CV: off": then that row runs without rectification). The profile's
# summary (printed first) gives each candidate's cross-validated PSNR.
#   bench/erta.sh [LEAP] [MODEL] [N] [BACKEND]
# Prints the markdown table for bench/RESULTS.md.
set -eu
LEAP=${1:-build/leap}
MODEL=${2:-../shared/fixtures/fmnist-dit-traj/traj_006000.safetensors}
N=${3:-100}
BACKEND=${4:-cpu}
PROFILE=${PROFILE:-$(mktemp /tmp/erta_profile.XXXXXX.json)}
# One thread per process: on a shared 2-core machine OpenMP's spinning
# threads make wall times swing several-fold.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
"$LEAP" profile --model "$MODEL" --backend "$BACKEND" --images 20 --seed 1000 --steps 50 --cfg 3 \
  --computed 33,25,17 --out "$PROFILE"
"$LEAP" bench erta --model "$MODEL" --profile "$PROFILE" --n "$N" --seed 1 --backend "$BACKEND"
