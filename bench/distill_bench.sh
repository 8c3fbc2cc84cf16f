#!/bin/bash
# Distillation speed of `leap distill` against PyTorch (bench/torch_distill.py) on the CPU: the
# same teacher, method, batch, fake-score updates, guidance and thread count, one after the
# other; iterations/s over ITERS iterations after WARMUP untimed ones, and a markdown row.
#
# usage: bench/distill_bench.sh
# env:   LEAP (default build/leap)  TEACHER (default models/default/leap-fmnist.safetensors)
#        METHOD BATCH FAKE_UPDATES WARMUP ITERS THREADS (defaults dmd 32 5 3 20 2)
#        PYTHON (default /usr/bin/python3, with Debian's python3-torch)
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
torch_ips=$(echo "$torch" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["iters_per_s"])')
# leap: the log's per-iteration wall clock ("seconds", since the command began), from the end
# of warm-up iteration WARMUP to the end of iteration WARMUP + ITERS; the saves after the loop
# come later and are not counted.
"$LEAP" distill --teacher "$TEACHER" "${job[@]}" --iters $((WARMUP + ITERS)) --threads "$THREADS" \
    --quiet --out "$work/run"
leap_ips=$("$PYTHON" - "$work/run/log.jsonl" "$WARMUP" "$ITERS" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
sec = {l["iter"]: l["seconds"] for l in lines if "iter" in l and "seconds" in l}
w, n = int(sys.argv[2]), int(sys.argv[3])
print(n / (sec[w + n] - sec[w]))
EOF
)
echo
echo "| distiller ($METHOD, batch $BATCH, $FAKE_UPDATES fake updates, $THREADS threads) | iterations/s | vs PyTorch |"
echo "| --- | --- | --- |"
awk -v t="$torch_ips" -v l="$leap_ips" -v v="$("$PYTHON" -c 'import torch; print(torch.__version__)')" 'BEGIN {
  printf "| PyTorch %s (CPU, eager, AdamW) | %.3f | 1.00x |\n", v, t
  printf "| leap distill | %.3f | %.2fx |\n", l, l / t }'
