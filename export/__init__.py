"""torch -> ONNX with state I/O, the model card, and verification (DESIGN.md, contract 2).

``export_model(model, CardFields(...), "rtmir/zoo/NAME.onnx")`` or
``python -m export CHECKPOINT --out rtmir/zoo/NAME.onnx --name NAME --task TASK``.
"""
from .api import CardFields, build_card, embed_card, export_model
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .onnx_graph import ExportError, to_onnx
from .verify import VerifyOptions, verify

__all__ = [
    "CardFields", "CheckpointError", "ExportError", "VerifyOptions", "build_card", "embed_card",
    "export_model", "load_checkpoint", "save_checkpoint", "to_onnx", "verify",
]
