# Sourced by the gpu_*_fer.sh scripts: the steps they share, unpacking a
# carried teacher and gathering a lent GPU's training runs for the trip back.
#
# plain_teacher WEIGHTS: prints the path of the teacher weights as a plain file;
# an .xz one is unpacked into /tmp/teachers/RUN/, RUN being the name of its
# folder (the teacher's run, which the students' reports then record).
plain_teacher() {
    local weights="$1" unpacked
    if [[ "$weights" != *.xz ]]; then echo "$weights"; return 0; fi
    unpacked="/tmp/teachers/$(basename "$(dirname "$weights")")/$(basename "${weights%.xz}")"
    mkdir -p "$(dirname "$unpacked")" && xz -dc "$weights" > "$unpacked" || { echo "could not unpack $weights" >&2; return 2; }
    echo "$unpacked"
}
#
# gather_runs PREFIX TEACHER: for each recipe line ("name seed ...") on stdin,
# the run $runs/PREFIX-name gets a report.json (rebuilt from last.pt by
# export/unfinished_report.py when the call's timeout cut the run) and its log
# $out/PREFIX-name.log as train.log; prints the run's last epochs and sets
# `names` to the files to pack (best.pt, report.json, train.log of each run).
# Uses the caller's $runs, $out, $py, $init and $device.
gather_runs() {
    local prefix="$1" teacher="$2" name run
    names=()
    while read -r name _; do
        [ -z "$name" ] && continue
        run="$runs/$prefix-$name"
        grep -a -o '{"epoch[^}]*}' "$out/$prefix-$name.log" | tail -2
        tail -1 "$out/$prefix-$name.log"
        if [ ! -f "$run/report.json" ] && [ -f "$run/last.pt" ]; then  # a run the timeout cut: its progress so far
            "$py" export/unfinished_report.py "$run/last.pt" "$teacher" "$init" "$device" > "$run/report.json"
        fi
        mkdir -p "$run"  # a recipe that failed before training (a bad argument) still returns its log
        mv "$out/$prefix-$name.log" "$run/train.log"
        names+=("$prefix-$name/best.pt" "$prefix-$name/report.json" "$prefix-$name/train.log")
    done
}
