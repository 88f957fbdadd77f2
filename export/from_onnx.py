"""A shipped model back into torch: its exported file carries its family, config and weights.

``export_model`` stores the model's family and config beside the card (the checkpoint's own
``rtmir.family`` / ``rtmir.config`` keys in the ONNX ``metadata_props``), so a shipped file can
seed the next training stage on a machine that has nothing else of the run that made it (a
fresh machine keeps no ``runs/`` folder). ``load_exported`` rebuilds the model and fills every
parameter and stored buffer from the initializer of the same name (the exporters name them
``model.<state_dict key>``; a buffer the graph computes, see ``export.compact``, comes from the config),
then checks that the rebuilt torch model gives the file's outputs.
Files whose exporter repacked weights (an LSTM's gates under the legacy exporter) are refused.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from models.nets import FAMILIES, build_model
from models.streaming import StreamingModel

from .checkpoint import CONFIG_KEY, FAMILY_KEY, CheckpointError, config_from_dict, config_to_dict

PREFIXES = ("model.", "")
"""Initializer names tried for a state_dict key ``k``: ``model.k`` (our wrapper), then ``k``."""


def embed_model_config(proto: onnx.ModelProto, model: StreamingModel) -> None:
    """Store ``model``'s family and config in ``proto.metadata_props`` (replacing old ones); a
    model of no registered family (a test's ad-hoc module) stores nothing."""
    if getattr(model, "family", None) not in FAMILIES or not hasattr(model, "config"):
        return
    entries = {FAMILY_KEY: model.family, CONFIG_KEY: json.dumps(config_to_dict(model.config))}
    kept = [(p.key, p.value) for p in proto.metadata_props if p.key not in entries]
    del proto.metadata_props[:]
    for key, value in kept + list(entries.items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def load_exported(path: str | Path, tolerance: float = 1e-4) -> StreamingModel:
    """The torch model (eval mode) an exported ``.onnx`` was made from.

    Raises:
        CheckpointError: no family/config in the file (exported before they were stored), an
            unknown family, a weight the file does not hold by name, or a rebuilt model whose
            outputs differ from the file's by more than ``tolerance``.
    """
    path = Path(path)
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError...
        raise CheckpointError(f"cannot read {path}: {exc}") from exc
    meta = {p.key: p.value for p in proto.metadata_props}
    if FAMILY_KEY not in meta or CONFIG_KEY not in meta:
        raise CheckpointError(f"{path} holds no model config (exported before files carried one): "
                              f"start from its training checkpoint instead")
    family = meta[FAMILY_KEY]
    if family not in FAMILIES:
        raise CheckpointError(f"{path} has unknown family {family!r}; known: {sorted(FAMILIES)}")
    model = build_model(family, config_from_dict(FAMILIES[family][0], json.loads(meta[CONFIG_KEY])))
    inits = {i.name: i for i in proto.graph.initializer}
    state = {}
    weights = dict(model.named_parameters())
    for key, tensor in model.state_dict().items():
        name = next((p + key for p in PREFIXES if p + key in inits), None)
        if name is None and key not in weights:  # a buffer the graph computes (export.compact): rebuilt from config
            state[key] = tensor
            continue
        value = None if name is None else numpy_helper.to_array(inits[name])
        if value is None or value.shape != tuple(tensor.shape):
            raise CheckpointError(f"{path}: weight {key!r} {tuple(tensor.shape)} is not in the file by name "
                                  f"(its exporter repacked it); start from its training checkpoint instead")
        state[key] = torch.from_numpy(np.array(value))
    model.load_state_dict(state, strict=True)
    model.eval()
    _check_outputs(model, path, tolerance)
    return model


def _check_outputs(model: StreamingModel, path: Path, tolerance: float) -> None:
    """The rebuilt model's outputs on a test signal against the file's, through the runtime."""
    from rtmir.session import StreamingSession

    session = StreamingSession(path)
    audio = (0.1 * np.random.default_rng(0).standard_normal((1, model.channels, 16 * model.hop))).astype(np.float32)
    onnx_out = session.process(audio[0])
    with torch.no_grad():
        torch_out = model(torch.from_numpy(audio))
    for spec, value in zip(model.outputs, torch_out):
        diff = float(np.abs(onnx_out[spec.name] - value.numpy()).max())
        if diff > tolerance:
            raise CheckpointError(f"{path}: the rebuilt model's {spec.name!r} differs from the file's by {diff:.3g}")
