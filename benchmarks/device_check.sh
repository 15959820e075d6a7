#!/usr/bin/env bash
# One lease of a CUDA machine, prepared: the card, the CUDA tests, the roofline probe (R1)
# and G1 on the GPU. Run from the repository root; outputs go to $OUT (default
# /tmp/device_check): card.txt, gpu_tests.log, roofline.md (and roofline_before.md for the
# tree in .before_src, when there is one), g1_profile.txt, g1.json.
#
#   bash benchmarks/device_check.sh            # about 6 minutes on an H200
#   CHECK_DEVICE=cpu CHECK_SCALE=0.02 CHECK_N=50000 bash benchmarks/device_check.sh  # dry run
set -u
dev=${CHECK_DEVICE:-cuda}
scale=${CHECK_SCALE:-20}
g1n=${CHECK_N:-20000000}
out=${OUT:-/tmp/device_check}
mkdir -p "$out"
export PYTHONPATH=$PWD/src:$PWD PYTHONUNBUFFERED=1 SCIPY_ARRAY_API=1
py=python3
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem \
        --format=csv
    $py -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.version.cuda, torch.cuda.get_device_name(0), torch.get_num_threads(), 'threads')"
    nproc
} 2>&1 | tee "$out/card.txt"
stage() {  # stage NAME SECONDS COMMAND...: run with a time limit, log its time and status
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    timeout "$limit" "$@"
    echo "[$name] exit $? in $((SECONDS - t0)) s" | tee -a "$out/card.txt"
}
par=()
$py -c "import xdist" 2>/dev/null && par+=(-n 4)
$py -c "import pytest_timeout" 2>/dev/null && par+=(--timeout 150)
stage tests 170 $py -m pytest -q -p no:cacheprovider -m gpu "${par[@]}" \
    --continue-on-collection-errors tests >"$out/gpu_tests.log" 2>&1
tail -25 "$out/gpu_tests.log"
stage roofline 110 $py -m benchmarks roofline --device "$dev" --n-scale "$scale" --sparse-scale "${CHECK_SPARSE_SCALE:-5}" \
    --repeats 5 --markdown --key R1-cuda --results "$out/roofline.md"
if [ -d .before_src/src ]; then  # an older tree (ignored, carried): the "before" table
    stage roofline-before 110 env PYTHONPATH="$PWD/.before_src/src:$PWD" $py -m benchmarks \
        roofline --device "$dev" --n-scale "$scale" --sparse-scale "${CHECK_SPARSE_SCALE:-5}" \
        --repeats 5 --markdown --key R1-cuda-before --results "$out/roofline_before.md"
fi
stage g1-profile 60 $py -m benchmarks.gpu --device "$dev" --n "$g1n" --profile \
    >"$out/g1_profile.txt" 2>&1
stage g1 200 $py -m benchmarks.gpu --device "$dev" --n "$g1n" --sklearn-rows 500000 --json "$out/g1.json"
