"""The `edgeaffect` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

# `edgeaffect explain` reads an image with no detectable face as a face crop when its sides are in this range
# (pixels): FER2013's crops are 48 px; below 24 px there is too little to read, above 96 px it is a scene
CROP_SIDES = (24, 96)
BACKEND_HELP = "auto (default: as edgeaffect.load), native, onnxruntime, openvino, tensorrt, torch"
PRECISION_HELP = "auto (default: the backend's best), fp32, fp16, int8"
THREADS_HELP = "CPU threads (default: the backend's choice)"


def _cmd_info(args: argparse.Namespace) -> int:
    from . import info

    return info.main(["--json"] if args.json else [])


def _load_recording(args: argparse.Namespace):
    from .io import read_edf, read_muse_csv
    from .io.recording import Recording

    if args.synthetic:
        # 10 s of 8-channel noise with a 10 Hz (alpha) rhythm on channel 0.
        rng = np.random.default_rng(args.seed)
        fs = args.fs or 256.0
        t = np.arange(int(10 * fs)) / fs
        data = rng.standard_normal((8, t.size)) * 5.0
        data[0] += 20.0 * np.sin(2 * np.pi * 10.0 * t)
        return Recording(data, fs, [f"ch{i}" for i in range(8)], ["uV"] * 8, "synthetic")
    if args.recording is None:
        raise ValueError("give a recording (.edf or muse-lsl .csv) or --synthetic")
    path = Path(args.recording)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix.lower() == ".edf":
        rec = read_edf(path, repair_crlf=args.repair_crlf)
        return rec if args.fs is None else Recording(rec.data, args.fs, rec.channel_names, rec.units, rec.source)
    if path.suffix.lower() == ".csv":
        return read_muse_csv(path, fs=args.fs)
    raise ValueError(f"{path.suffix} files are not supported; use .edf or a muse-lsl .csv")


def positive(kind):
    """argparse type: a number > 0 (a zero window, hop or batch would divide by zero or loop forever)."""
    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} must be > 0")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def non_negative(kind):
    """argparse type: a number >= 0."""
    def parse(text: str):
        value = kind(text)
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"{text} must be >= 0")
        return value

    parse.__name__ = f"non-negative {kind.__name__}"
    return parse


def _cmd_bde(args: argparse.Namespace) -> int:
    from .features import BAND_NAMES, band_differential_entropy, resolve_bands

    rec = _load_recording(args)
    window = int(round(args.window * rec.fs))
    hop = int(round(args.hop * rec.fs))
    n = 0 if rec.data.shape[1] < window else (rec.data.shape[1] - window) // hop + 1
    if n == 0:
        raise ValueError(f"the recording has {rec.data.shape[1]} samples, fewer than one "
                         f"{args.window} s window ({window} samples)")
    starts = np.arange(n) * hop
    windows = np.stack([rec.data[:, s : s + window] for s in starts]).astype(np.float32)
    de = band_differential_entropy(windows, rec.fs, bands=args.bands, order=args.order, threads=args.threads)
    names = list(BAND_NAMES.get(args.bands, [f"{lo:g}-{hi:g}Hz" for lo, hi in resolve_bands(args.bands, rec.fs)]))
    if args.out:
        np.savez(args.out, de=de, window_start_s=starts / rec.fs, channels=np.array(rec.channel_names),
                 bands=np.array(names), fs=rec.fs)
        print(f"wrote {args.out}: de {de.shape} (windows, channels, bands)")
    mean = de.mean(axis=0)
    print(f"{rec.source}: {rec.data.shape[0]} channels, {rec.fs:g} Hz, {n} windows of {args.window} s "
          f"(hop {args.hop} s); mean DE (nats) per channel:")
    print("channel".ljust(10) + "".join(b.rjust(11) for b in names))
    for name, row in zip(rec.channel_names[: args.show], mean[: args.show]):
        print(name.ljust(10) + "".join(f"{v:11.3f}" for v in row))
    if len(rec.channel_names) > args.show:
        print(f"... {len(rec.channel_names) - args.show} more channels (--show N)")
    return 0


def _cmd_eeg(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .eeg.stream import EEGEmotionStream, FileReplaySource

    chosen = [name for name in ("file", "brainflow", "lsl") if getattr(args, name)]
    if len(chosen) != 1:
        raise ValueError("give exactly one source: --file PATH, --brainflow BOARD or --lsl NAME")
    if args.file:
        source = FileReplaySource(args.file, speed=args.speed, repair_crlf=args.repair_crlf)
    elif args.brainflow:
        from .eeg.sources import BrainFlowSource

        bad = [item for item in args.board_param or () if "=" not in item]
        if bad:
            raise ValueError(f"--board-param {bad[0]!r}: expected KEY=VALUE, e.g. serial_port=/dev/ttyUSB0")
        params = dict(item.split("=", 1) for item in args.board_param or ())
        try:
            board = int(args.brainflow)
        except ValueError:
            board = args.brainflow
        source = BrainFlowSource(board, **params)
    else:
        from .eeg.sources import LSLSource

        source = LSLSource(args.lsl, resolve_timeout=args.resolve_timeout)
    stream = EEGEmotionStream(source, model=args.model, window_s=args.window, hop_s=args.hop,
                              calibration_windows=args.calibration, fill=args.fill, backend=args.backend,
                              context_s=args.context)
    first = args.context + args.calibration * args.hop
    stopped = ""
    try:
        with stream:
            stream.start()
            print(f"edgeaffect eeg: calibrating on this user's first ~{first:g} s of signal (--context "
                  f"{args.context:g} s, then --calibration {args.calibration} windows every --hop {args.hop:g} s); "
                  "results follow", file=sys.stderr, flush=True)
            for count, result in enumerate(stream, start=1):
                print(json.dumps(asdict(result)), flush=True)
                if args.max_results and count >= args.max_results:
                    stopped = f"--max-results {args.max_results} reached"
                    break
    except KeyboardInterrupt:  # Ctrl-C is how a live source is stopped (a normal end, exit 0): report what ran
        stopped = "interrupted (Ctrl-C)"
    if stopped:  # after close(): the reader thread has stopped and written its own reason
        stream.stats.stopped_because = stopped
    print(json.dumps({"stats": asdict(stream.stats)}), file=sys.stderr)
    if stream.stats.stopped_because.startswith("source failed"):
        print(f"edgeaffect eeg: error: {stream.stats.stopped_because}", file=sys.stderr)
        return 1
    if stream.stats.results == 0 and not stopped:
        print(f"edgeaffect eeg: error: no results: the source ended after {stream.stats.windows} windows, before "
              f"calibration finished (it needs ~{first:g} s of unbroken signal); lower --calibration or --context "
              "for a short recording", file=sys.stderr)
        return 1
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export.pipeline import export_model

    report = export_model(args.model, args.target, calib=args.calib, val=args.val, out=args.out,
                          weights=args.weights, force=args.force, calib_samples=args.calib_samples)
    for step in report["steps"]:
        line = f"  {step['step']}: "
        if "validation" in step:
            v = step["validation"]
            line += f"max |err| vs torch {v['max_abs_error']:.2e} (atol {v['atol']}) {'ok' if v['passed'] else 'FAILED'}"
        if "gate" in step:
            g = step["gate"]
            line += (f"{g['metric']} {g['candidate']:.4f} vs fp32 {g['reference']:.4f} (drop {g['drop']:+.4f}, limit "
                     f"{g['limit']}); top-1 agreement {g['top1_agreement']:.3f}"
                     + (" FORCED" if g["forced"] and not g["passed"] else ""))
        if "max_abs_error_vs_onnx" in step:
            line += f"max |err| vs fp32 ONNX {step['max_abs_error_vs_onnx']:.2e}"
        print(line)
    for key, path in report["artifacts"].items():
        print(f"  {key}: {path} ({report['sizes_bytes'][key] / 1024:.0f} KiB)")
    if "tensorrt" in report:
        print(f"  trtexec: {report['tensorrt']['trtexec']}\n  {report['tensorrt']['engine_note']}")
    print(f"report: {Path(report['out']) / 'report.json'}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.model == "explain" or (Path(args.model) / "config.json").exists():
        if args.mirror:
            raise ValueError("--mirror is for image classifiers (fer, fer-minixception); drop it for the explainer")
        return _cmd_eval_explain(args)
    from .evaluation.run import evaluate

    explainer_only = [flag for flag, value in (("--teacher", args.teacher), ("--beams", args.beams != 1),
                                               ("--emotions-from", args.emotions_from != "auto"),
                                               ("--evidence", args.evidence != "auto"), ("--views", args.views)) if value]
    if explainer_only:
        raise ValueError(f"{', '.join(explainer_only)}: options of `edgeaffect eval explain`; drop them for "
                         f"{args.model!r}")
    result = evaluate(args.model, args.data, backend=args.backend, precision=args.precision, threads=args.threads,
                      limit=args.limit, batch_size=args.batch_size, mirror=args.mirror, usage=_usage(args.usage))
    if args.json:
        print(json.dumps(result))
        return 0
    if "warning" in result:
        print(f"warning: {result['warning']}", file=sys.stderr)
    rows = f", FER2013 CSV rows: {result['usage']}" if "usage" in result else ""
    print(f"{result['model']} on {result['data']} ({result['n']} samples{rows}): backend {result['backend']}, "
          f"precision {result['precision']}{', each image averaged with its mirror' if result['mirror'] else ''}")
    if "accuracy" not in result:  # binary heads (eeg): one line per head
        suffix = "_balanced_accuracy"
        for head in [key[: -len(suffix)] for key in result if key.endswith(suffix)]:
            print(f"  {head:>8}: accuracy {result[f'{head}_accuracy']:.4f}  balanced accuracy "
                  f"{result[f'{head}_balanced_accuracy']:.4f}  macro-F1 {result[f'{head}_macro_f1']:.4f}")
        return 0
    print(f"  accuracy {result['accuracy']:.4f}  balanced accuracy {result['balanced_accuracy']:.4f}  "
          f"macro-F1 {result['macro_f1']:.4f}")
    for label, recall in result["per_class_recall"].items():
        print(f"  recall {label:>12}: {'n/a' if recall is None else f'{recall:.4f}'}")
    _print_confusion(result["labels"], result["confusion"])
    return 0


def _print_confusion(labels: list[str], confusion: list[list[int]]) -> None:
    """The confusion matrix as a text table: a row per true class, a column per predicted one."""
    width = max(5, *(len(label) for label in labels))
    print("  confusion (rows: true class, columns: predicted)")
    print("  " + " " * width + "".join(f" {label[:width]:>{width}}" for label in labels))
    for label, row in zip(labels, confusion):
        print(f"  {label:>{width}}" + "".join(f" {count:>{width}}" for count in row))


def _usage(choice: str) -> str | None:
    """--usage as edgeaffect.fer.data.load_fer_csv takes it (None: every row)."""
    return None if choice == "all" else choice


def _cmd_eval_explain(args: argparse.Namespace) -> int:
    from .explain import DecodeConfig
    from .explain.evaluate import evaluate_folder

    result = evaluate_folder(args.data, None if args.model == "explain" else args.model, teacher=args.teacher,
                             backend="onnxruntime" if args.backend == "auto" else args.backend,
                             precision="fp32" if args.precision == "auto" else args.precision, threads=args.threads,
                             limit=args.limit, decode=DecodeConfig(beams=args.beams), progress=not args.json,
                             emotions_from=args.emotions_from, evidence=args.evidence, views=args.views,
                             usage=_usage(args.usage))
    if args.json:
        print(json.dumps(result))
        return 0
    rows = f", FER2013 CSV rows: {result['usage']}" if "usage" in result else ""
    print(f"explain on {result['data']} ({result['n']} faces{rows}): backend {result['backend']}, precision "
          f"{result['precision']}, beams {result['beams']}, emotion from {result['emotion_model']}, "
          f"{result['evidence']} evidence, {result['views']} view{'s' if result['views'] > 1 else ''} per face")
    for key in ("accuracy", "faithfulness", "bleu4", "rouge_l", "cider", "exact_regions", "top_region",
                "retrieval_recall_at_1"):
        if key in result:
            print(f"  {key:<22} {result[key]:.4f}")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from .explain import DecodeConfig, load_explainer
    from .explain.faces import draw_explanations, explain_image
    from .faces.sources import check_output_path, read_image

    if args.out:
        check_output_path(args.out, video=False)
    engine = load_explainer(None if args.model == "explain" else args.model, backend=args.backend,
                            precision=args.precision, threads=args.threads, emotions_from=args.emotions_from,
                            evidence=args.evidence, views=args.views)
    frame = read_image(args.image)
    decode = DecodeConfig(max_new_tokens=args.max_tokens, beams=args.beams)
    whole = args.crop
    faces = explain_image(frame, engine, detector=args.detector, whole_image=whole, decode=decode)
    if not faces and CROP_SIDES[0] <= min(frame.shape[:2]) and max(frame.shape[:2]) <= CROP_SIDES[1]:
        # a small image with no detectable face is most likely a face crop already (as FER2013's are)
        whole = True
        faces = explain_image(frame, engine, whole_image=True, decode=decode)
        if not args.json:
            print(f"{args.image}: no face detected; the {frame.shape[1]}x{frame.shape[0]} image is read as a face "
                  "crop (as --crop does)", file=sys.stderr)
    rows = [f.to_dict() for f in faces]
    if args.teacher_check and faces:
        # the rationale teacher's own measurement (five classifier passes per face and alignment shift), beside
        # the student's sentence
        from .explain import load_rationale_teacher
        from .explain.rationale import occlusion_evidence, render_rationale

        classify = load_rationale_teacher(None if args.model == "explain" else args.model, threads=args.threads)
        if classify is None:
            raise FileNotFoundError("--teacher-check needs rationale-teacher.onnx in the model folder")
        evidence = occlusion_evidence(classify, np.stack([f.crop for f in faces]), shifts=engine.spec.rationale_shifts)
        for row, ev in zip(rows, evidence):
            teacher = render_rationale(row["emotion"], ev[engine.spec.emotions.index(row["emotion"])])
            row["teacher"] = {"text": teacher.text, "regions": teacher.region_names, "region_weights": teacher.weights()}
    if args.json:
        print(json.dumps({"image": args.image, "whole_image_as_face": whole, "evidence": engine.evidence_source,
                          "faces": rows}))
    elif not faces:
        print(f"{args.image}: no face found; if the image is a face crop, pass --crop")
    else:
        for face in faces:
            e = face.explanation
            where = "whole image" if face.box is None else "box " + ", ".join(f"{v:.0f}" for v in face.box)
            print(f"{where}: {e.emotion} ({e.score:.2f})\n  {e.text}\n  evidence ({engine.evidence_source}): " +
                  ", ".join(f"{k} {v:.2f}" for k, v in e.region_weights.items()))
        for row in rows:
            if "teacher" in row:
                print(f"  teacher (occlusion): {row['teacher']['text']}")
    if args.out:
        import cv2

        if not cv2.imwrite(args.out, draw_explanations(frame, faces)):
            raise ValueError(f"cannot write --out {args.out}: is its folder writable?")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .faces import FacePipeline
    from .faces.pipeline import draw
    from .faces.sources import check_output_path, is_image, read_image, video_frames

    if args.camera is not None and args.source:
        raise ValueError(f"give {args.source} or --camera {args.camera}, not both")
    source = args.camera if args.camera is not None else args.source
    if source is None:
        raise ValueError("give an IMAGE or VIDEO path, or --camera N")
    single = args.camera is None and is_image(source)
    if args.out:
        check_output_path(args.out, video=not single)
    with FacePipeline(args.model, detector=args.detector, mode="image" if single else "video",
                      backend=args.backend, precision=args.precision, threads=args.threads,
                      mirror=args.mirror) as pipeline:
        if single:
            frame = read_image(source)
            result = pipeline.process(frame)
            print(result.to_json(), flush=True)
            if not result.faces:
                print(f"edgeaffect run: no face found in {source}; for an image that is already a face crop, "
                      "`edgeaffect explain IMAGE --crop` or edgeaffect.load('fer').predict(crop) classify it whole",
                      file=sys.stderr)
            if args.out:
                import cv2

                if not cv2.imwrite(args.out, draw(frame, result)):
                    raise ValueError(f"cannot write --out {args.out}: is its folder writable?")
            return 0
        writer = None
        try:
            for frame, timestamp, fps in video_frames(source, args.max_frames):
                result = pipeline.process(frame, timestamp)
                print(result.to_json(), flush=True)
                if args.out:
                    import cv2

                    if writer is None:
                        writer = cv2.VideoWriter(args.out, cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                                 (frame.shape[1], frame.shape[0]))
                        if not writer.isOpened():
                            raise ValueError(f"cannot write --out {args.out}: is its folder writable?")
                    writer.write(draw(frame, result))
        finally:
            if writer is not None:
                writer.release()
    return 0


def _cmd_train_fer(args: argparse.Namespace) -> int:
    from .fer.model import student_config, teacher_config
    from .fer.train import FerTrainConfig, train_fer

    if args.student_shape and args.model != "student":
        raise ValueError("--student-shape changes the Swin-SE student; drop it for --model teacher")
    if args.teacher_shape and args.model != "teacher":
        raise ValueError("--teacher-shape changes the convnet teacher being trained; add --model teacher (the teacher "
                         "a student distils from brings its own shape in its checkpoint)")
    if args.minutes is not None and args.epochs is not None:
        raise ValueError("give --epochs or --minutes (which picks the epochs that fit), not both")
    student_config(args.student_shape or "")  # a bad shape fails before the data loads
    teacher_config(args.teacher_shape or "")
    defaults = FerTrainConfig()
    config = FerTrainConfig(model=args.model, epochs=args.epochs or defaults.epochs,
                            batch_size=args.batch_size, lr=args.lr or defaults.lr, compile=args.compile, bf16=args.bf16,
                            online_teacher=args.online_teacher, student_shape=args.student_shape or "",
                            teacher_shape=args.teacher_shape or "", sam_rho=args.sam_rho, mixup=args.mixup,
                            alpha=defaults.alpha if args.kd_alpha is None else args.kd_alpha)
    report = train_fer(args.data, args.out, config, seed=args.seed, teacher=args.teacher, stop_after=args.stop_after,
                       init=args.init, device=args.device, fit_minutes=args.minutes)
    best = report["best"]
    print(f"{args.model}: {report['parameters']:,} parameters; best val accuracy {best['accuracy']:.4f} "
          f"(macro-F1 {best['macro_f1']:.4f}) at epoch {best['epoch']} of {report['config']['epochs']}; "
          f"{Path(args.out) / 'report.json'}")
    return 0


def _cmd_soup(args: argparse.Namespace) -> int:
    from .fer.soup import make_soup

    report = make_soup(args.checkpoints, args.out, data=args.data)
    print(f"soup of {len(report['soup'])} checkpoints: {Path(args.out) / 'best.pt'}")
    if report["best"] is not None:
        for ingredient in report["soup"]:
            gain = ingredient["soup_gain"]
            print(f"  {ingredient['source']}: val accuracy {ingredient['val']['accuracy']:.4f} "
                  f"(macro-F1 {ingredient['val']['macro_f1']:.4f}); the soup's gain over it {100 * gain['gain']:+.2f} "
                  f"points, 95% paired-bootstrap interval {100 * gain['ci95'][0]:+.2f} to {100 * gain['ci95'][1]:+.2f}")
        start = report["start"] or {}
        if "soup_gain" in start:
            gain = start["soup_gain"]
            print(f"  the start the fine-tunes share, {start['path']}: val accuracy {start['val']['accuracy']:.4f}; "
                  f"the soup's gain over it {100 * gain['gain']:+.2f} points, 95% paired-bootstrap interval "
                  f"{100 * gain['ci95'][0]:+.2f} to {100 * gain['ci95'][1]:+.2f}")
        print(f"  soup: val accuracy {report['best']['accuracy']:.4f} (macro-F1 {report['best']['macro_f1']:.4f})")
    return 0


def _parse_vad(items) -> dict:
    out = {}
    for item in items or ():
        name, _, values = item.partition("=")
        try:
            v = tuple(float(x) for x in values.split(","))
        except ValueError:
            v = ()
        if not name or len(v) != 3:
            raise ValueError(f"--vad {item!r}: write NAME=V,A,D with three numbers in [0, 1], e.g. awe=0.469,0.74,0.3")
        out[name.strip().lower()] = v
    return out


def _cmd_train_explain(args: argparse.Namespace) -> int:
    from .explain.rationale import ALIGNMENT_SHIFTS, NO_SHIFT
    from .explain.train import ExplainTrainConfig, train_explainer

    defaults = ExplainTrainConfig()
    config = ExplainTrainConfig(epochs=args.epochs or defaults.epochs, batch_size=args.batch_size,
                                lr=args.lr or defaults.lr, finetune_vision=args.finetune_vision,
                                backbone_kind=args.backbone_kind, evidence_hidden=args.evidence_hidden,
                                text_pretrain_epochs=args.text_pretrain_epochs,
                                rationale_shifts=ALIGNMENT_SHIFTS if args.rationale == "aligned" else NO_SHIFT)
    report = train_explainer(args.out, config, seed=args.seed, data=args.data if not args.csv else None,
                             teacher=args.teacher, csv=args.csv, backbone=args.backbone, corpus=args.corpus,
                             extra_vad=_parse_vad(args.vad), stop_after=args.stop_after)
    best = report["best"]
    scores = ", ".join(f"{k} {v:.4f}" for k, v in best["val"].items() if isinstance(v, float))
    print(f"explainer: {report['parameters']['total']:,} parameters ({report['vision']} vision); best epoch "
          f"{best['epoch']}: {scores}; {Path(args.out) / 'report.json'}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    if args.task == "explain":
        return _cmd_train_explain(args)
    if not args.data:
        raise ValueError(f"train {args.task} needs --data")
    if args.task == "fer":
        return _cmd_train_fer(args)
    from .eeg.train import TrainConfig, cross_validate

    state = cross_validate(args.data, args.out, extra=tuple(args.extra or ()), folds=args.folds, seed=args.seed,
                           tc=TrainConfig(epochs=args.epochs or TrainConfig().epochs))
    print(f"subject-independent {args.folds}-fold results (mean +- std over folds), {Path(args.out) / 'cv.json'}:")
    for model, metrics in state["summary"].items():
        cells = [f"{k.replace('_balanced_accuracy', ' bal.acc')} {m:.3f}+-{s:.3f}" for k, (m, s) in metrics.items()
                 if k.endswith("balanced_accuracy")]
        print(f"  {model:<20} " + "  ".join(cells))
    if args.final:
        from .eeg.train import train_final

        report = train_final(args.data, args.out, extra=tuple(args.extra or ()), seed=args.seed,
                             tc=TrainConfig(epochs=args.epochs or TrainConfig().epochs), student_from=args.student_from)
        print(f"final models on all {report['subjects']} subjects ({report['n_trials']} trials; epochs "
              f"{report['epochs']}; student from {report['student_from'].replace('_', ' ')}): "
              f"{Path(args.out) / 'final'}")
    return 0


def _add_evidence_arguments(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """--evidence and --views, as `edgeaffect explain` and `edgeaffect eval explain` take them."""
    p.add_argument("--evidence", choices=("auto", "measured", "predicted"), default="auto",
                   help=f"{prefix}where the sentence's region evidence comes from: measured (the face with each region "
                        "hidden, 5 passes in one batch: the rationale teacher's occlusion), predicted (the distilled "
                        "evidence head), auto (default: the model's config.json, measured for the shipped explainer)")
    p.add_argument("--views", choices=("aligned", "single"), default=None,
                   help=f"{prefix}read the evidence from the face alone (single) or averaged over it and the shifted "
                        "copies its teacher averages over (aligned: 9 views for the shipped explainer); default: single "
                        "for measured evidence, aligned for predicted")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgeaffect", description="Emotion sensing on edge devices.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="build facts: version, compiler, SIMD, OpenMP, CUDA")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("bde", help="band differential entropy of a recording (EDF or muse-lsl CSV)")
    p.add_argument("recording", nargs="?", help=".edf or muse-lsl .csv file")
    p.add_argument("--synthetic", action="store_true", help="use 10 s of synthetic 8-channel EEG instead of a file")
    p.add_argument("--fs", type=positive(float), default=None, help="sampling rate in Hz (default: from the file)")
    p.add_argument("--window", type=positive(float), default=1.0, help="window length in seconds (default 1)")
    p.add_argument("--hop", type=positive(float), default=0.5, help="hop between windows in seconds (default 0.5)")
    p.add_argument("--bands", default="torcheeg", help="band preset: torcheeg or deap (default torcheeg)")
    p.add_argument("--order", type=positive(int), default=5, help="Butterworth order per band (default 5)")
    p.add_argument("--threads", type=positive(int), default=None, help="CPU threads (default: all cores)")
    p.add_argument("--repair-crlf", action="store_true",
                   help="repair an EDF file that was copied in text mode (a CR before every LF byte)")
    p.add_argument("--out", help="write the tokens to this .npz file")
    p.add_argument("--show", type=non_negative(int), default=8, help="channels to print (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed for --synthetic")
    p.set_defaults(func=_cmd_bde)

    from .export.profiles import available_profiles

    profiles = available_profiles()
    p = sub.add_parser("export", help="export a model for a deployment target profile",
                       description="Targets: " + "; ".join(f"{n} ({pr.description})" for n, pr in sorted(profiles.items())))
    p.add_argument("model", help="registered model name")
    p.add_argument("--target", required=True, help="profile name or .toml path: " + ", ".join(sorted(profiles)))
    p.add_argument("--calib", help="calibration data in the model's evaluation format (INT8 profiles)")
    p.add_argument("--val", help="validation data for export checks and the accuracy gate (default: --calib)")
    p.add_argument("--out", help="output folder (default ./edgeaffect-export/MODEL-PROFILE)")
    p.add_argument("--weights", help="torch weights (.safetensors/.pt) instead of the model's shipped ones")
    p.add_argument("--calib-samples", type=positive(int), help="calibration samples (default: the profile's)")
    p.add_argument("--force", action="store_true", help="keep a quantised artifact that fails the accuracy gate")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("eeg", help="live valence/arousal from an EEG source, as JSON lines")
    p.add_argument("--file", help="replay a recording (.edf or muse-lsl .csv)")
    p.add_argument("--brainflow", metavar="BOARD",
                   help="a BrainFlow board: 'synthetic', a brainflow.BoardIds name (CYTON_BOARD) or its id")
    p.add_argument("--board-param", action="append", metavar="KEY=VALUE",
                   help="BrainFlow connection parameter, e.g. serial_port=/dev/ttyUSB0 (repeatable)")
    p.add_argument("--lsl", metavar="NAME", help="the LSL stream of this name (e.g. from `muselsl stream`)")
    p.add_argument("--resolve-timeout", type=positive(float), default=5.0, help="seconds to look for the LSL stream")
    p.add_argument("--max-results", type=positive(int), help="stop after this many results (live sources run until Ctrl-C)")
    p.add_argument("--model", default="eeg",
                   help="binary-heads EEG model: registered name or artifact path (default: the shipped eeg model)")
    p.add_argument("--speed", type=non_negative(float), default=1.0, help="replay speed: 1 real time, 0 as fast as possible")
    p.add_argument("--window", type=positive(float), default=1.0, help="window length in seconds (default 1)")
    p.add_argument("--hop", type=positive(float), default=0.5,
                   help="seconds between window starts (default 0.5; at most --window, or samples go unread)")
    p.add_argument("--calibration", type=positive(int), default=30,
                   help="windows (one per --hop) that learn this user's standardisation (default 30: 15 s at the "
                        "default hop)")
    p.add_argument("--context", type=non_negative(float), default=10.0, metavar="SECONDS",
                   help="feed the model the mean band power of the windows of the last SECONDS (default 10; the "
                        "shipped model learnt from 60 s trials; 0: each window alone, a noisy output)")
    p.add_argument("--fill", choices=["error", "mean"], default="error",
                   help="electrodes the device lacks: an error, or fed as 'no information'")
    p.add_argument("--backend", default="auto", help=BACKEND_HELP)
    p.add_argument("--repair-crlf", action="store_true", help="repair an EDF file copied in text mode")
    p.set_defaults(func=_cmd_eeg)

    p = sub.add_parser("run", help="faces and their expressions in an image, a video or a camera, as JSON lines")
    p.add_argument("source", nargs="?", help="an image or video file")
    p.add_argument("--camera", type=int, help="camera index (instead of a file)")
    p.add_argument("--model", default="fer", help="registered model or artifact path (default fer)")
    p.add_argument("--detector", default="auto",
                   help="'auto' (BlazeFace if mediapipe is installed, else Haar), 'blazeface', 'haar', or a YuNet .onnx file")
    p.add_argument("--backend", default="auto", help=BACKEND_HELP)
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)
    p.add_argument("--threads", type=positive(int), help=THREADS_HELP)
    p.add_argument("--mirror", action="store_true",
                   help="average each face with its mirror image: 0.25 (fp32) to 0.7 (ONNX Runtime INT8) points more "
                        "accurate for the shipped fer on FER2013 val, for two classifier calls per face (2.0-2.3x "
                        "the time at batch 1)")
    p.add_argument("--max-frames", type=positive(int), help="stop after this many video frames")
    p.add_argument("--out", help="write the annotated image or video (.mp4) here")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("train", help="train a model: eeg (subject-independent CV) or fer (FER2013 folders)")
    p.add_argument("task", choices=["eeg", "fer", "explain"], help="what to train")
    p.add_argument("--data",
                   help="eeg: band-feature CSV whose subjects are cross-validated; fer, explain: folder with train/ and val/")
    p.add_argument("--extra", action="append", help="eeg: more band-feature CSVs, used for training only")
    p.add_argument("--folds", type=positive(int), default=5, help="eeg: subject folds (default 5)")
    p.add_argument("--final", action="store_true",
                   help="eeg: after the folds, train teacher and student on every subject (for the median epoch the "
                        "folds chose) into OUT/final, ready for export/build_eeg.py")
    p.add_argument("--student-from", default="auto", choices=["auto", "labels", "teacher", "logistic_regression"],
                   help="eeg --final: what the final student learns from; auto (default) takes the one that scored "
                        "best across the folds")
    p.add_argument("--epochs", type=positive(int), default=None, help="default: eeg 60, fer 10, explain 4")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (checkpointed there; a rerun resumes)")
    p.add_argument("--model", choices=["student", "teacher"], default="student",
                   help="fer: the Swin-SE student or the convnet teacher")
    p.add_argument("--teacher", help="fer: the teacher to distil the student from: a checkpoint (best.pt), .safetensors weights, or 'fer' "
                                     "(the shipped student, for self-distillation); several, separated by commas, "
                                     "teach as an ensemble (the mean of their logits); explain: the FER "
                                     "teacher (best.pt or .onnx) whose occlusion evidence the sentences phrase")
    p.add_argument("--csv", help="explain: train on a CSV of (image, emotion, explanation) instead of --data")
    p.add_argument("--corpus", help="explain: human sentences (affection_utterances.json) for the tokenizer and "
                                    "--text-pretrain-epochs")
    p.add_argument("--text-pretrain-epochs", type=non_negative(int), default=0,
                   help="explain: text-only decoder pretraining on --corpus first (default 0)")
    p.add_argument("--finetune-vision", action="store_true",
                   help="explain: train the FER backbone too (default frozen)")
    p.add_argument("--backbone", help="explain: FER weights of the vision side (.pt checkpoint or .safetensors; default: "
                                      "--teacher's for faces, the shipped fer model's for --csv)")
    p.add_argument("--backbone-kind", choices=("convnet", "swin"),
                   help="explain: the vision architecture (default: convnet, [fer]'s teacher, for faces; swin, "
                        "[fer]'s student, for --csv)")
    p.add_argument("--evidence-hidden", type=positive(int), default=512,
                   help="explain: width of the convnet backbone's region evidence head (default 512)")
    p.add_argument("--rationale", choices=("aligned", "plain"), default="aligned",
                   help="explain: the rationale teacher's occlusion averaged over the face and its shifts by one and "
                        "two pixels along each axis (aligned, default: 45 teacher passes per face, computed once) "
                        "or one view (plain)")
    p.add_argument("--vad", action="append", metavar="NAME=V,A,D",
                   help="explain: VAD of an emotion the NRC table lacks (repeatable)")
    p.add_argument("--batch-size", type=positive(int), default=128, help="fer: images per step")
    p.add_argument("--lr", type=positive(float), default=None, help="fer: peak learning rate (default 2e-3); explain: 1e-3")
    p.add_argument("--compile", action="store_true", help="fer: torch.compile the training step (faster after a warm-up)")
    p.add_argument("--init", help="fer: start from these weights (best.pt, .safetensors, or 'fer', the shipped student); a student with "
                                   "other depths (--student-shape depths=...) keeps each stage's first blocks and "
                                   "starts added blocks as identities")
    p.add_argument("--sam-rho", type=non_negative(float), default=0.0,
                   help="fer: sharpness-aware minimisation with this radius (the seed paper's optimiser; try 0.05); "
                        "each step costs two passes (default 0: plain AdamW)")
    p.add_argument("--bf16", action="store_true", help="fer: bf16 autocast (measured slower for these models on CPUs)")
    p.add_argument("--online-teacher", action="store_true",
                   help="fer: the teacher scores every augmented view (a forward pass per step; for GPUs)")
    p.add_argument("--mixup", type=non_negative(float), default=0.0, metavar="A",
                   help="fer: mixup with Beta(A, A) on every batch (try 1.0; with a teacher, needs --online-teacher: "
                        "the teacher scores each mixed face); default 0: off")
    p.add_argument("--kd-alpha", type=float,
                   help="fer: weight of the distillation term against the hard labels (default 0.7; 1.0: the teacher only)")
    p.add_argument("--student-shape", help="fer: change the student's shape, e.g. 'dim=32,stem=24,heads=1-2-4,depths=1-2-1' "
                                           "(SwinSEConfig fields; benchmarks/bench_fer_shapes.py times candidates)")
    p.add_argument("--teacher-shape", help="fer --model teacher: change the convnet's shape, e.g. "
                                           "'widths=64-128-256-512,blocks=2-2-2-2' (ResNet-18-sized, for a GPU)")
    p.add_argument("--minutes", type=positive(float),
                   help="fer: instead of --epochs, as many epochs as fit in this many minutes (timed on a few steps "
                        "first; the report records the count, and --epochs with it repeats the run)")
    p.add_argument("--device", default="cpu", help="fer: cpu or cuda (steps and augmentation on a GPU)")
    p.add_argument("--stop-after", type=positive(int), help="fer: end this run after this epoch; rerun the command to resume")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("soup", help="fer: average the weights of fine-tunes of one model into one (a model soup)")
    p.add_argument("checkpoints", nargs="+",
                   help="two or more fine-tunes of the same start: best.pt, .safetensors, or 'fer' (the student shipped "
                        "now: once a build has shipped a soup, 'fer' is that soup)")
    p.add_argument("--out", required=True, help="folder for best.pt (a checkpoint build_fer.py and --init take) and report.json")
    p.add_argument("--data", help="folder with val/: score the soup and each ingredient there")
    p.set_defaults(func=_cmd_soup)

    from .bench import cli as bench_cli

    p = sub.add_parser("bench", help="latency, throughput, memory and accuracy of every model x backend x precision",
                       description=bench_cli.DESCRIPTION)
    bench_cli.add_arguments(p)
    p.set_defaults(func=bench_cli.run)

    p = sub.add_parser("explain", help="the emotion of every face in an image, a sentence explaining it, and the "
                                       "evidence regions with their weights")
    p.add_argument("image", help="a photo (faces are detected) or a face crop (see --crop)")
    p.add_argument("--model", default="explain", help="'explain' (shipped) or an exported explainer folder")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", help="write the image with the evidence overlay here (.png or .jpg)")
    p.add_argument("--crop", action="store_true", help="the image is one face crop (no detection)")
    p.add_argument("--teacher-check", action="store_true",
                   help="also run the rationale teacher (occlusion: 5 passes per face and alignment shift) and show its sentence")
    p.add_argument("--detector", default="auto", help="as for `edgeaffect run`")
    p.add_argument("--beams", type=positive(int), default=1, help="beam width (1: greedy)")
    p.add_argument("--emotions-from", choices=("auto", "fer", "explainer"), default="auto",
                   help="who names the emotion the sentence explains: fer (the shipped fer model, so both agree), explainer "
                        "(its own head), auto (default: fer for the shipped explainer)")
    _add_evidence_arguments(p)
    p.add_argument("--max-tokens", type=positive(int), default=30, help="tokens generated after the emotion at most")
    p.add_argument("--backend", default="onnxruntime", help="onnxruntime or openvino")
    p.add_argument("--precision", default="fp32", help="fp32, or int8 (the decoder's weights)")
    p.add_argument("--threads", type=positive(int))
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("eval", help="evaluate a model on data in its documented format")
    p.add_argument("model", help="registered model name or artifact path; 'explain' or an explainer folder "
                                 "for the explainer's scores")
    p.add_argument("--data", required=True, help="evaluation data (see the model card's format)")
    p.add_argument("--backend", default="auto", help=BACKEND_HELP)
    p.add_argument("--precision", default="auto", help=PRECISION_HELP)
    p.add_argument("--threads", type=positive(int), default=None, help=THREADS_HELP)
    p.add_argument("--batch-size", type=positive(int), default=64, help="samples per model call (default 64)")
    p.add_argument("--limit", type=positive(int), default=None, help="at most this many samples per class/file")
    p.add_argument("--usage", choices=("test", "PublicTest", "PrivateTest", "Training", "all"), default="test",
                   help="a FER2013 CSV's rows to score (its Usage column): test (default: PublicTest and "
                        "PrivateTest, never the Training rows), one split, or all")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--mirror", action="store_true",
                   help="image models: average each image with its mirror image (test-time augmentation)")
    p.add_argument("--teacher", help="explain: the FER teacher for faithfulness (default: the model's rationale-teacher.onnx)")
    p.add_argument("--beams", type=positive(int), default=1, help="explain: beam width (1: greedy)")
    p.add_argument("--emotions-from", choices=("auto", "fer", "explainer"), default="auto",
                   help="explain: who names the emotion (fer, explainer, or auto: fer for the shipped explainer)")
    _add_evidence_arguments(p, "explain: ")
    p.set_defaults(func=_cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import EdgeAffectError

    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C is how live sources (a camera, a headset) are stopped: no traceback
        print(f"edgeaffect {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `edgeaffect eeg ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, KeyError, FileNotFoundError, ImportError, EdgeAffectError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"edgeaffect {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
