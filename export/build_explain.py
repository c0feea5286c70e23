"""Builds the shipped `explain` model from a finished training run.

    edgeaffect train explain --data ../shared/data/fer2013 --teacher runs/fer-teacher/best.pt \
        --corpus ../shared/data/explanations/affection_utterances.json --out runs/explain
    python export/build_explain.py --run runs/explain --teacher runs/fer-teacher/best.pt \
        --data ../shared/data/fer2013/val [--compare NAME=RUN ...] [--notes notes.md]

1. Exports the run's best epoch (edgeaffect.explain.export): the vision and
   decoder graphs, the decoder in INT8, the numpy-side matrices, tokenizer,
   config, and the FER teacher as rationale-teacher.onnx (faithfulness on
   new data needs it), checked against torch; the OpenVINO INT8 decoder when
   OpenVINO and NNCF are installed. No torch weights: the run's best.pt is
   where further training starts.
2. Scores every backend/precision on the val split (the selection split:
   these are not held-out numbers) with the same teacher evidence; drops an
   INT8 decoder when it loses more than 1 point of faithfulness or ROUGE-L.
3. Writes MODEL_CARD.md and metrics.json beside the files, with the runs
   named by --compare (e.g. fine-tuned vision, text pretraining) side by side,
   and the card's measured history from export/explain_card_notes.md.

The emotion each sentence explains comes from the shipped `fer` model by
default (runtime.load_explainer's emotions_from); the scores have one more
row with the explainer's own emotion head, the variant the training runs
are compared on.

`--rescore` scores the graphs already shipped (no run, no checkpoint: a
fresh checkout can do it) and rewrites the card from metrics.json, e.g.
after a runtime change: python export/build_explain.py --rescore --data ../shared/data/fer2013/val
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "edgeaffect" / "models" / "artifacts" / "explain"
NOTES = Path(__file__).resolve().parent / "explain_card_notes.md"
OWN_HEAD = "onnxruntime fp32, greedy, emotion from its own head"
# the distilled evidence head instead of the measured evidence (load_explainer's evidence="predicted")
PREDICTED = "onnxruntime fp32, greedy, predicted evidence (9 views)"
FACE_ALONE = "onnxruntime fp32, greedy, predicted evidence, the face alone"
PREDICTED_OWN_HEAD = "onnxruntime fp32, greedy, predicted evidence (9 views), emotion from its own head"
KEYS = ("accuracy", "faithfulness", "exact_regions", "top_region", "bleu4", "rouge_l", "cider", "retrieval_recall_at_1")


def _row(name: str, m: dict) -> str:
    return f"| {name} | " + " | ".join(f"{m[k]:.4f}" if k in m else "-" for k in KEYS) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="the `edgeaffect train explain` output folder")
    parser.add_argument("--teacher", type=Path, help="the FER teacher checkpoint the run used")
    parser.add_argument("--data", type=Path, help="the val class folders")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=RUN",
                        help="another training run to list beside this one (its best epoch's val scores)")
    parser.add_argument("--notes", type=Path, default=NOTES, help=f"the card's Markdown history (default {NOTES.name})")
    parser.add_argument("--rescore", action="store_true",
                        help="score the shipped graphs again (needs --data only) and rewrite the card")
    parser.add_argument("--card-only", action="store_true",
                        help="rewrite MODEL_CARD.md and metrics.json from the scores already in metrics.json "
                             "(e.g. after benchmarks/bench_explain.py or another --compare run)")
    args = parser.parse_args()
    if args.card_only or args.rescore:
        old = json.loads((OUT / "metrics.json").read_text())
        report = json.loads((args.run / "report.json").read_text()) if args.run else old["training"]
        scores = old["val"]
        if args.rescore:
            if args.data is None:
                parser.error("--rescore needs --data (the val class folders)")
            from edgeaffect.fer.data import load_fer_folder

            scores = score_graphs(*load_fer_folder(args.data))
        return write_card(args, report, scores, old["int8_decoder_shipped"], old["parity"])
    if args.run is None or args.teacher is None or args.data is None:
        parser.error("a build needs --run, --teacher and --data (or --rescore / --card-only)")

    from edgeaffect.explain.export import export_explainer
    from edgeaffect.explain.runtime import DECODER_FILES
    from edgeaffect.explain.train import load_trained
    from edgeaffect.fer.data import load_fer_folder

    report = json.loads((args.run / "report.json").read_text())
    model, tokenizer = load_trained(args.run)
    images, labels = load_fer_folder(args.data)
    # The package carries the runtime's ONNX graphs only; the run's best.pt is
    # the starting point for further training (a few MB saved per install).
    openvino_int8 = all(importlib.util.find_spec(name) for name in ("nncf", "openvino"))
    if not openvino_int8:
        print("OpenVINO or NNCF missing: no OpenVINO INT8 decoder (pip install \"edgeaffect[openvino]\")", file=sys.stderr)
    parity = export_explainer(model, tokenizer, OUT, teacher=args.teacher, check_faces=images[:16], torch_weights=False,
                              openvino_int8=openvino_int8)
    (OUT / "explain.safetensors").unlink(missing_ok=True)  # from an earlier build
    print("parity (max |torch - ONNX|):", json.dumps(parity))
    if max(parity.values()) > 1e-3:
        print("export parity failed", file=sys.stderr)
        return 1
    scores = score_graphs(images, labels)
    fp32, int8_kept = scores["onnxruntime fp32, greedy"], {}
    for backend in ("onnxruntime", "openvino"):
        int8 = scores.get(f"{backend} int8 decoder, greedy")
        if int8 is None:
            continue
        int8_kept[backend] = (fp32["faithfulness"] - int8["faithfulness"] <= 0.01
                              and fp32["rouge_l"] - int8["rouge_l"] <= 0.01)
        if not int8_kept[backend]:
            (OUT / DECODER_FILES[(backend, "int8")]).unlink()
    return write_card(args, report, scores, int8_kept, parity)


def shipped_config() -> dict:
    """The shipped explainer's config.json (model spec, its rationale shifts, an evidence-head retrain)."""
    return json.loads((OUT / "config.json").read_text())


def score_graphs(images, labels) -> dict:
    """Every backend/precision in OUT (the emotion from `fer`, as at run time), and the explainer's own emotion
    head, on the same rationale-teacher evidence."""
    from edgeaffect.explain.data import ExplanationSet
    from edgeaffect.explain.decoding import DecodeConfig
    from edgeaffect.explain.evaluate import evaluate_engine
    from edgeaffect.explain.rationale import occlusion_evidence
    from edgeaffect.explain.config import ExplainerConfig
    from edgeaffect.explain.runtime import DECODER_FILES, load_explainer, load_rationale_teacher
    from edgeaffect.fer import LABELS

    spec = ExplainerConfig.from_dict(shipped_config()["model"])
    evidence = occlusion_evidence(load_rationale_teacher(OUT), images, progress=True, shifts=spec.rationale_shifts)
    data = ExplanationSet(images, labels, LABELS, evidence=evidence)
    scores = {}
    for name, backend, precision, beams, source in (
            ("onnxruntime fp32, greedy", "onnxruntime", "fp32", 1, "fer"),
            ("onnxruntime int8 decoder, greedy", "onnxruntime", "int8", 1, "fer"),
            ("openvino fp32, greedy", "openvino", "fp32", 1, "fer"),
            ("openvino int8 decoder, greedy", "openvino", "int8", 1, "fer"),
            ("onnxruntime fp32, beam 3", "onnxruntime", "fp32", 3, "fer"),
            (OWN_HEAD, "onnxruntime", "fp32", 1, "explainer"),
            (PREDICTED, "onnxruntime", "fp32", 1, "fer"),
            (FACE_ALONE, "onnxruntime", "fp32", 1, "fer"),
            (PREDICTED_OWN_HEAD, "onnxruntime", "fp32", 1, "explainer")):
        if not (OUT / DECODER_FILES[(backend, precision)]).exists():
            continue
        engine = load_explainer(OUT, backend=backend, precision=precision, threads=2, decoder_threads=2,
                                emotions_from=source, evidence="predicted" if "predicted" in name else "measured",
                                views="single" if name == FACE_ALONE else None)
        scores[name] = evaluate_engine(engine, data, decode=DecodeConfig(beams=beams), progress=True)
        print(name, json.dumps({k: round(v, 4) for k, v in scores[name].items() if isinstance(v, float)}), flush=True)
    return scores


def write_card(args, report: dict, scores: dict, int8_kept: dict, parity: dict) -> int:
    bench = sorted((ROOT / "benchmarks" / "results").glob("explain-*.json"))
    latency = [json.loads(path.read_text()) for path in bench]  # one table per machine benchmarked
    compare = {}
    for item in args.compare:
        name, _, run = item.partition("=")
        other = json.loads((Path(run) / "report.json").read_text())
        compare[name] = {"val": other["best"]["val"], "epoch": other["best"]["epoch"], "vision": other["vision"],
                         "backbone": other["model"].get("backbone", "swin"),
                         "text_pretraining": other.get("text_pretraining")}
    old = json.loads((OUT / "metrics.json").read_text()) if (OUT / "metrics.json").exists() else {}
    compare = {**old.get("compare", {}), **compare}  # runs compared before stay listed without their folders
    # the rationale teacher's accuracy: its checkpoint's, or (frozen convnet backbone) the own-head row's
    teacher_acc = (teacher_accuracy(args.teacher) if args.teacher else old.get("teacher_val_accuracy")
                   or scores.get(OWN_HEAD, scores["onnxruntime fp32, greedy"])["accuracy"])
    metrics = {"val": scores, "int8_decoder_shipped": int8_kept, "parity": parity, "training": report,
               "compare": compare, "latency": latency, "teacher_val_accuracy": teacher_acc}
    (OUT / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    (OUT / "MODEL_CARD.md").write_text(card(report, scores, compare, int8_kept, latency,
                                            args.notes.read_text() if args.notes else "", teacher_acc))
    print(f"wrote {OUT}")
    return 0


def _kept(int8_kept: dict, backend: str) -> str:
    if backend not in int8_kept:
        return "not built"
    return "shipped" if int8_kept[backend] else "not shipped: it lost more than 1 point"


def teacher_accuracy(checkpoint: Path) -> float:
    """The FER teacher's val accuracy, as train_fer stored it with its best epoch."""
    import torch

    return float(torch.load(checkpoint, map_location="cpu", weights_only=False)["val"]["accuracy"])


def card(report: dict, scores: dict, compare: dict, int8_kept: dict, latency, notes: str, teacher_acc: float) -> str:
    params = report["parameters"]
    header = "| model | " + " | ".join(KEYS) + " |\n|" + "---|" * (len(KEYS) + 1)
    rows = "\n".join(_row(name, m) for name, m in scores.items())
    # this run's row from its exported graphs (exact parity with torch), scored with the current metrics
    backbone = report["model"].get("backbone", "swin")
    this = f"shipped ({report['vision']} {backbone}, epoch {report['best']['epoch']})"
    shipped = shipped_config()
    shifts = shipped["model"].get("rationale_shifts", [[0, 0]])
    retrained = shipped.get("evidence_head")
    variants_note = ""
    if retrained:
        this = this[:-1] + ", evidence head retrained)"
    if len(shifts) > 1:
        variants_note = ("\nThe shipped row is scored against the aligned teacher; the other rows (trained before it) "
                         "against plain occlusion of their own teachers.\n")
    # training variants compare what each run learned: the evidence head's prediction, its own emotion head
    own_predicted = scores.get(PREDICTED_OWN_HEAD, scores.get(OWN_HEAD, scores["onnxruntime fp32, greedy"]))
    cmp_rows = "\n".join([_row(this, own_predicted)] +
                         [_row(f"{name} ({c['vision']} {c.get('backbone', 'swin')}, epoch {c['epoch']})", c["val"])
                          for name, c in compare.items()])
    lat = ""
    for run in latency:
        table = "\n".join(f"| {k} | {v:.2f} |" for k, v in run["median_ms"].items())
        lat += (f"\n## Latency per face ({run['tokens']} new tokens, batch 1, {run['threads']} threads)\n\n"
                f"Machine: {run['machine'].get('cpu')}, {run['machine'].get('cores')} cores; "
                f"`python benchmarks/bench_explain.py`. " + (
                    "The KV-cache rows include the `fer` call that names the emotion; one row leaves it out."
                    if any("own head" in k for k in run["median_ms"]) else
                    "Measured before `fer` named the emotion: the explainer alone.")
                + f"\n\n| pipeline | median ms |\n|---|---|\n{table}\n")
    cfg = report["model"]
    finetune_flag = "" if report["vision"] == "frozen" else " \\\n        --finetune-vision"
    if backbone != "convnet":
        finetune_flag += " --backbone-kind swin"
    elif cfg.get("evidence_hidden", 512) != 512:
        finetune_flag += f" --evidence-hidden {cfg['evidence_hidden']}"
    source = {"convnet": "the FER teacher's convnet: the very network whose occlusion the sentences phrase",
              "swin": "the shipped `fer` Swin-SE student"}[backbone]
    emotion_note = {("frozen", "convnet"): "the frozen FER teacher's own classifier, unchanged, so the emotion is the "
                                           "rationale teacher's (fp32); it differs from the `fer` student's.",
                    ("frozen", "swin"): "the frozen FER student's head, unchanged, so the emotion accuracy *is* the "
                                        "`fer` model's (fp32)."}.get(
        (report["vision"], backbone), "backbone and emotion head fine-tuned with the emotion cross-entropy beside "
                                      "the other losses.")
    teacher_run = report.get("teacher") or "runs/fer-teacher/best.pt"
    if not Path(teacher_run).is_absolute() and not teacher_run.startswith("runs/"):
        teacher_run = f"runs/{teacher_run}"  # the reports name it relative to the runs folder
    same_weights = {"convnet": "the rationale teacher's weights", "swin": "the same weights as `fer`"}[backbone]
    passes = (shipped["model"].get("regions", 4) + 1) * len(shifts)
    if len(shifts) > 1:
        reach = max(abs(int(v)) for shift in shifts for v in shift)
        alignment = (f" The evidence is averaged over the face and {len(shifts) - 1} copies of it translated by "
                     + ("one pixel" if reach == 1 else f"up to {reach} pixels") +
                     " (`rationale_shifts` in config.json; edgeaffect/explain/rationale.py), because plain "
                     "occlusion depends on where the region boxes fall to the pixel: the card's history has the "
                     "measurement.")
    else:
        alignment = ""
    head_step = ""
    if retrained:
        head_step = (f"\n- Evidence head: retrained after the run against this teacher's evidence "
                     f"(`{retrained['script']}`, {retrained['epochs']} epochs at lr {retrained['lr']}, seed "
                     f"{retrained['seed']}" + (f", on the training faces and copies of them scored by the teacher itself: "
                                               f"{', '.join(retrained['augment'])}" if retrained.get("augment") else "")
                     + f"; best epoch {retrained['best_epoch']} by the val faithfulness of the sentence rule on "
                     f"the head's output{' averaged over the views' if retrained.get('selection_views', 1) > 1 else ''}: "
                     f"{retrained['val_faithfulness_before']:.3f} -> {retrained['val_faithfulness']:.3f}); the "
                     "backbone, the other heads and the decoder are the run's.")
    regions = shipped["model"].get("regions", 4)
    views_step = (f"- Evidence at run time: by default the explainer *measures* it (`load_explainer(evidence=\"measured\")`, "
                  f"`--evidence measured`): the face and {regions} copies of it, each with one region hidden, go through "
                  f"the vision graph in one batch ({regions + 1} passes), and a region's evidence is the drop in the "
                  "emotion head's log-probability, the teacher's own measurement on the face alone (the backbone and "
                  "emotion head are the teacher's). The decoder phrases that evidence. The distilled evidence head "
                  "predicts it instead (`evidence=\"predicted\"`, `--evidence predicted`): the 'predicted evidence' "
                  "rows of the scores and latency tables")
    if len(shifts) > 1:
        views_step += (f", read from the face and the {len(shifts) - 1} shifted copies its teacher averages over, "
                       "averaged, in one batched vision call (`views=\"aligned\"`, its default), or from the face alone "
                       "(`views=\"single\"`)")
    views_step += ".\n"
    retrain_cmd = ""
    if retrained:
        flags = f"--epochs {retrained['epochs']} " if retrained["epochs"] != 30 else ""
        flags += f"--augment {','.join(retrained['augment'])} " if retrained.get("augment") else ""
        retrain_cmd = ("\n    python export/retrain_explain_evidence.py --data ../shared/data/fer2013 --work runs/explain-aligned "
                       f"{flags}--write\n    python export/build_explain.py --rescore --data ../shared/data/fer2013/val")
    return f"""# Model card: `explain` (face explainer, v1.0)

An emotion and a one-sentence explanation for a 48x48 grey face crop, with
the facial regions that carry the evidence and their weights. A small
SEVLM-style vision-language model ("Training A Small Emotional Vision
Language Model for Visual Art Comprehension"): a FER backbone
({source}; {report['vision']} in training), an emotion head, a VAD head, an evidence
head, a contrastive head, and a {cfg['layers']}-layer GPT decoder (d = {cfg['d']},
{cfg['heads']} heads) whose token embeddings are fused with the named emotion's
valence-arousal-dominance vector (Linear(d + 3 -> d), as SEVLM).

- Parameters: {params['total']:,} in all; {params['vision']:,} in the backbone ({same_weights if report['vision'] == 'frozen' else 'fine-tuned'}),
  {params['text_and_heads']:,} in the heads and the decoder. Tokenizer: byte-level BPE,
  {cfg['vocab_size']} ids, trained on the teacher's sentences and the 8,422 human explanations.
- VAD per emotion: NRC VAD Lexicon v1 (Mohammad, ACL 2018); see edgeaffect/explain/vocabulary.py.

## What the sentences mean

No image-explanation data exists for faces here, and invented text would
teach the model to hallucinate. The training targets come from a rationale
teacher that measures evidence on each face: the FER teacher (convnet,
{teacher_acc:.1%} val accuracy) is run on the face and on the face with each of four
regions (brows, eyes, nose and cheeks, mouth and chin) filled with the
face's mean grey; a region's evidence for an emotion is the drop in the
emotion's log-probability.{alignment} The sentence names the strongest region, and the
second when it carries at least half as much, with a fixed cue phrase per
(emotion, region) grounded in FACS action units (edgeaffect/explain/vocabulary.py),
e.g. "Happy: the raised corners of the mouth and the lifted cheeks carry most
of the evidence." The student learns to phrase in a short decode what the
teacher measures with {passes} passes. Its evidence head learns to predict
that evidence in one pass; by default, though, the explainer measures the
evidence on the face alone ({regions + 1} passes), which names the teacher's regions
more often than the head does (the scores below).

A sentence is therefore a statement about *the teacher's* evidence, which
is only as good as a {teacher_acc:.1%}-accurate classifier's use of the face; it is not
a statement of what a person feels.

## Data and protocol

- Train: FER2013 train folders ({report['train_faces']:,} faces); the sentence explains the label's
  emotion for half the faces and the backbone classifier's prediction for the other half (at run time
  the model explains what it predicts).{head_step}
{views_step}- Selection: the epoch with the best val faithfulness on FER2013 val ({report['val_faces']:,} faces).
  The scores below are on that same val split: selection data, not held-out data.
- Emotion: by default the shipped `fer` model names the emotion the sentence explains (`load_explainer(...,
  emotions_from="fer")`, loaded as `edgeaffect.load("fer")` loads it), so an app that runs both sees one emotion per
  face and the explainer's accuracy is fer's; the evidence is then measured (or predicted) for fer's emotion, which the
  backbone did not pick on some faces. The explainer's own emotion head (`emotions_from="explainer"`,
  `--emotions-from explainer`): {emotion_note} Both are in the table below.
- Text scores compare the student's sentence with the teacher's sentence for the emotion the student
  names. faithfulness: the k regions named are the teacher's k strongest; exact_regions: the same
  regions as the teacher's sentence; top_region: the first region named is the teacher's strongest.
  Retrieval: the contrastive head ranks the val set's distinct teacher sentences for each face.

## Scores (FER2013 val)

{header}
{rows}

INT8 decoders, shipped when within 1 point of fp32 in faithfulness and ROUGE-L:
- ONNX Runtime (dynamic quantisation of the MatMul weights and activations): {_kept(int8_kept, 'onnxruntime')}.
- OpenVINO (weight-only INT8 from NNCF; OpenVINO runs the dynamic-quantisation graph 1.7x slower than fp32): {_kept(int8_kept, 'openvino')}.

## Training variants (val, best epoch)

{header}
{cmp_rows}
{variants_note}{lat}
{notes}
## Reproduce

    edgeaffect train explain --data ../shared/data/fer2013 --teacher {teacher_run} \\
        --corpus ../shared/data/explanations/affection_utterances.json --out runs/explain --seed {report['seed']}{finetune_flag}
    python export/build_explain.py --run runs/explain --teacher {teacher_run} --data ../shared/data/fer2013/val{retrain_cmd}
    edgeaffect eval explain --data ../shared/data/fer2013/val
"""


if __name__ == "__main__":
    raise SystemExit(main())
