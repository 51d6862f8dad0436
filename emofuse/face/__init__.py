"""Faces: detection, alignment, tracking and expression classification (onnxruntime, no torch)."""
