#!/usr/bin/env bash
# Long videos with block diffusion (issue 12's bars): each setting samples
# N clips of F frames with `leap video` (timing and peak memory from its
# --json report), then `leap eval --video --chunk K` scores them (per-frame
# FD, identity consistency, motion error, per-chunk FD and identity, VDE).
# One markdown row per setting on stdout; the raw JSON and clips stay in OUT.
#
#   bench/block_long.sh MODEL OUT [SETTING...]
#
# A SETTING is a name and leap video flags joined by ':', e.g.
#   "pyramid+shuffle+rolling:--family pyramid --ar-step 2 --shuffle --kv rolling"
# With none given, the default list below runs. Environment: LEAP (the
# binary, default build/leap), N (clips, 16), F (frames, 256), STEPS (50),
# K (eval chunk, the model's frames per chunk: 4), SEED (0), THREADS (2),
# BACKEND (cpu), CFG (3).
set -euo pipefail
model="${1:?usage: bench/block_long.sh MODEL OUT [SETTING...]}"
out="${2:?usage: bench/block_long.sh MODEL OUT [SETTING...]}"
shift 2
leap="${LEAP:-$(dirname "$0")/../build/leap}"
n="${N:-16}" frames="${F:-256}" steps="${STEPS:-50}" k="${K:-4}" seed="${SEED:-0}"
threads="${THREADS:-2}" backend="${BACKEND:-cpu}" cfg="${CFG:-3}"
settings=("$@")
if [ ${#settings[@]} -eq 0 ]; then
  settings=(
    "autoregressive:--family autoregressive --kv all"
    "autoregressive+rolling:--family autoregressive --kv rolling"
    "pyramid+rolling:--family pyramid --ar-step 2 --kv rolling"
    "pyramid+shuffle+rolling:--family pyramid --ar-step 2 --shuffle --kv rolling"
    "pyramid+shuffle+sparse:--family pyramid --ar-step 2 --shuffle --kv sparse"
    "pipelined+shuffle+rolling:--family pipelined --shuffle --kv rolling"
  )
fi
mkdir -p "$out"
echo "| setting | frames/s | frames/s 16-32 | frames/s $((frames - 16))-$frames | ratio | peak MiB | FD | identity | motion px | VDE FD | VDE identity |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for s in "${settings[@]}"; do
  name="${s%%:*}" flags="${s#*:}"
  tag="$out/$name"
  # shellcheck disable=SC2086
  "$leap" video --model "$model" --n "$n" --labels 0-9 --frames "$frames" --steps "$steps" --cfg "$cfg" \
    --seed "$seed" --backend "$backend" --threads "$threads" $flags --out "$tag.gif" \
    --raw-out "$tag.safetensors" --json --quiet >"$tag.video.json"
  "$leap" eval --video --samples "$tag.safetensors" --chunk "$k" --json --quiet | grep '^{' >"$tag.eval.json"
  python3 - "$tag" "$frames" "$name" <<'EOF'
import json, sys
tag, frames, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
v = json.load(open(tag + ".video.json"))
ev = [json.loads(l) for l in open(tag + ".eval.json")]
e, c = ev[0], ev[1]
span = {s["first"]: s["frames_per_s"] for s in v["spans"]}
early, late = span.get(16, float("nan")), span.get(frames - 16, float("nan"))
print(f"| {name} | {v['frames_per_s']:.2f} | {early:.2f} | {late:.2f} | {late / early:.2f} | {v['peak_rss_mib']:.0f} "
      f"| {e['fd']:.2f} | {e['identity']:.3f} | {e['motion']:.2f} | {c['vde_fd']:.2f} | {c['vde_identity']:.2f} |")
EOF
done
