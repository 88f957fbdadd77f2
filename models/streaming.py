"""The streaming-module contract (DESIGN.md, contract 1) and the containers built on it.

Every block in ``models/`` is a pure function of its input chunk and an explicit state::

    y, new_state = block(x, state)      # state=None means a fresh (zero) state
    state = block.initial_state(batch)  # {dotted name: fixed-shape tensor}

State lives in an ordinary ``dict[str, Tensor]`` with dotted names (``tcn.3.cache``,
``lstm.h``); containers prefix their children's names. Nothing is registered lazily and no
buffer is ever written during ``forward``, so the same code runs offline (one call, fresh
state) and streaming (many calls, state carried), and exports to ONNX as
``state_in.<name>`` → ``state_out.<name>``.

Every block has ``latency_samples`` (its declared lookahead/centring at the audio rate);
containers add their children's up.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

State = dict[str, Tensor]


class StateError(ValueError):
    """A state dict is missing names or has names the model does not use."""


def sub_state(state: State, prefix: str) -> State:
    """The entries of ``state`` under ``prefix.`` with the prefix removed."""
    head = prefix + "."
    return {k[len(head):]: v for k, v in state.items() if k.startswith(head)}


def with_prefix(state: State, prefix: str) -> State:
    """``state`` with every name prefixed by ``prefix.``."""
    return {f"{prefix}.{k}": v for k, v in state.items()}


class StreamingModule(nn.Module):
    """Base class: ``forward(x, state=None) -> (y, new_state)`` with explicit state.

    Subclasses set ``self.latency_samples`` in ``__init__`` and implement ``initial_state``
    and ``forward``. A stateless block returns ``{}`` from ``initial_state``.
    """

    latency_samples: int

    def initial_state(self, batch: int = 1) -> State:
        """Zero state for ``batch`` streams: fixed shapes, dotted names."""
        raise NotImplementedError

    def fresh(self, x: Tensor, state: State | None) -> State:
        """``state``, or a zero state matching ``x``'s batch, dtype and device if None."""
        if state is None:
            return {k: v.to(x.device) for k, v in self.initial_state(x.shape[0]).items()}
        return state


class Pointwise(StreamingModule):
    """A stateless module applied frame by frame (1x1 conv, activation, per-frame norm).

    The wrapped module must not mix time steps: it is the caller's promise, checked by the
    causality tests of every model that uses it.

    Args:
        module: maps ``[B, C_in, T]`` to ``[B, C_out, T]`` independently per frame.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.latency_samples = 0

    def initial_state(self, batch: int = 1) -> State:
        return {}

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        return self.module(x), {}


class StreamingSequential(StreamingModule):
    """Named streaming blocks applied in order; state names are ``<child name>.<name>``.

    Args:
        layers: ``(name, block)`` pairs; names become state prefixes (``tcn``, ``lstm``...).

    ``latency_samples`` is the sum of the children's.
    """

    def __init__(self, layers: list[tuple[str, StreamingModule]]) -> None:
        super().__init__()
        self.layers = nn.ModuleDict(dict(layers))
        self.latency_samples = sum(m.latency_samples for m in self.layers.values())

    def initial_state(self, batch: int = 1) -> State:
        state: State = {}
        for name, layer in self.layers.items():
            state.update(with_prefix(layer.initial_state(batch), name))
        return state

    def forward(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        state = self.fresh(x, state)
        new_state: State = {}
        for name, layer in self.layers.items():
            x, s = layer(x, sub_state(state, name))
            new_state.update(with_prefix(s, name))
        return x, new_state


@dataclass(frozen=True)
class ModelOutput:
    """One output of a top-level model (becomes an ``OutputSpec`` in the card).

    Attributes:
        name: output name (ONNX output name; must not clash with a parameter name).
        unit: "logit", "probability", "code", "audio", "latent", ...
        per_hop: values along time per hop: 1 for frame outputs, ``hop`` for audio.
        features: shape between batch and time, e.g. ``(360,)``; ``(1,)`` for mono audio.
        labels: names along the feature axis, or None.
    """

    name: str
    unit: str
    per_hop: int
    features: tuple[int, ...]
    labels: tuple[str, ...] | None = None


INPUT_KINDS = ("audio", "tokens", "control")


@dataclass(frozen=True)
class ModelInput:
    """One data input of a top-level model (becomes an ``InputSpec`` in the card).

    Attributes:
        name: input name (ONNX input name, the key of ``StreamingSession.step``).
        kind: "audio" ``[B, C, N]`` float, "tokens" ``[B, Q, T]`` int64, or "control"
            ``[B, k]`` float (no time axis: one value set per call, held over the chunk).
        per_hop: values along time per hop: ``hop`` for audio, token frames per hop for tokens,
            0 for control values.
        features: shape between batch and time (all of it for control), e.g. ``(1,)`` mono.
        vocab_size: tokens only: values lie in ``[0, vocab_size)`` (verification draws from it).
        labels: names along the feature axis (e.g. control parameters), or None.
    """

    name: str
    kind: str
    per_hop: int
    features: tuple[int, ...]
    vocab_size: int = 0
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS:
            raise ValueError(f"input {self.name!r}: kind must be one of {INPUT_KINDS}, got {self.kind!r}")
        if (self.kind == "control") != (self.per_hop == 0) or self.per_hop < 0:
            raise ValueError(f"input {self.name!r}: per_hop must be 0 for control values and >= 1 otherwise")
        if (self.kind == "tokens") != (self.vocab_size > 0):
            raise ValueError(f"input {self.name!r}: vocab_size must be > 0 for tokens and 0 otherwise")

    @property
    def dtype(self) -> torch.dtype:
        return torch.int64 if self.kind == "tokens" else torch.float32


class StreamingModel(StreamingModule):
    """A top-level model: data inputs in, named outputs and state out (contract 1).

    ``forward(*inputs, state=None) -> (*outputs, new_state)``: the data inputs in ``inputs``
    order, each ``[B, *features, k * per_hop]`` with the same ``k >= 1`` (control values
    ``[B, *features]``), then the state; the outputs are in ``outputs`` order. A model that
    sets no ``inputs`` takes one, ``audio [B, channels, k * hop]``: ``forward(audio, state)``.

    Subclasses set ``sample_rate`` (Hz; the time base: the rate of the audio input, or of the
    audio output of a model without one), ``channels``, ``hop`` (samples per step),
    ``latency_samples``, ``outputs`` and, for other inputs than one audio, ``inputs``; and keep
    the config they were built from in ``config`` (a frozen dataclass) so checkpoints can
    rebuild them.
    """

    family: str
    sample_rate: int
    channels: int
    hop: int
    outputs: tuple[ModelOutput, ...]
    inputs: tuple[ModelInput, ...] = ()  # () means one audio input (see data_inputs)

    @functools.cached_property
    def state_names(self) -> tuple[str, ...]:
        """Names of ``initial_state`` in order (computed once; a plain attribute, not a buffer)."""
        return tuple(self.initial_state(1))

    @functools.cached_property
    def data_inputs(self) -> tuple[ModelInput, ...]:
        """The data inputs in ``forward`` order: ``inputs``, or one audio input if none is set."""
        return self.inputs or (ModelInput("audio", "audio", self.hop, (self.channels,)),)

    def check_inputs(self, *args: Tensor | State | None) -> None:
        """``check_inputs(*data_inputs, state)``: raise ValueError for an input whose shape is
        not ``[B, *features, k * per_hop]`` (k >= 1, the same for every timed input; control
        ``[B, *features]``) or tokens that are not int64, and StateError for a state with
        missing or unused names. Lengths are not checked while exporting, where a check on N
        would specialise the dynamic length."""
        *data, state = args
        specs = self.data_inputs
        if len(data) != len(specs):
            raise ValueError(f"{type(self).__name__} takes {len(specs)} data inputs {[s.name for s in specs]}, "
                             f"got {len(data)}")
        for spec, x in zip(specs, data):
            timed = 1 if spec.per_hop else 0
            if x.dim() != 1 + len(spec.features) + timed or tuple(x.shape[1:1 + len(spec.features)]) != spec.features:
                want = ", ".join(map(str, ["B", *spec.features] + (["N"] if timed else [])))
                raise ValueError(f"{spec.name} must be [{want}], got {list(x.shape)}")
            if spec.kind == "tokens" and x.dtype != torch.int64:
                raise ValueError(f"{spec.name} (tokens) must be int64, got {x.dtype}")
        if _is_tracing():
            return
        self._check_lengths(data)
        if state is not None and set(state) != set(self.state_names):
            missing = sorted(set(self.state_names) - set(state))
            unused = sorted(set(state) - set(self.state_names))
            raise StateError(f"state names do not match the model: missing {missing}, unused {unused}")

    def _check_lengths(self, data: list[Tensor]) -> None:
        hops = None
        for spec, x in zip(self.data_inputs, data):
            if not spec.per_hop:
                continue
            n = int(x.shape[-1])
            if n <= 0 or n % spec.per_hop:
                unit = f"hop {self.hop}" if spec.kind == "audio" else f"{spec.per_hop} frames per hop"
                raise ValueError(f"{spec.name} length {n} is not a positive multiple of {unit}")
            if hops is not None and n // spec.per_hop != hops:
                raise ValueError(f"{spec.name} spans {n // spec.per_hop} hops, the inputs before it {hops}")
            hops = n // spec.per_hop


def _is_tracing() -> bool:
    """True inside torch.export / the ONNX exporters, where a shape check would specialise N."""
    return (torch.compiler.is_compiling() or torch.compiler.is_exporting()
            or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export())
