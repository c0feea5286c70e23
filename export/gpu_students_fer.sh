#!/usr/bin/env bash
# One call on a lent GPU: distil several recipes of the `fer` student side by
# side from one teacher, each for a fixed number of minutes, all started from
# the same weights (so the results can be souped: `edgeaffect soup`).
#
# One small model's training step leaves a big GPU mostly idle (a step is a
# few hundred short kernels), so the recipes run as parallel processes on
# the one card; each times its own steps under that load (--minutes), so the
# epoch counts fit the box. The best.pt, report and log of every recipe come
# back in one file, $OUT/students.tar (the device returns at most 8 files a
# call), beside this script's log.
#
# The call's working tree is capped at 64 MiB, so everything travels in
# .gpu (named in the call's carry) and the call runs from a branch without
# the shipped artifacts (git rm -r edgeaffect/models/artifacts benchmarks/results):
#   tar -C ../shared/data -cf - fer2013 | xz -T2 > .gpu/fer.tar.xz          # 39 MB
#   teacher weights as fp16 safetensors, xz-compressed (20 MB for ResNet-18 size;
#   the logits move by < 0.01 and val accuracy is unchanged), in a folder
#   named after the teacher's run, e.g. .gpu/fer-teacher-r18/teacher-fp16.safetensors.xz:
#   the students' reports then name that run as their teacher
#   cp edgeaffect/models/artifacts/fer/fer.safetensors .gpu/                # the init
# INIT may be `none`: every recipe starts from scratch (a recipe may then change
# the student's shape, e.g. "d232 91 --student-shape depths=2-3-2 --lr 2e-3
# --mixup 1.0 --kd-alpha 1.0"; bench_fer_shapes.py times shapes first).
# Usage, from the repository root:
#   bash export/gpu_students_fer.sh .gpu/fer.tar.xz .gpu/fer-teacher-r18/teacher-fp16.safetensors.xz .gpu/fer.safetensors
# Environment: MINUTES (7, per recipe), RECIPES (a file of lines
# "name seed extra-arguments..."; default: the list below), DEVICE (cuda;
# cpu to try the plumbing on a small archive), RUNS (/tmp/runs), OUT
# (default runs-gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
source export/gpu_runs.sh
archive="${1:?give the FER2013 archive, the teacher and the init: bash export/gpu_students_fer.sh DATA.tar.xz TEACHER INIT}"
teacher="${2:?give the teacher weights (.pt, .safetensors, or either .xz-compressed)}"
init="${3:?give the weights every recipe starts from (.pt or .safetensors), or none (from scratch)}"
init_args=(--init "$init")
[ "$init" = none ] && init_args=()  # e.g. a larger --student-shape, trained from scratch
out="${OUT:-runs-gpu}"
runs="${RUNS:-/tmp/runs}"
py="${PYTHON:-python3}"
device="${DEVICE:-cuda}"
minutes="${MINUTES:-7}"
limit=$(awk "BEGIN { print int($minutes * 60 + 90) }")  # seconds: the box plus loading and timing
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TQDM_MININTERVAL=20
mkdir -p "$out" "$runs" /tmp/fer-data
log="$out/gpu_students_fer.log"
exec > >(tee -a "$log") 2>&1

# name seed arguments: every recipe distils from the online teacher, from $init
default_recipes='kd 81 --lr 3e-4
fm 82 --lr 3e-4 --mixup 1.0 --kd-alpha 1.0
sam 84 --lr 3e-4 --sam-rho 0.05
fm-b512 85 --lr 6e-4 --mixup 1.0 --kd-alpha 1.0 --batch-size 512'
recipes="$default_recipes"
[ -n "${RECIPES:-}" ] && recipes=$(cat "$RECIPES")

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
xz -T0 -dc "$archive" | tar -C /tmp/fer-data -xf - || { echo "could not unpack $archive"; exit 2; }
data=/tmp/fer-data/fer2013
teacher=$(plain_teacher "$teacher") || exit 2

# the processes share the machine's cores: OpenMP threads beyond them spin against each other
n_recipes=$(grep -c '[^[:space:]]' <<< "$recipes")
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-$(( $(nproc) / n_recipes > 0 ? $(nproc) / n_recipes : 1 ))}"
echo "== $n_recipes recipes, $minutes minutes each, side by side on $device ($OMP_NUM_THREADS CPU threads each)"
pids=()
while read -r name seed args; do
    [ -z "$name" ] && continue
    echo "$name (seed $seed): $args"
    # shellcheck disable=SC2086  # the recipe's arguments split on spaces
    timeout "$limit" "$py" -m edgeaffect train fer --data "$data" "${init_args[@]}" --teacher "$teacher" --online-teacher \
        --device "$device" --minutes "$minutes" --seed "$seed" --out "$runs/fer-$name" $args > "$out/fer-$name.log" 2>&1 &
    pids+=($!)
done <<< "$recipes"
for pid in "${pids[@]}"; do wait "$pid"; done

echo "== results to $out/students.tar"
gather_runs fer "$teacher" <<< "$recipes"
(cd "$runs" && tar -cf - --ignore-failed-read "${names[@]}") > "$out/students.tar"
tar -tvf "$out/students.tar"
