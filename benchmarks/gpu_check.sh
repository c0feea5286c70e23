#!/usr/bin/env bash
# One call on a GPU machine: build the CUDA module, run the GPU tests against
# the CPU kernel, time the kernels, and leave the results in
# benchmarks/results/ (named by card) and in $OUT when that is set.
#
# Usage (from the repository root, on a machine with nvcc and a GPU):
#   bash benchmarks/gpu_check.sh
# The GPU image needs scikit-build-core, pybind11, numpy, scipy, pytest and
# (for GPU-resident arrays) CuPy; nothing is downloaded. The CUDA module is
# built for this card's architecture only (a quick build); set
# EDGEAFFECT_CUDA_ARCHS to build the release list. The tests are the files
# that hold GPU-marked tests (with their CPU counterparts); set
# GPU_CHECK_TESTS="tests" for the whole suite.
set -uo pipefail
cd "$(dirname "$0")/.."
# the tests and benchmarks must import the package built below, not a source
# tree an inherited PYTHONPATH puts first (it turned 87 kernel tests into
# "No module named 'edgeaffect._C'" once: session 23)
unset PYTHONPATH
out="${OUT:-benchmarks/results}"
mkdir -p "$out" benchmarks/results
export PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu_check_nvidia_smi.txt"

card_arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
export EDGEAFFECT_CUDA_ARCHS="${EDGEAFFECT_CUDA_ARCHS:-$card_arch}"
echo "== build with CUDA (EDGEAFFECT_CUDA=ON, archs $EDGEAFFECT_CUDA_ARCHS)"
EDGEAFFECT_CUDA=ON "$py" -m pip install -q --no-build-isolation --no-deps . 2>&1 | tail -20 | tee "$out/gpu_check_build.log"
(cd /tmp && "$py" -m edgeaffect info) | tee "$out/gpu_check_info.txt"

echo "== tests, the gpu-marked ones included (CUDA kernel vs CPU kernel and the float64 reference; GPU vs CPU training)"
# -P: the installed package (with its CUDA module), not the source tree;
# -W default: this image's library versions may warn where ours do not, and
# a warning should be read, not turn a kernel check into an error.
read -r -a tests <<< "${GPU_CHECK_TESTS:-tests/test_bde.py tests/test_attention.py tests/test_fer_model.py}"
"$py" -P -m pytest -v -p no:cacheprovider -W default "${tests[@]}" 2>&1 | tee "$out/gpu_check_pytest.log"
status=${PIPESTATUS[0]}

echo "== BDE benchmark with the CUDA kernel"
"$py" benchmarks/bench_bde.py --impl cuda --no-loop --repeats 20 2>&1 | tee "$out/gpu_check_bench_bde.log"
echo "== attention: CUDA kernel vs torch SDPA on the GPU"
"$py" benchmarks/bench_attention_gpu.py 2>&1 | tee "$out/gpu_check_bench_attention.log"
if [ "$out" != "benchmarks/results" ]; then cp benchmarks/results/bde-*.json benchmarks/results/bde-*.md benchmarks/results/attention-gpu-*.json benchmarks/results/attention-gpu-*.md "$out"/ 2>/dev/null; fi
exit "$status"
