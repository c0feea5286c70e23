"""Reads an ONNX file's metadata and graph inputs without the onnx package.

The runtime must not depend on onnx or torch, yet every backend has to check
an artifact before trusting it (DESIGN.md rule 4). ONNX files are protobuf
`ModelProto` messages; the few fields needed here are walked directly:
ModelProto.metadata_props (14) and ModelProto.graph (7) -> GraphProto.input
(11) -> ValueInfoProto name (1) and type (2) -> TypeProto.tensor_type (1) ->
elem_type (1) and shape (2) -> dims (1) -> dim_value (1) or dim_param (2).
A file that is not valid protobuf raises CorruptArtifactError.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CorruptArtifactError

ONNX_ELEM_TYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 10: "float16", 11: "float64", 16: "bfloat16"}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes):
    """Yields (field number, wire type, value) of one message; length-delimited values are bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("length past the end of the message")
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if number == 0:
            raise ValueError("field number 0")
        yield number, wire, value


def _dims(shape_msg: bytes) -> tuple:
    dims = []
    for number, _, dim in _fields(shape_msg):
        if number != 1:
            continue
        value: object = "?"
        for n, _, v in _fields(dim):
            if n == 1:
                value = int(v)
            elif n == 2:
                value = v.decode()
        dims.append(value)
    return tuple(dims)


def read_onnx_header(path: str | Path) -> tuple[dict[str, str], list[tuple[str, str, tuple]]]:
    """(metadata_props, graph inputs as (name, dtype, shape)) of an ONNX file.

    Dynamic dimensions come back as their names (str); initializers listed as
    inputs (old exporters) are left out.
    """
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise CorruptArtifactError(f"cannot read model file {path}: {exc}") from exc
    try:
        metadata: dict[str, str] = {}
        graph = b""
        seen_ir_version = False
        for number, wire, value in _fields(buf):
            if number == 1 and wire == 0:
                seen_ir_version = True
            elif number == 7 and wire == 2:
                graph = value
            elif number == 14 and wire == 2:
                entry = {n: v.decode() for n, _, v in _fields(value)}
                metadata[entry.get(1, "")] = entry.get(2, "")
        if not seen_ir_version or not graph:
            raise ValueError("no ir_version or no graph")
        initializers, inputs = set(), []
        for number, _, value in _fields(graph):
            if number == 5:  # initializer: TensorProto, name is field 8
                initializers.update(v.decode() for n, _, v in _fields(value) if n == 8)
            elif number == 11:
                name, dtype, shape = "", "?", ()
                for n, _, v in _fields(value):
                    if n == 1:
                        name = v.decode()
                    elif n == 2:
                        for tn, _, tensor in _fields(v):
                            if tn == 1:
                                for fn, _, fv in _fields(tensor):
                                    if fn == 1:
                                        dtype = ONNX_ELEM_TYPES.get(fv, str(fv))
                                    elif fn == 2:
                                        shape = _dims(fv)
                inputs.append((name, dtype, shape))
        return metadata, [i for i in inputs if i[0] not in initializers]
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptArtifactError(
            f"{path} is not a valid ONNX model ({exc}); the file is damaged or not ONNX: re-export or re-download it"
        ) from exc
