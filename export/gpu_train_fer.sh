#!/usr/bin/env bash
# One call on a lent GPU: train a ResNet-18-sized convnet teacher on FER2013,
# then distil the shipped `fer` student from it, the teacher scoring every
# augmented view; each run gets a fixed number of minutes (--minutes picks
# the epochs that fit). The checkpoints, reports and log come back under
# $OUT (the teacher's 45 MB best.pt in 15 MB parts: `cat` them back
# together). Then, on any machine: python export/build_fer.py --student
# <student best.pt> --data ../shared/data/fer2013 --runs <runs folder>.
#
# The device's working tree is capped at 64 MiB, so FER2013 travels as one
# xz archive of the JPEGs (39 MB), made beside the checkout:
#   mkdir -p .gpu && tar -C ../shared/data -cf - fer2013 | xz -T2 > .gpu/fer2013.tar.xz
# and the call names .gpu in its carry. Usage, from the repository root:
#   bash export/gpu_train_fer.sh .gpu/fer2013.tar.xz
# Environment: TEACHER_MINUTES (4), STUDENT_MINUTES (3), TEACHER_SHAPE
# (widths=64-128-256-512,blocks=2-2-2-2, ResNet-18-sized), TEACHER_SEED (61),
# STUDENT_SEED (62), STUDENT_LR (5e-4), DEVICE (cuda; cpu to try the
# script's plumbing on a small archive), RUNS (/tmp/runs), OUT (where the
# results are copied; default runs-gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
archive="${1:?give the FER2013 archive: bash export/gpu_train_fer.sh .gpu/fer2013.tar.xz}"
out="${OUT:-runs-gpu}"
runs="${RUNS:-/tmp/runs}"
py="${PYTHON:-python3}"
device="${DEVICE:-cuda}"
teacher_minutes="${TEACHER_MINUTES:-4}"
student_minutes="${STUDENT_MINUTES:-3}"
limit() { awk "BEGIN { print int($1 * 60 + 90) }"; }  # seconds: the run's minutes plus loading and timing
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$out" "$runs" /tmp/fer-data
log="$out/gpu_train_fer.log"
exec > >(tee -a "$log") 2>&1

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
xz -T0 -dc "$archive" | tar -C /tmp/fer-data -xf - || { echo "could not unpack $archive"; exit 2; }
data=/tmp/fer-data/fer2013

echo "== GPU tests of the training path (device augmentation and a CPU-matching run)"
timeout 120 "$py" -m pytest -q -p no:cacheprovider -m gpu tests/test_fer_model.py

teacher="$runs/fer-teacher-r18"
student="$runs/fer-student-r18kd"
# The outer timeouts leave each run's best.pt in place even if the timing
# misjudged; the copy below always runs.
echo "== teacher: a convnet of shape ${TEACHER_SHAPE:-widths=64-128-256-512,blocks=2-2-2-2}, $teacher_minutes minutes"
timeout "$(limit "$teacher_minutes")" "$py" -m edgeaffect train fer --data "$data" --model teacher \
    --teacher-shape "${TEACHER_SHAPE:-widths=64-128-256-512,blocks=2-2-2-2}" --bf16 --device "$device" --minutes "$teacher_minutes" \
    --seed "${TEACHER_SEED:-61}" --out "$teacher"
echo "== student: the shipped fer model distilled from it per augmented view, $student_minutes minutes"
if [ -f "$teacher/best.pt" ]; then
    timeout "$(limit "$student_minutes")" "$py" -m edgeaffect train fer --data "$data" --init fer \
        --teacher "$teacher/best.pt" --online-teacher --lr "${STUDENT_LR:-5e-4}" --device "$device" \
        --minutes "$student_minutes" --seed "${STUDENT_SEED:-62}" --out "$student"
fi

echo "== results to $out"
for run in "$teacher" "$student"; do  # the report, or the progress so far of a run the timeout cut
    name=$(basename "$run")
    if [ -f "$run/report.json" ]; then
        cp "$run/report.json" "$out/$name.report.json"
    elif [ -f "$run/last.pt" ]; then
        "$py" -c "import json, sys, torch; s = torch.load(sys.argv[1], map_location='cpu', weights_only=False); print(json.dumps({'unfinished': True, **{k: s.get(k) for k in ('config', 'fit', 'best', 'history')}}, indent=1))" "$run/last.pt" > "$out/$name.report.json"
    fi
done
[ -f "$student/best.pt" ] && cp "$student/best.pt" "$out/fer-student-r18kd.best.pt"
[ -f "$teacher/best.pt" ] && split -b 15M -d "$teacher/best.pt" "$out/fer-teacher-r18.best.pt.part"
ls -l "$out"
