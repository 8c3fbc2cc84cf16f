#!/usr/bin/env bash
# Runs each libFuzzer harness for a fixed time from its committed seed
# corpus, and prints one line of statistics per harness:
#   fuzz/run.sh SECONDS [BUILD_DIR] [HARNESS...]     (default: all, build-fuzz)
# New inputs go to a scratch corpus (the committed one is only read);
# a crash leaves its input in $LEAP_FUZZ_ARTIFACTS (default
# build-fuzz/artifacts/) and makes the script exit 1 after the others ran.
# LEAP_FUZZ_RUNS=N stops each harness after N executions instead.
set -uo pipefail
cd "$(dirname "$0")/.."
secs="${1:?usage: fuzz/run.sh SECONDS [BUILD_DIR] [HARNESS...]}"
dir="${2:-build-fuzz}"
shift $(( $# >= 2 ? 2 : 1 ))
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(json safetensors profile video_profile lcsc_log train_state distill_state classifier idx image_folder samples)
art="${LEAP_FUZZ_ARTIFACTS:-$dir/artifacts}"
mkdir -p "$art"
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
# Harnesses run LEAP_FUZZ_JOBS at a time (default: the number of cores);
# each writes its row (and, on a crash, its report) to a file, printed in
# order at the end, so the output reads the same as a serial run.
jobs="${LEAP_FUZZ_JOBS:-$(nproc)}"
run_one() {
  local h="$1" bin="$dir/fuzz/fuzz_$1" work log rc execs rate last cov ft corp result
  work="$(mktemp -d)"
  log="$art/$h.log"
  local runs=()
  [ -n "${LEAP_FUZZ_RUNS:-}" ] && runs=(-runs="$LEAP_FUZZ_RUNS")
  # -rss_limit_mb: a reader that sizes memory from a header trips it.
  # -timeout=60: on a loaded 2-core machine a niced harness was once starved
  # 15 s on a 90-byte input that runs in 0.14 s (fuzz/corpus/profile/nested-arrays.json).
  "$bin" -max_total_time="$secs" "${runs[@]}" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=60 \
    -print_final_stats=1 -artifact_prefix="$art/$h-" "$work" "fuzz/corpus/$h" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
  result=ok
  if [ $rc -ne 0 ]; then result="CRASH (rc $rc, $log)"; fi
  printf '%-14s %12s %9s %7s %7s %8s %s\n' "$h" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
  # CI keeps only its printed output: the report and the input go there too,
  # so a crash on that machine can be replayed here (base64 -d > x; harness x).
  if [ $rc -ne 0 ]; then
    echo "---- $h: the report (from the first ERROR line of $log) ----"
    sed -n '/ERROR\|deadly signal\|SUMMARY/,$p' "$log" | head -60
    for a in "$art/$h-"*; do
      [ -f "$a" ] || continue
      echo "---- $h: $a, $(stat -c %s "$a") bytes, base64 ----"
      head -c 8192 "$a" | base64
    done
  fi
  rm -rf "$work"
}
for h in "${harnesses[@]}"; do
  [ -x "$dir/fuzz/fuzz_$h" ] || { echo "fuzz/run.sh: $dir/fuzz/fuzz_$h not built (fuzz/build.sh)" >&2; exit 2; }
done
printf '%-14s %12s %9s %7s %7s %8s %s\n' harness execs exec/s cov ft corpus result
for h in "${harnesses[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  rm -f "$art/$h.row"
  run_one "$h" >"$art/$h.row" 2>&1 &
done
wait
failed=0
for h in "${harnesses[@]}"; do
  cat "$art/$h.row"
  # the row says ok only when the harness exited 0
  [ "$(head -1 "$art/$h.row" | awk '{print $NF}')" = ok ] || failed=1
done
exit $failed
