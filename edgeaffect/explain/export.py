"""Export of a trained explainer to the runtime's files (torch needed here only).

    OUT/explain-vision.onnx        faces (N, 1, 48, 48) -> logits, vad, prefix, image_embedding[, evidence]
    OUT/explain-decoder.onnx       embeds (B, T, d), past (L, 2, B, H, Tp, dh) -> logits, present, hidden
    OUT/explain-decoder-int8.onnx  the same, MatMul weights quantised to INT8 (ONNX Runtime dynamic quantisation)
    OUT/openvino-int8/explain-decoder.xml  (openvino_int8) the decoder for OpenVINO with INT8 weights (NNCF weight
                                   compression; OpenVINO runs the dynamic-quantisation graph 1.7x slower than fp32)
    OUT/explain-text.npz           the numpy side's matrices (token embeddings, VAD fusion, evidence token, text projection)
    OUT/explain.safetensors        (torch_weights) the torch weights in fp16, a starting point for further training
                                   (without a frozen Swin backbone's: that is fer.safetensors)
    OUT/tokenizer.json, OUT/config.json
    OUT/rationale-teacher.onnx     (with --teacher) the FER teacher the rationale teacher occludes, for faithfulness on new data

The generation loop stays in numpy (edgeaffect.explain.decoding), so the
graphs are plain feed-forward: one dynamic batch, a dynamic number of new
tokens and a dynamic cache length (0 on the first call).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .model import DecoderStep, Explainer, VISION_OUTPUTS, VisionOutputs, numpy_params
from .runtime import OPENVINO_INT8_DECODER


def _quiet_export(module, args, path: Path, input_names, output_names, dynamic_shapes) -> None:
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import contextlib
        import io
        import warnings

        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names,
                              dynamic_shapes=dynamic_shapes, dynamo=True, opset_version=18)
    finally:
        logger.setLevel(level)
    # One self-contained file (the exporter puts weights over a size limit in PATH.data beside it).
    import onnx

    model = onnx.load(str(path))
    data = path.with_name(path.name + ".data")
    onnx.save(model, str(path), save_as_external_data=False)
    data.unlink(missing_ok=True)


def export_explainer(model: Explainer, tokenizer, out: str | Path, teacher: Optional[str | Path] = None,
                     check_faces: Optional[np.ndarray] = None, int8: bool = True, include_vision: bool = True,
                     torch_weights: bool = True, openvino_int8: bool = False) -> dict:
    """Writes the runtime files into `out`; returns the parity report (max |torch - ONNX|).

    openvino_int8 also writes the OpenVINO INT8 decoder (needs
    `pip install "edgeaffect[openvino]"`).
    """
    from safetensors.torch import save_file as save_torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    cfg = model.cfg
    batch = torch.export.Dim("batch")
    vision_out = [n for n in VISION_OUTPUTS if n != "evidence" or cfg.regions]
    _quiet_export(VisionOutputs(model), (torch.zeros(2, 1, 48, 48),), out / "explain-vision.onnx", ["image"], vision_out,
                  ({0: batch},))
    head_dim = cfg.d // cfg.heads
    embeds = torch.randn(2, 3, cfg.d)
    past = torch.randn(cfg.layers, 2, 2, cfg.heads, 5, head_dim)
    _quiet_export(DecoderStep(model), (embeds, past), out / "explain-decoder.onnx", ["embeds", "past"],
                  ["logits", "present", "hidden"],
                  ({0: batch, 1: torch.export.Dim("tokens")}, {2: batch, 4: torch.export.Dim("past_tokens")}))
    np.savez(out / "explain-text.npz", **numpy_params(model))  # np.load: the runtime needs no safetensors
    # fp16: a starting point for further training at half the size; inference uses the ONNX graphs
    if torch_weights:
        save_torch({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()
                    if include_vision or not k.startswith("vision.")}, str(out / "explain.safetensors"))
        (out / "explain.safetensors").chmod(0o644)  # safetensors writes 0600; a package file must be readable by all
    tokenizer.save(out / "tokenizer.json")
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(out / "explain-decoder.onnx"), str(out / "explain-decoder-int8.onnx"),
                         weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
    if openvino_int8:
        export_openvino_int8_decoder(out / "explain-decoder.onnx", out / OPENVINO_INT8_DECODER)
    if teacher is not None:
        export_teacher(teacher, out / "rationale-teacher.onnx")
    meta = {"format": 1, "model": cfg.as_dict(), "vision_outputs": vision_out}
    if cfg.regions and emotion_head_is_teacher(out):
        meta["default_evidence"] = "measured"  # load_explainer(evidence="auto"): measuring it is the teacher's measure
    (out / "config.json").write_text(json.dumps(meta, indent=2))
    return parity(model, out, check_faces)


def emotion_head_is_teacher(folder: Path, faces: int = 16, tolerance: float = 1e-4) -> bool:
    """Whether the vision graph's logits are rationale-teacher.onnx's on random faces (within `tolerance`,
    relative to their size): then the occlusion of the explainer's own emotion head (load_explainer's
    evidence="measured") is the rationale teacher's (a frozen convnet teacher backbone)."""
    import onnxruntime as ort

    if not (folder / "rationale-teacher.onnx").exists():
        return False
    from .engine import normalize_faces

    x = normalize_faces(np.random.default_rng(1).integers(0, 256, (faces, 48, 48)).astype(np.uint8))
    logits = []
    for name in ("explain-vision.onnx", "rationale-teacher.onnx"):
        session = ort.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
        out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {session.get_inputs()[0].name: x})))
        logits.append(out["logits"])
    if logits[0].shape != logits[1].shape:
        return False
    return bool(np.abs(logits[0] - logits[1]).max() <= tolerance * max(1.0, float(np.abs(logits[1]).max())))


def export_openvino_int8_decoder(onnx_path: Path, xml_path: Path) -> None:
    """The fp32 decoder with its MatMul weights compressed to INT8 for OpenVINO.

    Weight-only compression (per output channel, asymmetric; activations stay
    fp32): OpenVINO's CPU plugin decompresses the weights inside its fully
    connected kernels, which is how it runs transformer decoders. The ONNX
    Runtime INT8 graph quantises activations with DynamicQuantizeLinear at
    every step, which OpenVINO executes as separate small ops: 1.7x slower than
    fp32 on the dev box (benchmarks/bench_explain.py).
    """
    try:
        import nncf
        import openvino as ov
    except ImportError as exc:
        raise ImportError(f"the OpenVINO INT8 decoder needs OpenVINO and NNCF: pip install \"edgeaffect[openvino]\" "
                          f"({exc})") from exc
    logging.getLogger("nncf").setLevel(logging.WARNING)  # its per-layer table is noise in a build log
    compressed = nncf.compress_weights(ov.Core().read_model(str(onnx_path)), mode=nncf.CompressWeightsMode.INT8_ASYM)
    xml_path.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(compressed, str(xml_path), compress_to_fp16=False)


def export_teacher(checkpoint: str | Path, path: Path) -> None:
    """The FER teacher (normalised faces -> logits) as ONNX, for the runtime's rationale teacher."""
    from ..fer.train import load_checkpoint_model

    teacher = load_checkpoint_model(checkpoint)
    _quiet_export(teacher, (torch.zeros(2, 1, 48, 48),), path, ["image"], ["logits"], ({0: torch.export.Dim("batch")},))


def parity(model: Explainer, folder: Path, faces: Optional[np.ndarray] = None) -> dict:
    """Max |torch - ONNX Runtime| of every vision output and of the decoder with a cache."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    x = (faces if faces is not None else rng.integers(0, 256, (5, 48, 48))).astype(np.float32)
    x = ((x / 255.0 - 0.5) / 0.25)[:, None].astype(np.float32)
    report = {}
    vision = ort.InferenceSession(str(folder / "explain-vision.onnx"), providers=["CPUExecutionProvider"])
    got = vision.run(None, {"image": x})
    with torch.inference_mode():
        want = VisionOutputs(model)(torch.from_numpy(x))
    for name, g, w in zip([o.name for o in vision.get_outputs()], got, want):
        report[f"vision.{name}"] = float(np.abs(g - w.numpy()).max())
    decoder = ort.InferenceSession(str(folder / "explain-decoder.onnx"), providers=["CPUExecutionProvider"])
    cfg = model.cfg
    e = rng.standard_normal((3, 4, cfg.d)).astype(np.float32)
    p = rng.standard_normal((cfg.layers, 2, 3, cfg.heads, 6, cfg.d // cfg.heads)).astype(np.float32)
    got = decoder.run(None, {"embeds": e, "past": p})
    with torch.inference_mode():
        want = model.decode(torch.from_numpy(e), torch.from_numpy(p))
    for name, g, w in zip(("logits", "present", "hidden"), got, want):
        report[f"decoder.{name}"] = float(np.abs(g - w.numpy()).max())
    return report
