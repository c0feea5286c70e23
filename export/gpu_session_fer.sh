#!/usr/bin/env bash
# One call on a lent GPU (about 9 minutes), the whole of a session's device work:
#   1. benchmarks/gpu_check.sh, alone: builds the CUDA module, runs the
#      GPU-marked tests against the CPU kernels, times the kernels;
#   2. the convnet teacher(s) (ResNet-18-sized) train from scratch; with several
#      (TEACHERS), side by side, and the students learn from their ensemble (the
#      mean of their logits);
#   3. the teachers' weights are packed (before the students, so a call the
#      timeout cuts still returns them);
#   4. students distil from the teacher, scoring every augmented view, several
#      recipes side by side, all from the same weights (so they can be souped
#      with them: `edgeaffect soup`).
# One teacher is the default, measured in session 23 on an H200: three teachers
# side by side with the build beside them ran 13-14 epochs each in 3 minutes
# (8-11 s an epoch) and reached 65.1-65.8% val, their ensemble 66.6%; one
# teacher alone ran 28 epochs in 2.4 minutes (4.3 s an epoch) and reached 69.4%.
# Steps of these small models are bound by per-step overhead, so processes side
# by side share the card well but each gets fewer epochs, and a teacher needs its
# epochs more than a student fine-tune does. Session 24 (H200, GPU_CHECK=0,
# TEACHER_MINUTES=4.7, STUDENT_MINUTES=2.7, four recipes): the teacher ran 52
# epochs (4.3 s each), best 69.9% at epoch 42; the whole call took 461 s.
# What comes back (the device returns at most 8 files, each under 16 MiB, 64 MiB
# in all) under $OUT:
#   students.tar.NN       every recipe's best.pt, report.json and train.log, in
#                         15 MiB parts: cat students.tar.* | tar -xf -
#   teacher_logits.npz    each teacher's (and the ensemble's) logits on train
#                         (mean of face and mirror) and val, with the labels:
#                         cached soft targets for CPU distillation later
#   teachers.tar.xz.NN    the best teachers' weights as fp16 safetensors with
#                         their reports and logs, as many as fit; unpack with
#                         cat teachers.tar.xz.* | xz -dc | tar -xif -
#   gpu_check.tar         gpu_check.sh's logs and benchmark results
#   gpu_session_fer.log   this script's log
#
# The call's working tree is capped at 64 MiB, so FER2013 and the init travel in
# .gpu (named in the call's carry), from a branch without the shipped artifacts
# (git rm -r edgeaffect/models/artifacts benchmarks/results):
#   tar -C ../shared/data -cf - fer2013 | xz -T2 > .gpu/fer.tar.xz      # 39 MB
#   cp edgeaffect/models/artifacts/fer/fer.safetensors .gpu/            # the init
# Usage, from the repository root:
#   bash export/gpu_session_fer.sh .gpu/fer.tar.xz .gpu/fer.safetensors
# Environment: TEACHER_MINUTES (3.5), STUDENT_MINUTES (2.5), TEACHERS (lines
# "name seed"; default one), CARRIED_TEACHERS (teacher weights from an earlier
# lease, space-separated .safetensors or .safetensors.xz in folders named after
# their runs, e.g. .gpu/fer-teacher-r18-s151/teacher-fp16.safetensors.xz: they
# join the ensemble; session 24 measured session 23's and 24's teachers'
# mean at 71.3% val, each alone 69.4 and 69.9%), TEACHER_SHAPE (widths=64-128-256-512,blocks=2-2-2-2),
# RECIPES (lines "name seed extra-arguments..."), DEVICE (cuda; cpu to try the
# plumbing on a small archive), GPU_CHECK (1; 0 skips it), RUNS (/tmp/runs),
# OUT (runs-gpu).
set -uo pipefail
cd "$(dirname "$0")/.."
source export/gpu_runs.sh
archive="${1:?give the FER2013 archive and the init: bash export/gpu_session_fer.sh DATA.tar.xz INIT}"
init="${2:?give the weights every student recipe starts from (.pt or .safetensors)}"
out="${OUT:-runs-gpu}"
runs="${RUNS:-/tmp/runs}"
py="${PYTHON:-python3}"
device="${DEVICE:-cuda}"
teacher_minutes="${TEACHER_MINUTES:-3.5}"
teacher_shape="${TEACHER_SHAPE:-widths=64-128-256-512,blocks=2-2-2-2}"  # ResNet-18-sized
student_minutes="${STUDENT_MINUTES:-2.5}"
limit() { awk "BEGIN { print int($1 * 60 + 90) }"; }  # seconds: the run's minutes plus loading and timing
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TQDM_MININTERVAL=20
mkdir -p "$out" "$runs" /tmp/fer-data
log="$out/gpu_session_fer.log"
exec > >(tee -a "$log") 2>&1
started=$SECONDS
stamp() { echo "== [$((SECONDS - started)) s] $*"; }

teachers="${TEACHERS:-r18-s95 95}"
recipes="${RECIPES:-fm-b512 121 --lr 6e-4 --mixup 1.0 --kd-alpha 1.0 --batch-size 512
kd 122 --lr 3e-4
sam 123 --lr 3e-4 --sam-rho 0.05}"
count() { grep -c '[^[:space:]]' <<< "$1"; }
threads() { local n=$(( $(nproc) / $1 )); echo $(( n > 0 ? n : 1 )); }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "no nvidia-smi"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
xz -T0 -dc "$archive" | tar -C /tmp/fer-data -xf - || { echo "could not unpack $archive"; exit 2; }
data=/tmp/fer-data/fer2013

if [ "${GPU_CHECK:-1}" = 1 ]; then  # alone on the card: its timings are the card's
    stamp "gpu_check.sh: build, GPU-marked tests, kernel timings"
    OUT="$out/gpu_check" GPU_CHECK_TESTS="-m gpu tests/test_bde.py tests/test_attention.py tests/test_fer_model.py" \
        timeout 240 bash benchmarks/gpu_check.sh > "$out/gpu_check.log" 2>&1
    echo "gpu_check.sh: exit $?"; grep -E "passed|failed" "$out/gpu_check.log" | tail -1
    mv "$out/gpu_check.log" "$out/gpu_check/" && tar -C "$out" -cf "$out/gpu_check.tar" gpu_check && rm -rf "$out/gpu_check"
fi

stamp "$(count "$teachers") teachers, $teacher_minutes minutes each, side by side on $device"
pids=()
while read -r name seed; do
    [ -z "$name" ] && continue
    OMP_NUM_THREADS=$(threads "$(count "$teachers")") timeout "$(limit "$teacher_minutes")" \
        "$py" -m edgeaffect train fer --data "$data" --model teacher --teacher-shape "$teacher_shape" \
        --bf16 --device "$device" --minutes "$teacher_minutes" --seed "$seed" --out "$runs/fer-teacher-$name" \
        > "$out/fer-teacher-$name.log" 2>&1 &
    pids+=($!)
done <<< "$teachers"
for pid in "${pids[@]}"; do wait "$pid"; done
members=()
while read -r name _; do
    [ -z "$name" ] && continue
    grep -a -o '{"epoch[^}]*}' "$out/fer-teacher-$name.log" | tail -2
    tail -1 "$out/fer-teacher-$name.log"
    [ -f "$runs/fer-teacher-$name/best.pt" ] && members+=("$runs/fer-teacher-$name/best.pt")
done <<< "$teachers"
[ ${#members[@]} -gt 0 ] || { echo "no teacher finished an epoch"; exit 3; }
trained=("${members[@]}")  # packed for the trip back; carried teachers are already at home
for weights in ${CARRIED_TEACHERS:-}; do  # teachers from an earlier lease join the ensemble
    members+=("$(plain_teacher "$weights")") || exit 2
done
ensemble=$(IFS=,; echo "${members[*]}")

stamp "the teachers' logits (each and the ensemble) to $out/teacher_logits.npz"
"$py" - "$data" "$out/teacher_logits.npz" "$device" "${members[@]}" <<'PY'
import sys
import numpy as np
from edgeaffect.fer import LABELS
from edgeaffect.fer.data import load_fer_folder
from edgeaffect.fer.train import load_checkpoint_model, predict_logits
from edgeaffect.evaluation.metrics import classification_metrics

data, dst, device, members = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
x_train, y_train = load_fer_folder(f"{data}/train")
x_val, y_val = load_fer_folder(f"{data}/val")
arrays = {"train_labels": y_train, "val_labels": y_val, "members": np.array(members)}
for i, member in enumerate(members):
    model = load_checkpoint_model(member).to(device)
    arrays[f"train_{i}"] = predict_logits(model, x_train, mirror=True)
    arrays[f"val_{i}"] = predict_logits(model, x_val)
    print(member, "val accuracy", round(classification_metrics(y_val, arrays[f"val_{i}"].argmax(1), LABELS)["accuracy"], 4))
for split in ("train", "val"):
    arrays[f"{split}_ensemble"] = np.mean([arrays[f"{split}_{i}"] for i in range(len(members))], axis=0)
val = classification_metrics(y_val, arrays["val_ensemble"].argmax(1), LABELS)
print(f"ensemble of {len(members)}: val accuracy {val['accuracy']:.4f}, macro-F1 {val['macro_f1']:.4f}")
np.savez_compressed(dst, **{k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in arrays.items()})
PY

stamp "teachers, best first, as many as fit, to $out/teachers.tar.xz.NN"
pack="$runs/teachers-pack"
rm -rf "$pack" && mkdir -p "$pack"
"$py" - "$runs" "$pack" "${trained[@]}" <<'PY'
import json, shutil, sys
from pathlib import Path
import torch
from safetensors.torch import save_file
runs, dst, members = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
for member in members:
    state = torch.load(member, map_location="cpu", weights_only=False)
    name = Path(member).parent.name
    (dst / name).mkdir(parents=True, exist_ok=True)
    # fp16 halves the size; the logits move by < 0.01 and val accuracy is unchanged (gpu_students_fer.sh)
    save_file({k: v.half().contiguous() if v.is_floating_point() else v.contiguous() for k, v in state["model"].items()},
              str(dst / name / "teacher-fp16.safetensors"), metadata={"architecture": json.dumps(state["architecture"])})
    report = runs / name / "report.json"
    if report.exists():
        shutil.copy(report, dst / name / "report.json")
    else:  # a teacher the timeout cut after its best epoch: what best.pt knows
        (dst / name / "report.json").write_text(json.dumps({
            "unfinished": "the call's timeout stopped it", "model": "teacher", "architecture": state["architecture"],
            "seed": state["seed"], "config": state["config"],
            "best": {"epoch": state["epoch"], **{k: state["val"][k] for k in ("accuracy", "macro_f1")}}}, indent=1))
PY
for f in "$out"/fer-teacher-*.log; do [ -f "$f" ] && n=$(basename "$f" .log) && [ -d "$pack/$n" ] && mv "$f" "$pack/$n/train.log"; done
used=$(du -cb "$out"/teacher_logits.npz "$out"/gpu_check.tar "$log" 2>/dev/null | tail -1 | cut -f1)
# 64 MiB back in all: room for the students (about 5 MB a recipe) and for this log to grow
room=$(( 63 * 1024 * 1024 - used - 6 * 1024 * 1024 * $(count "$recipes") - 1024 * 1024 ))
ranked=$("$py" -c "
import json, sys
from pathlib import Path
rows = [(json.loads((Path(p) / 'report.json').read_text())['best']['accuracy'], Path(p).name) for p in sys.argv[1:]]
print(' '.join(name for _, name in sorted(rows, reverse=True)))" "$pack"/*/)
keep=()
for name in $ranked; do
    tar -C "$pack" -cf - "$name" | xz -T0 -1 > "$pack/$name.tar.xz"
    size=$(stat -c %s "$pack/$name.tar.xz")
    [ "$size" -lt "$room" ] || break
    keep+=("$pack/$name.tar.xz"); room=$(( room - size ))
done
echo "teachers kept: ${keep[*]:-none} (ranked by val: $ranked)"
# one xz stream per teacher, one tar each: unpack with  cat teachers.tar.xz.* | xz -dc | tar -xif -
[ ${#keep[@]} -gt 0 ] && cat "${keep[@]}" | split -b 15M -d - "$out/teachers.tar.xz."
stamp "$(count "$recipes") student recipes, $student_minutes minutes each, distilled from ${#members[@]} teacher(s) (several: their ensemble)"
pids=()
while read -r name seed args; do
    [ -z "$name" ] && continue
    echo "$name (seed $seed): $args"
    # shellcheck disable=SC2086  # the recipe's arguments split on spaces
    OMP_NUM_THREADS=$(threads "$(count "$recipes")") timeout "$(limit "$student_minutes")" \
        "$py" -m edgeaffect train fer --data "$data" --init "$init" --teacher "$ensemble" --online-teacher \
        --device "$device" --minutes "$student_minutes" --seed "$seed" --out "$runs/fer-student-$name" $args \
        > "$out/fer-student-$name.log" 2>&1 &
    pids+=($!)
done <<< "$recipes"
for pid in "${pids[@]}"; do wait "$pid"; done

stamp "students to $out/students.tar.NN"
gather_runs fer-student "$ensemble" <<< "$recipes"
(cd "$runs" && tar -cf - --ignore-failed-read "${names[@]}") | split -b 15M -d - "$out/students.tar."

stamp "done"
ls -l "$out"
