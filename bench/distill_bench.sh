#!/bin/bash
# Distillation speed of `leap distill` against PyTorch (bench/torch_distill.py) on the CPU: the
# same teacher, method, batch, fake-score updates, guidance and thread count, one after the
# other; ITERS iterations after WARMUP untimed ones, and a markdown table.
#
# Two measures: iterations/s by the wall clock, and CPU seconds per iteration (all threads of
# the process), which other jobs on a shared machine do not move. leap's wall clock comes from
# its log ("seconds" of iterations WARMUP and WARMUP + ITERS); its CPU time is that of a run of
# WARMUP + ITERS iterations less that of a run of WARMUP (loading and the final save cancel).
#
# usage: bench/distill_bench.sh
# env:   LEAP (default build/leap)  TEACHER (default models/default/leap-fmnist.safetensors)
#        METHOD BATCH FAKE_UPDATES WARMUP ITERS THREADS (defaults dmd 32 5 3 20 2)
#        PYTHON (default /usr/bin/python3, with Debian's python3-torch: .ci/install-deps --bench)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
LEAP="${LEAP:-$root/build/leap}" PYTHON="${PYTHON:-/usr/bin/python3}"
TEACHER="${TEACHER:-$root/models/default/leap-fmnist.safetensors}"
METHOD="${METHOD:-dmd}" BATCH="${BATCH:-32}" FAKE_UPDATES="${FAKE_UPDATES:-5}"
WARMUP="${WARMUP:-3}" ITERS="${ITERS:-20}" THREADS="${THREADS:-2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS="$THREADS" OPENBLAS_NUM_THREADS="$THREADS"
# DisBack's path is recorded before the loop (untimed on both sides): a short one here.
job=(--method "$METHOD" --batch "$BATCH" --fake-updates "$FAKE_UPDATES" --path-checkpoints 2 --path-iters 4)

echo "job: $METHOD, batch $BATCH, $FAKE_UPDATES fake updates, $WARMUP warm-up + $ITERS timed iterations, $THREADS threads" >&2
torch=$("$PYTHON" "$here/torch_distill.py" --teacher "$TEACHER" "${job[@]}" --warmup "$WARMUP" \
    --iters "$ITERS" --threads "$THREADS" | tail -1)
echo "pytorch: $torch" >&2
leap_run() { # iterations, folder -> CPU seconds (user + system) on stdout
  /usr/bin/time -f "%U %S" -o "$work/time" "$LEAP" distill --teacher "$TEACHER" "${job[@]}" --iters "$1" \
      --threads "$THREADS" --quiet --out "$2"
  awk '{ print $1 + $2 }' "$work/time"
}
cpu_short=$(leap_run "$WARMUP" "$work/short")
cpu_long=$(leap_run $((WARMUP + ITERS)) "$work/run")
"$PYTHON" - "$work/run/log.jsonl" "$WARMUP" "$ITERS" "$cpu_short" "$cpu_long" "$torch" "$METHOD" "$BATCH" \
    "$FAKE_UPDATES" "$THREADS" <<'PY'
import json, sys
log, w, n, cpu_short, cpu_long, torch, method, batch, fake, threads = sys.argv[1:]
w, n = int(w), int(n)
sec = {}
for line in open(log):
    j = json.loads(line)
    if "iter" in j and "seconds" in j:
        sec[j["iter"]] = j["seconds"]
leap_ips = n / (sec[w + n] - sec[w])
leap_cpu = (float(cpu_long) - float(cpu_short)) / n
t = json.loads(torch)
print(f"\n| {method}, batch {batch}, {fake} fake updates, {threads} threads | iterations/s (wall) | "
      "CPU s / iteration | vs PyTorch (wall) | vs PyTorch (CPU) |")
print("| --- | --- | --- | --- | --- |")
print(f"| {t['impl'].replace('pytorch', 'PyTorch')} (CPU, eager, AdamW) | {t['iters_per_s']:.4f} | "
      f"{t['cpu_seconds_per_iter']:.3f} | 1.00x | 1.00x |")
print(f"| leap distill | {leap_ips:.4f} | {leap_cpu:.3f} | {leap_ips / t['iters_per_s']:.2f}x | "
      f"{t['cpu_seconds_per_iter'] / leap_cpu:.2f}x |")
PY
