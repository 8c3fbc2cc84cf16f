#!/usr/bin/env bash
# alloc_sweep.sh - the allocation-failure sweep of issue 16: runs each main
# command of the `leap` CLI once to count its allocations (LEAP_ALLOC_REPORT=1),
# then once per failure point N (LEAP_FAIL_ALLOC=N: the Nth lp_malloc/lp_calloc/
# lp_realloc/lp_strdup/lp_aligned_alloc returns NULL) and checks each run:
#   crash    a signal, a timeout, or an AddressSanitizer/UBSan report
#   leak     a LeakSanitizer report (needs a -DLEAP_SANITIZE=ON build)
#   message  not exit 4 (out of memory) with "out of memory" on stderr
#   partial  a file left in the output folder that a failed run must not leave
# Allocations of OpenMP, OpenBLAS, libpng, zlib and the Vulkan loader do not
# go through lp_malloc and are not swept.
#
# usage: alloc_sweep.sh LEAP_BINARY [--stride K] [--jobs J] [--commands "sample profile combine train video"]
# Prints one line per failing point and a summary line per command; exits 1
# when any point failed. --stride K tries N = 1, 1+K, 1+2K, ... (the ctest
# test runs a strided subset; bench/RESULTS.md records a full sweep).
set -u

here=$(cd "$(dirname "$0")" && pwd)
data="$here/../data"

if [ "${1:-}" = "--point" ]; then :; else
  [ $# -ge 1 ] || { echo "usage: $0 LEAP_BINARY [--stride K] [--jobs J] [--commands LIST]" >&2; exit 2; }
fi

# The command line of one command, its output going to folder $2.
args_of() {
  local cmd=$1 out=$2 work=$3
  case $cmd in
    sample) echo "sample --model $data/dit_tiny_f32.safetensors --labels 0-1 --n 2 --steps 2 --backend cpu --threads 1 --out $out/x.png --raw-out $out/x.safetensors" ;;
    profile) echo "profile --model $data/dit_tiny_f32.safetensors --images 2 --steps 4 --computed 2 --folds 2 --backend cpu --threads 1 --quiet --out $out/p.json" ;;
    combine) echo "lcsc combine --ckpt $data/dit_tiny_f32.safetensors $data/dit_tiny_f16.safetensors --coef 0.25 0.75 --backend cpu --out $out/c.safetensors" ;;
    video) echo "video --model $data/video_dit_tiny_f32.safetensors --labels 0-1 --n 2 --frames 5 --steps 2 --family pyramid --ar-step 1 --kv rolling --backend cpu --threads 1 --quiet --out $out/v.gif --raw-out $out/v.safetensors" ;;
    train) echo "train --data $work/data --hidden 16 --depth 1 --heads 2 --patch 4 --batch 2 --steps 2 --save-every 2 --threads 1 --quiet --out $out/r" ;;
    *) echo "unknown command $cmd" >&2; return 1 ;;
  esac
}

# Files a failed run may leave: train lands each checkpoint by rename as it
# goes, so complete ones written before the failure stay (a temporary never).
allowed_left() {
  case $1 in
    train) echo "r_step000002.safetensors r_ema.safetensors r_state.safetensors" ;;
    *) echo "" ;;
  esac
}

export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# One failure point: prints "cmd N verdict [detail]"; the verdict is ok (a
# clean failure), recovered (the run absorbed the failure and succeeded) or
# one of the failures above.
run_point() {
  local leap=$1 cmd=$2 n=$3 work=$4
  local out="$work/p$cmd.$n" log="$work/log$cmd.$n"
  rm -rf "$out" && mkdir -p "$out"
  local args
  args=$(args_of "$cmd" "$out" "$work") || return 1
  # stdin closed rather than /dev/null: on the machine the sweep was made
  # on, /dev/null went missing for moments, and those runs never started.
  LEAP_FAIL_ALLOC=$n timeout 120 "$leap" $args > "$log" 2>&1 <&-
  local rc=$? verdict=""
  if [ $rc -eq 124 ] || [ $rc -gt 128 ]; then verdict="crash (exit $rc)"
  elif grep -q "LeakSanitizer" "$log"; then verdict="leak"
  elif grep -q "ERROR: AddressSanitizer\|runtime error:" "$log"; then verdict="crash (sanitizer)"
  elif [ $rc -ne 0 ] && { [ $rc -ne 4 ] || ! grep -qi "out of memory" "$log"; }; then
    verdict="message (exit $rc: $(grep -m1 '^leap' "$log" | cut -c1-160))"
  fi
  if [ -z "$verdict" ] && [ $rc -ne 0 ]; then
    local allowed left=""
    allowed=" $(allowed_left "$cmd") "
    for f in $(ls -A "$out"); do
      case "$allowed" in *" $f "*) ;; *) left="$left $f" ;; esac
    done
    [ -n "$left" ] && verdict="partial (left:$left)"
  fi
  if [ -n "$verdict" ]; then
    echo "$cmd $n $verdict"
    cp "$log" "$work/fail.$cmd.$n.log"
  elif [ $rc -eq 0 ]; then
    echo "$cmd $n recovered"
  else
    echo "$cmd $n ok"
  fi
  rm -rf "$out" "$log"
}

if [ "${1:-}" = "--point" ]; then
  shift
  run_point "$@"
  exit 0
fi

leap=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
stride=1 jobs=1 commands="sample profile combine train video"
while [ $# -gt 0 ]; do
  case $1 in
    --stride) stride=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --commands) commands=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/leap-alloc-sweep.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Training images: two classes of 8x8 samples of the tiny model.
for c in 0 1; do
  mkdir -p "$work/data/$c"
  for i in 1 2; do
    "$leap" sample --model "$data/dit_tiny_f32.safetensors" --labels "$c" --n 1 --steps 1 --seed "$i" \
      --backend cpu --threads 1 --out "$work/data/$c/$i.png" > /dev/null 2>&1 ||
      { echo "cannot make the training images" >&2; exit 1; }
  done
done

status=0
for cmd in $commands; do
  # The counting run writes to a folder named like the swept ones.
  mkdir -p "$work/p$cmd.0"
  args=$(args_of "$cmd" "$work/p$cmd.0" "$work") || exit 2
  if ! LEAP_ALLOC_REPORT=1 "$leap" $args > "$work/count.log" 2>&1 < /dev/null; then
    echo "$cmd: the run without failures failed:" >&2
    cat "$work/count.log" >&2
    status=1
    continue
  fi
  if grep -q "Sanitizer\|runtime error:" "$work/count.log"; then
    echo "$cmd: the run without failures has a sanitizer report:" >&2
    cat "$work/count.log" >&2
    status=1
  fi
  count=$(sed -n 's/^leap: allocations: \([0-9]*\)$/\1/p' "$work/count.log" | tail -n 1)
  rm -rf "$work/p$cmd.0" "$work/count.log"
  [ -n "$count" ] || { echo "$cmd: no allocation count" >&2; status=1; continue; }
  seq 1 "$stride" "$count" > "$work/points"
  xargs -a "$work/points" -P "$jobs" -I{} "$0" --point "$leap" "$cmd" {} "$work" > "$work/res.$cmd" <&-
  grep -v " ok$\| recovered$" "$work/res.$cmd"
  # A point whose run never started (xargs could not start it) has no line.
  tried=$(wc -l < "$work/res.$cmd")
  planned=$(seq 1 "$stride" "$count" | wc -l)
  recovered=$(grep -c " recovered$" "$work/res.$cmd")
  for k in crash leak message partial; do eval "n_$k=\$(grep -c \"^$cmd [0-9]* $k\" \"\$work/res.$cmd\")"; done
  # shellcheck disable=SC2154
  echo "$cmd: $count allocations, $tried of $planned points tried (stride $stride): crashes $n_crash," \
       "leaks $n_leak, wrong error $n_message, partial files $n_partial, recovered $recovered"
  if [ $((n_crash + n_leak + n_message + n_partial)) -ne 0 ] || [ "$tried" -ne "$planned" ]; then
    status=1
    [ -n "${LEAP_SWEEP_KEEP:-}" ] && cp "$work"/fail.$cmd.*.log "$LEAP_SWEEP_KEEP"/ 2>/dev/null
  fi
done
exit $status
