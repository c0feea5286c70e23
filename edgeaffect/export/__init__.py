"""Export, quantisation and the accuracy gate (the [export] extra: torch,
onnx, onnxruntime; OpenVINO/NNCF for the OpenVINO profiles)."""
