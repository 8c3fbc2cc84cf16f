# bench/gpu_env.sh - sourced by the device-machine scripts (gpu_run.sh,
# gpu_check.sh): unpacks the carried Vulkan loader and leap's run-time
# libraries, points the loader at NVIDIA's ICD, and makes /work/main (the
# checkout the binaries were built in) point here. See gpu_run.sh's header.
here=$(pwd)
if [ -z "${LOCAL_DRY:-}" ]; then # LOCAL_DRY=1: a dry run on the development machine (lavapipe)
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
mkdir -p /tmp/root
for f in .gpudeb/*.deb; do dpkg -x "$f" /tmp/root; done
L=/tmp/root/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$L:$L/openblas-openmp:$L/blas:$L/lapack${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VK_LAYER_PATH=/tmp/root/usr/share/vulkan/explicit_layer.d
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export LEAP_FMNIST_DIR=$here/.gpudata/fmnist
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)} OMP_WAIT_POLICY=passive PYTHONUNBUFFERED=1
# The binaries name the checkout they were built in (test data, shipped models): give it here.
[ -e /work/main ] || { mkdir -p /work && ln -s "$here" /work/main; }
cd /work/main
