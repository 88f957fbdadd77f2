"""torch -> ONNX with contract-2 names: data inputs + ``state_in.*`` -> outputs + ``state_out.*``.

The model's ``forward(*inputs, state_dict)`` is wrapped as ``forward(*inputs, *state)`` with the
data inputs in ``data_inputs`` order (``audio`` alone for most models) and the state in
``initial_state`` order. Two exporters (PLATFORM.md):

- ``dynamo``: ``torch.export.export`` with every timed input's length ``per_hop * Dim("hops")``
  (one shared Dim, example of 2 hops), then ``torch.onnx.export(ep, external_data=False)``.
  Fastest graphs (rfft); breaks LSTM/GRU with a dynamic time axis (a fixed Reshape).
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
    """``forward(audio, *state) -> (*outputs, *new_state)`` around a one-audio-input model."""

    def __init__(self, model: StreamingModel) -> None:
        super().__init__()
        self.model = model
        self.state_names = list(model.initial_state(1))

    def forward(self, audio: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        *outputs, new_state = self.model(audio, dict(zip(self.state_names, state)))
        return (*outputs, *(new_state[n] for n in self.state_names))


class FlatMultiModel(nn.Module):
    """``forward(*inputs, *state) -> (*outputs, *new_state)`` around a model with several (or
    other than audio) data inputs; ``FlatModel`` keeps the one-audio graphs as they were."""

    def __init__(self, model: StreamingModel) -> None:
        super().__init__()
        self.model = model
        self.n_inputs = len(model.data_inputs)
        self.state_names = list(model.initial_state(1))

    def forward(self, *args: Tensor) -> tuple[Tensor, ...]:
        data, state = args[:self.n_inputs], args[self.n_inputs:]
        *outputs, new_state = self.model(*data, dict(zip(self.state_names, state)))
        return (*outputs, *(new_state[n] for n in self.state_names))


def one_audio(model: StreamingModel) -> bool:
    """True for the classic contract: one data input, audio, named ``audio``."""
    (first, *rest) = model.data_inputs
    return not rest and first.kind == "audio" and first.name == "audio"


def io_names(model: StreamingModel) -> tuple[list[str], list[str]]:
    """ONNX input and output names in contract-2 order."""
    states = list(model.initial_state(1))
    inputs = [i.name for i in model.data_inputs] + [f"state_in.{n}" for n in states]
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


def example_inputs(model: StreamingModel, hops: int, generator: torch.Generator | None = None) -> list[Tensor]:
    """Random data inputs for ``hops`` steps: audio/control ``randn``, tokens in ``[0, vocab_size)``."""
    xs = []
    for spec in model.data_inputs:
        shape = (1, *spec.features, *((spec.per_hop * hops,) if spec.per_hop else ()))
        xs.append(torch.randint(0, spec.vocab_size, shape, generator=generator) if spec.kind == "tokens"
                  else torch.randn(shape, generator=generator))
    return xs


def _example(model: StreamingModel) -> tuple[Tensor, ...]:
    # 2 hops: dynamo specialises a dynamic dimension whose example size is 1
    return (*example_inputs(model, 2), *model.initial_state(1).values())


def _dynamo(flat: nn.Module, model: StreamingModel, inputs: list[str], outputs: list[str]) -> onnx.ModelProto:
    args = _example(model)
    hops = torch.export.Dim("hops", min=1, max=1 << 20)  # never name a Dim "S" (PLATFORM.md)
    data = tuple({len(s.features) + 1: hops if s.per_hop == 1 else s.per_hop * hops} if s.per_hop else None
                 for s in model.data_inputs)
    state = tuple(None for _ in args[len(data):])
    if isinstance(flat, FlatModel):
        shapes = data + ((state,) if state else ())  # *state appears in dynamic_shapes only when there is some
    else:
        shapes = (data + state,)  # FlatMultiModel.forward(*args): one varargs entry
    ep = torch.export.export(flat, args, dynamic_shapes=shapes)
    program = torch.onnx.export(ep, args, dynamo=True, external_data=False, opset_version=OPSET,
                                input_names=inputs, output_names=outputs, verbose=False)
    return program.model_proto


def _legacy(flat: nn.Module, model: StreamingModel, inputs: list[str], outputs: list[str]) -> onnx.ModelProto:
    axes = {s.name: {len(s.features) + 1: "samples" if s.kind == "audio" else "frames"}
            for s in model.data_inputs if s.per_hop}
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
    flat = FlatModel(model) if one_audio(model) else FlatMultiModel(model)
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
