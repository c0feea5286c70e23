"""Does fine-tuning the explainer's backbone for the evidence raise faithfulness?

The shipped explainer reads the rationale teacher's evidence from the frozen
FER teacher's feature maps (edgeaffect/explain/vision.py). This probe
rebuilds that backbone and the evidence head in torch from the shipped
vision graph (its BatchNorms are folded into the convolutions; they come back
as identity statistics plus the folded bias, checked against the graph),
fine-tunes both on FER2013 train against the rationale teacher's occlusion
evidence (the recipe's loss: MSE + cross-entropy on the strongest region),
and scores the sentence rule on the predicted evidence on val for the
emotion the shipped `fer` model names: the faithfulness of the explanation.
`--keep W` adds an MSE that keeps the prefix tokens (the decoder's input)
where they were; the probe reports their drift and how often the backbone's
own emotion head still agrees with the frozen one, which decide whether
the tuned weights could replace the shipped ones without retraining the
decoder. `--write` saves such a vision graph (same initializer names).

    python export/probe_explain_backbone.py --data ../shared/data/fer2013 --epochs 3
    # session 13, 2-core AMD EPYC, seed 0, lr 1e-4 / 3e-4, no --keep, ~10 min per epoch:
    # val faithfulness 0.809 -> 0.802, 0.810, 0.812 (the selection noise is about 0.007)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VISION = ROOT / "edgeaffect" / "models" / "artifacts" / "explain" / "explain-vision.onnx"


def conv_bn_pairs(encoder):
    """(convolution, its BatchNorm, the graph's name for the folded weight) of the convnet backbone."""
    import torch

    net = encoder.net
    yield net.stem[0], net.stem[1], "model.vision.net.stem.0.weight"
    for i, layer in enumerate(net.layers):
        prefix = f"model.vision.net.layers.{i}."
        yield layer.conv1, layer.bn1, prefix + "conv1.weight"
        yield layer.conv2, layer.bn2, prefix + "conv2.weight"
        if not isinstance(layer.skip, torch.nn.Identity):
            yield layer.skip[0], layer.skip[1], prefix + "skip.0.weight"


def rebuild_vision(path: Path):
    """(encoder, evidence head, emotion head weights) in torch from the shipped vision graph."""
    import onnx
    import torch
    from onnx import numpy_helper

    from edgeaffect.explain.vision import ConvEncoder, RegionEvidenceHead
    from edgeaffect.fer.model import TEACHER

    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(str(path)).graph.initializer}
    encoder, head = ConvEncoder(TEACHER, 48, 4), RegionEvidenceHead(TEACHER, 48, 7, 4)

    def unfold(conv, bn, name):  # y = conv(x) * 1 + folded bias, with the running statistics at identity
        conv.weight.data.copy_(weights[name])
        bn.weight.data.fill_(1.0)
        bn.bias.data.copy_(weights[name + "_bias"])
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)

    for conv, bn, name in conv_bn_pairs(encoder):
        unfold(conv, bn, name)
    head.load_state_dict({k.removeprefix("model.evidence_head."): v for k, v in weights.items()
                          if k.startswith("model.evidence_head.") and "weights" not in k}, strict=False)
    return encoder, head, (weights["model.emotion_head.weight"], weights["model.emotion_head.bias"])


def write_vision(encoder, head, source: Path, target: Path) -> None:
    """The shipped vision graph with the tuned backbone and head (BatchNorm folded back in)."""
    import onnx
    import torch
    from onnx import numpy_helper

    new = {}

    def fold(conv, bn, name):
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        new[name] = (conv.weight * scale[:, None, None, None]).detach().numpy()
        new[name + "_bias"] = (bn.bias - bn.running_mean * scale).detach().numpy()

    for conv, bn, name in conv_bn_pairs(encoder):
        fold(conv, bn, name)
    new.update({"model.evidence_head." + k: v.detach().numpy() for k, v in head.state_dict().items() if "weights" not in k})
    model = onnx.load(str(source))
    for init in model.graph.initializer:
        if init.name in new:
            init.CopyFrom(numpy_helper.from_array(new.pop(init.name).astype(np.float32), init.name))
    if new:
        raise ValueError(f"{source} has no initializers {sorted(new)}: it is not the convnet explainer's vision graph")
    onnx.save(model, str(target))


def main() -> None:
    import onnxruntime as ort
    import torch
    from torch.nn import functional as F
    from tqdm.auto import tqdm

    import edgeaffect
    from edgeaffect.explain import metrics
    from edgeaffect.explain.engine import normalize_faces
    from edgeaffect.explain.rationale import occlusion_evidence
    from edgeaffect.explain.runtime import load_rationale_teacher
    from edgeaffect.explain.vocabulary import ranked_regions
    from edgeaffect.fer.data import load_fer_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="FER2013 folder with train/ and val/")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr-backbone", type=float, default=1e-4)
    parser.add_argument("--lr-head", type=float, default=3e-4)
    parser.add_argument("--keep", type=float, default=0.0, help="weight of the prefix-token MSE (0: free)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", type=Path, help="save the best epoch's vision graph here")
    parser.add_argument("--limit", type=int, help="images per class (a quick check of the script)")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    encoder, head, (emotion_w, emotion_b) = rebuild_vision(VISION)
    x_train, _ = load_fer_folder(args.data / "train", limit=args.limit)
    x_val, _ = load_fer_folder(args.data / "val", limit=args.limit)
    session = ort.InferenceSession(str(VISION), providers=["CPUExecutionProvider"])
    sample = normalize_faces(x_val[:64])
    encoder.eval(), head.eval()
    with torch.no_grad():
        rebuilt = head(encoder(torch.from_numpy(sample))).numpy()
    shipped = session.run(["evidence"], {session.get_inputs()[0].name: sample})[0]
    print(f"rebuilt vs shipped graph: max |evidence difference| {np.abs(rebuilt - shipped).max():.2e}", flush=True)
    teacher = load_rationale_teacher()
    target_train = torch.from_numpy(np.clip(occlusion_evidence(teacher, x_train, progress=True), -3, 3))
    target_val = occlusion_evidence(teacher, x_val)
    fer_emotion = edgeaffect.load("fer", backend="onnxruntime").predict(x_val).probabilities.argmax(1)

    def run(images, what):
        encoder.eval(), head.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(images), 512):
                feats = encoder(torch.from_numpy(normalize_faces(images[start:start + 512])))
                out.append(head(feats) if what == "evidence" else feats["tokens"])
        return torch.cat(out)

    def faithfulness():
        rows = run(x_val, "evidence").numpy()[np.arange(len(x_val)), fer_emotion]
        teacher_rows = target_val[np.arange(len(x_val)), fer_emotion]
        return metrics.faithfulness([ranked_regions(r) for r in rows], teacher_rows)

    tokens_val = run(x_val, "tokens")
    tokens_train = run(x_train, "tokens") if args.keep else None
    best = faithfulness()
    print(f"epoch 0: val faithfulness {best:.4f}", flush=True)
    inputs = torch.from_numpy(normalize_faces(x_train))
    opt = torch.optim.AdamW([{"params": encoder.parameters()}, {"params": head.parameters()}], weight_decay=0.05)
    batch = 128
    steps = len(inputs) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr_backbone, args.lr_head],
                                                total_steps=args.epochs * steps, pct_start=0.1)
    for epoch in range(1, args.epochs + 1):
        encoder.eval(), head.train()  # BatchNorm keeps the teacher's statistics; the head's dropout trains
        order, started = torch.randperm(len(inputs)), time.time()
        for step in tqdm(range(steps), desc=f"epoch {epoch}/{args.epochs}"):
            idx = order[step * batch:(step + 1) * batch]
            feats = encoder(inputs[idx])
            pred, target = head(feats), target_train[idx]
            loss = F.mse_loss(pred, target) + F.cross_entropy(pred.reshape(-1, 4), target.argmax(-1).reshape(-1))
            if args.keep:
                loss = loss + args.keep * F.mse_loss(feats["tokens"], tokens_train[idx]) / tokens_train[idx].pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        score = faithfulness()
        tokens = run(x_val, "tokens")
        drift = float(((tokens - tokens_val) ** 2).mean() / (tokens_val ** 2).mean())
        agree = float(((tokens.mean(1) @ emotion_w.T + emotion_b).argmax(1)
                       == (tokens_val.mean(1) @ emotion_w.T + emotion_b).argmax(1)).float().mean())
        print(f"epoch {epoch}: val faithfulness {score:.4f}; prefix-token drift {drift:.4f}; own emotion agrees with the "
              f"frozen backbone's on {agree:.4f}; {time.time() - started:.0f} s", flush=True)
        if score > best and args.write:
            write_vision(encoder, head, VISION, args.write)
        best = max(best, score)
    print(f"best val faithfulness {best:.4f}")


if __name__ == "__main__":
    main()
