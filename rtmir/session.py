"""StreamingSession: one exported model, its card and its carried state (DESIGN.md, contract 3).

The session knows nothing about tasks. It opens an ONNX file that follows contract 2 (the data
inputs the card lists — ``audio [1, C, N]``, ``tokens [1, Q, T]``, control values ``[1, k]`` —
then ``state_in.*`` → outputs + ``state_out.*``), reads the card, owns the state and feeds it
back on every call, through onnxruntime's IOBinding so that nothing is copied or allocated::

    call k (even):   inputs ─┐                 ┌─► outputs (bound buffers, views returned)
                     set A ──┴─ state_in  model  state_out ──► set B
    call k+1 (odd):  inputs ─┐                 ┌─► outputs
                     set B ──┴─ state_in  model  state_out ──► set A

The two state sets are allocated once and swapped (two bindings per chunk size, one per
parity), never copied. Data inputs are copied into preallocated input buffers; outputs are
written into preallocated buffers sized for the largest chunk prepared or seen, and returned
as read-only views that stay valid until the next ``step``/``process``/``prepare``.
"""
from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import onnxruntime as ort

from .card import CARD_KEY, CardError, InputSpec, ModelCard

log = logging.getLogger(__name__)

AUDIO_INPUT = "audio"
STATE_IN = "state_in."
STATE_OUT = "state_out."

_ORT_DTYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16,
    "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}
_KINDS = {"float32": "f", "int64": "iu"}  # numpy dtype kinds accepted (and cast) per input dtype


class ModelError(ValueError):
    """A model file is missing, unreadable, or does not follow contract 2."""


def _open_session(path: Path, intra_op_threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several private exception types
        raise ModelError(f"cannot load model {path}: {str(exc).splitlines()[0]}") from exc


def read_card(session: ort.InferenceSession, path: Path) -> ModelCard:
    """Read and validate the card stored in a loaded session's metadata.

    Raises:
        ModelError: the file has no card or an invalid one.
    """
    meta = session.get_modelmeta().custom_metadata_map
    if CARD_KEY not in meta:
        raise ModelError(f"model {path} has no '{CARD_KEY}' card in its metadata: export it with export/")
    try:
        return ModelCard.from_json(meta[CARD_KEY])
    except CardError as exc:
        raise ModelError(f"model {path}: {exc}") from exc


def _ort_reason(exc: Exception) -> str:
    """The informative part of an onnxruntime error: what follows its last status code."""
    text = " ".join(str(exc).split())
    return re.split(r"\[ONNXRuntimeError\] : \d+ : \w+ : ", text)[-1][:300]


@dataclass(frozen=True)
class _Port:
    """One data input or output as the session handles it (shapes without the batch axis)."""

    name: str
    fixed: tuple[int, ...]  # shape between batch and time, e.g. (channels,); all of it for control
    per_hop: int  # values along time per model step; 0: no time axis
    dtype: np.dtype
    kinds: str  # numpy dtype kinds accepted (cast to ``dtype`` when copied in)

    def shape(self, hops: int) -> tuple[int, ...]:
        """The unbatched shape for a chunk of ``hops`` steps."""
        return (*self.fixed, self.per_hop * hops) if self.per_hop else self.fixed

    def dims(self) -> str:
        """The unbatched shape with ``N`` for the time axis, for messages: ``[2, N]``."""
        return "[" + ", ".join(map(str, [*self.fixed, "N"] if self.per_hop else self.fixed)) + "]"

    def describe(self) -> str:
        return f"{self.name} {self.dims()} {self.dtype}"


@dataclass(frozen=True)
class _Bound:
    """Everything bound for one chunk size: a binding per state parity, the input views to fill
    and the read-only output views to return."""

    bindings: tuple[ort.IOBinding, ort.IOBinding]
    inputs: tuple[np.ndarray, ...]  # unbatched writable views of the input buffers, in port order
    result: Mapping[str, np.ndarray]


class StreamingSession:
    """Run an exported streaming model chunk by chunk with its state carried.

    Args:
        path: the ``.onnx`` file.
        intra_op_threads: onnxruntime threads for one call (1 for real-time use).

    Raises:
        ModelError: missing file, not an ONNX model, no/invalid card, or inputs/outputs that do
            not match the card.

    Real-time use: ``prepare(max_hops)`` once (allocates), then ``step``/``process`` allocate
    nothing but the small Python objects of a call.
    """

    def __init__(self, path: str | Path, intra_op_threads: int = 1) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        self._session = _open_session(self.path, intra_op_threads)
        self.card = read_card(self._session, self.path)
        graph_in = {i.name: i for i in self._session.get_inputs()}
        graph_out = {o.name: o for o in self._session.get_outputs()}
        self._check_signature(graph_in, graph_out)
        self._inputs = tuple(self._port(spec, spec.shape, _ORT_DTYPES[graph_in[spec.name].type])
                             for spec in self.card.inputs)
        self._outputs = tuple(self._port(o, o.shape, _ORT_DTYPES[graph_out[o.name].type]) for o in self.card.outputs)
        self._input_names = frozenset(p.name for p in self._inputs)
        self._audio_only = self._inputs[0] if len(self._inputs) == 1 and self.card.inputs[0].kind == "audio" else None
        # two state sets, swapped every call: state_in is bound to one and state_out to the other
        self._state = tuple(tuple(np.zeros(s.shape, np.dtype(s.dtype)) for s in self.card.state) for _ in range(2))
        self._state_values = tuple(tuple(ort.OrtValue.ortvalue_from_numpy(a) for a in group) for group in self._state)
        self._current = 0
        self._capacity = 0  # hops the data buffers hold
        self._in_buffers: tuple[np.ndarray, ...] = ()
        self._out_buffers: tuple[np.ndarray, ...] = ()
        self._bound: dict[int, _Bound] = {}

    def _check_signature(self, graph_in: dict, graph_out: dict) -> None:
        card = self.card
        expected_in = {i.name for i in card.inputs} | {STATE_IN + s.name for s in card.state}
        expected_out = {o.name for o in card.outputs} | {STATE_OUT + s.name for s in card.state}
        if set(graph_in) != expected_in:
            raise ModelError(
                f"model {self.path}: inputs {sorted(graph_in)} do not match its card {sorted(expected_in)}"
            )
        if not expected_out <= set(graph_out):
            raise ModelError(
                f"model {self.path}: outputs {sorted(graph_out)} lack {sorted(expected_out - set(graph_out))} named by its card"
            )
        for spec in card.inputs:
            if _ORT_DTYPES.get(graph_in[spec.name].type) != np.dtype(spec.dtype):
                raise ModelError(f"model {self.path}: input {spec.name!r} is {graph_in[spec.name].type} in the graph, "
                                 f"{spec.dtype} in its card")
        for o in card.outputs:
            if graph_out[o.name].type not in _ORT_DTYPES:
                raise ModelError(f"model {self.path}: output {o.name!r} has unsupported type {graph_out[o.name].type}")

    def _port(self, spec, shape: list, dtype: type) -> _Port:
        """A port from a card entry; outputs need a shape ``[1, ints.., time?]`` to be bound."""
        try:
            per_hop = self.card.per_hop(spec)
        except CardError as exc:
            raise ModelError(f"model {self.path}: {exc}") from exc
        fixed = list(shape)[1:-1] if per_hop else list(shape)[1:]
        if not shape or shape[0] != 1 or not all(isinstance(d, int) and d > 0 for d in fixed):
            raise ModelError(f"model {self.path}: {spec.name!r} has shape {list(shape)} in its card; "
                             "it must be [1, positive ints.., \"frames\"/\"samples\"] (export it again)")
        dtype = np.dtype(dtype)
        return _Port(spec.name, tuple(fixed), per_hop, dtype, _KINDS.get(dtype.name, dtype.kind))

    @property
    def hop(self) -> int:
        """Samples per model step; every call is a positive whole number of steps."""
        return self.card.hop

    @property
    def sample_rate(self) -> int:
        return self.card.sample_rate

    @property
    def channels(self) -> int:
        return self.card.channels

    @property
    def latency_samples(self) -> int:
        return self.card.latency_samples

    @property
    def inputs(self) -> list[InputSpec]:
        """The data inputs ``step`` takes (the card's ``inputs``)."""
        return self.card.inputs

    def prepare(self, max_hops: int) -> None:
        """Allocate buffers and bindings for every chunk of 1 to ``max_hops`` model steps.

        Not real-time safe (it allocates); call it before streaming. A later call longer than
        ``max_hops`` still works, but allocates then (and invalidates returned views).

        Raises:
            ValueError: ``max_hops < 1``.
        """
        if max_hops < 1:
            raise ValueError(f"max_hops must be >= 1, got {max_hops}")
        self._grow(max_hops)
        for hops in range(1, max_hops + 1):
            if hops not in self._bound:
                self._bind(hops)

    def step(self, inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """Run one chunk of every data input and carry the state.

        Args:
            inputs: ``{name: array}`` for exactly the card's inputs, without the batch axis:
                audio ``[C, N]`` float (N a positive multiple of ``hop``), tokens ``[Q, T]``
                integers (T a positive multiple of the frames per hop), control ``[k]``. All
                timed inputs must span the same number of model steps.

        Returns:
            ``{output name: array}`` for every output in the card (batch axis kept, time last):
            read-only views of the session's buffers, valid until the next ``step``,
            ``process`` or ``prepare`` — copy what you keep longer.

        Raises:
            ValueError: a missing or unknown input, a wrong dtype or shape, a length that is
                not a whole number of steps, or inputs of different lengths (in steps).
            ModelError: onnxruntime failed (the graph does not do what its card says).
        """
        if inputs.keys() != self._input_names:
            raise self._names_error(inputs)
        hops = 0
        for port in self._inputs:
            n = self._check(port, inputs[port.name])
            if n and hops and n != hops:
                raise self._length_mismatch(inputs)
            hops = hops or n
        bound = self._bound.get(hops) or self._bind(hops)
        for port, view in zip(self._inputs, bound.inputs):
            np.copyto(view, inputs[port.name], casting="same_kind")
        return self._run(bound, hops)

    def process(self, audio: np.ndarray) -> Mapping[str, np.ndarray]:
        """Run one chunk of audio and carry the state (models whose only input is audio).

        Args:
            audio: ``[C, N]`` float at ``sample_rate``, ``C == channels``, ``N`` a positive
                multiple of ``hop``.

        Returns:
            As ``step``: read-only views valid until the next call.

        Raises:
            ValueError: the model has other inputs (use ``step``), wrong channel count, or a
                length that is not a positive multiple of hop.
        """
        port = self._audio_only
        if port is None:
            raise ValueError(f"model {self.card.name} takes inputs {[p.describe() for p in self._inputs]}: "
                             "call step({name: array, ...})")
        hops = self._check(port, audio)
        bound = self._bound.get(hops) or self._bind(hops)
        np.copyto(bound.inputs[0], audio, casting="same_kind")
        return self._run(bound, hops)

    def reset(self) -> None:
        """Return to the initial (zero) state, as if freshly opened (buffers are kept)."""
        for group in self._state:
            for arr in group:
                arr.fill(0)
        self._current = 0

    def _run(self, bound: _Bound, hops: int) -> Mapping[str, np.ndarray]:
        # run_options must stay None: with a RunOptions object, onnxruntime 1.32's wrapper looks
        # up a missing config entry by raising and catching a C++ exception (~80 µs per call)
        try:
            self._session.run_with_iobinding(bound.bindings[self._current])
        except Exception as exc:  # onnxruntime's exception types are private
            raise ModelError(f"model {self.path}: onnxruntime failed on a chunk of {hops} hops: "
                             f"{_ort_reason(exc)}") from exc
        self._current ^= 1
        return bound.result

    def _check(self, port: _Port, x: np.ndarray) -> int:
        """Model steps in ``x`` for ``port`` (0 for a control input); ValueError if it does not fit."""
        if not isinstance(x, np.ndarray) or x.dtype.kind not in port.kinds:
            got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise ValueError(f"input {port.name!r} must be a {port.dtype} array, got {got}")
        if x.ndim != len(port.fixed) + (1 if port.per_hop else 0) or x.shape[:len(port.fixed)] != port.fixed:
            raise ValueError(f"input {port.name!r} must be {port.dims()} (no batch axis), got {list(x.shape)}")
        if not port.per_hop:
            return 0
        n = x.shape[-1]
        if n <= 0 or n % port.per_hop:
            unit = f"hop {port.per_hop}" if port.per_hop == self.card.hop else f"{port.per_hop} frames per hop"
            raise ValueError(f"input {port.name!r} length {n} is not a positive multiple of {unit}")
        return n // port.per_hop

    def _names_error(self, inputs: Mapping[str, np.ndarray]) -> ValueError:
        missing = sorted(self._input_names - set(inputs))
        unknown = sorted(set(inputs) - self._input_names)
        what = "; ".join(f"{w} input(s) {names}" for w, names in (("missing", missing), ("unknown", unknown)) if names)
        return ValueError(f"model {self.card.name}: {what} (it takes {[p.describe() for p in self._inputs]})")

    def _length_mismatch(self, inputs: Mapping[str, np.ndarray]) -> ValueError:
        lengths = ", ".join(f"{p.name!r} {inputs[p.name].shape[-1]} ({inputs[p.name].shape[-1] // p.per_hop} hops)"
                            for p in self._inputs if p.per_hop)
        return ValueError(f"model {self.card.name}: inputs span different numbers of hops: {lengths}")

    def _grow(self, hops: int) -> None:
        """Data buffers for chunks of up to ``hops`` steps (reallocated, bindings dropped, if larger)."""
        if hops <= self._capacity:
            return
        log.debug("%s: data buffers for %d hops", self.card.name, hops)
        self._capacity = hops
        self._in_buffers = tuple(np.zeros(math.prod(p.shape(hops)), p.dtype) for p in self._inputs)
        self._out_buffers = tuple(np.zeros(math.prod(p.shape(hops)), p.dtype) for p in self._outputs)
        self._bound.clear()

    def _bind(self, hops: int) -> _Bound:
        """Bind every input, output and state set for chunks of ``hops`` steps (allocates)."""
        self._grow(hops)

        def view(buf: np.ndarray, port: _Port) -> np.ndarray:
            shape = port.shape(hops)
            return buf[:math.prod(shape)].reshape(1, *shape)  # contiguous prefix, batch axis 1

        ins = [ort.OrtValue.ortvalue_from_numpy(view(b, p)) for b, p in zip(self._in_buffers, self._inputs)]
        out_views = [view(b, p) for b, p in zip(self._out_buffers, self._outputs)]
        outs = [ort.OrtValue.ortvalue_from_numpy(v) for v in out_views]
        bindings = []
        for parity in (0, 1):
            b = self._session.io_binding()
            for port, value in zip(self._inputs, ins):
                b.bind_ortvalue_input(port.name, value)
            for spec, value in zip(self.card.state, self._state_values[parity]):
                b.bind_ortvalue_input(STATE_IN + spec.name, value)
            for port, value in zip(self._outputs, outs):
                b.bind_ortvalue_output(port.name, value)
            for spec, value in zip(self.card.state, self._state_values[1 - parity]):
                b.bind_ortvalue_output(STATE_OUT + spec.name, value)
            bindings.append(b)
        readonly = {}
        for port, v in zip(self._outputs, out_views):
            r = v.view()
            r.flags.writeable = False
            readonly[port.name] = r
        inputs = tuple(view(b, p)[0] for b, p in zip(self._in_buffers, self._inputs))
        bound = _Bound((bindings[0], bindings[1]), inputs, MappingProxyType(readonly))
        self._bound[hops] = bound
        return bound
