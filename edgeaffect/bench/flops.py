"""FLOPs and bytes of an ONNX model, counted from its graph (issue #7).

Shapes come from running the graph once in ONNX Runtime with every
intermediate value exposed, so they are exact for the batch size given
(symbolic shape inference gives up on the Shape/Reshape chains exporters
write). Counting rules, per node, from the real shapes:

- Conv: 2 * output elements * (input channels / group) * kernel elements,
  plus one add per output element when there is a bias.
- MatMul: 2 * output elements * K; Gemm: 2 * M * N * K (+ M * N with C).
  Integer and QLinear variants count the same multiply-adds.
- Softmax: 5 per element (max, subtract, exp, sum, divide);
  LayerNormalization: 8 per element; BatchNormalization 2; Erf/Gelu 8.
- Pooling and reductions: one per input element read.
- Other element-wise operators: one per output element.
- Data movement (Reshape, Transpose, Concat, Gather, Slice, ...): zero.

`matmul_flops` is the part in Conv / MatMul / Gemm and their integer and
QLinear forms: the part an INT8 model runs on integer units (the rest, such
as Softmax or LayerNorm, stays in floating point).

Bytes: `weight_bytes` (initialisers and constants), `io_bytes` (the model's
inputs and outputs) and `activation_bytes` (every node's inputs and outputs,
the traffic of an unfused run). weights + io is the least any run of this
graph must move.

Example:
    >>> from edgeaffect.bench.flops import count_onnx          # doctest: +SKIP
    >>> count_onnx("fer-fp32.onnx", batch=1).flops             # doctest: +SKIP
    52032379
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnx

ELEMENTWISE_COST = {"Softmax": 5, "LogSoftmax": 5, "LayerNormalization": 8, "BatchNormalization": 2,
                    "InstanceNormalization": 8, "Erf": 8, "Gelu": 8, "Sigmoid": 4, "HardSigmoid": 2,
                    "Tanh": 4, "Exp": 4, "Log": 4, "Pow": 4, "Sqrt": 2, "Reciprocal": 1}
REDUCE_OPS = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceSumSquare",
              "GlobalAveragePool", "GlobalMaxPool", "AveragePool", "MaxPool"}
MATMUL_OPS = {"Conv", "ConvInteger", "QLinearConv", "MatMul", "MatMulInteger", "QLinearMatMul", "Gemm"}
MOVEMENT_OPS = {"Reshape", "Transpose", "Concat", "Gather", "GatherElements", "Slice", "Split", "Squeeze",
                "Unsqueeze", "Flatten", "Shape", "Size", "Constant", "ConstantOfShape", "Identity", "Cast", "Expand",
                "Tile", "Pad", "Range", "Resize", "ScatterND", "QuantizeLinear", "DequantizeLinear",
                "DynamicQuantizeLinear", "Dropout", "Trilu", "Roll"}
ELEMENTWISE_OPS = {"Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "PRelu", "Clip", "Max", "Min", "Where", "Neg",
                   "Abs", "Floor", "Ceil", "Round", "Sign", "Equal", "Less", "Greater", "LessOrEqual",
                   "GreaterOrEqual", "Not", "And", "Or", "Mod", "Mean", "Sum", "HardSwish", "Elu", "Selu",
                   "Softplus", "Mish", "IsNaN", "IsInf"} | set(ELEMENTWISE_COST)


@dataclass(frozen=True)
class GraphCount:
    """What one run of the graph costs, at the batch it was counted for."""

    batch: int
    flops: int
    matmul_flops: int
    weight_bytes: int
    io_bytes: int
    activation_bytes: int
    nodes: int
    uncounted_ops: tuple[str, ...]  # operator types this counter has no rule for

    def to_dict(self) -> dict:
        return {**asdict(self), "uncounted_ops": list(self.uncounted_ops)}


def count_onnx(model: str | Path | onnx.ModelProto, batch: int = 1) -> GraphCount:
    """Counts FLOPs and bytes of an ONNX model (a path or a loaded
    ModelProto) run at `batch` (dynamic axes other than the first are not
    supported: a clear error names them)."""
    import onnx

    proto = onnx.load(str(model)) if isinstance(model, (str, Path)) else model
    shapes = _value_shapes(proto, batch)
    constants = {init.name: init for init in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = node
    weight_bytes = sum(_nbytes(shapes[name]) for name in constants if name in shapes)
    graph_inputs = [i.name for i in proto.graph.input if i.name not in constants]
    io_bytes = sum(_nbytes(shapes[name]) for name in graph_inputs + [o.name for o in proto.graph.output])
    flops, matmul_flops, activation_bytes, uncounted = 0, 0, 0, set()
    for node in proto.graph.node:
        cost = node_flops(node, shapes)
        if cost is None:
            uncounted.add(node.op_type)
            cost = 0
        flops += cost
        matmul_flops += cost if node.op_type in MATMUL_OPS else 0
        activation_bytes += sum(_nbytes(shapes[n]) for n in list(node.input) + list(node.output) if n in shapes)
    return GraphCount(batch, int(flops), int(matmul_flops), int(weight_bytes), int(io_bytes), int(activation_bytes),
                      len(proto.graph.node), tuple(sorted(uncounted)))


def node_flops(node, shapes: dict) -> int | None:
    """FLOPs of one node given the (shape, itemsize) of its values; None for
    an operator without a rule (reported, never guessed)."""
    op = node.op_type
    if op in MOVEMENT_OPS:
        return 0
    out = shapes.get(node.output[0]) if node.output else None
    if out is None:
        return None
    out_elements = int(np.prod(out[0]))
    if op in ("Conv", "ConvInteger", "QLinearConv"):
        weight_index = 3 if op == "QLinearConv" else 1
        w_shape = shapes[node.input[weight_index]][0]
        has_bias = len(node.input) > (8 if op == "QLinearConv" else 2) and bool(node.input[-1])
        return 2 * out_elements * int(np.prod(w_shape[1:])) + (out_elements if has_bias and op == "Conv" else 0)
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul"):
        a_shape = shapes[node.input[0]][0]
        return 2 * out_elements * int(a_shape[-1])
    if op == "Gemm":
        a_shape = shapes[node.input[0]][0]
        trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
        k = a_shape[0] if trans_a else a_shape[-1]
        return 2 * out_elements * int(k) + (out_elements if len(node.input) > 2 and node.input[2] else 0)
    if op in REDUCE_OPS:
        return int(np.prod(shapes[node.input[0]][0]))
    if op in ELEMENTWISE_OPS:
        return ELEMENTWISE_COST.get(op, 1) * out_elements
    return None


def _nbytes(shape_and_itemsize: tuple) -> int:
    shape, itemsize = shape_and_itemsize
    return int(np.prod(shape)) * itemsize


def _value_shapes(proto, batch: int) -> dict[str, tuple[tuple[int, ...], int]]:
    """name -> (concrete shape, bytes per element) for every value of the
    graph: initialisers from their dims, the rest from one ONNX Runtime run
    with every intermediate exposed as an output."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    shapes = {}
    for init in proto.graph.initializer:
        shapes[init.name] = (tuple(init.dims), helper.tensor_dtype_to_np_dtype(init.data_type).itemsize)
    exposed = onnx.ModelProto()
    exposed.CopyFrom(proto)
    typed = onnx.shape_inference.infer_shapes(exposed)
    elem_types = {v.name: v.type.tensor_type.elem_type for v in
                  list(typed.graph.value_info) + list(typed.graph.output) + list(typed.graph.input)}
    known_outputs = {o.name for o in exposed.graph.output}
    for node in exposed.graph.node:
        for name in node.output:
            if name and name not in known_outputs and elem_types.get(name):
                exposed.graph.output.append(helper.make_tensor_value_info(name, elem_types[name], None))
                known_outputs.add(name)
    feeds = {}
    rng = np.random.default_rng(0)
    for value in proto.graph.input:
        if value.name in shapes:
            continue
        dims = value.type.tensor_type.shape.dim
        shape = []
        for i, d in enumerate(dims):
            if i == 0 and d.HasField("dim_value") and d.dim_value != batch:
                raise ValueError(f"input {value.name!r} has a fixed batch of {d.dim_value}, so it cannot be counted at "
                                 f"batch {batch}; export the model with a dynamic batch axis")
            if d.HasField("dim_value"):
                shape.append(d.dim_value)
            elif i == 0:
                shape.append(batch)
            else:
                raise ValueError(f"input {value.name!r} has a dynamic axis {i} ({d.dim_param!r}) besides the batch; "
                                 "count a graph with fixed spatial sizes")
        dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)
        feeds[value.name] = rng.standard_normal(shape).astype(dtype)
    options = ort.SessionOptions()
    # Fusions would remove the very intermediates being measured.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(exposed.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    for name, value in zip(names, session.run(names, feeds)):
        value = np.asarray(value)
        shapes[name] = (value.shape, value.dtype.itemsize)
    for name, value in feeds.items():
        shapes[name] = (value.shape, value.dtype.itemsize)
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.output[0] not in shapes:
            tensor = numpy_helper.to_array(next(a.t for a in node.attribute if a.name == "value"))
            shapes[node.output[0]] = (tensor.shape, tensor.dtype.itemsize)
    return shapes
