"""Export trained models for deployment (ONNX, checked with onnxruntime)."""

from cnnkit.export.onnx import DEFAULT_OPSET, OnnxExport, export_model, export_onnx

__all__ = ["DEFAULT_OPSET", "OnnxExport", "export_model", "export_onnx"]
