"""`edgeaffect train explain`: the explainer distilled from the rationale teacher
(FER2013 folders), or trained on a user's CSV of explanations.

- Targets (faces): for face i and emotion c, the rationale teacher's sentence
  render_rationale(c, evidence[i, c]), where evidence comes from occlusion of
  a FER teacher, averaged over one-pixel alignment shifts of the face
  (edgeaffect.explain.rationale; `--rationale plain` for one view; computed
  once, cached in OUT/evidence_<split>.npz). The emotion is the label for half the faces
  and the backbone classifier's own prediction for the other half: at run time the
  explainer explains the emotion it predicts, right or wrong, so it must
  phrase the evidence of any emotion.
- Losses: next-token cross-entropy on the sentence (teacher forcing, the
  evidence token taken from the teacher) + evidence head MSE to the
  teacher's evidence (all emotions, clipped to +-3) + a cross-entropy that
  the head's strongest region is the teacher's + VAD head MSE to the NRC
  VAD of the sentence's emotion + contrastive InfoNCE (image <-> sentence,
  sentences identical in text count as the same positive; image <-> emotion)
  + emotion cross-entropy when the vision side is trained.
- Vision: faces use [fer]'s convnet teacher as the backbone by default (the
  network whose occlusion the sentences phrase; its weights are --teacher's),
  a CSV uses [fer]'s Swin-SE student (the shipped fer weights); --backbone
  names other weights, --backbone-kind the other architecture. Frozen
  (default; the backbone's features are computed once, and the emotion head
  keeps the FER classifier's weights, so the emotion is that model's
  exactly) or fine-tuned (--finetune-vision: the backbone at a 10x lower
  learning rate, with the emotion loss).
- Model selection on the val split only: the epoch with the best val
  faithfulness (faces) or ROUGE-L (CSV), greedy decoding.
- Seeded; OUT/last.pt after every epoch (a rerun resumes), OUT/best.pt,
  OUT/report.json; progress bars.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from ..fer.train import _atomic, normalize
from .config import ExplainerConfig
from .data import ExplanationSet, load_explanation_csv, load_human_explanations
from .rationale import ALIGNMENT_SHIFTS, occlusion_evidence, render_rationale
from .tokenizer import PAD, BPETokenizer
from .vocabulary import CUES, REGIONS, prompt, render, vad_of

EVIDENCE_CLIP = 3.0


@dataclass(frozen=True)
class ExplainTrainConfig:
    epochs: int = 4
    batch_size: int = 128
    lr: float = 1e-3
    vision_lr_scale: float = 0.1
    weight_decay: float = 0.01
    finetune_vision: bool = False
    backbone_kind: Optional[str] = None  # None: "convnet" for faces, "swin" for a CSV
    evidence_hidden: int = 512
    predicted_share: float = 0.5
    vocab_size: int = 1024
    text_pretrain_epochs: int = 0
    d: int = 128
    layers: int = 4
    heads: int = 4
    ff: int = 512
    loss_evidence: float = 1.0
    loss_vad: float = 0.5
    loss_contrastive: float = 0.2
    loss_emotion: float = 1.0
    val_limit: Optional[int] = None  # faces decoded per validation (None: all)
    # the rationale teacher's alignment averaging (edgeaffect.explain.rationale): the face and its shifts by one
    # and two pixels along each axis; NO_SHIFT is plain occlusion (explainers trained before session 19)
    rationale_shifts: tuple[tuple[int, int], ...] = ALIGNMENT_SHIFTS


def teacher_classifier(path: str | Path) -> Callable[[np.ndarray], np.ndarray]:
    """A FER classifier for the rationale teacher from a train_fer checkpoint
    (.pt) or an ONNX file; it takes faces in [0, 1] (N, 1, 48, 48)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--teacher {path} does not exist: give a FER teacher checkpoint (best.pt from "
                                "`edgeaffect train fer --model teacher`) or an exported .onnx")
    if path.suffix == ".onnx":
        from .runtime import onnx_face_classifier

        return onnx_face_classifier(path)
    from ..fer.train import load_checkpoint_model

    model = load_checkpoint_model(path)

    def classify(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model((torch.from_numpy(x) - 0.5) / 0.25).numpy()

    return classify


def cached_evidence(images: np.ndarray, teacher: str | Path, cache: Path, progress: bool,
                    shifts: Sequence[Sequence[int]] = ALIGNMENT_SHIFTS) -> np.ndarray:
    """The rationale teacher's evidence for these faces, cached per (teacher file, images, shifts)."""
    key = (hashlib.sha256(Path(teacher).read_bytes()).hexdigest()[:16] + hashlib.sha256(images.tobytes()).hexdigest()[:16]
           + hashlib.sha256(repr([tuple(s) for s in shifts]).encode()).hexdigest()[:8])
    if cache.exists():
        with np.load(cache) as data:
            if str(data["key"]) == key:
                return data["evidence"]
    evidence = occlusion_evidence(teacher_classifier(teacher), images, progress=progress, shifts=shifts)
    np.savez(cache, evidence=evidence, key=np.array(key))
    return evidence


def teacher_sentences() -> list[str]:
    """Every sentence the rationale teacher can say (emotion x no, one or two regions)."""
    out = []
    for emotion in CUES:
        out.append(render(emotion, []))
        for a in range(len(REGIONS)):
            out.append(render(emotion, [a]))
            out.extend(render(emotion, [a, b]) for b in range(len(REGIONS)) if b != a)
    return out


def build_tokenizer(texts: list[str], human: list[str], vocab_size: int) -> BPETokenizer:
    # The fixed sentences weigh as much as the human corpus, so their words become single tokens.
    repeat = max(1, len(human) // max(1, len(texts)))
    return BPETokenizer.train(texts * repeat + human, vocab_size=vocab_size)


class _TextCache:
    def __init__(self, tokenizer: BPETokenizer, max_text: int):
        self.tokenizer, self.max_text, self.ids = tokenizer, max_text, {}

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) ids [<bos> text <eos>] padded with <pad>, and lengths."""
        rows = []
        for t in texts:
            if t not in self.ids:
                self.ids[t] = self.tokenizer.encode(t, bos=True, eos=True)[: self.max_text]
            rows.append(self.ids[t])
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), PAD, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        return ids, torch.tensor([len(r) for r in rows])


def _backbone_pass(model, images: np.ndarray, keep: bool, batch: int = 512
                   ) -> tuple[np.ndarray, Optional[dict[str, torch.Tensor]]]:
    """The backbone classifier's prediction for every image, and (keep: a
    frozen backbone) its features, which the heads then read from memory."""
    model.eval()
    predicted, parts = [], {}
    with torch.inference_mode():
        for s in range(0, len(images), batch):
            feats = model.vision(normalize(torch.from_numpy(images[s:s + batch])))
            predicted.append(model.emotion_head(feats["tokens"].mean(1)).argmax(1).numpy())
            if keep:
                for k, v in feats.items():
                    parts.setdefault(k, []).append(v)
    return np.concatenate(predicted), ({k: torch.cat(v) for k, v in parts.items()} if keep else None)


def _backbone_state(path: Path) -> dict[str, torch.Tensor]:
    """A FER model's state dict from a train_fer checkpoint (.pt) or safetensors weights."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    if path.suffix == ".pt":
        from ..fer.train import load_checkpoint_model

        return load_checkpoint_model(path).state_dict()
    raise ValueError(f"backbone weights {path} must be a train_fer checkpoint (.pt) or .safetensors; "
                     "an exported .onnx cannot be trained: give --backbone the checkpoint")


def _contrastive(model, pooled, ids, lengths, vad, texts, classes) -> torch.Tensor:
    img = model.image_embedding(pooled)
    txt = model.text_embedding(ids, lengths, vad)
    scale = model.logit_scale.exp().clamp(max=100)
    same = torch.tensor([[a == b for b in texts] for a in texts], dtype=torch.float32)
    targets = same / same.sum(1, keepdim=True)
    sim = scale * img @ txt.t()
    loss = -(targets * F.log_softmax(sim, 1)).sum(1).mean() - (targets * F.log_softmax(sim.t(), 1)).sum(1).mean()
    emo = scale * img @ model.emotion_embedding().t()
    return loss / 2 + F.cross_entropy(emo, classes)


def _pretrain_text(model, tokens: _TextCache, pairs, emotions_vad: dict, epochs: int, batch: int, seed: int,
                   progress: bool) -> list[float]:
    """Text-only language-model pretraining of the decoder on human sentences (no image prefix)."""
    from tqdm.auto import tqdm

    params = [p for n, p in model.named_parameters() if n.startswith(("token_embed", "vad_fuse", "pos_embed", "blocks", "norm"))]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    texts = [f"{prompt(e)} {t}" for e, t in pairs]
    vads = torch.tensor(np.stack([emotions_vad[e] for e, _ in pairs]))
    losses = []
    model.train()
    for epoch in range(epochs):
        order = np.random.default_rng((seed, 99, epoch)).permutation(len(texts))
        total = 0.0
        for start in tqdm(range(0, len(order), batch), desc=f"text pretraining {epoch + 1}/{epochs}", disable=not progress):
            idx = order[start:start + batch]
            ids, _ = tokens([texts[i] for i in idx])
            logits, _, _ = model.decode(model.embed_text(ids[:, :-1], vads[idx]))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), ignore_index=PAD)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / len(order))
    return losses


def _atomic_save(obj, path: Path) -> None:
    _atomic(lambda handle: torch.save(obj, handle), path)


def train_explainer(out: str | Path, config: ExplainTrainConfig = ExplainTrainConfig(), seed: int = 0,
                    data: Optional[str | Path] = None, teacher: Optional[str | Path] = None,
                    csv: Optional[str | Path] = None, backbone: Optional[str | Path] = None,
                    corpus: Optional[str | Path] = None, extra_vad: Optional[dict] = None,
                    progress: bool = True, limit: Optional[int] = None, stop_after: Optional[int] = None) -> dict:
    """Trains the explainer; writes OUT/{best,last}.pt, tokenizer.json, report.json; returns the report.

    Faces: `data` holds FER2013-style train/ and val/ class folders, `teacher`
    the FER teacher whose occlusion evidence the sentences phrase. CSV: `csv`
    (image, emotion, explanation); 10% of its rows (seeded) are the val split.
    `backbone`: the FER weights of the vision side (default: the teacher's
    for faces, the shipped fer model's for a CSV).
    `corpus`: human sentences (affection_utterances.json) for the tokenizer
    and, with text_pretrain_epochs > 0, text-only decoder pretraining.

    Example (faces; a few minutes per epoch on two cores):
        >>> train_explainer("runs/explain", data="../shared/data/fer2013",
        ...                 teacher="runs/fer-teacher/best.pt")          # doctest: +SKIP
    """
    from tqdm.auto import tqdm

    from ..fer import LABELS
    from ..fer.data import load_fer_folder
    from .evaluate import evaluate_engine
    from .model import Explainer, load_fer_backbone, parameter_counts, torch_engine

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if (data is None) == (csv is None):
        raise ValueError("give either --data (FER2013 folders, with --teacher) or --csv (image, emotion, explanation)")
    if data is not None:
        if teacher is None:
            raise ValueError("--data needs --teacher: the FER teacher checkpoint whose occlusion evidence is phrased")
        data = Path(data)
        for split in ("train", "val"):
            if not (data / split).is_dir():
                raise FileNotFoundError(f"{data / split} is missing: --data must hold train/<class>/ and val/<class>/")
        sets = {}
        for split in ("train", "val"):
            x, y = load_fer_folder(data / split, limit=limit)
            ev = cached_evidence(x, teacher, out / f"evidence_{split}.npz", progress, config.rationale_shifts)
            sets[split] = ExplanationSet(x, y, LABELS, evidence=ev)
        emotions, regions = LABELS, len(REGIONS)
        fixed_texts = teacher_sentences()
    else:
        full = load_explanation_csv(csv)
        if len(full) < 4:
            raise ValueError(f"{csv}: {len(full)} rows; training needs at least 4 (10% of them are held out)")
        order = np.random.default_rng(seed).permutation(len(full))
        n_val = max(1, len(full) // 10)
        sets = {"train": full.subset(order[n_val:]), "val": full.subset(order[:n_val])}
        emotions, regions = full.emotions, 0
        fixed_texts = [f"{prompt(full.emotions[c])} {t}" for c, t in zip(full.labels, full.texts)]
    vad_table = vad_of(emotions, extra_vad)

    human = load_human_explanations(corpus) if corpus else []
    tok_path = out / "tokenizer.json"
    if tok_path.exists():
        tokenizer = BPETokenizer.load(tok_path)
    else:
        tokenizer = build_tokenizer(fixed_texts, [t for _, t in human], config.vocab_size)
        tokenizer.save(tok_path)
    kind = config.backbone_kind or ("convnet" if data is not None else "swin")
    cfg = ExplainerConfig(emotions=tuple(emotions), vocab_size=tokenizer.vocab_size, regions=regions, d=config.d,
                          layers=config.layers, heads=config.heads, ff=config.ff, backbone=kind,
                          evidence_hidden=config.evidence_hidden,
                          rationale_shifts=tuple(map(tuple, config.rationale_shifts)) if regions else ((0, 0),),
                          extra_vad={k: tuple(v) for k, v in (extra_vad or {}).items()})
    model = Explainer(cfg)
    if backbone:
        backbone = Path(backbone)
    elif kind == "convnet":
        if teacher is None:
            raise ValueError("the convnet backbone is [fer]'s teacher: give its checkpoint with --backbone")
        backbone = Path(teacher)
    else:
        backbone = _shipped_backbone()
    load_fer_backbone(model, _backbone_state(backbone), LABELS)
    tokens = _TextCache(tokenizer, cfg.max_text)

    frozen = not config.finetune_vision
    emotion_trainable = not (frozen and tuple(emotions) == tuple(LABELS))
    for p in model.vision.parameters():
        p.requires_grad = not frozen
    for p in model.emotion_head.parameters():
        p.requires_grad = emotion_trainable
    train, val = sets["train"], sets["val"]
    # The backbone classifier's own predictions: the emotions explained at run time.
    predicted, cached = _backbone_pass(model, train.images, keep=frozen)

    vision_params = [p for p in model.vision.parameters() if p.requires_grad]
    other = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("vision.")]
    groups = [{"params": other, "lr": config.lr}]
    if vision_params:
        groups.append({"params": vision_params, "lr": config.lr * config.vision_lr_scale})
    opt = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    steps_per_epoch = (len(train) + config.batch_size - 1) // config.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                total_steps=config.epochs * steps_per_epoch, pct_start=0.1)

    report = {"task": "explain", "source": str(data or csv), "teacher": str(teacher) if teacher else None,
              "backbone": str(backbone), "seed": seed, "config": asdict(config), "model": cfg.as_dict(),
              "parameters": parameter_counts(model), "train_faces": len(train), "val_faces": len(val),
              "vision": "frozen" if frozen else "fine-tuned", "history": [], "best": None}
    start_epoch = 0
    last = out / "last.pt"
    if last.exists():
        state = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        report = state["report"]
        start_epoch = state["epoch"]
    elif config.text_pretrain_epochs and human:
        human_vad = {e: vad_of([e], extra_vad)[0] for e in {e for e, _ in human}}
        report["text_pretraining"] = {"sentences": len(human), "epochs": config.text_pretrain_epochs,
                                      "loss": _pretrain_text(model, tokens, human, human_vad, config.text_pretrain_epochs,
                                                             config.batch_size, seed, progress)}

    for epoch in range(start_epoch, config.epochs):
        rng = np.random.default_rng((seed, epoch))
        torch.manual_seed(seed * 1000 + epoch)
        order = rng.permutation(len(train))
        use_predicted = rng.random(len(train)) < config.predicted_share
        model.train()
        if frozen:
            model.vision.eval()
        t0, sums, n_seen = time.time(), {}, 0
        bar = tqdm(range(steps_per_epoch), desc=f"explain epoch {epoch + 1}/{config.epochs}", disable=not progress)
        for b in bar:
            idx = order[b * config.batch_size:(b + 1) * config.batch_size]
            labels = torch.from_numpy(train.labels[idx])
            if train.evidence is not None:
                classes = np.where(use_predicted[idx], predicted[idx], train.labels[idx])
                ev_rows = train.evidence[idx, classes]
                texts = [render_rationale(emotions[c], r).text for c, r in zip(classes, ev_rows)]
            else:
                classes = train.labels[idx]
                texts = [f"{prompt(emotions[c])} {train.texts[i]}" for c, i in zip(classes, idx)]
            classes_t = torch.from_numpy(classes)
            feats = ({k: v[idx] for k, v in cached.items()} if frozen
                     else model.vision(normalize(torch.from_numpy(train.images[idx]))))
            heads = model.heads(feats)
            vad = torch.from_numpy(vad_table[classes])
            ids, lengths = tokens(texts)
            ev_token = torch.from_numpy(ev_rows).float() if regions else None
            prefix = model.prefix(feats["tokens"], ev_token)
            seq = torch.cat([prefix, model.embed_text(ids[:, :-1], vad)], dim=1)
            logits, _, _ = model.decode(seq)
            text_logits = logits[:, prefix.shape[1]:]
            losses = {"text": F.cross_entropy(text_logits.reshape(-1, text_logits.shape[-1]), ids[:, 1:].reshape(-1),
                                              ignore_index=PAD)}
            losses["vad"] = config.loss_vad * F.mse_loss(heads["vad"], vad)
            if regions:
                target = torch.from_numpy(np.clip(train.evidence[idx], -EVIDENCE_CLIP, EVIDENCE_CLIP))
                pred = heads["evidence"]
                losses["evidence"] = config.loss_evidence * (
                    F.mse_loss(pred, target) + F.cross_entropy(pred.reshape(-1, regions), target.argmax(-1).reshape(-1)))
            if config.loss_contrastive:
                losses["contrastive"] = config.loss_contrastive * _contrastive(
                    model, heads["pooled"], ids, lengths, vad, texts, classes_t)
            if emotion_trainable:
                losses["emotion"] = config.loss_emotion * F.cross_entropy(heads["logits"], labels)
            loss = sum(losses.values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            n_seen += len(idx)
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v.item() * len(idx)
            bar.set_postfix(loss=f"{loss.item():.3f}", text=f"{losses['text'].item():.3f}")
        train_losses = {k: v / n_seen for k, v in sums.items()}
        engine = torch_engine(model, tokenizer)
        val_eval = val if config.val_limit is None else val.subset(np.arange(min(len(val), config.val_limit)))
        metrics = evaluate_engine(engine, val_eval, progress=progress)
        entry = {"epoch": epoch + 1, "seconds": round(time.time() - t0, 1), "train_loss": train_losses, "val": metrics}
        report["history"].append(entry)
        key = "faithfulness" if regions else "rouge_l"
        if report["best"] is None or metrics[key] > report["best"]["val"][key]:
            report["best"] = entry
            _atomic_save({"model": model.state_dict(), "config": cfg.as_dict(), "epoch": epoch + 1}, out / "best.pt")
        _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                      "report": report, "epoch": epoch + 1}, last)
        (out / "report.json").write_text(json.dumps(report, indent=2))
        if progress:
            print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()
                                                     if isinstance(v, float)), flush=True)
        if stop_after is not None and epoch + 1 >= stop_after:
            break
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


def _shipped_backbone() -> Path:
    from ..models.registry import ARTIFACT_DIR

    path = ARTIFACT_DIR / "fer" / "fer.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (a build without the shipped fer model): give --backbone "
                                "the FER student's weights (.safetensors)")
    return path


def load_trained(path: str | Path):
    """(model, tokenizer) from a train_explainer output folder (best.pt + tokenizer.json)."""
    from .model import Explainer

    path = Path(path)
    state = torch.load(path / "best.pt", map_location="cpu", weights_only=False)
    model = Explainer(ExplainerConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    return model.eval(), BPETokenizer.load(path / "tokenizer.json")
