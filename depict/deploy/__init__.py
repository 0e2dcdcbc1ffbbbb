"""Deployment: the segmentor's window forward exported to ONNX and run back in
the config's test loop (``tools/deployment/``, docs/deployment.md). Needs the
``[deploy]`` extra (onnx, onnxruntime, onnxscript) only when a function runs."""
from .onnx import (SegmentorWindow, export_onnx, load_segmentor, onnx_session, read_contract,
                   use_onnx_window, verify_onnx)

__all__ = ['SegmentorWindow', 'export_onnx', 'load_segmentor', 'onnx_session', 'read_contract',
           'use_onnx_window', 'verify_onnx']
