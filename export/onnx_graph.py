"""torch -> ONNX with contract-2 names: ``audio`` + ``state_in.*`` -> outputs + ``state_out.*``.

The model's ``forward(audio, state_dict)`` is wrapped as ``forward(audio, *state)`` with the
state in ``initial_state`` order. Two exporters (PLATFORM.md):

- ``dynamo``: ``torch.export.export`` with ``N = hop * Dim("hops")`` (example of 2 hops), then
  ``torch.onnx.export(ep, external_data=False)``. Fastest graphs (rfft); breaks LSTM/GRU with a
  dynamic time axis (a fixed Reshape).
- ``legacy``: the TorchScript exporter (``dynamo=False``) with ``dynamic_axes``. Needed for
  LSTM/GRU; cannot export ``torch.fft.rfft`` or ``unfold`` with a dynamic length, so such models
  use the ``conv`` mel method.

``auto`` picks legacy when the model holds an ``nn.LSTM``/``nn.GRU``, dynamo otherwise.
"""
from __future__ import annotations

import io
import logging
import warnings

import onnx
import torch
from torch import Tensor, nn

from models.streaming import StreamingModel

log = logging.getLogger(__name__)

OPSET = 18
EXPORTERS = ("auto", "dynamo", "legacy")


class ExportError(RuntimeError):
    """Export or verification failed; the message says why (and no file was written)."""


class FlatModel(nn.Module):
    """``forward(audio, *state) -> (*outputs, *new_state)`` around a contract-1 model."""

    def __init__(self, model: StreamingModel) -> None:
        super().__init__()
        self.model = model
        self.state_names = list(model.initial_state(1))

    def forward(self, audio: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        *outputs, new_state = self.model(audio, dict(zip(self.state_names, state)))
        return (*outputs, *(new_state[n] for n in self.state_names))


def io_names(model: StreamingModel) -> tuple[list[str], list[str]]:
    """ONNX input and output names in contract-2 order."""
    states = list(model.initial_state(1))
    inputs = ["audio"] + [f"state_in.{n}" for n in states]
    outputs = [o.name for o in model.outputs] + [f"state_out.{n}" for n in states]
    return inputs, outputs


def pick_exporter(model: StreamingModel, exporter: str) -> str:
    """Resolve ``auto``; raise ExportError on an unknown name."""
    if exporter not in EXPORTERS:
        raise ExportError(f"exporter must be one of {EXPORTERS}, got {exporter!r}")
    if exporter != "auto":
        return exporter
    recurrent = any(isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)) for m in model.modules())
    return "legacy" if recurrent else "dynamo"


def _check_legacy_frontend(model: StreamingModel) -> None:
    from models.frontend import StreamingLogMel  # local: only this check needs it

    for name, m in model.named_modules():
        if isinstance(m, StreamingLogMel) and m.config.method == "rfft":
            raise ExportError(f"{name}: the legacy exporter (needed for LSTM/GRU) cannot export rfft/unfold; "
                              "build the frontend with LogMelConfig(method='conv')")


def _example(model: StreamingModel) -> tuple[Tensor, ...]:
    # 2 hops: dynamo specialises a dynamic dimension whose example size is 1
    audio = torch.randn(1, model.channels, 2 * model.hop)
    return (audio, *model.initial_state(1).values())


def _dynamo(flat: FlatModel, model: StreamingModel, inputs: list[str], outputs: list[str]) -> onnx.ModelProto:
    args = _example(model)
    hops = torch.export.Dim("hops", min=1, max=1 << 20)  # never name a Dim "S" (PLATFORM.md)
    shapes = ({2: model.hop * hops},)
    if len(args) > 1:  # the *state varargs appear in dynamic_shapes only when there are some
        shapes += (tuple(None for _ in args[1:]),)
    ep = torch.export.export(flat, args, dynamic_shapes=shapes)
    program = torch.onnx.export(ep, args, dynamo=True, external_data=False, opset_version=OPSET,
                                input_names=inputs, output_names=outputs, verbose=False)
    return program.model_proto


def _legacy(flat: FlatModel, model: StreamingModel, inputs: list[str], outputs: list[str]) -> onnx.ModelProto:
    axes = {"audio": {2: "samples"}}
    for o in model.outputs:
        axes[o.name] = {len(o.features) + 1: "frames" if o.per_hop == 1 else "samples"}
    buf = io.BytesIO()
    torch.onnx.export(flat, _example(model), buf, dynamo=False, opset_version=OPSET, input_names=inputs,
                      output_names=outputs, dynamic_axes=axes, do_constant_folding=True)
    return onnx.load_from_string(buf.getvalue())


def to_onnx(model: StreamingModel, exporter: str = "auto") -> onnx.ModelProto:
    """Export ``model`` (eval mode, on CPU) to an in-memory ONNX model, unverified.

    Raises:
        ExportError: the exporter failed (the first line of its error is kept), or an output
            name clashes with a weight name.
    """
    chosen = pick_exporter(model, exporter)
    if chosen == "legacy":
        _check_legacy_frontend(model)
    model = model.eval()
    flat = FlatModel(model)
    inputs, outputs = io_names(model)
    log.info("exporting %s with the %s exporter", type(model).__name__, chosen)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            proto = (_dynamo if chosen == "dynamo" else _legacy)(flat, model, inputs, outputs)
    except Exception as exc:  # the exporters raise many unrelated types
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{chosen} exporter failed for {type(model).__name__}: {first}") from exc
    weights = {i.name for i in proto.graph.initializer}
    clash = sorted(weights & set(outputs))
    if clash:
        raise ExportError(f"output names {clash} clash with weight names: rename the outputs or buffers")
    return proto
