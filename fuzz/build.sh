#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan) into build-fuzz/:
#   fuzz/build.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build-fuzz}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# -g1 (line tables only), as in .ci/sanitize: reports still name file and
# line, and full debug info made the sanitized builds the largest part of CI.
CC=clang CXX=clang++ cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEAP_FUZZ=ON \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DLEAP_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" --target fuzz_json fuzz_safetensors fuzz_profile fuzz_video_profile fuzz_lcsc_log \
  fuzz_train_state fuzz_distill_state fuzz_classifier fuzz_idx fuzz_image_folder fuzz_samples make_seeds
