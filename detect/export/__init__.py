"""Deployment: the inference graph, ONNX export, the ONNX Runtime backend and int8."""
